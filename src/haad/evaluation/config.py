"""The settings of one protocol run of the few-shot detector (or its no-learning floor)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from haad.data.windows import WindowConfig
from haad.support_copies import check_support_fields, support_options
from haad.encoder import EncoderConfig
from haad.evaluation.augmentation import AugmentConfig
from haad.train import TrainConfig

METHODS = ("fewshot", "dct-distance", "bone-distance")


@dataclass(frozen=True)
class EvalConfig:
    """Everything that defines one protocol run; recorded in every result.

    Attributes:
        method: ``"fewshot"`` (learned encoder), ``"dct-distance"`` (the no-learning floor) or
            ``"bone-distance"`` (no learning: bone directions on the canonical, normalised skeleton).
        seeds: the seeds to run.
        k_shot: support clips per category.
        train_fraction: per-category training-pool fraction.
        window: windowing and normalisation; ``None``: the window the encoder records (a pretrained
            encoder's, part of its input space), else the protocol's (:class:`WindowConfig`'s defaults).
        pooling: encoder pooling (``"joint"`` default, ``"node"`` option).
        train: contrastive training settings (its ``seed`` is replaced by each run's seed).
        augment: generative augmentation (training-time positives and/or support variants).
        distance: the support distance, ``mean`` (Eq. 6) or ``nearest`` (Eq. 6n); ``None``: the one the
            encoder records (:attr:`haad.encoders.EncoderChoice.distance`: ``nearest`` for the built-in
            encoder), else ``mean``. Recorded in the options only when given; results say which was used.
        turns: angles (degrees) by which every support window, turned about the vertical axis, joins the
            support set (needs the canonical, normalised space: a pretrained encoder or ``bone-distance``);
            ``None``: the ones the encoder records (:attr:`haad.encoders.EncoderChoice.turns`), else none.
            Recorded like ``distance``.
        warps: time-warp exponents by which every support window, warped, joins the support set
            (:func:`haad.support_copies.warped`); ``None``: the ones the encoder records
            (:attr:`haad.encoders.EncoderChoice.warps`), else none. Recorded like ``distance``.
    """

    method: str = "fewshot"
    seeds: tuple = tuple(range(10))
    k_shot: int = 3
    train_fraction: float = 0.8
    window: WindowConfig | None = None
    pooling: str = "joint"
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    distance: str | None = None
    turns: tuple | None = None
    warps: tuple | None = None

    def __post_init__(self) -> None:
        check_support_fields(self)
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose from {METHODS}")
        if self.k_shot < 1:
            raise ValueError(f"k_shot must be >= 1, got {self.k_shot}")
        if len(self.seeds) == 0:
            raise ValueError("need at least one seed")

    def encoder_config(self, num_joints: int) -> EncoderConfig:
        """The encoder this run trains for a skeleton of ``num_joints`` joints."""
        return EncoderConfig(num_joints=num_joints, window=self.resolved().window.length, pooling=self.pooling)

    def resolved(self, recorded: WindowConfig | None = None) -> "EvalConfig":
        """These settings with the window decided: the one given, else ``recorded`` (the encoder's),
        else the protocol's."""
        if self.window is not None:
            return self
        return replace(self, window=recorded if recorded is not None else WindowConfig())

    def seed_train(self, seed: int) -> TrainConfig:
        """The training settings of one seed."""
        return replace(self.train, seed=int(seed))

    def options(self) -> dict:
        """The settings recorded with (and identifying) the run's results."""
        d = asdict(self)
        d["seeds"] = list(self.seeds)
        d["augment"] = self.augment.to_dict()
        support_options(d)
        if self.method != "fewshot":
            d.pop("train")
            d.pop("pooling")
        return d


@dataclass(frozen=True)
class BaselineEvalConfig:
    """The settings of one protocol run of a one-model-per-category baseline.

    Attributes:
        method: a name in :data:`haad.baselines.BASELINES`.
        seeds: the seeds to run (each trains one model per category).
        config: overrides of the baseline's own config dataclass (``None``: its defaults).
        window: windowing and normalisation.
        train_fraction: per-category training-pool fraction.
    """

    method: str
    seeds: tuple = (0, 1, 2)
    config: dict | None = None
    window: WindowConfig = field(default_factory=WindowConfig)
    train_fraction: float = 0.8

    def __post_init__(self) -> None:
        from haad.baselines import BASELINES

        if self.method not in BASELINES:
            raise ValueError(f"unknown baseline {self.method!r}; choose from {sorted(BASELINES)}")
        if len(self.seeds) == 0:
            raise ValueError("need at least one seed")

    def options(self) -> dict:
        """The settings recorded with (and identifying) the run's results."""
        return {"window": self.window.to_dict(), "train_fraction": self.train_fraction,
                "config": dict(self.config or {}), "training": "one model per category, whole training pool"}
