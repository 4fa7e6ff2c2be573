#!/usr/bin/env bash
# The paper's Table 4 (observed/predicted lengths) and Figure 7 (training-time N_g) on one
# dataset. Both retrain the encoder for every setting, so they are the costly part of the ablations.
# Usage: bash benchmarks/sensitivity_tables.sh DATASET {table4|fig7|select|hold|all} [SEEDS] [OUT_ROOT]
# Needs: runs/gen/DATASET (the O = 30 generator) for Figure 7 and, for Table 4, one generator trained
# with every O:
#   haad train-generator --dataset DATASET --iterations 3000 --n-obs 10,20,30,40,50 --out runs/gen/DATASET-multiobs
# Both use 20 DDIM steps (the default; the DDIM-steps sweep found the same AUC as 100 within the seed
# noise): each seed generates its own N_g variants of every training clip, and at 100 steps N_g = 10
# would cost more than the encoder training itself. Table 3's training-time row used 100 steps.
# "select" is our addition: training-time variants kept only if the seed's no-augmentation encoder
# (runs/core/DATASET-fewshot, benchmarks/core_tables.sh) places them in their clip's category, 3
# candidates per kept variant, 100 DDIM steps like Table 3's training-time row it is compared with.
# "hold" is the control for training-time augmentation: the extra positive is the observed prefix
# with its last frame held (--completion hold), i.e. the variant without any generated motion.
# On a 2-core machine set OMP_NUM_THREADS=1 and run two of these side by side.
set -euo pipefail
# Per-dataset encoders train for the paper's 101 epochs (the archived figures); haad's default is 20.
ds=$1; part=$2; seeds=${3:-3}; out=${4:-runs/aug}
mkdir -p "$out"
if [ "$part" = table4 ] || [ "$part" = all ]; then
  # One generator for all five splits, so only O changes between rows.
  for obs in 30 10 50 20 40; do
    haad evaluate --dataset "$ds" --epochs 101 --seeds "$seeds" --generator "runs/gen/$ds-multiobs" --augment train \
      --n-obs "$obs" --gen-steps 20 --quiet --out "$out/$ds-obs$obs"
  done
fi
if [ "$part" = fig7 ] || [ "$part" = all ]; then
  # Training-time variants per clip; inference-time augmentation off.
  for ng in 1 3 5 10; do
    haad evaluate --dataset "$ds" --epochs 101 --seeds "$seeds" --generator "runs/gen/$ds" --augment train \
      --n-gen-train "$ng" --gen-steps 20 --quiet --out "$out/$ds-train-ng$ng"
  done
fi
if [ "$part" = select ] || [ "$part" = all ]; then
  haad evaluate --dataset "$ds" --epochs 101 --seeds "$seeds" --generator "runs/gen/$ds" --augment train --gen-steps 100 \
    --select-from 3 --judge "runs/core/$ds-fewshot/encoders" --quiet --out "$out/$ds-train-select3"
fi
if [ "$part" = hold ] || [ "$part" = all ]; then
  haad evaluate --dataset "$ds" --epochs 101 --seeds "$seeds" --augment train --completion hold --quiet --out "$out/$ds-train-hold"
fi
