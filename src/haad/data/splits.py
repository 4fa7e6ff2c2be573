"""The protocol's split (docs/PROTOCOL.md, "Split"): per-category 80/20 by order key, seen/unseen categories."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from haad.data.collection import Collection


@dataclass(frozen=True)
class Split:
    """Indices into a :class:`Collection`.

    Attributes:
        train_pools: per category, the indices of its training pool (support sets are drawn here).
        test: indices of the pooled test set, the same for every normal category.
        seen: category ids used to train encoders and generators.
        unseen: category ids that never enter any training.
        train_fraction: fraction of each category that forms its training pool.
    """

    train_pools: tuple
    test: np.ndarray
    seen: tuple
    unseen: tuple
    train_fraction: float

    def seen_train(self) -> np.ndarray:
        """Training-pool indices of the seen categories: everything a learner may train on."""
        if not self.seen:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([self.train_pools[c] for c in self.seen]).astype(np.int64)

    def to_dict(self) -> dict:
        return {
            "train_fraction": self.train_fraction,
            "seen": list(self.seen),
            "unseen": list(self.unseen),
            "train_pool_sizes": [int(len(p)) for p in self.train_pools],
            "test_size": int(len(self.test)),
        }


def num_unseen(num_classes: int) -> int:
    """ceil(C / 4): the last that many category ids are unseen."""
    return math.ceil(num_classes / 4)


def protocol_split(data: Collection, train_fraction: float = 0.8) -> Split:
    """Split ``data`` as docs/PROTOCOL.md says.

    For each category, its clips are sorted by ``order_keys`` (stable, lexicographic); the first
    ``int(train_fraction * n_c)`` form the training pool. Clips that share a group id with any
    training clip join the training pool too, so a group never straddles the split.
    """
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    c = data.num_classes
    pools, tests = [], []
    for k in range(c):
        idx = np.flatnonzero(data.labels == k)
        if len(idx) == 0:
            raise ValueError(f"{data.source}: category {k} ({data.class_names[k]}) has no clips")
        keys = data.order_keys[idx]
        order = np.lexsort(keys.T[::-1]) if keys.shape[1] else np.arange(len(idx))
        idx = idx[order]
        b = int(train_fraction * len(idx))
        train_groups = set(data.groups[idx[:b]].tolist())
        in_train = np.array([g in train_groups for g in data.groups[idx]], dtype=bool)
        pools.append(idx[in_train])
        tests.append(idx[~in_train])
    u = num_unseen(c)
    return Split(
        train_pools=tuple(pools),
        test=np.sort(np.concatenate(tests)).astype(np.int64),
        seen=tuple(range(c - u)),
        unseen=tuple(range(c - u, c)),
        train_fraction=train_fraction,
    )


def draw_support(split: Split, category: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """K support indices drawn without replacement from ``category``'s training pool."""
    pool = split.train_pools[category]
    if k > len(pool):
        raise ValueError(f"support size {k} exceeds the {len(pool)} clips of category {category}'s training pool")
    return rng.choice(pool, size=k, replace=False)


def support_draws(split: Split, seed: int, k: int) -> list:
    """The protocol's support sets at ``seed``: for category c, K clips drawn with ``default_rng([seed, c])``."""
    return [draw_support(split, c, k, np.random.default_rng([seed, c])) for c in range(len(split.train_pools))]
