"""Keep the generated variants that stay in their clip's category (training-time augmentation).

A generated future can drift into another category's motion: a no-augmentation encoder places
fewer generated variants than real clips nearest their own category, and the misplaced ones can
crowd one category (on utd-mhad, *wave*), which an encoder trained with every variant as a positive
then stops telling apart (benchmarks/README.md, "Variant selection and the held-frame control").
Selection generates
``select_from`` times more candidates than needed and keeps, per clip, the ones a *judge* (an encoder
trained without generative augmentation on the same seen categories) places closest to their own
category relative to the nearest other one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def judge_dir(judge, seed: int) -> Path:
    """The judge encoder for ``seed``: ``JUDGE/seed-S`` (an ``evaluate --out`` run's ``encoders/``) or JUDGE."""
    root = Path(judge)
    for d in (root / f"seed-{int(seed)}", root):
        if (d / "config.json").is_file():
            return d
    raise FileNotFoundError(f"judge encoder for seed {seed}: neither {root / f'seed-{int(seed)}'} nor {root} "
                            "holds an encoder checkpoint (config.json)")


def faithfulness_margin(emb: np.ndarray, labels: np.ndarray, class_means: np.ndarray,
                        classes: np.ndarray) -> np.ndarray:
    """Distance to the own category's mean minus the distance to the nearest other category's mean.

    Negative: the window is nearest to its own category. ``classes`` are the categories of the rows of
    ``class_means``; every label must be one of them.
    """
    d = np.linalg.norm(emb[:, None, :] - class_means[None], axis=-1)  # (N, C)
    if not np.isin(labels, classes).all():
        raise ValueError("a variant's category has no class mean")
    own = np.searchsorted(classes, labels)
    d_own = d[np.arange(len(d)), own]
    d[np.arange(len(d)), own] = np.inf
    return d_own - d.min(axis=1)


def select_faithful(candidates: np.ndarray, labels: np.ndarray, keep: int, embed, real_windows: np.ndarray,
                    real_labels: np.ndarray) -> tuple[np.ndarray, float]:
    """Per clip, the ``keep`` candidates with the lowest faithfulness margin, in candidate order.

    Args:
        candidates: (N, R, H, J, 3) generated variants of N clips, R >= keep each.
        labels: (N,) the clips' categories.
        keep: variants to keep per clip.
        embed: ``fn(windows (M, H, J, 3)) -> (M, D)``, the judge's embedding.
        real_windows, real_labels: the real training windows that define the category means.

    Returns:
        (N, keep, H, J, 3) selected variants, and the fraction of them nearest to their own category.
    """
    n, r = candidates.shape[:2]
    if not 1 <= keep <= r:
        raise ValueError(f"cannot keep {keep} of {r} candidates per clip")
    classes = np.unique(real_labels)
    real = embed(real_windows)
    means = np.stack([real[real_labels == c].mean(axis=0) for c in classes])
    emb = embed(candidates.reshape(n * r, *candidates.shape[2:]))
    margin = faithfulness_margin(emb, np.repeat(labels, r), means, classes).reshape(n, r)
    # A stable sort keeps candidate order among ties, so the choice does not depend on the sort algorithm.
    best = np.sort(np.argsort(margin, axis=1, kind="stable")[:, :keep], axis=1)
    chosen = np.take_along_axis(margin, best, axis=1)
    return candidates[np.arange(n)[:, None], best], float((chosen < 0).mean())
