"""Copies of support windows that join a support set beside the recorded clips (docs/METHOD.md, "Support
turns and warps"): each window turned about the vertical axis (:func:`haad.geometry.turned`), and each
window time-warped (:func:`warped`: the same motion from the same first to the same last frame, sped up
at one end and slowed down at the other). A few normal clips then also cover the same motion seen from
a slightly different side, or done at a slightly different tempo."""

from __future__ import annotations

import numpy as np

from haad.distances import check_distance
from haad.geometry import check_turns, turned


def check_upright(turns, upright: bool, what: str) -> None:
    """Refuse support ``turns`` on windows that are not y-up (``upright``: the canonical, normalised skeleton of
    a pretrained encoder or of the bone directions; a dataset's own skeleton may be z-up). ``what`` names
    what takes the dataset's own skeleton, for the message."""
    if turns and not upright:
        raise ValueError(f"support turns need y-up windows, the canonical, normalised skeleton of a pretrained encoder "
                         f"(the built-in one) or of the bone directions; {what} takes the dataset's own skeleton")


def check_warps(warps) -> tuple:
    """``warps`` as a tuple of time-warp exponents (finite, > 0), else a ValueError."""
    try:
        out = tuple(float(g) for g in warps)
    except (TypeError, ValueError):
        raise ValueError(f"warps must be exponents > 0, got {warps!r}") from None
    if not all(np.isfinite(g) and g > 0 for g in out):
        raise ValueError(f"warps must be finite exponents > 0, got {list(out)}")
    return out


def warped(windows: np.ndarray, exponents) -> np.ndarray:
    """Copies of (N, H, J, 3) ``windows`` time-warped by each exponent g: frame i of a copy is the window at
    time (i / (H - 1))^g (H - 1), linearly interpolated, so the first and last frames stay and g < 1 plays
    the start faster and the end slower (g > 1 the other way round). (len(exponents) * N, H, J, 3) float32,
    exponent after exponent."""
    w = np.asarray(windows, dtype=np.float32)
    out = []
    h = w.shape[1]
    for g in check_warps(exponents):
        t = np.linspace(0.0, 1.0, h) ** g * (h - 1)
        lo = np.minimum(np.floor(t).astype(int), h - 1)
        hi = np.minimum(lo + 1, h - 1)
        frac = (t - lo).astype(np.float32)[None, :, None, None]
        out.append(w[:, lo] * (1 - frac) + w[:, hi] * frac)
    return np.concatenate(out) if out else np.zeros((0,) + w.shape[1:], np.float32)


def check_support_fields(config) -> None:
    """Check a frozen config's ``distance``, ``turns`` and ``warps`` fields (``None``: the encoder's) and keep
    the turns and warps as tuples of floats (:func:`haad.distances.check_distance`, :func:`haad.geometry.check_turns`,
    :func:`check_warps`)."""
    if config.distance is not None:
        check_distance(config.distance)
    if config.turns is not None:
        object.__setattr__(config, "turns", check_turns(config.turns))
    if config.warps is not None:
        object.__setattr__(config, "warps", check_warps(config.warps))


def support_options(options: dict) -> dict:
    """A config's options as results record them: ``distance``, ``turns`` and ``warps`` only when given (so
    results from before each choice still match), turns and warps as lists."""
    for name in ("distance", "turns", "warps"):
        if options[name] is None:
            options.pop(name)
        elif name != "distance":
            options[name] = list(options[name])
    return options


def copy_windows(windows: np.ndarray, turns=(), warps=()) -> np.ndarray:
    """The support copies of (N, H, J, 3) ``windows``: turned by each angle of ``turns`` (degrees; y-up
    windows), then warped by each exponent of ``warps``; (len(turns) + len(warps)) blocks of N, in that order."""
    w = np.asarray(windows, dtype=np.float32)
    return np.concatenate([turned(w, turns), warped(w, warps)])


def copy_embeddings(embedder, windows: np.ndarray, turns=(), warps=()) -> np.ndarray | None:
    """(C, N, D): the embeddings of the C = len(turns) + len(warps) copies of (N, H, J, 3) ``windows``
    (:func:`copy_windows`), or None without copies."""
    n_copies = len(turns) + len(warps)
    if not n_copies:
        return None
    return embedder(copy_windows(windows, turns, warps)).reshape(n_copies, len(windows), -1)
