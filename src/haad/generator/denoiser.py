"""Noise predictor of the DCT-domain motion diffusion (HumanMAC's transformer, MotionDiffuse-style).

Tokens are the ``n_coef`` DCT coefficients of a window; each token carries the 3J coordinates of that
frequency. The timestep enters every block through "stylization" (LayerNorm, then a scale and shift
predicted from the timestep embedding), and the observation -- the DCT of the padded observed
frames, flattened -- is projected to the model width and added to the timestep embedding.

Every output projection that feeds a residual is zero-initialised, so an untrained model predicts
exactly zero noise and each block starts as the identity.

Parameter count (J = 24, n_coef = 20, preset ``paper``): 28,672,072 -- the 28.67 M computed from the
reference model's shapes (q, k, v projections without bias; no attention output projection other
than the stylization block's).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from haad.diffusion_schedule import timestep_embedding


@dataclass(frozen=True)
class DenoiserConfig:
    """Shape of the noise predictor.

    Attributes:
        num_joints: J; token features are 3J.
        n_coef: number of DCT coefficients (tokens), 20 in HumanMAC and the few-shot paper.
        width: model width (latent size), also the timestep-embedding size.
        depth: number of transformer blocks (self-attention + feed-forward).
        heads: attention heads (width must be divisible by heads).
        ff: hidden size of the feed-forward layer.
        dropout: dropout on attention weights and inside the FF / stylization blocks.
    """

    num_joints: int = 24
    n_coef: int = 20
    width: int = 512
    depth: int = 8
    heads: int = 8
    ff: int = 1024
    dropout: float = 0.2

    def __post_init__(self) -> None:
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not divisible by heads {self.heads}")
        if self.width % 2:
            raise ValueError("width must be even (sinusoidal timestep embedding)")
        if min(self.num_joints, self.n_coef, self.depth, self.ff) < 1:
            raise ValueError(f"invalid denoiser config {self}")

    @property
    def features(self) -> int:
        return 3 * self.num_joints

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DenoiserConfig":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


# Named sizes. "paper": HumanMAC as used by the few-shot paper (about 28.7 M parameters at J = 24).
# "cpu": small enough to train in minutes on 2 CPU cores (about 1.1 M parameters at J = 24).
PRESETS: dict[str, dict] = {
    "paper": dict(width=512, depth=8, heads=8, ff=1024, dropout=0.2),
    "cpu": dict(width=128, depth=4, heads=4, ff=256, dropout=0.1),
}


def make_config(preset: str, num_joints: int, n_coef: int = 20, **overrides) -> DenoiserConfig:
    """A :class:`DenoiserConfig` from a named preset, with optional field overrides."""
    try:
        base = dict(PRESETS[preset])
    except KeyError:
        raise KeyError(f"unknown denoiser preset {preset!r}; known: {sorted(PRESETS)}") from None
    base.update(overrides)
    return DenoiserConfig(num_joints=num_joints, n_coef=n_coef, **base)


def _zero(module: nn.Linear) -> nn.Linear:
    nn.init.zeros_(module.weight)
    if module.bias is not None:
        nn.init.zeros_(module.bias)
    return module


class Stylization(nn.Module):
    """h -> Linear0(Dropout(SiLU(LN(h) (1 + scale) + shift))), (scale, shift) = Linear(SiLU(emb))."""

    def __init__(self, width: int, emb_dim: int, dropout: float):
        super().__init__()
        self.emb = nn.Linear(emb_dim, 2 * width)
        self.norm = nn.LayerNorm(width)
        self.drop = nn.Dropout(dropout)
        self.out = _zero(nn.Linear(width, width))

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.emb(F.silu(emb)).unsqueeze(1).chunk(2, dim=-1)
        h = self.norm(h) * (1 + scale) + shift
        return self.out(self.drop(F.silu(h)))


class SelfAttention(nn.Module):
    """Pre-norm multi-head self-attention over the coefficient tokens; stylized residual."""

    def __init__(self, width: int, heads: int, emb_dim: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.norm = nn.LayerNorm(width)
        self.q = nn.Linear(width, width, bias=False)
        self.k = nn.Linear(width, width, bias=False)
        self.v = nn.Linear(width, width, bias=False)
        self.style = Stylization(width, emb_dim, dropout)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        h = self.norm(x)

        def split(z):
            return z.view(b, n, self.heads, d // self.heads).transpose(1, 2)

        y = F.scaled_dot_product_attention(
            split(self.q(h)), split(self.k(h)), split(self.v(h)),
            dropout_p=self.dropout if self.training else 0.0,
        )
        y = y.transpose(1, 2).reshape(b, n, d)
        return x + self.style(y, emb)


class FeedForward(nn.Module):
    """Linear -> GELU -> Dropout -> zero-init Linear; stylized residual."""

    def __init__(self, width: int, ff: int, emb_dim: int, dropout: float):
        super().__init__()
        self.fc1 = nn.Linear(width, ff)
        self.fc2 = _zero(nn.Linear(ff, width))
        self.drop = nn.Dropout(dropout)
        self.style = Stylization(width, emb_dim, dropout)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        y = self.fc2(self.drop(F.gelu(self.fc1(x))))
        return x + self.style(y, emb)


class Block(nn.Module):
    def __init__(self, cfg: DenoiserConfig):
        super().__init__()
        self.attn = SelfAttention(cfg.width, cfg.heads, cfg.width, cfg.dropout)
        self.ffn = FeedForward(cfg.width, cfg.ff, cfg.width, cfg.dropout)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return self.ffn(self.attn(x, emb), emb)


class NoisePredictor(nn.Module):
    """epsilon_hat = f(x_t, t, cond) on (B, n_coef, 3J) DCT coefficients.

    ``forward`` accepts ``x_t`` and ``cond`` either as (B, n_coef, J, 3) or flattened to
    (B, n_coef, 3J) / (B, n_coef * 3J), and returns the same shape as ``x_t``. ``cond=None`` drops the
    condition (only the timestep embedding modulates the blocks).
    """

    def __init__(self, cfg: DenoiserConfig):
        super().__init__()
        self.cfg = cfg
        w, f, n = cfg.width, cfg.features, cfg.n_coef
        self.embed = nn.Linear(f, w)
        self.pos = nn.Parameter(torch.randn(n, w))
        self.time = nn.Sequential(nn.Linear(w, w), nn.SiLU(), nn.Linear(w, w))
        self.cond = nn.Linear(n * f, w)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.out = _zero(nn.Linear(w, f))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        shape = x_t.shape
        b, n, f = shape[0], self.cfg.n_coef, self.cfg.features
        x = x_t.reshape(b, n, f)
        if t.dim() == 0:
            t = t.expand(b)
        emb = self.time(timestep_embedding(t, self.cfg.width))
        if cond is not None:
            emb = emb + self.cond(cond.reshape(b, n * f))
        h = self.embed(x) + self.pos[None]
        # U-Net-like long skips: the inputs of the first half of the blocks are added, last in first
        # out, to the outputs of the second half.
        skips = []
        half = len(self.blocks) // 2
        for i, block in enumerate(self.blocks):
            if i < half:
                skips.append(h)
                h = block(h, emb)
            else:
                h = block(h, emb)
                if skips:
                    h = h + skips.pop()
        return self.out(h).reshape(shape)
