"""Orthonormal DCT-II basis along time, shared by the encoder, the generator and the baselines."""

from __future__ import annotations

import functools

import numpy as np
import torch


@functools.lru_cache(maxsize=32)
def dct_matrix_np(length: int) -> np.ndarray:
    """Orthonormal DCT-II matrix D (length x length): D[k, i] = w_k cos(pi (i + 1/2) k / length).

    w_0 = sqrt(1/length), w_k = sqrt(2/length). Rows are bases; the inverse is the transpose.
    """
    i = np.arange(length)[None, :]
    k = np.arange(length)[:, None]
    d = np.cos(np.pi * (i + 0.5) * k / length) * np.sqrt(2.0 / length)
    d[0] *= np.sqrt(0.5)
    d.setflags(write=False)
    return d


def dct_matrix(length: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """The DCT-II matrix as a tensor (a fresh copy)."""
    return torch.tensor(dct_matrix_np(length), dtype=dtype, device=device)


def dct(x, n_coef: int):
    """First ``n_coef`` DCT coefficients along axis -3 of (..., T, J, C) motion (numpy or torch).

    Returns (..., n_coef, J, C).
    """
    t = x.shape[-3]
    if not 1 <= n_coef <= t:
        raise ValueError(f"n_coef must be in 1..{t}, got {n_coef}")
    if isinstance(x, torch.Tensor):
        d = dct_matrix(t, dtype=x.dtype, device=x.device)[:n_coef]
        return torch.einsum("kt,...tjc->...kjc", d, x)
    d = dct_matrix_np(t)[:n_coef].astype(x.dtype, copy=False)
    return np.einsum("kt,...tjc->...kjc", d, x)


def idct(coef, length: int):
    """Truncated inverse: (..., M, J, C) coefficients back to (..., length, J, C) frames."""
    m = coef.shape[-3]
    if isinstance(coef, torch.Tensor):
        d = dct_matrix(length, dtype=coef.dtype, device=coef.device)[:m]
        return torch.einsum("kt,...kjc->...tjc", d, coef)
    d = dct_matrix_np(length)[:m].astype(coef.dtype, copy=False)
    return np.einsum("kt,...kjc->...tjc", d, coef)
