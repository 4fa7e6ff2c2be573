"""Kinect-style CSV reader, and the UI-PRMD, Kinder-Gator and Bandai Namco datasets (real data skip
without HAAD_DATA_DIR)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from conftest import require_dataset
from haad.data import DataError, load_dataset, load_npz, save_npz
from haad.data.bandai_namco import BANDAI_NAMCO_CONTENTS, bandai_namco_styles, load_bandai_namco
from haad.data.kinder_gator import KINDER_GATOR_MOTIONS, kinder_gator_participants, load_kinder_gator
from haad.data.kinect_csv import KINECT_V1_NAMES, kinect_layout, read_kinect_csv, to_kinect_sdk
from haad.data.ui_prmd import UI_PRMD_LAYOUT, _read_frames, load_ui_prmd, read_ui_prmd_episode, ui_prmd_episodes
from haad.skeleton import KINECT_SDK


# --------------------------------------------------------------------------- Kinect CSV

def _write_csv(path, header, rows):
    text = ",".join(header) + "\n" + "\n".join(",".join(str(v) for v in r) for r in rows) + "\n"
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


def test_csv_exact_positions_and_extra_columns(tmp_path):
    header = ["Timestamp", "HeadX", "HeadY", "HeadZ", "NeckX", "NeckY", "NeckZ", "Action", ""]
    rows = [[1000, 0.5, 1.5, 2.5, 0.25, 1.25, 2.25, "wave", ""],
            [1033, -1, 1e-3, 3, 4, 5, 6, "wave", ""],
            [1066, 7, 8, 9, 10, 11, 12, "wave", ""]]
    for name in ("a.csv", "a.csv.gz"):
        clip = read_kinect_csv(_write_csv(tmp_path / name, header, rows))
        assert clip.joint_names == ("Head", "Neck")
        expected = np.array([[r[1:4], r[4:7]] for r in rows], dtype=np.float64)
        np.testing.assert_array_equal(clip.positions, expected)
        np.testing.assert_array_equal(clip.extra["Timestamp"], [1000, 1033, 1066])
        assert list(clip.extra["Action"]) == ["wave"] * 3
        assert "" not in clip.extra  # the empty column after a trailing comma is dropped
        assert clip.fps == pytest.approx(1000 / 33)
    lay = clip.layout()  # Kinect v2 names: Head hangs from Neck
    assert lay.name == "kinect-csv" and lay.parents == (1, -1) and lay.root == 1
    from haad.data import load_dataset  # a CSV path is a dataset of one unlabelled recording

    data = load_dataset(str(tmp_path / "a.csv"))
    assert len(data) == 1 and data.layout == lay and data.fps == pytest.approx(1000 / 33)
    np.testing.assert_allclose(data.clips[0], clip.positions, atol=1e-6)


def test_csv_kinect_v1_names_give_sdk_layout(tmp_path):
    rng = np.random.default_rng(0)
    order = list(rng.permutation(len(KINECT_V1_NAMES)))
    names = [KINECT_V1_NAMES[i] for i in order]
    header = [f"{n}{a}" for n in names for a in "XYZ"]
    data = rng.normal(size=(4, 20, 3)).round(6)
    _write_csv(tmp_path / "v1.csv", header, data.reshape(4, 60).tolist())
    pos, lay = to_kinect_sdk(read_kinect_csv(tmp_path / "v1.csv"))
    assert lay is KINECT_SDK
    # Column j of the file is SDK joint order[j]; after reordering, SDK joint k is file joint order.index(k).
    np.testing.assert_array_equal(pos, data[:, [order.index(k) for k in range(20)]])


def test_csv_other_names_star_layout():
    lay = kinect_layout(["pelvis", "LeftKnee", "RightKnee", "nose"])
    assert lay.name == "csv-star" and lay.parents == (-1, 0, 0, 0) and lay.root == 0
    assert (lay.left, lay.right) == ((1,), (2,))


@pytest.mark.parametrize("header, rows, pattern", [
    (["HeadX", "HeadY", "NeckX", "NeckY", "NeckZ"], [[1, 2, 3, 4, 5]], r"line 1: joint 'Head' has no HeadZ column"),
    (["HeadX", "HeadY", "HeadZ"], [[1, 2, 3], [1, 2]], r"line 3: 2 fields, but the header has 3"),
    (["HeadX", "HeadY", "HeadZ"], [[1, 2, 3], [1, "n/a", 3]], r"line 3: column 'HeadY': non-numeric value 'n/a'"),
    (["Time", "Action"], [[1, "x"]], r"line 1: no joint coordinate columns"),
    (["HeadX", "HeadY", "HeadZ"], [], r"no data rows"),
])
def test_csv_malformed(tmp_path, header, rows, pattern):
    path = _write_csv(tmp_path / "bad.csv", header, rows)
    with pytest.raises(DataError, match=pattern) as err:
        read_kinect_csv(path)
    assert str(path) in str(err.value)


def test_csv_empty_and_missing(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty file"):
        read_kinect_csv(tmp_path / "empty.csv")
    with pytest.raises(FileNotFoundError, match="none.csv"):
        read_kinect_csv(tmp_path / "none.csv")


# --------------------------------------------------------------------------- UI-PRMD

@pytest.fixture(scope="module")
def ui_prmd_dir():
    return require_dataset("ui-prmd")


@pytest.fixture(scope="module")
def ui_prmd(ui_prmd_dir):
    return load_ui_prmd(ui_prmd_dir)


def _bones(clip, parents):
    child = [i for i, p in enumerate(parents) if p >= 0]
    return np.linalg.norm(clip[:, child] - clip[:, [parents[i] for i in child]], axis=2)


def test_ui_prmd_counts_and_metadata(ui_prmd):
    assert len(ui_prmd) == 2000 and ui_prmd.num_classes == 10 and ui_prmd.fps == 30.0
    assert np.bincount(ui_prmd.labels).tolist() == [200] * 10
    meta = ui_prmd_episodes(ui_prmd)
    assert meta["correct"].sum() == 1000
    assert sorted(set(meta["subject"])) == list(range(1, 11))
    assert sorted(set(meta["episode"])) == list(range(1, 11))
    np.testing.assert_array_equal(meta["exercise"], ui_prmd.labels + 1)
    sub = ui_prmd.subset(np.flatnonzero(~meta["correct"])[:3])  # metadata survives subset()
    assert not ui_prmd_episodes(sub)["correct"].any()
    assert ui_prmd.layout is UI_PRMD_LAYOUT and all(c.shape[1:] == (22, 3) for c in ui_prmd.clips)


def test_ui_prmd_bone_lengths_are_the_stored_offsets(ui_prmd_dir):
    """Forward kinematics only rotates the stored offsets: every bone's length equals its offset's
    length frame by frame. The Kinect re-estimates those lengths per frame (a few percent), so
    ``rigid=True`` is what makes them constant within a clip."""
    kin = ui_prmd_dir / "Incorrect Segmented Movements" / "Kinect"
    pos_file = kin / "Positions" / "m04_s03_e05_positions_inc.txt.gz"
    ang_file = kin / "Angles" / "m04_s03_e05_angles_inc.txt.gz"
    offsets = _read_frames(pos_file)
    clip = read_ui_prmd_episode(pos_file, ang_file)
    np.testing.assert_allclose(_bones(clip, UI_PRMD_LAYOUT.parents),
                               np.linalg.norm(offsets[:, 1:], axis=2), rtol=1e-9, atol=1e-9)
    rigid = read_ui_prmd_episode(pos_file, ang_file, rigid=True)
    b = _bones(rigid, UI_PRMD_LAYOUT.parents)
    assert (b.std(0) / b.mean(0)).max() < 1e-3
    np.testing.assert_allclose(rigid[:, 0], clip[:, 0])  # the waist is not rescaled


def test_ui_prmd_anatomy(ui_prmd):
    lay = ui_prmd.layout
    j = {n: i for i, n in enumerate(lay.joint_names)}
    rel_std, head_up, arms, legs = [], [], [], []
    for clip in ui_prmd.clips:
        b = _bones(clip, lay.parents)
        rel_std.append(np.median(b.std(0) / b.mean(0)))
        y = clip[..., 1]  # Kinect camera space: y up
        head_up.append(y[:, j["head"]] - np.maximum(y[:, j["left_ankle"]], y[:, j["right_ankle"]]))

        def chain(*names):
            return sum(np.linalg.norm(clip[:, j[a]] - clip[:, j[b]], axis=1).mean() for a, b in zip(names, names[1:]))

        arms.append(chain("left_shoulder", "left_elbow", "left_wrist") / chain("right_shoulder", "right_elbow", "right_wrist"))
        legs.append(chain("left_hip", "left_knee", "left_ankle") / chain("right_hip", "right_knee", "right_ankle"))
    assert np.median(rel_std) < 0.05  # Kinect's own per-frame bone estimates, not the conversion
    # The head is well above both ankles (cm): in every clip's typical frame, and in nearly every frame
    # (a few frames of incorrect deep squats and leg raises lose track of a foot).
    assert min(np.median(h) for h in head_up) > 50
    assert np.mean(np.concatenate(head_up) > 0) > 0.995
    assert abs(np.median(arms) - 1) < 0.1 and abs(np.median(legs) - 1) < 0.1


def test_ui_prmd_euler_order_gives_valid_knees(ui_prmd_dir):
    """The evidence for ``Rz @ Rx @ Ry``: in the hurdle step (m02) the foot hangs below the knee of the
    raised leg; reading the angles as ``Rz @ Ry @ Rx`` lifts the foot above the knee."""
    kin = ui_prmd_dir / "Segmented Movements" / "Kinect"
    above = {}
    for order in ("zxy", "zyx"):
        fractions = []
        for s in (1, 4, 7):
            stem = f"m02_s{s:02d}_e03"
            c = read_ui_prmd_episode(kin / "Positions" / f"{stem}_positions.txt.gz",
                                     kin / "Angles" / f"{stem}_angles.txt.gz", euler_order=order)
            y = c[..., 1]
            fractions.append(np.mean((y[:, 16] > y[:, 15] + 5) | (y[:, 20] > y[:, 19] + 5)))
        above[order] = np.mean(fractions)
    assert above["zxy"] < 0.01 < above["zyx"]


# --------------------------------------------------------------------------- Kinder-Gator, Bandai Namco

def test_kinder_gator_children(tmp_path):
    root = require_dataset("kinder-gator")
    col = load_kinder_gator(root, groups=("child",))  # the children alone cover all 58 motions
    assert col.num_classes == 58 and col.class_names == list(KINDER_GATOR_MOTIONS)
    assert len(col) == 580 and np.bincount(col.labels, minlength=58).tolist() == [10] * 58
    assert col.layout is KINECT_SDK and col.fps == 30.0
    meta = kinder_gator_participants(col)
    assert meta["child"].all() and len(set(meta["participant"])) == 10
    assert all(np.isfinite(c).all() and 0.5 < np.median(c[:, :, 2]) < 6 for c in col.clips)  # metres from the sensor
    assert all(np.median(c[:, 3, 1] - c[:, 15, 1]) > 0.5 for c in col.clips)  # head above the left foot (y up)
    back = load_npz(save_npz(col.subset(np.arange(5)), tmp_path / "kg.npz"))
    assert kinder_gator_participants(back)["child"].all()  # metadata travels in the clip names


def test_kinder_gator_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="Adults"):
        load_kinder_gator(tmp_path)


def test_bandai_namco_elderly():
    root = require_dataset("bandai-namco")
    col = load_bandai_namco(root, styles=("elderly",))
    assert col.class_names == list(BANDAI_NAMCO_CONTENTS) and col.fps == 30.0
    counts = np.bincount(col.labels, minlength=10)
    assert len(col) == 314 and counts.min() >= 17 and counts.sum() == 314
    assert set(bandai_namco_styles(col)) == {"elderly"}
    assert col.layout.joint_names[0] == "Hips" and col.layout.num_joints == 21
    assert len(col.layout.left) == 8
    for clip in col.clips[::10]:
        assert np.isfinite(clip).all()
        b = _bones(clip, col.layout.parents)
        assert (b.std(0) / np.maximum(b.mean(0), 1e-9)).max() < 1e-4  # a rigid BVH skeleton
        y = clip[..., 1]
        assert np.all(y[:, 4] > y[:, [15, 19]].max(axis=1) + 100)  # head > 1 m above the feet (cm, y up)


def test_named_datasets_registered(monkeypatch, tmp_path):
    monkeypatch.setenv("HAAD_DATA_DIR", str(tmp_path))
    for name in ("ui-prmd", "kinder-gator", "bandai-namco"):
        with pytest.raises(FileNotFoundError, match=name):
            load_dataset(name)
