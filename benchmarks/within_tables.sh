#!/usr/bin/env bash
# Real anomalies: the within-category protocols (docs/PROTOCOL.md, "Within-category protocols"), the
# no-learning floor beside the built-in pretrained encoder (which never saw these datasets), 10 seeds,
# plus kinder-gator's category protocol with the floor and the built-in encoder.
# Usage: bash benchmarks/within_tables.sh [OUT_ROOT]   (needs HAAD_DATA_DIR or ../shared/data)
set -euo pipefail
out=${1:-runs/within}
for spec in "ui-prmd ui-prmd-cross-subject" "bandai-namco bandai-namco-style" "kinder-gator kinder-gator-population"; do
  set -- $spec
  haad evaluate --dataset "$1" --protocol "$2" --method dct-distance --seeds 10 --quiet --out "$out/$2-dct-distance"
  haad evaluate --dataset "$1" --protocol "$2" --encoder builtin --seeds 10 --quiet --out "$out/$2-builtin"
done
haad evaluate --dataset kinder-gator --protocol category --method dct-distance --seeds 10 --quiet \
  --out "$out/kinder-gator-category-dct-distance"
haad evaluate --dataset kinder-gator --protocol category --encoder builtin --seeds 10 --quiet \
  --out "$out/kinder-gator-category-builtin"
