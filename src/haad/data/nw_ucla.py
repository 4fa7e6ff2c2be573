"""NW-UCLA skeleton loader (Kinect v1, 20 joints, 10 actions, 3 views; see ``shared/data/nw-ucla/SOURCE.md``).

Files ``all_sqe/aAA_sSS_eEE_vVV.json`` hold ``label`` (1..10) and ``skeletons`` (T frames of 20
[x, y, z]) in the Kinect SDK joint order (:data:`haad.skeleton.KINECT_SDK`, root hip_center = 0).
Label = ``label`` - 1, checked against the file name's action code. Order key = (subject,
repetition, view); the three views of one (action, subject, repetition) share a split group.
Frame rate :data:`FPS` = 30, the Kinect v1 skeleton stream's nominal rate (the release itself does
not state one).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from haad.data.collection import Collection, DataError
from haad.data.generic import MissingDataError, find_data_folder
from haad.skeleton import KINECT_SDK

NW_UCLA_CLASSES = (
    "pick_up_with_one_hand", "pick_up_with_two_hands", "drop_trash", "walk_around", "sit_down",
    "stand_up", "donning", "doffing", "throw", "carry",
)

# File action code -> JSON label (1-based), from SOURCE.md: codes 07 and 10 are not in the release.
ACTION_CODE_TO_LABEL = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 8: 7, 9: 8, 11: 9, 12: 10}

FILE_PATTERN = re.compile(r"a(\d+)_s(\d+)_e(\d+)_v(\d+)\.json")

FPS = 30.0


def sequence_dir(root) -> Path:
    """The ``all_sqe/`` folder of an NW-UCLA copy (``root`` may be the dataset dir or that folder)."""
    return find_data_folder(root, "all_sqe", FILE_PATTERN, "NW-UCLA skeleton data (aAA_sSS_eEE_vVV.json files)")


def read_ucla_clip(path) -> tuple[int, np.ndarray]:
    """One JSON file as (label 1..10, (T, 20, 3) array)."""
    try:
        with open(path, encoding="utf-8") as fh:
            d = json.load(fh)
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: cannot read JSON: {type(e).__name__}: {e}") from None
    if not isinstance(d, dict) or "label" not in d or "skeletons" not in d:
        raise DataError(f"{path}: expected a JSON object with 'label' and 'skeletons'")
    try:
        label = int(d["label"])
        arr = np.array(d["skeletons"], dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise DataError(f"{path}: malformed 'label' or 'skeletons' (ragged or non-numeric frames?): {e}") from None
    if arr.ndim != 3 or arr.shape[1:] != (KINECT_SDK.num_joints, 3):
        raise DataError(f"{path}: 'skeletons' has shape {arr.shape}, expected (frames, 20, 3)")
    return label, arr


def load_nw_ucla(root) -> Collection:
    """Load every ``aAA_sSS_eEE_vVV.json`` clip (sorted by file name) into a :class:`Collection`."""
    folder = sequence_dir(root)
    files = sorted(p for p in folder.iterdir() if p.suffix == ".json")
    clips, labels, keys, groups, names = [], [], [], [], []
    group_ids: dict = {}
    for f in files:
        m = FILE_PATTERN.fullmatch(f.name)
        if m is None:
            raise DataError(f"{f}: file name does not match NW-UCLA's aAA_sSS_eEE_vVV.json")
        action, subject, rep, view = (int(g) for g in m.groups())
        label, arr = read_ucla_clip(f)
        expected = ACTION_CODE_TO_LABEL.get(action)
        if expected is None:
            raise DataError(f"{f}: unknown action code a{action:02d} (known: {sorted(ACTION_CODE_TO_LABEL)})")
        if label != expected:
            raise DataError(
                f"{f}: JSON label {label} disagrees with the file's action code a{action:02d} "
                f"(expected label {expected} per SOURCE.md)"
            )
        clips.append(arr)
        labels.append(label - 1)
        keys.append((subject, rep, view))
        groups.append(group_ids.setdefault((action, subject, rep), len(group_ids)))
        names.append(f.name)
    if not clips:
        raise MissingDataError(f"{folder}: no aAA_sSS_eEE_vVV.json files")
    return Collection(
        clips=clips,
        labels=np.array(labels, dtype=np.int64),
        class_names=list(NW_UCLA_CLASSES),
        layout=KINECT_SDK,
        order_keys=np.array(keys, dtype=np.int64),
        groups=np.array(groups, dtype=np.int64),
        names=names,
        source=str(folder.parent if folder.name == "all_sqe" else folder),
        fps=FPS,
    )
