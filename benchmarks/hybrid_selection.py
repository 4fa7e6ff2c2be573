"""The choice of the hybrid embedding's weights (haad.hybrid, docs/METHOD.md Eq. H1) on the dev datasets.

For every weight setting (w_E = 1; w_B, w_P on a grid), the category protocol (K = 3, 10 seeds) on each
dev dataset D, scored twice: in-dataset (the encoder pretrained on the seen categories of all three)
and leave-one-dataset-out (an encoder pretrained on the other two). The setting kept is the best mean
of the two means; kinder-gator, bandai-namco and ui-prmd take no part in the choice. The encoders are
those of ``benchmarks/pretrained_transfer.py`` (same folder, reused when finished); the scales come
from each encoder's own record, so only the weights vary. The kept setting's row equals
``haad evaluate --dataset D --encoder DIR`` (checked on the first seed by ``--check``).

    HAAD_DATA_DIR=../shared/data python benchmarks/hybrid_selection.py --seeds 10 --check \\
        --json benchmarks/results/json/pretrain/hybrid-selection.json --md benchmarks/results/hybrid-selection.md

``--distance nearest`` scores by the nearest support clip (Eq. 6n) instead of the mean (Eq. 6), and
``--pretrain-seeds 0,1,2 --root runs/pre-seeds`` averages every cell over the encoders of
``benchmarks/pretrain_seeds.py`` (``all3-sS``, ``lodo-D-sS``)::

    HAAD_DATA_DIR=../shared/data python benchmarks/hybrid_selection.py --seeds 10 --check --distance nearest \\
        --pretrain-seeds 0,1,2 --root runs/pre-seeds --json benchmarks/results/json/pretrain/hybrid-selection-nearest.json \\
        --md benchmarks/results/hybrid-selection-nearest.md
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from haad.data import load_dataset
from haad.data.splits import protocol_split, support_draws
from haad.data.windows import make_windows
from haad.distances import DISTANCES, support_distance
from haad.encoders import resolve_encoder
from haad.evaluation.config import EvalConfig
from haad.evaluation.metrics import auc
from haad.evaluation.protocol import pretrained_split
from haad.hybrid import PARTS, HybridConfig, part_embedders
from haad.preprocess import prepare_collection
from haad.storage import atomic_write_json

from pretrained_transfer import DEV, ROOT, pretrained

BONE_WEIGHTS = (0.0, 0.25, 0.5, 1.0)
POSITION_WEIGHTS = (0.0, 0.25, 0.5, 1.0)


def part_embeddings(encoder_dir: Path, name: str, cfg: EvalConfig):
    """Every clip's three parts, each divided by its recorded scale; the split as the encoder sees it."""
    data = load_dataset(name)
    chosen = resolve_encoder(encoder_dir, exact=True)
    split = pretrained_split(chosen, data, protocol_split(data, cfg.train_fraction))
    prepared = prepare_collection(data, chosen.normalization)
    windows = make_windows(prepared.clips, prepared.layout.root, cfg.resolved(chosen.window).window)
    hybrid = chosen.embedder
    record = hybrid.record
    parts = part_embedders(hybrid.learned, hybrid.parents, record)
    return data, split, {p: parts[p](windows) / np.float32(record["scales"][p]) for p in PARTS}


def protocol_mean(data, split, emb: np.ndarray, seeds, k: int = EvalConfig().k_shot, distance: str = "mean",
                  part_dims=None) -> float:
    """The category protocol's mean AUC on fixed embeddings (docs/PROTOCOL.md: draws default_rng([s, c])),
    scored by the support ``distance`` (Eq. 6, 6n, or 6p over parts of widths ``part_dims``)."""
    test, labels = split.test, data.labels[split.test]
    aucs = [[auc(labels != c, support_distance(emb[test], emb[draw], distance, part_dims))
             for c, draw in enumerate(support_draws(split, s, k))] for s in seeds]
    return float(np.mean(aucs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--root", type=Path, default=ROOT / "runs" / "pre-window")
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--md", type=Path, default=None, help="also write the table here")
    ap.add_argument("--check", action="store_true", help="compare the shipped setting with haad evaluate (seed 0)")
    ap.add_argument("--distance", choices=DISTANCES, default="mean", help="the support distance (Eq. 6 or 6n)")
    ap.add_argument("--pretrain-seeds", default=None,
                    help="average over the encoders all3-sS and lodo-D-sS of these training seeds (default: all3, lodo-D)")
    args = ap.parse_args()
    cfg = EvalConfig(seeds=tuple(range(args.seeds)), distance=args.distance)
    grid = list(itertools.product(BONE_WEIGHTS, POSITION_WEIGHTS))
    table = {f"{b},{p}": {} for b, p in grid}
    runs = ([(0, "")] if args.pretrain_seeds is None
            else [(int(s), f"-s{int(s)}") for s in args.pretrain_seeds.split(",") if s.strip()])
    encoders = {}
    for s, tag in runs:
        encoders[f"in-dataset{tag}"] = pretrained(args.root, f"all3{tag}", DEV, seed=s)
        encoders.update({f"lodo-{d}{tag}": pretrained(args.root, f"lodo-{d}{tag}", [x for x in DEV if x != d], seed=s)
                         for d in DEV})
    for d in DEV:
        for kind, name in (("in-dataset", "in-dataset"), ("lodo", f"lodo-{d}")):
            cells = {}
            for _, tag in runs:
                data, split, parts = part_embeddings(encoders[name + tag], d, cfg)
                for b, p in grid:
                    emb = np.concatenate([parts["learned"], b * parts["bones"], p * parts["positions"]], axis=1)
                    dims = [parts[n].shape[1] for n in ("learned", "bones", "positions")]
                    cells.setdefault((b, p), []).append(protocol_mean(data, split, emb, cfg.seeds, distance=args.distance,
                                                                      part_dims=dims))
            for (b, p), values in cells.items():
                table[f"{b},{p}"][f"{kind}/{d}"] = float(np.mean(values))
            print(f"{d} {kind} done", flush=True)
    rows = []
    for key, r in table.items():
        ind = np.mean([r[f"in-dataset/{d}"] for d in DEV])
        lodo = np.mean([r[f"lodo/{d}"] for d in DEV])
        rows.append({"bone_weight": float(key.split(",")[0]), "position_weight": float(key.split(",")[1]),
                     **r, "in_dataset_mean": float(ind), "lodo_mean": float(lodo), "criterion": float((ind + lodo) / 2)})
    rows.sort(key=lambda r: -r["criterion"])
    shipped = HybridConfig()
    if args.check:
        from haad.evaluation.protocol import evaluate

        for d in DEV:
            first = encoders["in-dataset" + runs[0][1]]
            res = evaluate(load_dataset(d), EvalConfig(seeds=(0,), distance=args.distance, turns=(), warps=()), encoder_dir=first,
                           progress=False)
            data, split, parts = part_embeddings(first, d, cfg)
            emb = np.concatenate([parts["learned"], shipped.bone_weight * parts["bones"],
                                  shipped.position_weight * parts["positions"]], axis=1)
            mine = protocol_mean(data, split, emb, (0,), distance=args.distance,
                                 part_dims=[parts[n].shape[1] for n in ("learned", "bones", "positions")])
            print(f"check {d}: haad evaluate {res['mean']:.6f}, this script {mine:.6f}")
            assert abs(res["mean"] - mine) < 1e-4, (res["mean"], mine)
    atomic_write_json(args.json, {"seeds": args.seeds, "distance": args.distance,
                                  "pretrain_seeds": [s for s, _ in runs], "shipped": {"bone_weight": shipped.bone_weight,
                                                                     "position_weight": shipped.position_weight},
                                  "rows": rows})
    head = "| w_B | w_P | " + " | ".join(f"in {d}" for d in DEV) + " | in mean | " + \
        " | ".join(f"LODO {d}" for d in DEV) + " | LODO mean | criterion |"
    lines = [head, "|---" * (head.count("|") - 1) + "|"]
    for r in rows:
        mark = "**" if (r["bone_weight"], r["position_weight"]) == (shipped.bone_weight, shipped.position_weight) else ""
        cells = [f"{r[f'in-dataset/{d}']:.3f}" for d in DEV] + [f"{r['in_dataset_mean']:.3f}"] + \
            [f"{r[f'lodo/{d}']:.3f}" for d in DEV] + [f"{r['lodo_mean']:.3f}", f"{mark}{r['criterion']:.3f}{mark}"]
        lines.append(f"| {r['bone_weight']:g} | {r['position_weight']:g} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    if args.md is not None:
        from haad.storage import atomic_write_bytes

        atomic_write_bytes(args.md, ("\n".join(lines) + "\n").encode())


if __name__ == "__main__":
    main()
