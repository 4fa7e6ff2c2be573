#!/usr/bin/env bash
# Leave one dataset out over every dev dataset with categories: for each D of utd-mhad, nw-ucla,
# florence3d, kinder-gator and bandai-namco, an encoder pretrained on the other four (batches balanced
# over datasets, 8 categories of each; 20 epochs, the best length for new data in "How long to
# pretrain") scores D, which it never saw, 10 seeds: the category protocol for the first four,
# bandai-namco's style protocol for the last. Each encoder is scored twice: with its learned embedding
# alone (--no-hybrid) and with the hybrid embedding the built-in encoder uses (haad.hybrid).
# Usage: bash benchmarks/pretrain_lodo5.sh [OUT_ROOT]   (needs HAAD_DATA_DIR or ../shared/data)
set -euo pipefail
out=${1:-runs/pre}
all="utd-mhad nw-ucla florence3d kinder-gator bandai-namco"
for d in $all; do
  others=$(echo $all | tr ' ' '\n' | grep -vx "$d" | paste -sd, -)
  protocol=$([ "$d" = bandai-namco ] && echo bandai-namco-style || echo category)
  for kind in learned hybrid; do
    suffix=$([ "$kind" = hybrid ] && echo "-hybrid" || true)
    haad pretrain --datasets "$others" --categories-per-dataset 8 --epochs 20 --quiet --out "$out/lodo5-$d$suffix" \
      $([ "$kind" = learned ] && echo --no-hybrid || true)
    haad evaluate --dataset "$d" --protocol "$protocol" --encoder "$out/lodo5-$d$suffix" --seeds 10 --quiet \
      --out "$out/eval-lodo5-$d$suffix"
  done
done
