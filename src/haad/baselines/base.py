"""What the one-model-per-category baselines share, on top of :class:`~haad.base_detector.BaseDetector`.

A :class:`CategoryDetector` is trained on one normal category's whole training pool:

* ``fit(X)`` -- clips, or windows ``(N, T, J, 3)`` already normalised by the protocol (first 60
  frames, first-frame root offset). Sets ``decision_scores_`` (the training windows' scores) and
  ``threshold_`` (their ``threshold_quantile``, default the maximum). Returns ``self``.
* ``decision_function(X)`` -- ``(N,)`` scores, higher = more anomalous; ``predict(X)`` -- 0/1.
* ``save(directory)`` / ``load(directory)`` -- a :mod:`haad.checkpoint` directory holding the typed
  config, the layout, the seed, the window length, the threshold and every weight and
  normalisation statistic (all fitted state lives in one ``nn.Module``, ``model_``, as parameters
  and buffers; the training scores as the buffer-free tensor ``decision_scores``).

Determinism: training runs inside ``torch.random.fork_rng`` seeded with ``seed`` (the caller's global
RNG state is left untouched), mini-batch order comes from a generator seeded with ``seed``, and
any sampling at scoring time uses a generator seeded from ``seed`` too, so the same seed and data
give the same scores, also after save/load. Library code neither prints nor changes torch's thread
count; progress bars go to stderr only when ``progress=True``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from haad.base_detector import BaseDetector
from haad.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from haad.data.windows import WindowConfig
from haad.skeleton import Layout

KIND_PREFIX = "baseline/"
DECISION_SCORES = "decision_scores"  # tensor name of the training scores, beside the model's state


def resolve_config(cls: type, config: Any):
    """A ``cls`` dataclass from ``None`` (defaults), an instance, or a dict of overrides."""
    if config is None:
        return cls()
    if isinstance(config, cls):
        return dataclasses.replace(config)
    if isinstance(config, dict):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(config) - names)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s): {unknown}; known: {sorted(names)}")
        return cls(**config)
    raise TypeError(f"config must be None, a dict or a {cls.__name__}, got {type(config).__name__}")


def iterate_minibatches(n: int, batch_size: int, generator: torch.Generator):
    """Index batches of a fresh random permutation (the last, partial batch included)."""
    perm = torch.randperm(n, generator=generator)
    for i in range(0, n, batch_size):
        yield perm[i : i + batch_size]


def robust_std(x: torch.Tensor, dims, rel_floor: float = 0.05) -> torch.Tensor:
    """Standard deviation over ``dims`` with a soft floor of ``rel_floor`` x the mean deviation.

    A feature that never moves in the training pool (std 0) would otherwise turn any change at test
    time into an unbounded score.
    """
    std = x.std(dim=dims, unbiased=False)
    floor = rel_floor * std.mean().clamp_min(1e-8)
    return torch.sqrt(std.pow(2) + floor.pow(2))


class CategoryDetector(BaseDetector):
    """Base class: one model trained on one normal category. Subclasses set ``name`` and ``Config``
    and implement ``_build``, ``_fit`` and ``_score`` (and ``_extra_header`` when the shapes of the
    fitted state depend on more than the config, the layout and the window length)."""

    name: ClassVar[str] = ""
    Config: ClassVar[type] = None
    min_frames: ClassVar[int] = 2

    def __init__(self, layout: Layout, config=None, seed: int = 0, progress: bool = False,
                 window: WindowConfig = WindowConfig(), threshold_quantile: float = 1.0):
        if not isinstance(layout, Layout):
            raise TypeError(f"layout must be a haad.skeleton.Layout, got {type(layout).__name__}")
        self.layout = layout
        self.window = window
        self.threshold_quantile = threshold_quantile
        self.config = resolve_config(self.Config, config)
        self.seed = int(seed)
        self.progress = bool(progress)
        self.model_: nn.Module | None = None
        self.frames_: int | None = None
        self.fit_seconds_: float | None = None
        self.history_: list[float] = []
        self.decision_scores_: np.ndarray | None = None

    # ------------------------------------------------------------------ public API
    def fit(self, X) -> "CategoryDetector":
        """Train on one category's normal clips or windows; score them for the threshold."""
        x = self._validate(X, fitting=True)
        self.frames_ = int(x.shape[1])
        start = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.model_ = self._build(extra=self._extra_for_fit(x))
            self.history_ = []
            self._fit(torch.from_numpy(x))
        self.model_.eval()
        self.fit_seconds_ = time.perf_counter() - start
        self.decision_scores_ = self._scores(x)
        self.set_threshold()
        return self

    def decision_function(self, X) -> np.ndarray:
        """(N,) anomaly scores of clips or windows, higher = more anomalous."""
        if self.model_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() or load() first")
        return self._scores(self._validate(X, fitting=False))

    def _scores(self, x: np.ndarray) -> np.ndarray:
        self.model_.eval()
        with torch.no_grad():
            scores = self._score(torch.from_numpy(x))
        return scores.detach().to(torch.float64).numpy()

    def save(self, directory) -> Path:
        """Write config, layout, seed, window, threshold and the fitted state to ``directory``."""
        if self.model_ is None:
            raise RuntimeError("nothing to save: the detector is not fitted")
        header = {
            "config": dataclasses.asdict(self.config),
            "layout": self.layout.to_dict(),
            "seed": self.seed,
            "frames": self.frames_,
            "extra": self._extra_header(),
            "window": self.window.to_dict(),
            "threshold": self.threshold_,
            "threshold_quantile": self.threshold_quantile,
        }
        meta = {"fit_seconds": self.fit_seconds_, "final_loss": self.history_[-1] if self.history_ else None}
        tensors = {**self.model_.state_dict(), DECISION_SCORES: torch.from_numpy(self.decision_scores_)}
        return save_checkpoint(directory, tensors, KIND_PREFIX + self.name, header, meta)

    @classmethod
    def load(cls, directory, progress: bool = False) -> "CategoryDetector":
        """Read a baseline written by :meth:`save`."""
        tensors, header = load_checkpoint(directory, kind=KIND_PREFIX + cls.name)
        cfg, where = header["config"], Path(directory) / "config.json"
        try:
            det = cls(Layout.from_dict(cfg["layout"]), config=cfg["config"], seed=cfg["seed"], progress=progress,
                      window=WindowConfig(**cfg["window"]), threshold_quantile=cfg["threshold_quantile"])
            det.frames_ = int(cfg["frames"])
            det.decision_scores_ = tensors.pop(DECISION_SCORES).numpy()
            det.threshold_ = float(cfg["threshold"])
            det.model_ = det._build(extra=cfg.get("extra") or {})
        except KeyError as e:
            raise CheckpointError(f"{where}: missing field {e.args[0]!r} of a saved {cls.name} model") from None
        except (TypeError, ValueError, AttributeError) as e:
            raise CheckpointError(f"{where}: malformed {cls.name} config ({e})") from None
        det.fit_seconds_ = header.get("meta", {}).get("fit_seconds")
        try:
            missing, unexpected = det.model_.load_state_dict(tensors, strict=False)
        except RuntimeError:  # tensor shapes differ from the model the config describes
            raise CheckpointError(f"{directory}: its weights do not fit the {cls.name} model its config.json describes "
                                  f"(layout {det.layout.name!r}, {det.layout.num_joints} joints)") from None
        if missing or unexpected:
            raise CheckpointError(f"{directory}: weights do not match the model (missing {missing}, unexpected {unexpected})")
        det.model_.eval()
        return det

    # ------------------------------------------------------------------ subclass hooks
    def _build(self, extra: dict) -> nn.Module:
        raise NotImplementedError

    def _fit(self, x: torch.Tensor) -> None:
        raise NotImplementedError

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _extra_for_fit(self, x: np.ndarray) -> dict:
        return {}

    def _extra_header(self) -> dict:
        return {}

    # ------------------------------------------------------------------ helpers
    @property
    def num_joints(self) -> int:
        return self.layout.num_joints

    def _validate(self, X, fitting: bool) -> np.ndarray:
        x = self.windows(X)
        if x.shape[0] < (2 if fitting else 1):
            raise ValueError(f"need at least {2 if fitting else 1} windows, got {x.shape[0]}")
        if x.shape[1] < self.min_frames:
            raise ValueError(f"{self.name} needs windows of at least {self.min_frames} frames, got {x.shape[1]}")
        if not fitting and x.shape[1] != self.frames_:
            raise ValueError(f"model was fitted on {self.frames_}-frame windows, got {x.shape[1]} frames")
        return x

    def _generator(self, offset: int = 0) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 1_000_003 + offset)

    def _train_loop(self, n: int, cfg, opt: torch.optim.Optimizer, gen: torch.Generator, batch_loss,
                    sched=None) -> None:
        """Mini-batch training shared by the baselines: ``batch_loss(idx)`` returns a batch's loss;
        gradients are clipped to ``cfg.grad_clip`` (0 = off); the mean loss per epoch goes to
        ``history_``."""
        for _ in self._epochs(cfg.epochs):
            total, count = 0.0, 0
            for idx in iterate_minibatches(n, cfg.batch_size, gen):
                loss = batch_loss(idx)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip > 0:
                    nn.utils.clip_grad_norm_(self.model_.parameters(), cfg.grad_clip)
                opt.step()
                total += float(loss.detach()) * len(idx)
                count += len(idx)
            if sched is not None:
                sched.step()
            self.history_.append(total / count)

    def _epochs(self, epochs: int):
        if self.progress:
            from tqdm.auto import trange

            return trange(epochs, desc=self.name, leave=False)
        return range(epochs)

    def __repr__(self) -> str:
        state = "fitted" if self.model_ is not None else "unfitted"
        return f"{type(self).__name__}(layout={self.layout.name!r}, seed={self.seed}, {state}, config={self.config})"
