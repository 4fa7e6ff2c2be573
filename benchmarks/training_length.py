"""Paired comparison of encoder training lengths: the default (20 epochs) against the archived 101-epoch
core runs, over the same seeds.

    python benchmarks/training_length.py RUNS_DIR ARCHIVE_DIR [--epochs 20]

RUNS_DIR holds ``D-ep20/results.json`` from ``haad evaluate --dataset D --epochs 20 --seeds 10 --out
RUNS_DIR/D-ep20``; ARCHIVE_DIR holds ``D-fewshot/results.json`` (101 epochs). Prints a markdown table:
per dataset, both means, the paired difference of the per-seed means with its standard error, the
std over seeds of the 101-epoch run, and the mean training seconds per seed of each run (as
measured, on whatever load the machine had).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

DATASETS = ("utd-mhad", "nw-ucla", "florence3d")


def per_seed(res: dict) -> np.ndarray:
    """Mean AUC over categories, per seed."""
    return np.array([v["values"] for v in res["per_category"].values()]).mean(axis=0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", type=Path)
    ap.add_argument("archive", type=Path)
    ap.add_argument("--epochs", type=int, default=20)
    args = ap.parse_args(argv)
    print(f"| dataset | {args.epochs} epochs | 101 epochs | paired difference (± s.e.) | std over seeds (101) "
          f"| train s/seed, {args.epochs} / 101 |")
    print("|---|---|---|---|---|---|")
    for d in DATASETS:
        f = args.runs / f"{d}-ep{args.epochs}" / "results.json"
        if not f.is_file():
            continue
        new, old = json.loads(f.read_text()), json.loads((args.archive / f"{d}-fewshot" / "results.json").read_text())
        if new["seeds"] != old["seeds"] or old["options"]["train"]["epochs"] != 101 \
                or new["options"]["train"]["epochs"] != args.epochs:
            raise SystemExit(f"{d}: the runs must share their seeds and have {args.epochs} and 101 epochs")
        a, b = per_seed(new), per_seed(old)
        diff = a - b
        print(f"| {d} | {a.mean():.3f} | {b.mean():.3f} | {diff.mean():+.3f} ± {diff.std(ddof=1) / np.sqrt(len(diff)):.3f} "
              f"| {b.std(ddof=1):.3f} | {new['train_seconds']:.0f} / {old['train_seconds']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
