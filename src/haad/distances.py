"""Distances between embeddings: the few-shot score (Eq. 6; its nearest-neighbour form, Eq. 6n, whole or part by
part, Eq. 6p) and exact pairwise distances."""

from __future__ import annotations

import numpy as np
import torch


def exact_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise Euclidean distances in float64, computed directly: ``torch.cdist``'s matrix-product
    shortcut (used beyond 25 rows) gives a clip a non-zero distance to itself and breaks exact ties,
    which the leave-one-out scores and the p-values' rank comparisons must not depend on."""
    return torch.cdist(a.double(), b.double(), compute_mode="donot_use_mm_for_euclid_dist")


DISTANCES = ("mean", "nearest", "part-nearest")


def check_distance(rule: str) -> str:
    """``rule`` if it names a support distance (:data:`DISTANCES`), else a ValueError."""
    if rule not in DISTANCES:
        raise ValueError(f"distance must be one of {', '.join(DISTANCES)}, got {rule!r}")
    return rule


def split_parts(emb, part_dims) -> list:
    """The column blocks of ``emb`` (``(..., D)``) that ``part_dims`` (the parts' widths, summing to D; ``None``:
    one part) describe."""
    dims = [emb.shape[-1]] if part_dims is None else [int(d) for d in part_dims]
    if sum(dims) != emb.shape[-1] or min(dims) < 1:
        raise ValueError(f"embedding parts of widths {dims} do not make up {emb.shape[-1]} dimensions")
    edges = np.cumsum([0] + dims)
    return [emb[..., a:b] for a, b in zip(edges[:-1], edges[1:])]


def support_distance(queries: np.ndarray, support: np.ndarray, rule: str = "mean", part_dims=None) -> np.ndarray:
    """Every query row's score against the support rows: their mean Euclidean distance (``mean``, Eq. 6),
    the distance to the nearest one (``nearest``, Eq. 6n), or, for an embedding made of parts (the hybrid
    embedding's, widths ``part_dims``), the sum over the parts of each part's distance to its nearest
    support row (``part-nearest``, Eq. 6p; one part: Eq. 6n).

    Both sides are first moved by the support's mean: distances do not change, and ``torch.cdist``'s
    matrix-product form (|q|^2 + |s|^2 - 2 q.s, used beyond 25 rows) then subtracts numbers of the size
    of the distances instead of the embeddings' norms, which embeddings with a large common part (the
    mean pose in the DCT of positions) make far larger. The nearest distance can be small (a clip much
    like one support clip), where that form's rounding, about 1e-7 of |q|^2 + |s|^2 in the squared
    distance, would be a large part of it: where the squared distance is below 1% of |q|^2 + |s|^2 it
    is computed again directly, difference by difference (elsewhere the rounding stays below about
    1e-5 of the distance)."""
    check_distance(rule)
    if rule == "part-nearest":
        q_parts, s_parts = split_parts(np.asarray(queries), part_dims), split_parts(np.asarray(support), part_dims)
        return np.sum([support_distance(q, s, "nearest") for q, s in zip(q_parts, s_parts)], axis=0)
    s = torch.from_numpy(np.ascontiguousarray(support, dtype=np.float32))
    centre = s.mean(dim=0, keepdim=True)
    q = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32)) - centre
    s = s - centre
    d = torch.cdist(q, s)
    if rule == "mean":
        return d.mean(dim=1).numpy()
    nearest, idx = d.min(dim=1)
    size = (q * q).sum(dim=1) + (s * s).sum(dim=1)[idx]
    close = torch.nonzero(nearest * nearest < 1e-2 * size).flatten()
    if len(close):
        nearest[close] = torch.linalg.vector_norm(q[close] - s[idx[close]], dim=1)
    return nearest.numpy()


def mean_distance(queries: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Mean Euclidean distance of every query row to every support row (Eq. 6; :func:`support_distance`)."""
    return support_distance(queries, support, "mean")


def reduce_distances(d: torch.Tensor, rule: str, exclude_self: bool = False, groups=None) -> torch.Tensor:
    """Each row of a distance matrix reduced by ``rule`` (its mean, or its smallest entry; a part's matrix
    under ``part-nearest`` reduces as ``nearest``). With ``exclude_self`` the matrix is square and each row
    leaves out its diagonal entry (leave-one-out); with ``groups`` (one label per row of a square matrix)
    each row leaves out every column of its own group (leave-one-group-out: a support clip and the copies
    made of it). A row with nothing left scores 0."""
    check_distance(rule)
    rule = "nearest" if rule == "part-nearest" else rule
    if groups is not None:
        g = torch.as_tensor(np.asarray(groups))
        keep = g[:, None] != g[None, :]
        if rule == "mean":
            n = keep.sum(dim=1)
            out = (d * keep).sum(dim=1) / n.clamp(min=1)
        else:
            out = d.masked_fill(~keep, float("inf")).min(dim=1).values
        return torch.where(keep.any(dim=1), out, torch.zeros_like(out))
    n = d.shape[1] - int(exclude_self)
    if n < 1:
        raise ValueError("no distance left to reduce")
    if rule == "mean":
        total = d.sum(dim=1) - (d.diagonal() if exclude_self else 0)
        return total / n
    if exclude_self:
        d = d + torch.diag(torch.full((len(d),), float("inf"), dtype=d.dtype))
    return d.min(dim=1).values


def pool_scale(pool: np.ndarray, eps: float) -> np.ndarray:
    """Per-dimension weights that put embeddings in units of normal variation: ``1 / (s_d + eps * mean(s))``,
    where ``s_d`` is the standard deviation of dimension d over ``pool``, embeddings of normal clips of one
    category (docs/METHOD.md, "Wrong executions"). Multiplying embeddings by them before Eq. 6 makes a
    dimension that varies a lot between normal executions (between people, say) count less than one
    that normal executions keep steady. ``eps`` keeps a dimension that never varies from dominating."""
    pool = np.asarray(pool, dtype=np.float64)
    if pool.ndim != 2 or len(pool) < 2:
        raise ValueError(f"pool scaling needs at least two normal embeddings, got shape {pool.shape}")
    if eps <= 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    spread = pool.std(axis=0)
    floor = eps * spread.mean()
    if floor == 0:
        raise ValueError("pool scaling: the normal embeddings are all identical")
    return (1.0 / (spread + floor)).astype(np.float32)
