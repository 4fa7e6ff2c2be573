"""Generative augmentation inside the protocol: training-time extra positives and support variants.

For a seed s, the generator makes variants of every training-pool window once (seeded by s) through
the :class:`~haad.generator.bank.AugmentationBank`; training-time augmentation gives each seen
training clip its first ``n_gen_train`` variants as extra positives, inference-time augmentation adds
the first ``n_gen_support`` variants of each support clip to the support set.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from haad.data.collection import Collection
from haad.data.splits import Split

MODES = ("none", "train", "support", "both")
PROVENANCE = "provenance.json"


@dataclass(frozen=True)
class AugmentConfig:
    """Attributes:
        mode: ``none``, ``train`` (extra positives), ``support`` (support-set variants) or ``both``.
        generator: generator checkpoint directory (required unless ``mode == "none"``).
        n_gen_train: variants per training clip.
        n_gen_support: variants per support clip.
        n_obs: observed frames O (the rest, 60 - O, is generated).
        steps: DDIM steps.
        bank: augmentation-bank directory (default: ``GENERATOR/bank``).
    """

    mode: str = "none"
    generator: str | None = None
    n_gen_train: int = 1
    n_gen_support: int = 1
    n_obs: int = 30
    steps: int = 100
    bank: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"augment mode must be one of {MODES}, got {self.mode!r}")
        if self.mode != "none" and not self.generator:
            raise ValueError(f"augment mode {self.mode!r} needs a generator checkpoint (--generator)")
        for name in ("n_gen_train", "n_gen_support", "n_obs", "steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def train(self) -> bool:
        return self.mode in ("train", "both")

    @property
    def support(self) -> bool:
        return self.mode in ("support", "both")

    def to_dict(self) -> dict:
        return asdict(self)

    def train_settings(self) -> dict:
        """What shapes a training-time-augmented encoder (so ``train`` and ``both`` runs can share it)."""
        from haad.generator.bank import file_digest

        # The generator is identified by its weights, so a retrained generator at the same path
        # is not mistaken for the old one (and a moved one is still recognised).
        return {"generator_digest": file_digest(Path(self.generator) / "weights.safetensors"),
                "n_gen_train": self.n_gen_train, "n_obs": self.n_obs, "steps": self.steps}


def write_provenance(generator_dir, data: Collection, split: Split, trained_idx: np.ndarray) -> None:
    """Record what a generator was trained on, so evaluation can refuse a leaking generator."""
    from haad.checkpoint import atomic_write_json

    cats = sorted({int(c) for c in data.labels[trained_idx]})
    atomic_write_json(Path(generator_dir) / PROVENANCE, {
        "dataset": data.source, "num_classes": data.num_classes, "trained_categories": cats,
        "trained_category_names": [data.class_names[c] for c in cats], "num_windows": int(len(trained_idx)),
        "split": split.to_dict()})


def check_no_leak(generator_dir, data: Collection, split: Split) -> None:
    """Raise if the generator's recorded training data includes one of ``split``'s unseen categories."""
    path = Path(generator_dir) / PROVENANCE
    if not path.is_file():
        raise ValueError(f"{generator_dir}: no {PROVENANCE}; train it with `haad train-generator` so the "
                         "evaluation can verify that unseen categories did not leak into it")
    prov = json.loads(path.read_text())
    trained = prov.get("trained_category_names", [])
    if prov.get("num_classes") != data.num_classes or not set(trained) <= set(data.class_names):
        raise ValueError(f"{generator_dir}: trained on {prov.get('dataset')!r} (categories {trained}), "
                         f"which does not match {data.source!r}")
    leaked = sorted(set(trained) & {data.class_names[c] for c in split.unseen})
    if leaked:
        raise ValueError(f"{generator_dir}: trained on unseen categories {leaked}; they must not leak")


def make_augmenters(cfg: AugmentConfig, data: Collection, split: Split, windows: np.ndarray,
                    progress: bool = False):
    """(extra_views, support_augment) callables for :func:`haad.evaluation.protocol.evaluate`."""
    if cfg.mode == "none":
        return None, None
    from haad.generator.bank import AugmentationBank, GenerationSettings

    check_no_leak(cfg.generator, data, split)
    bank = AugmentationBank(cfg.bank or Path(cfg.generator) / "bank", cfg.generator, progress=progress)
    pool = np.sort(np.concatenate(split.train_pools))
    row = np.full(len(data), -1)
    row[pool] = np.arange(len(pool))
    n = max(cfg.n_gen_train if cfg.train else 0, cfg.n_gen_support if cfg.support else 0)
    settings = GenerationSettings(n_variants=n, n_obs=cfg.n_obs, steps=cfg.steps)
    cache: dict = {}

    def variants(seed: int) -> np.ndarray:
        if seed not in cache:
            cache.clear()
            cache[seed] = bank.variants(windows[pool], settings, seed)
        return cache[seed]

    extra_views = support_augment = None
    if cfg.train:
        def extra_views(seed, train_idx, _windows):
            return variants(int(seed))[row[train_idx], : cfg.n_gen_train]
    if cfg.support:
        def support_augment(category, support_idx, seed, embed):
            v = variants(int(seed))[row[support_idx], : cfg.n_gen_support]
            return embed(v.reshape(-1, *v.shape[2:]))
    return extra_views, support_augment
