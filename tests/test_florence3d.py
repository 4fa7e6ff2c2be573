"""Florence 3D Actions loader: the real data (skipped without it) and small files of the same structure."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import require_dataset
from haad.data import DataError, MissingDataError, load_dataset, load_florence3d, load_npz, save_npz
from haad.data.florence3d import FLORENCE3D_CLASSES
from haad.data.splits import protocol_split
from haad.skeleton import LAYOUTS, OPENNI15, get_layout


@pytest.fixture(scope="module")
def florence():
    return load_florence3d(require_dataset("florence3d"))


# --------------------------------------------------------------------------- real data

def test_florence3d_real(florence):
    col = florence
    assert len(col) == 215 and col.num_classes == 9
    assert col.class_names == list(FLORENCE3D_CLASSES)
    assert col.layout is OPENNI15 and col.layout.num_joints == 15
    assert np.bincount(col.labels, minlength=9).min() >= 20
    assert col.lengths.min() == 8 and col.lengths.max() == 35 and int(col.lengths.sum()) == 4016
    for clip in col.clips:
        assert clip.dtype == np.float32 and clip.shape[1:] == (15, 3) and np.isfinite(clip).all()
    # Subjects 1..10 lead the order key; the second key is the 0-based entry in the file.
    assert set(col.order_keys[:, 0].tolist()) == set(range(1, 11))
    np.testing.assert_array_equal(col.order_keys[:, 1], np.arange(215))
    assert len(np.unique(col.groups)) == 215  # one recording per clip: nothing to keep together
    assert col.names[0] == "a01_s01_n001" and len(set(col.names)) == 215
    assert col.fps is None  # time_stamps are frame numbers only


def test_florence3d_is_z_up_metres(florence):
    a = np.concatenate(florence.clips)
    names = OPENNI15.joint_names
    head, torso = names.index("head"), names.index("torso")
    ankles = [names.index("left_ankle"), names.index("right_ankle")]
    # Kept as recorded: z up (head well above the ankles), y the depth away from the camera.
    assert a[:, head, 2].mean() - a[:, ankles, 2].mean() > 1.0
    assert abs(a[:, head, 1].mean() - a[:, ankles, 1].mean()) < 0.3
    assert 1.5 < a[:, torso, 1].mean() < 5.0
    # The root (torso) lies between the head and the hips.
    hips = [names.index("left_hip"), names.index("right_hip")]
    assert a[:, hips, 2].mean() < a[:, torso, 2].mean() < a[:, head, 2].mean()


def test_florence3d_protocol_split(florence):
    split = protocol_split(florence)
    assert split.seen == tuple(range(6)) and split.unseen == (6, 7, 8)
    assert [florence.class_names[c] for c in split.unseen] == ["stand_up", "read_watch", "bow"]
    # Every category has clips in the pooled test set, and pools + test cover every clip once.
    assert set(florence.labels[split.test].tolist()) == set(range(9))
    train = np.concatenate(split.train_pools)
    assert len(train) + len(split.test) == 215 and not np.intersect1d(train, split.test).size
    assert len(split.test) == 46


def test_florence3d_by_name_folder_and_npz(florence, tmp_path):
    base = require_dataset("florence3d")
    named = load_dataset("florence3d", data_dir=base.parent)
    assert named.source == "florence3d" and len(named) == 215
    assert load_dataset("florence", data_dir=base.parent).source == "florence3d"  # alias
    by_folder = load_dataset(base)  # recognised by its skeletal_data.mat
    np.testing.assert_array_equal(by_folder.clips[100], florence.clips[100])
    back = load_npz(save_npz(florence, tmp_path / "f.npz"))
    assert back.layout is OPENNI15 and back.fps is None
    np.testing.assert_array_equal(back.order_keys, florence.order_keys)


# --------------------------------------------------------------------------- layout

def test_openni15_layout():
    assert get_layout("openni15") is OPENNI15 and LAYOUTS["openni15"] is OPENNI15
    assert OPENNI15.joint_names[OPENNI15.root] == "torso"
    # Bones of Florence's body_model.mat (1-based), as (child, parent) pairs of the tree.
    bones = [(3, 2), (2, 1), (2, 4), (2, 7), (4, 5), (7, 8), (5, 6), (8, 9), (3, 10), (3, 13),
             (10, 11), (13, 14), (11, 12), (14, 15)]
    assert {frozenset((a - 1, b - 1)) for a, b in bones} == {frozenset(e) for e in OPENNI15.edges}


# --------------------------------------------------------------------------- small files

def _write(folder, entries, names=True, body=True):
    """A Florence-like folder: entries are (subject, action, (3, 15, T) array)."""
    import scipy.io

    folder.mkdir(parents=True, exist_ok=True)
    dtype = [("original_skeletal_data", "O"), ("joint_locations", "O"), ("time_stamps", "O"),
             ("subject", "O"), ("action", "O")]
    rec = np.empty((len(entries), 1), dtype=dtype)
    for i, (s, a, arr) in enumerate(entries):
        t = arr.shape[-1] if arr.ndim == 3 else 1
        rec[i, 0] = (arr, arr, np.arange(1, t + 1, dtype=np.uint8)[None], np.uint8(s), np.uint8(a))
    scipy.io.savemat(folder / "skeletal_data.mat", {"skeletal_data": rec})
    if names:
        labels = np.empty((1, 9), dtype=object)
        for i, n in enumerate(FLORENCE3D_CLASSES):
            labels[0, i] = n.replace("_", " ")
        scipy.io.savemat(folder / "action_names.mat", {"action_names": labels})
    if body:
        bones = np.array([[3, 2], [2, 1], [2, 4], [2, 7], [4, 5], [7, 8], [5, 6], [8, 9], [3, 10],
                          [3, 13], [10, 11], [13, 14], [11, 12], [14, 15]], dtype=np.uint8)
        if body == "wrong":
            bones[0] = [1, 15]
        model = np.empty((1, 1), dtype=[("n_joints", "O"), ("bones", "O"), ("hip_center_index", "O")])
        model[0, 0] = (np.uint8(15), bones, np.uint8(3))
        scipy.io.savemat(folder / "body_model.mat", {"body_model": model})
    return folder


def _arr(rng, t):
    return rng.normal(size=(3, 15, t))


def test_florence3d_small_file(tmp_path):
    rng = np.random.default_rng(0)
    entries = [(2, 1, _arr(rng, 5)), (1, 1, _arr(rng, 8)), (1, 9, _arr(rng, 3))]
    folder = _write(tmp_path / "florence3d", entries)
    col = load_florence3d(folder)
    assert col.labels.tolist() == [0, 0, 8] and col.order_keys.tolist() == [[2, 0], [1, 1], [1, 2]]
    np.testing.assert_allclose(col.clips[1], entries[1][2].transpose(2, 1, 0), rtol=1e-6)
    assert col.names == ["a01_s02_n001", "a01_s01_n002", "a09_s01_n003"]
    assert col.source == str(folder)
    # The .mat file itself is accepted, and works without the two side files.
    (folder / "action_names.mat").unlink()
    (folder / "body_model.mat").unlink()
    assert len(load_florence3d(folder / "skeletal_data.mat")) == 3


def test_florence3d_errors(tmp_path):
    rng = np.random.default_rng(1)
    with pytest.raises(MissingDataError, match=r"nowhere.*skeletal_data\.mat.*not found"):
        load_florence3d(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"florence3d.*skeletal_data\.mat"):
        load_dataset("florence3d", data_dir=tmp_path)

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "skeletal_data.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(DataError, match=r"corrupt.skeletal_data\.mat: cannot read MATLAB file"):
        load_florence3d(corrupt)

    cases = {
        "shape": ([(1, 1, rng.normal(size=(3, 20, 4)))], r"skeletal_data\(1\).*shape \(3, 20, 4\)"),
        "action": ([(1, 1, _arr(rng, 4)), (1, 10, _arr(rng, 4))], r"skeletal_data\(2\): action 10 not in 1\.\.9"),
        "nan": ([(1, 2, np.full((3, 15, 4), np.nan))], r"a02_s01_n001: NaN or inf"),
    }
    for name, (entries, pattern) in cases.items():
        folder = _write(tmp_path / name, entries)
        with pytest.raises(DataError, match=pattern) as info:
            load_florence3d(folder)
        assert str(folder) in str(info.value)

    wrong_bones = _write(tmp_path / "bones", [(1, 1, _arr(rng, 4))], body="wrong")
    with pytest.raises(DataError, match=r"body_model\.mat: bones .* differ"):
        load_florence3d(wrong_bones)

    import scipy.io

    other = _write(tmp_path / "other", [(1, 1, _arr(rng, 4))], names=False)
    scipy.io.savemat(other / "skeletal_data.mat", {"something_else": np.zeros(3)})
    with pytest.raises(DataError, match=r"no variable 'skeletal_data'"):
        load_florence3d(other)
