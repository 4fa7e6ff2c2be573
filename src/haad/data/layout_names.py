"""Skeleton layouts from joint names alone: left/right pairs and upper/lower body, for files that
carry a hierarchy (BVH) or only names (CSV) but no layout of their own."""

from __future__ import annotations

import re

from haad.skeleton import Layout


_LEG_WORDS = ("hip", "knee", "ankle", "foot", "leg", "thigh", "toe", "femur", "tibia", "shin")


def _side_keys(name: str) -> list:
    """Candidate (side, rest) readings of a joint name: ``LeftArm``, ``left_arm``, ``L_Arm``,
    ``LArm``, ``lhumerus``, ``Arm_L``, ``Arm.l``, ``ArmLeft``. The rest is lower-cased without
    separators, so ``LeftUpLeg`` and ``RightUpLeg`` share the rest ``upleg``."""
    out = []
    low = name.lower()

    def norm(s: str) -> str:
        return re.sub(r"[\s_.\-]+", "", s.lower())

    for word, side in (("left", "L"), ("right", "R")):
        if low.startswith(word):
            out.append((side, norm(name[len(word):])))
        if low.endswith(word):
            out.append((side, norm(name[: -len(word)])))
    m = re.fullmatch(r"([LlRr])(?:[\s_.\-]+|(?=[A-Z0-9])|(?=[a-z]))(.+)", name)
    if m:
        out.append((m.group(1).upper(), norm(m.group(2))))
    m = re.fullmatch(r"(.+?)[\s_.\-]+([LlRr])", name)
    if m:
        out.append((m.group(2).upper(), norm(m.group(1))))
    return [(s, r) for s, r in out if r]


def infer_sides(joint_names) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Pair left and right joints by name (prefixes or suffixes ``Left``/``Right``/``L``/``R``).

    A joint is paired only when a joint of the other side has the same rest of the name, so a name
    that merely starts with an ``l`` (``LowerBack``) is never taken for a left joint.
    """
    names = [str(n) for n in joint_names]
    keyed = [_side_keys(n) for n in names]
    index = {}
    for i, keys in enumerate(keyed):
        for side, rest in keys:
            index.setdefault((side, rest), []).append(i)
    left, right, used = [], [], set()
    for i, keys in enumerate(keyed):
        if i in used:
            continue
        for side, rest in keys:
            if side != "L":
                continue
            partners = [k for k in index.get(("R", rest), []) if k not in used and k != i]
            if len(partners) == 1:
                left.append(i)
                right.append(partners[0])
                used.update((i, partners[0]))
                break
    return tuple(left), tuple(right)


def infer_body_parts(joint_names, parents) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Upper and lower body from names and the tree.

    A joint is lower body when it, or an ancestor, is named like a leg part (hip, knee, ankle,
    foot, leg, thigh, toe, femur, tibia, shin). A joint named like that which also has a child
    *not* so named (``Hips`` with ``Spine`` below it, Kinect's ``hip_center``) is the pelvis: it is
    lower body itself but does not make the spine lower body.
    """
    names = [str(n).lower() for n in joint_names]
    parents = [int(p) for p in parents]
    legish = [any(w in n for w in _LEG_WORDS) for n in names]
    children = [[] for _ in names]
    for i, p in enumerate(parents):
        if p >= 0:
            children[p].append(i)
    hub = [legish[i] and any(not legish[c] for c in children[i]) for i in range(len(names))]
    lower = []
    for i in range(len(names)):
        if hub[i]:
            lower.append(i)
            continue
        k = i
        while k != -1:
            if legish[k] and not hub[k]:
                lower.append(i)
                break
            k = parents[k]
    upper = tuple(i for i in range(len(names)) if i not in set(lower))
    return upper, tuple(lower)


def infer_layout(joint_names, parents, root: int = 0, name: str = "custom") -> Layout:
    """A :class:`Layout` from joint names and parents, with sides and body parts inferred from names
    (:func:`infer_sides`, :func:`infer_body_parts`)."""
    names = tuple(str(n) for n in joint_names)
    parents = tuple(int(p) for p in parents)
    left, right = infer_sides(names)
    upper, lower = infer_body_parts(names, parents)
    return Layout(name, names, parents, int(root), left, right, upper, lower)
