"""Skeleton layouts: joint names, kinematic tree, left/right pairs, body parts and root joint.

A :class:`Layout` is all the code needs to know about a skeleton. Four layouts are named:

* ``smpl24``      -- SMPL's 24 joints (HumanAct12 and the embedded synthesiser).
* ``kinect-utd``  -- Kinect v1, 20 joints, in UTD-MHAD's export order (root = hip_center, index 3).
* ``kinect-sdk``  -- Kinect v1, 20 joints, in the SDK order used by NW-UCLA (root = hip_center, 0).
* ``openni15``    -- OpenNI/NITE's 15 joints, in Florence 3D Actions' order (root = torso, index 2;
  there is no pelvis joint).

Any other skeleton is a :class:`Layout` built from names and parents (see :func:`Layout.generic`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Layout:
    """A skeleton layout.

    Attributes:
        name: short identifier, stored with datasets and checkpoints.
        joint_names: one name per joint, in data order.
        parents: parent index of every joint, -1 for the root of the tree.
        root: joint whose first-frame position is subtracted by the protocol's normalisation.
        left: joints of the left side, paired element-wise with ``right``.
        right: joints of the right side.
        upper: joints of the upper body (used by body-part models).
        lower: joints of the lower body.
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    root: int
    left: tuple[int, ...] = field(default=())
    right: tuple[int, ...] = field(default=())
    upper: tuple[int, ...] = field(default=())
    lower: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        self.validate()

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def validate(self) -> None:
        """Raise ``ValueError`` unless the layout is a single tree with consistent side/part lists."""
        j = len(self.joint_names)
        if j == 0:
            raise ValueError(f"layout {self.name!r}: no joints")
        if len(self.parents) != j:
            raise ValueError(f"layout {self.name!r}: {len(self.parents)} parents for {j} joints")
        if not 0 <= self.root < j:
            raise ValueError(f"layout {self.name!r}: root {self.root} out of range 0..{j - 1}")
        roots = [i for i, p in enumerate(self.parents) if p == -1]
        if len(roots) != 1:
            raise ValueError(f"layout {self.name!r}: expected exactly one joint with parent -1, got {roots}")
        for i, p in enumerate(self.parents):
            if p != -1 and not 0 <= p < j:
                raise ValueError(f"layout {self.name!r}: joint {i} has parent {p} out of range")
        # Every joint must reach the tree root without a cycle.
        for i in range(j):
            seen, k = set(), i
            while k != -1:
                if k in seen:
                    raise ValueError(f"layout {self.name!r}: cycle through joint {k}")
                seen.add(k)
                k = self.parents[k]
        if len(self.left) != len(self.right):
            raise ValueError(f"layout {self.name!r}: {len(self.left)} left joints vs {len(self.right)} right")
        if set(self.left) & set(self.right):
            raise ValueError(f"layout {self.name!r}: a joint is both left and right")
        for group in (self.left, self.right, self.upper, self.lower):
            for i in group:
                if not 0 <= i < j:
                    raise ValueError(f"layout {self.name!r}: joint index {i} out of range")

    @property
    def edges(self) -> list[tuple[int, int]]:
        """(child, parent) bone list."""
        return [(i, p) for i, p in enumerate(self.parents) if p != -1]

    def adjacency(self, self_loops: bool = True) -> np.ndarray:
        """Symmetric 0/1 adjacency matrix of the skeleton graph (J x J)."""
        a = np.zeros((self.num_joints, self.num_joints), dtype=np.float32)
        for i, p in self.edges:
            a[i, p] = a[p, i] = 1.0
        if self_loops:
            a += np.eye(self.num_joints, dtype=np.float32)
        return a

    def mirror_permutation(self) -> np.ndarray:
        """Joint permutation that swaps every left joint with its right partner."""
        perm = np.arange(self.num_joints)
        for l, r in zip(self.left, self.right):
            perm[l], perm[r] = r, l
        return perm

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "joint_names": list(self.joint_names),
            "parents": list(self.parents),
            "root": self.root,
            "left": list(self.left),
            "right": list(self.right),
            "upper": list(self.upper),
            "lower": list(self.lower),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Layout":
        return cls(
            name=str(d["name"]),
            joint_names=tuple(str(n) for n in d["joint_names"]),
            parents=tuple(int(p) for p in d["parents"]),
            root=int(d["root"]),
            left=tuple(int(i) for i in d.get("left", ())),
            right=tuple(int(i) for i in d.get("right", ())),
            upper=tuple(int(i) for i in d.get("upper", ())),
            lower=tuple(int(i) for i in d.get("lower", ())),
        )

    @classmethod
    def generic(cls, joint_names, parents, root: int, name: str = "custom") -> "Layout":
        """Build a layout from names and parents, pairing sides by ``left``/``right`` name prefixes.

        Joints whose names start with ``left``/``l_`` (or ``right``/``r_``) are paired when the rest
        of the name matches. Upper/lower body: joints whose path to the tree root passes through a
        joint named like a hip/leg/knee/ankle/foot are lower body; the rest is upper body.
        """
        names = tuple(str(n) for n in joint_names)
        parents = tuple(int(p) for p in parents)

        def side_key(n: str):
            low = n.lower()
            for pre, side in (("left_", "L"), ("left", "L"), ("l_", "L"), ("right_", "R"), ("right", "R"), ("r_", "R")):
                if low.startswith(pre):
                    return side, low[len(pre):]
            return None, low

        keyed = {}
        for i, n in enumerate(names):
            side, rest = side_key(n)
            if side:
                keyed.setdefault(rest, {})[side] = i
        left = tuple(v["L"] for v in keyed.values() if "L" in v and "R" in v)
        right = tuple(v["R"] for v in keyed.values() if "L" in v and "R" in v)
        leg_words = ("hip", "knee", "ankle", "foot", "leg", "thigh", "toe")
        lower = []
        for i in range(len(names)):
            k = i
            while k != -1:
                if any(w in names[k].lower() for w in leg_words):
                    lower.append(i)
                    break
                k = parents[k]
        upper = tuple(i for i in range(len(names)) if i not in lower)
        return cls(name, names, parents, int(root), left, right, upper, tuple(lower))


SMPL24 = Layout(
    name="smpl24",
    joint_names=(
        "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
        "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
        "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hand", "right_hand",
    ),
    parents=(-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21),
    root=0,
    left=(1, 4, 7, 10, 13, 16, 18, 20, 22),
    right=(2, 5, 8, 11, 14, 17, 19, 21, 23),
    upper=(3, 6, 9, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23),
    lower=(0, 1, 2, 4, 5, 7, 8, 10, 11),
)

# UTD-MHAD's export (Skeleton_joint_order.txt), 0-based.
KINECT_UTD = Layout(
    name="kinect-utd",
    joint_names=(
        "head", "shoulder_center", "spine", "hip_center",
        "left_shoulder", "left_elbow", "left_wrist", "left_hand",
        "right_shoulder", "right_elbow", "right_wrist", "right_hand",
        "left_hip", "left_knee", "left_ankle", "left_foot",
        "right_hip", "right_knee", "right_ankle", "right_foot",
    ),
    parents=(1, 2, 3, -1, 1, 4, 5, 6, 1, 8, 9, 10, 3, 12, 13, 14, 3, 16, 17, 18),
    root=3,
    left=(4, 5, 6, 7, 12, 13, 14, 15),
    right=(8, 9, 10, 11, 16, 17, 18, 19),
    upper=(0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11),
    lower=(3, 12, 13, 14, 15, 16, 17, 18, 19),
)

# Kinect v1 SDK order (NW-UCLA's JSON export), 0-based.
KINECT_SDK = Layout(
    name="kinect-sdk",
    joint_names=(
        "hip_center", "spine", "shoulder_center", "head",
        "left_shoulder", "left_elbow", "left_wrist", "left_hand",
        "right_shoulder", "right_elbow", "right_wrist", "right_hand",
        "left_hip", "left_knee", "left_ankle", "left_foot",
        "right_hip", "right_knee", "right_ankle", "right_foot",
    ),
    parents=(-1, 0, 1, 2, 2, 4, 5, 6, 2, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18),
    root=0,
    left=(4, 5, 6, 7, 12, 13, 14, 15),
    right=(8, 9, 10, 11, 16, 17, 18, 19),
    upper=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
    lower=(0, 12, 13, 14, 15, 16, 17, 18, 19),
)

# OpenNI/NITE 15-joint skeleton (Kinect v1 through OpenNI), in Florence 3D Actions' order, 0-based.
# NITE has no pelvis joint: the bones hang the hips from the torso (mid-spine) joint, which is
# therefore the root. The torso counts as upper body, like the Kinect layouts' spine joint.
OPENNI15 = Layout(
    name="openni15",
    joint_names=(
        "head", "neck", "torso",
        "left_shoulder", "left_elbow", "left_wrist",
        "right_shoulder", "right_elbow", "right_wrist",
        "left_hip", "left_knee", "left_ankle",
        "right_hip", "right_knee", "right_ankle",
    ),
    parents=(1, 2, -1, 1, 3, 4, 1, 6, 7, 2, 9, 10, 2, 12, 13),
    root=2,
    left=(3, 4, 5, 9, 10, 11),
    right=(6, 7, 8, 12, 13, 14),
    upper=(0, 1, 2, 3, 4, 5, 6, 7, 8),
    lower=(9, 10, 11, 12, 13, 14),
)

LAYOUTS: dict[str, Layout] = {l.name: l for l in (SMPL24, KINECT_UTD, KINECT_SDK, OPENNI15)}


def get_layout(name: str) -> Layout:
    """Return a named layout; raise ``KeyError`` listing the known names otherwise."""
    try:
        return LAYOUTS[name]
    except KeyError:
        raise KeyError(f"unknown skeleton layout {name!r}; known: {sorted(LAYOUTS)}") from None
