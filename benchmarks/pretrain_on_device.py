"""Pretraining on another machine (e.g. one with a GPU) from windows gathered here.

``gather`` loads, canonicalises and normalises the seen categories' training pools of the datasets
named (as ``haad pretrain`` does) and writes them to one ``.npz``; ``train`` trains from such a file,
optionally without the rows of some datasets (leave one dataset out), on any device, and writes the
same checkpoint ``haad pretrain`` would (its record lists exactly the datasets kept).

    HAAD_DATA_DIR=../shared/data python benchmarks/pretrain_on_device.py gather \\
        --datasets utd-mhad,nw-ucla,florence3d,kinder-gator,bandai-namco,synthetic --out runs/gpu/all6.npz
    PYTHONPATH=src python3 benchmarks/pretrain_on_device.py train runs/gpu/all6.npz \\
        --exclude utd-mhad --out runs/pre/lodo6-utd-mhad --device cuda
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from haad.pretrain import PretrainConfig, PretrainData, gather, pretrain


def without(data: PretrainData, exclude: set) -> PretrainData:
    """The gathered windows without the rows (and categories) of the datasets in ``exclude``."""
    keep_rows, keep_cats, records, start = [], [], [], 0
    for rec in data.records:
        rows = np.arange(start, start + rec["clips"])
        start += rec["clips"]
        if rec["name"] in exclude:
            continue
        records.append(rec)
        keep_rows.append(rows)
    rows = np.concatenate(keep_rows)
    cats = sorted({int(c) for c in data.labels[rows]})
    keep_cats = {c: i for i, c in enumerate(cats)}
    return PretrainData(data.windows[rows], np.array([keep_cats[int(c)] for c in data.labels[rows]]),
                        [data.class_names[c] for c in cats], records)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gather")
    g.add_argument("--datasets", required=True)
    g.add_argument("--out", required=True)
    t = sub.add_parser("train")
    t.add_argument("data")
    t.add_argument("--exclude", default="", help="comma-separated dataset names to leave out")
    t.add_argument("--out", required=True)
    t.add_argument("--device", default="cpu")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--epochs", type=int, default=None, help="fewer epochs, for a quick check of the setup")
    args = ap.parse_args()
    if args.command == "gather":
        cfg = replace(PretrainConfig(), datasets=tuple(args.datasets.split(",")))
        data = gather(cfg)
        data.save(args.out)
        print(f"{len(data.windows)} windows of {len(data.class_names)} categories written to {args.out}")
        return
    data = PretrainData.load(args.data)
    exclude = {x for x in args.exclude.split(",") if x}
    data = without(data, exclude) if exclude else data
    base = PretrainConfig()
    train = base.train.with_epochs(args.epochs) if args.epochs else base.train
    cfg = replace(base, datasets=tuple(r["name"] for r in data.records), train=replace(train, seed=args.seed))
    t0 = time.perf_counter()
    _, hist, record = pretrain(cfg, args.out, data=data, device=args.device)
    print(f"{args.out}: {len(data.windows)} windows, {len(record['categories'])} categories, "
          f"{hist['seconds']:.1f} s training on {args.device} ({time.perf_counter() - t0:.1f} s in all)", flush=True)


if __name__ == "__main__":
    main()
