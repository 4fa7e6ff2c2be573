"""Sensor normalisation: clips from any sensor in one space (metres, y up, one facing, one size, one rate).

Sensors differ in units (metres, centimetres, millimetres), in which axis points up (Kinect: y;
Florence 3D's OpenNI export: z), in where the camera stands relative to the person, in the size of
the person and in frame rate. :func:`normalize_clip` removes each of these differences with one
simple step, decided from the body in the clip itself and never from the file:

1. ``units``   -- scale by the factor among ``unit_factors`` (1, 0.01, 0.001) that brings the body
   height (see :func:`body_height`) nearest to a typical adult joint-chain height, 1.4 m. Decimal
   factors are 10x apart, so every body whose joint-chain height lies between 0.44 and 4.4 m, in any
   of the units, gets the right factor (children included).
2. ``up_axis`` -- rotate so that the mean direction from pelvis to neck over the clip becomes +y
   (the smallest rotation that does it). With ``up_snap`` only the nearest coordinate axis (+-x,
   +-y, +-z) is turned to +y: the axis convention is fixed while camera tilt and the body's mean
   lean stay as recorded.
3. ``facing``  -- rotate about +y so that, in the first frame (the first one where it is defined),
   the horizontal part of (right hip - left hip) + (right shoulder - left shoulder) points along +x.
   The body then faces -z: the frontal Kinect view, in which the datasets here are already
   recorded, is left unrotated.
4. ``scale``   -- scale so that the body height becomes ``height`` (default 1.7, the joint-chain
   height of :func:`body_height`, not a standing height: head and ankle joints lie inside the body).
   Removes differences in body size (adults against children, sensor scale errors).
5. ``center``  -- translate so that the pelvis is at the origin in the first frame (camera
   placement says nothing about the action).
6. ``fps``     -- resample linearly in time to this frame rate when the clip's own rate is known.

``handedness`` (collections only): some exports are mirror images of the body (a left-handed
coordinate frame with correct left/right labels; Florence 3D's is one). No rotation can undo a
mirror, so after steps 2-3 such bodies face +z instead of -z. :func:`normalize_collection` detects
this from the hands: in almost every action the wrists are in front of the neck, so when more
than two thirds of a collection's clips have them behind (median over frames), the whole collection
is taken as mirrored and z is negated. The decision is made once per collection (of at least five
clips), never per clip, so one unusual clip cannot swap the sides of its motion;
:func:`normalize_clip` takes it as the ``mirrored`` argument, and :func:`detect_mirrored` makes it
once for a sensor so that its later clips can be treated alike.

Steps 1-5 (and the mirror) are one affine map per clip, ``x @ A.T + b`` (:func:`clip_transform`);
all are deterministic and computed in float64, with float32 out. Each clip's map depends on that
clip alone; :func:`normalize_clips` and :func:`normalize_frames` measure many clips in the same numpy
calls (clips held end to end), which is what makes preparing short clips cheap. Degenerate input (zero-length bones, a
single frame, all joints at one point) leaves the corresponding step as the identity instead of
producing NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from haad.canonical import CANONICAL, map_layout
from haad.data.windows import frame_blocks
from haad.skeleton import Layout

__all__ = [
    "MIN_VOTERS",
    "TYPICAL_CHAIN_HEIGHT",
    "SensorNormConfig",
    "body_height",
    "clip_transform",
    "detect_mirrored",
    "facing_rotation",
    "hands_forward",
    "is_mirrored",
    "normalize_clip",
    "normalize_clips",
    "normalize_collection",
    "normalize_frames",
    "resample_fps",
    "unit_factor",
    "up_rotation",
]

# Joint-chain height (ankle -> knee -> hip -> pelvis -> spine -> neck -> head) of a typical adult,
# in metres; the units step picks the factor that lands nearest to it.
TYPICAL_CHAIN_HEIGHT = 1.4
_EPS = 1e-9


@dataclass(frozen=True)
class SensorNormConfig:
    """Which normalisation steps to run (module docstring: what each does and why).

    Attributes:
        units: convert to metres, with the factor decided from the body's size.
        unit_factors: the candidate factors for ``units``. Adding 0.0254 (inches) is possible but
            makes small bodies ambiguous: a child in centimetres can look like an adult in inches.
        up_axis: rotate the body's up direction (pelvis -> neck over the clip) to +y.
        up_snap: with ``up_axis``, only turn the nearest coordinate axis to +y.
        facing: rotate about +y so the body faces -z in the first frame (left -> right along +x).
        scale: scale every body to the same height.
        height: the body height (:func:`body_height`) after ``scale``.
        center: put the first frame's pelvis at the origin.
        handedness: in :func:`normalize_collection`, detect a mirrored collection and un-mirror it
            (needs ``up_axis`` and ``facing``; ignored without them).
        fps: resample to this frame rate when the clip's rate is known; ``None`` keeps the frames.
    """

    units: bool = True
    up_axis: bool = True
    facing: bool = True
    scale: bool = True
    fps: float | None = 30.0
    center: bool = True
    handedness: bool = True
    up_snap: bool = False
    height: float = 1.7
    unit_factors: tuple[float, ...] = (1.0, 0.01, 0.001)

    @classmethod
    def from_dict(cls, d: dict) -> "SensorNormConfig":
        """The config from its JSON form (``dataclasses.asdict``, as checkpoints store it)."""
        return cls(**{**d, "unit_factors": tuple(d["unit_factors"])})

    def __post_init__(self) -> None:
        if self.fps is not None and not (np.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"SensorNormConfig.fps must be a positive number or None, got {self.fps}")
        if not (np.isfinite(self.height) and self.height > 0):
            raise ValueError(f"SensorNormConfig.height must be positive, got {self.height}")
        if not self.unit_factors or any(not (np.isfinite(f) and f > 0) for f in self.unit_factors):
            raise ValueError(f"SensorNormConfig.unit_factors must be positive numbers, got {self.unit_factors}")


_J = {n: i for i, n in enumerate(CANONICAL.joint_names)}
# Bones of the height chain as (joint, joint, weight): each leg bone counts half, once per side.
_CHAIN = [("pelvis", "spine", 1.0), ("spine", "neck", 1.0), ("neck", "head", 1.0)] + [
    (a.format(s), b.format(s), 0.5)
    for s in ("left", "right")
    for a, b in (("{}_ankle", "{}_knee"), ("{}_knee", "{}_hip"), ("{}_hip", "pelvis"))
]
_CHAIN_A = np.array([_J[a] for a, _, _ in _CHAIN])
_CHAIN_B = np.array([_J[b] for _, b, _ in _CHAIN])
_CHAIN_W = np.array([w for _, _, w in _CHAIN])


def _canonical_view(clip, layout: Layout) -> np.ndarray:
    """The clip on the canonical skeleton, float64 (T, 16, 3): the joints every step measures."""
    x = np.asarray(clip, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 3 or x.shape[1] != layout.num_joints:
        raise ValueError(f"expected a (T, {layout.num_joints}, 3) clip for layout {layout.name!r}, got {x.shape}")
    if layout is CANONICAL or layout == CANONICAL:
        return x
    return map_layout(layout).apply(x).astype(np.float64)


class _Frames:
    """Many clips' frames end to end: float64 ``x`` (F, 16, 3) on the canonical skeleton, which every
    step measures, ``source`` (the clips' own skeleton, which the maps apply to; ``None``: ``x``),
    and where each clip lies.

    Every step measures each clip on its own; holding the clips end to end lets one numpy call per
    quantity measure all of them (per-clip calls cost far more in overhead than in arithmetic).
    """

    def __init__(self, x: np.ndarray, lengths, source: np.ndarray | None = None):
        self.x, self.source = x, source
        self.lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
        if len(self.lengths) == 0 or (self.lengths < 1).any():
            raise ValueError(f"need at least one clip of at least one frame, got lengths {self.lengths.tolist()[:8]}")
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        self.ids = np.repeat(np.arange(len(self.lengths)), self.lengths)

    @classmethod
    def of(cls, clips, layout: Layout = CANONICAL) -> "_Frames":
        """Clips of ``layout`` (each checked and mapped like :func:`_canonical_view`), end to end."""
        clips = [np.asarray(c) for c in clips]
        j = layout.num_joints
        for i, c in enumerate(clips):
            if c.ndim != 3 or c.shape[1:] != (j, 3) or len(c) == 0:
                raise ValueError(f"clip {i}: expected a (T, {j}, 3) clip for layout {layout.name!r}, got {c.shape}")
        x = np.concatenate(clips).astype(np.float64, copy=False) if len(clips) > 1 else \
            clips[0].astype(np.float64, copy=False)
        if layout is CANONICAL or layout == CANONICAL:
            return cls(x, [len(c) for c in clips])
        return cls(map_layout(layout).apply(x).astype(np.float64), [len(c) for c in clips], source=x)

    def median(self, v: np.ndarray) -> np.ndarray:
        """(N,) median of each clip's frames of per-frame values ``v`` (F,), as :func:`numpy.median`."""
        n = self.lengths
        v = v[np.lexsort((v, self.ids))]  # each clip's values in order, clip after clip
        return (v[self.starts + (n - 1) // 2] + v[self.starts + n // 2]) / 2

    def transform(self, a: np.ndarray, b: np.ndarray | None = None, frames: np.ndarray | None = None) -> np.ndarray:
        """``frames`` (default ``x``; F frames of any joints) through their clip's affine map,
        ``frames @ a[clip].T + b[clip]``.

        One matrix product per clip: the same float64 products as a single clip's ``x @ a.T``, and
        faster than one broadcast expression over all frames (whose temporaries are 9 times the frames)."""
        x = self.x if frames is None else frames
        out = np.empty_like(x)
        for i, (s, n) in enumerate(zip(self.starts.tolist(), self.lengths.tolist())):
            np.matmul(x[s:s + n], a[i].T, out=out[s:s + n])
            if b is not None:
                out[s:s + n] += b[i]
        return out


def _heights(fr: _Frames) -> np.ndarray:
    """(N,) :func:`body_height` of each clip."""
    d = fr.x[:, _CHAIN_A] - fr.x[:, _CHAIN_B]
    lengths = np.sqrt(d[..., 0] ** 2 + d[..., 1] ** 2 + d[..., 2] ** 2)  # (F, bones); the sum as .sum(-1) adds
    return fr.median(lengths @ _CHAIN_W)


def body_height(clip, layout: Layout = CANONICAL) -> float:
    """Body size: the median over frames of the summed bone lengths ankle -> knee -> hip -> pelvis ->
    spine -> neck -> head (each leg bone averaged over left and right).

    Bone lengths do not depend on pose or orientation, so this is stable through bending, sitting
    and lying down; the median ignores frames with tracking glitches.
    """
    c = _canonical_view(clip, layout)
    return float(_heights(_Frames(c, [len(c)]))[0])


def _unit_factors(heights: np.ndarray, factors) -> np.ndarray:
    """(N,) :func:`unit_factor` of each height."""
    h = np.asarray(heights, dtype=np.float64)
    f = np.asarray(factors, dtype=np.float64)
    ok = np.isfinite(h) & (h > _EPS)
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.abs(np.log(f[None] * np.where(ok, h, 1.0)[:, None] / TYPICAL_CHAIN_HEIGHT))
    return np.where(ok, f[np.argmin(dist, axis=1)], 1.0)


def unit_factor(height: float, factors=(1.0, 0.01, 0.001)) -> float:
    """The factor in ``factors`` that brings ``height`` nearest (in ratio) to :data:`TYPICAL_CHAIN_HEIGHT` metres.

    1.0 for a degenerate (zero or non-finite) height.
    """
    return float(_unit_factors([height], factors)[0])


def _rotations_onto_y(u: np.ndarray) -> np.ndarray:
    """(N, 3, 3): the smallest rotation taking each unit vector of ``u`` (N, 3) to +y (Rodrigues' formula)."""
    c = u[:, 1]
    # k is the cross-product matrix of v = u x (+y) = (-u_z, 0, u_x)
    k = np.zeros((len(u), 3, 3))
    k[:, 0, 1], k[:, 1, 0] = -u[:, 0], u[:, 0]
    k[:, 1, 2], k[:, 2, 1] = u[:, 2], -u[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.eye(3) + k + (k @ k) / (1 + c)[:, None, None]
    r[c > 1 - 1e-12] = np.eye(3)
    r[c < -1 + 1e-12] = np.diag([1.0, -1.0, -1.0])  # upside down: half a turn about x
    return r


def _up_rotations(fr: _Frames, trunk: np.ndarray, snap: bool) -> np.ndarray:
    """(N, 3, 3) :func:`up_rotation` of each clip, from its frames' pelvis and neck ``trunk`` (F, 2, 3)."""
    d = trunk[:, 1] - trunk[:, 0]
    n = np.linalg.norm(d, axis=-1)
    ok = n > _EPS
    unit = np.where(ok[:, None], d / np.where(ok, n, 1.0)[:, None], 0.0)
    count = np.add.reduceat(ok.astype(np.int64), fr.starts)
    u = np.add.reduceat(unit, fr.starts, axis=0) / np.maximum(count, 1)[:, None]
    norm = np.linalg.norm(u, axis=-1)
    keep = (count > 0) & (norm >= 1e-6)
    u = np.where(keep[:, None], u / np.where(keep, norm, 1.0)[:, None], (0.0, 1.0, 0.0))
    if snap:
        k = np.argmax(np.abs(u), axis=1)
        axis = np.zeros_like(u)
        axis[np.arange(len(u)), k] = np.sign(u[np.arange(len(u)), k])
        u = axis
    return _rotations_onto_y(u)


def up_rotation(clip, layout: Layout = CANONICAL, snap: bool = False) -> np.ndarray:
    """Rotation matrix (3, 3) taking the body's up direction to +y.

    The up direction is the mean over frames of the unit vector from pelvis to neck: the trunk is
    the longest, most rigid part of the body and points up in most frames of most actions. Frames
    where pelvis and neck coincide are skipped; identity when no frame defines a direction.
    ``snap``: replace the direction by the nearest signed coordinate axis first.
    """
    c = _canonical_view(clip, layout)
    return _up_rotations(_Frames(c, [len(c)]), c[:, [_J["pelvis"], _J["neck"]]], snap)[0]


_SIDES = [_J["right_hip"], _J["left_hip"], _J["right_shoulder"], _J["left_shoulder"]]


def _facing_rotations(fr: _Frames, sides: np.ndarray, extent: np.ndarray) -> np.ndarray:
    """(N, 3, 3) :func:`facing_rotation` of each clip, from its y-up frames' side joints ``sides``
    (F, 4, 3: right hip, left hip, right shoulder, left shoulder) and each clip's extent (N,), its
    largest absolute coordinate: a direction shorter than 1e-6 of it (or of 1 m) is none."""
    a = (sides[:, 0] - sides[:, 1]) + (sides[:, 2] - sides[:, 3])
    h = a[:, [0, 2]]
    n = np.linalg.norm(h, axis=-1)
    ok = np.flatnonzero(n > 1e-6 * np.maximum(1.0, extent)[fr.ids])
    # the first defined frame of each clip: the first ok index at or after its start, if inside it
    first = np.searchsorted(ok, fr.starts)
    pick = ok[np.minimum(first, max(len(ok) - 1, 0))] if len(ok) else np.zeros(len(fr.starts), np.int64)
    found = (first < len(ok)) & (pick < fr.starts + fr.lengths)
    phi = np.arctan2(h[pick, 1], h[pick, 0]) if len(ok) else np.zeros(len(fr.starts))
    cs, sn = np.cos(phi), np.sin(phi)
    # x' = cos*x + sin*z, z' = -sin*x + cos*z: (ax, az) -> (|a|, 0).
    r = np.zeros((len(fr.starts), 3, 3))
    r[:, 0, 0], r[:, 0, 2], r[:, 1, 1], r[:, 2, 0], r[:, 2, 2] = cs, sn, 1.0, -sn, cs
    r[~found] = np.eye(3)
    return r


def facing_rotation(clip, layout: Layout = CANONICAL) -> np.ndarray:
    """Rotation (3, 3) about +y that turns the body's left -> right direction to +x in the first frame.

    The left -> right direction is (right hip - left hip) + (right shoulder - left shoulder) with its
    y part dropped; the first frame where it is non-zero is used. Expects a y-up clip (run after
    :func:`up_rotation`). Identity when no frame defines it.
    """
    c = _canonical_view(clip, layout)
    return _facing_rotations(_Frames(c, [len(c)]), c[:, _SIDES], np.array([np.abs(c).max(initial=0.0)]))[0]


def hands_forward(clip, layout: Layout = CANONICAL) -> float:
    """Median over frames of the z offset of the wrists' midpoint from the neck, in a y-up clip that
    faces -z (after steps 2-3). Negative: the hands are in front of the body, as in almost every action.
    """
    c = _canonical_view(clip, layout)
    return float(_hands(_Frames(c, [len(c)]), c)[0])


def _hands(fr: _Frames, x: np.ndarray) -> np.ndarray:
    """(N,) :func:`hands_forward` of each clip of ``x`` (the frames of ``fr``, normalised)."""
    mid = 0.5 * (x[:, _J["left_wrist"], 2] + x[:, _J["right_wrist"], 2])
    return fr.median(mid - x[:, _J["neck"], 2])


def _maps(fr: _Frames, config: SensorNormConfig, mirrored: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Steps 1-5 for every clip of ``fr``: (N, 3, 3) ``A`` and (N, 3) ``b`` (see :func:`clip_transform`)."""
    n = len(fr.lengths)
    a = np.broadcast_to(np.eye(3), (n, 3, 3)).copy()
    h = _heights(fr) if (config.units or config.scale) else np.zeros(n)
    if config.units:
        f = _unit_factors(h, config.unit_factors)
        a, h = f[:, None, None] * a, f * h
    if config.up_axis:
        # a is the units factor times the identity here: scaling the trunk is that product, exactly
        trunk = fr.x[:, [_J["pelvis"], _J["neck"]]] * a[:, 0, 0][fr.ids, None, None]
        a = _up_rotations(fr, trunk, config.up_snap) @ a
    if config.facing:
        # the clip's extent (its largest absolute coordinate, in the units found) sets what "zero" is
        extent = np.maximum.reduceat(np.abs(fr.x).reshape(len(fr.x), -1).max(axis=1), fr.starts) * np.abs(a[:, 0, 0])
        sides = fr.x[:, _SIDES]
        at = a.transpose(0, 2, 1)[fr.ids][:, None]  # (F, 1, 3, 3)
        sides = sides[..., 0, None] * at[:, :, 0] + sides[..., 1, None] * at[:, :, 1] + sides[..., 2, None] * at[:, :, 2]
        a = _facing_rotations(fr, sides, extent) @ a
    if mirrored:
        a = np.diag([1.0, 1.0, -1.0]) @ a
    if config.scale:
        # Rotations and the mirror keep bone lengths: the height is the one measured above.
        big = h > _EPS
        a = np.where(big[:, None, None], (config.height / np.where(big, h, 1.0))[:, None, None] * a, a)
    b = np.zeros((n, 3))
    if config.center:
        p = fr.x[fr.starts, _J["pelvis"]]
        b = -np.stack([p[i] @ a[i].T for i in range(n)])  # as one clip's vector-matrix product rounds
    return a, b


def clip_transform(clip, layout: Layout = CANONICAL, config: SensorNormConfig = SensorNormConfig(),
                   mirrored: bool = False):
    """The affine map of steps 1-5 for one clip: ``(A, b)`` with ``normalised = clip @ A.T + b``.

    ``mirrored``: also negate z after the rotations (for a collection recorded as a mirror image).
    Useful to apply one clip's normalisation to something derived from it (e.g. generated variants).
    """
    x = _canonical_view(clip, layout)
    a, b = _maps(_Frames(x, [len(x)]), config, mirrored)
    return a[0], b[0]


def resample_fps(clip, fps_in: float, fps_out: float) -> np.ndarray:
    """Resample a ``(T, ...)`` clip from ``fps_in`` to ``fps_out`` by linear interpolation in time.

    The output frames sit at times ``k / fps_out`` for every ``k`` with ``k / fps_out`` within the
    clip's duration ``(T - 1) / fps_in``: floor((T - 1) * fps_out / fps_in) + 1 frames, the first
    frame kept exactly. A single frame stays a single frame.
    """
    x = np.asarray(clip)
    if not (fps_in > 0 and fps_out > 0):
        raise ValueError(f"frame rates must be positive, got {fps_in} -> {fps_out}")
    t = x.shape[0]
    if t <= 1 or fps_in == fps_out:
        return x.copy()
    ratio = fps_in / fps_out
    n = int(np.floor((t - 1) / ratio + 1e-6)) + 1
    pos = np.minimum(np.arange(n) * ratio, t - 1)
    i0 = np.minimum(np.floor(pos).astype(np.int64), t - 2)
    w = (pos - i0).reshape((-1,) + (1,) * (x.ndim - 1))
    x64 = x.astype(np.float64, copy=False)
    return ((1 - w) * x64[i0] + w * x64[i0 + 1]).astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64)


def _batches(clips, layout: Layout):
    """:class:`_Frames` of consecutive clips, a block of frames each (:func:`~haad.data.windows.frame_blocks`)."""
    first = 0
    for n in frame_blocks([len(c) for c in clips]):
        yield _Frames.of(clips[first:first + n], layout)
        first += n


def _normalized(fr: _Frames, a: np.ndarray, b: np.ndarray, fps, config: SensorNormConfig):
    """The frames of ``fr`` through their clip's map, resampled to ``config.fps`` when ``fps`` is known:
    float32 frames end to end and each clip's new length."""
    out = fr.transform(a, b, fr.source)
    if config.fps is not None and fps is not None and float(fps) != float(config.fps):
        clips = [resample_fps(c, float(fps), float(config.fps)) for c in np.split(out, fr.starts[1:])]
        return np.concatenate(clips).astype(np.float32), np.array([len(c) for c in clips], dtype=np.int64)
    return out.astype(np.float32), fr.lengths


def normalize_frames(frames, lengths, fps: float | None = None, config: SensorNormConfig = SensorNormConfig(),
                     mirrored: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """:func:`normalize_clip` of clips held end to end: ``frames`` (F, 16, 3) on the canonical skeleton,
    clip i being the next ``lengths[i]`` frames. Each clip is measured on its own, as there, but all
    in the same numpy calls: several times faster than clip by clip for short clips. Returns float32
    frames end to end and the clips' lengths (new ones when resampled)."""
    x = np.asarray(frames, dtype=np.float64)
    if x.ndim != 3 or x.shape[1:] != (CANONICAL.num_joints, 3):
        raise ValueError(f"expected canonical frames (F, {CANONICAL.num_joints}, 3), got {x.shape}")
    fr = _Frames(x, lengths)
    if fr.lengths.sum() != len(x):
        raise ValueError(f"the clips' lengths add up to {fr.lengths.sum()} frames, not {len(x)}")
    a, b = _maps(fr, config, mirrored)
    return _normalized(fr, a, b, fps, config)


def normalize_clips(clips, layout: Layout = CANONICAL, fps: float | None = None,
                    config: SensorNormConfig = SensorNormConfig(), mirrored: bool = False) -> list:
    """:func:`normalize_clip` of every clip of a list, measured together (see :func:`normalize_frames`).
    Returns float32 clips on the canonical skeleton."""
    clips = list(clips)
    if layout != CANONICAL:
        map_layout(layout)  # fail early, with the mapping's message, for a layout it cannot measure
    out = []
    for fr in _batches(clips, layout):
        frames, lengths = _normalized(fr, *_maps(fr, config, mirrored), fps, config)
        out.extend(np.split(frames, np.cumsum(lengths)[:-1]))
    return out


def normalize_clip(clip, layout: Layout = CANONICAL, fps: float | None = None,
                   config: SensorNormConfig = SensorNormConfig(), mirrored: bool = False) -> np.ndarray:
    """Normalise one ``(T, J, 3)`` clip (module docstring: the steps); returns float32 ``(T', J, 3)``.

    ``layout``: the clip's skeleton; any layout :func:`haad.canonical.map_layout` can map works
    (the steps measure the body on its canonical joints), the canonical one by default.
    ``fps``: the clip's frame rate; resampling to ``config.fps`` needs both.
    ``mirrored``: the clip comes from a mirrored recording (see ``handedness``); one clip cannot
    tell, so this is never guessed here.
    """
    x = np.asarray(clip, dtype=np.float64)
    fr = _Frames(_canonical_view(x, layout), [len(x)], source=None if layout == CANONICAL else x)
    return _normalized(fr, *_maps(fr, config, mirrored), fps, config)[0]


MIN_VOTERS = 5


def is_mirrored(hands) -> bool:
    """Vote on :func:`hands_forward` values of a collection's clips: mirrored when there are at
    least :data:`MIN_VOTERS` clips and more than two thirds have their hands behind the body."""
    hands = np.asarray(hands, dtype=np.float64).reshape(-1)
    return hands.size >= MIN_VOTERS and float(np.mean(hands > 0)) > 2 / 3


def _hand_votes(collection, config: SensorNormConfig) -> np.ndarray:
    """:func:`hands_forward` of every clip of a collection after its steps 1-3 (no centring)."""
    voting = replace(config, center=False, up_axis=True, facing=True)
    hands = []
    for fr in _batches(list(collection.clips), collection.layout):
        a, _ = _maps(fr, voting)
        hands.append(_hands(fr, fr.transform(a)))
    return np.concatenate(hands) if hands else np.zeros(0)


def detect_mirrored(collection, config: SensorNormConfig = SensorNormConfig()) -> bool:
    """Whether a collection looks recorded as a mirror image (module docstring, ``handedness``).

    Decide once per sensor (e.g. on the support or training clips) and pass the answer as
    ``mirrored`` when normalising other clips of the same sensor, so that all are treated alike.
    """
    if collection.layout != CANONICAL:
        map_layout(collection.layout)  # fail early, with the mapping's message
    return is_mirrored(_hand_votes(collection, config))


def normalize_collection(collection, config: SensorNormConfig = SensorNormConfig(),
                         mirrored: bool | None = None):
    """Normalise every clip of a :class:`~haad.data.collection.Collection` (its layout and ``fps``).

    ``mirrored``: ``None`` decides by :func:`detect_mirrored`'s vote when ``config.handedness`` (and
    ``up_axis`` and ``facing``) are on, else no mirror; ``True``/``False`` forces the decision.
    The result keeps everything else; its ``fps`` is ``config.fps`` when the clips were resampled
    (the collection's rate known and ``config.fps`` set), else the collection's own.
    """
    if mirrored is None:
        mirrored = bool(config.handedness and config.up_axis and config.facing and detect_mirrored(collection, config))
    clips = normalize_clips(collection.clips, collection.layout, collection.fps, config, mirrored)
    resampled = config.fps is not None and collection.fps is not None
    return collection.with_clips(clips, fps=float(config.fps) if resampled else None)
