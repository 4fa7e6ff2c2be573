"""HumanAct12 loaders: ACTOR's ``humanact12poses.pkl`` and Action2Motion's folder of ``.npy`` clips.

Two published forms of the same 1,191 clips of SMPL-24 joint positions (docs/DATA-FORMATS.md, "HumanAct12"):

* **ACTOR** (``HumanAct12Poses/humanact12poses.pkl``): a pickled dict with ``joints3D`` (list of
  (T, 24, 3) arrays), ``y`` (list of ints 0..11), ``poses`` (list of (T, 72) SMPL axis-angle) and
  possibly ``oldposes``. Only ``joints3D`` and ``y`` are used; the order key is storage order.
  The pickle is read with a restricted unpickler that admits plain containers and numpy array
  reconstruction only; anything else (e.g. a payload calling ``os.system``) is refused with a
  :class:`DataError` before it can run.
* **Action2Motion** (a folder of ``PxxGxxRxxFxxxxTxxxxAxxxx.npy`` files, each (T, 24, 3)): the
  coarse label is ``int(first two digits of the A code) - 1``; files are read in sorted-name order
  and the order key is that file order (the same order ACTOR's pkl uses).

Neither release states a frame rate, so :attr:`Collection.fps` is ``None``.
"""

from __future__ import annotations

import collections
import io
import pickle
import re
from pathlib import Path

import numpy as np

from haad.data.collection import Collection, DataError
from haad.data.generic import MissingDataError
from haad.skeleton import SMPL24

HUMANACT12_CLASSES = (
    "warm_up", "walk", "run", "jump", "drink", "lift_dumbbell",
    "sit", "eat", "turn_steering_wheel", "phone", "boxing", "throw",
)

PKL_NAME = "humanact12poses.pkl"
NPY_PATTERN = re.compile(r"P(\d{2})G(\d{2})R(\d{2})F(\d{4})T(\d{4})A(\d{2})(\d{2})\.npy")


# --------------------------------------------------------------------------- restricted unpickler

def _numpy_internals() -> dict:
    try:  # numpy >= 2
        from numpy._core import multiarray, numeric
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray, numeric
    return {
        "_reconstruct": multiarray._reconstruct,
        "scalar": multiarray.scalar,
        "_frombuffer": numeric._frombuffer,
    }


def _latin1_encode(text, encoding="latin1", errors="strict"):
    """Stand-in for ``_codecs.encode`` (protocol-2 pickles encode bytes this way), latin-1 only."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return text.encode("latin1", errors)


def _allowed_globals() -> dict:
    npi = _numpy_internals()
    allowed = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = npi["_reconstruct"]
        allowed[(mod, "scalar")] = npi["scalar"]
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):
        allowed[(mod, "_frombuffer")] = npi["_frombuffer"]
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    for mod in ("builtins", "__builtin__"):
        for name, obj in (("set", set), ("frozenset", frozenset), ("list", list), ("dict", dict),
                          ("tuple", tuple), ("bytearray", bytearray)):
            allowed[(mod, name)] = obj
    allowed[("collections", "OrderedDict")] = collections.OrderedDict
    allowed[("_codecs", "encode")] = _latin1_encode
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only plain containers and numpy array/dtype/scalar reconstruction."""

    _allowed: dict | None = None

    def __init__(self, file, where: str):
        super().__init__(file, encoding="latin1")
        self._where = where
        if _RestrictedUnpickler._allowed is None:
            _RestrictedUnpickler._allowed = _allowed_globals()

    def find_class(self, module: str, name: str):
        obj = self._allowed.get((module, name))
        if obj is None:
            raise DataError(
                f"{self._where}: refusing to unpickle {module}.{name}: only plain containers and numpy "
                f"arrays are allowed in a HumanAct12 pkl (the file may be corrupt or malicious)"
            )
        return obj

    def persistent_load(self, pid):
        raise DataError(f"{self._where}: refusing persistent id {pid!r} in a HumanAct12 pkl")


def safe_load_pickle(path) -> object:
    """Unpickle ``path`` with the restricted unpickler; any other failure becomes a DataError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MissingDataError(f"{path}: file not found (expected ACTOR's {PKL_NAME})") from None
    try:
        return _RestrictedUnpickler(io.BytesIO(data), str(path)).load()
    except DataError:
        raise
    except Exception as e:  # truncated/corrupt pickles raise many different types
        raise DataError(f"{path}: cannot read pickle: {type(e).__name__}: {e}") from None


# --------------------------------------------------------------------------- loaders

def load_humanact12_pkl(path) -> Collection:
    """Load ACTOR's ``humanact12poses.pkl`` (dict with ``joints3D`` and ``y``)."""
    path = Path(path)
    data = safe_load_pickle(path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a dict with keys 'joints3D' and 'y', got {type(data).__name__}")
    for key in ("joints3D", "y"):
        if key not in data:
            raise DataError(f"{path}: missing key {key!r} (keys present: {sorted(map(str, data))})")
    joints, y = data["joints3D"], data["y"]
    if isinstance(joints, np.ndarray) and joints.dtype == object and joints.ndim == 1:
        joints = list(joints)
    if not isinstance(joints, (list, tuple)):
        raise DataError(f"{path}: 'joints3D' must be a list of (T, 24, 3) arrays, got {type(joints).__name__}")
    try:
        labels = np.array([int(v) for v in y], dtype=np.int64)
    except (TypeError, ValueError) as e:
        raise DataError(f"{path}: 'y' must be a list of integer labels: {e}") from None
    if len(labels) != len(joints):
        raise DataError(f"{path}: {len(joints)} clips in 'joints3D' but {len(labels)} labels in 'y'")
    if len(joints) == 0:
        raise DataError(f"{path}: no clips in 'joints3D'")
    return Collection(
        clips=list(joints),
        labels=labels,
        class_names=list(HUMANACT12_CLASSES),
        layout=SMPL24,
        order_keys=np.arange(len(joints), dtype=np.int64)[:, None],
        names=[f"joints3D[{i}]" for i in range(len(joints))],
        source=str(path),
    )


def load_humanact12_npy(folder) -> Collection:
    """Load Action2Motion's folder of ``PxxGxxRxxFxxxxTxxxxAxxxx.npy`` files (sorted-name order)."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix == ".npy" and p.is_file())
    if not files:
        raise MissingDataError(
            f"{folder}: no HumanAct12 data: expected {PKL_NAME}, HumanAct12Poses/{PKL_NAME} "
            f"or Action2Motion's PxxGxxRxxFxxxxTxxxxAxxxx.npy files"
        )
    clips, labels, names = [], [], []
    for f in files:
        m = NPY_PATTERN.fullmatch(f.name)
        if m is None:
            raise DataError(f"{f}: file name does not match Action2Motion's PxxGxxRxxFxxxxTxxxxAxxxx.npy")
        coarse = int(m.group(6))
        if not 1 <= coarse <= len(HUMANACT12_CLASSES):
            raise DataError(f"{f}: action code A{m.group(6)}{m.group(7)}: coarse class {coarse} not in 1..12")
        try:
            arr = np.load(f, allow_pickle=False)
        except Exception as e:
            raise DataError(f"{f}: cannot read npy: {type(e).__name__}: {e}") from None
        clips.append(arr)
        labels.append(coarse - 1)
        names.append(f.name)
    return Collection(
        clips=clips,
        labels=np.array(labels, dtype=np.int64),
        class_names=list(HUMANACT12_CLASSES),
        layout=SMPL24,
        order_keys=np.arange(len(files), dtype=np.int64)[:, None],
        names=names,
        source=str(folder),
    )


def find_humanact12(path) -> Path:
    """Resolve ``path`` to the pkl file or the npy folder it designates."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise MissingDataError(
            f"{path}: not found (expected ACTOR's {PKL_NAME}, a folder holding it or "
            f"HumanAct12Poses/{PKL_NAME}, or a folder of Action2Motion .npy files)"
        )
    for cand in (path / PKL_NAME, path / "HumanAct12Poses" / PKL_NAME):
        if cand.is_file():
            return cand
    if not any(p.suffix == ".npy" for p in path.iterdir()) and (path / "humanact12").is_dir():
        return path / "humanact12"  # Action2Motion's dataset/humanact12/ layout
    return path


def load_humanact12(path) -> Collection:
    """Load HumanAct12 from ACTOR's pkl, a folder holding it, or Action2Motion's npy folder."""
    target = find_humanact12(path)
    if target.is_file():
        if target.suffix != ".pkl":
            raise DataError(f"{target}: expected {PKL_NAME} (a .pkl file) or a folder of .npy clips")
        return load_humanact12_pkl(target)
    return load_humanact12_npy(target)
