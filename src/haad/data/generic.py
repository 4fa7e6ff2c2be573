"""The project's own format for a labelled collection of skeleton clips: one ``.npz``, no pickle.

Any dataset (HumanAct12, UTD-MHAD, NW-UCLA, your own) can be stored in this format with
:func:`save_npz` and read back with :func:`load_npz`, or with ``haad.data.load_dataset("x.npz")``.
The file is a plain NumPy ``.npz`` archive read with ``allow_pickle=False``, so it cannot carry code.

Format
------
N clips, J joints, C categories; clip ``i`` has ``lengths[i]`` frames.

Required arrays:

=============== ================ ===================================================================
key             dtype / shape    meaning
=============== ================ ===================================================================
``joints``      float (sum T,J,3) all clips' joint positions concatenated along the frame axis, in
                                 clip order (clip ``i`` is rows ``offset[i] : offset[i]+lengths[i]``
                                 with ``offset = cumsum([0] + lengths[:-1])``). Written as float32.
``lengths``     int (N,)         frames per clip, each >= 1, summing to ``joints.shape[0]``.
``labels``      int (N,)         category id of each clip, in ``0..C-1``.
``class_names`` unicode (C,)     category names, index = label.
``joint_names`` unicode (J,)     joint names, in data order.
``parents``     int (J,)         parent of each joint, -1 for the single tree root.
``root``        int scalar       joint whose first-frame position the protocol subtracts.
=============== ================ ===================================================================

Optional arrays (defaults in brackets):

=============== ================ ===================================================================
``order_keys``  int (N,) or (N,k) keys that order clips within a category before the protocol's
                                 80/20 split, compared lexicographically [storage order].
``groups``      int (N,)         clips sharing a group id stay on one side of the split
                                 [every clip its own group].
``clip_names``  unicode (N,)     per-clip identifiers used in messages ["clip i"].
``layout_name`` unicode scalar   name of the skeleton layout (e.g. ``smpl24``, ``kinect-utd``,
                                 ``kinect-sdk``, ``openni15``) ["custom"].
``fps``         float scalar     frames per second of every clip, positive and finite; written
                                 only when known, so files without it (including those written
                                 before the field existed) load with ``fps = None`` [unknown].
``left``,       int (L,)         left joints, paired element-wise with ``right`` (mirroring).
``right``
``upper``,      int (*,)         upper/lower body joints (body-part models).
``lower``
=============== ================ ===================================================================

Layout on load: if ``layout_name`` is one of :data:`haad.skeleton.LAYOUTS` and ``joint_names``,
``parents`` and ``root`` agree with it, that named layout is used. Otherwise, if any of ``left``,
``right``, ``upper``, ``lower`` is stored, the layout is built from the stored arrays; if none is,
:meth:`haad.skeleton.Layout.generic` derives them from the joint names.

Every problem (missing key, wrong shape, lengths not summing to the frame count, labels out of
range, NaN/inf frames, empty clips, joint-count mismatches, an ``fps`` that is not a positive finite
number) raises :class:`DataError` naming the file and the field or clip. :func:`save_npz` writes to
a temporary file in the target directory and renames it into place, so an existing file is never
left half-written.

Minimal example of writing a compatible file without this package::

    np.savez("mine.npz", joints=np.concatenate(clips).astype("float32"),
             lengths=[len(c) for c in clips], labels=labels, class_names=names,
             joint_names=joint_names, parents=parents, root=0)
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from haad.data.collection import Collection, DataError
from haad.skeleton import LAYOUTS, Layout
from haad.storage import atomic_path

REQUIRED_KEYS = ("joints", "lengths", "labels", "class_names", "joint_names", "parents", "root")
OPTIONAL_KEYS = ("order_keys", "groups", "clip_names", "layout_name", "left", "right", "upper", "lower", "fps")


class MissingDataError(DataError, FileNotFoundError):
    """A data file or folder does not exist (both a :class:`DataError` and a ``FileNotFoundError``)."""


def read_text(path: Path, expected: str, encoding: str = "utf-8", newline: str | None = None) -> str:
    """A text file's contents, gzip-compressed or not (by the ``.gz`` suffix); a missing file is a
    :class:`MissingDataError` saying what was ``expected``, an unreadable one a :class:`DataError`.
    ``newline`` as for :func:`open` (``""`` keeps line endings, as the csv module wants)."""
    import gzip

    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rt", encoding=encoding, errors="replace", newline=newline) as f:
                return f.read()
        with open(path, encoding=encoding, errors="replace", newline=newline) as f:
            return f.read()
    except FileNotFoundError:
        raise MissingDataError(f"{path}: file not found (expected {expected})") from None
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read: {type(e).__name__}: {e}") from None


def find_data_folder(root, subfolder: str, pattern, what: str) -> Path:
    """The folder holding a dataset's files: ``root/subfolder``, or ``root`` itself when it holds files
    matching ``pattern`` (a compiled regex); ``what`` describes the expected files in the error."""
    root = Path(root)
    if (root / subfolder).is_dir():
        return root / subfolder
    if root.is_dir() and any(pattern.fullmatch(p.name) for p in root.iterdir()):
        return root
    raise MissingDataError(f"{root}: no {what} (expected a folder holding {subfolder}/ files, "
                           f"or that {subfolder} folder itself)")


# --------------------------------------------------------------------------- writing

def collection_arrays(collection: Collection, clip_names: bool = True) -> dict:
    """The arrays :func:`save_npz` writes for ``collection`` (name -> ndarray)."""
    layout = collection.layout
    j = layout.num_joints
    clips = list(collection.clips)
    joints = (np.concatenate([np.asarray(c, dtype=np.float32) for c in clips], axis=0) if clips
              else np.zeros((0, j, 3), dtype=np.float32))
    arrays = {
        "joints": joints.astype(np.float32, copy=False),
        "lengths": np.array([len(c) for c in clips], dtype=np.int64),
        "labels": np.asarray(collection.labels, dtype=np.int64),
        "class_names": np.array([str(c) for c in collection.class_names], dtype=np.str_).reshape(-1),
        "joint_names": np.array(layout.joint_names, dtype=np.str_).reshape(-1),
        "parents": np.array(layout.parents, dtype=np.int64),
        "root": np.array(layout.root, dtype=np.int64),
        "order_keys": np.asarray(collection.order_keys, dtype=np.int64),
        "groups": np.asarray(collection.groups, dtype=np.int64),
        "layout_name": np.array(layout.name, dtype=np.str_),
        "left": np.array(layout.left, dtype=np.int64),
        "right": np.array(layout.right, dtype=np.int64),
        "upper": np.array(layout.upper, dtype=np.int64),
        "lower": np.array(layout.lower, dtype=np.int64),
    }
    if collection.fps is not None:  # an unknown rate is no key at all: load_npz refuses NaN or <= 0
        arrays["fps"] = np.array(float(collection.fps), dtype=np.float64)
    if clip_names and collection.names is not None:
        arrays["clip_names"] = np.array([str(n) for n in collection.names], dtype=np.str_).reshape(-1)
    return arrays


def _write_array(fileobj, arr: np.ndarray) -> None:
    np.lib.format.write_array(fileobj, arr, allow_pickle=False)


def save_npz(collection: Collection, path, compress: bool = True, clip_names: bool = True) -> Path:
    """Write ``collection`` to ``path`` (``.npz``) atomically; return the path written.

    The archive is written to a temporary file next to ``path`` and moved into place with
    ``os.replace`` only once complete, so a failure never corrupts an existing file.
    """
    path = Path(path)
    arrays = collection_arrays(collection, clip_names=clip_names)
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=mode, allowZip64=True) as zf:
        for key, arr in arrays.items():
            with zf.open(key + ".npy", "w", force_zip64=True) as member:
                _write_array(member, arr)
    return path


# --------------------------------------------------------------------------- reading

def _int_array(arr: np.ndarray, where: str, field: str) -> np.ndarray:
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        raise DataError(f"{where}: field {field!r} must hold integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _str_array(arr: np.ndarray, where: str, field: str) -> list:
    if arr.dtype.kind == "S":
        arr = np.char.decode(arr, "utf-8")
    if arr.dtype.kind != "U":
        raise DataError(f"{where}: field {field!r} must hold strings, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise DataError(f"{where}: field {field!r} must be 1-D, got shape {arr.shape}")
    return [str(s) for s in arr]


def _layout(arrs: dict, joint_names: list, parents: list, root: int, where: str) -> Layout:
    name = "custom"
    if "layout_name" in arrs:
        ln = arrs["layout_name"]
        if ln.dtype.kind not in "US" or ln.size != 1:
            raise DataError(f"{where}: field 'layout_name' must be a single string, got {ln.dtype} {ln.shape}")
        name = str(ln.reshape(()).item() if ln.dtype.kind == "U" else ln.reshape(()).item().decode())
    known = LAYOUTS.get(name)
    if (known is not None and list(known.joint_names) == joint_names and list(known.parents) == parents
            and known.root == root):
        return known
    if known is not None:
        name = f"{name}-custom"  # same name, different skeleton: do not pass it off as the named one
    try:
        if any(k in arrs for k in ("left", "right", "upper", "lower")):
            parts = {}
            for k in ("left", "right", "upper", "lower"):
                a = _int_array(arrs[k], where, k) if k in arrs else np.zeros(0, np.int64)
                if a.ndim != 1:
                    raise DataError(f"{where}: field {k!r} must be 1-D, got shape {a.shape}")
                parts[k] = tuple(int(i) for i in a)
            return Layout(name, tuple(joint_names), tuple(parents), root, **parts)
        return Layout.generic(joint_names, parents, root, name=name)
    except ValueError as e:
        if isinstance(e, DataError):
            raise
        fields = "joint_names/parents/root/left/right/upper/lower"
        raise DataError(f"{where}: invalid skeleton (fields {fields}): {e}") from None


def _fps(arr: np.ndarray, where: str) -> float:
    if arr.size != 1 or arr.dtype.kind not in "iuf":
        raise DataError(f"{where}: field 'fps' must be a single real number, got dtype {arr.dtype} shape {arr.shape}")
    fps = float(arr.reshape(()).item())
    if not (np.isfinite(fps) and fps > 0):
        raise DataError(f"{where}: field 'fps' must be a positive finite number (frames per second), got {fps}")
    return fps


def load_npz(path, source: str | None = None) -> Collection:
    """Read a collection written by :func:`save_npz` (or any file in the format above)."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise MissingDataError(f"{path}: file not found (expected a .npz collection, see haad.data.generic)")
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise DataError(f"{where}: expected an .npz archive, found a single .npy array")
            arrs = {k: z[k] for k in z.files if k in REQUIRED_KEYS or k in OPTIONAL_KEYS}
    except DataError:
        raise
    except Exception as e:  # bad zip, object arrays (pickle refused), truncated members, ...
        raise DataError(f"{where}: cannot read as .npz (allow_pickle=False): {type(e).__name__}: {e}") from None

    missing = [k for k in REQUIRED_KEYS if k not in arrs]
    if missing:
        raise DataError(f"{where}: missing field(s) {missing}; required: {list(REQUIRED_KEYS)}")

    joints = arrs["joints"]
    if not np.issubdtype(joints.dtype, np.number) or joints.dtype.kind == "c":
        raise DataError(f"{where}: field 'joints' must be real numbers, got dtype {joints.dtype}")
    if joints.ndim != 3 or joints.shape[2] != 3:
        raise DataError(f"{where}: field 'joints' must have shape (frames, joints, 3), got {joints.shape}")
    total, j = joints.shape[0], joints.shape[1]

    lengths = _int_array(arrs["lengths"], where, "lengths")
    if lengths.ndim != 1:
        raise DataError(f"{where}: field 'lengths' must be 1-D, got shape {lengths.shape}")
    n = len(lengths)
    if (lengths < 0).any():
        first = int(np.flatnonzero(lengths < 0)[0])
        raise DataError(f"{where}: field 'lengths' has negative entries (first at clip {first})")
    if int(lengths.sum()) != total:
        raise DataError(f"{where}: field 'lengths' sums to {int(lengths.sum())} frames but 'joints' has {total}")

    labels = _int_array(arrs["labels"], where, "labels")
    if labels.shape != (n,):
        raise DataError(f"{where}: field 'labels' has shape {labels.shape}, expected ({n},) (one per clip)")
    class_names = _str_array(arrs["class_names"], where, "class_names")
    if not class_names:
        raise DataError(f"{where}: field 'class_names' is empty")

    joint_names = _str_array(arrs["joint_names"], where, "joint_names")
    if len(joint_names) != j:
        raise DataError(f"{where}: field 'joint_names' has {len(joint_names)} names but 'joints' has {j} joints")
    parents_arr = _int_array(arrs["parents"], where, "parents")
    if parents_arr.shape != (j,):
        raise DataError(f"{where}: field 'parents' has shape {parents_arr.shape} but 'joints' has {j} joints")
    root_arr = _int_array(arrs["root"], where, "root")
    if root_arr.size != 1:
        raise DataError(f"{where}: field 'root' must be a single integer, got shape {root_arr.shape}")
    root = int(root_arr.reshape(()))
    parents = [int(p) for p in parents_arr]

    order_keys = groups = None
    if "order_keys" in arrs:
        order_keys = _int_array(arrs["order_keys"], where, "order_keys")
        if order_keys.ndim == 1:
            order_keys = order_keys[:, None]
        if order_keys.ndim != 2 or order_keys.shape[0] != n:
            raise DataError(f"{where}: field 'order_keys' has shape {order_keys.shape}, expected ({n}, k)")
    if "groups" in arrs:
        groups = _int_array(arrs["groups"], where, "groups")
        if groups.shape != (n,):
            raise DataError(f"{where}: field 'groups' has shape {groups.shape}, expected ({n},)")
    names = None
    if "clip_names" in arrs:
        names = _str_array(arrs["clip_names"], where, "clip_names")
        if len(names) != n:
            raise DataError(f"{where}: field 'clip_names' has {len(names)} names for {n} clips")
    if names is None:
        names = [f"clip {i}" for i in range(n)]

    bad = np.flatnonzero((labels < 0) | (labels >= len(class_names)))
    if len(bad):
        i = int(bad[0])
        raise DataError(f"{where}: {names[i]}: field 'labels': label {labels[i]} not in 0..{len(class_names) - 1}")
    empty = np.flatnonzero(lengths == 0)
    if len(empty):
        raise DataError(f"{where}: {names[int(empty[0])]}: empty clip (lengths = 0)")

    fps = _fps(arrs["fps"], where) if "fps" in arrs else None
    layout = _layout(arrs, joint_names, parents, root, where)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    clips = [joints[offsets[i]:offsets[i + 1]] for i in range(n)]
    return Collection(
        clips=clips,
        labels=labels,
        class_names=class_names,
        layout=layout,
        order_keys=order_keys,
        groups=groups,
        names=names,
        source=source or where,
        fps=fps,
    )
