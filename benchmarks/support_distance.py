"""How the support is used: the paper's mean distance (Eq. 6), the nearest support clip (Eq. 6n), the
nearest with support turns (each support window also turned about the vertical axis by -30, -15, 15 and
30 degrees), those turns with each part of the hybrid embedding scored by its own nearest support clip,
summed (Eq. 6p), and the built-in encoder's settings: Eq. 6p with turns every 15 degrees from -90 to 90
and four time warps of every support window (exponents 0.7, 0.8, 1.25, 1.4).

The settings score the same embeddings on the same protocol draws (K = 3, ``--seeds`` seeds), through
``haad evaluate``'s library call with ``EvalConfig(distance=..., turns=..., warps=...)`` / ``WithinConfig(...)``
(turns only where windows are y-up, on the canonical, normalised skeleton: not the DCT floor or a
dataset's own encoder):

- category protocol, each dev dataset D: the no-learning floor (DCT of positions; the protocol's first
  60 frames, and whole clips), bone directions (whole clips), D's own encoder (one per protocol seed,
  trained on D's seen categories; reused from ``--own/D/encoders`` when there), the pretrained encoders
  of ``benchmarks/pretrain_seeds.py`` (in-dataset: ``all3-sS``; leaving D out: ``lodo-D-sS``; one per
  pretraining seed S, reused from ``--root`` when there, else pretrained with the shipped settings);
- within-category protocols (wrong executions, another style or population of the same motion): the
  floor, bone directions and the built-in encoder, as they are and pool-scaled; and kinder-gator's
  category protocol (58 motions the built-in encoder never saw).

    HAAD_DATA_DIR=../shared/data python benchmarks/support_distance.py --pretrain-seeds 0,1,2 \\
        --json benchmarks/results/json/support-distance.json --md benchmarks/results/support-distance.md
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from pretrained_transfer import DEV, ROOT, WHOLE, pretrained, seeds_parser

from haad.data import load_dataset
from haad.evaluation.config import EvalConfig
from haad.evaluation.protocol import evaluate
from haad.evaluation.within import WithinConfig, evaluate_within
from haad.hybrid import HybridConfig
from haad.storage import atomic_write_bytes, atomic_write_json

CATEGORY_COLUMNS = ("floor", "floor, whole clips", "bones, whole clips", "own encoder", "pretrained, in-dataset",
                    "pretrained, LODO")
WITHIN = (("ui-prmd", "ui-prmd-cross-subject", "none"), ("ui-prmd", "ui-prmd-cross-subject", "pool"),
          ("ui-prmd", "ui-prmd-personal", "none"), ("bandai-namco", "bandai-namco-style", "none"),
          ("bandai-namco", "bandai-namco-style", "pool"), ("kinder-gator", "kinder-gator-population", "none"),
          ("kinder-gator", "kinder-gator-population", "pool"))
WITHIN_COLUMNS = {"floor": "dct-distance", "bones": "bone-distance", "built-in encoder": "fewshot"}
# (support distance, support turns, support warps): Eq. 6; Eq. 6n; Eq. 6n with turns to 30 degrees; Eq. 6p (part
# by part) with them; Eq. 6p with turns to 90 degrees and time warps, the built-in encoder's settings
NARROW = (-30.0, -15.0, 15.0, 30.0)
BUILTIN = HybridConfig()
SETTINGS = {"mean": ("mean", (), ()), "nearest": ("nearest", (), ()), "nearest, turns to 30": ("nearest", NARROW, ()),
            "part-nearest, turns to 30": ("part-nearest", NARROW, ()),
            "part-nearest, turns to 90, warps": (BUILTIN.distance, BUILTIN.turns, BUILTIN.warps)}
# Turning needs y-up windows: the dataset's own skeleton (the DCT floor, its own encoder) has none.
UPRIGHT = {"bones, whole clips", "pretrained, in-dataset", "pretrained, LODO", "bones", "built-in encoder"}
# Parts: only the hybrid embedding has them (for any other, Eq. 6p is Eq. 6n).
PARTED = {"pretrained, in-dataset", "pretrained, LODO", "built-in encoder"}


def category_table(seeds: int, pretrain_seeds: list, root: Path, own: Path) -> dict:
    cfg = EvalConfig(seeds=tuple(range(seeds)))
    table = {}
    for d in DEV:
        data = load_dataset(d)
        for setting, (rule, turns, warps) in SETTINGS.items():
            c = replace(cfg, distance=rule, turns=turns, warps=warps)
            flat = replace(c, turns=None)  # the dataset's own skeleton: no turns
            row = {}
            if rule != "part-nearest":
                row["bones, whole clips"] = evaluate(data, replace(c, method="bone-distance", window=WHOLE),
                                                     progress=False)["mean"]
            if not turns:
                row.update({"floor": evaluate(data, replace(flat, method="dct-distance"), progress=False)["mean"],
                            "floor, whole clips": evaluate(data, replace(flat, method="dct-distance", window=WHOLE),
                                                           progress=False)["mean"],
                            "own encoder": evaluate(data, flat, out_dir=own / d, progress=False)["mean"]})
            for col, name, pool in (("pretrained, in-dataset", "all3-s{}", DEV),
                                    ("pretrained, LODO", f"lodo-{d}-s{{}}", [x for x in DEV if x != d])):
                per = [evaluate(data, c, encoder_dir=pretrained(root, name.format(s), pool, seed=s), progress=False)["mean"]
                       for s in pretrain_seeds]
                row[col] = float(np.mean(per))
                row[col + " per seed"] = per
            table[f"{d}/{setting}"] = row
            print(d, setting, {k: round(v, 3) for k, v in row.items() if not k.endswith("seed")}, flush=True)
    return table


def within_table(seeds: int) -> dict:
    table = {}
    for dataset, protocol, scale in WITHIN:
        data = load_dataset(dataset)
        for setting, (rule, turns, warps) in SETTINGS.items():
            row = {}
            for col, method in WITHIN_COLUMNS.items():
                if (turns and col not in UPRIGHT) or (rule == "part-nearest" and col not in PARTED):
                    continue
                cfg = WithinConfig(protocol, method=method, seeds=tuple(range(seeds)), scale=scale, distance=rule,
                                   turns=turns, warps=warps)
                row[col] = evaluate_within(data, cfg)["mean"]
            table[f"{protocol}{'-pool' if scale == 'pool' else ''}/{setting}"] = row
            print(protocol, scale, setting, {k: round(v, 3) for k, v in row.items()}, flush=True)
    data = load_dataset("kinder-gator")
    for setting, (rule, turns, warps) in SETTINGS.items():
        cfg = EvalConfig(seeds=tuple(range(seeds)), distance=rule, turns=turns, warps=warps)
        row = {"built-in encoder": evaluate(data, cfg, encoder_dir="builtin", progress=False)["mean"]}
        if rule != "part-nearest":
            row["bones"] = evaluate(data, replace(cfg, method="bone-distance", window=WHOLE), progress=False)["mean"]
        if not turns:
            row["floor"] = evaluate(data, replace(cfg, method="dct-distance", turns=None), progress=False)["mean"]
        table[f"kinder-gator-category/{setting}"] = row
        print("kinder-gator category", setting, row, flush=True)
    return table


def _cells(row: dict, columns) -> str:
    return " | ".join(f"{row[c]:.3f}" if c in row else "" for c in columns)


def markdown(out: dict) -> str:
    lines = ["| dataset | support | " + " | ".join(CATEGORY_COLUMNS) + " |", "|---|---|" + "---|" * len(CATEGORY_COLUMNS)]
    cat = out["category"]
    for d in (*DEV, "mean"):
        for setting in SETTINGS:
            if d == "mean":
                row = {col: np.mean([cat[f"{x}/{setting}"][col] for x in DEV]) for col in CATEGORY_COLUMNS
                       if col in cat[f"{DEV[0]}/{setting}"]}
            else:
                row = cat[f"{d}/{setting}"]
            lines.append(f"| {'**mean**' if d == 'mean' else d} | {setting} | " + _cells(row, CATEGORY_COLUMNS) + " |")
    lines += ["", "| protocol | support | " + " | ".join(WITHIN_COLUMNS) + " |", "|---|---|" + "---|" * len(WITHIN_COLUMNS)]
    for key, row in out["within"].items():
        protocol, setting = key.split("/")
        lines.append(f"| {protocol} | {setting} | " + _cells(row, WITHIN_COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = seeds_parser(__doc__.split("\n")[0])
    ap.add_argument("--own", type=Path, default=ROOT / "runs" / "own", help="own encoders' folder (one per dataset)")
    args = ap.parse_args()
    seeds = args.pretrain_seeds
    out = {"seeds": args.seeds, "pretrain_seeds": seeds,
           "category": category_table(args.seeds, seeds, args.root, args.own), "within": within_table(args.seeds)}
    atomic_write_json(args.json, out)
    atomic_write_bytes(args.md, markdown(out).encode())
    print(markdown(out))


if __name__ == "__main__":
    main()
