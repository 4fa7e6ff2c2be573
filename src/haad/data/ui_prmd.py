"""UI-PRMD (University of Idaho Physical Rehabilitation Movement Data), Kinect v2 part: 22 joints,
10 exercises, each episode performed correctly and incorrectly (``shared/data/ui-prmd/SOURCE.md``).

Files: ``Segmented Movements/Kinect/{Positions,Angles}/mXX_sYY_eZZ_{positions,angles}.txt[.gz]``
(correct) and ``Incorrect Segmented Movements/Kinect/.../mXX_sYY_eZZ_{positions,angles}_inc.txt[.gz]``
(incorrect); XX exercise, YY subject, ZZ episode. Each line is one frame of 66 comma-separated
values, 22 joints x (x, y, z).

Stored form and forward kinematics (:func:`ui_prmd_fk`):

* positions file: joint 1 (the waist) is absolute; every other joint is its offset from its parent
  in the parent's rotated frame, in centimetres;
* angles file: per joint, Euler angles (x, y, z) in degrees; the joint's local rotation is
  ``R = Rz(z) @ Rx(x) @ Ry(y)`` by default (``euler_order="zxy"``);
* ``G_waist = R_waist``, ``G_j = G_parent(j) @ R_j`` and ``p_j = p_parent(j) + G_parent(j) @ offset_j``
  over the tree of :data:`UI_PRMD_LAYOUT` (spine waist-spine-chest-neck-head-head tip; arms hang from
  the chest, legs from the waist).

Why ``zxy`` and a strict tree, when SOURCE.md (after the dataset's own conversion code) says
``Rz @ Ry @ Rx`` and starts the arms from the chest's own rotation: on real episodes ``zxy``
gives anatomically valid poses (the hurdle step's foot hangs below the knee, the straight-leg raise
lifts a straight leg forward to hip height) while ``zyx`` puts the foot above the knee in 6.5 %
of frames and swings the raised leg backwards over the head; ``zxy`` also gives the smoothest
motion of all 36 axis/order combinations (median joint step 0.43 cm per frame against 0.60 cm),
and accumulating the waist and spine rotations into the arms made the arm joints smoother in
every episode checked (e.g. median step 0.09 cm against 0.12 cm in a leg raise, 0.21 against 0.24 in
a shoulder abduction). ``euler_order="zyx"`` reproduces the documented order.

Output: absolute positions (T, 22, 3) in **centimetres**, Kinect camera space (y up). Bone lengths
are the lengths of the stored offsets, which the Kinect re-estimates every frame (relative standard
deviation within an episode 1-8 % by bone); ``rigid=True`` rescales every offset to its median
length over the episode so that bone lengths are constant.

Collection (:func:`load_ui_prmd`): labels = exercise - 1 (:data:`UI_PRMD_CLASSES`), 30 fps. Clip
names ``mXX_sYY_eZZ_correct`` / ``mXX_sYY_eZZ_incorrect`` carry the metadata, so it survives
:meth:`~haad.data.collection.Collection.subset` and the ``.npz`` format; :func:`ui_prmd_episodes`
parses it into arrays (exercise, subject, episode, correct).
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np

from haad.data.bvh import euler_to_matrix
from haad.data.collection import Collection, DataError
from haad.skeleton import Layout

#: Exercise names, index = label (m01..m10, as in Vakanski et al. 2018, Table 1; the order was
#: checked on the data: m05 lowers and raises the waist, m06 raises a leg, m07 and m10 raise an arm).
UI_PRMD_CLASSES = (
    "deep_squat", "hurdle_step", "inline_lunge", "side_lunge", "sit_to_stand",
    "standing_active_straight_leg_raise", "standing_shoulder_abduction", "standing_shoulder_extension",
    "standing_shoulder_internal_external_rotation", "standing_shoulder_scaption",
)

#: The 22 joints, named by the point (the dataset names the segment that starts there:
#: "left upper arm" is the shoulder, "left forearm" the elbow, "left hand" the wrist).
UI_PRMD_LAYOUT = Layout(
    name="ui-prmd-kinect",
    joint_names=(
        "waist", "spine", "chest", "neck", "head", "head_tip",
        "left_collar", "left_shoulder", "left_elbow", "left_wrist",
        "right_collar", "right_shoulder", "right_elbow", "right_wrist",
        "left_hip", "left_knee", "left_ankle", "left_toe",
        "right_hip", "right_knee", "right_ankle", "right_toe",
    ),
    parents=(-1, 0, 1, 2, 3, 4, 2, 6, 7, 8, 2, 10, 11, 12, 0, 14, 15, 16, 0, 18, 19, 20),
    root=0,
    left=(6, 7, 8, 9, 14, 15, 16, 17),
    right=(10, 11, 12, 13, 18, 19, 20, 21),
    upper=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13),
    lower=(0, 14, 15, 16, 17, 18, 19, 20, 21),
)

FPS = 30.0
FILE_PATTERN = re.compile(r"m(\d{2})_s(\d{2})_e(\d{2})_(positions|angles)(_inc)?\.txt(\.gz)?")
NAME_PATTERN = re.compile(r"m(\d{2})_s(\d{2})_e(\d{2})_(correct|incorrect)")
_FOLDERS = {True: "Segmented Movements", False: "Incorrect Segmented Movements"}


def _read_frames(path: Path) -> np.ndarray:
    """A positions/angles file as (T, 22, 3)."""
    where = str(path)
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rt") as f:
                text = f.read()
        else:
            text = path.read_text()
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise DataError(f"{where}: cannot read: {type(e).__name__}: {e}") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise DataError(f"{where}: empty file")
    rows = [ln.split(",") for ln in lines]
    for k, r in enumerate(rows):
        if len(r) != 66:
            raise DataError(f"{where}, line {k + 1}: {len(r)} values, expected 66 (22 joints x 3)")
    try:
        data = np.array(rows, dtype=np.float64)
    except ValueError:
        for k, r in enumerate(rows):
            for v in r:
                try:
                    float(v)
                except ValueError:
                    raise DataError(f"{where}, line {k + 1}: non-numeric value {v.strip()!r}") from None
        raise
    return data.reshape(len(rows), 22, 3)


def ui_prmd_fk(offsets: np.ndarray, angles: np.ndarray, euler_order: str = "zxy",
               rigid: bool = False) -> np.ndarray:
    """Absolute joint positions (T, 22, 3) from UI-PRMD's stored offsets and angles (see module doc).

    Args:
        offsets: (T, 22, 3) positions file: waist absolute, other joints parent-relative.
        angles: (T, 22, 3) angles file, degrees, columns (x, y, z).
        euler_order: composition order of the per-joint rotation (``"zxy"``: ``Rz @ Rx @ Ry``).
        rigid: rescale each joint's offset to its median length over the clip.
    """
    offsets = np.asarray(offsets, dtype=np.float64)
    angles = np.asarray(angles, dtype=np.float64)
    if offsets.shape != angles.shape or offsets.ndim != 3 or offsets.shape[1:] != (22, 3):
        raise DataError(f"UI-PRMD forward kinematics: positions {offsets.shape} and angles {angles.shape} "
                        f"must both be (frames, 22, 3)")
    if rigid:
        length = np.linalg.norm(offsets, axis=2, keepdims=True)
        target = np.median(length, axis=0, keepdims=True)
        scale = np.divide(target, length, out=np.ones_like(length), where=length > 0)
        offsets = offsets.copy()
        offsets[:, 1:] *= scale[:, 1:]  # the waist is a position, not an offset
    # Index the columns by axis so that euler_to_matrix composes them in `euler_order`.
    cols = ["xyz".index(a) for a in euler_order]
    local = euler_to_matrix(angles[..., cols], euler_order)
    parents = UI_PRMD_LAYOUT.parents
    pos = np.empty_like(offsets)
    glob = [None] * 22
    for j, p in enumerate(parents):  # parents precede children in this joint order
        if p < 0:
            pos[:, j] = offsets[:, j]
            glob[j] = local[:, j]
        else:
            pos[:, j] = pos[:, p] + np.einsum("tij,tj->ti", glob[p], offsets[:, j])
            glob[j] = glob[p] @ local[:, j]
    return pos


def read_ui_prmd_episode(positions_path, angles_path, euler_order: str = "zxy", rigid: bool = False) -> np.ndarray:
    """One episode's absolute positions (T, 22, 3) in centimetres from its positions and angles files."""
    pos_path, ang_path = Path(positions_path), Path(angles_path)
    offsets = _read_frames(pos_path)
    angles = _read_frames(ang_path)
    if len(offsets) != len(angles):
        raise DataError(f"{pos_path}: {len(offsets)} frames, but {ang_path.name} has {len(angles)}")
    return ui_prmd_fk(offsets, angles, euler_order=euler_order, rigid=rigid)


def _kinect_dir(root: Path, correct: bool) -> Path:
    base = root / _FOLDERS[correct]
    return base / "Kinect" if (base / "Kinect").is_dir() else base


def _episodes(root: Path, correct: bool) -> list:
    """[((exercise, subject, episode), positions_path, angles_path)] of one folder, sorted."""
    folder = _kinect_dir(root, correct)
    pos_dir, ang_dir = folder / "Positions", folder / "Angles"
    if not pos_dir.is_dir() or not ang_dir.is_dir():
        from haad.data.generic import MissingDataError

        raise MissingDataError(f"{folder}: expected Positions/ and Angles/ folders of UI-PRMD Kinect files")
    found = {}
    for kind, d in (("positions", pos_dir), ("angles", ang_dir)):
        for f in d.iterdir():
            m = FILE_PATTERN.fullmatch(f.name)
            if m is None:
                continue
            if m.group(4) != kind or bool(m.group(5)) == correct:
                raise DataError(f"{f}: a {m.group(4)}{m.group(5) or ''} file in the "
                                f"{'correct' if correct else 'incorrect'} {kind} folder")
            key = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
            found.setdefault(key, {})[kind] = f
    out = []
    for key in sorted(found):
        pair = found[key]
        if len(pair) != 2:
            have = next(iter(pair.values()))
            missing = "angles" if "angles" not in pair else "positions"
            raise DataError(f"{have}: no matching {missing} file for exercise {key[0]}, subject {key[1]}, "
                            f"episode {key[2]}")
        if not 1 <= key[0] <= len(UI_PRMD_CLASSES):
            raise DataError(f"{pair['positions']}: exercise {key[0]} not in 1..{len(UI_PRMD_CLASSES)}")
        out.append((key, pair["positions"], pair["angles"]))
    return out


def load_ui_prmd(root, correct: bool = True, incorrect: bool = True, euler_order: str = "zxy",
                 rigid: bool = False) -> Collection:
    """Load UI-PRMD's Kinect episodes (see module doc) into a :class:`Collection`.

    Args:
        root: the dataset folder (holding ``Segmented Movements/`` and ``Incorrect Segmented Movements/``).
        correct, incorrect: which episodes to load.
        euler_order, rigid: see :func:`ui_prmd_fk`.

    Clips are sorted by (exercise, subject, episode), correct before incorrect. Order keys are
    (subject, episode, incorrect); every clip is its own split group.
    """
    root = Path(root)
    if not (correct or incorrect):
        raise ValueError("load_ui_prmd: nothing to load (correct=False and incorrect=False)")
    items = []
    for flag, wanted in ((True, correct), (False, incorrect)):
        if wanted:
            items += [(key, flag, p, a) for key, p, a in _episodes(root, flag)]
    if not items:
        from haad.data.generic import MissingDataError

        raise MissingDataError(f"{root}: no UI-PRMD mXX_sYY_eZZ_positions/angles files")
    items.sort(key=lambda it: (it[0], not it[1]))
    clips, labels, keys, names = [], [], [], []
    for (ex, subj, ep), flag, p, a in items:
        clips.append(read_ui_prmd_episode(p, a, euler_order=euler_order, rigid=rigid))
        labels.append(ex - 1)
        keys.append((subj, ep, 0 if flag else 1))
        names.append(f"m{ex:02d}_s{subj:02d}_e{ep:02d}_{'correct' if flag else 'incorrect'}")
    return Collection(
        clips=clips,
        labels=np.array(labels, dtype=np.int64),
        class_names=list(UI_PRMD_CLASSES),
        layout=UI_PRMD_LAYOUT,
        order_keys=np.array(keys, dtype=np.int64),
        names=names,
        source=str(root),
        fps=FPS,
    )


def ui_prmd_episodes(collection: Collection) -> dict:
    """Per-clip metadata of a UI-PRMD collection, parsed from its clip names.

    Returns a dict of (N,) arrays: ``exercise`` (1..10), ``subject`` (1..10), ``episode`` (1..10) and
    ``correct`` (bool). Raises :class:`DataError` for a clip name not of the form
    ``mXX_sYY_eZZ_correct`` / ``mXX_sYY_eZZ_incorrect``.
    """
    ex, subj, ep, ok = [], [], [], []
    for name in collection.names:
        m = NAME_PATTERN.fullmatch(str(name))
        if m is None:
            raise DataError(f"{collection.source}: clip name {name!r} is not a UI-PRMD episode name "
                            f"(mXX_sYY_eZZ_correct or _incorrect)")
        ex.append(int(m.group(1)))
        subj.append(int(m.group(2)))
        ep.append(int(m.group(3)))
        ok.append(m.group(4) == "correct")
    return {
        "exercise": np.array(ex, dtype=np.int64),
        "subject": np.array(subj, dtype=np.int64),
        "episode": np.array(ep, dtype=np.int64),
        "correct": np.array(ok, dtype=bool),
    }
