"""Kinder-Gator: 58 motions by 10 adults and 10 children, Kinect v1, 20 joints
(``shared/data/kinder-gator/SOURCE.md``).

Files ``Adults/`` and ``Children/POSE-p<PID>_<nn>-<Motion-Name>-<timestamp>.csv[.gz]``, read with
:func:`haad.data.kinect_csv.read_kinect_csv` (``Timestamp`` in ms, 20 joints x X/Y/Z in metres,
Kinect camera space with y up, then ``User-ID`` and ``Action``). The label comes from the motion
name in the file name (``<nn>`` is only the order in which that participant performed it):
lower-cased, trailing dashes dropped, index into :data:`KINDER_GATOR_MOTIONS` (58 names, sorted).

Collection: layout :data:`haad.skeleton.KINECT_SDK` (the file's joints in SDK order), positions in
metres, fps 30 (Kinect v1's nominal rate; the timestamps give 30-31 frames per second). Order key
(participant id, performance number); every clip its own split group. Clip names
``adult/p565/raise-your-hand`` / ``child/p103/...`` carry the population and the participant;
:func:`kinder_gator_participants` parses them into arrays.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from haad.data.collection import Collection, DataError
from haad.data.kinect_csv import read_kinect_csv, to_kinect_sdk
from haad.skeleton import KINECT_SDK

KINDER_GATOR_MOTIONS = (
    "bend-your-knee-while-raising-your-leg", "bend-your-other-knee-while-raising-your-leg", "bow",
    "climb-and-imaginary-ladder", "do-a-forward-lunge", "do-two-jumping-jacks", "draw-a-circle",
    "draw-a-square", "draw-a-triangle", "draw-the-letter-a", "draw-the-letter-c", "draw-the-letter-k",
    "draw-the-letter-m", "draw-the-letter-x", "fly-like-a-bird", "fly-like-an-airplane", "jump",
    "jump-as-high-as-you-can", "kick-a-ball", "kick-a-ball-as-far-as-you-can",
    "kick-a-ball-as-far-as-you-can-with-the-other-leg", "kick-a-ball-with-the-other-leg",
    "lift-your-leg-to-one-side", "lift-your-leg-to-the-other-side", "make-the-letter-a",
    "make-the-letter-c", "make-the-letter-k", "make-the-letter-m", "make-the-letter-p",
    "make-the-letter-t", "make-the-letter-x", "make-the-letter-y", "point-at-the-camera", "punch",
    "push-an-imaginary-button-in-front-of-you", "put-your-hands-on-your-hips-and-lean-to-the-other-side",
    "put-your-hands-on-your-hips-and-lean-to-the-side", "put-your-hands-on-your-hips-and-twist",
    "raise-your-arm-to-one-side", "raise-your-arm-to-the-other-side", "raise-your-hand",
    "raise-your-other-hand", "run-in-place", "run-in-place-as-fast-as-you-can",
    "signal-someone-to-come-here", "signal-someone-to-stop", "swim",
    "swipe-across-an-imaginary-screen-in-front-of-you-from-left-to-right",
    "swipe-across-an-imaginary-screen-in-front-of-you-from-right-to-left", "throw-a-ball",
    "throw-a-ball-as-far-as-you-can", "throw-a-ball-as-far-as-you-can-with-the-other-arm",
    "throw-a-ball-with-your-other-arm", "touch-your-toes", "walk-in-place",
    "walk-in-place-as-fast-as-you-can", "wave-your-hand", "wave-your-other-hand",
)

FPS = 30.0
FILE_PATTERN = re.compile(r"POSE-p(\d+)_(\d+)-(.+)-(\d+)\.csv(\.gz)?")
NAME_PATTERN = re.compile(r"(adult|child)/p(\d+)/(.+)")
GROUPS = {"adult": "Adults", "child": "Children"}


def motion_label(motion: str) -> str:
    """A file name's motion as a class name: lower case, trailing dashes dropped."""
    return motion.strip().rstrip("-").lower()


def load_kinder_gator(root, groups=("adult", "child")) -> Collection:
    """Load Kinder-Gator (see module doc). ``groups``: which populations, ``"adult"`` and/or ``"child"``."""
    root = Path(root)
    unknown = [g for g in groups if g not in GROUPS]
    if unknown or not groups:
        raise ValueError(f"load_kinder_gator: groups must be a non-empty subset of {tuple(GROUPS)}, got {groups}")
    items = []
    for g in groups:
        folder = root / GROUPS[g]
        if not folder.is_dir():
            from haad.data.generic import MissingDataError

            raise MissingDataError(f"{folder}: not found; expected Kinder-Gator's {GROUPS[g]}/ folder of "
                                   f"POSE-p<PID>_<nn>-<Motion>-<timestamp>.csv[.gz] files")
        for f in folder.iterdir():
            if not (f.name.endswith(".csv") or f.name.endswith(".csv.gz")):
                continue
            m = FILE_PATTERN.fullmatch(f.name)
            if m is None:
                raise DataError(f"{f}: file name does not match POSE-p<PID>_<nn>-<Motion>-<timestamp>.csv")
            motion = motion_label(m.group(3))
            if motion not in KINDER_GATOR_MOTIONS:
                raise DataError(f"{f}: unknown motion {m.group(3)!r} (known: haad.data.kinder_gator."
                                f"KINDER_GATOR_MOTIONS)")
            items.append((KINDER_GATOR_MOTIONS.index(motion), g, int(m.group(1)), int(m.group(2)), f))
    if not items:
        from haad.data.generic import MissingDataError

        raise MissingDataError(f"{root}: no Kinder-Gator POSE-*.csv files")
    items.sort(key=lambda it: (it[0], it[2], it[3]))
    clips, labels, keys, names = [], [], [], []
    for label, g, pid, nn, f in items:
        positions, layout = to_kinect_sdk(read_kinect_csv(f))
        if layout is not KINECT_SDK:
            raise DataError(f"{f}: expected the 20 Kinect v1 SDK joints (HipCenterX, ... FootRightZ)")
        clips.append(positions)
        labels.append(label)
        keys.append((pid, nn))
        names.append(f"{g}/p{pid}/{KINDER_GATOR_MOTIONS[label]}")
    return Collection(
        clips=clips,
        labels=np.array(labels, dtype=np.int64),
        class_names=list(KINDER_GATOR_MOTIONS),
        layout=KINECT_SDK,
        order_keys=np.array(keys, dtype=np.int64),
        names=names,
        source=str(root),
        fps=FPS,
    )


def kinder_gator_participants(collection: Collection) -> dict:
    """Per-clip metadata parsed from clip names: ``child`` (bool, False = adult) and ``participant``
    (int id), both (N,) arrays. Raises :class:`DataError` for names not of the form
    ``adult/p<PID>/<motion>`` or ``child/p<PID>/<motion>``."""
    child, pid = [], []
    for name in collection.names:
        m = NAME_PATTERN.fullmatch(str(name))
        if m is None:
            raise DataError(f"{collection.source}: clip name {name!r} is not a Kinder-Gator clip name "
                            f"(adult/p<PID>/<motion> or child/p<PID>/<motion>)")
        child.append(m.group(1) == "child")
        pid.append(int(m.group(2)))
    return {"child": np.array(child, dtype=bool), "participant": np.array(pid, dtype=np.int64)}
