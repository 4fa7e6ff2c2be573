"""Which anomalies does one normal category stop telling apart? Per-anomaly-category AUC, two runs.

Usage:
    python benchmarks/pairwise_auc.py --dataset utd-mhad --normal wave \
        --runs runs/core/utd-mhad-fewshot runs/aug/utd-mhad-train [--json runs/quality/pairwise-utd-mhad-wave.json]

For each run (an ``haad evaluate --out`` directory with ``encoders/seed-S``) and each of its seeds,
the protocol's detector for the normal category (K support clips drawn as the protocol draws them,
mean embedding distance) scores the test clips; the AUC is then computed separately against every
other category's test clips. Averaged over seeds, it shows *which* categories a change (e.g.
training-time augmentation) makes the normal category confuse with. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from generator_quality import emit  # benchmarks/ is on sys.path when run as a script
from sklearn.metrics import roc_auc_score

from haad.data import load_dataset
from haad.data.splits import protocol_split, support_draws
from haad.data.windows import make_windows
from haad.detector import EncoderEmbedder
from haad.distances import mean_distance
from haad.train import load_encoder


def pairwise_aucs(run: Path, data, split, windows, normal: int, k_shot: int, seeds: list) -> dict:
    """{category name: mean AUC over seeds of ``normal``'s detector against that category alone}."""
    test = np.asarray(split.test)
    labels = data.labels[test]
    per: dict = {}
    for seed in seeds:
        encoder, _ = load_encoder(run / "encoders" / f"seed-{seed}")
        embed = EncoderEmbedder(encoder)
        support = support_draws(split, seed, k_shot)[normal]
        scores = mean_distance(embed(windows[test]), embed(windows[support]))
        for c in range(data.num_classes):
            if c == normal:
                continue
            pick = (labels == normal) | (labels == c)
            per.setdefault(data.class_names[c], []).append(
                float(roc_auc_score((labels[pick] == c).astype(int), scores[pick])))
    return {name: float(np.mean(v)) for name, v in per.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--normal", required=True, help="the normal category's name")
    ap.add_argument("--runs", type=Path, nargs=2, required=True, help="baseline run, compared run")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--k-shot", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    data = load_dataset(args.dataset, args.data_dir)
    if args.normal not in data.class_names:
        ap.error(f"--normal {args.normal!r} is not a category of {args.dataset} ({data.class_names})")
    split = protocol_split(data)
    windows = make_windows(data.clips, data.layout.root)
    normal = data.class_names.index(args.normal)
    seeds = list(range(args.seeds))
    base, other = (pairwise_aucs(r, data, split, windows, normal, args.k_shot, seeds) for r in args.runs)
    unseen = {data.class_names[c] for c in split.unseen}
    rows = sorted(({"category": c, "unseen": c in unseen, "baseline": base[c], "compared": other[c],
                    "difference": other[c] - base[c]} for c in base), key=lambda r: r["difference"])
    out = {"command": "python " + " ".join(sys.argv), "dataset": args.dataset, "normal": args.normal,
           "runs": [str(r) for r in args.runs], "seeds": seeds, "k_shot": args.k_shot, "pairs": rows}
    emit(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
