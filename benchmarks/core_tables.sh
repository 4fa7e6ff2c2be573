#!/usr/bin/env bash
# Core results: the few-shot detector (learned encoder, no generative augmentation) beside the
# no-learning floor (dct-distance), 10 seeds, the three dev datasets.
# Usage: bash benchmarks/core_tables.sh [OUT_ROOT]   (needs HAAD_DATA_DIR or ../shared/data)
set -euo pipefail
# Per-dataset encoders train for the paper's 101 epochs (the archived figures); haad's default is 20.
out=${1:-runs/core}
for ds in utd-mhad nw-ucla florence3d; do
  haad evaluate --dataset "$ds" --method dct-distance --seeds 10 --quiet --out "$out/$ds-dct-distance"
  haad evaluate --dataset "$ds" --method bone-distance --seeds 10 --quiet --out "$out/$ds-bone-distance"
  haad evaluate --dataset "$ds" --epochs 101 --method fewshot --seeds 10 --quiet --out "$out/$ds-fewshot"
done
