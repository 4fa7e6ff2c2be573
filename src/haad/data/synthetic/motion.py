"""What an action writes into (:class:`Motion`, :class:`Context`) and the posture shared by every
action: the relaxed stance, the per-clip nuisance (idle posture, arm carriage) and the sway."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from haad.data.synthetic.body import IDX, Subject
from haad.skeleton import SMPL24


class Motion:
    """Joint angles (degrees, accumulated) and root motion of one clip, filled in by an action."""

    def __init__(self, t: np.ndarray):
        self.t = t
        self.ang = np.zeros((len(t), SMPL24.num_joints, 3))
        self.speed = np.zeros(len(t))  # forward speed along the current heading, m/s
        self.side_speed = np.zeros(len(t))  # speed to the body's left, m/s
        self.back = np.zeros(len(t))  # displacement backwards (body frame), m, not integrated
        self.turn = np.zeros(len(t))  # heading change, radians
        self.lift = np.zeros(len(t))  # height above ground contact, m

    def _add(self, j: int, x, y, z, sign: float) -> None:
        self.ang[:, j, 0] += x
        self.ang[:, j, 1] += sign * y
        self.ang[:, j, 2] += sign * z

    # Angles are given for the left side (x < 0 flexes hips and shoulders forward, z > 0 raises an
    # arm or abducts a leg, y < 0 flexes a hanging elbow forward); the right side is mirrored.
    def L(self, part: str, x=0.0, y=0.0, z=0.0) -> None:
        """Add angles (degrees) to the left ``part`` (e.g. ``"elbow"``)."""
        self._add(IDX["left_" + part], x, y, z, 1.0)

    def R(self, part: str, x=0.0, y=0.0, z=0.0) -> None:
        """Add the left-side angles (degrees) to the right ``part``, mirrored."""
        self._add(IDX["right_" + part], x, y, z, -1.0)

    def side(self, left: bool):
        """The adder of the left (:meth:`L`) or right (:meth:`R`) side."""
        return self.L if left else self.R

    def B(self, part: str, x=0.0, y=0.0, z=0.0) -> None:
        """Both sides: :meth:`L` and :meth:`R`."""
        self.L(part, x, y, z)
        self.R(part, x, y, z)

    def C(self, name: str, x=0.0, y=0.0, z=0.0) -> None:
        """Centre joints (pelvis, spine*, neck): x > 0 leans forward, y turns left, z bends right."""
        self._add(IDX[name], x, y, z, 1.0)


@dataclass
class Context:
    """What an action knows about its clip: phase, tempo, amplitude, side, subject and random state."""

    ph: np.ndarray  # phase, radians
    f: float  # cycle frequency, Hz
    amp: float  # amplitude factor
    left: bool  # one-sided actions use the left limb
    subject: Subject
    scale: float  # leg length relative to the template
    rng: np.random.Generator


def relu(x):
    """max(x, 0)."""
    return np.maximum(x, 0.0)


def smoothstep(x):
    """Smooth 0 -> 1 ramp over x in [0, 1] (clipped outside)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def raise_envelope(m: Motion, c: Context, dur: float = 0.35) -> np.ndarray:
    """0 -> 1 ramp near the start of a clip (a limb being brought into position)."""
    t0 = c.rng.uniform(0.0, 0.25)
    return smoothstep((m.t - t0) / dur)


def stand(m: Motion, c: Context) -> None:
    """The relaxed standing pose under every action (arms hanging, the subject's lean and knee bend)."""
    s = c.subject
    m.B("shoulder", z=-72.0, x=3.0)
    m.B("elbow", y=-12.0)
    m.B("collar", z=-4.0)
    m.B("hip", z=2.0)
    m.B("knee", x=np.rad2deg(s.knee_bend))
    m.B("ankle", x=-np.rad2deg(s.knee_bend) * 0.5)
    m.C("spine2", x=np.rad2deg(s.lean))


def arms_free(m: Motion, c: Context, p_other: float) -> bool:
    """Arm carriage during an action that does not need the arms: with probability ``p_other``
    hands on hips or arms folded instead of hanging (a nuisance factor, not part of the action).
    Returns whether the arms hang (and may swing)."""
    u = c.rng.random()
    if u < p_other / 2:  # hands on hips
        m.B("shoulder", z=28.0, x=12.0)
        m.B("elbow", z=-95.0, y=-10.0)
    elif u < p_other:  # arms folded in front of the chest
        m.B("shoulder", x=-35.0, y=-25.0, z=10.0)
        m.B("elbow", y=-86.0, z=-55.0)  # forearm across the body, towards the other side
    return u >= p_other


def idle(m: Motion, c: Context) -> None:
    """Per-clip nuisance present in every action: head turn, weight shift onto one leg."""
    rng = c.rng
    m.C("neck", y=rng.uniform(-20.0, 20.0), x=rng.uniform(-8.0, 12.0))
    shift = rng.uniform(-6.0, 6.0)
    m.C("pelvis", z=shift)
    m.C("spine1", z=-shift)
    m.L("hip", z=-shift)
    m.R("hip", z=shift)


def sway(t: np.ndarray, rng: np.random.Generator, deg: float) -> np.ndarray:
    """Small smooth random angle perturbations (T, 24, 3), degrees."""
    j = SMPL24.num_joints
    amp = rng.uniform(0.0, deg, size=(j, 3))
    freq = rng.uniform(0.15, 0.7, size=(j, 3))
    phase = rng.uniform(0.0, 2.0 * np.pi, size=(j, 3))
    return amp * np.sin(2.0 * np.pi * freq * t[:, None, None] + phase)
