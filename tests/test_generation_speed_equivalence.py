"""The fast generation path computes the reference path's variants, from the same random draws.

``Diffusion.complete`` (all steps' noise drawn before the loop, the completion as one coefficient-space
product per step, the denoiser as a ``SamplingDenoiser``) against ``Diffusion.complete_reference``
(Eq. 4 frame by frame with the module's own forward). Weights are random and the zero-initialised
output layers are filled, so that every part of the denoiser counts. Such a denoiser makes samples of
up to a few hundred metres; agreement is asked within ``TOL`` of the largest coordinate (float32's
epsilon is 1.2e-7; the observed worst is about 5e-7).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from haad.generator.denoiser import NoisePredictor, SamplingDenoiser, make_config
from haad.generator.diffusion import Diffusion
from haad.generator.sample import Generator, _item_generator

torch.set_num_threads(1)

J = 11
PARENTS = (-1, 0, 1, 1, 3, 1, 5, 0, 7, 0, 9)
TOL = 2e-6
SMALL = {"width": 64, "depth": 3, "heads": 4, "ff": 96, "dropout": 0.1}  # odd depth: one block without a skip


def _model(seed: int = 0, **cfg) -> NoisePredictor:
    torch.manual_seed(seed)
    model = NoisePredictor(make_config("cpu", J, **(cfg or SMALL)))
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():  # zero-initialised projections
                p.normal_(0, 0.05)
    return model.eval()


def _diffusion() -> Diffusion:
    rng = np.random.default_rng(1)
    return Diffusion(num_joints=J, transform="parent", parents=PARENTS, mean=rng.normal(0, 0.05, (J, 3)),
                     scale=rng.uniform(0.05, 0.3, (J, 3)))


def _close(got, want) -> bool:
    got, want = np.asarray(got), np.asarray(want)
    return float(np.abs(got - want).max()) <= TOL * float(np.abs(want).max())


def _windows(n: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(0, 0.01, (n, 60, J, 3)), axis=1) + rng.normal(0, 0.3, (n, 1, J, 3))
    return (walk - walk[:, :1, :1]).astype(np.float32)


@pytest.mark.parametrize("onednn", [True, False])
@pytest.mark.parametrize("condition", [True, False])
def test_sampling_denoiser_equals_the_module(onednn, condition):
    model = _model()
    fast = SamplingDenoiser(model)
    if not onednn:
        fast.onednn = False  # the F.linear path (GPUs, torch builds without oneDNN)
    x = torch.randn(6, 20, J, 3)
    cond = torch.randn(6, 20, J, 3) if condition else None
    with torch.no_grad():
        for t in (1, 477, 991):
            want = model(x, torch.full((6,), t), cond)
            got = fast(x.reshape(6, 20, 3 * J), t, fast.project(cond)).view_as(want)
            assert (got - want).abs().max() <= 1e-5 * want.abs().max(), (t, (got - want).abs().max())


def test_sampling_denoiser_refuses_training_mode():
    with pytest.raises(ValueError, match="eval mode"):
        SamplingDenoiser(_model().train())


def test_noise_is_drawn_as_the_reference_draws_it():
    d = _diffusion()
    shape = (3, 20, J, 3)
    gens = [_item_generator(5, i, 0) for i in range(3)]
    want = torch.stack([d._randn(shape, gens, "cpu") for _ in range(4)], dim=1)
    assert torch.equal(d._noise(shape, 4, [_item_generator(5, i, 0) for i in range(3)], "cpu"), want)
    g = torch.Generator().manual_seed(7)
    want = torch.stack([d._randn(shape, g, "cpu") for _ in range(4)], dim=1)
    assert torch.equal(d._noise(shape, 4, torch.Generator().manual_seed(7), "cpu"), want)


def test_completion_matrices_are_the_frame_mask():
    d = _diffusion()
    p, q = d.completion_matrices(30)
    a, x = torch.randn(4, 20, J, 3, dtype=torch.float64), torch.randn(4, 20, J, 3, dtype=torch.float64)
    mask = (torch.arange(60) < 30).double()[:, None, None]
    dd = Diffusion(num_joints=J)
    dd.dct_mat = d.dct_mat.double()
    want = dd.to_dct(mask * dd.from_dct(a) + (1 - mask) * dd.from_dct(x))
    got = torch.einsum("ij,bjkc->bikc", p, a) + torch.einsum("ij,bjkc->bikc", q, x)
    assert torch.allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("condition", [True, False])
def test_complete_equals_the_reference(condition):
    d, model = _diffusion(), _model()
    x = torch.from_numpy(_windows(5))

    def gens():
        return [_item_generator(3, i, 0) for i in range(5)]

    for n_obs, steps in ((30, 10), (12, 3)):
        want = d.complete_reference(model, x, n_obs, steps, gens(), condition)
        got = d.complete(model, x, n_obs, steps, gens(), condition)
        assert _close(got, want), (n_obs, steps, (got - want).abs().max(), want.abs().max())
        # one generator for the whole batch, and a plain callable as the denoiser
        want = d.complete_reference(model, x, n_obs, steps, torch.Generator().manual_seed(1), condition)
        got = d.complete(lambda *a: model(*a), x, n_obs, steps, torch.Generator().manual_seed(1), condition)
        assert _close(got, want), (n_obs, steps, (got - want).abs().max(), want.abs().max())


def test_generate_equals_the_reference_and_keeps_its_seeding():
    """Generator.generate: the same variants as the reference path, for any batching."""
    gen = Generator(_model(), _diffusion(), batch_size=4)
    w = _windows(3)
    want = gen.generate(w, n_variants=3, n_obs=30, steps=8, seed=4, reference=True)
    got = gen.generate(w, n_variants=3, n_obs=30, steps=8, seed=4)
    assert got.shape == want.shape == (3, 3, 60, J, 3) and got.dtype == np.float32
    assert _close(got, want), (np.abs(got - want).max(), np.abs(want).max())
    assert np.array_equal(got, gen.generate(w, n_variants=3, n_obs=30, steps=8, seed=4))
    assert _close(gen.generate(w, n_variants=3, n_obs=30, steps=8, seed=4, batch_size=9), want)
    assert np.abs(got[:, :, 30:] - gen.generate(w, n_variants=3, n_obs=30, steps=8, seed=5)[:, :, 30:]).mean() > 1e-3


@pytest.mark.parametrize("onednn", [True, False])
def test_bfloat16_sampling_denoiser_stays_near_the_module(onednn):
    """bfloat16 is another function, not float32's up to rounding: within 2% of the prediction's largest
    value (measured 0.4-0.7% with these weights), float32 in and out."""
    model = _model()
    fast = SamplingDenoiser(model, torch.bfloat16)
    if not onednn:
        fast.onednn = False
    x, cond = torch.randn(6, 20, J, 3), torch.randn(6, 20, J, 3)
    with torch.no_grad():
        for t in (1, 477, 991):
            want = model(x, torch.full((6,), t), cond)
            got = fast(x.reshape(6, 20, 3 * J), t, fast.project(cond)).view_as(want)
            assert got.dtype == torch.float32
            err = (got - want).abs().max() / want.abs().max()
            assert 1e-4 < err <= 0.02, (t, err)  # not float32's function, but close to it
    with pytest.raises(ValueError, match="float32 or bfloat16"):
        SamplingDenoiser(model, torch.float16)


def test_generate_in_bfloat16():
    gen = Generator(_model(), _diffusion(), batch_size=4)
    w = _windows(3)
    want = gen.generate(w, n_variants=3, n_obs=30, steps=8, seed=4)
    got = gen.generate(w, n_variants=3, n_obs=30, steps=8, seed=4, precision="bfloat16")
    assert got.dtype == np.float32 and got.shape == want.shape
    err = np.abs(got - want).max() / np.abs(want).max()
    assert 1e-5 < err <= 0.02, err  # measured 0.004
    assert np.array_equal(got, gen.generate(w, n_variants=3, n_obs=30, steps=8, seed=4, precision="bfloat16"))
    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16"):
        gen.generate(w, steps=2, precision="float16")
    with pytest.raises(ValueError, match="needs a NoisePredictor in eval mode"):
        _diffusion().complete(lambda *a: gen.model(*a), torch.from_numpy(w), 30, 2, precision="bfloat16")


def test_generation_settings_record_precision_only_when_not_float32():
    from haad.evaluation.augmentation import AugmentConfig
    from haad.generator.bank import GenerationSettings

    assert GenerationSettings().to_dict() == {"n_variants": 1, "n_obs": 30, "steps": 20}  # banks made before match
    assert GenerationSettings(precision="bfloat16").to_dict()["precision"] == "bfloat16"
    with pytest.raises(ValueError, match="precision must be one of"):
        GenerationSettings(precision="half")
    assert "precision" not in AugmentConfig().to_dict()
    assert AugmentConfig(precision="bfloat16").to_dict()["precision"] == "bfloat16"
    with pytest.raises(ValueError, match="precision must be one of"):
        AugmentConfig(precision="fp8")
