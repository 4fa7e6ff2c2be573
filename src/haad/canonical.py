"""A canonical 16-joint skeleton that every supported source can fill, and the name-based mapping to it.

Sensors name and place their joints differently (Kinect v1/v2, OpenNI, SMPL, Human3.6M, NTU RGB+D,
COCO, BVH motion capture). :data:`CANONICAL` is the small set of joints they all have, or from which
the rest can be derived:

====  ==============  ======  ====  ==============  ======
idx   joint           parent  idx   joint           parent
====  ==============  ======  ====  ==============  ======
0     pelvis (root)   --      8     right_elbow     7
1     spine           0       9     right_wrist     8
2     neck            1       10    left_hip        0
3     head            2       11    left_knee       10
4     left_shoulder   2       12    left_ankle      11
5     left_elbow      4       13    right_hip       0
6     left_wrist      5       14    right_knee      13
7     right_shoulder  2       15    right_ankle     14
====  ==============  ======  ====  ==============  ======

``neck`` is the base of the neck, between the shoulders (Kinect v1 ``ShoulderCenter``, Kinect v2
``SpineShoulder``), and ``spine`` the middle of the back.

:func:`map_layout` matches a layout's joint names against an alias table after normalising them
(lower case; ``_``, ``-``, spaces and ``.`` removed; a ``namespace:`` prefix dropped; ``left``/``l``
and ``right``/``r`` accepted as prefix or suffix, and ``left``/``right`` anywhere in the name), and
returns a :class:`JointMapping`. When several joints of a layout match one canonical joint, the one
earliest in that joint's priority list wins (:data:`PRIORITY`); a canonical joint with no match is
derived when possible (:func:`map_layout` lists the rules). ``joint_map`` lets a user name the
mapping explicitly; :func:`load_joint_map` reads one from JSON.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from haad.skeleton import Layout

__all__ = [
    "CANONICAL",
    "CANONICAL_NAMES",
    "PRIORITY",
    "JointMapping",
    "canonicalize",
    "load_joint_map",
    "map_layout",
    "match_joint",
    "normalize_joint_name",
]

CANONICAL = Layout(
    name="canonical16",
    joint_names=(
        "pelvis", "spine", "neck", "head",
        "left_shoulder", "left_elbow", "left_wrist",
        "right_shoulder", "right_elbow", "right_wrist",
        "left_hip", "left_knee", "left_ankle",
        "right_hip", "right_knee", "right_ankle",
    ),
    parents=(-1, 0, 1, 2, 2, 4, 5, 2, 7, 8, 0, 10, 11, 0, 13, 14),
    root=0,
    left=(4, 5, 6, 10, 11, 12),
    right=(7, 8, 9, 13, 14, 15),
    # As in the Kinect layouts, the root belongs to the lower body.
    upper=(1, 2, 3, 4, 5, 6, 7, 8, 9),
    lower=(0, 10, 11, 12, 13, 14, 15),
)

CANONICAL_NAMES: tuple[str, ...] = CANONICAL.joint_names
_INDEX = {n: i for i, n in enumerate(CANONICAL_NAMES)}

# Priority lists of normalised base names (see normalize_joint_name), best first.
# Joints without a side: the base name is the whole normalised name.
_CENTRAL: dict[str, tuple[str, ...]] = {
    "pelvis": (
        "pelvis", "hipcenter", "centerhip", "hipcentre", "midhip", "spinebase", "basespine",
        "baseofthespine", "hips", "hip", "waist", "root",
    ),
    # SpineMid (Kinect v2) > Spine (Kinect v1, BVH, Human3.6M) > torso (OpenNI) > SMPL's spine2
    # (middle of its three) > spine1 > chest (BVH).
    "spine": (
        "spinemid", "midspine", "middleofthespine", "spine", "torso", "spine2", "spine1", "chest",
        "spine3",
    ),
    # The base of the neck: SpineShoulder (Kinect v2) > ShoulderCenter (Kinect v1) > thorax
    # (Human3.6M) > neck (OpenNI, SMPL, BVH; on Kinect v2 this joint sits higher, so it comes after).
    "neck": (
        "spineshoulder", "shouldercenter", "shouldercentre", "centershoulder", "midshoulder",
        "thorax", "neck",
    ),
    "head": ("head", "headtop", "headend", "tophead", "headtip"),
}
# Joints with a side: the base name is what is left after removing the side marker.
# Motion-capture rigs name segments after the joint they start at (BVH ``LeftArm`` / ``UpperArm_L``
# is the shoulder, ``LeftForeArm`` / ``LowerArm_L`` the elbow, ``LeftUpLeg`` the hip, ``LeftLeg`` the
# knee, ``LeftFoot`` the ankle, ``LeftHand`` the wrist); in those rigs ``LeftShoulder`` is the
# collar bone, hence "upperarm"/"arm" before "shoulder".
_SIDED: dict[str, tuple[str, ...]] = {
    "shoulder": ("upperarm", "uparm", "arm", "shoulder"),
    "elbow": ("elbow", "forearm", "lowerarm"),
    "wrist": ("wrist", "hand"),
    "hip": ("hip", "upleg", "upperleg", "thigh"),
    "knee": ("knee", "leg", "lowerleg", "shin", "calf"),
    "ankle": ("ankle", "foot"),
}
# Face joints, used only to derive the head (COCO-like layouts).
_FACE_SIDED = ("ear", "eye")
_FACE_CENTRAL = ("nose",)

PRIORITY: dict[str, tuple[str, ...]] = dict(_CENTRAL)
for _base, _names in _SIDED.items():
    PRIORITY[f"left_{_base}"] = _names
    PRIORITY[f"right_{_base}"] = _names

# base name -> (canonical base, rank) for quick look-up.
_CENTRAL_LOOKUP = {a: (c, r) for c, names in _CENTRAL.items() for r, a in enumerate(names)}
_SIDED_LOOKUP = {a: (c, r) for c, names in _SIDED.items() for r, a in enumerate(names)}
for _r, _a in enumerate(_FACE_CENTRAL):
    _CENTRAL_LOOKUP[_a] = (_a, _r)
for _r, _a in enumerate(_FACE_SIDED):
    _SIDED_LOOKUP[_a] = (_a, _r)
_SEPARATORS = re.compile(r"[\s_\-./]+")


def normalize_joint_name(name: str) -> str:
    """Lower-case ``name``, drop a ``namespace:`` prefix (``mixamorig:Hips``) and remove ``_ - . /`` and spaces."""
    name = str(name).strip().split(":")[-1]
    return _SEPARATORS.sub("", name.lower())


def match_joint(name: str, ntu_scheme: bool = False) -> tuple[str, int] | None:
    """The canonical joint (or face joint) a source joint name stands for, with its priority rank.

    Returns ``(canonical_name, rank)`` -- ``rank`` 0 is the most preferred alias -- or ``None``
    when the name means nothing here (hand tips, toes, fingers, collar bones...). Face joints come
    back as ``nose``, ``left_eye``, ``left_ear``, ... (used to derive the head).

    ``ntu_scheme``: NTU RGB+D calls the Kinect v2 SpineShoulder joint plain ``spine``; with this flag
    (set by :func:`map_layout` when a layout also has ``base of the spine``) it maps to ``neck``.
    """
    key = normalize_joint_name(name)
    if not key:
        return None
    if ntu_scheme and key == "spine":
        return "neck", 0
    if key in _CENTRAL_LOOKUP:
        return _CENTRAL_LOOKUP[key]
    # Side markers: "left"/"right" anywhere (ShoulderLeft, LeftShoulder, "tip of the left hand"),
    # then a one-letter prefix or suffix (l_shoulder, LShoulder, Shoulder_L).
    candidates = []
    for word, side in (("left", "left"), ("right", "right")):
        if word in key:
            candidates.append((side, key.replace(word, "", 1)))
    for letter, side in (("l", "left"), ("r", "right")):
        if key.startswith(letter):
            candidates.append((side, key[1:]))
        if key.endswith(letter):
            candidates.append((side, key[:-1]))
    for side, base in candidates:
        if base in _SIDED_LOOKUP:
            canon, rank = _SIDED_LOOKUP[base]
            return f"{side}_{canon}", rank
    return None


@dataclass(frozen=True)
class JointMapping:
    """How to compute the canonical joints from a source layout's joints.

    Attributes:
        source_layout: name of the source layout.
        source_names: the source layout's joint names (index = source joint).
        sources: per canonical joint (in :data:`CANONICAL` order), the source joint indices combined
            to get it; one index = a direct joint.
        weights: the matching weights (each row sums to 1). Plain averages have equal weights; the
            derived spine (midpoint of pelvis and neck) gives each side half of the weight.
        kinds: per canonical joint, ``"direct"``, ``"user"`` (set by an explicit joint map) or
            ``"derived"``.
    """

    source_layout: str
    source_names: tuple[str, ...]
    sources: tuple[tuple[int, ...], ...]
    weights: tuple[tuple[float, ...], ...]
    kinds: tuple[str, ...]

    @property
    def num_source_joints(self) -> int:
        return len(self.source_names)

    @cached_property
    def matrix(self) -> np.ndarray:
        """(16, J) float64 matrix with ``canonical = matrix @ source`` per frame and coordinate (built
        once per mapping: every clip a detector prepares goes through it)."""
        m = np.zeros((len(CANONICAL_NAMES), self.num_source_joints), dtype=np.float64)
        for c, (idx, w) in enumerate(zip(self.sources, self.weights)):
            for i, wi in zip(idx, w):
                m[c, i] += wi
        m.setflags(write=False)  # shared by every call
        return m

    @property
    def is_identity(self) -> bool:
        """True when the source already is the canonical layout, joint for joint."""
        return self.num_source_joints == len(CANONICAL_NAMES) and all(
            s == (i,) for i, s in enumerate(self.sources)
        )

    def apply(self, clip) -> np.ndarray:
        """Map a ``(..., J, 3)`` array (e.g. a ``(T, J, 3)`` clip) to ``(..., 16, 3)`` float32."""
        x = np.asarray(clip)
        if x.ndim < 2 or x.shape[-1] != 3 or x.shape[-2] != self.num_source_joints:
            raise ValueError(
                f"expected (..., {self.num_source_joints}, 3) for layout {self.source_layout!r}, got {x.shape}"
            )
        # One matrix product over all frames, (..., 3J) @ (3J, 48): twice as fast as the broadcast
        # (16, J) @ (..., J, 3), whose per-frame products it repeats term for term (the extra terms
        # are exact zeros), and several times faster than an einsum.
        flat = x.reshape(-1, self.num_source_joints * 3).astype(np.float64, copy=False)
        return (flat @ self._frame_matrix).astype(np.float32).reshape(x.shape[:-2] + (len(CANONICAL_NAMES), 3))

    @cached_property
    def _frame_matrix(self) -> np.ndarray:
        """(3J, 48): :attr:`matrix` acting on a frame's flattened coordinates."""
        m = np.kron(self.matrix, np.eye(3)).T.copy()
        m.setflags(write=False)
        return m

    def describe(self) -> str:
        """One line per canonical joint: which source joints (and weights) feed it, and how."""
        width = max(len(n) for n in CANONICAL_NAMES)
        lines = [f"{self.source_layout} -> {CANONICAL.name}:"]
        for name, idx, w, kind in zip(CANONICAL_NAMES, self.sources, self.weights, self.kinds):
            if len(idx) == 1:
                src = self.source_names[idx[0]]
            else:
                src = " + ".join(f"{wi:.3g}*{self.source_names[i]}" for i, wi in zip(idx, w))
            lines.append(f"  {name:<{width}} <- {src} ({kind})")
        used = {i for idx in self.sources for i in idx}
        unused = [n for i, n in enumerate(self.source_names) if i not in used]
        if unused:
            lines.append(f"  unused: {', '.join(unused)}")
        return "\n".join(lines)


def _canonical_target(name: str) -> str:
    """A joint map's target name -> canonical joint name (case and separators are forgiven)."""
    key = normalize_joint_name(name)
    for n in CANONICAL_NAMES:
        if normalize_joint_name(n) == key:
            return n
    raise ValueError(f"joint map: unknown canonical joint {name!r}; canonical joints: {', '.join(CANONICAL_NAMES)}")


def map_layout(layout: Layout, joint_map: dict | None = None) -> JointMapping:
    """Map ``layout`` onto :data:`CANONICAL` by joint names.

    Each canonical joint takes, among the layout's joints whose names match it (see
    :func:`match_joint`), the one with the best rank in :data:`PRIORITY` (ties: the lower joint
    index). Missing joints are derived:

    * ``pelvis`` = mean of the left and right hips;
    * ``neck`` = mean of the left and right shoulders;
    * ``spine`` = midpoint of ``pelvis`` and ``neck`` (as mapped or derived);
    * ``head`` = mean of the two ears, else of the two eyes, else the nose.

    Shoulders, elbows, wrists, hips, knees and ankles of both sides cannot be derived.

    Args:
        layout: the source layout.
        joint_map: optional ``{source_joint_name: canonical_joint_name}``. Named canonical joints are
            taken from exactly these source joints (several names for one canonical joint are
            averaged), overriding the alias table; a source joint named here feeds only the
            canonical joint it is given, and a ``None`` target drops it. Other canonical joints are
            still matched by name.

    Raises:
        ValueError: an unknown source or canonical name in ``joint_map``, or a layout that cannot be
            mapped (the message names the missing canonical joints and the joint names seen).
    """
    joint_map = dict(joint_map or {})
    names = tuple(layout.joint_names)
    index = {n: i for i, n in enumerate(names)}

    user: dict[str, list[int]] = {}
    excluded: set[int] = set()
    for src, dst in joint_map.items():
        if src not in index:
            raise ValueError(
                f"joint map: {src!r} is not a joint of layout {layout.name!r}; its joints: {', '.join(names)}"
            )
        excluded.add(index[src])
        if dst is None:
            continue
        if not isinstance(dst, str):
            raise ValueError(f"joint map: target of {src!r} must be a canonical joint name or null, got {dst!r}")
        user.setdefault(_canonical_target(dst), []).append(index[src])
    return _map_names(layout.name, names, tuple(sorted((k, tuple(v)) for k, v in user.items())),
                      frozenset(excluded))


@lru_cache(maxsize=64)
def _map_names(layout_name: str, names: tuple[str, ...], user: tuple, excluded: frozenset) -> JointMapping:
    keys = {normalize_joint_name(n) for n in names}
    ntu = "baseofthespine" in keys
    best: dict[str, tuple[int, int]] = {}  # canonical/face name -> (rank, source index)
    for i, n in enumerate(names):
        if i in excluded:
            continue
        m = match_joint(n, ntu_scheme=ntu)
        if m is None:
            continue
        canon, rank = m
        if canon not in best or (rank, i) < best[canon]:
            best[canon] = (rank, i)

    # Each entry: (indices, weights, kind).
    resolved: dict[str, tuple[tuple[int, ...], tuple[float, ...], str]] = {}
    for canon, idx in dict(user).items():
        resolved[canon] = (idx, tuple(1.0 / len(idx) for _ in idx), "user")
    for canon in CANONICAL_NAMES:
        if canon not in resolved and canon in best:
            resolved[canon] = ((best[canon][1],), (1.0,), "direct")

    def mean_of(*parts):
        acc: dict[int, float] = {}
        for idx, w, _ in parts:
            for i, wi in zip(idx, w):
                acc[i] = acc.get(i, 0.0) + wi / len(parts)
        order = sorted(acc)
        return tuple(order), tuple(acc[i] for i in order), "derived"

    def pair(a, b):
        return a in resolved and b in resolved

    if "pelvis" not in resolved and pair("left_hip", "right_hip"):
        resolved["pelvis"] = mean_of(resolved["left_hip"], resolved["right_hip"])
    if "neck" not in resolved and pair("left_shoulder", "right_shoulder"):
        resolved["neck"] = mean_of(resolved["left_shoulder"], resolved["right_shoulder"])
    if "spine" not in resolved and pair("pelvis", "neck"):
        resolved["spine"] = mean_of(resolved["pelvis"], resolved["neck"])
    if "head" not in resolved:
        for part in ("ear", "eye"):
            lft, rgt = f"left_{part}", f"right_{part}"
            if lft in best and rgt in best:
                resolved["head"] = mean_of(*(((best[s][1],), (1.0,), "direct") for s in (lft, rgt)))
                break
        else:
            if "nose" in best:
                resolved["head"] = ((best["nose"][1],), (1.0,), "derived")

    missing = [c for c in CANONICAL_NAMES if c not in resolved]
    if missing:
        raise ValueError(
            f"cannot map skeleton layout {layout_name!r} to the canonical skeleton: no joint for "
            f"{', '.join(missing)}; joint names seen: {', '.join(names)}. Pass an explicit joint map "
            f"({{source name: canonical name}}, e.g. --joint-map FILE.json) naming the missing joints; "
            f"canonical joints: {', '.join(CANONICAL_NAMES)}"
        )
    return JointMapping(
        source_layout=layout_name,
        source_names=names,
        sources=tuple(resolved[c][0] for c in CANONICAL_NAMES),
        weights=tuple(resolved[c][1] for c in CANONICAL_NAMES),
        kinds=tuple(resolved[c][2] for c in CANONICAL_NAMES),
    )


def load_joint_map(path) -> dict:
    """Read a joint map from a JSON file: an object ``{"source joint name": "canonical joint name"}``.

    A target may be ``null`` to drop that source joint. Raises ``ValueError`` naming the file when it
    is not valid JSON or not such an object (``FileNotFoundError`` when it does not exist).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"joint map file {str(path)!r} not found") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"joint map file {str(path)!r}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(
            f"joint map file {str(path)!r}: expected a JSON object {{\"source joint\": \"canonical joint\"}}, "
            f"got {type(data).__name__}"
        )
    for k, v in data.items():
        if not (v is None or isinstance(v, str)):
            raise ValueError(
                f"joint map file {str(path)!r}: the value for {k!r} must be a canonical joint name or null, got {v!r}"
            )
    return data


def canonicalize(collection, joint_map=None):
    """A new :class:`~haad.data.collection.Collection` on :data:`CANONICAL`.

    ``joint_map``: ``None``, a dict (see :func:`map_layout`) or the path of a JSON joint map.
    Labels, class names, order keys, groups, clip names, source and fps are kept.
    """
    if isinstance(joint_map, (str, Path)):
        joint_map = load_joint_map(joint_map)
    mapping = map_layout(collection.layout, joint_map)
    return collection.with_clips([mapping.apply(c) for c in collection.clips], layout=CANONICAL)
