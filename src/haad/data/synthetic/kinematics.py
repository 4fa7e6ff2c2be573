"""Forward kinematics of the SMPL-24 skeleton from local Euler angles (``R = Ry @ Rx @ Rz``)."""

from __future__ import annotations

import numpy as np

from haad.data.synthetic.body import PARENTS
from haad.skeleton import SMPL24


def _euler_components(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Rotation ``Ry(y) @ Rx(x) @ Rz(z)`` component-major: (3, 3, *x.shape)."""
    cx, cy, cz = np.cos(x), np.cos(y), np.cos(z)
    sx, sy, sz = np.sin(x), np.sin(y), np.sin(z)
    r = np.empty((3, 3) + np.shape(x))
    r[0, 0] = cy * cz + sy * sx * sz
    r[0, 1] = -cy * sz + sy * sx * cz
    r[0, 2] = sy * cx
    r[1, 0] = cx * sz
    r[1, 1] = cx * cz
    r[1, 2] = -sx
    r[2, 0] = -sy * cz + cy * sx * sz
    r[2, 1] = sy * sz + cy * sx * cz
    r[2, 2] = cy * cx
    return r


def forward_kinematics(offsets: np.ndarray, angles: np.ndarray, heading: np.ndarray | None = None) -> np.ndarray:
    """Joint positions (T, 24, 3), pelvis at the origin.

    Args:
        offsets: (24, 3) bone offsets of the rest pose, or (T, 24, 3) per frame (several clips of
            different subjects concatenated along time).
        angles: (T, 24, 3) local Euler angles (radians, ``R = Ry @ Rx @ Rz``).
        heading: (T,) yaw of the whole body about +y (radians), applied above the pelvis rotation.
    """
    angles = np.asarray(angles, dtype=np.float64)
    t, j = angles.shape[0], SMPL24.num_joints
    # Component-major arrays (joint, row, col, frame): every product below is a contiguous
    # element-wise operation over frames, much faster than numpy's stacked 3x3 matmul.
    a = np.ascontiguousarray(angles.transpose(2, 1, 0))  # (3, J, T)
    rloc = _euler_components(a[0], a[1], a[2]).transpose(2, 0, 1, 3)  # (J, 3, 3, T)
    off = np.asarray(offsets, dtype=np.float64)
    off = off[:, :, None] if off.ndim == 2 else np.ascontiguousarray(off.transpose(1, 2, 0))  # (J, 3, 1 or T)
    rg = np.empty((j, 3, 3, t))
    pos = np.zeros((j, 3, t))
    if heading is None:
        rg[0] = rloc[0]
    else:
        zero = np.zeros(t)
        rg[0] = np.einsum("ikt,kjt->ijt", _euler_components(zero, np.asarray(heading, dtype=np.float64), zero), rloc[0])
    for i in range(1, j):
        p = PARENTS[i]
        pos[i] = pos[p] + (rg[p] * off[i][None, :, :]).sum(axis=1)
        rg[i] = (rg[p][:, :, None, :] * rloc[i][None, :, :, :]).sum(axis=1)
    return np.ascontiguousarray(pos.transpose(2, 0, 1))
