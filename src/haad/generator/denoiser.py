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

:class:`SamplingDenoiser` is the same function rearranged for sampling (see its docstring); DDIM
completion uses it for every :class:`NoisePredictor` in eval mode.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from haad.diffusion_schedule import timestep_embedding
from haad.onednn import onednn_linear_available


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


# --- sampling ---------------------------------------------------------------------------------------
PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def sampling_dtype(precision: str) -> torch.dtype:
    """The torch dtype of a sampling precision's name (:data:`PRECISIONS`), else a ValueError."""
    try:
        return PRECISIONS[precision]
    except KeyError:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}") from None


class SamplingDenoiser:
    """A :class:`NoisePredictor` in eval mode, rearranged for sampling many rows at one timestep.

    Computes ``model(x_t, t, cond)`` up to float32 rounding (no dropout, no autograd) with frozen
    copies of the model's weights:

    * the condition's projection is computed once per batch (:meth:`project`), the timestep's
      embedding once per call for all rows, and the 2 x depth stylization scales and shifts with one
      matrix product (their ``1 +`` folded into the bias);
    * q, k and v are one matrix product;
    * on the CPU, linear layers run through oneDNN (``torch.ops.mkldnn._linear_pointwise``) with the
      GELU and the residual additions fused into them, when this torch has it: on an AMD EPYC with
      AVX-512, MKL's sgemm behind ``F.linear`` ran these products at about half of oneDNN's rate
      (benchmarks/README.md, "Generation cost"). Elsewhere ``F.linear``;
    * the attention runs one pair of batched products per head on strided views of q | k | v.

    ``dtype=torch.bfloat16`` runs the weights and activations in bfloat16 (8 bits of mantissa), with
    the attention's softmax in float32 and ``x_t`` and the result in float32: on a CPU with AVX-512 BF16
    its matrix products run faster than float32's. It is not float32's function up to
    rounding: a call differs by about 0.5% of the prediction's norm (benchmarks/README.md,
    "Generation cost").

    The weights are copied when it is made: make a new one after changing the model.
    """

    def __init__(self, model: NoisePredictor, dtype: torch.dtype = torch.float32):
        if model.training:
            raise ValueError("SamplingDenoiser needs the model in eval mode (no dropout)")
        if dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"SamplingDenoiser runs in float32 or bfloat16, not {dtype}")
        cfg = model.cfg
        self.cfg = cfg
        self.dtype = dtype
        p = next(model.parameters())
        self.onednn = p.device.type == "cpu" and p.dtype == torch.float32 and onednn_linear_available()
        with torch.no_grad():
            def w(t):
                return t.detach().clone().to(dtype).contiguous()

            self.embed_w, self.embed_b, self.pos = w(model.embed.weight), w(model.embed.bias), w(model.pos)
            self.time = [w(model.time[0].weight), w(model.time[0].bias), w(model.time[2].weight),
                         w(model.time[2].bias)]
            self.cond_w, self.cond_b = w(model.cond.weight), w(model.cond.bias)
            self.out_w, self.out_b = w(model.out.weight), w(model.out.bias)
            style_w, style_b, self.blocks = [], [], []
            for blk in model.blocks:
                a, f = blk.attn, blk.ffn
                self.blocks.append({
                    "norm": (w(a.norm.weight), w(a.norm.bias), a.norm.eps),
                    # the attention's 1 / sqrt(head size) goes into q
                    "qkv": w(torch.cat([a.q.weight / math.sqrt(cfg.width // cfg.heads), a.k.weight, a.v.weight])),
                    "attn_norm": (w(a.style.norm.weight), w(a.style.norm.bias), a.style.norm.eps),
                    "attn_out": (w(a.style.out.weight), w(a.style.out.bias)),
                    "fc1": (w(f.fc1.weight), w(f.fc1.bias)), "fc2": (w(f.fc2.weight), w(f.fc2.bias)),
                    "ffn_norm": (w(f.style.norm.weight), w(f.style.norm.bias), f.style.norm.eps),
                    "ffn_out": (w(f.style.out.weight), w(f.style.out.bias)),
                })
                for style in (a.style, f.style):
                    bias = style.emb.bias.detach().clone()
                    bias[: cfg.width] += 1.0  # scale -> 1 + scale (in float32, before any rounding)
                    style_w.append(style.emb.weight)
                    style_b.append(bias)
            self.style_w, self.style_b = w(torch.cat(style_w)), w(torch.cat(style_b))

    # --- linear layers ----------------------------------------------------------------------------
    def _linear(self, x: torch.Tensor, weight, bias, gelu: bool = False) -> torch.Tensor:
        """linear (then GELU) of 2-D ``x``."""
        if self.onednn:
            return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "gelu" if gelu else "none", [],
                                                      "none" if gelu else "")
        y = F.linear(x, weight, bias)
        return F.gelu(y) if gelu else y

    def _linear_add(self, x: torch.Tensor, weight, bias, residual: torch.Tensor) -> torch.Tensor:
        """residual + linear(x), 2-D."""
        if self.onednn:
            return torch.ops.mkldnn._linear_pointwise.binary(x, residual, weight, bias, "add")
        return torch.addmm(residual, x, weight.t()).add_(bias)

    # --- forward ----------------------------------------------------------------------------------
    def project(self, cond: torch.Tensor | None) -> torch.Tensor | None:
        """The condition's contribution to the embedding, (B, width) (``None`` for no condition)."""
        if cond is None:
            return None
        b = cond.shape[0]
        return self._linear(cond.reshape(b, -1).to(self.dtype).contiguous(), self.cond_w, self.cond_b)

    def __call__(self, x_t: torch.Tensor, t: int, cond_emb: torch.Tensor | None) -> torch.Tensor:
        """epsilon_hat for (B, n_coef, 3J) ``x_t``, all at timestep ``t``; ``cond_emb`` from :meth:`project`."""
        cfg = self.cfg
        b, n, f, wd = x_t.shape[0], cfg.n_coef, cfg.features, cfg.width
        temb = timestep_embedding(torch.full((1,), int(t), device=x_t.device), wd).to(self.dtype)
        w1, b1, w2, b2 = self.time
        emb = F.linear(F.silu(F.linear(temb, w1, b1)), w2, b2)  # (1, width), the same for every row
        if cond_emb is not None:
            emb = emb + cond_emb
        # (1 + scale, shift) of every stylization, (B or 1, 2 depth, 2, 1, width)
        mods = self._linear(F.silu(emb), self.style_w, self.style_b).view(emb.shape[0], -1, 2, 1, wd)
        rows = b * n
        h = self._linear(x_t.reshape(rows, f).to(self.dtype), self.embed_w, self.embed_b)
        h = h.view(b, n, wd).add_(self.pos)
        skips = []
        half = len(self.blocks) // 2
        for i, blk in enumerate(self.blocks):
            if i < half:
                skips.append(h)
            # self-attention, stylized residual
            z = F.layer_norm(h, (wd,), *blk["norm"])
            y = self._attention(self._linear(z.view(rows, wd), blk["qkv"], None), b)
            m = mods[:, 2 * i]
            z = torch.addcmul(m[:, 1], F.layer_norm(y, (wd,), *blk["attn_norm"]), m[:, 0])
            h = self._linear_add(F.silu(z, inplace=True).view(rows, wd), *blk["attn_out"], h.view(rows, wd))
            # feed-forward, stylized residual
            y = self._linear(self._linear(h, *blk["fc1"], gelu=True), *blk["fc2"]).view(b, n, wd)
            m = mods[:, 2 * i + 1]
            z = torch.addcmul(m[:, 1], F.layer_norm(y, (wd,), *blk["ffn_norm"]), m[:, 0])
            h = self._linear_add(F.silu(z, inplace=True).view(rows, wd), *blk["ffn_out"], h).view(b, n, wd)
            if i >= half and skips:
                h = h.add_(skips.pop())
        return self._linear(h.view(rows, wd), self.out_w, self.out_b).view(b, n, f).float()

    def _attention(self, qkv: torch.Tensor, b: int) -> torch.Tensor:
        """Multi-head attention of (B n_coef, 3 width) q | k | v, q already scaled -> (B, n_coef, width).

        One pair of batched products per head on strided views (no copy into a heads-first layout,
        which cost as much as the attention itself)."""
        cfg = self.cfg
        n, heads = cfg.n_coef, cfg.heads
        qkv = qkv.view(b, n, 3, heads, cfg.width // heads)
        scores = torch.stack([torch.bmm(qkv[:, :, 0, h], qkv[:, :, 1, h].transpose(1, 2)) for h in range(heads)])
        if self.dtype == torch.float32:
            weights = torch.softmax(scores, dim=-1)
        else:  # in float32: faster here than a bfloat16 softmax, and its sums keep their digits
            weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(self.dtype)
        return torch.cat([torch.bmm(weights[h], qkv[:, :, 2, h]) for h in range(heads)], dim=-1)
