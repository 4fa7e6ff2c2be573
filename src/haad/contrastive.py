"""Multi-positive contrastive loss (Eq. 5) and the category-balanced batch sampler (Algorithm 1)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def multi_positive_loss(z: torch.Tensor, groups: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Supervised multi-positive contrastive loss, averaged over all positive pairs.

    For anchor i and positive j (same group, j != i):
    ``-log( exp(s_ij) / sum_{k != i} exp(s_ik) )`` with ``s = cos(z_i, z_k) / temperature``.
    The mean is over every (anchor, positive) pair, as in the reference code.

    Args:
        z: (B, D) embeddings (not normalised; the cosine does it).
        groups: (B,) ids; members of one group are each other's positives.
        temperature: tau (docs/METHOD.md: 1).
    """
    if z.ndim != 2 or groups.shape != (z.shape[0],):
        raise ValueError(f"expected z (B, D) and groups (B,), got {tuple(z.shape)} and {tuple(groups.shape)}")
    zn = F.normalize(z, dim=1, eps=1e-8)
    sim = zn @ zn.T / temperature
    eye = torch.eye(z.shape[0], dtype=torch.bool, device=z.device)
    # Denominator over k != i: mask the diagonal out of the log-sum-exp.
    log_denom = torch.logsumexp(sim.masked_fill(eye, float("-inf")), dim=1, keepdim=True)
    log_p = sim - log_denom
    pos = (groups[:, None] == groups[None, :]) & ~eye
    n_pos = pos.sum()
    if n_pos == 0:
        raise ValueError("batch has no positive pairs: every group needs at least two members")
    return -(log_p * pos).sum() / n_pos


class BalancedBatchSampler:
    """Draws, for every category, ``per_class`` distinct clips (Algorithm 1's batch).

    Args:
        labels: (N,) category of each training clip.
        per_class: clips per category per batch (docs/METHOD.md: 2).
        groups: optional ``{category: group}`` (e.g. the dataset a pretraining category comes from);
            with ``per_group``, each batch holds ``per_group`` categories of every group (all of a group
            that has fewer), drawn anew each batch, instead of every category: each group then brings
            about the same number of clips whatever its number of categories.
        per_group: categories per group per batch (``None``: every category, as Algorithm 1).
    """

    def __init__(self, labels: np.ndarray, per_class: int = 2, groups: dict | None = None,
                 per_group: int | None = None):
        self.labels = np.asarray(labels)
        self.classes = np.unique(self.labels)
        self.pools = [np.flatnonzero(self.labels == c) for c in self.classes]
        small = [int(c) for c, p in zip(self.classes, self.pools) if len(p) < per_class]
        if small:
            raise ValueError(f"categories {small} have fewer than {per_class} training clips")
        self.per_class = per_class
        self.per_group = per_group
        self.members = None
        if per_group is not None:
            if groups is None or per_group < 1:
                raise ValueError("per_group needs groups and must be >= 1")
            missing = [int(c) for c in self.classes if int(c) not in groups]
            if missing:
                raise ValueError(f"categories {missing} have no group")
            names = sorted({groups[int(c)] for c in self.classes})
            # Positions in self.pools of each group's categories.
            self.members = [np.flatnonzero([groups[int(c)] == g for c in self.classes]) for g in names]

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """Indices, contiguous per category: every category (Algorithm 1) or ``per_group`` per group."""
        if self.members is None:
            chosen = range(len(self.pools))
        else:
            chosen = np.concatenate([np.sort(rng.choice(m, size=min(self.per_group, len(m)), replace=False))
                                     for m in self.members])
        return np.concatenate([rng.choice(self.pools[i], size=self.per_class, replace=False) for i in chosen])
