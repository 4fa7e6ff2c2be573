"""How far one pretrained encoder carries: leave one dataset out, and in-dataset, beside the floors.

For every dev dataset D:
- ``floor K=3``: the no-learning DCT embedding under the protocol (K = 3 support clips, 10 seeds);
- ``floor pool NN``: the DCT embedding with D's whole training pool of the normal category as support,
  scored by the distance to the nearest support clip (deterministic: no draws);
- ``bones``: the no-learning bone-direction embedding (``haad evaluate --method bone-distance``);
- ``own``: D's own encoder, trained on D's seen categories only (``haad evaluate --dataset D``, 20
  epochs; archived under results/json/core/D-fewshot-ep20);
- ``whole clips``: the same with each whole clip resampled to the 60-frame window (``--crop resample``,
  the pretrained encoder's window) instead of the protocol's first 60 frames (own encoder:
  ``haad evaluate --dataset D --crop resample``, archived under results/json/core/D-fewshot-ep20-resample);
- ``LODO``: an encoder pretrained on the other dev datasets, never on D: every category of D is unseen
  (also scored as the pool NN floor is: whole training pool as support, nearest-neighbour distance);
- ``pretrained``: an encoder pretrained on the seen categories of every dev dataset (D's unseen
  categories excluded), the in-dataset case; built as the shipped one is (``PretrainConfig``'s defaults).
The last two are scored twice: with the hybrid embedding the encoder ships with (haad.hybrid) and with
its learned part alone (a copy of the checkpoint without the hybrid record).

Pretrained encoders go to ``ROOT/NAME`` (``--root``, default runs/pre-window; a finished one is reused).
With ``--ablation`` the in-dataset column is also measured with one normalisation step left out at a
time, and with the embedded synthetic actions added to pretraining (one encoder per variant).

    HAAD_DATA_DIR=../shared/data python benchmarks/pretrained_transfer.py --seeds 10 --ablation \\
        --json benchmarks/results/json/pretrain/transfer.json --md benchmarks/results/pretrain-transfer.md
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from haad.data import load_dataset
from haad.data.splits import protocol_split
from haad.data.windows import WindowConfig, make_windows
from haad.embedders import DCTEmbedder
from haad.evaluation.config import EvalConfig
from haad.evaluation.metrics import auc
from haad.evaluation.protocol import evaluate
from haad.pretrain import PretrainConfig, pretrain
from haad.storage import atomic_write_bytes, atomic_write_json

DEV = ("utd-mhad", "nw-ucla", "florence3d")
ROOT = Path(__file__).resolve().parents[1]
STEPS = ("units", "up_axis", "facing", "scale", "handedness")
WHOLE = WindowConfig(crop="resample")  # the pretrained encoder's window: each whole clip resampled to 60 frames


def seeds_parser(description: str) -> argparse.ArgumentParser:
    """The options of the scripts that score the pretrained encoders of several training seeds: ``--seeds``
    (protocol seeds), ``--pretrain-seeds`` (``0,1,2``), ``--root`` (their folder), ``--json`` and ``--md``."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--seeds", type=int, default=10, help="protocol seeds")
    ap.add_argument("--pretrain-seeds", type=lambda t: [int(s) for s in t.split(",") if s.strip()], default=[0, 1, 2],
                    help="training seeds of the pretrained encoders (comma-separated)")
    ap.add_argument("--root", type=Path, default=ROOT / "runs" / "pre-seeds", help="pretrained encoders' folder")
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--md", type=Path, required=True)
    return ap


def pool_nn_floor(name: str, window: WindowConfig = WindowConfig()) -> float:
    """Mean AUC over categories: DCT embedding, whole training pool as support, nearest-neighbour distance."""
    return pool_nn(name, lambda data: DCTEmbedder()(make_windows(data.clips, data.layout.root, window)))


def pool_nn_encoder(name: str, encoder_dir: Path) -> float:
    """:func:`pool_nn_floor` with a pretrained encoder's embedding (its space and its window) instead."""
    from haad.encoders import resolve_encoder
    from haad.preprocess import prepare_collection

    chosen = resolve_encoder(encoder_dir, exact=True)

    def embed(data):
        prepared = prepare_collection(data, chosen.normalization)
        return chosen.embedder(make_windows(prepared.clips, prepared.layout.root, chosen.window))

    return pool_nn(name, embed)


def pool_nn(name: str, embed) -> float:
    """Mean AUC over categories: ``embed(collection)``'s embeddings, D's whole training pool of the normal
    category as support, the distance to the nearest support clip as the score (no draws)."""
    data = load_dataset(name)
    split = protocol_split(data)
    emb = embed(data)
    test = emb[split.test]
    aucs = []
    for c, pool in enumerate(split.train_pools):
        d = np.sqrt(((test[:, None, :] - emb[pool][None]) ** 2).sum(-1)).min(axis=1)
        aucs.append(auc(data.labels[split.test] != c, d))
    return float(np.mean(aucs))


def archived(name: str, run: str) -> dict | None:
    """Archived protocol results (results/json/core/NAME-RUN), or None."""
    path = ROOT / "benchmarks" / "results" / "json" / "core" / f"{name}-{run}" / "results.json"
    return json.loads(path.read_text()) if path.is_file() else None


def pretrained(root: Path, name: str, datasets, normalization=None, seed: int = 0) -> Path:
    """A finished pretrained encoder at ROOT/NAME, trained with the shipped encoder's settings when missing
    (or resumed when unfinished). A finished one is used as found, without comparing its training data
    with today's: the sensor normalisation's float64 rounding has moved since some were made (26 of the
    8.4 million training values of the three dev datasets, by at most 1e-14), which changes the recorded
    digest of the training data that a resumed run must match, though not the trained weights
    (benchmarks/README.md, "Support distance, turns and warps")."""
    out = root / name
    if finished(out):
        return out
    base = PretrainConfig()
    cfg = replace(base, datasets=tuple(datasets), normalization=normalization or base.normalization,
                  train=replace(base.train, seed=seed))
    t0 = time.perf_counter()
    _, hist, _ = pretrain(cfg, out)
    print(f"  encoder {name}: {hist['seconds']:.0f} s training ({time.perf_counter() - t0:.0f} s with data)", flush=True)
    return out


def finished(encoder_dir: Path) -> bool:
    """Whether ``encoder_dir`` holds a pretrained encoder whose training and hybrid scales are done."""
    import json

    path = encoder_dir / "config.json"
    if not path.is_file():
        return False
    meta = json.loads(path.read_text()).get("meta", {})
    return bool(meta.get("complete")) and (meta.get("hybrid") is None or meta["hybrid"].get("scales") is not None)


def learned_only(encoder_dir: Path) -> Path:
    """A copy of a hybrid encoder's checkpoint without its hybrid record: the learned embedding alone."""
    import shutil

    from haad.checkpoint import update_meta

    out = encoder_dir.with_name(encoder_dir.name + "-learned")
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(encoder_dir, out)
    update_meta(out, "hybrid", None)
    return out


def row(res: dict) -> dict:
    return {"mean": res["mean"], "std": res["mean_std_over_seeds"], "seen_mean": res["seen_mean"],
            "unseen_mean": res["unseen_mean"], "seeds": len(res["seeds"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--ablation", action="store_true", help="also the normalisation and synthetic-data ablations")
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--md", type=Path, required=True)
    ap.add_argument("--root", type=Path, default=ROOT / "runs" / "pre-window", help="pretrained encoders' folder")
    args = ap.parse_args()
    cfg = EvalConfig(seeds=tuple(range(args.seeds)), distance="mean", turns=(), warps=())  # Eq. 6, as measured
    settings = {k: v for k, v in asdict(PretrainConfig()).items() if k != "datasets"}
    out = {"seeds": args.seeds, "pretrain": settings, "datasets": {}, "ablation": {}}
    all_dir = pretrained(args.root, "all3", DEV)
    for d in DEV:
        print(d, flush=True)
        data = load_dataset(d)
        lodo = pretrained(args.root, f"lodo-{d}", [x for x in DEV if x != d])
        floor = evaluate(data, replace(cfg, method="dct-distance"), progress=False)
        floor_whole = evaluate(data, replace(cfg, method="dct-distance", window=WHOLE), progress=False)
        own, bones = archived(d, "fewshot-ep20"), archived(d, "bone-distance")
        own_whole = archived(d, "fewshot-ep20-resample")
        out["datasets"][d] = {
            "floor_k3": row(floor),
            "floor_k3_whole": row(floor_whole),
            "floor_pool_nn": pool_nn_floor(d),
            "floor_pool_nn_whole": pool_nn_floor(d, WHOLE),
            "bones": row(bones) if bones else None,
            "own": row(own) if own else None,
            "own_whole": row(own_whole) if own_whole else None,
            "lodo_learned": row(evaluate(data, cfg, encoder_dir=learned_only(lodo), progress=False)),
            "lodo": row(evaluate(data, cfg, encoder_dir=lodo, progress=False)),
            "lodo_pool_nn": pool_nn_encoder(d, lodo),
            "pretrained_learned": row(evaluate(data, cfg, encoder_dir=learned_only(all_dir), progress=False)),
            "pretrained": row(evaluate(data, cfg, encoder_dir=all_dir, progress=False)),
        }
    if args.ablation:
        base = PretrainConfig().normalization
        variants = {f"without {s}": (replace(base, **{s: False}), ()) for s in STEPS}
        variants["with synthetic"] = (base, ("synthetic",))
        for label, (norm, extra) in variants.items():
            enc = pretrained(args.root, f"all3-{label.replace(' ', '-')}", list(DEV) + list(extra), norm)
            out["ablation"][label] = {d: row(evaluate(load_dataset(d), cfg, encoder_dir=enc, progress=False))
                                      for d in DEV}
    atomic_write_json(args.json, out)
    atomic_write_bytes(args.md, markdown(out).encode())
    print(markdown(out))


def markdown(out: dict) -> str:
    def cell(r):
        return "–" if r is None else f"{r['mean']:.3f} ± {r['std']:.3f}"

    pool = ("floor_pool_nn", "floor_pool_nn_whole", "lodo_pool_nn")
    tables = (
        (("floor_k3", "floor_k3_whole", "floor_pool_nn", "floor_pool_nn_whole", "bones", "own", "own_whole"),
         "| dataset | floor K=3 | floor K=3, whole clips | floor pool NN | floor pool NN, whole clips | bone directions "
         "| own encoder | own encoder, whole clips |"),
        (("lodo_learned", "lodo", "lodo_pool_nn", "pretrained_learned", "pretrained"),
         "| dataset | LODO, learned part | **LODO, hybrid** | LODO, hybrid, pool NN | in-dataset, learned part "
         "| **in-dataset, hybrid** |"),
    )
    lines = []
    for cols, head in tables:
        lines += ([""] if lines else []) + [head, "|---|" + "---|" * len(cols)]
        for d, r in out["datasets"].items():
            lines.append(f"| {d} | " + " | ".join(f"{r[c]:.3f}" if c in pool else cell(r.get(c)) for c in cols) + " |")
        means = []
        for c in cols:
            vals = [r.get(c) if c in pool else (r.get(c) or {}).get("mean") for r in out["datasets"].values()]
            means.append("–" if None in vals else f"{np.mean(vals):.3f}")
        lines.append("| **mean** | " + " | ".join(means) + " |")
    if out["ablation"]:
        lines += ["", "| pretraining (in-dataset) | " + " | ".join(out["datasets"]) + " | mean |",
                  "|---|" + "---|" * (len(out["datasets"]) + 1)]
        full = {d: r["pretrained"]["mean"] for d, r in out["datasets"].items()}
        lines.append("| all steps | " + " | ".join(f"{v:.3f}" for v in full.values()) +
                     f" | {np.mean(list(full.values())):.3f} |")
        for label, means in out["ablation"].items():
            vals = [means[d]["mean"] for d in out["datasets"]]
            lines.append(f"| {label} | " + " | ".join(f"{v:.3f}" for v in vals) + f" | {np.mean(vals):.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
