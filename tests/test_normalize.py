"""Sensor normalisation: units, up axis, facing, body size, frame rate, mirrored collections; real data."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_dataset

from haad.canonical import CANONICAL, canonicalize, map_layout
from haad.data.collection import Collection
from haad.normalize import (
    MIN_VOTERS,
    SensorNormConfig,
    body_height,
    clip_transform,
    detect_mirrored,
    facing_rotation,
    hands_forward,
    normalize_clip,
    normalize_clips,
    normalize_collection,
    normalize_frames,
    resample_fps,
    unit_factor,
    up_rotation,
)
from haad.skeleton import KINECT_UTD

J = {n: i for i, n in enumerate(CANONICAL.joint_names)}
NOFPS = SensorNormConfig(fps=None)

# A standing body in metres, y up, facing -z (its right at +x), hands in front.
REST = {
    "pelvis": (0.0, 1.0, 0.0), "spine": (0.0, 1.25, 0.02), "neck": (0.0, 1.5, 0.03), "head": (0.0, 1.68, 0.0),
    "left_shoulder": (-0.18, 1.46, 0.03), "left_elbow": (-0.22, 1.2, 0.0), "left_wrist": (-0.2, 1.05, -0.22),
    "right_shoulder": (0.18, 1.46, 0.03), "right_elbow": (0.22, 1.2, 0.0), "right_wrist": (0.2, 1.05, -0.22),
    "left_hip": (-0.1, 0.95, 0.0), "left_knee": (-0.11, 0.52, -0.03), "left_ankle": (-0.11, 0.09, 0.02),
    "right_hip": (0.1, 0.95, 0.0), "right_knee": (0.11, 0.52, -0.03), "right_ankle": (0.11, 0.09, 0.02),
}


def body_clip(frames: int = 40, seed: int = 0, size: float = 1.0) -> np.ndarray:
    """A moving body: arms swing, the body walks forward and leans a little; camera-like offset."""
    rng = np.random.default_rng(seed)
    rest = np.array([REST[n] for n in CANONICAL.joint_names])
    t = np.arange(frames)[:, None]
    x = np.repeat(rest[None], frames, axis=0)
    x[:, J["right_wrist"], 1] += 0.3 * np.sin(t[:, 0] / 5)
    x[:, J["left_elbow"], 2] -= 0.1 * np.cos(t[:, 0] / 7)
    x[:, :, 2] -= 0.02 * t  # walks towards -z
    x[:, [J["neck"], J["head"]], 2] -= 0.05  # slight forward lean
    x = x + rng.normal(scale=0.01, size=x.shape)
    x = size * x + np.array([0.3, -0.2, 2.5])  # somewhere in front of a camera
    return x.astype(np.float64)


def rot_x(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def random_rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def across_angle(x) -> float:
    """Heading of the left -> right vector in the first frame (radians, in the x-z plane)."""
    a = x[0, J["right_hip"]] - x[0, J["left_hip"]] + x[0, J["right_shoulder"]] - x[0, J["left_shoulder"]]
    return float(np.arctan2(a[2], a[0]))


def test_config_validation():
    with pytest.raises(ValueError, match="fps"):
        SensorNormConfig(fps=0)
    with pytest.raises(ValueError, match="height"):
        SensorNormConfig(height=-1)
    with pytest.raises(ValueError, match="unit_factors"):
        SensorNormConfig(unit_factors=())


def test_default_output_is_float32_deterministic_and_canonical():
    x = body_clip()
    a, b = normalize_clip(x), normalize_clip(x)
    assert a.dtype == np.float32 and a.shape == x.shape
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a[0, J["pelvis"]], 0, atol=1e-6)  # centred
    assert body_height(a) == pytest.approx(1.7, rel=1e-5)
    assert (a[:, J["head"], 1] > a[:, J["left_ankle"], 1]).all()
    assert abs(across_angle(a)) < 1e-5  # left -> right along +x


# ---------------------------------------------------------------- units


def test_units_mm_and_cm_give_metres():
    cfg = SensorNormConfig(scale=False, fps=None)
    x = body_clip()
    ref = normalize_clip(x, config=cfg)
    for factor in (1000.0, 100.0):
        np.testing.assert_allclose(normalize_clip(x * factor, config=cfg), ref, atol=1e-5)
    # A child's body in centimetres is still read as centimetres.
    child = body_clip(size=0.6)
    np.testing.assert_allclose(normalize_clip(child * 100, config=cfg), normalize_clip(child, config=cfg), atol=1e-5)
    assert body_height(normalize_clip(child * 100, config=cfg)) == pytest.approx(body_height(child), rel=1e-5)


def test_unit_factor_choice():
    assert unit_factor(1.5) == 1.0 and unit_factor(150) == 0.01 and unit_factor(1500) == 0.001
    assert unit_factor(0.8) == 1.0 and unit_factor(80) == 0.01  # a small child
    assert unit_factor(0.0) == 1.0 and unit_factor(float("nan")) == 1.0
    assert unit_factor(59, (1.0, 0.01, 0.001, 0.0254)) == 0.0254  # inches when asked for


def test_units_off_keeps_units():
    cfg = SensorNormConfig(units=False, scale=False, fps=None)
    x = body_clip() * 1000
    assert body_height(normalize_clip(x, config=cfg)) == pytest.approx(body_height(x), rel=1e-5)


# ---------------------------------------------------------------- up axis


def test_z_up_copy_normalises_to_the_y_up_result():
    x = body_clip()
    z_up = x @ rot_x(np.pi / 2).T  # y -> z
    assert np.mean(z_up[:, J["head"], 2] - z_up[:, J["left_ankle"], 2]) > 1.0
    np.testing.assert_allclose(normalize_clip(z_up, config=NOFPS), normalize_clip(x, config=NOFPS), atol=1e-5)
    # Snapping to the nearest axis gives the same result too.
    snap = SensorNormConfig(fps=None, up_snap=True)
    np.testing.assert_allclose(normalize_clip(z_up, config=snap), normalize_clip(x, config=snap), atol=1e-5)
    # Any rotation at all, with up axis and facing both on.
    rng = np.random.default_rng(5)
    for _ in range(3):
        r = random_rotation(rng)
        np.testing.assert_allclose(normalize_clip(x @ r.T, config=NOFPS), normalize_clip(x, config=NOFPS), atol=1e-5)


def test_up_rotation_aligns_trunk():
    x = body_clip() @ random_rotation(np.random.default_rng(2)).T
    y = x @ up_rotation(x).T
    d = y[:, J["neck"]] - y[:, J["pelvis"]]
    u = (d / np.linalg.norm(d, axis=1, keepdims=True)).mean(0)
    np.testing.assert_allclose(u / np.linalg.norm(u), [0, 1, 0], atol=1e-9)
    # Snapped: the tilt of the body stays, only the axis convention changes.
    z_up = body_clip() @ rot_x(np.pi / 2).T
    np.testing.assert_allclose(up_rotation(z_up, snap=True), rot_x(-np.pi / 2), atol=1e-12)
    np.testing.assert_allclose(up_rotation(body_clip(), snap=True), np.eye(3), atol=1e-12)


def test_up_axis_off_keeps_z_up():
    cfg = SensorNormConfig(up_axis=False, facing=False, fps=None)
    z_up = body_clip() @ rot_x(np.pi / 2).T
    y = normalize_clip(z_up, config=cfg)
    assert np.mean(y[:, J["head"], 2] - y[:, J["left_ankle"], 2]) > 1.0
    assert abs(np.mean(y[:, J["head"], 1] - y[:, J["left_ankle"], 1])) < 0.3


# ---------------------------------------------------------------- facing


def test_rotation_about_up_normalises_to_the_original():
    x = body_clip()
    ref = normalize_clip(x, config=NOFPS)
    rng = np.random.default_rng(11)
    for angle in rng.uniform(-np.pi, np.pi, size=4):
        turned = x @ rot_y(angle).T + rng.normal(size=3)
        np.testing.assert_allclose(normalize_clip(turned, config=NOFPS), ref, atol=1e-5)


def test_facing_off_keeps_heading():
    cfg = SensorNormConfig(facing=False, fps=None)
    x = body_clip()
    turned = x @ rot_y(1.0).T
    assert across_angle(normalize_clip(turned, config=cfg)) == pytest.approx(across_angle(turned), abs=0.05)
    assert abs(across_angle(turned)) > 0.9


def test_facing_rotation_direction():
    x = body_clip() @ rot_y(-2.0).T
    y = x @ facing_rotation(x).T
    assert across_angle(y) == pytest.approx(0.0, abs=1e-9)
    # Facing -z: the hands (in front of the body) end up at negative z relative to the neck.
    assert hands_forward(y) < 0


# ---------------------------------------------------------------- scale


def test_scale_gives_every_body_the_same_height():
    tall, short = body_clip(size=1.15, seed=1), body_clip(size=0.7, seed=2)
    assert body_height(tall) / body_height(short) > 1.5
    for x in (tall, short):
        assert body_height(normalize_clip(x, config=NOFPS)) == pytest.approx(1.7, rel=1e-5)
    cfg = SensorNormConfig(height=1.0, fps=None)
    assert body_height(normalize_clip(tall, config=cfg)) == pytest.approx(1.0, rel=1e-5)
    # Same body at two sizes: identical after scaling.
    np.testing.assert_allclose(normalize_clip(body_clip(size=0.7), config=NOFPS),
                               normalize_clip(body_clip(size=1.0), config=NOFPS), atol=1e-5)


def test_scale_off_keeps_size():
    cfg = SensorNormConfig(scale=False, fps=None)
    tall, short = body_clip(size=1.15), body_clip(size=0.7)
    ratio = body_height(normalize_clip(tall, config=cfg)) / body_height(normalize_clip(short, config=cfg))
    assert ratio == pytest.approx(1.15 / 0.7, rel=1e-5)


def test_body_height_is_the_bone_chain():
    x = body_clip(frames=3)
    c = x[1]
    bone = lambda a, b: np.linalg.norm(c[J[a]] - c[J[b]])
    legs = sum(0.5 * (bone(f"{s}_ankle", f"{s}_knee") + bone(f"{s}_knee", f"{s}_hip") + bone(f"{s}_hip", "pelvis"))
               for s in ("left", "right"))
    expected = legs + bone("pelvis", "spine") + bone("spine", "neck") + bone("neck", "head")
    assert body_height(x[1:2]) == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------- frame rate


def test_resample_60_to_30_halves_frames_and_keeps_trajectory():
    x = body_clip(frames=101)
    y = resample_fps(x, 60.0, 30.0)
    assert y.shape == (51, 16, 3)
    np.testing.assert_allclose(y, x[::2], atol=1e-12)
    for frames in (100, 37, 2):
        assert abs(len(resample_fps(x[:frames], 60, 30)) - frames / 2) <= 1
    # Non-integer ratio: linear interpolation at times k / 25 s.
    y = resample_fps(x, 60.0, 25.0)
    t_out = np.arange(len(y)) / 25.0
    assert t_out[-1] <= 100 / 60 and (len(y)) / 25.0 > 100 / 60
    t_in = np.arange(101) / 60.0
    for j, d in ((J["right_wrist"], 1), (J["pelvis"], 2), (J["head"], 0)):
        np.testing.assert_allclose(y[:, j, d], np.interp(t_out, t_in, x[:, j, d]), atol=1e-12)
    # Upsampling, and one frame.
    assert len(resample_fps(x[:11], 30, 60)) == 21
    assert resample_fps(x[:1], 60, 30).shape == (1, 16, 3)


def test_normalize_clip_resamples_only_with_known_fps():
    x = body_clip(frames=61)
    assert len(normalize_clip(x, fps=60.0)) == 31  # default target 30 fps
    assert len(normalize_clip(x)) == 61  # clip's rate unknown
    assert len(normalize_clip(x, fps=60.0, config=SensorNormConfig(fps=None))) == 61
    # Resampling commutes with the spatial steps (one affine map per clip).
    np.testing.assert_allclose(normalize_clip(x, fps=60.0), normalize_clip(x, config=NOFPS)[::2], atol=1e-5)


# ---------------------------------------------------------------- degenerate input, other layouts


@pytest.mark.parametrize("clip", [
    np.zeros((5, 16, 3)),
    np.ones((1, 16, 3)),
    body_clip(frames=1),
    np.repeat(np.array([[0.0, 1.0, 0.0]]), 16, axis=0)[None].repeat(4, axis=0),
])
def test_degenerate_input_gives_no_nan(clip):
    out = normalize_clip(clip, fps=60.0)
    assert np.isfinite(out).all() and out.dtype == np.float32
    assert out.shape[1:] == (16, 3)


def test_zero_length_bones_and_collapsed_sides():
    x = body_clip(frames=6)
    x[:, J["left_hip"]] = x[:, J["right_hip"]] = x[:, J["pelvis"]]
    x[:, J["left_shoulder"]] = x[:, J["right_shoulder"]] = x[:, J["neck"]]
    out = normalize_clip(x)
    assert np.isfinite(out).all()


def test_any_mappable_layout():
    rng = np.random.default_rng(0)
    mapping = map_layout(KINECT_UTD)
    # A Kinect-UTD clip whose canonical joints are the test body (hands/feet near wrists/ankles).
    x = np.zeros((20, 20, 3))
    canon = body_clip(frames=20)
    for k, src in enumerate(mapping.sources):
        x[:, src[0]] = canon[:, k]
    for extra in ("left_hand", "right_hand", "left_foot", "right_foot"):
        near = {"left_hand": "left_wrist", "right_hand": "right_wrist", "left_foot": "left_ankle",
                "right_foot": "right_ankle"}[extra]
        x[:, KINECT_UTD.joint_names.index(extra)] = canon[:, J[near]] + rng.normal(scale=0.05, size=(20, 3))
    out = normalize_clip(x, layout=KINECT_UTD, config=NOFPS)
    assert out.shape == (20, 20, 3)
    np.testing.assert_allclose(mapping.apply(out), normalize_clip(canon, config=NOFPS), atol=1e-5)
    with pytest.raises(ValueError, match="layout 'kinect-utd'"):
        normalize_clip(canon, layout=KINECT_UTD)


# ---------------------------------------------------------------- collections


def collection_of(clips, fps=None, layout=CANONICAL):
    n = len(clips)
    return Collection(clips=[c.astype(np.float32) for c in clips], labels=np.arange(n) % 2,
                      class_names=["a", "b"], layout=layout, names=[f"c{i}" for i in range(n)],
                      source="test", fps=fps, groups=np.arange(n) // 2, order_keys=np.arange(n)[::-1])


def test_normalize_collection_keeps_metadata_and_sets_fps():
    clips = [body_clip(frames=f, seed=f) for f in (61, 41, 1)]
    col = collection_of(clips, fps=60.0)
    out = normalize_collection(col)
    assert out.fps == 30.0 and [len(c) for c in out.clips] == [31, 21, 1]
    assert out.names == col.names and out.source == "test" and out.layout is CANONICAL
    np.testing.assert_array_equal(out.labels, col.labels)
    np.testing.assert_array_equal(out.groups, col.groups)
    np.testing.assert_array_equal(out.order_keys, col.order_keys)
    np.testing.assert_allclose(out.clips[0], normalize_clip(clips[0], fps=60.0), atol=1e-5)
    same = normalize_collection(col, SensorNormConfig(fps=None))
    assert same.fps == 60.0 and [len(c) for c in same.clips] == [61, 41, 1]
    unknown = normalize_collection(collection_of(clips))
    assert unknown.fps is None and [len(c) for c in unknown.clips] == [61, 41, 1]


def test_mirrored_collection_is_unmirrored():
    angles = (0.1, 2.0, -1.0, 3.0, -2.5, 0.7)
    clips = [body_clip(seed=s) @ rot_y(a).T for s, a in enumerate(angles)]
    ref = normalize_collection(collection_of(clips), NOFPS)
    assert not detect_mirrored(collection_of(clips))
    assert all(hands_forward(c) < 0 for c in ref.clips)
    np.testing.assert_allclose(ref.clips[1], normalize_clip(clips[1], config=NOFPS), atol=1e-6)
    # The same recordings as a mirror image (x negated, labels kept).
    mirrored = [c * np.array([-1.0, 1.0, 1.0]) for c in clips]
    assert all(hands_forward(normalize_clip(c, config=NOFPS)) > 0 for c in mirrored)
    assert detect_mirrored(collection_of(mirrored))
    out = normalize_collection(collection_of(mirrored), NOFPS)
    for a, b in zip(out.clips, ref.clips):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # The decision applied to single clips, or forced on a collection.
    np.testing.assert_allclose(normalize_clip(mirrored[2], config=NOFPS, mirrored=True), ref.clips[2], atol=1e-5)
    forced = normalize_collection(collection_of(mirrored[:2]), NOFPS, mirrored=True)
    np.testing.assert_allclose(forced.clips[1], ref.clips[1], atol=1e-5)
    a, b = clip_transform(mirrored[0], mirrored=True)
    np.testing.assert_allclose(mirrored[0] @ a.T + b, out.clips[0], atol=1e-5)
    # Off, or too few clips to vote: left as recorded.
    off = normalize_collection(collection_of(mirrored), SensorNormConfig(fps=None, handedness=False))
    assert all(hands_forward(c) > 0 for c in off.clips)
    few = normalize_collection(collection_of(mirrored[:MIN_VOTERS - 1]), NOFPS)
    assert all(hands_forward(c) > 0 for c in few.clips)
    # A minority of odd clips does not flip a collection.
    mixed = clips[:4] + mirrored[4:]
    assert not detect_mirrored(collection_of(mixed))


# ---------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def real():
    from haad.data import load_dataset

    out = {}
    for name in ("utd-mhad", "nw-ucla"):
        path = require_dataset(name)
        out[name] = load_dataset(name, path.parent)
    return out


@pytest.mark.parametrize("name", ["utd-mhad", "nw-ucla"])
def test_real_kinect_data(real, name):
    col = real[name]
    out = normalize_collection(canonicalize(col))
    assert out.layout is CANONICAL and len(out) == len(col)
    heights, up, hands = [], [], []
    for c in out.clips:
        assert np.isfinite(c).all()
        heights.append(body_height(c))
        up.append(np.mean(c[:, J["head"], 1] - 0.5 * (c[:, J["left_ankle"], 1] + c[:, J["right_ankle"], 1])))
        hands.append(hands_forward(c))
    np.testing.assert_allclose(heights, 1.7, rtol=1e-4)
    up = np.array(up)
    assert np.mean(up > 0) > 0.99 and np.median(up) > 1.2  # head above the ankles, along +y
    assert np.median(hands) < 0  # Kinect's frame: hands in front, no mirror
    assert not detect_mirrored(col)
    if col.fps is not None:
        assert out.fps == 30.0
    # The same through the source layout directly (a few clips; the mirror vote needs none here).
    direct = normalize_collection(col.subset(np.arange(0, len(col), 50)))
    mapping = map_layout(col.layout)
    for k, c in zip(range(0, len(col), 50), direct.clips):
        np.testing.assert_allclose(mapping.apply(c), out.clips[k], atol=1e-5)


def test_real_florence3d_z_up_and_mirrored():
    path = require_dataset("florence3d")
    from haad.data import load_dataset

    col = load_dataset("florence3d", path.parent)
    raw = canonicalize(col)
    # Recorded z up.
    assert np.median([np.mean(c[:, J["head"], 2] - c[:, J["left_ankle"], 2]) for c in raw.clips]) > 1.0
    out = normalize_collection(raw)
    up = np.array([np.mean(c[:, J["head"], 1] - c[:, J["left_ankle"], 1]) for c in out.clips])
    assert np.mean(up > 0) > 0.99
    np.testing.assert_allclose([body_height(c) for c in out.clips], 1.7, rtol=1e-4)
    # Its frame is a mirror image of Kinect's: detected once for the whole collection and undone.
    assert detect_mirrored(raw) and detect_mirrored(col)
    assert np.mean([hands_forward(normalize_clip(c, config=NOFPS)) > 0 for c in raw.clips]) > 0.9
    assert np.median([hands_forward(c) for c in out.clips]) < 0


# ---------------------------------------------------------------- many clips measured together


def clip_by_clip(clips, layout=CANONICAL, fps=None, config=SensorNormConfig(), mirrored=False):
    return [normalize_clip(c, layout, fps, config, mirrored) for c in clips]


def assert_same_clip(a, b):
    # The matrix products round alike up to the last float64 bit, which BLAS may set differently for
    # differently aligned memory; a value of another clip leaking in would differ by far more.
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12)


def test_clips_measured_together_are_each_measured_on_their_own():
    """normalize_clips (and so a detector's batch) gives every clip exactly what it gets alone: no
    statistic leaks between neighbouring clips, degenerate ones included."""
    clips = [body_clip(frames=f, seed=f, size=s) for f, s in ((40, 1.0), (1, 1.0), (25, 100.0), (60, 0.6))]
    clips += [np.zeros((5, 16, 3)), np.repeat(np.array([[0.0, 1.0, 0.0]]), 16, axis=0)[None].repeat(4, axis=0)]
    z_up = body_clip(frames=30, seed=7) @ rot_x(np.pi / 2).T
    clips.insert(3, z_up)
    for cfg in (SensorNormConfig(), SensorNormConfig(up_snap=True), NOFPS, SensorNormConfig(scale=False, units=False)):
        for fps, mirrored in ((None, False), (60.0, True)):
            together = normalize_clips(clips, fps=fps, config=cfg, mirrored=mirrored)
            alone = clip_by_clip(clips, fps=fps, config=cfg, mirrored=mirrored)
            assert len(together) == len(alone)
            for a, b in zip(together, alone):
                assert_same_clip(a, b)
    # frames end to end: the same clips, and their new lengths when resampled
    frames, lengths = normalize_frames(np.concatenate(clips), [len(c) for c in clips], fps=60.0)
    assert lengths.tolist() == [len(c) for c in clip_by_clip(clips, fps=60.0)]
    assert_same_clip(frames, np.concatenate(clip_by_clip(clips, fps=60.0)))
    with pytest.raises(ValueError, match="add up to"):
        normalize_frames(np.concatenate(clips), [len(c) for c in clips[:-1]])


def test_clips_measured_together_keep_their_own_layout():
    canon = [body_clip(frames=f, seed=f) for f in (20, 33)]
    mapping = map_layout(KINECT_UTD)
    clips = []
    for c in canon:
        x = np.zeros((len(c), 20, 3))
        for k, src in enumerate(mapping.sources):
            x[:, src[0]] = c[:, k]
        clips.append(x)
    together = normalize_clips(clips, layout=KINECT_UTD, config=NOFPS)
    assert [c.shape for c in together] == [(20, 20, 3), (33, 20, 3)]
    for a, b in zip(together, clip_by_clip(clips, KINECT_UTD, config=NOFPS)):
        assert_same_clip(a, b)


@pytest.mark.parametrize("name", ["utd-mhad", "florence3d"])
def test_real_clips_measured_together_equal_clip_by_clip(name):
    from haad.data import load_dataset

    col = canonicalize(load_dataset(name, require_dataset(name).parent))
    clips = col.clips[::3]
    for a, b in zip(normalize_clips(clips, fps=col.fps), clip_by_clip(clips, fps=col.fps)):
        assert_same_clip(a, b)
