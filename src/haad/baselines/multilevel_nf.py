"""MultiLevel-NF baseline (after Maeda et al., arXiv 2404.17381): DCT-domain normalising flows on the
whole body and on body parts, scored by likelihood.

No code of the paper is public and only its abstract could be read (see
``docs/MULTILEVEL-NF.md`` in the shared folder); everything below marked [choice] is ours.

Input and features
    * The protocol window (first 60 frames, first-frame root offset) is mapped to its first
      ``n_coef = 10`` orthonormal DCT-II coefficients per joint and coordinate (``haad.dct``), as in
      the same lab's few-shot code. [DCT: paper; M = 10: choice, same lab's default]
    * Every coefficient (k, joint, coord) is standardised with the training pool's mean and standard
      deviation (soft floor at 5 % of the mean deviation, so still joints cannot explode a score).
      The statistics are saved with the weights. [choice]

Levels (streams)
    * Three streams: the whole body (all J joints), ``layout.upper`` and ``layout.lower``. Empty or
      full-body-duplicate part lists are skipped, so a layout without parts runs with one stream.
      [full + upper + lower: paper/few-shot paper; joint lists come from the layout: choice]
    * Each stream is a separate flow with its own weights (no sharing). A stream's input is a graph:
      one node per joint of the stream, node features = that joint's 3 x n_coef standardised
      coefficients (channel = coord * n_coef + k), i.e. a ``(3 n_coef, J_s)`` tensor. [choice]

Flow (per stream) [choice: flow family, depth and coupling were not recoverable]
    * Glow-style, ``steps = 8`` steps of ActNorm -> fixed seeded random channel permutation -> affine
      coupling (``haad.baselines.flows``): the first ``C // 2`` channels of every node condition the
      rest; ``scale = sigmoid(s + 2) + 1e-6``.
    * Coupling network: the learnable-adjacency GCN described for the paper's encoder, two graph
      convolutions ``h = tanh(A (h W) + b)`` (width ``hidden = 64``), then a zero-initialised linear
      layer giving a shift and a scale for each transformed channel. Each ``A`` (J_s x J_s) is
      learned, initialised with the symmetrically normalised skeleton adjacency of the stream's
      joints (self loops on), so the skeleton is only a starting point.
    * Prior: standard Gaussian. Loss: sum over streams of the mean negative log-likelihood per
      dimension. Adam (lr 1e-3), batch 32, 60 epochs, gradient-norm clip 10.
    * Regularisation: Gaussian noise (std 0.1, in standardised units) is added to the training
      inputs (a dequantisation-like smoothing). A category's pool is 25-150 windows while the full
      stream has 30 J dimensions, so without it the flow collapses onto the training points.

Scoring and fusion of the levels
    * Per stream, the anomaly score is the negative log-likelihood per dimension (nats),
      ``-(log N(z; 0, I) + log|det dz/dx|) / D_s``. [paper: likelihood]
    * Option ``scoring = "knn"``: the mean Euclidean distance (divided by sqrt(D_s)) from the test
      window's latent ``z`` to its ``knn_k`` nearest training latents, one reading of the few-shot
      paper's sentence on k-NN over learned features. The training latents are saved.
    * Fusion (``fusion``): every stream score is z-scored with its mean and standard deviation over
      the training pool (computed after training, without noise; for k-NN leave-one-out), then
      ``"zsum"`` (default) adds the z-scores, ``"zmax"`` takes their maximum (a local anomaly in one
      part alone can fire), and ``"mean"`` averages the raw per-dimension NLLs (no z-scoring). The
      z-scoring puts streams of different dimension and fit on one scale before combining; the paper's
      own fusion is unknown.

The defaults are the a-priori choices above (likelihood score, as the abstract states; z-scored sum):
on a 9-category subset of utd-mhad the options score within about 0.01 mean AUC of each other, and
60 epochs cost 2.5x less than 150 at the same AUC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from haad.baselines.base import CategoryDetector, robust_std
from haad.baselines.flows import GlowFlow, normalized_adjacency
from haad.dct import dct


@dataclass
class MultiLevelNFConfig:
    """Defaults of the MultiLevel-NF baseline (see the module docstring for each choice)."""

    n_coef: int = 10
    steps: int = 8
    hidden: int = 64
    gcn_layers: int = 2
    epochs: int = 60
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 10.0
    noise_std: float = 0.1
    streams: str = "full,upper,lower"
    scoring: str = "nll"  # "nll" | "knn"
    knn_k: int = 1
    fusion: str = "zsum"  # "zsum" | "zmax" | "mean"
    eval_batch: int = 256

    def __post_init__(self) -> None:
        if self.scoring not in ("nll", "knn"):
            raise ValueError(f"scoring must be 'nll' or 'knn', got {self.scoring!r}")
        if self.fusion not in ("zsum", "zmax", "mean"):
            raise ValueError(f"fusion must be 'zsum', 'zmax' or 'mean', got {self.fusion!r}")
        for s in self.stream_names():
            if s not in ("full", "upper", "lower"):
                raise ValueError(f"unknown stream {s!r}; use full, upper, lower")
        if self.n_coef < 1 or self.steps < 1 or self.hidden < 1 or self.knn_k < 1:
            raise ValueError("n_coef, steps, hidden and knn_k must be positive")

    def stream_names(self) -> list[str]:
        return [s.strip() for s in self.streams.split(",") if s.strip()]


class GraphCouplingNet(nn.Module):
    """``(B, c_in, V) -> (B, c_out, V)``: graph convolutions ``tanh(A (h W) + b)`` with learnable
    adjacency, then a zero-initialised linear output (the coupling starts as a constant map)."""

    def __init__(self, c_in: int, c_out: int, adjacency: torch.Tensor, hidden: int, layers: int):
        super().__init__()
        dims = [c_in] + [hidden] * layers
        self.lins = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.adj = nn.ParameterList(nn.Parameter(adjacency.clone()) for _ in range(layers))
        self.out = nn.Linear(dims[-1], c_out)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.transpose(1, 2)  # (B, V, C)
        for lin, a in zip(self.lins, self.adj):
            h = torch.tanh(torch.matmul(a, lin(h)))
        return self.out(h).transpose(1, 2)


class _Stream(nn.Module):
    def __init__(self, joints, adjacency: np.ndarray, channels: int, cfg: MultiLevelNFConfig, gen: torch.Generator):
        super().__init__()
        self.register_buffer("joints", torch.as_tensor(joints, dtype=torch.long))
        sub = adjacency[np.ix_(joints, joints)]
        adj = torch.from_numpy(normalized_adjacency(sub, max_hop=1))

        def factory(c_in, c_out):
            return GraphCouplingNet(c_in, c_out, adj, cfg.hidden, cfg.gcn_layers)

        self.flow = GlowFlow(channels, cfg.steps, factory, permutation="shuffle", generator=gen)


class MultiLevelNFModel(nn.Module):
    """All fitted state: standardisation, one flow per stream, training score statistics."""

    def __init__(self, layout, cfg: MultiLevelNFConfig, gen: torch.Generator, n_train: int | None):
        super().__init__()
        j, m = layout.num_joints, cfg.n_coef
        self.n_coef = m
        self.register_buffer("mean", torch.zeros(m, j, 3))
        self.register_buffer("std", torch.ones(m, j, 3))
        adjacency = layout.adjacency(self_loops=False)
        parts = {"full": list(range(j)), "upper": sorted(layout.upper), "lower": sorted(layout.lower)}
        self.streams = nn.ModuleDict()
        for name in cfg.stream_names():
            joints = parts[name]
            if not joints or (name != "full" and len(joints) == j and "full" in self.streams):
                continue
            self.streams[name] = _Stream(joints, adjacency, 3 * m, cfg, gen)
        if not self.streams:
            raise ValueError(f"no usable stream among {cfg.streams!r} for layout {layout.name!r}")
        s = len(self.streams)
        self.register_buffer("score_mu", torch.zeros(s))
        self.register_buffer("score_sd", torch.ones(s))
        if cfg.scoring == "knn":
            for name, st in self.streams.items():
                d = 3 * m * len(st.joints)
                self.register_buffer(f"latents_{name}", torch.zeros(n_train or 0, d))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, J, 3) windows -> standardised (B, M, J, 3) DCT coefficients."""
        return (dct(x, self.n_coef) - self.mean) / self.std

    @staticmethod
    def stream_input(st: _Stream, f: torch.Tensor) -> torch.Tensor:
        """(B, M, J, 3) -> (B, 3 M, J_s): one node per joint, channel = coord * M + k."""
        g = f[:, :, st.joints]  # (B, M, Js, 3)
        b, m, js, _ = g.shape
        return g.permute(0, 3, 1, 2).reshape(b, 3 * m, js)


class MultiLevelNF(CategoryDetector):
    """DCT-domain multi-level normalising flow (full body + upper + lower); see the module docstring."""

    name = "multilevel-nf"
    Config = MultiLevelNFConfig

    def _extra_for_fit(self, x: np.ndarray) -> dict:
        return {"n_train": int(x.shape[0])}

    def _extra_header(self) -> dict:
        return {"n_train": self._n_train}

    def _build(self, extra: dict) -> nn.Module:
        if self.frames_ < self.config.n_coef:
            raise ValueError(f"windows of {self.frames_} frames have fewer than n_coef={self.config.n_coef} DCT coefficients")
        self._n_train = extra.get("n_train")
        return MultiLevelNFModel(self.layout, self.config, self._generator(1), self._n_train)

    def _stream_nll(self, f: torch.Tensor):
        """Per-stream (NLL per dim, latent) for standardised features."""
        out = {}
        for name, st in self.model_.streams.items():
            nll, z = st.flow.nll_per_dim(self.model_.stream_input(st, f))
            out[name] = (nll, z)
        return out

    def _fit(self, x: torch.Tensor) -> None:
        cfg, model = self.config, self.model_
        coef = dct(x, cfg.n_coef)
        model.mean.copy_(coef.mean(0))
        model.std.copy_(robust_std(coef, dims=0))
        feats = model.features(x)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        gen = self._generator(2)
        n = feats.shape[0]
        # ActNorm's data-dependent initialisation sees a large first batch, not a tail of 1-2 windows.
        model.train()
        with torch.no_grad():
            self._stream_nll(feats[torch.randperm(n, generator=gen)[: max(cfg.batch_size, 64)]])
        def batch_loss(idx):
            f = feats[idx]
            if cfg.noise_std > 0:
                f = f + cfg.noise_std * torch.randn(f.shape, generator=gen)
            return sum(nll.mean() for nll, _ in self._stream_nll(f).values())

        self._train_loop(n, cfg, opt, gen, batch_loss)
        model.eval()
        with torch.no_grad():
            per = self._stream_scores(feats, train=True)
            model.score_mu.copy_(per.mean(0))
            model.score_sd.copy_(per.std(0, unbiased=False) + 1e-6)

    def _stream_scores(self, feats: torch.Tensor, train: bool = False) -> torch.Tensor:
        """(B, S) per-stream scores of standardised features (NLL/dim or k-NN latent distance)."""
        cfg, model = self.config, self.model_
        cols = []
        outs = [self._stream_nll(feats[i : i + cfg.eval_batch]) for i in range(0, feats.shape[0], cfg.eval_batch)]
        for name in model.streams:
            nll = torch.cat([o[name][0] for o in outs])
            if cfg.scoring == "nll":
                cols.append(nll)
                continue
            z = torch.cat([o[name][1].flatten(1) for o in outs])
            if train:
                getattr(model, f"latents_{name}").copy_(z)
            bank = getattr(model, f"latents_{name}")
            d = torch.cdist(z.double(), bank.double()) / np.sqrt(z.shape[1])
            if train:  # leave-one-out: a training window is not its own neighbour
                d.fill_diagonal_(float("inf"))
            k = min(cfg.knn_k, bank.shape[0] - (1 if train else 0))
            cols.append(d.topk(k, dim=1, largest=False).values.mean(1).float())
        return torch.stack(cols, dim=1)

    def stream_scores(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        """Raw per-stream scores (before fusion), for analysis."""
        x = torch.from_numpy(self._validate(windows, fitting=False))
        self.model_.eval()
        with torch.no_grad():
            per = self._stream_scores(self.model_.features(x))
        return {name: per[:, i].numpy().astype(np.float64) for i, name in enumerate(self.model_.streams)}

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        model = self.model_
        per = self._stream_scores(model.features(x))
        if self.config.fusion == "mean" and self.config.scoring == "nll":
            return per.mean(1)
        z = (per - model.score_mu) / model.score_sd
        if self.config.fusion == "zmax":
            return z.max(1).values
        if self.config.fusion == "mean":
            return z.mean(1)
        return z.sum(1)
