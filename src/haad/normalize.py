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
all are deterministic and computed in float64, with float32 out. Degenerate input (zero-length bones, a
single frame, all joints at one point) leaves the corresponding step as the identity instead of
producing NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from haad.canonical import CANONICAL, map_layout
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
    "normalize_collection",
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


def body_height(clip, layout: Layout = CANONICAL) -> float:
    """Body size: the median over frames of the summed bone lengths ankle -> knee -> hip -> pelvis ->
    spine -> neck -> head (each leg bone averaged over left and right).

    Bone lengths do not depend on pose or orientation, so this is stable through bending, sitting
    and lying down; the median ignores frames with tracking glitches.
    """
    c = _canonical_view(clip, layout)
    lengths = np.sqrt(((c[:, _CHAIN_A] - c[:, _CHAIN_B]) ** 2).sum(-1))  # (T, bones)
    return float(np.median(lengths @ _CHAIN_W))


def unit_factor(height: float, factors=(1.0, 0.01, 0.001)) -> float:
    """The factor in ``factors`` that brings ``height`` nearest (in ratio) to :data:`TYPICAL_CHAIN_HEIGHT` metres.

    1.0 for a degenerate (zero or non-finite) height.
    """
    if not (np.isfinite(height) and height > _EPS):
        return 1.0
    dist = [abs(np.log(f * height / TYPICAL_CHAIN_HEIGHT)) for f in factors]
    return float(factors[int(np.argmin(dist))])


def _rotation_onto_y(u: np.ndarray) -> np.ndarray:
    """The smallest rotation taking unit vector ``u`` to +y (Rodrigues' formula)."""
    y = np.array([0.0, 1.0, 0.0])
    c = float(u @ y)
    if c > 1 - 1e-12:
        return np.eye(3)
    if c < -1 + 1e-12:  # upside down: half a turn about x
        return np.diag([1.0, -1.0, -1.0])
    v = np.array([-u[2], 0.0, u[0]])  # u x y for y = +y (np.cross's general form costs more than the rest)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1 + c)


def up_rotation(clip, layout: Layout = CANONICAL, snap: bool = False) -> np.ndarray:
    """Rotation matrix (3, 3) taking the body's up direction to +y.

    The up direction is the mean over frames of the unit vector from pelvis to neck: the trunk is
    the longest, most rigid part of the body and points up in most frames of most actions. Frames
    where pelvis and neck coincide are skipped; identity when no frame defines a direction.
    ``snap``: replace the direction by the nearest signed coordinate axis first.
    """
    c = _canonical_view(clip, layout)
    d = c[:, _J["neck"]] - c[:, _J["pelvis"]]
    n = np.linalg.norm(d, axis=-1)
    ok = n > _EPS
    if not ok.any():
        return np.eye(3)
    u = (d[ok] / n[ok, None]).mean(axis=0)
    norm = np.linalg.norm(u)
    if norm < 1e-6:
        return np.eye(3)
    u = u / norm
    if snap:
        k = int(np.argmax(np.abs(u)))
        axis = np.zeros(3)
        axis[k] = np.sign(u[k])
        u = axis
    return _rotation_onto_y(u)


def facing_rotation(clip, layout: Layout = CANONICAL) -> np.ndarray:
    """Rotation (3, 3) about +y that turns the body's left -> right direction to +x in the first frame.

    The left -> right direction is (right hip - left hip) + (right shoulder - left shoulder) with its
    y part dropped; the first frame where it is non-zero is used. Expects a y-up clip (run after
    :func:`up_rotation`). Identity when no frame defines it.
    """
    c = _canonical_view(clip, layout)
    a = (c[:, _J["right_hip"]] - c[:, _J["left_hip"]]) + (c[:, _J["right_shoulder"]] - c[:, _J["left_shoulder"]])
    h = a[:, [0, 2]]
    n = np.linalg.norm(h, axis=-1)
    ok = np.flatnonzero(n > 1e-6 * max(1.0, float(np.abs(c).max(initial=0.0))))
    if len(ok) == 0:
        return np.eye(3)
    ax, az = h[ok[0]]
    phi = np.arctan2(az, ax)
    cs, sn = np.cos(phi), np.sin(phi)
    # x' = cos*x + sin*z, z' = -sin*x + cos*z: (ax, az) -> (|a|, 0).
    return np.array([[cs, 0.0, sn], [0.0, 1.0, 0.0], [-sn, 0.0, cs]])


def hands_forward(clip, layout: Layout = CANONICAL) -> float:
    """Median over frames of the z offset of the wrists' midpoint from the neck, in a y-up clip that
    faces -z (after steps 2-3). Negative: the hands are in front of the body, as in almost every action.
    """
    c = _canonical_view(clip, layout)
    mid = 0.5 * (c[:, _J["left_wrist"]] + c[:, _J["right_wrist"]])
    return float(np.median(mid[:, 2] - c[:, _J["neck"]][:, 2]))


def clip_transform(clip, layout: Layout = CANONICAL, config: SensorNormConfig = SensorNormConfig(),
                   mirrored: bool = False):
    """The affine map of steps 1-5 for one clip: ``(A, b)`` with ``normalised = clip @ A.T + b``.

    ``mirrored``: also negate z after the rotations (for a collection recorded as a mirror image).
    Useful to apply one clip's normalisation to something derived from it (e.g. generated variants).
    """
    x = _canonical_view(clip, layout)
    a = np.eye(3)
    h = body_height(x) if (config.units or config.scale) else 0.0
    if config.units:
        f = unit_factor(h, config.unit_factors)
        a, h = f * a, f * h
    if config.up_axis:
        a = up_rotation(x @ a.T, snap=config.up_snap) @ a
    if config.facing:
        a = facing_rotation(x @ a.T) @ a
    if mirrored:
        a = np.diag([1.0, 1.0, -1.0]) @ a
    if config.scale and h > _EPS:
        # Rotations and the mirror keep bone lengths: the height is the one measured above.
        a = (config.height / h) * a
    b = np.zeros(3)
    if config.center:
        b = -(x[0, _J["pelvis"]] @ a.T)
    return a, b


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


def _apply(x: np.ndarray, a: np.ndarray, b: np.ndarray, fps, config: SensorNormConfig) -> np.ndarray:
    out = x @ a.T + b
    if config.fps is not None and fps is not None:
        out = resample_fps(out, float(fps), float(config.fps))
    return out.astype(np.float32)


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
    a, b = clip_transform(x, layout, config, mirrored=mirrored)
    return _apply(x, a, b, fps, config)


MIN_VOTERS = 5


def is_mirrored(hands) -> bool:
    """Vote on :func:`hands_forward` values of a collection's clips: mirrored when there are at
    least :data:`MIN_VOTERS` clips and more than two thirds have their hands behind the body."""
    hands = np.asarray(hands, dtype=np.float64).reshape(-1)
    return hands.size >= MIN_VOTERS and float(np.mean(hands > 0)) > 2 / 3


def _transforms(collection, config: SensorNormConfig):
    layout = collection.layout
    if layout != CANONICAL:
        map_layout(layout)  # fail early, with the mapping's message, for a layout it cannot measure
    clips = [np.asarray(c, dtype=np.float64) for c in collection.clips]
    return clips, [clip_transform(x, layout, config) for x in clips]


def _vote(collection, clips, maps) -> bool:
    return is_mirrored([hands_forward(x @ a.T, collection.layout) for x, (a, _) in zip(clips, maps)])


def detect_mirrored(collection, config: SensorNormConfig = SensorNormConfig()) -> bool:
    """Whether a collection looks recorded as a mirror image (module docstring, ``handedness``).

    Decide once per sensor (e.g. on the support or training clips) and pass the answer as
    ``mirrored`` when normalising other clips of the same sensor, so that all are treated alike.
    """
    clips, maps = _transforms(collection, replace(config, center=False, up_axis=True, facing=True))
    return _vote(collection, clips, maps)


def normalize_collection(collection, config: SensorNormConfig = SensorNormConfig(),
                         mirrored: bool | None = None):
    """Normalise every clip of a :class:`~haad.data.collection.Collection` (its layout and ``fps``).

    ``mirrored``: ``None`` decides by :func:`detect_mirrored`'s vote when ``config.handedness`` (and
    ``up_axis`` and ``facing``) are on, else no mirror; ``True``/``False`` forces the decision.
    The result keeps everything else; its ``fps`` is ``config.fps`` when the clips were resampled
    (the collection's rate known and ``config.fps`` set), else the collection's own.
    """
    clips, maps = _transforms(collection, config)
    if mirrored is None:
        mirrored = bool(config.handedness and config.up_axis and config.facing and _vote(collection, clips, maps))
    if mirrored:
        flip = np.diag([1.0, 1.0, -1.0])
        maps = [(flip @ a, flip @ b) for a, b in maps]
    resampled = config.fps is not None and collection.fps is not None
    return collection.with_clips([_apply(x, a, b, collection.fps, config) for x, (a, b) in zip(clips, maps)],
                                 fps=float(config.fps) if resampled else None)
