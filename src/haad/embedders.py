"""Embedders: callables mapping ``(N, H, J, 3)`` windows to ``(N, D)`` embeddings for the few-shot detector.

:class:`EncoderEmbedder` runs a trained :class:`~haad.encoder.ActionEncoder`; :class:`DCTEmbedder` is
the no-learning floor (the window's first DCT coefficients); :class:`BoneDCTEmbedder` the same for bone
directions, for deviations within one action. Each also says which joint every
embedding dimension belongs to, where that is defined, for the embedding-split explanation.
"""

from __future__ import annotations

import numpy as np
import torch

from haad.dct import dct, dct_matrix_np
from haad.encoder import ActionEncoder
from haad.onednn import linear, matmul, onednn_matmul_available


class DCTEmbedder:
    """No-learning embedding: the flattened first ``n_coef`` DCT coefficients of the window."""

    name = "dct-distance"

    def __init__(self, n_coef: int = 10):
        self.n_coef = n_coef

    def joint_index(self, num_joints: int) -> np.ndarray:
        """The joint each embedding dimension belongs to (layout (M, J, 3) flattened)."""
        return np.tile(np.repeat(np.arange(num_joints), 3), self.n_coef)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        w = np.asarray(windows, dtype=np.float64)
        return dct(w, self.n_coef).reshape(len(w), self.n_coef * w.shape[2] * 3).astype(np.float32)


class BoneDCTEmbedder:
    """No-learning embedding of how the body's *shape* moves: the flattened first ``n_coef`` DCT
    coefficients of every bone's unit direction (child joint minus parent joint, normalised).

    Directions do not depend on body size or limb proportions, which differ more between two people
    than a wrong execution of an exercise changes joint positions; and a few low-frequency
    coefficients keep the movement's course and drop the jitter (docs/METHOD.md, "Wrong executions").
    """

    name = "bone-distance"

    def __init__(self, parents, n_coef: int = 4):
        self.parents = [int(q) for q in parents]
        parents = np.asarray(self.parents)
        self.child = np.flatnonzero(parents >= 0)
        self.parent = parents[self.child]
        if not len(self.child):
            raise ValueError("a skeleton without bones (every joint is a root) has no bone directions")
        self.n_coef = n_coef

    def joint_index(self, num_joints: int) -> np.ndarray:
        """The joint each embedding dimension belongs to: the bone's child joint (layout (M, B, 3) flattened)."""
        return np.tile(np.repeat(self.child, 3), self.n_coef)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        w = np.asarray(windows, dtype=np.float64)
        # np.take, not w[:, :, idx]: the same values, about 12 times faster on an inner axis.
        bones = np.take(w, self.child, axis=2) - np.take(w, self.parent, axis=2)
        # A zero-length bone (two joints at one place, e.g. a derived joint) has no direction: it stays 0.
        length = np.sqrt(np.einsum("...c,...c->...", bones, bones))[..., None]
        ok = length > 1e-9
        # the same quotients; numpy's masked divide costs twice a plain one, and most windows need no mask
        unit = bones / length if ok.all() else np.divide(bones, length, out=np.zeros_like(bones), where=ok)
        # The DCT as one product over the time axis (as haad.dct.dct, faster than its einsum here).
        coef = np.matmul(dct_matrix_np(w.shape[1])[:self.n_coef], unit.reshape(len(w), w.shape[1], len(self.child) * 3))
        return coef.reshape(len(w), self.n_coef * len(self.child) * 3).astype(np.float32)


class ScaledEmbedder:
    """Another embedder's embeddings multiplied by fixed per-dimension weights: pool scaling
    (:func:`haad.distances.pool_scale`, docs/METHOD.md Eq. W2) inside a detector, so that its support
    set, the clips it scores and its explanations all live in the scaled space."""

    def __init__(self, inner, weights):
        self.inner = inner
        self.weights = np.asarray(weights, dtype=np.float32)
        self.name = inner.name

    def joint_index(self, num_joints: int) -> np.ndarray | None:
        return self.inner.joint_index(num_joints) if hasattr(self.inner, "joint_index") else None

    @property
    def part_dims(self):
        """The inner embedder's part widths (scaling keeps every dimension where it is)."""
        return getattr(self.inner, "part_dims", None)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        emb = self.inner(windows)
        if emb.shape[1:] != self.weights.shape:
            raise ValueError(f"pool-scaling weights have {len(self.weights)} dimensions, embeddings {emb.shape[1]}")
        return emb * self.weights


class HybridEmbedder:
    """Several embedders' embeddings side by side, each multiplied by a fixed factor: the pretrained
    encoder's hybrid embedding (:mod:`haad.hybrid`, docs/METHOD.md Eq. H1), built by
    :func:`haad.hybrid.hybrid_embedder` from the record in the encoder's checkpoint.

    Attributes:
        parts: the embedders, in order (a part whose factor is 0 is left out).
        factors: each part's w / s.
        record: the checkpoint's hybrid record and ``parents`` the skeleton's (kept so that a saved
            detector can rebuild this).
        learned: the first part (the trained encoder's embedder).
        part_dims: each kept part's width in the embedding, known once it has embedded something
            (``None`` before): what a detector scoring part by part (Eq. 6p) splits the embedding by.
    """

    name = "hybrid"

    def __init__(self, parts, factors, record: dict | None = None, parents=None):
        if len(parts) != len(factors) or not len(parts):
            raise ValueError(f"need one factor per part, got {len(parts)} parts and {len(factors)} factors")
        self.learned = parts[0]
        kept = [(p, float(f)) for p, f in zip(parts, factors) if f != 0]
        self.parts, self.factors = [p for p, _ in kept], [f for _, f in kept]
        self.record, self.parents = record, (list(parents) if parents is not None else None)
        self.part_dims = None

    def joint_index(self, num_joints: int) -> np.ndarray | None:
        """Every part's joint indices in turn (``None`` when a part has none, e.g. node pooling)."""
        idx = [p.joint_index(num_joints) if hasattr(p, "joint_index") else None for p in self.parts]
        return None if any(i is None for i in idx) else np.concatenate(idx)

    # Windows per step: the no-learning parts' float64 temporaries of a few thousand windows stay in
    # cache (benchmarks/builtin_speed.py: bone directions of 10,000 windows at once ran at about half
    # the rate of 2,048 at a time). Every row is computed on its own, so the chunk changes nothing else.
    chunk = 1024

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        windows = np.asarray(windows)
        out = []
        for lo in range(0, len(windows), self.chunk):
            blocks = [p(windows[lo:lo + self.chunk]) * np.float32(f) for p, f in zip(self.parts, self.factors)]
            self.part_dims = tuple(b.shape[1] for b in blocks)
            out.append(np.concatenate(blocks, axis=1))
        return np.concatenate(out) if out else np.concatenate([p(windows) for p in self.parts], axis=1)


class EncoderEmbedder:
    """Embeds windows with a trained :class:`ActionEncoder` (eval mode, batched, no grad).

    ``fast=True`` (the default) runs :func:`fast_embed`, the encoder's function computed for inference
    only: equal to the module's forward up to float32 rounding (about 6e-6 of an embedding's norm;
    utd-mhad's evaluation, one seed, gives bit-identical per-category AUCs either way) and several
    times faster on CPU (benchmarks/README.md, "Speed"). ``fast=False`` runs the module's own forward
    in batches of ``batch_size``.
    """

    name = "fewshot"

    def __init__(self, encoder: ActionEncoder, batch_size: int = 4096, fast: bool = True):
        self.encoder = encoder.eval()
        self.batch_size = batch_size
        self.fast = fast

    def joint_index(self, num_joints: int) -> np.ndarray | None:
        """With per-joint pooling every embedding dimension is one joint; with node pooling none is."""
        return np.arange(num_joints) if self.encoder.config.pooling == "joint" else None

    @torch.no_grad()
    def __call__(self, windows: np.ndarray) -> np.ndarray:
        windows = np.asarray(windows, dtype=np.float32)
        if self.fast:
            return fast_embed(self.encoder, windows)
        out = [self.encoder(torch.from_numpy(windows[i:i + self.batch_size])).numpy()
               for i in range(0, len(windows), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.encoder.config.embedding_dim), np.float32)


# Windows per step of fast_embed with several threads. Every batch costs each thread a few dozen
# synchronisations, which cost a scheduler time slice each when the cores are shared with other jobs
# (measured with the earlier MKL form of this path, 2 threads beside one job: 490 windows/s at 256,
# 2,050 at 1,024; the module's forward 1,750).
FAST_BATCH = 1024
# With one thread nothing waits, and batches that keep the activations in cache are faster (utd-mhad's
# encoder, 1 thread: 19,200 windows/s at 128 and at 256, 17,300 at 512, 15,300 at 1,024;
# benchmarks/README.md, "Speed"); 256 is the chunk haad.detector.stream_chunk hands over with one thread.
FAST_BATCH_ONE_THREAD = 256


def _folded_layer(gc, bn, num_joints: int):
    """A graph convolution followed by eval-mode BatchNorm and tanh as (weight (F_out, F_in), A, 2 scale,
    2 shift), scale and shift node-major (J, 1, F) and doubled for tanh(z) = 2 sigmoid(2 z) - 1."""
    f = gc.weight.shape[1]
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias - bn.running_mean * scale
    if gc.bias is not None:
        shift = shift + gc.bias.repeat(num_joints) * scale
    return (gc.weight.t().contiguous(), gc.adj.contiguous(), (2 * scale).reshape(num_joints, 1, f),
            (2 * shift).reshape(num_joints, 1, f))


def _graph_conv(x: torch.Tensor, weight: torch.Tensor, adj: torch.Tensor, onednn: bool) -> torch.Tensor:
    """A (X W) for node-major x (J, B, F) and ``weight`` = W^T (F_out, F): one GEMM for the weight and
    one for the adjacency over the whole batch, both through oneDNN when ``onednn``."""
    j, b, f = x.shape
    y = linear(x.reshape(j * b, f), weight, onednn=onednn).reshape(j, b * weight.shape[0])
    return matmul(adj, y, onednn=onednn).reshape(j, b, weight.shape[0])


def _bn_tanh_(z: torch.Tensor, scale2: torch.Tensor, shift2: torch.Tensor) -> torch.Tensor:
    """tanh(scale z + shift) in place, as 2 sigmoid(2 scale z + 2 shift) - 1: torch's CPU tanh is many
    times slower than its sigmoid (with the multiply-add, 2.4 against 0.5 ns an element on one thread,
    benchmarks/README.md, "Speed"); the identity costs a few float32 roundings of 1, absolute."""
    return torch.sigmoid_(z.mul_(scale2).add_(shift2)).mul_(2).sub_(1)


def fast_embed(encoder: ActionEncoder, windows: np.ndarray, batch_size: int | None = None) -> np.ndarray:
    """:meth:`ActionEncoder.forward` of an encoder in eval mode, computed for inference only.

    The activations are kept node-major, (J, B, F), so that the shared weight and the dense adjacency
    are each one matrix product over the whole batch (the module broadcasts the J x J adjacency over
    the batch instead), run through oneDNN's linear on the CPU where this torch has it
    (:mod:`haad.onednn`; ``F.linear`` and ``torch.mm`` otherwise); each eval-mode BatchNorm (and the
    bias in front of it) becomes one multiply-add and each tanh a sigmoid, applied in place; the DCT is
    one batched product. Batches of ``batch_size`` windows (default :data:`FAST_BATCH_ONE_THREAD`
    with one torch thread, :data:`FAST_BATCH` with more) mostly stay in cache.
    Training and the module are untouched: the parameters are read as they are at each call.
    """
    cfg = encoder.config
    windows = np.asarray(windows, dtype=np.float32)
    if windows.ndim != 4 or windows.shape[1:] != (cfg.window, cfg.num_joints, 3):
        raise ValueError(f"expected windows of shape (B, {cfg.window}, {cfg.num_joints}, 3), got {windows.shape}")
    if encoder.training:
        raise ValueError("fast_embed needs an encoder in eval mode (BatchNorm with running statistics)")
    if batch_size is None:
        batch_size = FAST_BATCH_ONE_THREAD if torch.get_num_threads() == 1 else FAST_BATCH
    p = encoder.out.weight
    onednn = p.device.type == "cpu" and p.dtype == torch.float32 and onednn_matmul_available()
    j, m, h = cfg.num_joints, cfg.n_coef, cfg.window
    out = np.empty((len(windows), cfg.embedding_dim), np.float32)
    with torch.inference_mode():
        first = _folded_layer(encoder.inp.gc, encoder.inp.bn, j)
        blocks = [(_folded_layer(b.a.gc, b.a.bn, j), _folded_layer(b.b.gc, b.b.bn, j)) for b in encoder.blocks]
        out_weight, out_adj = encoder.out.weight.t().contiguous(), encoder.out.adj.contiguous()
        dct_basis = encoder.dct

        def layer(x, params):
            weight, adj, scale2, shift2 = params
            return _bn_tanh_(_graph_conv(x, weight, adj, onednn), scale2, shift2)

        for lo in range(0, len(windows), batch_size):
            w = torch.from_numpy(windows[lo:lo + batch_size])
            n = len(w)
            # (M, H) @ (n, H, 3J) -> (n, M, J, 3) -> node-major (J, n, 3M), feature 3k + c as in the module
            coef = (torch.matmul(dct_basis, w.reshape(n, h, 3 * j)).view(n, m, j, 3)
                    .permute(2, 0, 1, 3).reshape(j, n, 3 * m))
            x = layer(coef, first)
            for a, b in blocks:
                x = layer(layer(x, a), b).add_(x)
            feats = _graph_conv(x, out_weight, out_adj, onednn).add_(encoder.out.bias).add_(coef)
            pooled = feats.amax(dim=2).T if cfg.pooling == "joint" else feats.amax(dim=0)
            out[lo:lo + n] = pooled.numpy()
    return out
