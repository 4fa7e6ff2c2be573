#!/usr/bin/env bash
# Real anomalies: the within-category protocols (docs/PROTOCOL.md, "Within-category protocols"), 10 seeds:
# the no-learning floor (DCT of joint positions), the no-learning bone-direction DCT, and the built-in
# pretrained encoder (which never saw these datasets), each as Eq. 6 is and with pool scaling
# (--scale pool); plus kinder-gator's category protocol with the floor and the built-in encoder.
# Usage: bash benchmarks/within_tables.sh [OUT_ROOT]   (needs HAAD_DATA_DIR or ../shared/data)
set -euo pipefail
out=${1:-runs/within}
for spec in "ui-prmd ui-prmd-cross-subject" "bandai-namco bandai-namco-style" "kinder-gator kinder-gator-population"; do
  set -- $spec
  for scale in none pool; do
    suffix=$([ "$scale" = pool ] && echo "-pool" || true)
    for method in dct-distance bone-distance; do
      haad evaluate --dataset "$1" --protocol "$2" --method "$method" --scale "$scale" --seeds 10 --quiet \
        --out "$out/$2-$method$suffix"
    done
    haad evaluate --dataset "$1" --protocol "$2" --encoder builtin --scale "$scale" --seeds 10 --quiet \
      --out "$out/$2-builtin$suffix"
  done
done
haad evaluate --dataset kinder-gator --protocol category --method dct-distance --seeds 10 --quiet \
  --out "$out/kinder-gator-category-dct-distance"
haad evaluate --dataset kinder-gator --protocol category --encoder builtin --seeds 10 --quiet \
  --out "$out/kinder-gator-category-builtin"
