"""The DCT diffusion generator: denoiser size, schedule, completion (Eq. 4), training, resume, quality."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from haad.checkpoint import load_checkpoint
from haad.dct import dct, idct
from haad.diffusion_schedule import cosine_betas
from haad.generator import (
    PRESETS, Diffusion, Generator, GeneratorTrainConfig, NoisePredictor, ddim_timesteps, load_generator,
    make_config, train_generator,
)
from haad.generator.train import augment, normalization_stats
from haad.skeleton import Layout

torch.set_num_threads(1)


# --- data -------------------------------------------------------------------------------------------
_TOY_NAMES = ("pelvis", "spine", "head", "left_shoulder", "left_hand", "right_shoulder", "right_hand",
              "left_hip", "left_foot", "right_hip", "right_foot")
_TOY_PARENTS = (-1, 0, 1, 1, 3, 1, 5, 0, 7, 0, 9)
_TOY_OFFSETS = np.array([[0, 0, 0], [0, .5, 0], [0, .25, 0], [.2, 0, 0], [.55, 0, 0], [-.2, 0, 0],
                         [-.55, 0, 0], [.1, 0, 0], [0, -.85, 0], [-.1, 0, 0], [0, -.85, 0]])


def _toy_data(n: int, seed: int = 0):
    """Fallback data: forward kinematics of an 11-joint stick figure, a few smooth periodic 'actions'."""
    layout = Layout.generic(_TOY_NAMES, _TOY_PARENTS, root=0, name="toy11")
    rng = np.random.default_rng(seed)
    j = len(_TOY_NAMES)
    t = np.arange(60) / 30.0
    actions = [rng.uniform(0, 0.8, (j, 3)) * (rng.random((j, 3)) < 0.25) for _ in range(4)]
    out = np.empty((n, 60, j, 3), np.float32)
    for w in range(n):
        amp = actions[w % 4] * rng.uniform(0.8, 1.2)
        ang = amp * np.sin(2 * np.pi * rng.uniform(0.5, 1.0) * t[:, None, None] + rng.uniform(0, 2 * np.pi))
        c, s = np.cos(ang), np.sin(ang)
        pos = np.zeros((60, j, 3))
        rot = np.zeros((60, j, 3, 3))
        for i, p in enumerate(_TOY_PARENTS):
            rx = np.zeros((60, 3, 3)); rx[:, 0, 0] = 1
            rx[:, 1, 1] = c[:, i, 0]; rx[:, 2, 2] = c[:, i, 0]; rx[:, 1, 2] = -s[:, i, 0]; rx[:, 2, 1] = s[:, i, 0]
            rz = np.zeros((60, 3, 3)); rz[:, 2, 2] = 1
            rz[:, 0, 0] = c[:, i, 2]; rz[:, 1, 1] = c[:, i, 2]; rz[:, 0, 1] = -s[:, i, 2]; rz[:, 1, 0] = s[:, i, 2]
            local = rz @ rx
            if p < 0:
                rot[:, i] = local
            else:
                rot[:, i] = rot[:, p] @ local
                pos[:, i] = pos[:, p] + np.einsum("tab,b->ta", rot[:, p], _TOY_OFFSETS[i])
        out[w] = pos - pos[0, 0]
    return out, layout


@pytest.fixture(scope="module")
def data():
    """(windows, layout): the project's synthetic motions (a few near-stationary actions, no sensor
    noise, so that bone lengths are exact), or the fallback stick figure if synthesis is unavailable."""
    try:
        from haad.data.synthetic import synthesize
        from haad.data.windows import make_windows

        col = synthesize(clips_per_class=40, seed=0, noise_std=0.0, actions=("wave", "clap", "punch", "squat", "bow"))
        return make_windows(col.clips, col.layout.root), col.layout
    except (ImportError, TypeError, ValueError):
        return _toy_data(200)


def _bones(x: np.ndarray, layout: Layout) -> np.ndarray:
    e = np.array(layout.edges)
    return np.linalg.norm(x[..., e[:, 0], :] - x[..., e[:, 1], :], axis=-1)


def _band_limited_observation(x: np.ndarray, n_obs: int, n_coef: int = 20) -> np.ndarray:
    pad = np.concatenate([x[:, :n_obs], np.repeat(x[:, n_obs - 1:n_obs], x.shape[1] - n_obs, axis=1)], axis=1)
    return idct(dct(pad, n_coef), x.shape[1])


TINY = dict(width=96, depth=2, heads=4, ff=192, dropout=0.0)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """A tiny generator after a short training (a few hundred iterations)."""
    windows, layout = data
    cfg = GeneratorTrainConfig(
        preset="cpu", denoiser=TINY, iterations=400, batch_size=32, lr=2e-3, lr_schedule="cosine",
        ema_start=10**9, high_t_frac=0.6, rotate=False, checkpoint_every=200, log_every=50, seed=0,
    )
    out = train_generator(windows, layout, cfg, tmp_path_factory.mktemp("gen"), progress=False)
    return out, Generator.load(out)


# --- denoiser -----------------------------------------------------------------------------------------
def test_paper_preset_parameter_count():
    n = NoisePredictor(make_config("paper", 24)).num_parameters()
    # 28.67 M from the reference model's shapes (q/k/v without bias, zero-init output layers).
    assert abs(n - 28.67e6) / 28.67e6 < 0.01, n
    assert NoisePredictor(make_config("cpu", 24)).num_parameters() < 2e6
    assert set(PRESETS) >= {"paper", "cpu"}


def test_denoiser_shapes_and_zero_init():
    cfg = make_config("cpu", 5, width=32, depth=3, heads=2, ff=64)
    model = NoisePredictor(cfg)
    x = torch.randn(4, 20, 5, 3)
    t = torch.randint(0, 1000, (4,))
    out = model(x, t, torch.randn(4, 20, 5, 3))
    assert out.shape == x.shape
    assert torch.all(out == 0)  # zero-initialised output: an untrained model predicts no noise
    assert model(x.reshape(4, 20, 15), t, torch.randn(4, 300)).shape == (4, 20, 15)
    assert model(x, t, None).shape == x.shape
    loss = Diffusion(num_joints=5).loss(model, x, torch.randn_like(x))
    loss.backward()
    assert model.out.weight.grad is not None and model.out.weight.grad.abs().sum() > 0


# --- schedule ---------------------------------------------------------------------------------------
def test_cosine_schedule_and_ddim_grid():
    betas = cosine_betas()
    assert len(betas) == 1000 and betas.max() <= 0.999 and betas.min() > 0
    ab = Diffusion().alphas_cumprod.double().numpy()
    assert np.all(np.diff(ab) < 0) and 0 < ab[-1] < ab[0] < 1
    for i, v in [(0, 0.99996), (101, 0.971), (501, 0.491), (901, 0.0231), (991, 1.55e-4)]:
        assert ab[i] == pytest.approx(v, rel=0.01)
    seq, prev = ddim_timesteps(100)
    assert np.array_equal(seq, 1 + 10 * np.arange(100))
    assert np.array_equal(prev, np.concatenate([[0], seq[:-1]]))
    for steps in (50, 20, 10):
        seq, prev = ddim_timesteps(steps)
        assert len(seq) == steps and seq[0] == 1 and seq[-1] == 991 and np.all(np.diff(seq) > 0)
        assert prev[0] == 0 and np.array_equal(prev[1:], seq[:-1])


def test_q_sample_and_loss():
    d = Diffusion(num_joints=2)
    x0 = torch.randn(3, 20, 2, 3)
    noise = torch.randn_like(x0)
    t = torch.tensor([1, 500, 999])
    xt = d.q_sample(x0, t, noise)
    ab = d.alphas_cumprod[t].view(-1, 1, 1, 1)
    assert torch.allclose(xt, ab.sqrt() * x0 + (1 - ab).sqrt() * noise)

    def oracle(x, tt, cond):
        a = d.alphas_cumprod[tt].view(-1, 1, 1, 1)
        return (x - a.sqrt() * x0) / (1 - a).sqrt()

    assert float(d.loss(oracle, x0, None, t=t, noise=noise)) < 1e-6
    assert float(d.loss(lambda x, tt, c: torch.zeros_like(x), x0, None, t=t, noise=noise)) == pytest.approx(
        float(noise.pow(2).mean()))


# --- representation and completion --------------------------------------------------------------------
@pytest.mark.parametrize("transform", ["none", "root", "parent"])
def test_encode_decode_roundtrip(data, transform):
    windows, layout = data
    x = torch.tensor(windows[:4])
    rng = np.random.default_rng(0)
    d = Diffusion(num_joints=layout.num_joints, transform=transform, parents=layout.parents, root=layout.root,
                  mean=rng.normal(size=(layout.num_joints, 3)), scale=rng.uniform(0.1, 1, (layout.num_joints, 3)))
    assert torch.allclose(d.decode(d.encode(x)), torch.tensor(idct(dct(windows[:4], 20), 60)), atol=1e-5)
    pad = d.pad_observation(x, 30)
    assert torch.equal(pad[:, :30], x[:, :30]) and torch.equal(pad[:, 45], x[:, 29])
    per = d.pad_observation(x, torch.tensor([10, 20, 30, 59]))
    assert torch.equal(per[1, :20], x[1, :20]) and torch.equal(per[1, 20:], x[1, 19:20].expand(40, -1, -1))


def _parent_diffusion(layout) -> Diffusion:
    return Diffusion(num_joints=layout.num_joints, transform="parent", parents=layout.parents, root=layout.root,
                     mean=np.zeros((layout.num_joints, 3)), scale=0.1)


def _oracle(d: Diffusion, x0: torch.Tensor):
    """A denoiser that predicts exactly the noise separating x_t from the given clean ``x0``."""
    def predict(xt, t, cond):
        a = d.alphas_cumprod[t].view(-1, 1, 1, 1)
        return (xt - a.sqrt() * x0) / (1 - a).sqrt()
    return predict


def test_completion_with_oracle_denoiser(data):
    """With a denoiser that knows x0, Eq. 4 returns the band-limited window (only the tiny final noise)."""
    windows, layout = data
    x = torch.tensor(windows[:2])
    d = _parent_diffusion(layout)
    oracle = _oracle(d, d.encode(x))

    target = torch.tensor(idct(dct(windows[:2], 20), 60))
    for steps in (100, 10):
        y = d.complete(oracle, x, n_obs=30, steps=steps, generator=torch.Generator().manual_seed(0))
        assert y.shape == x.shape
        assert (y - target).abs().max() < 0.01


def test_augmentation_is_rigid(data):
    windows, layout = data
    x = torch.tensor(windows[:8])
    perm = torch.tensor(layout.mirror_permutation())
    g = torch.Generator().manual_seed(0)
    both = GeneratorTrainConfig(rotate_prob=1.0, mirror_prob=1.0)
    y = augment(x, both, perm, g)
    assert np.allclose(_bones(y.numpy(), layout), _bones(x.numpy(), layout), atol=1e-5)
    assert torch.allclose(y[..., 1], x[:, :, perm][..., 1])  # vertical axis untouched
    mirror = GeneratorTrainConfig(rotate=False, mirror_prob=1.0)
    assert torch.allclose(augment(augment(x, mirror, perm, g), mirror, perm, g), x)
    left = torch.tensor(layout.left)
    m = augment(x, mirror, perm, g)
    assert torch.allclose(m[:, :, left, 0], -x[:, :, torch.tensor(layout.right), 0])


@pytest.mark.parametrize("norm,augmented", [("feature", False), ("global", False), ("feature", True)])
def test_normalization_stats_match_the_direct_computation(data, norm, augmented):
    # The one-pass sums must give what centring the features of all (augmented) copies at once and
    # taking the DCT coefficients' mean square directly gives. Augmented: 4 rotated/mirrored copies,
    # drawn from the same generator sequence as normalization_stats draws them.
    windows, layout = data
    x = torch.tensor(windows[:50], dtype=torch.float64)
    cfg = GeneratorTrainConfig(rotate=augmented, mirror=augmented, norm=norm, norm_samples=200)
    perm = torch.from_numpy(layout.mirror_permutation()).long() if augmented else None
    stats = normalization_stats(x.float(), cfg, perm, layout, 60, 20)
    if augmented:
        g = torch.Generator().manual_seed(cfg.seed + 2)
        x = torch.cat([augment(x, cfg, perm, g) for _ in range(4)])
    plain = Diffusion(length=60, n_coef=20, num_joints=layout.num_joints, transform=cfg.transform,
                      parents=list(layout.parents), root=layout.root)
    feats = plain.features(x)
    mean = feats.mean(dim=(0, 1))
    msq = plain.to_dct(feats - mean).pow(2)
    want = msq.mean().sqrt().expand(layout.num_joints, 3) if norm == "global" else msq.mean(dim=(0, 1)).sqrt()
    if norm == "feature":
        want = want.clamp_min(0.01 * float(np.median(want.numpy())))  # numpy: the mean of the middle two
    assert torch.allclose(stats.mean.double(), mean, atol=1e-6)
    assert torch.allclose(stats.scale.double(), want, rtol=1e-5)


# --- the trained generator ------------------------------------------------------------------------------
@pytest.mark.slow
def test_checkpoint_contents(trained, data):
    out, gen = trained
    windows, layout = data
    tensors, header = load_checkpoint(out, kind="generator")
    assert header["meta"]["iteration"] == 400 and header["meta"]["finished"]
    assert [h[0] for h in header["meta"]["loss_history"]] == list(range(50, 401, 50))
    assert header["meta"]["loss_history"][-1][1] < header["meta"]["loss_history"][0][1]
    assert Layout.from_dict(header["config"]["layout"]) == layout
    assert gen.layout == layout
    assert {"norm.mean", "norm.scale", "state.iteration"} <= set(tensors)
    assert any(k.startswith("ema.") for k in tensors) and any(k.startswith("optim.") for k in tensors)
    assert gen.diffusion.scale.shape == (layout.num_joints, 3) and len(gen.digest) == 16
    model, diffusion, meta = load_generator(out)
    assert not model.training and meta["ema_digest"] == gen.digest


@pytest.mark.slow
def test_generated_windows(trained, data):
    _, gen = trained
    windows, layout = data
    x = windows[:: max(1, len(windows) // 12)][:12]
    y = gen.generate(x, n_variants=2, n_obs=30, steps=50, seed=0)
    assert y.shape == (len(x), 2, 60, layout.num_joints, 3) and y.dtype == np.float32 and np.isfinite(y).all()

    # Observed frames: the band-limited observation (exactly, up to leakage of the truncated basis
    # across the boundary; far from the boundary that leakage is small).
    err = np.linalg.norm(y - _band_limited_observation(x, 30)[:, None], axis=-1)[:, :, :30]
    assert err[:, :, :25].max() < 0.03, err[:, :, :25].max()
    assert err.mean() < 0.01, err.mean()

    # No jump at the boundary beyond the data's own frame-to-frame motion.
    motion = np.percentile(np.linalg.norm(np.diff(windows, axis=1), axis=-1), 99)
    jump = np.linalg.norm(y[:, :, 30] - y[:, :, 29], axis=-1)
    assert np.percentile(jump, 99) < 3 * motion, (np.percentile(jump, 99), motion)

    # Bone lengths of the generated frames stay close to the input's.
    ref = _bones(x, layout).mean(axis=1)[:, None, None]
    rel = np.abs(_bones(y[:, :, 30:], layout) - ref).mean() / ref.mean()
    assert rel < 0.3, rel


@pytest.mark.slow
def test_seeds_and_batching(trained, data):
    _, gen = trained
    windows, _ = data
    x = windows[:5]
    a = gen.generate(x, n_variants=2, steps=10, seed=1)
    assert np.array_equal(a, gen.generate(x, n_variants=2, steps=10, seed=1))
    b = gen.generate(x, n_variants=2, steps=10, seed=2)
    assert np.abs(a[:, :, 30:] - b[:, :, 30:]).mean() > 1e-3  # different futures
    assert np.abs(a[:, 0, 30:] - a[:, 1, 30:]).mean() > 1e-3  # variants differ
    assert np.abs(a[:, :, :20] - b[:, :, :20]).mean() < np.abs(a[:, :, 30:] - b[:, :, 30:]).mean()
    # A window's variants do not depend on the batch it is generated in.
    c = gen.generate(x[:2], n_variants=2, steps=10, seed=1, batch_size=3)
    assert np.allclose(c, a[:2], atol=1e-4)


@pytest.mark.slow
def test_support_variants_join_a_detector_and_are_recorded(trained, data, tmp_path):
    """haad detect --generator: variants of the user's support clips, checked against the detector."""
    from haad.detector import DCTEmbedder, FewShotDetector
    from haad.generator.bank import GenerationSettings
    from haad.storage import file_digest
    from haad.generator.support import support_variants

    out, gen = trained
    windows, layout = data
    support = list(windows[:3])
    det = FewShotDetector(DCTEmbedder(), layout)
    settings = GenerationSettings(n_variants=2, n_obs=30, steps=5)
    v, prov = support_variants(out, det, support, settings, seed=1)
    assert v.shape == (3, 2, 60, layout.num_joints, 3)
    # the detector windows the clips first: same variants as generating from its windows directly
    assert np.array_equal(v, gen.generate(det.windows(support), n_variants=2, n_obs=30, steps=5, seed=1))
    assert prov["generator_sha256"] == file_digest(out / "weights.safetensors")
    assert prov["settings"] == {"n_variants": 2, "n_obs": 30, "steps": 5} and prov["seed"] == 1
    det.fit(support, augment=v)
    det.provenance = prov
    assert len(det.support_embeddings_) == 3 + 6
    det.save(tmp_path / "det")
    assert FewShotDetector.load(tmp_path / "det").provenance == prov

    with pytest.warns(UserWarning, match="observed lengths"):
        support_variants(out, det, support[:1], GenerationSettings(n_obs=10, steps=2))
    with pytest.raises(ValueError, match="n_obs .* must be in 1..59"):
        support_variants(out, det, support, GenerationSettings(n_obs=60, steps=2))
    other = Layout.generic(["a", "b", "c"], [-1, 0, 1], root=0, name="three")
    with pytest.raises(ValueError, match=f"{out}.*'three'"):
        support_variants(out, FewShotDetector(DCTEmbedder(), other), [np.zeros((60, 3, 3))])


# --- training loop ---------------------------------------------------------------------------------
def test_resume_equals_uninterrupted_run(data, tmp_path):
    windows, layout = data
    w = windows[:40]
    kw = dict(preset="cpu", denoiser=dict(width=32, depth=2, heads=2, ff=64, dropout=0.1), batch_size=8,
              ema_start=3, log_every=4, checkpoint_every=6, norm_samples=100, seed=3)
    full = train_generator(w, layout, GeneratorTrainConfig(iterations=12, **kw), tmp_path / "a", progress=False)
    part = train_generator(w, layout, GeneratorTrainConfig(iterations=6, **kw), tmp_path / "b", progress=False)
    assert load_checkpoint(part)[1]["meta"]["iteration"] == 6
    train_generator(w, layout, GeneratorTrainConfig(iterations=12, **kw), part, progress=False)
    ta, ha = load_checkpoint(full)
    tb, hb = load_checkpoint(part)
    assert set(ta) == set(tb)
    for k in ta:
        if k != "state.elapsed":
            assert torch.equal(ta[k], tb[k]), k
    assert ha["meta"]["loss_history"] == hb["meta"]["loss_history"]
    assert [h[0] for h in hb["meta"]["loss_history"]] == [4, 8, 12]
    assert [h[0] for h in load_checkpoint(tmp_path / "a")[1]["meta"]["loss_history"]] == [4, 8, 12]
    # Already finished: nothing to do. Different settings: refuse to resume.
    train_generator(w, layout, GeneratorTrainConfig(iterations=12, **kw), part, progress=False)
    assert torch.equal(load_checkpoint(part)[0]["ema.out.weight"], tb["ema.out.weight"])
    with pytest.raises(ValueError, match="lr"):
        train_generator(w, layout, GeneratorTrainConfig(iterations=14, lr=1e-3, **kw), part, progress=False)
    with pytest.raises(ValueError, match="windows differ"):
        train_generator(windows[:41], layout, GeneratorTrainConfig(iterations=14, **kw), part, progress=False)


def test_train_rejects_mismatched_layout(data, tmp_path):
    windows, _ = data
    other = Layout.generic(["a", "b"], [-1, 0], root=0)
    with pytest.raises(ValueError, match="joints"):
        train_generator(windows[:4], other, GeneratorTrainConfig(iterations=1), tmp_path, progress=False)


def test_completion_keeps_observation_and_takes_future_from_the_model(data):
    """Eq. 4's mask: with a denoiser that pulls towards *another* window, the observed frames still
    follow the observation and only the generated frames follow the denoiser."""
    windows, layout = data
    x = torch.tensor(windows[:2])
    other = torch.tensor(windows[2:4])
    d = _parent_diffusion(layout)
    oracle = _oracle(d, d.encode(other))

    y = d.complete(oracle, x, n_obs=30, steps=20, generator=torch.Generator().manual_seed(0))
    own = torch.tensor(idct(dct(windows[:2], 20), 60))
    err_obs = (y[:, :25] - own[:, :25]).abs().max()
    gap = (x[:, :25] - other[:, :25]).abs().max()
    assert gap > 0.1  # the two windows really differ
    assert err_obs < 0.2 * gap
    # without the mask the result would be the other window everywhere
    plain = torch.tensor(idct(dct(windows[2:4], 20), 60))
    assert (y[:, :25] - plain[:, :25]).abs().max() > 0.5 * gap
