"""The in-memory collection of labelled skeleton clips that every loader returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from haad.skeleton import Layout


class DataError(ValueError):
    """Bad input data; the message names the file or clip and what is wrong."""


def check_clip(clip, where: str, num_joints: int | None = None) -> np.ndarray:
    """Validate one clip and return it as float32 (T, J, 3).

    Raises :class:`DataError` naming ``where`` for a wrong shape, an empty clip, NaN/inf values
    or a joint count that differs from ``num_joints``.
    """
    arr = np.asarray(clip)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{where}: expected a numeric array, got dtype {arr.dtype}")
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise DataError(f"{where}: expected shape (frames, joints, 3), got {arr.shape}")
    if arr.shape[0] == 0:
        raise DataError(f"{where}: empty clip (0 frames)")
    if num_joints is not None and arr.shape[1] != num_joints:
        raise DataError(f"{where}: {arr.shape[1]} joints, but the layout has {num_joints}")
    arr = arr.astype(np.float32, copy=False)
    bad = ~np.isfinite(arr).all(axis=(1, 2))
    if bad.any():
        frames = np.flatnonzero(bad)
        raise DataError(f"{where}: NaN or inf values in {len(frames)} frame(s), first at frame {frames[0]}")
    return arr


@dataclass
class Collection:
    """Labelled skeleton clips.

    Attributes:
        clips: list of float32 arrays (T_i, J, 3).
        labels: (N,) int64 category ids in ``0..C-1``.
        class_names: C names, index = label.
        layout: the skeleton layout of every clip.
        order_keys: (N, k) int64; within a category, clips are ordered by these keys (row-wise
            lexicographic) before the protocol's 80/20 split. Default: storage order.
        groups: (N,) int64; clips sharing a group id stay on the same side of the split (e.g. the
            three camera views of one NW-UCLA performance). Default: every clip its own group.
        names: optional per-clip identifiers (file names) used in error messages and reports.
        source: where the collection came from (a dataset name or path).
        fps: frames per second of every clip, where known (``None``: unknown).
    """

    clips: list
    labels: np.ndarray
    class_names: list
    layout: Layout
    order_keys: np.ndarray | None = None
    groups: np.ndarray | None = None
    names: list | None = None
    source: str = ""
    fps: float | None = None

    def __post_init__(self) -> None:
        n = len(self.clips)
        if self.fps is not None and not (np.isfinite(self.fps) and self.fps > 0):
            raise DataError(f"{self.source or 'collection'}: fps must be a positive number, got {self.fps}")
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if self.labels.shape[0] != n:
            raise DataError(f"{self.source or 'collection'}: {n} clips but {self.labels.shape[0]} labels")
        self.class_names = [str(c) for c in self.class_names]
        if self.names is None:
            self.names = [f"clip {i}" for i in range(n)]
        if len(self.names) != n:
            raise DataError(f"{self.source or 'collection'}: {n} clips but {len(self.names)} names")
        if self.order_keys is None:
            self.order_keys = np.arange(n, dtype=np.int64)[:, None]
        self.order_keys = np.asarray(self.order_keys, dtype=np.int64)
        if self.order_keys.ndim == 1:
            self.order_keys = self.order_keys[:, None]
        if self.order_keys.shape[0] != n:
            raise DataError(f"{self.source or 'collection'}: order_keys has {self.order_keys.shape[0]} rows for {n} clips")
        if self.groups is None:
            self.groups = np.arange(n, dtype=np.int64)
        self.groups = np.asarray(self.groups, dtype=np.int64).reshape(-1)
        if self.groups.shape[0] != n:
            raise DataError(f"{self.source or 'collection'}: groups has {self.groups.shape[0]} entries for {n} clips")
        c = len(self.class_names)
        for i, lab in enumerate(self.labels):
            if not 0 <= lab < c:
                raise DataError(f"{self.source}: {self.names[i]}: label {lab} not in 0..{c - 1}")
        j = self.layout.num_joints
        self.clips = [check_clip(x, f"{self.source}: {self.names[i]}", j) for i, x in enumerate(self.clips)]

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(c) for c in self.clips], dtype=np.int64)

    def with_clips(self, clips: list, layout: Layout | None = None, fps: float | None = None) -> "Collection":
        """A new collection with other clips (same count and order) and everything else kept; ``layout``
        and ``fps`` replace the collection's when given."""
        return Collection(clips=clips, labels=self.labels.copy(), class_names=list(self.class_names),
                          layout=self.layout if layout is None else layout, order_keys=self.order_keys.copy(),
                          groups=self.groups.copy(), names=list(self.names), source=self.source,
                          fps=self.fps if fps is None else fps)

    def subset(self, idx) -> "Collection":
        """A new collection with the clips at ``idx`` (labels and class names unchanged)."""
        idx = np.asarray(idx, dtype=np.int64)
        return Collection(
            clips=[self.clips[i] for i in idx],
            labels=self.labels[idx],
            class_names=list(self.class_names),
            layout=self.layout,
            order_keys=self.order_keys[idx],
            groups=self.groups[idx],
            names=[self.names[i] for i in idx],
            source=self.source,
            fps=self.fps,
        )

    def summary(self) -> str:
        lengths = self.lengths
        return (
            f"{self.source or 'collection'}: {len(self)} clips, {self.num_classes} categories, "
            f"layout {self.layout.name} ({self.layout.num_joints} joints), "
            f"frames per clip {lengths.min()}..{lengths.max()}"
        )
