"""Florence 3D Actions skeleton loader (Kinect v1 through OpenNI, 15 joints, 9 actions, 10 subjects;
see ``shared/data/florence3d/SOURCE.md`` and docs/DATA-FORMATS.md, "Florence 3D Actions").

The whole dataset is one MATLAB file, ``skeletal_data.mat``: a (215, 1) struct array
``skeletal_data`` whose entries hold ``original_skeletal_data`` (3, 15, T), ``subject`` (1..10) and
``action`` (1..9), plus ``joint_locations`` (the original authors' torso-centred normalisation) and
``time_stamps``. The raw sensor positions, ``original_skeletal_data``, are used: metres in the camera
frame, transposed to (T, 15, 3) in the file's joint order (:data:`haad.skeleton.OPENNI15`, root
torso = 2; NITE has no pelvis joint).

**The coordinates are z-up**: x across the image, y the depth away from the camera, z up. They are
kept as recorded, unlike UTD-MHAD and NW-UCLA whose y is up; bringing every dataset to one up axis
is the job of a separate normalisation step, not of this loader.

Clips are returned in file order. Label = ``action`` - 1; order key = (subject, index in the file),
so the protocol's per-category 80/20 split puts the last subjects' clips in the test set; every
clip is its own split group (one camera, one recording per clip). The frame rate is not documented
and ``time_stamps`` holds only the frame numbers 1..T, so :attr:`Collection.fps` is ``None``.

When ``action_names.mat`` and ``body_model.mat`` lie beside the data file, they are checked against
:data:`FLORENCE3D_CLASSES` and the layout's bones, so a different release is refused rather than
mislabelled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from haad.data.collection import Collection, DataError
from haad.data.generic import MissingDataError
from haad.skeleton import OPENNI15

# action_names.mat, in snake case; "tight lace" (tying a shoelace) is the dataset's own wording.
FLORENCE3D_CLASSES = (
    "wave", "drink", "answer_phone", "clap", "tight_lace", "sit_down", "stand_up", "read_watch", "bow",
)

DATA_FILE = "skeletal_data.mat"
NAMES_FILE = "action_names.mat"
BODY_FILE = "body_model.mat"
FIELDS = ("original_skeletal_data", "subject", "action")


def data_file(root) -> Path:
    """The ``skeletal_data.mat`` of a Florence 3D copy (``root`` may be its folder or the file itself)."""
    root = Path(root)
    path = root if root.suffix.lower() == ".mat" else root / DATA_FILE
    if not path.is_file():
        raise MissingDataError(f"{path}: not found (expected Florence 3D Actions' {DATA_FILE}, "
                               f"a MATLAB struct array 'skeletal_data'; see docs/DATA-FORMATS.md)")
    return path


def _loadmat(path: Path) -> dict:
    import scipy.io

    try:
        return scipy.io.loadmat(str(path))
    except Exception as e:  # truncated file, not MATLAB, unsupported version, ...
        raise DataError(f"{path}: cannot read MATLAB file: {type(e).__name__}: {e}") from None


def _scalar_int(value, where: str, field: str) -> int:
    arr = np.asarray(value)
    if arr.size != 1 or not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{where}: field {field!r} must be a single number, got {arr.dtype} {arr.shape}")
    v = arr.reshape(()).item()
    if float(v) != int(v):
        raise DataError(f"{where}: field {field!r} must be an integer, got {v}")
    return int(v)


def read_florence_file(path) -> list[tuple[int, int, np.ndarray]]:
    """Every entry of ``skeletal_data.mat`` as (subject, action, (T, 15, 3) array), in file order."""
    path = Path(path)
    mat = _loadmat(path)
    if "skeletal_data" not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise DataError(f"{path}: no variable 'skeletal_data' (variables: {keys})")
    entries = np.asarray(mat["skeletal_data"]).reshape(-1)
    # A struct array comes back either as an object array of (1, 1) records or as one record array.
    if entries.dtype.names is None and entries.dtype != object:
        raise DataError(f"{path}: 'skeletal_data' is not a struct array (dtype {entries.dtype})")
    out = []
    j = OPENNI15.num_joints
    for i, entry in enumerate(entries):
        where = f"{path}: skeletal_data({i + 1})"
        rec = np.asarray(entry)
        if rec.dtype.names is None:
            raise DataError(f"{where}: not a struct (dtype {rec.dtype})")
        missing = [f for f in FIELDS if f not in rec.dtype.names]
        if missing:
            raise DataError(f"{where}: missing field(s) {missing}; fields: {list(rec.dtype.names)}")
        rec = rec.reshape(-1)[0]
        subject = _scalar_int(rec["subject"], where, "subject")
        action = _scalar_int(rec["action"], where, "action")
        if not 1 <= action <= len(FLORENCE3D_CLASSES):
            raise DataError(f"{where}: action {action} not in 1..{len(FLORENCE3D_CLASSES)}")
        arr = np.asarray(rec["original_skeletal_data"])
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise DataError(f"{where}: field 'original_skeletal_data' must be numeric, got dtype {arr.dtype}")
        if arr.ndim == 2 and arr.shape == (3, j):  # a one-frame clip may lose its last axis
            arr = arr[:, :, None]
        if arr.ndim != 3 or arr.shape[:2] != (3, j):
            raise DataError(f"{where}: 'original_skeletal_data' has shape {arr.shape}, expected (3, {j}, frames)")
        out.append((subject, action, np.ascontiguousarray(arr.transpose(2, 1, 0), dtype=np.float64)))
    if not out:
        raise DataError(f"{path}: 'skeletal_data' holds no clips")
    return out


def _check_action_names(path: Path) -> None:
    mat = _loadmat(path)
    if "action_names" not in mat:
        raise DataError(f"{path}: no variable 'action_names'")
    try:
        names = [str(np.asarray(n).reshape(-1)[0]).strip().lower().replace(" ", "_")
                 for n in np.asarray(mat["action_names"]).reshape(-1)]
    except (IndexError, TypeError, ValueError) as e:
        raise DataError(f"{path}: malformed 'action_names': {e}") from None
    if tuple(names) != FLORENCE3D_CLASSES:
        raise DataError(f"{path}: action names {names} differ from the expected {list(FLORENCE3D_CLASSES)}")


def _check_body_model(path: Path) -> None:
    mat = _loadmat(path)
    try:
        bones = np.asarray(mat["body_model"].reshape(-1)[0]["bones"], dtype=np.int64).reshape(-1, 2)
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise DataError(f"{path}: no readable 'body_model.bones': {type(e).__name__}: {e}") from None
    got = {frozenset((int(a) - 1, int(b) - 1)) for a, b in bones}
    expected = {frozenset(e) for e in OPENNI15.edges}
    if got != expected:
        raise DataError(f"{path}: bones {sorted(tuple(sorted(b)) for b in got)} (0-based) differ from "
                        f"the {OPENNI15.name} layout's {sorted(tuple(sorted(b)) for b in expected)}")


def load_florence3d(root) -> Collection:
    """Load Florence 3D Actions (``root``: the dataset folder or its ``skeletal_data.mat``) into a
    :class:`Collection`: raw z-up positions in metres, layout ``openni15``, ``fps`` unknown."""
    path = data_file(root)
    folder = path.parent
    for name, check in ((NAMES_FILE, _check_action_names), (BODY_FILE, _check_body_model)):
        if (folder / name).is_file():
            check(folder / name)
    entries = read_florence_file(path)
    clips, labels, keys, names = [], [], [], []
    for i, (subject, action, arr) in enumerate(entries):
        clips.append(arr)
        labels.append(action - 1)
        keys.append((subject, i))
        names.append(f"a{action:02d}_s{subject:02d}_n{i + 1:03d}")  # n: 1-based entry in the file
    return Collection(
        clips=clips,
        labels=np.array(labels, dtype=np.int64),
        class_names=list(FLORENCE3D_CLASSES),
        layout=OPENNI15,
        order_keys=np.array(keys, dtype=np.int64),
        names=names,
        source=str(folder if path.name == DATA_FILE else path),
        fps=None,
    )
