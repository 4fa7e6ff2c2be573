"""Kinect-style CSV skeleton files: a header of ``<Joint>X,<Joint>Y,<Joint>Z`` column triples.

:func:`read_kinect_csv` reads any CSV (optionally gzip-compressed, ``.csv.gz``) whose header names
joint coordinates as ``<Name>X``, ``<Name>Y``, ``<Name>Z`` (case of the final letter ignored,
an optional ``_`` or space before it allowed). Other columns (a timestamp, a frame number, a user id,
an action name, an empty column after a trailing comma) are kept aside in
:attr:`KinectCSV.extra`. Values are returned as written (Kinect camera space, metres for the SDKs).

Layout (:func:`kinect_layout`):

* the 20 Kinect v1 SDK names (``HipCenter, Spine, ShoulderCenter, Head, ShoulderLeft, ...``) in
  any column order give :data:`haad.skeleton.KINECT_SDK` (joints reordered to that layout);
* other sets of Kinect v1/v2 SDK names (e.g. Kinect v2's 25 joints ``SpineBase ... ThumbRight``)
  give a tree built from the SDK's bone list, named ``kinect-csv``;
* any other names give a *star* layout named ``csv-star``: joint 0 is the root and every other
  joint's parent is joint 0 (the file does not say how joints connect). Sides are still paired
  from the names.

Errors (:class:`~haad.data.collection.DataError`, naming the file and the line): no coordinate
columns, a joint missing one of X/Y/Z, a row with a different number of fields than the header,
non-numeric coordinates, an empty file.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from haad.data.layout_names import infer_layout
from haad.data.collection import DataError
from haad.data.generic import read_text
from haad.skeleton import KINECT_SDK, Layout

#: Kinect v1 SDK joint names in :data:`haad.skeleton.KINECT_SDK` order.
KINECT_V1_NAMES = (
    "HipCenter", "Spine", "ShoulderCenter", "Head",
    "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight",
    "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
    "HipRight", "KneeRight", "AnkleRight", "FootRight",
)

#: Parent of every Kinect v1 and v2 SDK joint (by name); the tree roots have ``None``.
KINECT_PARENTS = {
    # v1
    "HipCenter": None, "Spine": "HipCenter", "ShoulderCenter": "Spine", "Head": "ShoulderCenter",
    "ShoulderLeft": "ShoulderCenter", "ShoulderRight": "ShoulderCenter",
    "HipLeft": "HipCenter", "HipRight": "HipCenter",
    # shared limbs
    "ElbowLeft": "ShoulderLeft", "WristLeft": "ElbowLeft", "HandLeft": "WristLeft",
    "ElbowRight": "ShoulderRight", "WristRight": "ElbowRight", "HandRight": "WristRight",
    "KneeLeft": "HipLeft", "AnkleLeft": "KneeLeft", "FootLeft": "AnkleLeft",
    "KneeRight": "HipRight", "AnkleRight": "KneeRight", "FootRight": "AnkleRight",
    # v2 (where the shoulders and hips hang from SpineShoulder / SpineBase)
    "SpineBase": None, "SpineMid": "SpineBase", "SpineShoulder": "SpineMid", "Neck": "SpineShoulder",
    "HandTipLeft": "HandLeft", "ThumbLeft": "HandLeft",
    "HandTipRight": "HandRight", "ThumbRight": "HandRight",
}
_V2_OVERRIDES = {"Head": "Neck", "ShoulderLeft": "SpineShoulder", "ShoulderRight": "SpineShoulder",
                 "HipLeft": "SpineBase", "HipRight": "SpineBase"}

_COORD = re.compile(r"(.+?)[ _]?([XYZxyz])")


@dataclass
class KinectCSV:
    """One CSV file's skeleton.

    Attributes:
        positions: float64 (T, J, 3), the file's values, joints in header order.
        joint_names: J names from the header (the part before X/Y/Z).
        extra: the other columns by header name: float arrays where every value parses as a
            number, else arrays of strings.
        fps: frame rate estimated from a ``Timestamp``/``Time`` column in milliseconds (median frame
            interval), ``None`` without one.
        path: the file read.
    """

    positions: np.ndarray
    joint_names: tuple
    extra: dict = field(default_factory=dict)
    fps: float | None = None
    path: str = ""

    def layout(self) -> Layout:
        """The layout of :attr:`joint_names` (see :func:`kinect_layout`); for the Kinect v1 SDK names
        use :func:`to_kinect_sdk` first, which also reorders the joints."""
        return kinect_layout(self.joint_names)


def _header_joints(header: list, where: str) -> tuple[list, list, dict]:
    """Joint names, their (x, y, z) column indices, and the other columns (name -> index)."""
    found: dict = {}
    order: list = []
    other: dict = {}
    for i, h in enumerate(header):
        name = h.strip()
        m = _COORD.fullmatch(name)
        if m is None:
            other[name or f"column {i + 1}"] = i
            continue
        joint, axis = m.group(1), m.group(2).upper()
        if joint not in found:
            found[joint] = {}
            order.append(joint)
        if axis in found[joint]:
            raise DataError(f"{where}, line 1: column {name!r} appears twice")
        found[joint][axis] = i
    joints, cols = [], []
    for joint in order:
        axes = found[joint]
        if len(axes) != 3:
            if len(axes) == 1 and len(order) > 1:
                # A lone 'SomethingX' column is not a joint (e.g. an 'IndeX' or 'PosX' field).
                (axis, i), = axes.items()
                other[header[i].strip()] = i
                continue
            missing = [a for a in "XYZ" if a not in axes]
            raise DataError(f"{where}, line 1: joint {joint!r} has no {'/'.join(joint + a for a in missing)} column")
        joints.append(joint)
        cols.append((axes["X"], axes["Y"], axes["Z"]))
    if not joints:
        raise DataError(f"{where}, line 1: no joint coordinate columns (expected headers like HipCenterX, "
                        f"HipCenterY, HipCenterZ); header: {header[:8]}")
    return joints, cols, other


def _estimate_fps(extra: dict) -> float | None:
    for key in extra:
        if key.strip().lower() in ("timestamp", "time", "time_ms", "timestamp_ms"):
            t = extra[key]
            if t.dtype.kind == "f" and len(t) > 2:
                dt = np.diff(t)
                dt = dt[dt > 0]
                if len(dt):
                    fps = 1000.0 / float(np.median(dt))
                    if np.isfinite(fps) and fps > 0:
                        return fps
    return None


def read_kinect_csv(path) -> KinectCSV:
    """Read a Kinect-style CSV (``.csv`` or ``.csv.gz``) into (T, J, 3) positions (see module doc)."""
    path = Path(path)
    where = str(path)
    text = read_text(path, "a Kinect-style .csv or .csv.gz", encoding="utf-8-sig", newline="")
    rows = list(csv.reader(io.StringIO(text)))
    # Trailing blank lines are common; blank lines inside the data are not.
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    if not rows:
        raise DataError(f"{where}: empty file (no header line)")
    header = rows[0]
    joints, cols, other = _header_joints(header, where)
    data = rows[1:]
    if not data:
        raise DataError(f"{where}: no data rows after the header")
    width = len(header)
    for k, r in enumerate(data):
        if len(r) != width:
            raise DataError(f"{where}, line {k + 2}: {len(r)} fields, but the header has {width}")
    flat = [c for triple in cols for c in triple]
    try:
        values = np.array([[r[c] for c in flat] for r in data], dtype=np.float64)
    except ValueError:
        for k, r in enumerate(data):
            for c in flat:
                try:
                    float(r[c])
                except ValueError:
                    raise DataError(f"{where}, line {k + 2}: column {header[c].strip()!r}: non-numeric value "
                                    f"{r[c]!r}") from None
        raise
    positions = values.reshape(len(data), len(joints), 3)
    extra = {}
    for name, i in other.items():
        col = [r[i] for r in data]
        if not header[i].strip() and not any(v.strip() for v in col):
            continue  # the empty column after a trailing comma
        try:
            extra[name] = np.array(col, dtype=np.float64)
        except ValueError:
            extra[name] = np.array(col, dtype=np.str_)
    return KinectCSV(positions=positions, joint_names=tuple(joints), extra=extra,
                     fps=_estimate_fps(extra), path=where)


def to_kinect_sdk(clip: KinectCSV) -> tuple[np.ndarray, Layout]:
    """Positions reordered to :data:`~haad.skeleton.KINECT_SDK` and that layout, when the file holds the
    20 Kinect v1 SDK joints; otherwise the positions as read and :func:`kinect_layout`."""
    names = list(clip.joint_names)
    if sorted(names) == sorted(KINECT_V1_NAMES):
        idx = [names.index(n) for n in KINECT_V1_NAMES]
        return clip.positions[:, idx], KINECT_SDK
    return clip.positions, kinect_layout(names)


def kinect_layout(joint_names) -> Layout:
    """A layout for CSV joint names: the Kinect SDK tree when every name is an SDK joint and they form
    one tree (``kinect-csv``), else a star layout around joint 0 (``csv-star``). The root is the
    tree's root (the star's centre, joint 0)."""
    names = [str(n) for n in joint_names]
    if all(n in KINECT_PARENTS for n in names):
        v2 = any(n in names for n in ("SpineBase", "SpineShoulder", "SpineMid", "Neck"))
        parent_of = dict(KINECT_PARENTS, **_V2_OVERRIDES) if v2 else KINECT_PARENTS
        parents = []
        for n in names:
            p = parent_of[n]
            while p is not None and p not in names:  # skip joints the file leaves out
                p = parent_of[p]
            parents.append(names.index(p) if p is not None else -1)
        if parents.count(-1) == 1:
            return infer_layout(names, parents, root=parents.index(-1), name="kinect-csv")
    parents = [-1] + [0] * (len(names) - 1)
    return infer_layout(names, parents, root=0, name="csv-star")
