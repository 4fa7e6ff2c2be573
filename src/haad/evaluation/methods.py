"""How each family of detectors is fitted under the protocol, for the one loop in :mod:`.protocol`.

A :class:`ProtocolMethod` answers three questions for the loop: what happens once per seed
(:meth:`~ProtocolMethod.start_seed`: the few-shot method trains or loads its encoder and embeds every
window once), which fitted detector is the model of category c (:meth:`~ProtocolMethod.fit`), and how
that detector scores the pooled test set (:meth:`~ProtocolMethod.test_scores`). Every detector it
returns follows :class:`~haad.base_detector.BaseDetector`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from haad.base_detector import BaseDetector
from haad.data.collection import Collection
from haad.data.splits import Split, support_draws
from haad.detector import FewShotDetector, support_origins
from haad.support_copies import copy_embeddings
from haad.embedders import BoneDCTEmbedder, DCTEmbedder, EncoderEmbedder
from haad.encoder import ActionEncoder
from haad.evaluation.config import BaselineEvalConfig, EvalConfig


def train_seen_encoder(data: Collection, split: Split, train_windows: np.ndarray, config: EvalConfig, seed: int,
                       out_dir=None, progress: bool = True, views: np.ndarray | None = None):
    """Train one encoder on the seen categories' training pools (``train_windows``: the windows of
    ``split.seen_train()``, in that order), recording what went in; returns (encoder, history).

    ``out_dir`` holds the checkpoint (resumed if unfinished, reused if finished); ``views`` are
    extra training views (generated variants), shape (N, G, H, J, 3).
    """
    from haad.train import train_encoder

    train_idx = split.seen_train()
    return train_encoder(
        train_windows, data.labels[train_idx], config.encoder_config(data.layout.num_joints),
        config.seed_train(seed), extra_views=views, out_dir=out_dir, resume=out_dir is not None, progress=progress,
        meta={"dataset": data.source, "window": config.window.to_dict(), "split": split.to_dict(),
              "layout": data.layout.to_dict(),
              "augment": config.augment.train_settings(seed) if views is not None else None})


class ProtocolMethod(ABC):
    """One family of detectors under the protocol (see the module docstring)."""

    name: str = ""
    threshold_rule: str = ""

    def __init__(self, data: Collection, split: Split, windows: np.ndarray):
        self.data, self.split, self.windows = data, split, windows

    def start_seed(self, seed: int) -> None:
        """Work shared by every category of one seed."""

    @abstractmethod
    def fit(self, seed: int, category: int) -> BaseDetector:
        """The fitted detector whose normal category is ``category``."""

    def test_scores(self, detector: BaseDetector) -> np.ndarray:
        """The detector's scores of the pooled test set."""
        return detector.decision_function(self.windows[self.split.test])

    def timing(self) -> dict:
        """Training-time fields of the results."""
        return {"train_seconds": 0.0}

    def snapshot(self) -> dict:
        """Arrays worth keeping of the current seed for reports (none by default)."""
        return {}


class FewShotMethod(ProtocolMethod):
    """The few-shot detector (or its no-learning floor): one encoder per seed, K support clips per category.

    Args:
        data, split, windows: the collection, its protocol split and every clip's window.
        config: the run's settings.
        encoder: a fixed encoder used for every seed instead of training one per seed: a loaded
            :class:`~haad.encoder.ActionEncoder` (embedded with the module's own forward) or an
            embedder callable used as it is (what :func:`~haad.evaluation.protocol.evaluate` passes:
            the resolved encoder's embedder, e.g. a hybrid or an ONNX file's). Its
            embeddings do not depend on the seed, so every window is embedded once for all seeds.
        out_dir: each trained seed's encoder checkpoint goes to ``out_dir/encoders/seed-S`` (a finished
            one is reused, an unfinished one resumed).
        augmentation: a :class:`~haad.evaluation.augmentation.ProtocolAugmentation`, or None.
        progress: progress bars on stderr.
        distance: the detector's support distance (``mean``, Eq. 6; ``nearest``, Eq. 6n).
        turns: angles (degrees) by which every support window, turned about the vertical axis, joins the
            support set (y-up windows: the canonical, normalised space).
        warps: time-warp exponents by which every support window, warped, joins the support set.
    """

    def __init__(self, data: Collection, split: Split, windows: np.ndarray, config: EvalConfig,
                 encoder=None, out_dir=None, augmentation=None, progress: bool = True, distance: str = "mean",
                 turns=(), warps=()):
        super().__init__(data, split, windows)
        self.name = config.method
        self.distance, self.turns, self.warps = distance, tuple(turns), tuple(warps)
        self.threshold_rule = f"max leave-one-out {distance} distance within the support set (predict's default)"
        self.config, self.encoder, self.out_dir = config, encoder, out_dir
        self.augmentation, self.progress = augmentation, progress
        self.train_seconds: list = []
        self.embeddings = None

    def start_seed(self, seed: int) -> None:
        # A trained-per-seed encoder embeds every window again each seed; a fixed one (or the DCT) once.
        if self.embeddings is None or (self.config.method == "fewshot" and self.encoder is None):
            self.embedder = self._seed_embedder(seed)
            self.embeddings = self.embedder(self.windows)
            self.test_embeddings = self.embeddings[self.split.test]
            # (copies, N, D): every window turned by each angle and warped by each exponent, embedded once
            # like the windows themselves
            self.copies = copy_embeddings(self.embedder, self.windows, self.turns, self.warps)
        self.draws = support_draws(self.split, seed, self.config.k_shot)

    def _seed_embedder(self, seed: int):
        """Seed ``seed``'s embedder: the DCT, the fixed encoder, or an encoder trained (or loaded) for it."""
        cfg = self.config
        if cfg.method == "dct-distance":
            return DCTEmbedder(10)
        if cfg.method == "bone-distance":
            return BoneDCTEmbedder(self.data.layout.parents)  # evaluate() put the data on the canonical skeleton
        if self.encoder is not None and not isinstance(self.encoder, ActionEncoder):
            return self.encoder  # an embedder callable (an exported ONNX encoder), as it is
        encoder = self.encoder
        if encoder is None:
            train_idx = self.split.seen_train()
            seed_dir = Path(self.out_dir) / "encoders" / f"seed-{seed}" if self.out_dir is not None else None
            views = self.augmentation.training_views(seed, train_idx) if self.augmentation else None
            t0 = time.perf_counter()
            encoder, hist = train_seen_encoder(self.data, self.split, self.windows[train_idx], cfg, seed,
                                               seed_dir, self.progress, views)
            self.train_seconds.append(hist["seconds"] if hist["seconds"] else time.perf_counter() - t0)
        # The module's own forward, not the inference fast path: protocol results stay bit-for-bit
        # reproducible with the archived ones (the two differ by float32 rounding).
        return EncoderEmbedder(encoder, fast=False)

    def fit(self, seed: int, category: int) -> FewShotDetector:
        support = self.draws[category]
        emb = self.embeddings[support]
        if self.copies is not None:
            emb = np.concatenate([emb, self.copies[:, support].reshape(-1, emb.shape[1])])
        if self.augmentation is not None:
            extra = self.augmentation.support_variants(seed, self.draws, category)
            if extra is not None and len(extra):
                emb = np.concatenate([emb, self.embedder(extra)])
        # as FewShotDetector.fit lays the rows out: a copy leaves its own clip out of the threshold
        origins = support_origins(len(support), len(self.copies), len(emb)) if self.copies is not None else None
        det = FewShotDetector(self.embedder, self.data.layout, self.config.window, distance=self.distance)
        return det.fit_embeddings(emb, n_real=len(support), origins=origins)

    def test_scores(self, detector: FewShotDetector) -> np.ndarray:
        return detector.score_embeddings(self.test_embeddings)

    def snapshot(self) -> dict:
        """The test clips' embeddings and each category's support draw (indices into the collection)."""
        draws = np.full((len(self.draws), max(len(d) for d in self.draws)), -1, dtype=np.int64)
        for c, d in enumerate(self.draws):
            draws[c, :len(d)] = d
        return {"test_embeddings": self.test_embeddings.astype(np.float32), "support_draws": draws,
                "support_embeddings": self.embeddings[draws[draws >= 0]].astype(np.float32)}

    def timing(self) -> dict:
        return {"train_seconds": float(np.mean(self.train_seconds)) if self.train_seconds else 0.0}


class BaselineMethod(ProtocolMethod):
    """A one-model-per-category baseline: one model per category and seed, on the category's whole
    training pool."""

    threshold_rule = "max score of the category's training windows (predict's default)"

    def __init__(self, data: Collection, split: Split, windows: np.ndarray, config: BaselineEvalConfig,
                 progress: bool = False):
        super().__init__(data, split, windows)
        self.name, self.config, self.progress = config.method, config, progress
        self.fit_seconds: list = []

    def fit(self, seed: int, category: int) -> BaseDetector:
        from haad.baselines import make_baseline

        model = make_baseline(self.config.method, self.data.layout, config=self.config.config, seed=int(seed),
                              progress=self.progress)
        t0 = time.perf_counter()
        model.fit(self.windows[self.split.train_pools[category]])
        self.fit_seconds.append(time.perf_counter() - t0)
        return model

    def timing(self) -> dict:
        return {"train_seconds": float(np.sum(self.fit_seconds) / max(len(self.config.seeds), 1)),
                "train_seconds_per_category": float(np.mean(self.fit_seconds))}
