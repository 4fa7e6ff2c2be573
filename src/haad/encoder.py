"""DCT + Res-GCN action encoder (docs/METHOD.md, "Encoder"): a plain ``nn.Module``, no training code.

Input: windows (B, H, J, 3), protocol-normalised. The first M DCT coefficients of every joint's x, y, z
are its node features (3M, coefficient-major, xyz-minor as in the reference code); a residual graph
convolution network with a dense learnable adjacency maps them to 3M output features per joint, and a
max pooling gives the embedding.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from haad.dct import dct_matrix


@dataclass(frozen=True)
class EncoderConfig:
    """Encoder hyper-parameters (defaults: docs/METHOD.md).

    Attributes:
        num_joints: J, graph nodes.
        window: H, frames per window.
        n_coef: M, DCT coefficients kept per coordinate.
        hidden: hidden features per node.
        blocks: residual blocks.
        pooling: ``"joint"`` (reference code: max over each joint's 3M features, z in R^J) or
            ``"node"`` (max over joints, z in R^{3M}).
    """

    num_joints: int = 24
    window: int = 60
    n_coef: int = 10
    hidden: int = 128
    blocks: int = 4
    pooling: str = "joint"

    def __post_init__(self) -> None:
        if self.pooling not in ("joint", "node"):
            raise ValueError(f"pooling must be 'joint' or 'node', got {self.pooling!r}")
        if not 1 <= self.n_coef <= self.window:
            raise ValueError(f"n_coef must be in 1..window, got {self.n_coef}")

    @property
    def embedding_dim(self) -> int:
        return self.num_joints if self.pooling == "joint" else 3 * self.n_coef

    def to_dict(self) -> dict:
        return asdict(self)


class GraphConv(nn.Module):
    """out = A (X W) + b with a dense learnable J x J adjacency A and node-shared W (LTD)."""

    def __init__(self, in_features: int, out_features: int, num_nodes: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.adj = nn.Parameter(torch.empty(num_nodes, num_nodes))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        bound = 1.0 / math.sqrt(out_features)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.adj @ (x @ self.weight)
        return out + self.bias if self.bias is not None else out


class GraphBNTanh(nn.Module):
    """Graph convolution, BatchNorm over the flattened (J * F) features, tanh."""

    def __init__(self, in_features: int, out_features: int, num_nodes: int, bias: bool):
        super().__init__()
        self.gc = GraphConv(in_features, out_features, num_nodes, bias=bias)
        self.bn = nn.BatchNorm1d(num_nodes * out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.gc(x)
        b, n, f = y.shape
        return torch.tanh(self.bn(y.reshape(b, n * f)).reshape(b, n, f))


class ResBlock(nn.Module):
    def __init__(self, features: int, num_nodes: int):
        super().__init__()
        # Bias is redundant in front of BatchNorm (reference code disables it too).
        self.a = GraphBNTanh(features, features, num_nodes, bias=False)
        self.b = GraphBNTanh(features, features, num_nodes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x)) + x


class ActionEncoder(nn.Module):
    """DCT + Res-GCN encoder mapping (B, H, J, 3) windows to (B, embedding_dim) embeddings."""

    def __init__(self, config: EncoderConfig = EncoderConfig()):
        super().__init__()
        self.config = config
        j, f = config.num_joints, 3 * config.n_coef
        self.register_buffer("dct", dct_matrix(config.window)[: config.n_coef].clone(), persistent=False)
        self.inp = GraphBNTanh(f, config.hidden, j, bias=True)
        self.blocks = nn.Sequential(*[ResBlock(config.hidden, j) for _ in range(config.blocks)])
        self.out = GraphConv(config.hidden, f, j, bias=True)

    def node_features(self, windows: torch.Tensor) -> torch.Tensor:
        """(B, H, J, 3) -> (B, J, 3M): per joint, M DCT coefficients of x, y, z (index 3m + c)."""
        cfg = self.config
        if windows.ndim != 4 or windows.shape[1:] != (cfg.window, cfg.num_joints, 3):
            raise ValueError(
                f"expected windows of shape (B, {cfg.window}, {cfg.num_joints}, 3), got {tuple(windows.shape)}"
            )
        coef = torch.einsum("kt,btjc->bjkc", self.dct, windows)
        return coef.reshape(windows.shape[0], cfg.num_joints, 3 * cfg.n_coef)

    def joint_features(self, windows: torch.Tensor) -> torch.Tensor:
        """(B, J, 3M) output features of the Res-GCN before pooling (used for explanations)."""
        x = self.node_features(windows)
        return self.out(self.blocks(self.inp(x))) + x

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        feats = self.joint_features(windows)
        if self.config.pooling == "joint":
            return feats.max(dim=2).values
        return feats.max(dim=1).values
