"""Cropping, padding and normalisation of clips into fixed-length windows (docs/PROTOCOL.md, "Windows")."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class WindowConfig:
    """How a clip becomes a window.

    Attributes:
        length: window length H in frames (protocol: 60).
        crop: ``"first"`` (protocol: frames 0..H-1) or ``"resample"`` (linear resampling of the whole
            clip to H frames; an option, not the protocol's default).
        root_offset: subtract the root joint's position in the window's first frame (protocol: on).
    """

    length: int = 60
    crop: str = "first"
    root_offset: bool = True

    def __post_init__(self) -> None:
        if self.length < 2:
            raise ValueError(f"window length must be >= 2, got {self.length}")
        if self.crop not in ("first", "resample"):
            raise ValueError(f"crop must be 'first' or 'resample', got {self.crop!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def pad_or_crop(clip: np.ndarray, length: int, start: int = 0) -> np.ndarray:
    """Frames ``start .. start+length-1``; a clip too short is padded by repeating its last frame."""
    seg = clip[start:start + length]
    if len(seg) < length:
        pad = np.repeat(seg[-1:], length - len(seg), axis=0)
        seg = np.concatenate([seg, pad], axis=0)
    return seg


def resample(clip: np.ndarray, length: int) -> np.ndarray:
    """Linearly resample a clip to ``length`` frames."""
    t = len(clip)
    if t == 1:
        return np.repeat(clip, length, axis=0)
    lo, hi, w = _positions(t, length)
    w = w[:, None, None].astype(clip.dtype)
    return clip[lo] * (1 - w) + clip[hi] * w


def make_window(clip: np.ndarray, root: int, cfg: WindowConfig = WindowConfig(), start: int = 0) -> np.ndarray:
    """One (H, J, 3) float32 window of a (T, J, 3) clip."""
    if cfg.crop == "first":
        w = pad_or_crop(clip, cfg.length, start)
    else:
        w = resample(clip, cfg.length)
    w = np.asarray(w, dtype=np.float32)
    if cfg.root_offset:
        w = w - w[0, root][None, None, :]
    return w


def make_windows(clips, root: int, cfg: WindowConfig = WindowConfig()) -> np.ndarray:
    """Stack windows of many clips into (N, H, J, 3) float32 (each as :func:`make_window` cuts it)."""
    if len(clips) == 0:
        raise ValueError("no clips to window")
    clips = [np.asarray(c) for c in clips]
    return frame_windows(np.concatenate(clips), [len(c) for c in clips], root, cfg)


# Frames of clips held end to end that are prepared and windowed together (BaseDetector.windows,
# haad.normalize.normalize_clips): enough that numpy's per-call cost vanishes over many short clips, few
# enough that the float64 temporaries of preparation stay in the tens of MB (2,048 to 8,192 ran alike).
BLOCK_FRAMES = 8192


def frame_blocks(lengths, max_frames: int | None = None) -> list[int]:
    """How many consecutive clips of these lengths go in each block of about ``max_frames`` frames
    (default :data:`BLOCK_FRAMES`; at least one clip a block)."""
    max_frames = BLOCK_FRAMES if max_frames is None else max_frames
    out, n, frames = [], 0, 0
    for t in lengths:
        if n and frames + t > max_frames:
            out.append(n)
            n, frames = 0, 0
        n, frames = n + 1, frames + int(t)
    return out + [n] if n else out


def _positions(t: int, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`resample`'s frame pairs and weights for a clip of ``t`` frames: (lo, hi, weight of hi)."""
    pos = np.linspace(0, t - 1, length)
    lo = np.floor(pos).astype(np.int64)
    return lo, np.minimum(lo + 1, t - 1), pos - lo


def frame_windows(frames: np.ndarray, lengths, root: int, cfg: WindowConfig = WindowConfig(),
                  out: np.ndarray | None = None) -> np.ndarray:
    """(N, H, J, 3) float32 windows of clips held end to end: ``frames`` (F, J, 3), clip i the next
    ``lengths[i]`` frames. The same windows as :func:`make_window` clip by clip, cut with one gather;
    written into ``out`` (a float32 (N, H, J, 3) array) when given."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) == 0:
        raise ValueError("no clips to window")
    if (lengths < 1).any() or lengths.sum() != len(frames):
        raise ValueError(f"clip lengths {lengths.tolist()[:8]}... must be >= 1 and add up to {len(frames)} frames")
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    h = cfg.length
    if out is None:
        out = np.empty((len(lengths), h) + frames.shape[1:], dtype=np.float32)
    if cfg.crop == "first":
        # frames 0..H-1, the last frame repeated where the clip is shorter
        idx = starts[:, None] + np.minimum(np.arange(h)[None], lengths[:, None] - 1)
        if frames.dtype == np.float32:
            np.take(frames, idx, axis=0, out=out)
        else:
            out[...] = frames[idx]
    else:
        lo, hi, wt = np.empty((len(lengths), h), np.int64), np.empty((len(lengths), h), np.int64), np.empty((len(lengths), h))
        for t in np.unique(lengths).tolist():  # clips of one length share their positions
            rows = lengths == t
            lo[rows], hi[rows], wt[rows] = _positions(t, h)
        wt = wt[..., None, None].astype(frames.dtype)
        out[...] = frames[starts[:, None] + lo] * (1 - wt) + frames[starts[:, None] + hi] * wt
    if cfg.root_offset:
        out -= out[:, :1, root:root + 1].copy()
    return out


def content_lengths(clips, cfg: WindowConfig = WindowConfig()) -> np.ndarray:
    """Frames of real motion in each clip's window: the rest of a ``"first"`` window is padding."""
    if cfg.crop != "first":
        return np.full(len(clips), cfg.length, dtype=np.int64)
    return np.array([min(len(c), cfg.length) for c in clips], dtype=np.int64)


def repad(windows: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Copy of (N, ..., H, J, 3) ``windows`` in which frames from ``lengths[i]`` on repeat frame ``lengths[i] - 1``.

    This is the protocol's last-frame padding applied again, e.g. to generated variants of short clips.
    """
    out = np.array(windows, copy=True)
    h = out.shape[-3]
    for i, n in enumerate(np.asarray(lengths)):
        if not 1 <= n <= h:
            raise ValueError(f"window {i}: content length {n} outside 1..{h}")
        if n < h:
            out[i, ..., n:, :, :] = out[i, ..., n - 1:n, :, :]
    return out


def hold_after(windows: np.ndarray, n_obs: int) -> np.ndarray:
    """Copy of (N, ..., H, J, 3) ``windows`` whose frames from ``n_obs`` on repeat frame ``n_obs - 1``.

    The zero-velocity completion of the first ``n_obs`` frames: what a generated variant would be if
    the generator added no motion of its own (the control for generative augmentation).
    """
    h = windows.shape[-3]
    if not 1 <= n_obs <= h:
        raise ValueError(f"n_obs must be in 1..{h}, got {n_obs}")
    return repad(windows, np.full(len(windows), n_obs))

