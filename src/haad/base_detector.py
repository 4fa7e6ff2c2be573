"""The one detector contract, shared by the few-shot detector and every baseline (PyOD style).

A detector is fitted on normal examples of one category and scores new ones:

* ``fit(X)`` learns from normal data and sets ``decision_scores_`` (the scores of the fitted normal
  data: out-of-sample where the detector can give them, e.g. the few-shot detector's leave-one-out
  scores) and ``threshold_`` (a quantile of ``decision_scores_``, ``threshold_quantile``).
* ``decision_function(X)`` returns one score per example; higher = more anomalous.
* ``predict(X)`` is 1 where the score exceeds ``threshold_``, else 0.
* ``save(directory)`` / ``load(directory)`` round-trip everything fitted through :mod:`haad.checkpoint`.

``X`` is either a list of clips, each ``(T, J, 3)`` (a single ``(T, J, 3)`` array is one clip), which
the detector windows with its :class:`~haad.data.windows.WindowConfig`, or an ``(N, H, J, 3)`` array
of windows, which is used as it is. Windowing is the one explicit stage in front of every detector
(:meth:`BaseDetector.windows`), so the evaluation loop windows a dataset once and hands windows to
any detector.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from haad.data.windows import WindowConfig, frame_blocks, frame_windows
from haad.skeleton import Layout


class BaseDetector(ABC):
    """Base class of every detector. Subclasses implement ``fit``, ``decision_function``, ``save``
    and ``load``, and set ``layout`` (a :class:`~haad.skeleton.Layout`), ``window`` and
    ``threshold_quantile`` in ``__init__``."""

    name: str = ""
    layout: Layout
    window: WindowConfig
    threshold_quantile: float

    # ------------------------------------------------------------------ the windowing stage
    def windows(self, X) -> np.ndarray:
        """``X`` as ``(N, H, J, 3)`` float32 windows: clips are windowed, windows pass unchanged.

        Clips are checked against ``layout`` and go through :meth:`prepare` first; windows are
        checked against ``window_layout`` (the skeleton the detector works on).
        """
        if isinstance(X, np.ndarray) and X.ndim == 4:
            j = self.window_layout.num_joints
            if X.shape[2:] != (j, 3):
                raise ValueError(f"expected windows of shape (N, H, {j}, 3) for layout {self.window_layout.name!r}, "
                                 f"got {X.shape}")
            if not np.isfinite(X).all():
                raise ValueError("windows contain NaN or infinite values")
            return np.ascontiguousarray(X, dtype=np.float32)
        j = self.layout.num_joints
        clips = [X] if isinstance(X, np.ndarray) and X.ndim == 3 else list(X)
        clips = [np.asarray(c) for c in clips]
        for i, c in enumerate(clips):
            if c.ndim != 3 or c.shape[1:] != (j, 3):
                raise ValueError(f"clip {i}: expected (frames, {j}, 3) for layout {self.layout.name!r}, got {c.shape}")
            if len(c) == 0:
                raise ValueError(f"clip {i}: empty or contains NaN/inf")
        if not clips:
            raise ValueError("no clips to window")
        # every block's windows go straight into their rows of one array (no copy of all windows at the end)
        out = np.empty((len(clips), self.window.length, self.window_layout.num_joints, 3), dtype=np.float32)
        first = 0
        for block in frame_blocks([len(c) for c in clips]):
            frames = np.concatenate(clips[first:first + block])
            lengths = [len(c) for c in clips[first:first + block]]
            if not np.isfinite(frames).all():
                bad = np.flatnonzero(~np.isfinite(frames).all(axis=(1, 2)))[0]
                i = first + int(np.searchsorted(np.cumsum(lengths), bad, side="right"))
                raise ValueError(f"clip {i}: empty or contains NaN/inf")
            frames, lengths = self.prepare_frames(frames, lengths)
            frame_windows(frames, lengths, self.window_layout.root, self.window, out=out[first:first + block])
            first += block
        return out

    def prepare(self, clip: np.ndarray) -> np.ndarray:
        """One clip as the detector windows it (:meth:`prepare_frames` of that clip alone)."""
        clip = np.asarray(clip)
        return self.prepare_frames(clip, [len(clip)])[0]

    def prepare_frames(self, frames: np.ndarray, lengths) -> tuple[np.ndarray, np.ndarray]:
        """Clips held end to end (``frames``, clip i the next ``lengths[i]`` frames) as the detector
        windows them: the prepared frames end to end and their clips' lengths. Unchanged here; a
        pretrained encoder's detector maps them to the canonical skeleton and normalises them, each
        clip on its own."""
        return frames, np.asarray(lengths)

    @property
    def window_layout(self) -> Layout:
        """The skeleton of the windows (``layout`` unless :meth:`prepare` changes it)."""
        return self.layout

    # ------------------------------------------------------------------ the contract
    @abstractmethod
    def fit(self, X) -> "BaseDetector":
        """Fit on normal examples of one category; sets ``decision_scores_`` and ``threshold_``."""

    @abstractmethod
    def decision_function(self, X) -> np.ndarray:
        """(N,) anomaly scores, higher = more anomalous."""

    def predict(self, X) -> np.ndarray:
        """1 = anomalous (score above ``threshold_``), 0 = normal."""
        self._check_fitted()
        return (self.decision_function(X) > self.threshold_).astype(np.int64)

    def set_threshold(self, value: float | None = None, quantile: float | None = None) -> float:
        """Set ``threshold_`` to ``value``, or to a quantile of ``decision_scores_`` (default
        ``threshold_quantile``; a new quantile is remembered). Needs no refitting."""
        if value is not None:
            self.threshold_ = float(value)
            return self.threshold_
        q = self.threshold_quantile if quantile is None else quantile
        if not 0 <= q <= 1:
            raise ValueError(f"quantile must be in [0, 1], got {q}")
        self.threshold_quantile = q
        self.threshold_ = float(np.quantile(self.decision_scores_, q))
        return self.threshold_

    @abstractmethod
    def save(self, directory) -> Path:
        """Write the fitted detector to a checkpoint directory."""

    @classmethod
    @abstractmethod
    def load(cls, directory) -> "BaseDetector":
        """Read a detector written by :meth:`save`."""

    # ------------------------------------------------------------------ helpers
    @property
    def is_fitted(self) -> bool:
        return getattr(self, "decision_scores_", None) is not None

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() or load() first")
