#!/usr/bin/env bash
# Real anomalies: the within-category protocols (docs/PROTOCOL.md, "Within-category protocols"), 10 seeds:
# the no-learning floor (DCT of joint positions), the no-learning bone-direction DCT, and the built-in
# pretrained encoder (which never saw these datasets), each as Eq. 6 is and with pool scaling
# (--scale pool); plus kinder-gator's category protocol with the floor and the built-in encoder.
# Usage: bash benchmarks/within_tables.sh [OUT_ROOT]   (needs HAAD_DATA_DIR or ../shared/data)
set -euo pipefail
out=${1:-runs/within}
# The tables were measured with the paper's Eq. 6 and no support copies; the built-in encoder now records
# its own settings (benchmarks/support_distance.py measures them), so they are named here.
EQ6="--distance mean --turns none --warps none"
for spec in "ui-prmd ui-prmd-cross-subject" "bandai-namco bandai-namco-style" "kinder-gator kinder-gator-population"; do
  set -- $spec
  for scale in none pool; do
    suffix=$([ "$scale" = pool ] && echo "-pool" || true)
    for method in dct-distance bone-distance; do
      haad evaluate --dataset "$1" --protocol "$2" --method "$method" --scale "$scale" --seeds 10 --quiet \
        --out "$out/$2-$method$suffix"
    done
    haad evaluate --dataset "$1" --protocol "$2" --encoder builtin $EQ6 --scale "$scale" --seeds 10 --quiet \
      --out "$out/$2-builtin$suffix"
  done
done
# The built-in encoder's learned embedding alone: a copy of it without its hybrid record (haad.hybrid).
learned="$out/builtin-learned-encoder"
rm -rf "$learned" && mkdir -p "$out" && cp -r "$(python -c 'from haad.encoders import BUILTIN_DIR; print(BUILTIN_DIR)')" "$learned"
python -c "from haad.checkpoint import update_meta; update_meta('$learned', 'hybrid', None)"
haad evaluate --dataset ui-prmd --protocol ui-prmd-cross-subject --encoder "$learned" --seeds 10 --quiet \
  --out "$out/ui-prmd-cross-subject-builtin-learned"
haad evaluate --dataset ui-prmd --protocol ui-prmd-cross-subject --encoder "$learned" --scale pool --seeds 10 --quiet \
  --out "$out/ui-prmd-cross-subject-builtin-learned-pool"
haad evaluate --dataset bandai-namco --protocol bandai-namco-style --encoder "$learned" --seeds 10 --quiet \
  --out "$out/bandai-namco-style-builtin-learned"
haad evaluate --dataset kinder-gator --protocol kinder-gator-population --encoder "$learned" --seeds 10 --quiet \
  --out "$out/kinder-gator-population-builtin-learned"
# ui-prmd personal: support and test from one person (pool scaling and baselines do not apply).
for method in dct-distance bone-distance; do
  haad evaluate --dataset ui-prmd --protocol ui-prmd-personal --method "$method" --seeds 10 --quiet \
    --out "$out/ui-prmd-personal-$method"
done
haad evaluate --dataset ui-prmd --protocol ui-prmd-personal --encoder builtin $EQ6 --seeds 10 --quiet \
  --out "$out/ui-prmd-personal-builtin"
haad evaluate --dataset kinder-gator --protocol category --method dct-distance --seeds 10 --quiet \
  --out "$out/kinder-gator-category-dct-distance"
haad evaluate --dataset kinder-gator --protocol category --encoder builtin $EQ6 --seeds 10 --quiet \
  --out "$out/kinder-gator-category-builtin"
haad evaluate --dataset kinder-gator --protocol category --method bone-distance --seeds 10 --quiet \
  --out "$out/kinder-gator-category-bone-distance"
# The same two with whole clips resampled to 60 frames, the built-in encoder's window.
for method in dct-distance bone-distance; do
  haad evaluate --dataset kinder-gator --protocol category --method "$method" --crop resample --seeds 10 --quiet \
    --out "$out/kinder-gator-category-$method-whole"
done
# One-model-per-category baselines, trained on each task's whole support pool; 3 seeds as in the
# category comparison (a seed changes only their initialisation). About 1 hour on 2 cores.
if [ "${WITH_BASELINES:-1}" = 1 ]; then
  for spec in "ui-prmd ui-prmd-cross-subject" "bandai-namco bandai-namco-style"; do
    set -- $spec
    for method in multilevel-nf stg-nf mocodad; do
      haad evaluate --dataset "$1" --protocol "$2" --method "$method" --seeds 3 --quiet --out "$out/$2-$method"
    done
  done
fi
