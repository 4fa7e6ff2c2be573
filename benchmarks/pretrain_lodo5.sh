#!/usr/bin/env bash
# Leave one dataset out over every dev dataset with categories: for each D of utd-mhad, nw-ucla,
# florence3d, kinder-gator and bandai-namco, an encoder pretrained on the other four with the built-in
# encoder's settings (batches balanced over datasets, 8 categories of each; 20 epochs, the best length
# for new data in "How long to pretrain"; whole clips) scores D, which it never saw, 10 seeds: the category protocol for the first four,
# bandai-namco's style protocol for the last. Each encoder is scored twice: with the hybrid embedding
# the built-in encoder uses (haad.hybrid) and with its learned embedding alone (a copy of the checkpoint
# without its hybrid record: the same weights as --no-hybrid would train).
# Usage: bash benchmarks/pretrain_lodo5.sh [OUT_ROOT]   (needs HAAD_DATA_DIR or ../shared/data)
set -euo pipefail
out=${1:-runs/pre}
all="utd-mhad nw-ucla florence3d kinder-gator bandai-namco"
for d in $all; do
  others=$(echo $all | tr ' ' '\n' | grep -vx "$d" | paste -sd, -)
  protocol=$([ "$d" = bandai-namco ] && echo bandai-namco-style || echo category)
  haad pretrain --datasets "$others" --quiet --out "$out/lodo5-$d-hybrid"   # the built-in encoder's settings
  rm -rf "$out/lodo5-$d" && cp -r "$out/lodo5-$d-hybrid" "$out/lodo5-$d"
  python -c "from haad.checkpoint import update_meta; update_meta('$out/lodo5-$d', 'hybrid', None)"
  for suffix in "" -hybrid; do
    # Eq. 6 and no support copies, as measured (a hybrid encoder pretrained now records other settings)
    haad evaluate --dataset "$d" --protocol "$protocol" --encoder "$out/lodo5-$d$suffix" --distance mean --turns none --warps none \
      --seeds 10 --quiet --force \
      --out "$out/eval-lodo5-$d$suffix"
  done
done
