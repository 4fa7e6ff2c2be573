#!/usr/bin/env bash
# How long to pretrain: leave-one-dataset-out and in-dataset AUC of encoders pretrained for E epochs
# (5 seeds each), the learned embedding alone, every category in every batch (Algorithm 1).
# Usage: [EPOCHS="1 5 20 101"] bash benchmarks/pretrain_epochs.sh [OUT_ROOT]   (needs HAAD_DATA_DIR or ../shared/data)
set -euo pipefail
out=${1:-runs/pre}
dev=(utd-mhad nw-ucla florence3d)
for ep in ${EPOCHS:-1 5 20 101}; do
  for d in "${dev[@]}"; do
    others=$(printf '%s\n' "${dev[@]}" | grep -vx "$d" | paste -sd, -)
    haad pretrain --datasets "$others" --epochs "$ep" --categories-per-dataset 0 --no-hybrid --crop first --train-crops first \
      --out "$out/lodo-$d-ep$ep" --quiet
    haad evaluate --dataset "$d" --encoder "$out/lodo-$d-ep$ep" --seeds 5 --quiet --force \
      --out "$out/eval-lodo-$d-ep$ep" | grep '^mean' | sed "s/^/LODO $d, $ep epochs: /"
  done
  haad pretrain --datasets utd-mhad,nw-ucla,florence3d --epochs "$ep" --categories-per-dataset 0 --no-hybrid --crop first --train-crops first \
    --out "$out/all3-ep$ep" --quiet
  for d in "${dev[@]}"; do
    haad evaluate --dataset "$d" --encoder "$out/all3-ep$ep" --seeds 5 --quiet --force \
      --out "$out/eval-all3-ep$ep-$d" | grep '^mean' | sed "s/^/in-dataset $d, $ep epochs: /"
  done
done
