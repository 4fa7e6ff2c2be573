"""BVH reader: forward kinematics against hand-computed positions, channel orders, gzip, errors."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from haad.data import DataError
from haad.data.bvh import read_bvh
from haad.data.layout_names import infer_layout

# A 3-joint chain: Root at the origin, Mid one unit along x, Tip one unit along y from Mid, and an
# End Site one unit along z from Tip.
HIERARCHY = """HIERARCHY
ROOT Root
{{
\tOFFSET 0 0 0
\tCHANNELS 6 Xposition Yposition Zposition {rot}
\tJOINT Mid
\t{{
\t\tOFFSET 1 0 0
\t\tCHANNELS 3 {rot}
\t\tJOINT Tip
\t\t{{
\t\t\tOFFSET 0 1 0
\t\t\tCHANNELS 3 {rot}
\t\t\tEnd Site
\t\t\t{{
\t\t\t\tOFFSET 0 0 1
\t\t\t}}
\t\t}}
\t}}
}}
"""

# Per frame: root position, root rotation, Mid rotation, as {axis: degrees}.
FRAMES = [
    ((0, 0, 0), {}, {}),
    ((0, 0, 0), {"z": 90}, {}),                 # root turns 90 deg about z
    ((0, 0, 0), {}, {"x": 90}),                 # Mid turns 90 deg about x
    ((5, 0, 0), {"z": 90}, {"x": 90}),          # both, with the root moved
    ((0, 0, 0), {}, {"z": 90, "x": 90}),        # one joint, two axes: the order matters
]

# Worked out by hand (Rz(90): x -> y, y -> -x; Rx(90): y -> z, z -> -y):
EXPECTED = np.array([
    # Root,      Mid,        Tip,         Tip_end
    [(0, 0, 0), (1, 0, 0), (1, 1, 0), (1, 1, 1)],
    [(0, 0, 0), (0, 1, 0), (-1, 1, 0), (-1, 1, 1)],     # Mid = Rz(1,0,0); Tip = Mid + Rz(0,1,0)
    [(0, 0, 0), (1, 0, 0), (1, 0, 1), (1, -1, 1)],      # Tip = Mid + Rx(0,1,0); end = Tip + Rx(0,0,1)
    [(5, 0, 0), (5, 1, 0), (5, 1, 1), (6, 1, 1)],       # end = Tip + Rz Rx (0,0,1) = Tip + Rz(0,-1,0)
    [(0, 0, 0), (1, 0, 0), (1, 0, 1), (2, 0, 1)],       # Mid: Rz(90) @ Rx(90) (ZXY channels), not Rx @ Rz
], dtype=np.float64)


def _angles(rot: dict, order: str) -> list:
    """The angles to write for ``rot`` (a rotation in Z-then-X-then-Y form) under channel ``order``."""
    r = Rotation.from_euler("ZXY", [rot.get("z", 0), rot.get("x", 0), rot.get("y", 0)], degrees=True)
    if order == "ZXY":
        return [rot.get("z", 0), rot.get("x", 0), rot.get("y", 0)]
    with warnings.catch_warnings():  # 90-degree angles are a gimbal lock; any valid decomposition will do
        warnings.simplefilter("ignore", UserWarning)
        return list(r.as_euler(order, degrees=True))  # upper case: intrinsic, as BVH composes channels


def _bvh_text(order: str = "ZXY", frame_time: str = "0.0333333") -> str:
    rot = " ".join(f"{a}rotation" for a in order)
    lines = [HIERARCHY.format(rot=rot), "MOTION", f"Frames: {len(FRAMES)}", f"Frame Time: {frame_time}"]
    for pos, r_root, r_mid in FRAMES:
        vals = list(pos) + _angles(r_root, order) + _angles(r_mid, order) + _angles({}, order)
        lines.append(" ".join(f"{v:.10f}" for v in vals))
    return "\n".join(lines) + "\n"


def test_hand_computed_positions(tmp_path):
    path = tmp_path / "chain.bvh"
    path.write_text(_bvh_text())
    m = read_bvh(path)
    assert m.joint_names == ("Root", "Mid", "Tip")
    assert m.parents == (-1, 0, 1)
    assert m.fps == 30.0
    np.testing.assert_allclose(m.positions, EXPECTED[:, :3], atol=1e-9)
    with_end = read_bvh(path, end_sites=True)
    assert with_end.joint_names == ("Root", "Mid", "Tip", "Tip_end")
    assert with_end.parents == (-1, 0, 1, 2)
    np.testing.assert_allclose(with_end.positions, EXPECTED, atol=1e-9)


@pytest.mark.parametrize("order", ["XYZ", "YXZ", "ZYX", "YZX", "XZY"])
def test_other_channel_orders_same_answer(tmp_path, order):
    """The same rotations written in another channel order (angles converted) give the same positions,
    so rotations are composed in the order the channels are listed."""
    path = tmp_path / f"chain_{order}.bvh"
    path.write_text(_bvh_text(order))
    np.testing.assert_allclose(read_bvh(path, end_sites=True).positions, EXPECTED, atol=1e-7)


def test_zxy_angles_read_as_xyz_differ(tmp_path):
    """Guard against a reader that ignores the channel order: frame 4's (90, 90, 0) under channels
    ``Xrotation Zrotation Yrotation`` is Rx(90) @ Rz(90), which sends the tip to (0, 0, 0), not (1, 0, 1)."""
    text = _bvh_text("ZXY").replace("Zrotation Xrotation Yrotation", "Xrotation Zrotation Yrotation")
    path = tmp_path / "swapped.bvh"
    path.write_text(text)
    np.testing.assert_allclose(read_bvh(path).positions[4, 2], [0, 0, 0], atol=1e-9)


def test_gzip_and_subtree(tmp_path):
    text = _bvh_text()
    gz = tmp_path / "chain.bvh.gz"
    with gzip.open(gz, "wt") as f:
        f.write(text)
    m = read_bvh(gz)
    np.testing.assert_allclose(m.positions, EXPECTED[:, :3], atol=1e-9)
    sub = read_bvh(gz, root_joint="Mid")
    assert sub.joint_names == ("Mid", "Tip") and sub.parents == (-1, 0)
    np.testing.assert_allclose(sub.positions, EXPECTED[:, 1:3], atol=1e-9)
    with pytest.raises(DataError, match="no joint named 'Nope'"):
        read_bvh(gz, root_joint="Nope")


def test_position_channels_replace_offset(tmp_path):
    """Root position channels give the root's position; a child's Yposition replaces its OFFSET's y."""
    text = """HIERARCHY
ROOT Hips
{
  OFFSET 10 20 30
  CHANNELS 3 Xposition Yposition Zposition
  JOINT Spine
  {
    OFFSET 1 2 3
    CHANNELS 2 Yposition Xrotation
    End Site
    {
      OFFSET 0 1 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.01
0 0 0 2 0
1 2 3 5 90
"""
    path = tmp_path / "pos.bvh"
    path.write_text(text)
    m = read_bvh(path, end_sites=True)
    assert m.fps == 100.0
    np.testing.assert_allclose(m.positions[0], [[0, 0, 0], [1, 2, 3], [1, 3, 3]], atol=1e-9)
    # Frame 1: Spine = root + (1, 5, 3); its End Site = Spine + Rx(90)(0,1,0) = Spine + (0,0,1).
    np.testing.assert_allclose(m.positions[1], [[1, 2, 3], [2, 7, 6], [2, 7, 7]], atol=1e-9)


def test_layout_from_names():
    names = ["Hips", "Spine", "Head", "LeftUpLeg", "LeftLeg", "RightUpLeg", "RightLeg",
             "Shoulder_L", "Shoulder_R", "l_hand", "r_hand", "LowerBack"]
    parents = [-1, 0, 1, 0, 3, 0, 5, 1, 1, 7, 8, 0]
    lay = infer_layout(names, parents, name="t")
    pairs = {(names[a], names[b]) for a, b in zip(lay.left, lay.right)}
    assert pairs == {("LeftUpLeg", "RightUpLeg"), ("LeftLeg", "RightLeg"), ("Shoulder_L", "Shoulder_R"),
                     ("l_hand", "r_hand")}
    lower = {names[i] for i in lay.lower}
    assert lower == {"Hips", "LeftUpLeg", "LeftLeg", "RightUpLeg", "RightLeg"}  # the spine stays upper body
    assert lay.root == 0 and lay.num_joints == len(names)


def _broken(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("change, pattern", [
    (lambda t: t.rsplit("\n", 2)[0] + "\n", r"truncated MOTION block: 'Frames: 5' but only 4"),
    (lambda t: t.replace("Xrotation", "Wrotation", 1), r"line 5: joint 'Root': unknown channel 'Wrotation'"),
    (lambda t: t.replace("CHANNELS 3", "CHANNELS 4", 1), r"line 10: joint 'Mid': CHANNELS 4 lists only 3"),
    (lambda t: t.replace("CHANNELS 3", "CHANNELS 2", 1), r"joint 'Mid': more channel names than CHANNELS 2"),
    (lambda t: t.replace("CHANNELS 3", "CHANNELS x", 1), r"line 9: channel count 'x' is not an integer"),
    (lambda t: t.replace("OFFSET 1 0 0", "OFFSET 1 zero 0"), r"line 8: non-numeric OFFSET value 'zero'"),
    (lambda t: t.replace("\n5.0000000000 ", "\n5.0000000000 oops ", 1), r"line 28: frame 3 has 13 values; the hierarchy declares 12 channels"),
    (lambda t: t.replace("\n5.0000000000 ", "\noops ", 1), r"line 28: non-numeric value 'oops'"),
    (lambda t: t.replace("Frame Time: 0.0333333", "Frame Time: 0"), r"'Frame Time: 0.0' must be a positive"),
    (lambda t: t.split("MOTION")[0], r"no MOTION block"),
    (lambda t: "hello\n" + t, r"not a BVH file"),
    (lambda t: t.replace("End Site", "Wrong Site"), r"line 14: unexpected 'Wrong'"),
])
def test_malformed_files_name_file_and_line(tmp_path, change, pattern):
    path = _broken(tmp_path, "bad.bvh", change(_bvh_text()))
    with pytest.raises(DataError, match=pattern) as err:
        read_bvh(path)
    assert str(path) in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_bvh(tmp_path / "none.bvh")


def test_a_bvh_file_is_a_dataset_of_one_recording(tmp_path):
    from haad.data import load_dataset

    path = tmp_path / "chain.bvh"
    path.write_text(_bvh_text())
    data = load_dataset(str(path))
    assert len(data) == 1 and data.class_names == ["unlabelled"] and data.names == ["chain.bvh"]
    assert data.fps == 30.0 and data.layout.joint_names == ("Root", "Mid", "Tip")
    np.testing.assert_allclose(data.clips[0], EXPECTED[:, :3], atol=1e-6)
