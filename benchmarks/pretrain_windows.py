"""Which window the pretrained encoder takes: its first 60 frames, or the whole clip resampled to 60.

Three ways to pretrain (``PretrainConfig``'s defaults otherwise, 2 pretraining seeds each):
- ``first``: windows of the first 60 frames (the category protocol's), used the same way;
- ``resample``: every clip resampled whole to 60 frames, used the same way;
- ``both`` (the shipped setting): every training clip enters twice, once per crop, and the encoder is
  used on whole clips resampled; its ``first`` windows are what ``haad detect --stream`` slides over a
  recording.
Each encoder (hybrid embedding, docs/METHOD.md Eq. H1) is scored with both windows on the category
protocol of every dev dataset (K = 3, 10 seeds, in-dataset: the encoder trained on each one's seen
categories) and on the within-category protocols of ui-prmd (cross-subject, without and with pool
scaling) and bandai-namco (style), which resample whole clips.

    HAAD_DATA_DIR=../shared/data python benchmarks/pretrain_windows.py \\
        --json benchmarks/results/json/pretrain/windows.json --md benchmarks/results/pretrain-windows.md
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from haad.data import load_dataset
from haad.data.windows import WindowConfig
from haad.evaluation.config import EvalConfig
from haad.evaluation.protocol import evaluate
from haad.evaluation.within import WithinConfig, evaluate_within
from haad.pretrain import PretrainConfig, pretrain
from haad.storage import atomic_write_bytes, atomic_write_json

from pretrained_transfer import DEV, ROOT

KINDS = {"first": ("first", ("first",)), "resample": ("resample", ("resample",)),
         "both": ("resample", ("resample", "first"))}
WITHIN = (("ui-prmd", "ui-prmd-cross-subject", "none"), ("ui-prmd", "ui-prmd-cross-subject", "pool"),
          ("bandai-namco", "bandai-namco-style", "none"))


def encoder(root: Path, kind: str, seed: int) -> Path:
    """The encoder pretrained one way (a finished one under ROOT is reused)."""
    base = PretrainConfig()
    crop, crops = KINDS[kind]
    cfg = replace(base, window=WindowConfig(crop=crop), train_crops=crops, train=replace(base.train, seed=seed))
    out = root / f"{kind}-{seed}"
    pretrain(cfg, out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pretrain-seeds", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--root", type=Path, default=ROOT / "runs" / "pre-windows")
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--md", type=Path, required=True)
    args = ap.parse_args()
    seeds = tuple(range(args.seeds))
    data = {d: load_dataset(d) for d in DEV + tuple(sorted({w[0] for w in WITHIN}))}
    rows = {}
    for kind in KINDS:
        for p in range(args.pretrain_seeds):
            enc = encoder(args.root, kind, p)
            r = {}
            for crop in ("resample", "first"):
                cfg = EvalConfig(seeds=seeds, window=WindowConfig(crop=crop), distance="mean", turns=(),
                                 warps=())  # as measured
                for d in DEV:
                    r[f"{d}/{crop}"] = evaluate(data[d], cfg, encoder_dir=enc, progress=False)["mean"]
            for name, protocol, scale in WITHIN:
                res = evaluate_within(data[name], WithinConfig(protocol, scale=scale, seeds=seeds, distance="mean",
                                                               turns=(), warps=()), encoder=str(enc))
                r[f"{protocol}/{scale}"] = res["mean"]
            rows[f"{kind}-{p}"] = r
            print(kind, p, {k: round(v, 3) for k, v in r.items()}, flush=True)
    out = {"seeds": args.seeds, "pretrain_seeds": args.pretrain_seeds, "kinds": {k: list(v[1]) for k, v in KINDS.items()},
           "runs": rows}
    atomic_write_json(args.json, out)
    atomic_write_bytes(args.md, markdown(out).encode())
    print(markdown(out))


def markdown(out: dict) -> str:
    """Means over pretraining seeds (± their standard deviation)."""
    cols = [f"{d}/{c}" for c in ("resample", "first") for d in DEV] + [f"{p}/{s}" for _, p, s in WITHIN]
    heads = [f"{d}, {'whole clips' if c == 'resample' else 'first 60'}" for c in ("resample", "first") for d in DEV] + \
        ["ui-prmd", "ui-prmd, pool", "bandai-namco"]
    lines = ["| pretrained on | used on | " + " | ".join(heads) + " | mean whole clips | mean first 60 |",
             "|---|---|" + "---|" * (len(cols) + 2)]
    for kind, (crop, crops) in KINDS.items():
        runs = [r for name, r in out["runs"].items() if name.rsplit("-", 1)[0] == kind]
        cells = [f"{np.mean([r[c] for r in runs]):.3f} ± {np.std([r[c] for r in runs]):.3f}" for c in cols]
        whole = np.mean([[r[f"{d}/resample"] for d in DEV] for r in runs])
        first = np.mean([[r[f"{d}/first"] for d in DEV] for r in runs])
        label = "whole clips" if crop == "resample" else "first 60"
        lines.append(f"| {' + '.join(crops)} | {label} | " + " | ".join(cells) + f" | {whole:.3f} | {first:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
