import numpy as np
import pytest

from haad.skeleton import KINECT_SDK, KINECT_UTD, LAYOUTS, SMPL24, Layout, get_layout


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_layout_is_tree_rooted_at_root(layout):
    parents = np.array(layout.parents)
    assert (parents == -1).sum() == 1
    assert parents[layout.root] == -1
    assert len(layout.edges) == layout.num_joints - 1
    # every joint reaches the root
    for j in range(layout.num_joints):
        k, steps = j, 0
        while parents[k] != -1:
            k, steps = parents[k], steps + 1
            assert steps <= layout.num_joints
        assert k == layout.root


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_left_right_pairs_mirror(layout):
    assert len(layout.left) == len(layout.right) > 0
    for l, r in zip(layout.left, layout.right):
        ln, rn = layout.joint_names[l], layout.joint_names[r]
        assert ln.startswith("left_") and rn.startswith("right_") and ln[5:] == rn[6:]
        # parents mirror too: a left joint's parent is the mirror of the right joint's parent
        perm = layout.mirror_permutation()
        assert perm[layout.parents[l]] == layout.parents[r]
    perm = layout.mirror_permutation()
    assert np.array_equal(perm[perm], np.arange(layout.num_joints))


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_body_parts_partition(layout):
    assert set(layout.upper) | set(layout.lower) == set(range(layout.num_joints))
    assert not set(layout.upper) & set(layout.lower)


def test_named_roots_match_protocol():
    assert SMPL24.root == 0 and SMPL24.joint_names[0] == "pelvis"
    assert KINECT_UTD.root == 3 and KINECT_UTD.joint_names[3] == "hip_center"
    assert KINECT_SDK.root == 0 and KINECT_SDK.joint_names[0] == "hip_center"
    assert SMPL24.num_joints == 24 and KINECT_UTD.num_joints == KINECT_SDK.num_joints == 20


def test_bad_layouts_rejected():
    with pytest.raises(ValueError, match="cycle"):
        Layout("x", ("a", "b", "c"), (-1, 2, 1), 0)
    with pytest.raises(ValueError, match="parent -1"):
        Layout("x", ("a", "b"), (-1, -1), 0)
    with pytest.raises(KeyError, match="unknown skeleton layout"):
        get_layout("nope")


def test_generic_layout_and_roundtrip():
    lay = Layout.generic(["pelvis", "left_hip", "right_hip", "spine", "left_hand", "right_hand"],
                         [-1, 0, 0, 0, 3, 3], 0)
    assert sorted(zip(lay.left, lay.right)) == [(1, 2), (4, 5)]
    assert set(lay.lower) == {1, 2}
    assert Layout.from_dict(SMPL24.to_dict()) == SMPL24
