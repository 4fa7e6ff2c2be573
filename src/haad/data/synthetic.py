"""Procedural human motion on the SMPL-24 skeleton: the embedded default dataset.

``haad demo`` trains and evaluates on it and the test suite uses it as fixture data, so it needs no
download, is deterministic given a seed and takes a fraction of a second for the default size.

How a clip is made
------------------
Forward kinematics over :data:`haad.skeleton.SMPL24`:

* **Rest pose.** A T-pose template (bone offsets close to SMPL's mean shape, ~1.68 m tall), scaled
  per *subject*: overall stature drawn in 1.5..1.9 m, and every limb segment (thigh, shank, foot,
  upper arm, forearm, hand, collar bone, hip width, spine, neck, head) jittered by up to +-7%. The
  jitter is the same on the left and the right, so a subject's rest pose is mirror-symmetric.
* **Joint rotations.** Every joint gets local Euler angles (radians; ``R = Ry @ Rx @ Rz``, i.e.
  roll about z first, then pitch about x, then yaw about y, all in the parent's frame) that are
  functions of time and of a phase variable ``phi = 2 pi f t + phi0`` that the action drives. A
  relaxed standing pose (arms hanging, slight knee and elbow flexion) is added under every action,
  plus a little low-frequency "sway" on every joint so that no two clips are piecewise identical.
* **Root trajectory.** The pelvis is placed so that the lowest foot point touches the ground
  (``y = 0``), which gives walking its vertical bob and makes squats and sitting lower the body;
  actions add flight (jump, run), forward translation along the current heading (walk, run) and
  heading changes about the vertical axis (turn).

Per clip, on top of the subject: tempo (cycle frequency x U(0.8, 1.2)), amplitude
(x U(0.8, 1.2)), phase offset (anywhere in the cycle for repetitive actions; near the neutral stance,
possibly after a short still delay, for discrete ones such as a squat or a bow), global facing (yaw,
U(-yaw_range, +yaw_range) degrees), start position (x and z in U(-1, 1) m), the hand or foot used by
one-sided actions (the left one with probability ``left_prob``), nuisance posture that is not part of
the action (head turn, weight shift, and for actions that leave the arms free: hands on hips or arms
folded), clip length U{45..120} frames (some shorter than the protocol's 60-frame window, to exercise
padding) and iid Gaussian sensor noise of ``noise_std`` metres on every coordinate.

Axis convention
---------------
Metres, right-handed, **y up**; the ground is ``y = 0``. In the rest pose the body faces **+z** and
its left side is **+x** (SMPL's convention). A clip with facing yaw ``psi`` faces
``(sin psi, 0, cos psi)``. Frame rate :data:`FPS` = 30.

Subjects and order keys
-----------------------
Clip ``i`` of a category (``i = 0 .. clips_per_class-1``) belongs to subject
``i * n_subjects // clips_per_class``; its trial number counts the subject's clips of that category.
``order_keys = (subject, trial)``, so the protocol's per-category 80/20 split puts the first subjects
in the training pool and the last ones in the test set (close to subject-wise).

Categories (:data:`SYNTHETIC_ACTIONS`, label = index in the tuple that was asked for) include pairs
that are alike on purpose: walk/run/turn (stepping legs), squat/sit (hip and knee flexion),
wave/reach/punch (one arm raised or extended), jump/squat (crouching), kick/walk (a leg swinging
forward).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from haad.data.collection import Collection
from haad.skeleton import SMPL24

FPS = 30.0
"""Frame rate of the synthetic clips (frames per second)."""

SYNTHETIC_ACTIONS: tuple[str, ...] = (
    "walk", "run", "jump", "squat", "wave", "reach", "punch", "clap", "bow", "kick", "turn", "sit",
)
"""Every action the synthesiser knows, in default label order (the protocol's unseen categories are
the last ceil(C / 4): kick, turn and sit for the full set)."""

MIN_FRAMES = 45
MAX_FRAMES = 120

_IDX = {n: i for i, n in enumerate(SMPL24.joint_names)}
_PARENTS = np.asarray(SMPL24.parents)

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
_ANKLE_CLEARANCE = 0.075
_FOOT_CLEARANCE = 0.025
_CROWN = 0.11  # top of the head above the head joint


def _template_offsets() -> np.ndarray:
    off = np.zeros((SMPL24.num_joints, 3))
    for name, v in _CENTRE_OFFSETS.items():
        off[_IDX[name]] = v
    for part, v in _LEFT_OFFSETS.items():
        off[_IDX["left_" + part]] = v
        off[_IDX["right_" + part]] = (-v[0], v[1], v[2])
    return off


_TEMPLATE = _template_offsets()


def rest_pose(offsets: np.ndarray | None = None) -> np.ndarray:
    """Joint positions (24, 3) of the T-pose with the given bone offsets (default: the template),
    pelvis at the origin."""
    off = _TEMPLATE if offsets is None else np.asarray(offsets, dtype=np.float64)
    pos = np.zeros((SMPL24.num_joints, 3))
    for j in range(1, SMPL24.num_joints):
        pos[j] = pos[_PARENTS[j]] + off[j]
    return pos


def stature(offsets: np.ndarray | None = None) -> float:
    """Approximate standing height (metres): floor to the top of the head in the rest pose."""
    off = _TEMPLATE if offsets is None else np.asarray(offsets)
    pos = rest_pose(off)
    scale = np.linalg.norm(off[_IDX["left_ankle"]]) / np.linalg.norm(_TEMPLATE[_IDX["left_ankle"]])
    head_scale = np.linalg.norm(off[_IDX["head"]]) / np.linalg.norm(_TEMPLATE[_IDX["head"]])
    return float(pos[_IDX["head"], 1] - pos[_IDX["left_ankle"], 1] + _ANKLE_CLEARANCE * scale + _CROWN * head_scale)


_TEMPLATE_STATURE = stature(_TEMPLATE)


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
    off = _TEMPLATE * (height / _TEMPLATE_STATURE)
    for name, j in _IDX.items():
        part = name.split("_", 1)[1] if name.startswith(("left_", "right_")) else name
        off[j] = off[j] * seg[_SEGMENT[part]]
    return Subject(
        offsets=off,
        height=stature(off),
        lean=np.deg2rad(rng.uniform(-3.0, 6.0)),
        arm_swing=rng.uniform(0.7, 1.3),
        knee_bend=np.deg2rad(rng.uniform(0.0, 8.0)),
    )


# --------------------------------------------------------------------------------------------
# Kinematics


def _euler_to_matrix(ang: np.ndarray) -> np.ndarray:
    """(..., 3) Euler angles (x, y, z), radians -> (..., 3, 3) rotation ``Ry @ Rx @ Rz``."""
    return np.moveaxis(_euler_components(ang[..., 0], ang[..., 1], ang[..., 2]), (0, 1), (-2, -1))


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
        p = _PARENTS[i]
        pos[i] = pos[p] + (rg[p] * off[i][None, :, :]).sum(axis=1)
        rg[i] = (rg[p][:, :, None, :] * rloc[i][None, :, :, :]).sum(axis=1)
    return np.ascontiguousarray(pos.transpose(2, 0, 1))


# --------------------------------------------------------------------------------------------
# Motion description


class _Motion:
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
        self._add(_IDX["left_" + part], x, y, z, 1.0)

    def R(self, part: str, x=0.0, y=0.0, z=0.0) -> None:
        self._add(_IDX["right_" + part], x, y, z, -1.0)

    def side(self, left: bool):
        return self.L if left else self.R

    def B(self, part: str, x=0.0, y=0.0, z=0.0) -> None:
        self.L(part, x, y, z)
        self.R(part, x, y, z)

    def C(self, name: str, x=0.0, y=0.0, z=0.0) -> None:
        """Centre joints (pelvis, spine*, neck): x > 0 leans forward, y turns left, z bends right."""
        self._add(_IDX[name], x, y, z, 1.0)


@dataclass
class _Ctx:
    ph: np.ndarray  # phase, radians
    f: float  # cycle frequency, Hz
    amp: float  # amplitude factor
    left: bool  # one-sided actions use the left limb
    subject: Subject
    scale: float  # leg length relative to the template
    rng: np.random.Generator


def _relu(x):
    return np.maximum(x, 0.0)


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _raise_env(m: _Motion, c: _Ctx, dur: float = 0.35) -> np.ndarray:
    """0 -> 1 ramp near the start of a clip (a limb being brought into position)."""
    t0 = c.rng.uniform(0.0, 0.25)
    return _smoothstep((m.t - t0) / dur)


def _stand(m: _Motion, c: _Ctx) -> None:
    s = c.subject
    m.B("shoulder", z=-72.0, x=3.0)
    m.B("elbow", y=-12.0)
    m.B("collar", z=-4.0)
    m.B("hip", z=2.0)
    m.B("knee", x=np.rad2deg(s.knee_bend))
    m.B("ankle", x=-np.rad2deg(s.knee_bend) * 0.5)
    m.C("spine2", x=np.rad2deg(s.lean))


def _arms_free(m: _Motion, c: _Ctx, p_other: float) -> bool:
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


def _idle(m: _Motion, c: _Ctx) -> None:
    """Per-clip nuisance present in every action: head turn, weight shift onto one leg."""
    rng = c.rng
    m.C("neck", y=rng.uniform(-20.0, 20.0), x=rng.uniform(-8.0, 12.0))
    shift = rng.uniform(-6.0, 6.0)
    m.C("pelvis", z=shift)
    m.C("spine1", z=-shift)
    m.L("hip", z=-shift)
    m.R("hip", z=shift)


def _gait(m: _Motion, c: _Ctx, hip: float, knee: float, arm: float, elbow: float, ankle: float) -> None:
    """Alternating leg and arm swing: left hip forward when sin(phi) > 0, arms opposite."""
    a, ph = c.amp, c.ph
    sw = c.subject.arm_swing
    for sign, side in ((1.0, m.L), (-1.0, m.R)):
        p = ph if sign > 0 else ph + np.pi
        side("hip", x=-a * hip * np.sin(p) - 4.0)
        # Knee flexes while the leg swings forward (hip flexion increasing) and a little at contact.
        side("knee", x=a * knee * _relu(np.cos(p)) ** 1.5 + 0.15 * knee * _relu(np.sin(p)) ** 2)
        side("ankle", x=a * ankle * np.sin(p + 0.6))
        side("shoulder", x=a * sw * arm * np.sin(p))
        side("elbow", y=-elbow - 0.3 * a * sw * arm * _relu(-np.sin(p)))
    m.C("pelvis", y=5.0 * a * np.sin(ph))
    m.C("spine3", y=-8.0 * a * np.sin(ph))


def _walk(m: _Motion, c: _Ctx) -> None:
    free = _arms_free(m, c, 0.3)
    _gait(m, c, hip=24.0, knee=45.0, arm=18.0 if free else 2.0, elbow=10.0 if free else 0.0, ankle=10.0)
    m.speed += 1.55 * c.f * c.scale * (0.6 + 0.4 * c.amp)


def _run(m: _Motion, c: _Ctx) -> None:
    _gait(m, c, hip=38.0, knee=85.0, arm=32.0, elbow=75.0, ankle=18.0)
    m.C("spine1", x=10.0)
    m.C("spine2", x=4.0)
    m.speed += 2.2 * c.f * c.scale * (0.6 + 0.4 * c.amp)
    # Flight twice per cycle (after each push-off).
    m.lift += 0.07 * c.scale * c.amp * _relu(np.sin(2.0 * c.ph)) ** 2


def _jump(m: _Motion, c: _Ctx) -> None:
    u = np.mod(c.ph / (2.0 * np.pi), 1.0)
    crouch = np.exp(-0.5 * ((u - 0.22) / 0.09) ** 2) + np.exp(-0.5 * ((u - 0.92) / 0.05) ** 2) * 0.6
    fl = (u > 0.35) & (u < 0.80)
    flight = np.where(fl, np.sin(np.pi * np.clip((u - 0.35) / 0.45, 0, 1)), 0.0)
    a = c.amp
    m.B("hip", x=-55.0 * a * crouch)
    m.B("knee", x=95.0 * a * crouch + 10.0 * flight)
    m.B("ankle", x=-30.0 * a * crouch + 25.0 * flight)
    m.C("spine1", x=25.0 * a * crouch)
    # Arms swing back in the crouch, forward and up at take-off.
    swing = 45.0 * crouch - 140.0 * a * np.exp(-0.5 * ((u - 0.45) / 0.12) ** 2)
    m.B("shoulder", x=swing)
    m.B("elbow", y=-15.0 * crouch)
    m.lift += 0.30 * c.scale * a * flight


def _squat(m: _Motion, c: _Ctx) -> None:
    s = (0.5 - 0.5 * np.cos(c.ph)) * c.amp
    m.B("hip", x=-105.0 * s, z=8.0 * s)
    m.B("knee", x=125.0 * s)
    m.B("ankle", x=-30.0 * s)
    m.C("spine1", x=25.0 * s)
    if c.rng.random() < 0.65:  # arms forward for balance
        m.B("shoulder", x=-80.0 * s)
    else:
        _arms_free(m, c, 1.0)
    m.back += 0.10 * c.scale * s


def _sit(m: _Motion, c: _Ctx) -> None:
    t0 = c.rng.uniform(0.05, 0.4)
    dur = 1.0 / c.f  # seated within about 2 s (the protocol's window)
    s = _smoothstep((m.t - t0) / dur)
    bump = np.sin(np.pi * np.clip((m.t - t0) / dur, 0, 1)) ** 2
    a = c.amp
    m.B("hip", x=-88.0 * s, z=6.0 * s)
    m.B("knee", x=90.0 * s)
    m.C("spine1", x=30.0 * a * bump)
    m.C("neck", x=-12.0 * a * bump)
    if c.rng.random() < 0.6:  # hands come to rest on the thighs
        m.B("shoulder", x=-35.0 * s, z=8.0 * s)
        m.B("elbow", y=-35.0 * s)
    else:
        _arms_free(m, c, 0.8)
    # Slight settling once seated.
    m.C("spine2", x=-6.0 * s + 2.0 * s * np.sin(c.ph))
    m.back += 0.12 * c.scale * s


def _wave(m: _Motion, c: _Ctx) -> None:
    e = _raise_env(m, c)
    arm = m.side(c.left)
    arm("shoulder", z=(110.0 + 12.0 * (c.amp - 1.0)) * e, x=-18.0 * e)
    arm("elbow", z=70.0 * e + 28.0 * c.amp * np.sin(c.ph) * e, y=12.0 * e)
    arm("wrist", z=12.0 * np.sin(c.ph + 0.8) * e)
    m.C("spine3", z=(3.0 if c.left else -3.0) * e)


def _reach(m: _Motion, c: _Ctx) -> None:
    s = 0.5 - 0.5 * np.cos(c.ph)
    elev = c.rng.uniform(-20.0, 25.0)
    lateral = c.rng.uniform(-10.0, 25.0)
    arm = m.side(c.left)
    arm("shoulder", x=-(90.0 + elev) * s * c.amp, y=-lateral * s, z=10.0 * s)
    arm("elbow", y=-60.0 * (1.0 - s) + 10.0)
    arm("wrist", x=-10.0 * s)
    m.C("spine2", x=12.0 * s * c.amp, y=(-10.0 if c.left else 10.0) * s)


def _punch(m: _Motion, c: _Ctx) -> None:
    e = _raise_env(m, c, 0.25)
    a = c.amp
    m.B("knee", x=15.0)
    m.B("hip", x=-10.0)
    lead = c.left
    for is_left, p in ((lead, c.ph), (not lead, c.ph + np.pi)):
        s = _relu(np.sin(p)) ** 3
        arm = m.side(is_left)
        arm("shoulder", x=(-55.0 - 30.0 * a * s) * e, z=(45.0 + 20.0 * s) * e, y=-20.0 * s * e)
        arm("elbow", y=-(120.0 * (1.0 - s) + 5.0) * e)
    tw = np.sin(c.ph) * 18.0 * a
    m.C("spine2", y=-tw if lead else tw)


def _clap(m: _Motion, c: _Ctx) -> None:
    e = _raise_env(m, c)
    close = _relu(np.sin(c.ph)) ** 0.7
    a = c.amp
    m.B("shoulder", x=-62.0 * e, y=(-15.0 - 22.0 * a * close) * e, z=20.0 * e)
    m.B("elbow", y=-(45.0 + 15.0 * close) * e)
    m.B("wrist", x=10.0 * e)
    m.C("neck", x=6.0 * e)


def _bow(m: _Motion, c: _Ctx) -> None:
    s = (0.5 - 0.5 * np.cos(c.ph)) ** 1.3 * c.amp
    m.C("pelvis", x=30.0 * s)
    m.B("hip", x=-28.0 * s)
    m.C("spine1", x=15.0 * s)
    m.C("spine2", x=12.0 * s)
    m.C("spine3", x=8.0 * s)
    m.C("neck", x=10.0 * s)
    if _arms_free(m, c, 0.3):
        m.B("shoulder", x=-12.0 * s)
    m.back += 0.08 * c.scale * s


def _kick(m: _Motion, c: _Ctx) -> None:
    u = _relu(np.sin(c.ph))
    chamber = _relu(np.sin(2.0 * c.ph)) * (np.sin(c.ph) > 0)
    a = c.amp
    leg = m.side(c.left)
    other = m.side(not c.left)
    leg("hip", x=-75.0 * a * u ** 1.5)
    leg("knee", x=85.0 * chamber + 5.0)
    leg("ankle", x=25.0 * u)
    other("knee", x=12.0 * u)
    m.B("shoulder", z=35.0 * u, x=-15.0 * u)
    m.C("spine1", x=-12.0 * u)
    m.C("pelvis", x=-8.0 * u)


def _turn(m: _Motion, c: _Ctx) -> None:
    direction = 1.0 if c.rng.random() < 0.5 else -1.0
    omega = np.deg2rad(95.0) * c.f / 1.1 * c.amp
    m.turn += direction * omega * m.t
    free = _arms_free(m, c, 0.3)
    _gait(m, c, hip=10.0, knee=35.0, arm=6.0 if free else 0.0, elbow=12.0 if free else 0.0, ankle=6.0)
    m.B("hip", z=4.0 * np.abs(np.sin(c.ph)))
    m.C("spine3", y=direction * 8.0)
    m.C("neck", y=direction * 12.0)


# name -> (builder, base cycle frequency in Hz, range of the starting phase in cycles, discrete).
# Repetitive actions start anywhere in their cycle. Discrete ones (jump, squat, reach, bow, kick)
# start near the neutral stance, as segmented recordings of an action do: a negative starting
# phase is a delay during which the subject stands still (the phase is held at 0).
_ACTIONS = {
    "walk": (_walk, 0.9, (0.0, 1.0), False),
    "run": (_run, 1.35, (0.0, 1.0), False),
    "jump": (_jump, 0.75, (-0.2, 0.1), True),
    "squat": (_squat, 0.45, (-0.25, 0.1), True),
    "wave": (_wave, 1.6, (0.0, 1.0), False),
    "reach": (_reach, 0.5, (-0.25, 0.1), True),
    "punch": (_punch, 1.1, (0.0, 1.0), False),
    "clap": (_clap, 1.8, (0.0, 1.0), False),
    "bow": (_bow, 0.4, (-0.2, 0.1), True),
    "kick": (_kick, 0.6, (-0.3, 0.0), True),
    "turn": (_turn, 1.1, (0.0, 1.0), False),
    "sit": (_sit, 0.8, (0.0, 1.0), False),
}
assert tuple(_ACTIONS) == SYNTHETIC_ACTIONS


def _sway(t: np.ndarray, rng: np.random.Generator, deg: float) -> np.ndarray:
    """Small smooth random angle perturbations (T, 24, 3), degrees."""
    j = SMPL24.num_joints
    amp = rng.uniform(0.0, deg, size=(j, 3))
    freq = rng.uniform(0.15, 0.7, size=(j, 3))
    phase = rng.uniform(0.0, 2.0 * np.pi, size=(j, 3))
    return amp * np.sin(2.0 * np.pi * freq * t[:, None, None] + phase)


@dataclass
class _Plan:
    """Everything about a clip except its forward kinematics."""

    offsets: np.ndarray  # (24, 3)
    angles: np.ndarray  # (T, 24, 3) radians
    heading: np.ndarray  # (T,) radians
    motion: _Motion
    start: np.ndarray  # (2,) x, z
    scale: float
    fps: float
    rng: np.random.Generator


def _plan_clip(action: str, subject: Subject, rng: np.random.Generator, num_frames: int | None,
               yaw_range: float, left_prob: float, fps: float) -> _Plan:
    try:
        build, f0, (ph_lo, ph_hi), discrete = _ACTIONS[action]
    except KeyError:
        raise ValueError(f"unknown synthetic action {action!r}; known: {list(SYNTHETIC_ACTIONS)}") from None
    n = int(rng.integers(MIN_FRAMES, MAX_FRAMES + 1)) if num_frames is None else int(num_frames)
    if n < 1:
        raise ValueError(f"num_frames must be >= 1, got {n}")
    t = np.arange(n) / fps
    f = f0 * rng.uniform(0.8, 1.2)
    scale = float(np.linalg.norm(subject.offsets[_IDX["left_knee"]]) / np.linalg.norm(_TEMPLATE[_IDX["left_knee"]]))
    cycles = f * t + rng.uniform(ph_lo, ph_hi)
    if discrete:
        cycles = np.maximum(cycles, 0.0)
    ctx = _Ctx(
        ph=2.0 * np.pi * cycles,
        f=f,
        amp=rng.uniform(0.8, 1.2),
        left=bool(rng.random() < left_prob),
        subject=subject,
        scale=scale,
        rng=rng,
    )
    yaw0 = np.deg2rad(rng.uniform(-yaw_range, yaw_range))
    start = rng.uniform(-1.0, 1.0, size=2)
    m = _Motion(t)
    _stand(m, ctx)
    _idle(m, ctx)
    build(m, ctx)
    angles = np.deg2rad(m.ang + _sway(t, rng, 3.0))
    return _Plan(subject.offsets, angles, yaw0 + m.turn, m, start, scale, fps, rng)


def _finish_clip(plan: _Plan, pos: np.ndarray, noise_std: float) -> np.ndarray:
    """Place a pelvis-centred FK result (T, 24, 3) on the ground and along its path; add noise."""
    m, heading = plan.motion, plan.heading
    # Ground contact: the lowest of the heel (below the ankle) and toe (below the foot) points is on y = 0.
    feet = np.concatenate(
        [
            pos[:, [_IDX["left_ankle"], _IDX["right_ankle"]], 1] - _ANKLE_CLEARANCE * plan.scale,
            pos[:, [_IDX["left_foot"], _IDX["right_foot"]], 1] - _FOOT_CLEARANCE * plan.scale,
        ],
        axis=1,
    )
    root_y = -feet.min(axis=1) + m.lift
    # Horizontal root path: integrate the body-frame velocity along the current heading.
    fwd = np.stack([np.sin(heading), np.cos(heading)], -1)  # (x, z) of the facing direction
    left = np.stack([np.cos(heading), -np.sin(heading)], -1)  # (x, z) of the body's left
    vel = m.speed[:, None] * fwd + m.side_speed[:, None] * left
    path = np.concatenate([np.zeros((1, 2)), np.cumsum(vel[:-1], axis=0) / plan.fps], axis=0)
    path = path - m.back[:, None] * fwd + plan.start
    pos = pos + np.stack([path[:, 0], root_y, path[:, 1]], -1)[:, None, :]
    if noise_std > 0:
        pos += plan.rng.normal(0.0, noise_std, size=pos.shape)
    return pos.astype(np.float32)


def synthesize_clip(
    action: str,
    subject: Subject,
    rng: np.random.Generator,
    num_frames: int | None = None,
    noise_std: float = 0.01,
    yaw_range: float = 45.0,
    left_prob: float = 0.2,
    fps: float = FPS,
) -> np.ndarray:
    """One float32 (T, 24, 3) clip of ``action`` performed by ``subject`` (see the module docstring).

    ``synthesize`` draws the same clip from the same generator state (it only batches the
    kinematics of many clips).
    """
    plan = _plan_clip(action, subject, rng, num_frames, yaw_range, left_prob, fps)
    return _finish_clip(plan, forward_kinematics(plan.offsets, plan.angles, plan.heading), noise_std)


def synthesize(
    clips_per_class: int = 40,
    seed: int = 0,
    actions: tuple[str, ...] | None = None,
    noise_std: float = 0.01,
    n_subjects: int = 8,
    yaw_range: float = 45.0,
    left_prob: float = 0.2,
    fps: float = FPS,
) -> Collection:
    """The embedded synthetic dataset: ``clips_per_class`` clips of each action.

    Args:
        clips_per_class: clips of every action.
        seed: everything is a deterministic function of the seed (and of the action's name, so a
            subset of ``actions`` reproduces the same clips for those actions).
        actions: action names (subset / order of :data:`SYNTHETIC_ACTIONS`); label = position here.
        noise_std: standard deviation (metres) of iid Gaussian noise on every coordinate.
        n_subjects: number of synthetic performers; clips are assigned to them in order.
        yaw_range: facing yaw drawn uniformly in +-``yaw_range`` degrees (180 = any direction).
        left_prob: probability that a one-sided action (wave, reach, punch lead, kick) uses the left limb.
        fps: frame rate used to turn cycle frequencies into frames.

    Returns:
        A :class:`Collection` with float32 (T, 24, 3) clips (T in 45..120), the SMPL24 layout and
        ``order_keys`` = (subject, trial).
    """
    if clips_per_class < 1:
        raise ValueError(f"clips_per_class must be >= 1, got {clips_per_class}")
    if n_subjects < 1:
        raise ValueError(f"n_subjects must be >= 1, got {n_subjects}")
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std}")
    actions = SYNTHETIC_ACTIONS if actions is None else tuple(actions)
    if len(actions) == 0:
        raise ValueError("no actions requested")
    unknown = [a for a in actions if a not in _ACTIONS]
    if unknown:
        raise ValueError(f"unknown synthetic action(s) {unknown}; known: {list(SYNTHETIC_ACTIONS)}")
    if len(set(actions)) != len(actions):
        raise ValueError(f"duplicate actions in {list(actions)}")

    subjects = [make_subject(seed, s) for s in range(n_subjects)]
    plans, labels, keys, names = [], [], [], []
    for label, action in enumerate(actions):
        aid = SYNTHETIC_ACTIONS.index(action)
        trial_count: dict[int, int] = {}
        for i in range(clips_per_class):
            s = i * n_subjects // clips_per_class
            trial = trial_count.get(s, 0)
            trial_count[s] = trial + 1
            rng = np.random.default_rng([int(seed), aid, i])
            plans.append(_plan_clip(action, subjects[s], rng, None, yaw_range, left_prob, fps))
            labels.append(label)
            keys.append((s, trial))
            names.append(f"{action}_s{s:02d}_t{trial:02d}")
    # One forward-kinematics pass over the frames of every clip.
    lengths = [len(p.heading) for p in plans]
    pos = forward_kinematics(
        np.concatenate([np.broadcast_to(p.offsets, (n,) + p.offsets.shape) for p, n in zip(plans, lengths)]),
        np.concatenate([p.angles for p in plans]),
        np.concatenate([p.heading for p in plans]),
    )
    bounds = np.cumsum([0] + lengths)
    clips = [_finish_clip(p, pos[a:b], noise_std) for p, a, b in zip(plans, bounds[:-1], bounds[1:])]
    return Collection(
        clips=clips,
        labels=np.asarray(labels, dtype=np.int64),
        class_names=list(actions),
        layout=SMPL24,
        order_keys=np.asarray(keys, dtype=np.int64),
        names=names,
        source="synthetic",
    )
