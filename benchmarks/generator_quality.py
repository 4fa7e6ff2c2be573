"""How good are the generated variants? Plausibility, diversity and category fidelity, on held-out clips.

Usage:
    python benchmarks/generator_quality.py --dataset nw-ucla --generator runs/gen/nw-ucla \
        --encoder runs/core/nw-ucla-fewshot/encoders/seed-0 [--variants 5 --steps 20 --n-obs 30]

Runs on the test clips of the *seen* categories: the generator never trained on them, and their true
futures are known. Prints one JSON object (also written with --json):

- ``ade`` / ``fde``: mean joint error (m) of the generated future frames against the true ones, averaged
  over variants and as best-of-N; ``ade_zero_velocity``: the same for a future that repeats the last
  observed frame (the padding the generator is conditioned on), the obvious baseline to beat.
- ``diversity``: mean distance (m) between two variants of one clip over the future frames.
- ``boundary_jump_ratio``: 99th percentile of the jump from the last observed to the first generated
  frame over the data's own 99th-percentile frame-to-frame motion (about 1 is seamless).
- ``bone_error``: mean relative bone-length change of the generated frames against the input's.
- ``fidelity``: nearest-class-mean accuracy over the seen categories in the embedding of a trained
  encoder (class means from the real training pools) for the real held-out windows, their generated
  variants and their zero-velocity completions; ``fidelity_per_category`` breaks it down by category,
  ``attracts_misplaced`` gives each category's share of the variants placed in a wrong category.
  Variants that keep their clip's category are what contrastive training needs: a variant embedded as
  another category is a wrong positive.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from haad.data import load_dataset
from haad.data.splits import protocol_split
from haad.data.windows import make_windows
from haad.generator.sample import Generator
from haad.train import load_encoder


def bones(x: np.ndarray, parents) -> np.ndarray:
    child = [j for j, p in enumerate(parents) if p >= 0]
    par = [parents[j] for j in child]
    return np.linalg.norm(x[..., child, :] - x[..., par, :], axis=-1)


def embed(encoder, windows: np.ndarray, batch: int = 512) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([encoder(torch.from_numpy(windows[i:i + batch])).numpy()
                               for i in range(0, len(windows), batch)])


def emit(result: dict, path: Path | None) -> None:
    """Print a benchmark result as JSON and, with ``path``, also write it there."""
    text = json.dumps(result, indent=2)
    print(text)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--generator", type=Path, required=True)
    ap.add_argument("--encoder", type=Path, required=True, help="a trained encoder (e.g. a core run's seed-0)")
    ap.add_argument("--variants", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--n-obs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                    help="the denoiser's precision while generating")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    data = load_dataset(args.dataset, args.data_dir)
    split = protocol_split(data)
    seen = list(split.seen)
    test = np.array([i for i in split.test if data.labels[i] in seen])
    train = split.seen_train()
    x = make_windows([data.clips[i] for i in test], data.layout.root)
    y = data.labels[test]
    o = args.n_obs

    gen = Generator.load(args.generator)
    v = gen.generate(x, n_variants=args.variants, n_obs=o, steps=args.steps, seed=args.seed,
                     precision=args.precision)  # (N, G, H, J, 3)
    fut, true = v[:, :, o:], x[:, None, o:]
    err = np.linalg.norm(fut - true, axis=-1).mean(axis=-1)  # (N, G, P)
    zero = np.repeat(x[:, o - 1:o], x.shape[1] - o, axis=1)
    zero_err = np.linalg.norm(zero - x[:, o:], axis=-1).mean(axis=-1)  # (N, P)
    g = args.variants
    pair = [np.linalg.norm(fut[:, a] - fut[:, b], axis=-1).mean() for a in range(g) for b in range(a + 1, g)]
    motion = np.percentile(np.linalg.norm(np.diff(x, axis=1), axis=-1), 99)
    jump = np.linalg.norm(v[:, :, o] - v[:, :, o - 1], axis=-1)
    ref = bones(x, data.layout.parents).mean(axis=1)  # (N, bones): the input's bone lengths
    gen_bones = bones(fut, data.layout.parents)  # (N, G, P, bones)
    bone_err = float((np.abs(gen_bones - ref[:, None, None]) / ref[:, None, None].clip(1e-6)).mean())

    encoder, _ = load_encoder(args.encoder)
    train_w = make_windows([data.clips[i] for i in train], data.layout.root)
    e_train = embed(encoder, train_w)
    means = np.stack([e_train[data.labels[train] == c].mean(axis=0) for c in seen])

    def nearest(w: np.ndarray) -> np.ndarray:
        """Per window: the seen category whose mean embedding is nearest."""
        e = embed(encoder, w.astype(np.float32))
        return np.array(seen)[np.linalg.norm(e[:, None] - means[None], axis=-1).argmin(axis=1)]

    zero_w = np.concatenate([x[:, :o], zero], axis=1)
    gen_pred = nearest(v.reshape(-1, *x.shape[1:])).reshape(-1, g)
    hit = {"real": nearest(x) == y, "generated": gen_pred == y[:, None], "zero_velocity": nearest(zero_w) == y}
    out = {
        "command": "python " + " ".join(sys.argv), "dataset": args.dataset, "generator": str(args.generator),
        "held_out_clips": int(len(test)), "variants": g, "steps": args.steps, "n_obs": o,
        "ade": float(err.mean()), "ade_best_of_n": float(err.mean(axis=-1).min(axis=1).mean()),
        "fde": float(err[..., -1].mean()), "ade_zero_velocity": float(zero_err.mean()),
        "fde_zero_velocity": float(zero_err[:, -1].mean()),
        "diversity": float(np.mean(pair)) if pair else 0.0,
        "boundary_jump_ratio": float(np.percentile(jump, 99) / motion), "bone_error": bone_err,
        "fidelity": {k: float(h.mean()) for k, h in hit.items()},
        # Per seen category, to set against that category's AUC change under training-time augmentation.
        "fidelity_per_category": {data.class_names[c]: {"clips": int((y == c).sum()),
                                                        **{k: float(h[y == c].mean()) for k, h in hit.items()}}
                                  for c in seen},
        # Per seen category: the share of all misplaced variants (of other categories' clips) that land
        # nearest to it. One category drawing most of them is a generic motion the generator falls into.
        "attracts_misplaced": {data.class_names[c]: float(((gen_pred == c) & ~hit["generated"]).sum()
                                                          / max(1, (~hit["generated"]).sum())) for c in seen},
    }
    emit(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
