"""Normalising-flow pieces shared by the flow baselines (MultiLevel-NF and STG-NF).

Tensors are channel-first: ``(B, C, *spatial)`` -- ``(B, C, T, V)`` for STG-NF, ``(B, C, V)`` for
MultiLevel-NF. Every layer maps ``x -> (y, logdet)`` where ``logdet`` is ``log|det dy/dx|`` per sample
(shape ``(B,)``), and has an exact ``inverse``.

A Glow-style step is ActNorm -> fixed channel permutation -> affine coupling. The coupling splits the
channels into ``c1 = C // 2`` conditioning channels and ``c2 = C - c1`` transformed channels; its
network must output ``2 * c2`` channels (a shift and a scale for *every* transformed channel). With
C = 3 this is the fix for the pitfall in STG-NF's reference code, where the cross-split of a
``2 * c1``-channel output gives a one-channel scale that silently broadcasts over two channels and
the log-determinant then counts only one of them.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import nn

LOG_2PI = math.log(2.0 * math.pi)


def normalized_adjacency(adjacency: np.ndarray, max_hop: int = 1) -> np.ndarray:
    """Symmetrically normalised k-hop adjacency ``D^-1/2 A_k D^-1/2``.

    ``A_k[i, j] = 1`` when joints i and j are at most ``max_hop`` bones apart (self loops included),
    computed from a 0/1 adjacency such as :meth:`haad.skeleton.Layout.adjacency`.
    """
    a = np.asarray(adjacency, dtype=np.float64)
    j = a.shape[0]
    step = ((a + np.eye(j)) > 0).astype(np.float64)
    reach = np.eye(j)
    for _ in range(max(1, int(max_hop))):
        reach = ((reach @ step) > 0).astype(np.float64)
    d = reach.sum(1)
    inv = 1.0 / np.sqrt(d)
    return (reach * inv[:, None] * inv[None, :]).astype(np.float32)


def _channel_view(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return v.view((1, -1) + (1,) * (x.dim() - 2))


def _spatial_size(x: torch.Tensor) -> int:
    return int(np.prod(x.shape[2:])) if x.dim() > 2 else 1


class ActNorm(nn.Module):
    """Per-channel affine ``y = (x + b) * exp(logs)``.

    Initialised from the first training batch so that every channel has zero mean and unit
    variance (Glow). ``initialized`` is a buffer, so a loaded checkpoint does not re-initialise.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.logs = nn.Parameter(torch.zeros(channels))
        self.register_buffer("initialized", torch.zeros(()))

    @torch.no_grad()
    def _init(self, x: torch.Tensor) -> None:
        dims = [0] + list(range(2, x.dim()))
        mean = x.mean(dims)
        std = x.std(dims, unbiased=False)
        self.bias.copy_(-mean)
        self.logs.copy_(-torch.log(std + 1e-6))
        self.initialized.fill_(1.0)

    def forward(self, x: torch.Tensor):
        if self.training and not bool(self.initialized):
            self._init(x)
        y = (x + _channel_view(self.bias, x)) * _channel_view(self.logs.exp(), x)
        logdet = self.logs.sum() * _spatial_size(x)
        return y, logdet.expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * _channel_view((-self.logs).exp(), y) - _channel_view(self.bias, y)


class Permutation(nn.Module):
    """Fixed channel permutation (volume preserving). ``kind``: ``reverse`` or ``shuffle`` (seeded)."""

    def __init__(self, channels: int, kind: str = "reverse", generator: torch.Generator | None = None):
        super().__init__()
        if kind == "reverse":
            perm = torch.arange(channels - 1, -1, -1)
        elif kind == "shuffle":
            perm = torch.randperm(channels, generator=generator)
        else:
            raise ValueError(f"permutation must be 'reverse' or 'shuffle', got {kind!r}")
        self.register_buffer("perm", perm)
        self.register_buffer("inv", torch.argsort(perm))

    def forward(self, x: torch.Tensor):
        return x[:, self.perm], x.new_zeros(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y[:, self.inv]


class AffineCoupling(nn.Module):
    """Affine coupling: ``y1 = x1``, ``y2 = (x2 + shift(x1)) * scale(x1)``.

    ``scale = sigmoid(s + 2) + 1e-6`` (STG-NF / Glow), so it lies in (1e-6, 1 + 1e-6) and starts
    near 0.88 when the network's last layer is zero-initialised. The network outputs
    ``2 * c2`` channels, interleaved (even = shift, odd = raw scale) as in the reference code's
    cross split, so every transformed channel has its own shift and scale.
    """

    def __init__(self, channels: int, net_factory: Callable[[int, int], nn.Module]):
        super().__init__()
        if channels < 2:
            raise ValueError(f"affine coupling needs at least 2 channels, got {channels}")
        self.c1 = channels // 2
        self.c2 = channels - self.c1
        self.net = net_factory(self.c1, 2 * self.c2)

    def _shift_scale(self, x1: torch.Tensor):
        h = self.net(x1)
        if h.shape[1] != 2 * self.c2:
            raise RuntimeError(f"coupling net returned {h.shape[1]} channels, expected {2 * self.c2}")
        shift, s = h[:, 0::2], h[:, 1::2]
        scale = torch.sigmoid(s + 2.0) + 1e-6
        return shift, scale

    def forward(self, x: torch.Tensor):
        x1, x2 = x[:, : self.c1], x[:, self.c1 :]
        shift, scale = self._shift_scale(x1)
        y2 = (x2 + shift) * scale
        logdet = torch.log(scale).flatten(1).sum(1)
        return torch.cat([x1, y2], dim=1), logdet

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        y1, y2 = y[:, : self.c1], y[:, self.c1 :]
        shift, scale = self._shift_scale(y1)
        return torch.cat([y1, y2 / scale - shift], dim=1)


class GlowFlow(nn.Module):
    """``steps`` x (ActNorm -> Permutation -> AffineCoupling) with a standard Gaussian prior."""

    def __init__(
        self,
        channels: int,
        steps: int,
        net_factory: Callable[[int, int], nn.Module],
        permutation: str = "reverse",
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        layers = []
        for _ in range(steps):
            layers += [
                ActNorm(channels),
                Permutation(channels, permutation, generator),
                AffineCoupling(channels, net_factory),
            ]
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor):
        logdet = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z

    def log_prob(self, x: torch.Tensor):
        """``(log p(x), z)`` per sample, in nats, under a standard Gaussian prior on ``z``."""
        z, logdet = self(x)
        log_pz = -0.5 * (z.pow(2) + LOG_2PI).flatten(1).sum(1)
        return log_pz + logdet, z

    def nll_per_dim(self, x: torch.Tensor):
        """Negative log-likelihood per dimension (nats), and the latent ``z``."""
        lp, z = self.log_prob(x)
        return -lp / x[0].numel(), z
