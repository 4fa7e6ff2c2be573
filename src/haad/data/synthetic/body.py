"""The synthetic performers: SMPL-24 rest pose (T-pose template), stature and per-subject body shape."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from haad.skeleton import SMPL24

IDX = {n: i for i, n in enumerate(SMPL24.joint_names)}  # joint name -> index
PARENTS = np.asarray(SMPL24.parents)

# T-pose bone offsets (metres, child relative to parent, parent's frame), close to SMPL's mean
# shape; the left side is +x, the right side its mirror image.
_LEFT_OFFSETS = {
    "hip": (0.060, -0.090, 0.000),
    "knee": (0.040, -0.380, 0.000),
    "ankle": (-0.010, -0.400, -0.040),
    "foot": (0.020, -0.055, 0.120),
    "collar": (0.075, 0.120, -0.010),
    "shoulder": (0.120, 0.045, -0.010),
    "elbow": (0.260, 0.000, -0.020),
    "wrist": (0.250, 0.010, 0.000),
    "hand": (0.085, -0.010, -0.010),
}
_CENTRE_OFFSETS = {
    "pelvis": (0.0, 0.0, 0.0),
    "spine1": (0.0, 0.110, -0.020),
    "spine2": (0.0, 0.135, 0.000),
    "spine3": (0.0, 0.055, 0.025),
    "neck": (0.0, 0.215, -0.030),
    "head": (0.0, 0.090, 0.050),
}
# Which segment scale applies to the bone that ends at each joint.
_SEGMENT = {
    "hip": "hip_width", "knee": "thigh", "ankle": "shank", "foot": "foot", "collar": "collar",
    "shoulder": "collar", "elbow": "upper_arm", "wrist": "forearm", "hand": "hand",
    "pelvis": "spine", "spine1": "spine", "spine2": "spine", "spine3": "spine", "neck": "neck", "head": "head",
}
_SEGMENTS = ("hip_width", "thigh", "shank", "foot", "collar", "upper_arm", "forearm", "hand", "spine", "neck", "head")

# Heights of the floor contact points below the ankle / foot joints (template, metres).
ANKLE_CLEARANCE = 0.075
FOOT_CLEARANCE = 0.025
_CROWN = 0.11  # top of the head above the head joint


def _template_offsets() -> np.ndarray:
    off = np.zeros((SMPL24.num_joints, 3))
    for name, v in _CENTRE_OFFSETS.items():
        off[IDX[name]] = v
    for part, v in _LEFT_OFFSETS.items():
        off[IDX["left_" + part]] = v
        off[IDX["right_" + part]] = (-v[0], v[1], v[2])
    return off


TEMPLATE = _template_offsets()
"""(24, 3) bone offsets of the template body (about 1.68 m tall)."""


def rest_pose(offsets: np.ndarray | None = None) -> np.ndarray:
    """Joint positions (24, 3) of the T-pose with the given bone offsets (default: the template),
    pelvis at the origin."""
    off = TEMPLATE if offsets is None else np.asarray(offsets, dtype=np.float64)
    pos = np.zeros((SMPL24.num_joints, 3))
    for j in range(1, SMPL24.num_joints):
        pos[j] = pos[PARENTS[j]] + off[j]
    return pos


def stature(offsets: np.ndarray | None = None) -> float:
    """Approximate standing height (metres): floor to the top of the head in the rest pose."""
    off = TEMPLATE if offsets is None else np.asarray(offsets)
    pos = rest_pose(off)
    scale = np.linalg.norm(off[IDX["left_ankle"]]) / np.linalg.norm(TEMPLATE[IDX["left_ankle"]])
    head_scale = np.linalg.norm(off[IDX["head"]]) / np.linalg.norm(TEMPLATE[IDX["head"]])
    return float(pos[IDX["head"], 1] - pos[IDX["left_ankle"], 1] + ANKLE_CLEARANCE * scale + _CROWN * head_scale)


_TEMPLATE_STATURE = stature(TEMPLATE)


@dataclass(frozen=True)
class Subject:
    """A synthetic performer: bone offsets and a few style traits."""

    offsets: np.ndarray  # (24, 3) bone offsets, metres
    height: float  # stature, metres
    lean: float  # habitual forward lean of the trunk, radians
    arm_swing: float  # multiplier of arm swing in gait
    knee_bend: float  # habitual knee flexion, radians


def make_subject(seed: int, subject: int) -> Subject:
    """Subject ``subject`` of the synthesiser seeded with ``seed`` (deterministic)."""
    rng = np.random.default_rng([int(seed), 1_000_003, int(subject)])
    height = rng.uniform(1.5, 1.9)
    seg = dict(zip(_SEGMENTS, rng.uniform(0.93, 1.07, size=len(_SEGMENTS))))
    off = TEMPLATE * (height / _TEMPLATE_STATURE)
    for name, j in IDX.items():
        part = name.split("_", 1)[1] if name.startswith(("left_", "right_")) else name
        off[j] = off[j] * seg[_SEGMENT[part]]
    return Subject(
        offsets=off,
        height=stature(off),
        lean=np.deg2rad(rng.uniform(-3.0, 6.0)),
        arm_swing=rng.uniform(0.7, 1.3),
        knee_bend=np.deg2rad(rng.uniform(0.0, 8.0)),
    )
