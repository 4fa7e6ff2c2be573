"""Per-joint explanations of a few-shot detector's scores: which joints make a clip anomalous.

Two methods, both returning an ``(N, J)`` array with one non-negative weight per joint:

* :func:`occlusion_drops` (default, any embedder): for each joint, the window gets that joint's motion
  relative to its parent from the nearest recorded support window (nearest in embedding space) and is
  scored again; the joint's weight is how much that lowers the score. Costs J + 1 embeddings per clip.
* :func:`embedding_split`: the squared distance to the support embeddings split over embedding
  dimensions, each owned by one joint (encoder pooling ``joint``, the DCT embeddings, and a hybrid
  embedding of those, part by part). Exact for the DCT embedding; the learned encoder's dense graph mixes every joint into every node, so there its
  dimensions barely point at the joints that differ (benchmarks/README.md, "Per-joint explanations").
"""

from __future__ import annotations

import numpy as np
import torch

from haad.distances import exact_distances, split_parts


def occlusion_drops(detector, windows: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """(N, J) score drops (clipped at 0) when each joint moves as in the nearest support window."""
    if detector.support_windows_ is None:
        raise ValueError("occlusion explanations need the support windows: fit(support) keeps them, "
                         "fit_embeddings cannot, and detectors saved before they were kept lack them; "
                         "refit with fit(support), or use method='embedding'")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    out = np.zeros((len(windows), detector.window_layout.num_joints))
    sup_emb = detector.support_embeddings_[: detector.n_real_support_]
    for lo in range(0, len(windows), batch_size):
        w = windows[lo:lo + batch_size]
        emb = detector.embedder(w)
        base = detector.score_embeddings(emb)
        nearest = exact_distances(torch.from_numpy(emb), torch.from_numpy(sup_emb)).argmin(dim=1).numpy()
        ref = detector.support_windows_[nearest]
        for jj, parent in enumerate(detector.window_layout.parents):
            x = w.copy()
            # Relative to its parent, the joint stays attached to this clip's body: that names planted
            # joints more often than transplanting the absolute trajectory does. The root takes the
            # support's root trajectory.
            x[:, :, jj] = ref[:, :, jj] if parent < 0 else w[:, :, parent] + ref[:, :, jj] - ref[:, :, parent]
            out[lo:lo + len(w), jj] = base - detector.score_embeddings(detector.embedder(x))
    return np.clip(out, 0.0, None)


def embedding_split(detector, windows: np.ndarray) -> np.ndarray:
    """(N, J) shares of the squared distance to the support set owned by each joint's dimensions (averaged over
    the support embeddings, or to the nearest one when the detector scores by it)."""
    j = detector.window_layout.num_joints
    index = detector.embedder.joint_index(j) if hasattr(detector.embedder, "joint_index") else None
    if index is None:
        raise ValueError("explain(method='embedding') needs an embedding with per-joint dimensions "
                         "(encoder pooling 'joint' or dct-distance); this one pools over joints")
    emb = detector.embedder(windows)
    diff = emb[:, None, :] - detector.support_embeddings_[None]                    # (N, A, D)
    rule = getattr(detector, "distance", "mean")
    if rule == "mean":
        sq = (diff ** 2).mean(axis=1)
    else:  # the score is the nearest support embedding's distance (part by part under Eq. 6p)
        blocks = split_parts(diff, detector.part_dims_) if rule == "part-nearest" else [diff]
        sq = np.concatenate([b[np.arange(len(emb)), (b ** 2).sum(axis=2).argmin(axis=1)] ** 2 for b in blocks], axis=1)
    per_joint = np.zeros((len(emb), j))
    np.add.at(per_joint.T, index, sq.T)
    return per_joint / np.maximum(per_joint.sum(axis=1, keepdims=True), 1e-12)


def normalize_shares(drops: np.ndarray) -> np.ndarray:
    """Rows of ``drops`` as shares summing to 1; a row with no positive drop gets equal shares."""
    total = drops.sum(axis=1, keepdims=True)
    return np.where(total > 0, drops / np.where(total > 0, total, 1.0), 1.0 / drops.shape[1])
