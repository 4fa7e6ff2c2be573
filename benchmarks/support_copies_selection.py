"""Which support copies the built-in encoder records: turns about the vertical axis and time warps of every
support window (docs/METHOD.md, "Support turns and warps"), candidate by candidate, with Eq. 6p.

Each candidate scores the dev datasets' category protocol (K = 3, ``--seeds`` seeds) with the pretrained
encoders of ``benchmarks/pretrain_seeds.py`` (in-dataset: ``all3-sS``; leaving D out: ``lodo-D-sS``; the mean
over pretraining seeds), and the within-category protocols with the built-in encoder (which never saw
those datasets: a check on data the choice did not look at). The criterion is the hybrid weights' one
(``benchmarks/hybrid_selection.py``): the mean of the in-dataset and the leave-one-dataset-out mean AUC.

    HAAD_DATA_DIR=../shared/data python benchmarks/support_copies_selection.py --pretrain-seeds 0,1,2 \\
        --json benchmarks/results/json/support-copies-selection.json --md benchmarks/results/support-copies-selection.md
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pretrained_transfer import DEV, pretrained, seeds_parser

from haad.data import load_dataset
from haad.evaluation.config import EvalConfig
from haad.evaluation.protocol import evaluate
from haad.evaluation.within import WithinConfig, evaluate_within
from haad.storage import atomic_write_bytes, atomic_write_json


def _turns(top: int, step: int) -> tuple:
    """Plus and minus every ``step`` degrees up to ``top``."""
    return tuple(float(a) for a in range(-top, top + 1, step) if a)


TWO, FOUR = (0.8, 1.25), (0.7, 0.8, 1.25, 1.4)
CIRCLE = tuple(float(a) for a in range(-150, 181, 30) if a)  # every 30 degrees all the way round
CANDIDATES = {
    "turns to 30": (_turns(30, 15), ()),
    "turns to 30, 2 warps": (_turns(30, 15), TWO),
    "turns to 45": (_turns(45, 15), ()),
    "turns to 45, 2 warps": (_turns(45, 15), TWO),
    "turns to 60, 2 warps": (_turns(60, 15), TWO),
    "turns to 90 by 30, 2 warps": (_turns(90, 30), TWO),
    "turns to 90, 2 warps": (_turns(90, 15), TWO),
    "turns to 90 by 30, 4 warps": (_turns(90, 30), FOUR),
    "turns to 90, 4 warps": (_turns(90, 15), FOUR),
    "all round by 30, 2 warps": (CIRCLE, TWO),
    "all round by 30, 4 warps": (CIRCLE, FOUR),
}
WITHIN = (("ui-prmd", "ui-prmd-cross-subject", "none"), ("ui-prmd", "ui-prmd-cross-subject", "pool"),
          ("ui-prmd", "ui-prmd-personal", "none"), ("bandai-namco", "bandai-namco-style", "none"),
          ("bandai-namco", "bandai-namco-style", "pool"), ("kinder-gator", "kinder-gator-population", "none"))
DEV_COLUMNS = [f"{d} {c}" for c in ("in", "LODO") for d in DEV]
WITHIN_COLUMNS = [f"{p}{'-pool' if s == 'pool' else ''}" for _, p, s in WITHIN]


def candidate_row(turns: tuple, warps: tuple, seeds: int, pretrain_seeds: list, root: Path, data: dict) -> dict:
    cfg = EvalConfig(seeds=tuple(range(seeds)), distance="part-nearest", turns=turns, warps=warps)
    row = {}
    for d in DEV:
        for col, name, pool in (("in", "all3-s{}", DEV), ("LODO", f"lodo-{d}-s{{}}", [x for x in DEV if x != d])):
            row[f"{d} {col}"] = float(np.mean([
                evaluate(data[d], cfg, encoder_dir=pretrained(root, name.format(s), pool, seed=s), progress=False)["mean"]
                for s in pretrain_seeds]))
    row["in"] = float(np.mean([row[f"{d} in"] for d in DEV]))
    row["LODO"] = float(np.mean([row[f"{d} LODO"] for d in DEV]))
    row["criterion"] = (row["in"] + row["LODO"]) / 2
    for (dataset, protocol, scale), col in zip(WITHIN, WITHIN_COLUMNS):
        wcfg = WithinConfig(protocol, seeds=tuple(range(seeds)), scale=scale, distance="part-nearest", turns=turns,
                            warps=warps)
        row[col] = evaluate_within(data[dataset], wcfg)["mean"]
    return row


def markdown(rows: dict) -> str:
    cols = ["criterion", "in", "LODO", *DEV_COLUMNS, *WITHIN_COLUMNS]
    lines = ["| support copies | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    best = max(r["criterion"] for r in rows.values())
    for name, r in rows.items():
        cells = [f"**{r[c]:.4f}**" if c == "criterion" and r[c] == best else f"{r[c]:.4f}" if c == "criterion"
                 else f"{r[c]:.3f}" for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    args = seeds_parser(__doc__.split("\n")[0]).parse_args()
    seeds = args.pretrain_seeds
    data = {d: load_dataset(d) for d in (*DEV, "ui-prmd", "bandai-namco", "kinder-gator")}
    rows = {}
    for name, (turns, warps) in CANDIDATES.items():
        rows[name] = candidate_row(turns, warps, args.seeds, seeds, args.root, data)
        print(name, {k: round(v, 4) for k, v in rows[name].items()}, flush=True)
    out = {"seeds": args.seeds, "pretrain_seeds": seeds,
           "candidates": {n: {"turns": list(t), "warps": list(w)} for n, (t, w) in CANDIDATES.items()}, "rows": rows}
    atomic_write_json(args.json, out)
    atomic_write_bytes(args.md, markdown(rows).encode())
    print(markdown(rows))


if __name__ == "__main__":
    main()
