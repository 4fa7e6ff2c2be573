"""STG-NF baseline (after Hirschorn & Avidan, ICCV 2023), adapted to 3D skeleton windows of any layout.

Facts taken from the reference implementation (docs/METHOD.md, "Baselines"), written anew:
    * Glow-like flow, one level, ``steps = 8`` flow steps; each step is ActNorm -> channel
      permutation (default: channel reversal) -> affine coupling whose network is a
      spatio-temporal graph convolution; ``scale = sigmoid(s + 2) + 1e-6``; standard Gaussian prior
      (the reference's label-dependent prior mean only applies to its supervised setting);
      anomaly score = negative log-likelihood (here in nats per dimension).
    * Graph: the layout's skeleton (``layout.adjacency()``), ``max_hop = 8`` reachability (the
      reference's default, a near-dense graph on small skeletons), symmetrically normalised.
    * Coupling network (one ``st_gcn`` unit, the reference's ``model_hidden_dim = 0`` default):
      1x1 conv -> graph aggregation over joints -> ReLU -> temporal conv (kernel ``t_kernel``) with a
      residual 1x1 conv -> ReLU -> 1x1 conv. Changes: width ``hidden = 16`` instead of the
      coupling's output width (32 costs 2-3x the time for no gain in AUC on a 9-category utd-mhad
      subset); no BatchNorm/dropout (per-sample maps keep the
      log-determinant exact in training too); last conv zero-initialised so every step starts near
      identity. ``t_kernel = 9`` (the ST-GCN default; the reference uses ``T // 2 + 1`` for 24-frame
      segments, which would be 31 for our 60 frames).
    * Training: Adamax, lr 5e-4, weight decay 5e-5, lr x 0.99 per epoch, gradient-norm clip 100,
      batch 32 (reference 256, but a category pool here has only 25-150 windows), 40 epochs
      (reference 8 over far larger pools).

The 3-channel pitfall: the input has C = 3 channels (x, y, z) so the half split is uneven
(1 conditioning channel, 2 transformed ones). :class:`haad.baselines.flows.AffineCoupling` sizes the
coupling net's output as ``2 * (C - C // 2) = 4`` channels, so both transformed channels get their
own shift and scale and both enter the log-determinant; tests check the log-determinant against a
numerical Jacobian. Channel reversal alternates which channel conditions (z then x).

Input: the protocol window as a ``(3, T, J)`` tensor (time domain, all 60 frames), standardised with
the training pool's statistics: by default per joint and coordinate (mean and standard deviation
over windows and frames, soft floor at 5 % of the mean deviation), option ``standardize = "coord"``
per coordinate only. The reference normalises each 2D segment by itself; pool-level statistics
keep position and scale, which carry class information after the protocol's root offset. The
per-joint choice matters: the coupling network shares its weights over joints and, on the reference's
near-dense graph, hardly knows which joint it is looking at, so with per-coordinate statistics a
motion of normally still joints (e.g. legs for an arm action) is not unlikely to the flow, and
the per-joint statistics score clearly higher on utd-mhad. ``domain = "dct"`` is an option that uses the
first ``n_coef`` DCT coefficients as the time axis instead. Not kept from the reference: its
optional learnable edge-importance mask (off in its default) and its horizontal-flip augmentation
(the datasets' lateral axis is not guaranteed to be x).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from haad.baselines.base import CategoryDetector, robust_std
from haad.baselines.flows import GlowFlow, normalized_adjacency
from haad.dct import dct


@dataclass
class STGNFConfig:
    """Defaults of the STG-NF baseline (see the module docstring)."""

    steps: int = 8
    hidden: int = 16
    t_kernel: int = 9
    max_hop: int = 8
    permutation: str = "reverse"  # "reverse" | "shuffle"
    domain: str = "time"  # "time" | "dct"
    n_coef: int = 10
    epochs: int = 40
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 5e-5
    lr_decay: float = 0.99
    grad_clip: float = 100.0
    noise_std: float = 0.0
    standardize: str = "joint"  # "joint" (per joint and x/y/z) | "coord" (per x/y/z only)
    eval_batch: int = 128

    def __post_init__(self) -> None:
        if self.t_kernel < 1 or self.t_kernel % 2 == 0:
            raise ValueError(f"t_kernel must be a positive odd number, got {self.t_kernel}")
        if self.domain not in ("time", "dct"):
            raise ValueError(f"domain must be 'time' or 'dct', got {self.domain!r}")
        if self.standardize not in ("coord", "joint"):
            raise ValueError(f"standardize must be 'coord' or 'joint', got {self.standardize!r}")
        if self.permutation not in ("reverse", "shuffle"):
            raise ValueError(f"permutation must be 'reverse' or 'shuffle', got {self.permutation!r}")


class STGCNCouplingNet(nn.Module):
    """``(B, c_in, T, V) -> (B, c_out, T, V)``: one spatio-temporal graph convolution unit."""

    def __init__(self, c_in: int, c_out: int, adjacency: torch.Tensor, hidden: int, t_kernel: int):
        super().__init__()
        self.register_buffer("adjacency", adjacency.clone())
        self.gcn = nn.Conv2d(c_in, hidden, 1)
        self.tcn = nn.Conv2d(hidden, hidden, (t_kernel, 1), padding=(t_kernel // 2, 0))
        self.residual = nn.Conv2d(c_in, hidden, 1)
        self.out = nn.Conv2d(hidden, c_out, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.einsum("nctv,vw->nctw", self.gcn(x), self.adjacency)
        h = torch.relu(self.tcn(torch.relu(h)) + self.residual(x))
        return self.out(h)


class STGNFModel(nn.Module):
    """Standardisation statistics and the flow."""

    def __init__(self, layout, cfg: STGNFConfig, gen: torch.Generator):
        super().__init__()
        shape = (3,) if cfg.standardize == "coord" else (layout.num_joints, 3)
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))
        adj = torch.from_numpy(normalized_adjacency(layout.adjacency(self_loops=False), cfg.max_hop))

        def factory(c_in, c_out):
            return STGCNCouplingNet(c_in, c_out, adj, cfg.hidden, cfg.t_kernel)

        self.flow = GlowFlow(3, cfg.steps, factory, permutation=cfg.permutation, generator=gen)
        self.domain, self.n_coef = cfg.domain, cfg.n_coef

    def to_input(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, J, 3) windows -> standardised (B, 3, T', J) flow input."""
        if self.domain == "dct":
            x = dct(x, self.n_coef)
        x = (x - self.mean) / self.std
        return x.permute(0, 3, 1, 2).contiguous()


class STGNF(CategoryDetector):
    """Spatio-temporal graph normalising flow; score = NLL per dimension."""

    name = "stg-nf"
    Config = STGNFConfig

    def _build(self, extra: dict) -> nn.Module:
        if self.config.domain == "dct" and self.frames_ < self.config.n_coef:
            raise ValueError(f"windows of {self.frames_} frames have fewer than n_coef={self.config.n_coef} coefficients")
        return STGNFModel(self.layout, self.config, self._generator(1))

    def _fit(self, x: torch.Tensor) -> None:
        cfg, model = self.config, self.model_
        base = dct(x, cfg.n_coef) if cfg.domain == "dct" else x
        if cfg.standardize == "coord":
            model.mean.copy_(base.mean(dim=(0, 1, 2)))
            model.std.copy_(base.std(dim=(0, 1, 2), unbiased=False).clamp_min(1e-6))
        else:
            model.mean.copy_(base.mean(dim=(0, 1)))
            model.std.copy_(robust_std(base, dims=(0, 1)))
        inp = model.to_input(x)
        n = inp.shape[0]
        gen = self._generator(2)
        opt = torch.optim.Adamax(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg.lr_decay)
        model.train()
        with torch.no_grad():  # ActNorm initialisation on a full-size batch
            model.flow(inp[torch.randperm(n, generator=gen)[: max(cfg.batch_size, 64)]])
        def batch_loss(idx):
            b = inp[idx]
            if cfg.noise_std > 0:
                b = b + cfg.noise_std * torch.randn(b.shape, generator=gen)
            return model.flow.nll_per_dim(b)[0].mean()

        self._train_loop(n, cfg, opt, gen, batch_loss, sched)

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        model, bs = self.model_, self.config.eval_batch
        out = [model.flow.nll_per_dim(model.to_input(x[i : i + bs]))[0] for i in range(0, x.shape[0], bs)]
        return torch.cat(out)
