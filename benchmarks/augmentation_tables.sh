#!/usr/bin/env bash
# The paper's Table 3 (generative augmentation at inference time, training time, both) and Figure 5
# (support size N_s against inference-time N_g) on one dataset, plus the DDIM-steps sweep (AUC
# against the number of sampling steps).
# Usage: bash benchmarks/augmentation_tables.sh DATASET [SEEDS_TRAIN_AUG] [OUT_ROOT]
#   env GRID_SEEDS (default 10) and GRID_STEPS (DDIM steps for the Figure 5 grid, default 100)
# Needs: runs/core/DATASET-fewshot (benchmarks/core_tables.sh) for the no-augmentation encoders,
# and a generator: haad train-generator --dataset DATASET --iterations 3000 --out runs/gen/DATASET
set -euo pipefail
# Per-dataset encoders train for the paper's 101 epochs (the archived figures); haad's default is 20.
ds=$1; st=${2:-3}; out=${3:-runs/aug}
gs=${GRID_SEEDS:-10}; gsteps=${GRID_STEPS:-100}
gen=runs/gen/$ds
core=runs/core/$ds-fewshot
mkdir -p "$out"
link() {  # share trained encoders between runs that train identically
  mkdir -p "$2"; [ -e "$2/encoders" ] || ln -s "$(cd "$1" && pwd)/encoders" "$2/encoders"
}
# Table 3: none (= core) / inference-time only / training-time only / both
link "$core" "$out/$ds-support"
haad evaluate --dataset "$ds" --epochs 101 --seeds 10 --generator "$gen" --augment support --gen-steps 100 --quiet --out "$out/$ds-support"
haad evaluate --dataset "$ds" --epochs 101 --seeds "$st" --generator "$gen" --augment train --gen-steps 100 --quiet --out "$out/$ds-train"
link "$out/$ds-train" "$out/$ds-both"
haad evaluate --dataset "$ds" --epochs 101 --seeds "$st" --generator "$gen" --augment both --gen-steps 100 --quiet --out "$out/$ds-both"
# DDIM steps: AUC of inference-time augmentation (N_g = 5) against steps
for steps in 100 50 20 10; do
  d="$out/$ds-steps$steps"; link "$core" "$d"
  haad evaluate --dataset "$ds" --epochs 101 --seeds 10 --generator "$gen" --augment support --n-gen-support 5 \
    --gen-steps "$steps" --quiet --out "$d"
done
# Figure 5: support size N_s and inference-time N_g (no retraining: the core encoders)
for ns in 1 3 5 10; do
  for ng in 0 1 5 10; do
    d="$out/$ds-ns$ns-ng$ng"; link "$core" "$d"
    if [ "$ng" = 0 ]; then
      haad evaluate --dataset "$ds" --epochs 101 --seeds "$gs" --k-shot "$ns" --quiet --out "$d"
    else
      haad evaluate --dataset "$ds" --epochs 101 --seeds "$gs" --k-shot "$ns" --generator "$gen" --augment support \
        --n-gen-support "$ng" --gen-steps "$gsteps" --quiet --out "$d"
    fi
  done
done
