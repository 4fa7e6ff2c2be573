"""Datasets: loaders that return a :class:`Collection`, and :func:`load_dataset` to pick one by name.

Names (:data:`DATASETS`): ``utd-mhad``, ``nw-ucla``, ``humanact12``, ``florence3d``, ``ui-prmd``,
``kinder-gator``, ``bandai-namco`` (found under the data directory: ``$HAAD_DATA_DIR``, else
``../shared/data``) and ``synthetic`` (generated in memory).
A path is also accepted: ``*.npz`` (the project's own format, :mod:`haad.data.generic`), ACTOR's
``*.pkl``, or a folder (UTD-MHAD, NW-UCLA, Florence 3D or HumanAct12, recognised by its content).
"""

from __future__ import annotations

import os
from pathlib import Path

from haad.data.collection import Collection, DataError, check_clip
from haad.data.florence3d import FLORENCE3D_CLASSES, load_florence3d
from haad.data.generic import MissingDataError, load_npz, save_npz
from haad.data.humanact12 import HUMANACT12_CLASSES, load_humanact12
from haad.data.nw_ucla import NW_UCLA_CLASSES, load_nw_ucla
from haad.data.utd_mhad import UTD_MHAD_CLASSES, load_utd_mhad
from haad.data.bandai_namco import BANDAI_NAMCO_CONTENTS, load_bandai_namco
from haad.data.kinder_gator import KINDER_GATOR_MOTIONS, load_kinder_gator
from haad.data.ui_prmd import UI_PRMD_CLASSES, load_ui_prmd

DATASETS = ("utd-mhad", "nw-ucla", "humanact12", "florence3d", "ui-prmd", "kinder-gator", "bandai-namco",
            "synthetic")

_EXPECTED = {
    "utd-mhad": "a folder holding Skeleton/aA_sS_tT_skeleton.mat files (see docs/DATA-FORMATS.md)",
    "nw-ucla": "a folder holding all_sqe/aAA_sSS_eEE_vVV.json files (see docs/DATA-FORMATS.md)",
    "humanact12": ("a folder holding humanact12poses.pkl, HumanAct12Poses/humanact12poses.pkl or "
                   "Action2Motion's PxxGxxRxxFxxxxTxxxxAxxxx.npy files (HumanAct12 must be provided by the user)"),
    "florence3d": "a folder holding Florence 3D Actions' skeletal_data.mat (see docs/DATA-FORMATS.md)",
    "ui-prmd": ("a folder holding UI-PRMD's 'Segmented Movements/Kinect' and 'Incorrect Segmented Movements/Kinect' "
                "Positions/ and Angles/ files (see docs/DATA-FORMATS.md)"),
    "kinder-gator": ("a folder holding Kinder-Gator's Adults/ and Children/ POSE-*.csv[.gz] files "
                     "(see docs/DATA-FORMATS.md)"),
    "bandai-namco": ("a folder holding Bandai Namco dataset 2's data/dataset-2_<content>_<style>_<id>.bvh[.gz] "
                     "files (see docs/DATA-FORMATS.md)"),
}

__all__ = [
    "Collection", "DataError", "MissingDataError", "check_clip", "DATASETS", "default_data_dir",
    "load_dataset", "load_npz", "save_npz", "load_humanact12", "load_utd_mhad", "load_nw_ucla",
    "HUMANACT12_CLASSES", "UTD_MHAD_CLASSES", "NW_UCLA_CLASSES", "load_florence3d", "FLORENCE3D_CLASSES",
    "load_ui_prmd", "UI_PRMD_CLASSES", "load_kinder_gator", "KINDER_GATOR_MOTIONS", "load_bandai_namco",
    "BANDAI_NAMCO_CONTENTS",
]


def default_data_dir() -> Path:
    """``$HAAD_DATA_DIR`` if set, else ``../shared/data`` (relative to the working directory, falling
    back to the one next to this repository's checkout)."""
    env = os.environ.get("HAAD_DATA_DIR")
    if env:
        return Path(env)
    rel = Path("..") / "shared" / "data"
    if rel.is_dir():
        return rel
    repo = Path(__file__).resolve().parents[3]  # src/haad/data/__init__.py -> repository root
    cand = repo / ".." / "shared" / "data"
    return cand if cand.is_dir() else rel


def _canonical(name: str) -> str | None:
    key = name.strip().lower().replace("_", "-")
    aliases = {"utd": "utd-mhad", "utdmhad": "utd-mhad", "ucla": "nw-ucla", "nwucla": "nw-ucla",
               "florence": "florence3d", "florence-3d": "florence3d",
               "uiprmd": "ui-prmd", "kindergator": "kinder-gator", "bandai": "bandai-namco",
               "bandainamco": "bandai-namco"}
    key = aliases.get(key, key)
    return key if key in DATASETS else None


def _load_dir(path: Path) -> Collection:
    """A folder: recognise UTD-MHAD / NW-UCLA / Florence 3D by their files, else treat it as HumanAct12."""
    from haad.data.nw_ucla import FILE_PATTERN as UCLA_FILES
    from haad.data.utd_mhad import FILE_PATTERN as UTD_FILES

    if (path / "Skeleton").is_dir() or any(UTD_FILES.fullmatch(p.name) for p in path.iterdir()):
        return load_utd_mhad(path)
    if (path / "all_sqe").is_dir() or any(UCLA_FILES.fullmatch(p.name) for p in path.iterdir()):
        return load_nw_ucla(path)
    from haad.data.florence3d import DATA_FILE as FLORENCE_FILE

    if (path / FLORENCE_FILE).is_file():
        return load_florence3d(path)
    return load_humanact12(path)


def load_dataset(name_or_path, data_dir=None) -> Collection:
    """Load a dataset by name (:data:`DATASETS`) or from a path (``.npz``, ``.pkl``, one ``.bvh`` or
    Kinect-style ``.csv`` recording (:func:`load_recording`), or a folder).

    Raises ``FileNotFoundError`` (a :class:`MissingDataError`) naming the path and what was expected
    there when it does not exist, and :class:`DataError` for malformed data.
    """
    name = _canonical(str(name_or_path)) if isinstance(name_or_path, str) else None
    if name == "synthetic":
        from haad.data.synthetic import synthesize  # written separately; imported only when asked for

        return synthesize()
    if name is not None:
        base = Path(data_dir) if data_dir is not None else default_data_dir()
        path = base / name
        if not path.exists():
            raise MissingDataError(
                f"dataset {name!r} not found at {path}: expected {_EXPECTED[name]}; "
                f"set HAAD_DATA_DIR or pass data_dir"
            )
        loader = {"utd-mhad": load_utd_mhad, "nw-ucla": load_nw_ucla, "humanact12": load_humanact12,
                  "florence3d": load_florence3d, "ui-prmd": load_ui_prmd, "kinder-gator": load_kinder_gator,
                  "bandai-namco": load_bandai_namco}[name]
        data = loader(path)
        data.source = name  # results and checkpoints name the dataset, not this machine's path
        return data

    path = Path(name_or_path)
    if not path.exists():
        raise MissingDataError(
            f"{path}: not found; expected one of the dataset names {list(DATASETS)}, an .npz collection, "
            f"ACTOR's humanact12poses.pkl or a dataset folder"
        )
    if path.is_dir():
        return _load_dir(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return load_npz(path)
    if suffix == ".pkl":
        return load_humanact12(path)
    name = path.name.lower()
    if name.endswith((".bvh", ".bvh.gz", ".csv", ".csv.gz")):
        return load_recording(path)
    raise DataError(f"{path}: unsupported file type {suffix!r}; expected .npz, .pkl, .bvh, .csv or a dataset folder")


def load_recording(path) -> Collection:
    """One BVH or Kinect-style CSV file as a collection of one unlabelled clip (category
    ``unlabelled``), with the file's skeleton and frame rate: a recording to score, or one support clip."""
    from haad.data.bvh import read_bvh
    from haad.data.kinect_csv import read_kinect_csv

    path = Path(path)
    if path.name.lower().endswith((".bvh", ".bvh.gz")):
        motion = read_bvh(path)
        clip, layout, fps = motion.positions, motion.layout(), motion.fps
    else:
        table = read_kinect_csv(path)
        clip, layout, fps = table.positions, table.layout(), table.fps
    return Collection([clip], [0], ["unlabelled"], layout, names=[path.name], source=str(path), fps=fps)
