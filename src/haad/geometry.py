"""Rigid geometric transforms of windows: rotation about the vertical axis and left/right mirroring."""

from __future__ import annotations

import numpy as np
import torch

from haad.skeleton import Layout


def _plane_axes(up_axis: int) -> tuple[int, int]:
    if up_axis not in (0, 1, 2):
        raise ValueError(f"up_axis must be 0, 1 or 2, got {up_axis}")
    a, b = [i for i in range(3) if i != up_axis]
    return a, b


def rotate_vertical(x: torch.Tensor, angles: torch.Tensor, up_axis: int = 1) -> torch.Tensor:
    """Rotate (B, ..., 3) motion by ``angles`` (B,) radians about the vertical axis through the origin."""
    a, b = _plane_axes(up_axis)
    c, s = torch.cos(angles), torch.sin(angles)
    shape = (-1,) + (1,) * (x.ndim - 2)
    c, s = c.reshape(shape), s.reshape(shape)
    out = x.clone()
    out[..., a] = c * x[..., a] - s * x[..., b]
    out[..., b] = s * x[..., a] + c * x[..., b]
    return out


def check_turns(turns) -> tuple:
    """``turns`` as a tuple of finite angles in degrees, else a ValueError."""
    try:
        out = tuple(float(t) for t in turns)
    except (TypeError, ValueError):
        raise ValueError(f"turns must be angles in degrees, got {turns!r}") from None
    if not all(np.isfinite(out)):
        raise ValueError(f"turns must be finite angles in degrees, got {list(out)}")
    return out


def turned(windows: np.ndarray, degrees, up_axis: int = 1) -> np.ndarray:
    """Copies of (N, H, J, 3) ``windows`` turned about the vertical axis through the origin by each angle
    of ``degrees``: (len(degrees) * N, H, J, 3) float32, angle after angle (all N windows by the first
    angle, then by the second, ...)."""
    w = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32))
    out = [rotate_vertical(w, torch.full((len(w),), float(np.deg2rad(d))), up_axis) for d in degrees]
    return torch.cat(out).numpy() if out else np.zeros((0,) + w.shape[1:], np.float32)


def mirror(x, joints, lateral_axis: int = 0):
    """Mirror motion (..., J, 3) left/right: swap paired joints and negate the lateral coordinate.

    Args:
        x: (..., J, 3) array or tensor (a new one is returned, of the same kind).
        joints: the skeleton :class:`~haad.skeleton.Layout`, or its joint permutation
            (``layout.mirror_permutation()``, as an array or a long tensor) when mirroring often.
        lateral_axis: the coordinate that changes sign (0: x).
    """
    perm = joints.mirror_permutation() if isinstance(joints, Layout) else joints
    if isinstance(x, torch.Tensor):
        out = x[..., torch.as_tensor(perm, device=x.device), :].clone()
    else:
        out = np.array(x[..., np.asarray(perm), :], copy=True)
    out[..., lateral_axis] = -out[..., lateral_axis]
    return out
