"""Pieces shared by the diffusion models (the motion generator and the MoCoDAD baseline).

* :func:`cosine_betas` -- the cosine noise schedule of Nichol & Dhariwal (2021).
* :func:`timestep_embedding` -- the sinusoidal embedding of diffusion steps fed to a denoiser.

Kept outside :mod:`haad.generator` so that a baseline does not depend on the generator package.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

NOISE_STEPS = 1000
COSINE_S = 0.008
MAX_BETA = 0.999


def cosine_betas(steps: int = NOISE_STEPS, s: float = COSINE_S, max_beta: float = MAX_BETA) -> np.ndarray:
    """Cosine schedule: beta_i = min(1 - f(i + 1) / f(i), max_beta), i = 0..steps-1, with
    f(u) = cos((u / steps + s) / (1 + s) * pi / 2)^2. Returns (steps,) float64."""
    def f(u):
        return math.cos((u / steps + s) / (1 + s) * math.pi / 2) ** 2

    return np.array([min(1.0 - f(i + 1) / f(i), max_beta) for i in range(steps)], dtype=np.float64)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of (B,) timesteps, (B, dim) float32.

    ``[cos(t f_i), sin(t f_i)]`` with ``f_i = max_period^(-i / half)``, ``half = dim // 2``; an odd
    ``dim`` gets one trailing zero column.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / max(half, 1))
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return F.pad(emb, (0, dim - emb.shape[1])) if emb.shape[1] < dim else emb
