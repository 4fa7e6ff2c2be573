"""The canonical 16-joint skeleton and the name-based mapping of other layouts onto it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from haad.canonical import (
    CANONICAL,
    CANONICAL_NAMES,
    JointMapping,
    canonicalize,
    load_joint_map,
    map_layout,
    match_joint,
)
from haad.data.collection import Collection
from haad.geometry import mirror
from haad.skeleton import LAYOUTS, Layout

C = {n: i for i, n in enumerate(CANONICAL_NAMES)}


def star(names, name="test") -> Layout:
    """A layout with the given names; the tree shape does not matter for name matching."""
    return Layout(name, tuple(names), (-1,) + (0,) * (len(names) - 1), 0)


def clip_for(layout: Layout, frames: int = 7, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(frames, layout.num_joints, 3)).astype(np.float32)


def check_direct(layout: Layout, expected: dict[str, str]) -> JointMapping:
    """Map ``layout`` and check each canonical joint in ``expected`` is exactly that source joint."""
    m = map_layout(layout)
    x = clip_for(layout)
    y = m.apply(x)
    assert y.shape == (x.shape[0], 16, 3) and y.dtype == np.float32
    for canon, src in expected.items():
        i = layout.joint_names.index(src)
        assert m.sources[C[canon]] == (i,), (canon, m.describe())
        assert m.kinds[C[canon]] == "direct"
        np.testing.assert_array_equal(y[:, C[canon]], x[:, i])
    return m


SIDED = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")


# ---------------------------------------------------------------- the canonical layout


def test_canonical_layout_is_a_tree_with_mirror_pairs():
    assert CANONICAL.num_joints == 16
    assert CANONICAL.joint_names[CANONICAL.root] == "pelvis"
    assert len(CANONICAL.edges) == 15
    perm = CANONICAL.mirror_permutation()
    for side in SIDED:
        assert perm[C[f"left_{side}"]] == C[f"right_{side}"]
    for j in ("pelvis", "spine", "neck", "head"):
        assert perm[C[j]] == C[j]
    assert set(CANONICAL.upper) | set(CANONICAL.lower) == set(range(16))
    assert not set(CANONICAL.upper) & set(CANONICAL.lower)
    # Parents are anatomical.
    par = {CANONICAL.joint_names[i]: CANONICAL.joint_names[p] for i, p in CANONICAL.edges}
    assert par["left_wrist"] == "left_elbow" and par["left_elbow"] == "left_shoulder"
    assert par["left_shoulder"] == "neck" and par["head"] == "neck" and par["neck"] == "spine"
    assert par["right_ankle"] == "right_knee" and par["right_hip"] == "pelvis"


def test_canonical_maps_to_itself():
    m = map_layout(CANONICAL)
    assert m.is_identity
    x = clip_for(CANONICAL)
    np.testing.assert_array_equal(m.apply(x), x)


# ---------------------------------------------------------------- layouts and naming schemes


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_named_layout_maps(name):
    layout = LAYOUTS[name]
    m = map_layout(layout)
    y = m.apply(clip_for(layout))
    assert np.isfinite(y).all()
    # Direct joints come through unchanged, by name.
    x = clip_for(layout)
    y = m.apply(x)
    for canon in CANONICAL_NAMES:
        if m.kinds[C[canon]] == "direct":
            (i,) = m.sources[C[canon]]
            np.testing.assert_array_equal(y[:, C[canon]], x[:, i])
    # Limbs are always direct, and on the right side.
    for side in SIDED:
        for lr in ("left", "right"):
            assert m.kinds[C[f"{lr}_{side}"]] == "direct"
            src = layout.joint_names[m.sources[C[f"{lr}_{side}"]][0]].lower()
            assert lr in src or src.startswith(lr[0])


@pytest.mark.parametrize("name", ["kinect-utd", "kinect-sdk", "smpl24"])
def test_mapping_commutes_with_mirroring(name):
    layout = LAYOUTS[name]
    m = map_layout(layout)
    x = clip_for(layout)
    np.testing.assert_allclose(m.apply(mirror(x, layout)), mirror(m.apply(x), CANONICAL), atol=1e-6)


def test_kinect_v1_layouts():
    for name in ("kinect-utd", "kinect-sdk"):
        check_direct(LAYOUTS[name], {
            "pelvis": "hip_center", "spine": "spine", "neck": "shoulder_center", "head": "head",
            "left_wrist": "left_wrist", "right_ankle": "right_ankle",  # not hand/foot
        })


KINECT_V1_SDK = (  # kinder-gator CSV headers
    "HipCenter", "Spine", "ShoulderCenter", "Head", "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight", "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
    "HipRight", "KneeRight", "AnkleRight", "FootRight",
)


def test_kinect_v1_sdk_names():
    check_direct(star(KINECT_V1_SDK), {
        "pelvis": "HipCenter", "spine": "Spine", "neck": "ShoulderCenter", "head": "Head",
        "left_shoulder": "ShoulderLeft", "left_elbow": "ElbowLeft", "left_wrist": "WristLeft",
        "right_shoulder": "ShoulderRight", "right_elbow": "ElbowRight", "right_wrist": "WristRight",
        "left_hip": "HipLeft", "left_knee": "KneeLeft", "left_ankle": "AnkleLeft",
        "right_hip": "HipRight", "right_knee": "KneeRight", "right_ankle": "AnkleRight",
    })


def test_kinect_v2_25_joints_snake_case():
    names = (
        "spine_base", "spine_mid", "neck", "head",
        "shoulder_left", "elbow_left", "wrist_left", "hand_left",
        "shoulder_right", "elbow_right", "wrist_right", "hand_right",
        "hip_left", "knee_left", "ankle_left", "foot_left",
        "hip_right", "knee_right", "ankle_right", "foot_right",
        "spine_shoulder", "l_handtip", "l_thumb", "r_handtip", "r_thumb",
    )
    m = check_direct(star(names, "kinect-v2"), {
        "pelvis": "spine_base", "spine": "spine_mid", "neck": "spine_shoulder", "head": "head",
        "left_shoulder": "shoulder_left", "left_wrist": "wrist_left", "right_elbow": "elbow_right",
        "left_hip": "hip_left", "right_knee": "knee_right", "left_ankle": "ankle_left",
    })
    unused = m.describe().splitlines()[-1]
    for n in ("l_handtip", "l_thumb", "r_handtip", "r_thumb", "hand_left", "foot_right"):
        assert n in unused


def test_kinect_v2_sdk_names():
    names = (
        "SpineBase", "SpineMid", "Neck", "Head", "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
        "ShoulderRight", "ElbowRight", "WristRight", "HandRight", "HipLeft", "KneeLeft", "AnkleLeft",
        "FootLeft", "HipRight", "KneeRight", "AnkleRight", "FootRight", "SpineShoulder", "HandTipLeft",
        "ThumbLeft", "HandTipRight", "ThumbRight",
    )
    check_direct(star(names), {"pelvis": "SpineBase", "spine": "SpineMid", "neck": "SpineShoulder",
                               "left_wrist": "WristLeft", "right_ankle": "AnkleRight"})


def test_ntu_rgbd_official_names():
    names = (
        "base of the spine", "middle of the spine", "neck", "head", "left shoulder", "left elbow",
        "left wrist", "left hand", "right shoulder", "right elbow", "right wrist", "right hand",
        "left hip", "left knee", "left ankle", "left foot", "right hip", "right knee", "right ankle",
        "right foot", "spine", "tip of the left hand", "left thumb", "tip of the right hand", "right thumb",
    )
    # NTU's "spine" (joint 21) is Kinect v2's SpineShoulder: the base of the neck.
    check_direct(star(names, "ntu"), {
        "pelvis": "base of the spine", "spine": "middle of the spine", "neck": "spine", "head": "head",
        "left_shoulder": "left shoulder", "right_wrist": "right wrist", "left_ankle": "left ankle",
    })


def test_smpl():
    check_direct(LAYOUTS["smpl24"], {
        "pelvis": "pelvis", "spine": "spine2", "neck": "neck", "head": "head",
        "left_shoulder": "left_shoulder", "right_wrist": "right_wrist", "left_ankle": "left_ankle",
    })


def test_openni15_florence_like_derives_pelvis():
    names = ("head", "neck", "torso", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
             "right_elbow", "right_wrist", "left_hip", "left_knee", "left_ankle", "right_hip",
             "right_knee", "right_ankle")
    layout = star(names, "openni")
    m = check_direct(layout, {"spine": "torso", "neck": "neck", "head": "head", "left_hip": "left_hip"})
    x = clip_for(layout)
    y = m.apply(x)
    assert m.kinds[C["pelvis"]] == "derived"
    np.testing.assert_allclose(y[:, C["pelvis"]], (x[:, 9] + x[:, 12]) / 2, atol=1e-6)
    # NiTE's camel case maps the same way.
    nite = [n.replace("left_", "Left").replace("right_", "Right").title() for n in names]
    assert map_layout(star(nite)).sources == m.sources


COCO17 = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
          "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
          "right_knee", "left_ankle", "right_ankle")


def test_coco17_derived_joints():
    layout = star(COCO17, "coco")
    m = check_direct(layout, {f"{lr}_{s}": f"{lr}_{s}" for lr in ("left", "right") for s in SIDED})
    x = clip_for(layout).astype(np.float64)
    y = m.apply(x)
    i = {n: k for k, n in enumerate(COCO17)}
    pelvis = (x[:, i["left_hip"]] + x[:, i["right_hip"]]) / 2
    neck = (x[:, i["left_shoulder"]] + x[:, i["right_shoulder"]]) / 2
    np.testing.assert_allclose(y[:, C["pelvis"]], pelvis, atol=1e-6)
    np.testing.assert_allclose(y[:, C["neck"]], neck, atol=1e-6)
    np.testing.assert_allclose(y[:, C["spine"]], (pelvis + neck) / 2, atol=1e-6)
    np.testing.assert_allclose(y[:, C["head"]], (x[:, i["left_ear"]] + x[:, i["right_ear"]]) / 2, atol=1e-6)
    for j in ("pelvis", "neck", "spine", "head"):
        assert m.kinds[C[j]] == "derived"
        assert abs(sum(m.weights[C[j]]) - 1) < 1e-12
    # Without ears: the eyes; without eyes either: the nose.
    no_ears = [n for n in COCO17 if "ear" not in n]
    m2 = map_layout(star(no_ears))
    assert sorted(no_ears[k] for k in m2.sources[C["head"]]) == ["left_eye", "right_eye"]
    m3 = map_layout(star([n for n in no_ears if "eye" not in n]))
    assert m3.sources[C["head"]] == (0,)


def test_openpose_body25():
    names = ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip",
             "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
             "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")
    m = check_direct(star(names), {"pelvis": "MidHip", "neck": "Neck", "left_shoulder": "LShoulder",
                                   "right_ankle": "RAnkle"})
    assert m.kinds[C["spine"]] == "derived" and m.kinds[C["head"]] == "derived"


def test_human36m_17():
    names = ("Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax", "Neck/Nose",
             "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist")
    check_direct(star(names), {"pelvis": "Hip", "spine": "Spine", "neck": "Thorax", "head": "Head",
                               "left_ankle": "LFoot", "right_hip": "RHip", "left_wrist": "LWrist"})


def test_bandai_namco_bvh():
    names = ("joint_Root", "Hips", "Spine", "Chest", "Neck", "Head", "Shoulder_L", "UpperArm_L",
             "LowerArm_L", "Hand_L", "Shoulder_R", "UpperArm_R", "LowerArm_R", "Hand_R", "UpperLeg_L",
             "LowerLeg_L", "Foot_L", "Toes_L", "UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R")
    # BVH joints sit where their segment starts: UpperArm_L is the shoulder, Shoulder_L the collar.
    check_direct(star(names), {
        "pelvis": "Hips", "spine": "Spine", "neck": "Neck", "head": "Head",
        "left_shoulder": "UpperArm_L", "left_elbow": "LowerArm_L", "left_wrist": "Hand_L",
        "right_hip": "UpperLeg_R", "right_knee": "LowerLeg_R", "right_ankle": "Foot_R",
    })


def test_cmu_mixamo_bvh():
    names = ("Hips", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "RightUpLeg", "RightLeg", "RightFoot",
             "RightToeBase", "Spine", "Spine1", "Neck", "Neck1", "Head", "LeftShoulder", "LeftArm",
             "LeftForeArm", "LeftHand", "LeftHandIndex1", "RightShoulder", "RightArm", "RightForeArm",
             "RightHand", "RThumb")
    check_direct(star(names), {
        "pelvis": "Hips", "spine": "Spine", "neck": "Neck", "left_shoulder": "LeftArm",
        "left_elbow": "LeftForeArm", "left_wrist": "LeftHand", "left_hip": "LeftUpLeg",
        "left_knee": "LeftLeg", "left_ankle": "LeftFoot", "right_shoulder": "RightArm",
    })
    mixamo = star(["mixamorig:" + n for n in names])
    assert map_layout(mixamo).sources == map_layout(star(names)).sources


def test_ui_prmd_kinect_v2_22():
    names = ("waist", "spine", "chest", "neck", "head", "head tip", "left collar", "left upper arm",
             "left forearm", "left hand", "right collar", "right upper arm", "right forearm", "right hand",
             "left upper leg", "left lower leg", "left foot", "left leg toes", "right upper leg",
             "right lower leg", "right foot", "right leg toes")
    check_direct(star(names), {
        "pelvis": "waist", "spine": "spine", "neck": "neck", "head": "head",
        "left_shoulder": "left upper arm", "left_elbow": "left forearm", "left_wrist": "left hand",
        "right_hip": "right upper leg", "right_knee": "right lower leg", "right_ankle": "right foot",
    })


@pytest.mark.parametrize("spelling", [
    "left_shoulder", "l_shoulder", "shoulder_left", "ShoulderLeft", "LeftShoulder", "lshoulder",
    "Shoulder_L", "L.Shoulder", "left-shoulder", "Left Shoulder", "LSHOULDER",
])
def test_left_shoulder_spellings(spelling):
    assert match_joint(spelling)[0] == "left_shoulder"


@pytest.mark.parametrize("spelling", ["r_knee", "RightKnee", "knee_right", "KneeR", "rknee", "Right Knee"])
def test_right_knee_spellings(spelling):
    assert match_joint(spelling)[0] == "right_knee"


@pytest.mark.parametrize("spelling", ["hip_center", "HipCenter", "spine_base", "SpineBase", "pelvis",
                                      "root", "hips", "Hips", "MidHip", "base of the spine", "waist"])
def test_pelvis_spellings(spelling):
    assert match_joint(spelling)[0] == "pelvis"


@pytest.mark.parametrize("name", ["HandTipLeft", "ThumbRight", "l_handtip", "Toes_L", "LeftToeBase",
                                  "joint_Root", "left_collar", "LeftHandIndex1", "foo"])
def test_names_that_feed_nothing(name):
    assert match_joint(name) is None


def test_priority_spine():
    # SpineMid > Spine > torso > spine2 > spine1, whatever the order of the joints in the layout.
    ranking = ["SpineMid", "Spine", "torso", "spine2", "spine1"]
    base = [n for n in CANONICAL_NAMES if n != "spine"]
    for k in range(len(ranking)):
        for names in (base + ranking[k:], ranking[k:][::-1] + base):
            m = map_layout(star(names))
            assert names[m.sources[C["spine"]][0]] == ranking[k]


def test_priority_shoulder_and_wrist():
    # A rig with both a collar ("LeftShoulder") and an upper arm ("LeftArm") uses the upper arm;
    # a layout with both wrist and hand uses the wrist.
    names = ["Hips", "Spine", "Neck", "Head", "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand",
             "LeftWrist", "RightArm", "RightShoulder", "RightForeArm", "RightWrist", "RightHand",
             "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftAnkle", "RightUpLeg", "RightLeg", "RightAnkle", "RightFoot"]
    m = map_layout(star(names))
    got = {c: names[m.sources[C[c]][0]] for c in CANONICAL_NAMES}
    assert got["left_shoulder"] == "LeftArm" and got["right_shoulder"] == "RightArm"
    assert got["left_wrist"] == "LeftWrist" and got["right_wrist"] == "RightWrist"
    assert got["left_ankle"] == "LeftAnkle" and got["right_ankle"] == "RightAnkle"


# ---------------------------------------------------------------- errors and explicit maps


def test_unmappable_layout_names_missing_and_seen():
    layout = star(["Head", "Neck", "LeftHand", "RightHand", "Belly"], "weird")
    with pytest.raises(ValueError) as e:
        map_layout(layout)
    msg = str(e.value)
    assert "'weird'" in msg
    for missing in ("left_shoulder", "right_elbow", "left_knee", "right_ankle", "left_hip"):
        assert missing in msg
    for seen in ("Head", "Neck", "LeftHand", "RightHand", "Belly"):
        assert seen in msg
    # The joints it did find are not reported missing.
    missing_part = msg.split("no joint for")[1].split(";")[0]
    assert "head" not in missing_part and "left_wrist" not in missing_part


def test_joint_map_overrides_alias_table():
    layout = LAYOUTS["kinect-sdk"]
    x = clip_for(layout)
    m = map_layout(layout, {"left_hand": "left_wrist", "right_hand": "RIGHT_WRIST"})
    y = m.apply(x)
    np.testing.assert_array_equal(y[:, C["left_wrist"]], x[:, layout.joint_names.index("left_hand")])
    np.testing.assert_array_equal(y[:, C["right_wrist"]], x[:, layout.joint_names.index("right_hand")])
    assert m.kinds[C["left_wrist"]] == "user"
    # Other joints still come from the alias table.
    np.testing.assert_array_equal(y[:, C["head"]], x[:, layout.joint_names.index("head")])
    # Several sources for one canonical joint are averaged; a null target drops a joint.
    m2 = map_layout(layout, {"left_hand": "left_wrist", "left_wrist": "left_wrist"})
    np.testing.assert_allclose(m2.apply(x)[:, C["left_wrist"]], (x[:, 6] + x[:, 7]) / 2, atol=1e-6)
    # A named source joint feeds only the canonical joint the map gives it.
    with pytest.raises(ValueError, match="no joint for left_hip; "):
        map_layout(layout, {"left_hip": "pelvis"})
    m3 = map_layout(layout, {"hip_center": None})
    assert m3.kinds[C["pelvis"]] == "derived"
    # An explicit map can rescue an unmappable layout.
    names = ("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p")
    jm = dict(zip(names, CANONICAL_NAMES))
    m4 = map_layout(star(names), jm)
    assert m4.sources == tuple((k,) for k in range(16))


def test_joint_map_errors():
    layout = LAYOUTS["kinect-sdk"]
    with pytest.raises(ValueError, match="unknown canonical joint 'left_finger'"):
        map_layout(layout, {"left_hand": "left_finger"})
    with pytest.raises(ValueError, match="'LeftHand' is not a joint of layout 'kinect-sdk'.*left_hand"):
        map_layout(layout, {"LeftHand": "left_wrist"})
    with pytest.raises(ValueError, match="must be a canonical joint name"):
        map_layout(layout, {"left_hand": 3})


def test_load_joint_map(tmp_path):
    good = tmp_path / "map.json"
    good.write_text(json.dumps({"left_hand": "left_wrist", "foot_left": None}))
    assert load_joint_map(good) == {"left_hand": "left_wrist", "foot_left": None}
    bad = tmp_path / "bad.json"
    bad.write_text("{left_hand: left_wrist")
    with pytest.raises(ValueError, match="bad.json.*not valid JSON"):
        load_joint_map(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(["left_hand", "left_wrist"]))
    with pytest.raises(ValueError, match="wrong.json.*expected a JSON object"):
        load_joint_map(wrong)
    wrong2 = tmp_path / "wrong2.json"
    wrong2.write_text(json.dumps({"left_hand": ["left_wrist"]}))
    with pytest.raises(ValueError, match="wrong2.json"):
        load_joint_map(wrong2)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_joint_map(tmp_path / "missing.json")


def test_apply_checks_shape_and_broadcasts():
    m = map_layout(LAYOUTS["kinect-utd"])
    with pytest.raises(ValueError, match="20"):
        m.apply(np.zeros((5, 16, 3)))
    w = np.random.default_rng(1).normal(size=(4, 6, 20, 3))
    out = m.apply(w)
    assert out.shape == (4, 6, 16, 3)
    np.testing.assert_allclose(out[2], m.apply(w[2]), atol=1e-6)


def test_describe_lists_sources():
    text = map_layout(star(COCO17, "coco")).describe()
    assert "coco -> canonical16" in text
    assert "0.5*left_hip + 0.5*right_hip (derived)" in text
    assert "left_wrist" in text and "unused: nose, left_eye, right_eye" in text


def test_canonicalize_collection(tmp_path):
    layout = LAYOUTS["kinect-utd"]
    rng = np.random.default_rng(3)
    clips = [rng.normal(size=(t, 20, 3)).astype(np.float32) for t in (5, 9, 3)]
    col = Collection(clips=clips, labels=[0, 1, 1], class_names=["a", "b"], layout=layout,
                     order_keys=[[3], [1], [2]], groups=[0, 1, 1], names=["x", "y", "z"], source="src",
                     fps=30.0)
    out = canonicalize(col)
    assert out.layout is CANONICAL and len(out) == 3 and out.fps == 30.0 and out.source == "src"
    assert out.names == ["x", "y", "z"] and out.class_names == ["a", "b"]
    np.testing.assert_array_equal(out.labels, col.labels)
    np.testing.assert_array_equal(out.groups, col.groups)
    np.testing.assert_array_equal(out.order_keys, col.order_keys)
    assert [c.shape for c in out.clips] == [(5, 16, 3), (9, 16, 3), (3, 16, 3)]
    np.testing.assert_array_equal(out.clips[1][:, C["pelvis"]], clips[1][:, 3])  # hip_center
    # A joint-map file works too.
    f = tmp_path / "jm.json"
    f.write_text(json.dumps({"left_hand": "left_wrist"}))
    out2 = canonicalize(col, f)
    np.testing.assert_array_equal(out2.clips[0][:, C["left_wrist"]], clips[0][:, 7])
