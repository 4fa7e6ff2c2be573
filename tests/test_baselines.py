"""One-model-per-category baselines: the shared contract, the flows' exactness, and quality floors.

Data are generated here (seeded, any layout) so the tests do not depend on other generators:
``arms`` = upper-body joints swing forward/back at about 1 Hz (the normal family); anomalies are
``legs`` (the lower body swings instead), ``arms_side`` (the arms swing sideways) and ``arms_fast``
(the normal motion at twice the tempo).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from haad.baselines import BASELINES, MoCoDAD, MultiLevelNF, STGNF, load_baseline, make_baseline
from haad.baselines.flows import GlowFlow, normalized_adjacency
from haad.baselines.multilevel_nf import GraphCouplingNet
from haad.checkpoint import CheckpointError
from haad.skeleton import KINECT_UTD, SMPL24, Layout

# Small configs: the contract does not depend on model size.
TINY = {
    "multilevel-nf": {"steps": 2, "hidden": 8, "epochs": 2},
    "stg-nf": {"steps": 2, "hidden": 4, "epochs": 1},
    "mocodad": {"hidden": 16, "blocks": 1, "epochs": 2},
}
# Configs for the quality floors (measured AUC on the data below, seeds 0-2: MultiLevel-NF 1.00,
# STG-NF 0.865, MoCoDAD 0.84-0.86); floors leave a margin.
QUALITY = {
    "multilevel-nf": ({"steps": 2, "hidden": 16, "epochs": 10}, 0.90),
    "stg-nf": ({"steps": 2, "hidden": 8, "epochs": 5}, 0.75),
    "mocodad": ({"hidden": 64, "blocks": 2, "epochs": 60}, 0.72),
}
LAYOUTS = {"j20": KINECT_UTD, "j24": SMPL24}


def _depth(layout: Layout, i: int) -> int:
    d = 0
    while layout.parents[i] != -1:
        i, d = layout.parents[i], d + 1
    return d


def rest_pose(layout: Layout) -> np.ndarray:
    """A stick figure for any layout: lower-body bones point down, others up, sides apart."""
    side = np.zeros(layout.num_joints)
    side[list(layout.left)] = 1.0
    side[list(layout.right)] = -1.0
    lower = set(layout.lower)
    pos = np.zeros((layout.num_joints, 3))
    for i in sorted(range(layout.num_joints), key=lambda k: _depth(layout, k)):
        p = layout.parents[i]
        if p >= 0:
            pos[i] = pos[p] + np.array([0.08 * side[i], -0.2 if i in lower else 0.15, 0.0])
    return pos


def motions(layout: Layout, n: int, family: str, seed: int, frames: int = 60) -> np.ndarray:
    """``n`` protocol-normalised windows (n, frames, J, 3) of one motion family (see module doc)."""
    rng = np.random.default_rng(seed)
    rest = rest_pose(layout)
    t = np.arange(frames) / 30.0
    parts = layout.lower if family == "legs" else layout.upper
    mask = np.zeros(layout.num_joints)
    mask[[i for i in parts if layout.parents[i] != -1]] = 1.0
    reach = np.linalg.norm(rest - rest[layout.root], axis=1)  # swing grows away from the root
    axis = 0 if family == "arms_side" else 2
    out = np.empty((n, frames, layout.num_joints, 3), np.float32)
    for k in range(n):
        f = rng.uniform(0.8, 1.2) * (2.0 if family == "arms_fast" else 1.0)
        ph, a = rng.uniform(0, 2 * np.pi), rng.uniform(0.8, 1.2)
        x = np.repeat(rest[None], frames, 0)
        x[..., axis] += a * 0.5 * reach * mask * np.sin(2 * np.pi * f * t + ph)[:, None]
        x[..., 1] += a * 0.2 * reach * mask * np.cos(2 * np.pi * f * t + ph)[:, None]
        x[..., 0] += rng.normal(0, 0.02) * t[:, None]  # slow drift of the whole body
        x += rng.normal(0, 0.005, x.shape)
        out[k] = x - x[0, layout.root]
    return out


@pytest.fixture(scope="module")
def tiny_data():
    return {k: (motions(l, 12, "arms", 0), motions(l, 6, "legs", 1)) for k, l in LAYOUTS.items()}


@pytest.fixture(scope="module")
def fitted(tiny_data):
    """One tiny fitted detector per (baseline, layout), shared by the contract tests."""
    out = {}
    for name in BASELINES:
        for key, layout in LAYOUTS.items():
            out[name, key] = make_baseline(name, layout, TINY[name], seed=0).fit(tiny_data[key][0])
    return out


CASES = [(n, k) for n in BASELINES for k in LAYOUTS]


# ---------------------------------------------------------------------------------------- contract
def test_registry():
    assert set(BASELINES) == {"multilevel-nf", "stg-nf", "mocodad"}
    assert BASELINES["multilevel-nf"] is MultiLevelNF and BASELINES["stg-nf"] is STGNF and BASELINES["mocodad"] is MoCoDAD
    with pytest.raises(KeyError):
        make_baseline("nope", SMPL24)
    with pytest.raises(ValueError, match="unknown"):
        make_baseline("stg-nf", SMPL24, {"not_a_field": 1})


@pytest.mark.parametrize("name,key", CASES)
def test_shapes_and_scores(fitted, tiny_data, name, key):
    det = fitted[name, key]
    train, anomalies = tiny_data[key]
    s = det.decision_function(np.concatenate([train[:3], anomalies]))
    assert s.shape == (9,) and s.dtype == np.float64 and np.isfinite(s).all()
    assert det.fit_seconds_ > 0 and len(det.history_) == TINY[name]["epochs"]
    # A window's score does not depend on what else is in the batch.
    np.testing.assert_allclose(det.decision_function(anomalies[2:4]), s[5:7], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,key", CASES)
def test_deterministic_for_a_seed(fitted, tiny_data, name, key):
    train, anomalies = tiny_data[key]
    layout = LAYOUTS[key]
    before = torch.get_rng_state()
    again = make_baseline(name, layout, TINY[name], seed=0).fit(train).decision_function(anomalies)
    assert torch.equal(torch.get_rng_state(), before), "fit/score must not touch the global RNG"
    np.testing.assert_array_equal(again, fitted[name, key].decision_function(anomalies))
    other = make_baseline(name, layout, TINY[name], seed=1).fit(train).decision_function(anomalies)
    assert not np.allclose(other, again)


@pytest.mark.parametrize("name,key", CASES)
def test_save_load_identical_scores(fitted, tiny_data, tmp_path, name, key):
    det = fitted[name, key]
    _, anomalies = tiny_data[key]
    det.save(tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "weights.safetensors").is_file()
    for loaded in (BASELINES[name].load(tmp_path / "ckpt"), load_baseline(tmp_path / "ckpt")):
        assert type(loaded) is type(det) and loaded.layout == det.layout and loaded.config == det.config
        np.testing.assert_array_equal(loaded.decision_function(anomalies), det.decision_function(anomalies))
    other = next(n for n in BASELINES if n != name)
    with pytest.raises(CheckpointError):
        BASELINES[other].load(tmp_path / "ckpt")


@pytest.mark.parametrize("name", list(BASELINES))
def test_input_validation(fitted, tiny_data, name):
    det = fitted[name, "j20"]
    train, _ = tiny_data["j20"]
    with pytest.raises(ValueError):
        det.decision_function(tiny_data["j24"][0])  # wrong joint count
    with pytest.raises(ValueError):
        det.decision_function(train[:, :50])  # not the fitted window length
    bad = train.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError):
        det.decision_function(bad)
    with pytest.raises(RuntimeError):
        make_baseline(name, KINECT_UTD).decision_function(train)
    with pytest.raises(RuntimeError):
        make_baseline(name, KINECT_UTD).save("unused")


def test_multilevel_streams_and_options(tiny_data):
    train, anomalies = tiny_data["j24"]
    det = MultiLevelNF(SMPL24, {**TINY["multilevel-nf"], "scoring": "knn", "fusion": "zmax"}).fit(train)
    assert list(det.model_.streams) == ["full", "upper", "lower"]
    per = det.stream_scores(anomalies)
    assert set(per) == {"full", "upper", "lower"} and all(v.shape == (6,) for v in per.values())
    assert np.isfinite(det.decision_function(anomalies)).all()
    # A layout without body parts runs on the whole-body stream alone.
    bare = Layout("bare", KINECT_UTD.joint_names, KINECT_UTD.parents, KINECT_UTD.root)
    det = MultiLevelNF(bare, TINY["multilevel-nf"]).fit(tiny_data["j20"][0])
    assert list(det.model_.streams) == ["full"]


def test_mocodad_sliding_segments(tiny_data):
    train, anomalies = tiny_data["j20"]
    cfg = {**TINY["mocodad"], "obs_frames": 10, "pred_frames": 10, "stride": 20, "aggregate": "max"}
    det = MoCoDAD(KINECT_UTD, cfg).fit(train)
    assert det._starts() == [0, 20, 40]
    assert det.decision_function(anomalies).shape == (6,)
    with pytest.raises(ValueError):
        MoCoDAD(KINECT_UTD, {"obs_frames": 40, "pred_frames": 30}).fit(train)


# ------------------------------------------------------------------------------------------ flows
TRIPLE = Layout.generic(["pelvis", "left_hip", "right_hip"], [-1, 0, 0], root=0, name="triple")


def _randomise(flow: torch.nn.Module, seed: int = 0) -> None:
    """Perturb every parameter so that couplings, scales and ActNorm are far from identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))


def _check_flow(flow: torch.nn.Module, shape: tuple) -> None:
    flow.eval()
    x = torch.randn((5,) + shape, generator=torch.Generator().manual_seed(1))
    z, logdet = flow(x)
    assert z.shape == x.shape and logdet.shape == (5,)
    assert torch.allclose(flow.inverse(z), x, atol=1e-4), (flow.inverse(z) - x).abs().max()

    flow64 = flow.double()
    x0 = x[0].double().flatten()
    jac = torch.autograd.functional.jacobian(lambda v: flow64(v.view((1,) + shape))[0].flatten(), x0)
    _, logabs = torch.linalg.slogdet(jac)
    with torch.no_grad():
        _, ld = flow64(x0.view((1,) + shape))
    assert abs(float(ld[0]) - float(logabs)) < 1e-6 * max(1.0, abs(float(logabs))), (float(ld[0]), float(logabs))
    flow.float()


def test_stg_nf_flow_inverts_and_logdet_matches_jacobian():
    """The STG-NF detector's own flow on a (3 channels, T = 4, J = 3) input."""
    data = np.random.default_rng(0).normal(size=(16, 4, 3, 3)).astype(np.float32)
    det = STGNF(TRIPLE, {"steps": 3, "hidden": 4, "t_kernel": 3, "epochs": 1, "batch_size": 8}).fit(data)
    flow = det.model_.flow
    # 3 channels: 1 conditioning, 2 transformed; the net gives a shift and a scale for both.
    coupling = flow.layers[2]
    assert (coupling.c1, coupling.c2, coupling.net.out.out_channels) == (1, 2, 4)
    _randomise(flow)
    _check_flow(flow, (3, 4, 3))


def test_stg_nf_logdet_counts_every_scaled_channel():
    """With x1 fixed, the coupling's log-determinant is the sum of log-scales over both transformed
    channels: scaling the whole input by a constant on the transformed half shows up twice."""
    from haad.baselines.flows import AffineCoupling

    class Const(torch.nn.Module):  # shift 0, raw scale s on every output channel
        def __init__(self, c_out):
            super().__init__()
            self.c_out = c_out

        def forward(self, x):
            return torch.zeros((x.shape[0], self.c_out) + x.shape[2:])

    c = AffineCoupling(3, lambda i, o: Const(o))
    x = torch.randn(2, 3, 4, 3)
    y, ld = c(x)
    scale = torch.sigmoid(torch.tensor(2.0)) + 1e-6
    assert torch.allclose(y[:, 1:], x[:, 1:] * scale)
    assert torch.allclose(ld, torch.full((2,), 2 * 4 * 3 * float(torch.log(scale))))


@pytest.mark.parametrize("channels", [5, 6])
def test_multilevel_flow_inverts_and_logdet_matches_jacobian(channels):
    adj = torch.from_numpy(normalized_adjacency(TRIPLE.adjacency(self_loops=False)))
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    flow = GlowFlow(channels, 3, lambda i, o: GraphCouplingNet(i, o, adj, 6, 2), permutation="shuffle", generator=g)
    flow.train()
    flow(torch.randn(8, channels, 3))  # ActNorm's data-dependent initialisation
    _randomise(flow)
    _check_flow(flow, (channels, 3))


def test_normalized_adjacency():
    a = normalized_adjacency(KINECT_UTD.adjacency(self_loops=False), max_hop=1)
    assert np.allclose(a, a.T) and (np.diag(a) > 0).all()
    dense = normalized_adjacency(KINECT_UTD.adjacency(self_loops=False), max_hop=50)
    assert np.allclose(dense, 1.0 / KINECT_UTD.num_joints)


# ---------------------------------------------------------------------------------------- quality
@pytest.mark.parametrize("name", list(BASELINES))
def test_quality_floor(name):
    """Normal = arms swinging; anomalies = legs swinging, arms swinging sideways, arms twice as fast."""
    cfg, floor = QUALITY[name]
    layout = KINECT_UTD
    train = motions(layout, 40, "arms", 0)
    test = np.concatenate([
        motions(layout, 20, "arms", 1), motions(layout, 7, "legs", 2),
        motions(layout, 7, "arms_side", 3), motions(layout, 6, "arms_fast", 4),
    ])
    labels = np.r_[np.zeros(20), np.ones(20)]
    scores = make_baseline(name, layout, cfg, seed=0).fit(train).decision_function(test)
    auc = roc_auc_score(labels, scores)
    assert auc >= floor, f"{name}: AUC {auc:.3f} below the floor {floor}"
