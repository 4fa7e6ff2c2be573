"""The pretrained encoder's hybrid embedding: what it learned beside two embeddings that learn nothing.

A contrastively trained encoder tells categories apart and carries poorly to a sensor and an action set
it never saw; the DCT of bone directions and of joint positions learn nothing, carry everywhere and keep
the deviations within one action that category training discards (benchmarks/README.md, "Pretrained
encoder" and "Real anomalies"). The hybrid embedding puts the three side by side (docs/METHOD.md,
Eq. H1)::

    e(x) = [ w_E f(x) / s_E ,  w_B b(x) / s_B ,  w_P p(x) / s_P ]

f: the encoder; b: :class:`~haad.embedders.BoneDCTEmbedder`; p: :class:`~haad.embedders.DCTEmbedder` of
positions; s_*: each part's typical distance within one dataset, the mean Euclidean distance between
random pairs of one pretraining dataset's windows' embeddings, averaged over the datasets, so that the
weights w_* say how much each part counts whatever its units. (Within one dataset, because that is
where a detector compares clips: pairs drawn across datasets measure how datasets differ, which the
encoder learns far more of than the no-learning parts do.) The scales are measured once, when the
encoder is pretrained, and recorded in its checkpoint (``meta["hybrid"]``), so the embedding of a
clip never depends on other clips.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from haad.distances import check_distance
from haad.geometry import check_turns
from haad.support_copies import check_warps

PARTS = ("learned", "bones", "positions")


@dataclass(frozen=True)
class HybridConfig:
    """Attributes:
        learned_weight, bone_weight, position_weight: w_E, w_B, w_P of Eq. H1 (chosen on the three dev
            datasets: the mean of in-dataset and leave-one-dataset-out AUC, benchmarks/README.md).
        bone_coef: DCT coefficients per bone direction (ui-prmd's subject folds chose 4).
        position_coef: DCT coefficients per joint position (the no-learning floor's 10).
        pairs: random pairs of pretraining windows that measure each part's typical distance.
        seed: the pairs' seed.
        distance: the support distance a detector on this encoder uses unless told otherwise:
            ``part-nearest`` (Eq. 6p: each part's distance to its nearest support clip, summed; chosen on the
            three dev datasets with these weights, above ``nearest``, Eq. 6n, and ``mean``, Eq. 6,
            in-dataset and on datasets never seen: benchmarks/README.md, "Support distance, turns and warps").
        turns: the angles (degrees, about the vertical axis) by which a detector on this encoder turns
            each support window into extra support unless told otherwise: every 15 degrees from -90 to
            90 (chosen on the dev datasets with ``part-nearest`` and ``warps``: benchmarks/README.md,
            "Support distance, turns and warps").
        warps: the time-warp exponents (:func:`haad.support_copies.warped`) by which a detector on this
            encoder warps each support window into extra support unless told otherwise (chosen with the
            turns).
    """

    learned_weight: float = 1.0
    bone_weight: float = 1.0
    position_weight: float = 0.25
    bone_coef: int = 4
    position_coef: int = 10
    pairs: int = 4000
    seed: int = 0
    distance: str = "part-nearest"
    turns: tuple = (-90.0, -75.0, -60.0, -45.0, -30.0, -15.0, 15.0, 30.0, 45.0, 60.0, 75.0, 90.0)
    warps: tuple = (0.7, 0.8, 1.25, 1.4)

    def __post_init__(self) -> None:
        check_distance(self.distance)
        object.__setattr__(self, "turns", check_turns(self.turns))
        object.__setattr__(self, "warps", check_warps(self.warps))
        weights = (self.learned_weight, self.bone_weight, self.position_weight)
        if min(weights) < 0 or max(weights) == 0:
            raise ValueError(f"hybrid weights must be >= 0 and not all 0, got {weights}")
        if self.bone_coef < 1 or self.position_coef < 1 or self.pairs < 1:
            raise ValueError("bone_coef, position_coef and pairs must be >= 1")


def typical_distance(emb: np.ndarray, pairs: int, seed: int) -> float:
    """Mean Euclidean distance between ``pairs`` random pairs of distinct rows of ``emb``."""
    emb = np.asarray(emb, dtype=np.float64)
    if len(emb) < 2:
        raise ValueError(f"a typical distance needs at least two embeddings, got {len(emb)}")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(emb), pairs)
    j = (i + rng.integers(1, len(emb), pairs)) % len(emb)  # never i itself
    d = float(np.linalg.norm(emb[i] - emb[j], axis=1).mean())
    if not d > 0:
        raise ValueError("every embedding is the same: no typical distance")
    return d


def part_embedders(learned, parents, config_or_record) -> dict:
    """The three parts' embedders (``learned``: the encoder's embedder; ``parents``: the canonical skeleton's)."""
    from haad.embedders import BoneDCTEmbedder, DCTEmbedder

    c = config_or_record
    get = c.get if isinstance(c, dict) else (lambda k: getattr(c, k))
    return {"learned": learned, "bones": BoneDCTEmbedder(parents, int(get("bone_coef"))),
            "positions": DCTEmbedder(int(get("position_coef")))}


def hybrid_record(config: HybridConfig, learned, windows: np.ndarray, parents, groups=None) -> dict:
    """Measure every part's typical distance on ``windows`` (the pretraining windows; ``groups``: each
    window's dataset, ``None`` for one) and return what a checkpoint records: the config and the scales
    s_E, s_B, s_P."""
    groups = np.zeros(len(windows), np.int64) if groups is None else np.asarray(groups)
    if len(groups) != len(windows):
        raise ValueError(f"{len(groups)} group labels for {len(windows)} windows")
    embedders = part_embedders(learned, parents, config)
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    members = [m for m in members if len(m) >= 2]
    if not members:
        raise ValueError("hybrid scales need a dataset with at least two windows")
    scales = {}
    for name in PARTS:
        emb = embedders[name](windows)
        scales[name] = float(np.mean([typical_distance(emb[m], config.pairs, config.seed) for m in members]))
    # turns and warps as JSON keeps them, so that the record equals the saved one
    return {**asdict(config), "turns": list(config.turns), "warps": list(config.warps), "scales": scales,
            "windows": int(len(windows)), "datasets": len(members)}


def hybrid_embedder(learned, record: dict, parents):
    """The :class:`~haad.embedders.HybridEmbedder` a checkpoint's record describes."""
    from haad.embedders import HybridEmbedder

    try:
        embedders = part_embedders(learned, parents, record)
        check_distance(record.get("distance", "mean"))  # records from before the choice have none
        check_turns(record.get("turns", ()))
        check_warps(record.get("warps", ()))
        weights = {"learned": record["learned_weight"], "bones": record["bone_weight"],
                   "positions": record["position_weight"]}
        scales = {n: float(record["scales"][n]) for n in PARTS}
        weights = {n: float(weights[n]) for n in PARTS}
        bad = [n for n in PARTS if not (np.isfinite(scales[n]) and scales[n] > 0 and np.isfinite(weights[n])
                                        and weights[n] >= 0)]
        if bad:
            raise ValueError(f"part(s) {', '.join(bad)} need a finite scale > 0 and a finite weight >= 0")
        factors = [weights[n] / scales[n] for n in PARTS]
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"malformed hybrid record ({type(e).__name__}: {e}); expected the fields of "
                         "HybridConfig and 'scales' for learned, bones and positions") from None
    return HybridEmbedder([embedders[n] for n in PARTS], factors, record, parents)
