"""Biovision hierarchy (BVH) motion files: a reader with forward kinematics, and a layout from the hierarchy.

:func:`read_bvh` reads ``.bvh`` or gzip-compressed ``.bvh.gz`` files and returns a :class:`BVHMotion`
with joint positions ``(T, J, 3)`` in the file's own unit (no scaling), joint names, parents, the
frame rate and a :class:`~haad.skeleton.Layout` built from the hierarchy.

Conventions (those of the BVH format as written by common exporters):

* ``HIERARCHY``: one ``ROOT``, nested ``JOINT`` blocks, each with ``OFFSET x y z`` and
  ``CHANNELS n <names>``; ``End Site`` blocks hold only an ``OFFSET``. Channel names are
  ``Xposition Yposition Zposition Xrotation Yrotation Zrotation`` (case-insensitive), in any order
  and any subset per joint.
* Rotations are in degrees and composed in the order the channels are listed, as intrinsic
  rotations: channels ``Zrotation Xrotation Yrotation`` give the local rotation
  ``R = Rz(z) @ Rx(x) @ Ry(y)`` (column vectors, right-handed, ``Rz`` rotating x towards y).
* Position channels give the joint's translation in its parent's frame and *replace* the matching
  component of ``OFFSET`` (a joint without position channels uses ``OFFSET``). For the root this is
  the usual absolute position; exporters that write position channels on every joint (MotionBuilder,
  Bandai Namco's data) repeat the offset there, so replacing is what keeps bone lengths right.
* Forward kinematics: ``G_j = G_parent @ R_j`` and ``p_j = p_parent + G_parent @ t_j`` where
  ``t_j`` is the joint's translation; the root has ``p = t_root`` and ``G = R_root``.
* ``End Site`` blocks are left out by default; with ``end_sites=True`` each becomes a joint named
  ``<parent>_end`` (its position is the parent's transform applied to the End Site offset).
* ``fps = 1 / Frame Time``, rounded to the nearest integer when within 0.05 % of one (files store
  ``0.0333333`` for 30 fps).

Every problem raises :class:`~haad.data.collection.DataError` naming the file and, where it applies,
the line: unknown channel names, a wrong channel count, non-numeric values, a frame with the wrong
number of values, a MOTION block shorter or longer than its ``Frames:`` line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from haad.data.collection import DataError
from haad.data.generic import read_text
from haad.data.layout_names import infer_layout
from haad.skeleton import Layout

CHANNEL_NAMES = ("xposition", "yposition", "zposition", "xrotation", "yrotation", "zrotation")


@dataclass
class BVHMotion:
    """Joint positions computed from one BVH file.

    Attributes:
        positions: float64 (T, J, 3), in the file's unit, in the file's world frame.
        joint_names: J names, in depth-first hierarchy order (the file's order).
        parents: parent index of every joint, -1 for the root (index 0).
        fps: frames per second (1 / Frame Time).
        offsets: (J, 3) OFFSET of every joint, as written in the file.
        channels: per joint, the tuple of its channel names (normalised to lower case).
        path: the file read.
    """

    positions: np.ndarray
    joint_names: tuple
    parents: tuple
    fps: float
    offsets: np.ndarray
    channels: tuple
    path: str

    def layout(self, name: str = "bvh") -> Layout:
        """The skeleton layout of this file (see :func:`infer_layout`)."""
        return infer_layout(self.joint_names, self.parents, root=0, name=name)


# --------------------------------------------------------------------------- rotations

def axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about ``axis`` ('x', 'y' or 'z') by ``degrees`` (right-handed)."""
    t = np.deg2rad(np.asarray(degrees, dtype=np.float64))
    c, s = np.cos(t), np.sin(t)
    o, l = np.zeros_like(t), np.ones_like(t)
    rows = {
        "x": (l, o, o, o, c, -s, o, s, c),
        "y": (c, o, s, o, l, o, -s, o, c),
        "z": (c, -s, o, s, c, o, o, o, l),
    }[axis]
    return np.stack(rows, axis=-1).reshape(t.shape + (3, 3))


def euler_to_matrix(angles: np.ndarray, order: str) -> np.ndarray:
    """Compose intrinsic rotations: ``angles[..., k]`` (degrees) is about axis ``order[k]`` and the
    result is ``R[order[0]] @ R[order[1]] @ ...`` (e.g. ``order="zxy"`` gives ``Rz @ Rx @ Ry``)."""
    angles = np.asarray(angles, dtype=np.float64)
    out = None
    for k, axis in enumerate(order):
        r = axis_rotation(axis, angles[..., k])
        out = r if out is None else out @ r
    if out is None:
        return np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    return out


# --------------------------------------------------------------------------- parsing

@dataclass
class _Node:
    name: str
    parent: int
    offset: np.ndarray
    channels: tuple
    line: int
    end_site: bool = False


def _tokens(lines: list, start: int, stop: int):
    """(token, 1-based line number) for the lines [start, stop)."""
    for i in range(start, stop):
        for tok in lines[i].replace("{", " { ").replace("}", " } ").split():
            yield tok, i + 1


def _parse_hierarchy(lines: list, stop: int, where: str) -> list:
    toks = list(_tokens(lines, 0, stop))
    pos = 0

    def err(msg: str, line: int):
        return DataError(f"{where}, line {line}: {msg}")

    def take(expected=None, what=None):
        nonlocal pos
        if pos >= len(toks):
            last = toks[-1][1] if toks else 1
            raise err(f"unexpected end of HIERARCHY (expected {expected or what or 'more'})", last)
        tok, line = toks[pos]
        if expected is not None and tok.upper() != expected.upper():
            raise err(f"expected {expected!r}, found {tok!r}", line)
        pos += 1
        return tok, line

    def number(what: str) -> float:
        tok, line = take(what=what)
        try:
            return float(tok)
        except ValueError:
            raise err(f"non-numeric {what} {tok!r}", line) from None

    if not toks or toks[0][0].upper() != "HIERARCHY":
        raise DataError(f"{where}: not a BVH file (it does not start with HIERARCHY)")
    pos = 1
    nodes: list = []

    def block(parent: int, kind: str, name_line: int, name: str) -> None:
        take("{")
        tok, line = take("OFFSET")
        offset = np.array([number("OFFSET value") for _ in range(3)])
        index = len(nodes)
        if kind == "End":
            nodes.append(_Node(name, parent, offset, (), name_line, end_site=True))
            take("}")
            return
        tok, line = take("CHANNELS")
        ctok, cline = take(what="channel count")
        try:
            n = int(ctok)
        except ValueError:
            raise err(f"channel count {ctok!r} is not an integer", cline) from None
        if not 0 <= n <= 6:
            raise err(f"channel count {n} for joint {name!r}; expected 0..6", cline)
        chans = []
        for _ in range(n):
            if pos >= len(toks):
                raise err(f"joint {name!r}: CHANNELS {n} lists fewer names", cline)
            c, cl = toks[pos]
            if c.lower() not in CHANNEL_NAMES:
                if c.upper() in ("JOINT", "END", "}", "{") or c.lower().lstrip("-").replace(".", "").isdigit():
                    raise err(f"joint {name!r}: CHANNELS {n} lists only {len(chans)} channel name(s)", cl)
                raise err(f"joint {name!r}: unknown channel {c!r}; expected one of "
                          "Xposition Yposition Zposition Xrotation Yrotation Zrotation", cl)
            if c.lower() in chans:
                raise err(f"joint {name!r}: channel {c!r} listed twice", cl)
            chans.append(c.lower())
            pos_advance()
        nodes.append(_Node(name, parent, offset, tuple(chans), name_line))
        while True:
            tok, line = take()
            if tok == "}":
                return
            up = tok.upper()
            if up == "JOINT":
                jname, jline = joint_name()
                block(index, "JOINT", jline, jname)
            elif up == "END":
                take("Site")
                block(index, "End", line, f"{name}_end")
            elif up in CHANNEL_NAMES_UPPER:
                raise err(f"joint {name!r}: more channel names than CHANNELS {n} declares", line)
            else:
                raise err(f"unexpected {tok!r} in joint {name!r} (expected JOINT, End Site or '}}')", line)

    def pos_advance():
        nonlocal pos
        pos += 1

    def joint_name():
        nonlocal pos
        if pos >= len(toks):
            raise err("missing joint name", toks[-1][1])
        first_line = toks[pos][1]
        parts = []
        while pos < len(toks) and toks[pos][1] == first_line and toks[pos][0] != "{":
            parts.append(toks[pos][0])
            pos += 1
        if not parts:
            raise err("missing joint name", first_line)
        return " ".join(parts), first_line

    tok, line = take("ROOT")
    rname, rline = joint_name()
    block(-1, "ROOT", rline, rname)
    if pos < len(toks):
        tok, line = toks[pos]
        if tok.upper() == "ROOT":
            raise err("a second ROOT: only files with one skeleton are supported", line)
        raise err(f"unexpected {tok!r} after the hierarchy (expected MOTION)", line)
    return nodes


CHANNEL_NAMES_UPPER = tuple(c.upper() for c in CHANNEL_NAMES)


def _parse_motion(lines: list, start: int, where: str, n_channels: int) -> tuple[np.ndarray, float]:
    """Frames (T, n_channels) and the frame time from the MOTION block starting at line index ``start``."""
    i = start + 1
    header = {}
    for key in ("frames", "frame time"):
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i >= len(lines):
            raise DataError(f"{where}, line {i}: MOTION block ends before its '{key.title()}:' line")
        text = lines[i].strip()
        head, _, value = text.partition(":")
        if re.sub(r"\s+", " ", head.strip().lower()) != key:
            raise DataError(f"{where}, line {i + 1}: expected '{key.title()}: <value>', found {text[:60]!r}")
        try:
            header[key] = float(value.strip()) if key == "frame time" else int(value.strip())
        except ValueError:
            raise DataError(f"{where}, line {i + 1}: '{key.title()}:' value {value.strip()!r} is not a number") from None
        i += 1
    n_frames, frame_time = header["frames"], header["frame time"]
    if n_frames < 1:
        raise DataError(f"{where}: 'Frames: {n_frames}': no frames")
    if not (np.isfinite(frame_time) and frame_time > 0):
        raise DataError(f"{where}: 'Frame Time: {frame_time}' must be a positive number")
    rows, row_lines = [], []
    for k in range(i, len(lines)):
        parts = lines[k].split()
        if not parts:
            continue
        if len(parts) != n_channels:
            raise DataError(f"{where}, line {k + 1}: frame {len(rows)} has {len(parts)} values; the hierarchy "
                            f"declares {n_channels} channels")
        rows.append(parts)
        row_lines.append(k + 1)
    if len(rows) < n_frames:
        raise DataError(f"{where}: truncated MOTION block: 'Frames: {n_frames}' but only {len(rows)} frame line(s)"
                        + (f" (last at line {row_lines[-1]})" if row_lines else ""))
    if len(rows) > n_frames:
        raise DataError(f"{where}, line {row_lines[n_frames]}: {len(rows)} frame lines but 'Frames: {n_frames}'")
    try:
        data = np.array(rows, dtype=np.float64).reshape(n_frames, n_channels)
    except ValueError:
        for r, line in zip(rows, row_lines):
            for tok in r:
                try:
                    float(tok)
                except ValueError:
                    raise DataError(f"{where}, line {line}: non-numeric value {tok!r}") from None
        raise
    if not np.isfinite(data).all():
        r = int(np.flatnonzero(~np.isfinite(data).all(axis=1))[0])
        raise DataError(f"{where}, line {row_lines[r]}: NaN or inf value in frame {r}")
    return data, frame_time


def _fps(frame_time: float) -> float:
    fps = 1.0 / frame_time
    nearest = round(fps)
    return float(nearest) if nearest > 0 and abs(fps - nearest) <= 5e-4 * fps else float(fps)


# --------------------------------------------------------------------------- forward kinematics

def forward_kinematics(nodes: list, frames: np.ndarray) -> np.ndarray:
    """Joint positions (T, len(nodes), 3) from parsed nodes and the MOTION values (T, channels)."""
    t = frames.shape[0]
    trans = np.empty((t, len(nodes), 3))
    by_order: dict = {}  # rotation order -> (joints, channel columns): one vectorised call per order
    col = 0
    for j, node in enumerate(nodes):
        trans[:, j] = node.offset
        axes, cols = [], []
        for c in node.channels:
            if c.endswith("position"):
                trans[:, j, "xyz".index(c[0])] = frames[:, col]  # replaces the OFFSET component
            else:
                axes.append(c[0])
                cols.append(col)
            col += 1
        if axes:
            group = by_order.setdefault("".join(axes), ([], []))
            group[0].append(j)
            group[1].append(cols)
    local = np.broadcast_to(np.eye(3), (t, len(nodes), 3, 3)).copy()
    for order, (joints, cols) in by_order.items():
        local[:, joints] = euler_to_matrix(frames[:, np.array(cols)], order)
    pos = np.empty((t, len(nodes), 3))
    glob = np.empty_like(local)
    for j, node in enumerate(nodes):  # parents precede children in file order
        p = node.parent
        if p < 0:
            pos[:, j] = trans[:, j]
            glob[:, j] = local[:, j]
        else:
            pos[:, j] = pos[:, p] + np.einsum("tij,tj->ti", glob[:, p], trans[:, j])
            glob[:, j] = glob[:, p] @ local[:, j]
    return pos


def read_bvh(path, end_sites: bool = False, root_joint: str | None = None) -> BVHMotion:
    """Read a ``.bvh`` or ``.bvh.gz`` file and compute joint positions by forward kinematics.

    Args:
        path: the file.
        end_sites: also return every End Site as a joint named ``<parent>_end``.
        root_joint: return only the subtree under this joint (by name), which then becomes joint 0
            with parent -1. Positions stay absolute (the transforms of the joints above it apply).
            Useful when a file's root is a fixed ground-projection node (e.g. ``joint_Root``) above
            the pelvis.

    Raises :class:`DataError` naming the file and line for malformed files.
    """
    path = Path(path)
    where = str(path)
    text = read_text(path, "a .bvh or .bvh.gz file")
    lines = text.splitlines()
    motion_at = next((i for i, ln in enumerate(lines) if ln.strip().upper() == "MOTION"), None)
    if motion_at is None:
        if not lines or lines[0].strip().upper() != "HIERARCHY":
            raise DataError(f"{where}: not a BVH file (it does not start with HIERARCHY)")
        raise DataError(f"{where}: no MOTION block")
    nodes = _parse_hierarchy(lines, motion_at, where)
    n_channels = sum(len(n.channels) for n in nodes)
    frames, frame_time = _parse_motion(lines, motion_at, where, n_channels)
    pos = forward_kinematics(nodes, frames)

    keep = [j for j, n in enumerate(nodes) if end_sites or not n.end_site]
    if root_joint is not None:
        names = [nodes[j].name for j in keep]
        if root_joint not in names:
            raise DataError(f"{where}: no joint named {root_joint!r} (joints: {names})")
        top = keep[names.index(root_joint)]

        def under(j: int) -> bool:
            while j != -1:
                if j == top:
                    return True
                j = nodes[j].parent
            return False

        keep = [j for j in keep if under(j)]
    new_index = {old: k for k, old in enumerate(keep)}
    parents = []
    for j in keep:
        p = nodes[j].parent
        parents.append(new_index[p] if p in new_index else -1)
    used, names = set(), []
    for j in keep:  # End Site names may clash with a real joint called '<parent>_end'
        name, k = nodes[j].name, 2
        while name in used:
            name, k = f"{nodes[j].name}_{k}", k + 1
        used.add(name)
        names.append(name)
    return BVHMotion(
        positions=pos[:, keep],
        joint_names=tuple(names),
        parents=tuple(parents),
        fps=_fps(frame_time),
        offsets=np.stack([nodes[j].offset for j in keep]),
        channels=tuple(nodes[j].channels for j in keep),
        path=where,
    )
