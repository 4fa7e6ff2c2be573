"""Dataset loaders: HumanAct12 (pkl + npy folder), UTD-MHAD, NW-UCLA, the npz format, load_dataset."""

from __future__ import annotations

import builtins
import dataclasses
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from haad.data import (
    DATASETS,
    Collection,
    DataError,
    load_dataset,
    load_humanact12,
    load_npz,
    load_nw_ucla,
    load_utd_mhad,
    save_npz,
)
from haad.data import generic
from haad.data.humanact12 import HUMANACT12_CLASSES
from haad.data.splits import protocol_split
from haad.data.windows import make_window
from haad.skeleton import KINECT_SDK, KINECT_UTD, SMPL24, Layout


# --------------------------------------------------------------------------- helpers

def _clips(rng, n, joints=24, lo=3, hi=12):
    return [rng.normal(size=(int(rng.integers(lo, hi)), joints, 3)).astype(np.float32) for _ in range(n)]


def _npy_name(p, g, r, f, t, a):
    return f"P{p:02d}G{g:02d}R{r:02d}F{f:04d}T{t:04d}A{a:04d}.npy"


@pytest.fixture
def small_collection():
    rng = np.random.default_rng(0)
    clips = _clips(rng, 7)
    return Collection(
        clips=clips,
        labels=np.array([0, 1, 2, 0, 1, 2, 2]),
        class_names=["a", "b", "c"],
        layout=SMPL24,
        order_keys=np.array([[3, 1], [2, 2], [1, 3], [0, 4], [5, 5], [6, 6], [4, 7]]),
        groups=np.array([0, 0, 1, 2, 3, 3, 4]),
        names=[f"c{i}.npy" for i in range(7)],
        source="small",
    )


# --------------------------------------------------------------------------- HumanAct12: ACTOR pkl

def _actor_dict(rng, n=9, dtype=np.float32):
    joints = [rng.normal(size=(int(rng.integers(5, 80)), 24, 3)).astype(dtype) for _ in range(n)]
    return {
        "poses": [rng.normal(size=(len(j), 72)).astype(np.float32) for j in joints],
        "oldposes": [],
        "joints3D": joints,
        "y": [int(i % 12) for i in range(n)],
    }


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_humanact12_pkl_roundtrip(tmp_path, protocol):
    rng = np.random.default_rng(protocol)
    data = _actor_dict(rng)
    path = tmp_path / "humanact12poses.pkl"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    col = load_humanact12(path)
    assert len(col) == len(data["y"])
    assert col.layout == SMPL24
    assert col.class_names == list(HUMANACT12_CLASSES)
    assert len(HUMANACT12_CLASSES) == 12 and HUMANACT12_CLASSES[9:] == ("phone", "boxing", "throw")
    np.testing.assert_array_equal(col.labels, data["y"])
    for got, want in zip(col.clips, data["joints3D"]):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(col.order_keys[:, 0], np.arange(len(col)))


def test_humanact12_pkl_numpy1_names_and_numpy_scalars(tmp_path):
    """A pickle written by numpy 1.x names ``numpy.core.multiarray``; labels may be numpy ints."""
    rng = np.random.default_rng(1)
    data = _actor_dict(rng, n=4, dtype=np.float64)
    data["y"] = [np.int64(v) for v in (3, 0, 11, 5)]
    raw = pickle.dumps(data, protocol=2)
    assert b"numpy._core.multiarray\n" in raw
    raw = raw.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    path = tmp_path / "humanact12poses.pkl"
    path.write_bytes(raw)
    col = load_humanact12(path)
    np.testing.assert_array_equal(col.labels, [3, 0, 11, 5])
    for got, want in zip(col.clips, data["joints3D"]):
        np.testing.assert_array_equal(got, want.astype(np.float32))


def test_humanact12_dispatch_on_folders(tmp_path):
    rng = np.random.default_rng(2)
    data = _actor_dict(rng, n=3)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "humanact12poses.pkl").write_bytes(pickle.dumps(data))
    (tmp_path / "b" / "HumanAct12Poses").mkdir(parents=True)
    (tmp_path / "b" / "HumanAct12Poses" / "humanact12poses.pkl").write_bytes(pickle.dumps(data))
    for folder in ("a", "b"):
        col = load_humanact12(tmp_path / folder)
        np.testing.assert_array_equal(col.clips[2], data["joints3D"][2])
    (tmp_path / "humanact12").symlink_to(tmp_path / "b", target_is_directory=True)
    col = load_dataset("humanact12", data_dir=tmp_path)
    assert len(col) == 3 and col.layout == SMPL24
    col = load_dataset(tmp_path / "a" / "humanact12poses.pkl")
    assert len(col) == 3


@pytest.mark.parametrize(
    "payload",
    [
        lambda marker: (os.system, (f"touch {marker}",)),
        lambda marker: (builtins.eval, (f"open({str(marker)!r}, 'w').write('pwned')",)),
        lambda marker: (builtins.exec, (f"open({str(marker)!r}, 'w').write('pwned')",)),
        lambda marker: (np.save, (str(marker), np.zeros(1))),
    ],
    ids=["os.system", "eval", "exec", "numpy.save"],
)
def test_humanact12_malicious_pkl_refused(tmp_path, payload):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return payload(marker)

    rng = np.random.default_rng(3)
    data = _actor_dict(rng, n=2)
    data["y"] = [0, Evil()]  # hidden inside an otherwise valid file
    path = tmp_path / "humanact12poses.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(DataError, match="humanact12poses.pkl.*refusing"):
        load_humanact12(path)
    assert not marker.exists()
    assert not Path(str(marker) + ".npy").exists()


def test_humanact12_pkl_bad_structure(tmp_path):
    rng = np.random.default_rng(4)
    path = tmp_path / "humanact12poses.pkl"
    data = _actor_dict(rng, n=3)
    del data["y"]
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(DataError, match=r"humanact12poses.pkl.*'y'"):
        load_humanact12(path)
    data = _actor_dict(rng, n=3)
    data["y"] = [0, 1]
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(DataError, match="3 clips.*2 labels"):
        load_humanact12(path)
    data = _actor_dict(rng, n=3)
    data["y"] = [0, 1, 12]
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(DataError, match=r"joints3D\[2\].*label 12"):
        load_humanact12(path)
    data = _actor_dict(rng, n=3)
    data["joints3D"][1] = data["joints3D"][1][:, :20]
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(DataError, match=r"joints3D\[1\].*20 joints"):
        load_humanact12(path)
    path.write_bytes(pickle.dumps(data)[:50])
    with pytest.raises(DataError, match="humanact12poses.pkl"):
        load_humanact12(path)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_humanact12(tmp_path / "nowhere" / "humanact12poses.pkl")


# --------------------------------------------------------------------------- HumanAct12: npy folder

def test_humanact12_npy_folder(tmp_path):
    rng = np.random.default_rng(5)
    specs = [  # (P, G, R, F, T, A) in deliberately unsorted order
        (11, 2, 4, 752, 819, 1001),
        (1, 1, 1, 0, 40, 1203),
        (7, 3, 2, 100, 185, 502),
        (1, 1, 2, 50, 120, 1002),
        (3, 1, 1, 10, 70, 301),
    ]
    written = {}
    for s in specs:
        arr = rng.normal(size=(s[4] - s[3], 24, 3)).astype(np.float32)
        name = _npy_name(*s)
        np.save(tmp_path / name, arr)
        written[name] = (arr, s[5] // 100 - 1)
    col = load_humanact12(tmp_path)
    names = sorted(written)
    assert col.names == names
    np.testing.assert_array_equal(col.labels, [written[n][1] for n in names])
    for got, n in zip(col.clips, names):
        np.testing.assert_array_equal(got, written[n][0])
    np.testing.assert_array_equal(col.order_keys[:, 0], np.arange(len(names)))
    assert col.layout == SMPL24 and col.num_classes == 12
    assert col.labels[names.index(_npy_name(1, 1, 1, 0, 40, 1203))] == 11


def test_humanact12_npy_folder_errors(tmp_path):
    np.save(tmp_path / _npy_name(1, 1, 1, 0, 5, 1301), np.zeros((5, 24, 3), np.float32))
    with pytest.raises(DataError, match="A1301.npy.*coarse class 13"):
        load_humanact12(tmp_path)
    (tmp_path / _npy_name(1, 1, 1, 0, 5, 1301)).unlink()
    np.save(tmp_path / "walk_01.npy", np.zeros((5, 24, 3), np.float32))
    with pytest.raises(DataError, match="walk_01.npy"):
        load_humanact12(tmp_path)
    (tmp_path / "walk_01.npy").unlink()
    np.save(tmp_path / _npy_name(1, 1, 1, 0, 5, 101), np.zeros((5, 24, 2), np.float32))
    with pytest.raises(DataError, match=r"A0101.npy.*shape"):
        load_humanact12(tmp_path)
    (tmp_path / _npy_name(1, 1, 1, 0, 5, 101)).unlink()
    np.save(tmp_path / _npy_name(1, 1, 1, 0, 5, 101), np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match=r"A0101.npy"):
        load_humanact12(tmp_path)  # pickled npy refused (allow_pickle=False)
    (tmp_path / _npy_name(1, 1, 1, 0, 5, 101)).unlink()
    with pytest.raises(FileNotFoundError, match="humanact12poses.pkl"):
        load_humanact12(tmp_path)  # empty folder: says what was expected


# --------------------------------------------------------------------------- real UTD-MHAD / NW-UCLA

def _check_real(col, n, classes, layout):
    assert len(col) == n
    assert col.num_classes == classes and len(set(col.class_names)) == classes
    assert col.layout == layout
    assert col.labels.min() == 0 and col.labels.max() == classes - 1
    assert np.all(np.bincount(col.labels, minlength=classes) > 0)
    for clip in col.clips:
        assert clip.dtype == np.float32 and clip.ndim == 3 and clip.shape[1:] == (20, 3)
    # The layout matches the data: hip_center sits between the hips, the head above it.
    a = np.concatenate(col.clips)
    names = layout.joint_names
    hc, lh, rh, hd = (names.index(k) for k in ("hip_center", "left_hip", "right_hip", "head"))
    assert layout.root == hc
    assert np.median(np.linalg.norm(a[:, hc] - (a[:, lh] + a[:, rh]) / 2, axis=1)) < 0.15
    assert np.median(a[:, hd, 1] - a[:, hc, 1]) > 0.3
    for clip in col.clips[::50]:
        w = make_window(clip, layout.root)
        assert w.shape == (60, 20, 3)
        assert np.abs(w[0, layout.root]).max() < 1e-6
    split = protocol_split(col)
    seen_train = split.seen_train()
    assert not np.isin(col.labels[seen_train], split.unseen).any()
    train = np.concatenate(split.train_pools)
    assert not np.intersect1d(train, split.test).size
    assert len(train) + len(split.test) == len(col)
    for k in range(classes):
        idx = np.flatnonzero(col.labels == k)
        assert len(split.train_pools[k]) >= int(0.8 * len(idx))
    return split


@pytest.fixture(scope="module")
def utd(utd_dir):
    return load_utd_mhad(utd_dir)


@pytest.fixture(scope="module")
def ucla(ucla_dir):
    return load_nw_ucla(ucla_dir)


def test_utd_mhad_real(utd, utd_dir):
    _check_real(utd, 861, 27, KINECT_UTD)
    assert utd.fps == 30.0
    assert utd.order_keys.shape == (861, 2)
    assert utd.class_names[0] == "swipe_left" and utd.class_names[26] == "squat"
    assert utd.names[:2] == ["a1_s1_t1_skeleton.mat", "a1_s1_t2_skeleton.mat"]  # numeric order
    assert utd.names[-1] == "a27_s8_t3_skeleton.mat"  # a27_s8_t4 is missing from the release
    i = utd.names.index("a1_s2_t3_skeleton.mat")
    assert utd.labels[i] == 0 and tuple(utd.order_keys[i]) == (2, 3)
    assert 41 <= utd.lengths.min() and utd.lengths.max() <= 125
    assert int(utd.lengths.sum()) == 58299
    # The Skeleton folder itself is accepted too.
    again = load_utd_mhad(utd_dir / "Skeleton")
    np.testing.assert_array_equal(again.clips[5], utd.clips[5])


def test_nw_ucla_real(ucla):
    split = _check_real(ucla, 1484, 10, KINECT_SDK)
    assert ucla.fps == 30.0
    assert ucla.order_keys.shape == (1484, 3)
    assert int(ucla.lengths.sum()) == 58534
    assert ucla.class_names[6] == "donning" and ucla.class_names[9] == "carry"
    i = ucla.names.index("a08_s03_e01_v02.json")
    assert ucla.labels[i] == 6 and tuple(ucla.order_keys[i]) == (3, 1, 2)
    # Views of one (action, subject, repetition) share a group, and groups never straddle the split.
    key = {n[:11] for n in ucla.names}
    assert len(np.unique(ucla.groups)) == len(key)
    for g in np.unique(ucla.groups)[::7]:
        members = np.flatnonzero(ucla.groups == g)
        assert len({ucla.names[m][:11] for m in members}) == 1
    in_train = np.zeros(len(ucla), bool)
    in_train[np.concatenate(split.train_pools)] = True
    for g in np.unique(ucla.groups):
        sides = in_train[ucla.groups == g]
        assert sides.all() or not sides.any()
    three = [g for g in np.unique(ucla.groups) if (ucla.groups == g).sum() == 3]
    assert len(three) > 400


def _ucla_json(folder, name, label, frames=4):
    skel = np.arange(frames * 60, dtype=float).reshape(frames, 20, 3) / 100
    (folder / name).write_text(json.dumps({"file_name": name[:-5], "label": label, "skeletons": skel.tolist()}))


def test_nw_ucla_small_and_label_check(tmp_path):
    sqe = tmp_path / "all_sqe"
    sqe.mkdir()
    for v in (1, 2, 3):
        _ucla_json(sqe, f"a08_s02_e01_v0{v}.json", 7)
    _ucla_json(sqe, "a11_s01_e00_v01.json", 9)
    col = load_nw_ucla(tmp_path)
    assert len(col) == 4 and col.layout == KINECT_SDK
    np.testing.assert_array_equal(col.labels, [6, 6, 6, 8])
    np.testing.assert_array_equal(col.groups, [0, 0, 0, 1])
    np.testing.assert_array_equal(col.order_keys, [[2, 1, 1], [2, 1, 2], [2, 1, 3], [1, 0, 1]])
    _ucla_json(sqe, "a09_s01_e00_v01.json", 9)  # a09 is label 8, not 9
    with pytest.raises(DataError, match="a09_s01_e00_v01.json.*disagrees"):
        load_nw_ucla(sqe)
    (sqe / "a09_s01_e00_v01.json").unlink()
    _ucla_json(sqe, "a07_s01_e00_v01.json", 7)  # code 07 is not in the release
    with pytest.raises(DataError, match="a07_s01_e00_v01.json"):
        load_nw_ucla(sqe)
    (sqe / "a07_s01_e00_v01.json").unlink()
    (sqe / "a01_s01_e00_v01.json").write_text(json.dumps({"label": 1, "skeletons": [[[0, 0, 0]] * 20, [[0, 0]] * 20]}))
    with pytest.raises(DataError, match="a01_s01_e00_v01.json"):
        load_nw_ucla(sqe)


def test_utd_small_errors(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    skel = tmp_path / "Skeleton"
    skel.mkdir()
    d = np.random.default_rng(6).normal(size=(20, 3, 7))
    scipy_io.savemat(skel / "a27_s8_t3_skeleton.mat", {"d_skel": d})
    col = load_utd_mhad(tmp_path)
    np.testing.assert_array_equal(col.clips[0], d.transpose(2, 0, 1).astype(np.float32))
    assert col.labels[0] == 26 and tuple(col.order_keys[0]) == (8, 3)
    scipy_io.savemat(skel / "a01_s1_t1_skeleton.mat", {"d_skel": d[:, :2]})
    with pytest.raises(DataError, match=r"a01_s1_t1_skeleton.mat.*\(20, 3, frames\)"):
        load_utd_mhad(tmp_path)
    (skel / "a01_s1_t1_skeleton.mat").unlink()
    scipy_io.savemat(skel / "a28_s1_t1_skeleton.mat", {"d_skel": d})
    with pytest.raises(DataError, match="a28_s1_t1_skeleton.mat"):
        load_utd_mhad(tmp_path)
    with pytest.raises(FileNotFoundError, match="Skeleton"):
        load_utd_mhad(tmp_path / "elsewhere")


# --------------------------------------------------------------------------- npz format

def _assert_same(a: Collection, b: Collection):
    assert len(a) == len(b)
    for x, y in zip(a.clips, b.clips):
        assert y.dtype == np.float32
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.order_keys, b.order_keys)
    np.testing.assert_array_equal(a.groups, b.groups)
    assert a.class_names == b.class_names
    assert a.names == b.names
    assert a.layout == b.layout
    assert a.fps == b.fps


def test_npz_roundtrip(tmp_path, small_collection):
    path = save_npz(small_collection, tmp_path / "c.npz")
    back = load_npz(path)
    _assert_same(small_collection, back)
    assert back.layout is SMPL24
    assert back.source == str(path)
    with np.load(path, allow_pickle=False) as z:  # nothing in the file needs pickle
        assert z["joints"].dtype == np.float32 and z["joints"].shape == (int(small_collection.lengths.sum()), 24, 3)
        assert z["class_names"].dtype.kind == "U" and z["root"].shape == ()
    # Via load_dataset, and without compression.
    _assert_same(small_collection, load_dataset(str(path)))
    save_npz(small_collection, tmp_path / "u.npz", compress=False)
    _assert_same(small_collection, load_npz(tmp_path / "u.npz"))


def test_npz_roundtrip_custom_layouts(tmp_path):
    rng = np.random.default_rng(7)
    names = ("pelvis", "left_hip", "left_knee", "right_hip", "right_knee", "neck", "head")
    generic_layout = Layout.generic(names, (-1, 0, 1, 0, 3, 0, 5), root=0, name="toy7")
    odd = Layout("smpl24", SMPL24.joint_names, SMPL24.parents, root=3)  # a named layout, altered
    for layout in (generic_layout, odd):
        col = Collection(_clips(rng, 3, joints=layout.num_joints), [0, 1, 1], ["x", "y"], layout)
        save_npz(col, tmp_path / "t.npz")
        back = load_npz(tmp_path / "t.npz")
        assert back.layout.joint_names == layout.joint_names and back.layout.parents == layout.parents
        assert back.layout.root == layout.root
        assert (back.layout.left, back.layout.right, back.layout.upper, back.layout.lower) == (
            layout.left, layout.right, layout.upper, layout.lower)
        for x, y in zip(col.clips, back.clips):
            np.testing.assert_array_equal(x, y)
    assert back.layout != SMPL24  # root differs: not passed off as the named layout
    # Minimal file (required keys only): generic layout, default order keys/groups/names.
    np.savez(tmp_path / "m.npz", joints=np.zeros((5, 7, 3)), lengths=[2, 3], labels=[1, 0],
             class_names=["p", "q"], joint_names=list(names), parents=[-1, 0, 1, 0, 3, 0, 5], root=0)
    m = load_npz(tmp_path / "m.npz")
    assert m.lengths.tolist() == [2, 3] and m.layout.left == generic_layout.left
    np.testing.assert_array_equal(m.order_keys[:, 0], [0, 1])


def test_npz_roundtrip_real(tmp_path, ucla):
    sub = ucla.subset(np.arange(0, len(ucla), 5))
    save_npz(sub, tmp_path / "ucla.npz")
    back = load_npz(tmp_path / "ucla.npz")
    _assert_same(sub, back)
    assert back.layout is KINECT_SDK
    assert back.fps == 30.0


def test_npz_fps_roundtrip_and_old_files(tmp_path, small_collection):
    assert small_collection.fps is None
    # Unknown rate: no 'fps' key is written, and the file loads with fps None.
    path = save_npz(small_collection, tmp_path / "unknown.npz")
    with np.load(path, allow_pickle=False) as z:
        assert "fps" not in z.files
    assert load_npz(path).fps is None
    # A known rate round-trips, through save_npz and through subset().
    known = dataclasses.replace(small_collection, fps=12.5)
    back = load_npz(save_npz(known, tmp_path / "known.npz"))
    _assert_same(known, back)
    assert back.fps == 12.5 and back.subset([0, 2]).fps == 12.5
    # A file written before the field existed (or by np.savez without it) still loads.
    arrays = generic.collection_arrays(known)
    arrays.pop("fps")
    np.savez(tmp_path / "old.npz", **arrays)
    assert load_npz(tmp_path / "old.npz").fps is None
    # Written by hand: an integer or a 1-element array is accepted too.
    for i, value in enumerate((np.int64(25), np.array([60.0]))):
        np.savez(tmp_path / f"hand{i}.npz", **{**arrays, "fps": value})
        assert load_npz(tmp_path / f"hand{i}.npz").fps == float(np.asarray(value).reshape(()))


@pytest.mark.parametrize(
    "value, pattern",
    [(0.0, "positive finite"), (-30.0, "positive finite"), (np.nan, "positive finite"),
     (np.inf, "positive finite"), (np.array([30.0, 25.0]), "single real number"),
     (np.array("thirty"), "single real number")],
    ids=["zero", "negative", "nan", "inf", "two-values", "string"],
)
def test_npz_bad_fps(tmp_path, base_arrays, value, pattern):
    path = _write_bad(tmp_path / "bad-fps.npz", base_arrays, fps=np.asarray(value))
    with pytest.raises(DataError, match=f"bad-fps.npz.*field 'fps'.*{pattern}"):
        load_npz(path)


def _write_bad(path, base: dict, **changes):
    arrays = dict(base)
    for k, v in changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    np.savez(path, **arrays)
    return path


@pytest.fixture
def base_arrays(small_collection):
    return generic.collection_arrays(small_collection)


@pytest.mark.parametrize(
    "changes, pattern",
    [
        ({"labels": None}, r"missing field.*labels"),
        ({"joints": "2d"}, r"field 'joints'.*shape"),
        ({"lengths": "short"}, r"field 'lengths' sums to"),
        ({"joints": "nan"}, r"c3\.npy: NaN or inf values in 1 frame\(s\), first at frame 1"),
        ({"lengths": "empty"}, r"c2\.npy: empty clip"),
        ({"labels": "unknown"}, r"c4\.npy: field 'labels': label 3 not in 0\.\.2"),
        ({"joint_names": "short"}, r"field 'joint_names' has 23 names but 'joints' has 24 joints"),
        ({"parents": "short"}, r"field 'parents'.*24 joints"),
        ({"labels": "float"}, r"field 'labels' must hold integers"),
        ({"groups": "short"}, r"field 'groups'"),
        ({"parents": "cycle"}, r"invalid skeleton"),
    ],
    ids=["missing-key", "wrong-shape", "bad-lengths", "nan-frame", "empty-clip", "unknown-label",
         "joint-names-mismatch", "parents-mismatch", "float-labels", "groups-shape", "bad-tree"],
)
def test_npz_bad_inputs(tmp_path, base_arrays, changes, pattern):
    b = base_arrays
    lengths = b["lengths"]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    mod = {}
    for key, how in changes.items():
        if how is None:
            mod[key] = None
        elif key == "joints" and how == "2d":
            mod[key] = b["joints"][..., :2]
        elif key == "joints" and how == "nan":
            j = b["joints"].copy()
            j[offsets[3] + 1, 5, 0] = np.nan
            mod[key] = j
        elif key == "lengths" and how == "short":
            mod[key] = lengths - 1
        elif key == "lengths" and how == "empty":
            ln = lengths.copy()
            ln[1] += ln[2]
            ln[2] = 0
            mod[key] = ln
        elif key == "labels" and how == "unknown":
            lab = b["labels"].copy()
            lab[4] = 3
            mod[key] = lab
        elif key == "labels" and how == "float":
            mod[key] = b["labels"].astype(float)
        elif how == "short":
            mod[key] = b[key][:-1]
        elif key == "parents" and how == "cycle":
            p = b["parents"].copy()
            p[1] = 4
            mod[key] = p
            mod["layout_name"] = np.array("mine")
    path = _write_bad(tmp_path / "bad.npz", b, **mod)
    with pytest.raises(DataError, match=pattern) as info:
        load_npz(path)
    assert str(path) in str(info.value)


def test_npz_missing_and_unreadable(tmp_path, base_arrays):
    missing = tmp_path / "none.npz"
    with pytest.raises(DataError, match="none.npz.*not found"):
        load_npz(missing)
    with pytest.raises(FileNotFoundError):
        load_npz(missing)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(DataError, match="garbage.npz"):
        load_npz(garbage)
    # An object array would need pickle: refused (load_npz uses allow_pickle=False).
    obj = dict(base_arrays)
    obj["class_names"] = np.array(["a", "b", {"x": 1}], dtype=object)
    np.savez(tmp_path / "obj.npz", **obj)
    with pytest.raises(DataError, match="obj.npz.*allow_pickle=False"):
        load_npz(tmp_path / "obj.npz")


def test_npz_atomic_save(tmp_path, small_collection, monkeypatch):
    path = save_npz(small_collection, tmp_path / "keep.npz")
    before = path.read_bytes()
    other = small_collection.subset([0, 1])
    calls = {"n": 0}
    real = generic._write_array

    def failing(fileobj, arr):
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError("disk full (simulated)")
        real(fileobj, arr)

    monkeypatch.setattr(generic, "_write_array", failing)
    with pytest.raises(OSError, match="simulated"):
        save_npz(other, path)
    assert calls["n"] == 4  # it really failed mid-write
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.npz"]  # no temp file left behind
    _assert_same(small_collection, load_npz(path))
    monkeypatch.setattr(generic, "_write_array", real)
    save_npz(other, path)
    _assert_same(other, load_npz(path))


# --------------------------------------------------------------------------- load_dataset

def test_load_dataset_names_and_errors(tmp_path, monkeypatch):
    assert {"utd-mhad", "nw-ucla", "humanact12", "florence3d", "synthetic"} <= set(DATASETS)
    for name in ("utd-mhad", "nw-ucla", "humanact12", "florence3d"):
        with pytest.raises(FileNotFoundError, match=f"{name}.*expected") as info:
            load_dataset(name, data_dir=tmp_path)
        assert str(tmp_path / name) in str(info.value)
    monkeypatch.setenv("HAAD_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(FileNotFoundError, match="env"):
        load_dataset("nw-ucla")
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        load_dataset(str(tmp_path / "nothing.npz"))
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DataError, match="x.txt"):
        load_dataset(tmp_path / "x.txt")


def test_load_dataset_real(utd_dir, ucla_dir):
    assert len(load_dataset("utd-mhad", data_dir=utd_dir.parent)) == 861
    assert len(load_dataset(ucla_dir)) == 1484  # a folder is recognised by its content


def test_load_dataset_synthetic():
    pytest.importorskip("haad.data.synthetic")
    col = load_dataset("synthetic")
    assert isinstance(col, Collection) and len(col) > 0
    assert col.fps == 30.0
