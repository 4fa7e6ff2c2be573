import numpy as np
import torch

from haad.dct import dct, dct_matrix_np, idct


def test_dct_is_orthonormal_and_matches_formula():
    d = dct_matrix_np(60)
    assert np.allclose(d @ d.T, np.eye(60), atol=1e-12)
    # spot-check the definition D[k, i] = w_k cos(pi (i + 1/2) k / H)
    assert np.isclose(d[0, 5], np.sqrt(1 / 60))
    assert np.isclose(d[3, 7], np.sqrt(2 / 60) * np.cos(np.pi * 7.5 * 3 / 60))


def test_inverse_and_truncation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 60, 5, 3))
    assert np.allclose(idct(dct(x, 60), 60), x, atol=1e-10)
    # a signal made of the first 10 bases survives truncation to 10 exactly
    coef = rng.normal(size=(10, 5, 3))
    smooth = idct(coef, 60)
    assert np.allclose(dct(smooth, 10), coef, atol=1e-10)
    assert np.allclose(idct(dct(smooth, 10), 60), smooth, atol=1e-10)


def test_torch_and_numpy_agree():
    x = np.random.default_rng(1).normal(size=(3, 60, 4, 3)).astype(np.float32)
    a = dct(x, 10)
    b = dct(torch.from_numpy(x), 10).numpy()
    assert np.allclose(a, b, atol=1e-5)
