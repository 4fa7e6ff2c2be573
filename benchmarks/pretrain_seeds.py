"""How much the pretrained encoder's figures move with its own training seed.

The transfer table (benchmarks/pretrained_transfer.py) pretrains each encoder once, with seed 0. This
pretrains the in-dataset encoder (the seen categories of every dev dataset) and the leave-one-dataset-out
encoders again with other training seeds, the shipped settings otherwise (``PretrainConfig``), and scores
each dev dataset under the protocol (K = 3, 10 seeds), with the hybrid embedding the encoders ship with.

    HAAD_DATA_DIR=../shared/data python benchmarks/pretrain_seeds.py --pretrain-seeds 0,1,2 \\
        --json benchmarks/results/json/pretrain/seeds.json --md benchmarks/results/pretrain-seeds.md

Encoders go to ``ROOT/all3-sS`` and ``ROOT/lodo-D-sS`` (``--root``, default runs/pre-seeds; a finished one
is reused). Beside the seeds, an ensemble of them: one hybrid embedding holding every seed's learned part,
each divided by the square root of their number (so that together they weigh as one learned part),
beside the no-learning parts with the shipped weights, scored on the same protocol draws
(``hybrid_selection.protocol_mean``; not a shipped encoder, a measurement of what averaging seeds gives).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hybrid_selection import part_embeddings, protocol_mean
from pretrained_transfer import DEV, pretrained, seeds_parser

from haad.data import load_dataset
from haad.evaluation.config import EvalConfig
from haad.evaluation.protocol import evaluate
from haad.hybrid import HybridConfig
from haad.storage import atomic_write_bytes, atomic_write_json


def main() -> None:
    args = seeds_parser(__doc__.split("\n")[0]).parse_args()
    cfg = EvalConfig(seeds=tuple(range(args.seeds)), distance="mean", turns=(), warps=())  # Eq. 6, as measured
    seeds = args.pretrain_seeds
    data = {d: load_dataset(d) for d in DEV}
    out = {"seeds": args.seeds, "pretrain_seeds": seeds, "in_dataset": {}, "lodo": {}}
    for s in seeds:
        all3 = pretrained(args.root, f"all3-s{s}", DEV, seed=s)
        out["in_dataset"][s] = {d: evaluate(data[d], cfg, encoder_dir=all3, progress=False)["mean"] for d in DEV}
        out["lodo"][s] = {d: evaluate(data[d], cfg, encoder_dir=pretrained(args.root, f"lodo-{d}-s{s}",
                                                                          [x for x in DEV if x != d], seed=s),
                                      progress=False)["mean"] for d in DEV}
        print(s, out["in_dataset"][s], out["lodo"][s], flush=True)
    if len(seeds) > 1:
        out["ensemble"] = {"in_dataset": {d: ensemble(args.root, lambda s: f"all3-s{s}", d, seeds, cfg) for d in DEV},
                           "lodo": {d: ensemble(args.root, lambda s, d=d: f"lodo-{d}-s{s}", d, seeds, cfg)
                                    for d in DEV}}
    atomic_write_json(args.json, out)
    atomic_write_bytes(args.md, markdown(out).encode())
    print(markdown(out))


def ensemble(root: Path, name, dataset: str, seeds: list, cfg: EvalConfig) -> float:
    """Protocol mean AUC on ``dataset`` of the seeds' learned parts side by side (module docstring)."""
    w = HybridConfig()
    parts = [part_embeddings(root / name(s), dataset, cfg) for s in seeds]
    data, split, first = parts[0]
    emb = np.concatenate([p["learned"] / np.float32(np.sqrt(len(seeds))) for _, _, p in parts]
                         + [w.bone_weight * first["bones"], w.position_weight * first["positions"]], axis=1)
    return protocol_mean(data, split, emb, cfg.seeds)


def markdown(out: dict) -> str:
    lines = ["| encoder | pretraining seed | " + " | ".join(DEV) + " | mean |", "|---|---|" + "---|" * (len(DEV) + 1)]
    for kind, label in (("in_dataset", "in-dataset, hybrid"), ("lodo", "LODO, hybrid")):
        table = out[kind]
        for s, row in table.items():
            lines.append(f"| {label} | {s} | " + " | ".join(f"{row[d]:.3f}" for d in DEV)
                         + f" | {np.mean([row[d] for d in DEV]):.3f} |")
        per = np.array([[row[d] for d in DEV] for row in table.values()])
        lines.append(f"| {label} | mean ± std over seeds | "
                     + " | ".join(f"{m:.3f} ± {sd:.3f}" for m, sd in zip(per.mean(0), per.std(0)))
                     + f" | {per.mean(1).mean():.3f} ± {per.mean(1).std():.3f} |")
        if "ensemble" in out:
            row = out["ensemble"][kind]
            lines.append(f"| {label} | ensemble of the seeds | " + " | ".join(f"{row[d]:.3f}" for d in DEV)
                         + f" | {np.mean([row[d] for d in DEV]):.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
