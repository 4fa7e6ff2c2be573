#!/usr/bin/env bash
# Extend a finished benchmark row by more seeds, one seed per haad evaluate, then merge.
# Usage: bash benchmarks/extend_seeds.sh NAME FIRST LAST [haad evaluate options...]
#   e.g. bash benchmarks/extend_seeds.sh utd-mhad-train-ng3 4 9 --dataset utd-mhad --generator runs/gen/utd-mhad \
#          --augment train --n-gen-train 3 --gen-steps 20
# Runs seeds FIRST..LAST into runs/aug/NAME-sS (a finished seed is skipped, so the script can be
# rerun after an interruption or spread over several machines), then merges them with the row's
# existing seeds: runs/aug/NAME/results.json, or the copy report.py archived in
# benchmarks/results/json/aug/NAME/ when a fresh checkout has no runs/. The options must equal the
# row's own apart from the seeds: after the first new seed a trial merge checks that, so a wrong
# option stops the script early. results.json records each part's generator weights, and merging
# warns when they differ.
# Set MERGE_ONLY=1 to merge the seeds finished so far without running any.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: bash benchmarks/extend_seeds.sh NAME FIRST LAST [haad evaluate options...]" >&2; exit 2; }
name=$1; first=$2; last=$3; shift 3
[[ $first =~ ^[0-9]+$ && $last =~ ^[0-9]+$ ]] && [ "$first" -le "$last" ] \
  || { echo "extend_seeds.sh: FIRST and LAST must be seeds with FIRST <= LAST, got '$first' '$last'" >&2; exit 2; }
base=runs/aug/$name/results.json
[ -f "$base" ] || base=benchmarks/results/json/aug/$name/results.json
[ -f "$base" ] || { echo "extend_seeds.sh: no finished row $name (looked in runs/aug and benchmarks/results/json/aug)" >&2; exit 2; }
have=" $(python3 -c 'import json, sys; print(*json.load(open(sys.argv[1]))["seeds"])' "$base") "
parts=()
checked=
for s in $(seq "$first" "$last"); do
  [[ "$have" == *" $s "* ]] && continue  # already in the row
  out=runs/aug/$name-s$s
  if [ ! -f "$out/results.json" ] && [ "${MERGE_ONLY:-0}" != 1 ]; then
    haad evaluate "$@" --seeds 1 --first-seed "$s" --quiet --out "$out"
  fi
  [ -f "$out/results.json" ] || continue
  parts+=("$out/results.json")
  if [ -z "$checked" ]; then  # trial merge into a scratch directory: same options as the row?
    trial=$(mktemp -d)
    if ! haad merge-results "$base" "$out/results.json" --out "$trial" > /dev/null; then
      echo "extend_seeds.sh: $out does not match the row $base (see above); fix the options, delete $out and rerun" >&2
      rm -rf "$trial"; exit 2
    fi
    rm -rf "$trial"; checked=1
  fi
done
[ ${#parts[@]} -gt 0 ] || { echo "extend_seeds.sh: $name has no new finished seed in $first..$last (row:$have)" >&2; exit 0; }
haad merge-results "$base" "${parts[@]}" --out "runs/aug/$name"
