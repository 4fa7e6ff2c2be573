"""UTD-MHAD skeleton loader (Kinect v1, 20 joints, 27 actions; see ``shared/data/utd-mhad/SOURCE.md``).

Files ``Skeleton/aA_sS_tT_skeleton.mat`` hold one variable ``d_skel`` of shape (20, 3, T); clips are
returned as (T, 20, 3) in UTD's joint order (:data:`haad.skeleton.KINECT_UTD`, root hip_center = 3).
Label = A - 1; order key = (subject, trial); every clip is its own split group. Frame rate
:data:`FPS` = 30: the dataset's paper records its Kinect v1 at 30 frames per second.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from haad.data.collection import Collection, DataError
from haad.data.generic import MissingDataError, find_data_folder
from haad.skeleton import KINECT_UTD

UTD_MHAD_CLASSES = (
    "swipe_left", "swipe_right", "wave", "clap", "throw", "arm_cross", "basketball_shoot", "draw_x",
    "draw_circle_clockwise", "draw_circle_counter_clockwise", "draw_triangle", "bowling", "boxing",
    "baseball_swing", "tennis_swing", "arm_curl", "tennis_serve", "push", "knock", "catch",
    "pick_up_and_throw", "jog", "walk", "sit_to_stand", "stand_to_sit", "lunge", "squat",
)

FILE_PATTERN = re.compile(r"a(\d+)_s(\d+)_t(\d+)_skeleton\.mat")

FPS = 30.0


def skeleton_dir(root) -> Path:
    """The ``Skeleton/`` folder of a UTD-MHAD copy (``root`` may be the dataset dir or that folder)."""
    return find_data_folder(root, "Skeleton", FILE_PATTERN, "UTD-MHAD skeleton data (aA_sS_tT_skeleton.mat files)")


def read_utd_clip(path) -> np.ndarray:
    """One ``aA_sS_tT_skeleton.mat`` file as a (T, 20, 3) array."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as e:
        raise DataError(f"{path}: cannot read MATLAB file: {type(e).__name__}: {e}") from None
    if "d_skel" not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise DataError(f"{path}: no variable 'd_skel' (variables: {keys})")
    d = np.asarray(mat["d_skel"])
    if d.ndim != 3 or d.shape[:2] != (KINECT_UTD.num_joints, 3):
        raise DataError(f"{path}: 'd_skel' has shape {d.shape}, expected (20, 3, frames)")
    return np.ascontiguousarray(d.transpose(2, 0, 1))


def load_utd_mhad(root) -> Collection:
    """Load every ``aA_sS_tT_skeleton.mat`` clip (sorted by action, subject, trial) into a :class:`Collection`."""
    folder = skeleton_dir(root)
    parsed = []
    for f in folder.iterdir():
        if f.suffix != ".mat":
            continue
        m = FILE_PATTERN.fullmatch(f.name)
        if m is None:
            raise DataError(f"{f}: file name does not match UTD-MHAD's aA_sS_tT_skeleton.mat")
        parsed.append((tuple(int(g) for g in m.groups()), f))
    parsed.sort()  # numerically: a1, a2, ..., a27 (not a1, a10, a11, ...)
    clips, labels, keys, names = [], [], [], []
    for (action, subject, trial), f in parsed:
        if not 1 <= action <= len(UTD_MHAD_CLASSES):
            raise DataError(f"{f}: action {action} not in 1..{len(UTD_MHAD_CLASSES)}")
        clips.append(read_utd_clip(f))
        labels.append(action - 1)
        keys.append((subject, trial))
        names.append(f.name)
    if not clips:
        raise MissingDataError(f"{folder}: no aA_sS_tT_skeleton.mat files")
    return Collection(
        clips=clips,
        labels=np.array(labels, dtype=np.int64),
        class_names=list(UTD_MHAD_CLASSES),
        layout=KINECT_UTD,
        order_keys=np.array(keys, dtype=np.int64),
        names=names,
        source=str(folder.parent if folder.name == "Skeleton" else folder),
        fps=FPS,
    )
