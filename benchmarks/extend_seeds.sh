#!/usr/bin/env bash
# Extend a finished benchmark row by more seeds, one seed per haad evaluate, then merge.
# Usage: bash benchmarks/extend_seeds.sh NAME FIRST LAST [haad evaluate options...]
#   e.g. bash benchmarks/extend_seeds.sh utd-mhad-train-ng3 4 9 --dataset utd-mhad --generator runs/gen/utd-mhad \
#          --augment train --n-gen-train 3 --gen-steps 20
# Runs seeds FIRST..LAST into runs/aug/NAME-sS (a finished seed is skipped, so the script can be
# rerun after an interruption or spread over several machines), then merges them with the row's
# existing seeds: runs/aug/NAME/results.json, or the copy report.py archived in
# benchmarks/results/json/aug/NAME/ when a fresh checkout has no runs/. The options must equal the
# row's own apart from the seeds (haad merge-results refuses otherwise); results.json records each
# part's generator weights, and merging warns when they differ.
# Set MERGE_ONLY=1 to merge the seeds finished so far without running any.
set -euo pipefail
name=$1; first=$2; last=$3; shift 3
base=runs/aug/$name/results.json
[ -f "$base" ] || base=benchmarks/results/json/aug/$name/results.json
[ -f "$base" ] || { echo "extend_seeds.sh: no finished row $name (looked in runs/aug and benchmarks/results/json/aug)" >&2; exit 2; }
have=" $(python3 -c 'import json, sys; print(*json.load(open(sys.argv[1]))["seeds"])' "$base") "
parts=()
for s in $(seq "$first" "$last"); do
  [[ "$have" == *" $s "* ]] && continue  # already in the row
  out=runs/aug/$name-s$s
  if [ ! -f "$out/results.json" ] && [ -z "${MERGE_ONLY:-}" ]; then
    haad evaluate "$@" --seeds 1 --first-seed "$s" --quiet --out "$out"
  fi
  [ -f "$out/results.json" ] && parts+=("$out/results.json")
done
[ ${#parts[@]} -gt 0 ] || { echo "extend_seeds.sh: $name has no new finished seed in $first..$last (row: $have)" >&2; exit 0; }
haad merge-results "$base" "${parts[@]}" --out "runs/aug/$name"
