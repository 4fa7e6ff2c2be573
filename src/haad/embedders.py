"""Embedders: callables mapping ``(N, H, J, 3)`` windows to ``(N, D)`` embeddings for the few-shot detector.

:class:`EncoderEmbedder` runs a trained :class:`~haad.encoder.ActionEncoder`; :class:`DCTEmbedder` is
the no-learning floor (the window's first DCT coefficients). Each also says which joint every
embedding dimension belongs to, where that is defined, for the embedding-split explanation.
"""

from __future__ import annotations

import numpy as np
import torch

from haad.dct import dct
from haad.encoder import ActionEncoder


class DCTEmbedder:
    """No-learning embedding: the flattened first ``n_coef`` DCT coefficients of the window."""

    name = "dct-distance"

    def __init__(self, n_coef: int = 10):
        self.n_coef = n_coef

    def joint_index(self, num_joints: int) -> np.ndarray:
        """The joint each embedding dimension belongs to (layout (M, J, 3) flattened)."""
        return np.tile(np.repeat(np.arange(num_joints), 3), self.n_coef)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        return dct(np.asarray(windows, dtype=np.float64), self.n_coef).reshape(len(windows), -1).astype(np.float32)


class EncoderEmbedder:
    """Embeds windows with a trained :class:`ActionEncoder` (eval mode, batched, no grad)."""

    name = "fewshot"

    def __init__(self, encoder: ActionEncoder, batch_size: int = 4096):
        self.encoder = encoder.eval()
        self.batch_size = batch_size

    def joint_index(self, num_joints: int) -> np.ndarray | None:
        """With per-joint pooling every embedding dimension is one joint; with node pooling none is."""
        return np.arange(num_joints) if self.encoder.config.pooling == "joint" else None

    @torch.no_grad()
    def __call__(self, windows: np.ndarray) -> np.ndarray:
        windows = np.asarray(windows, dtype=np.float32)
        out = [self.encoder(torch.from_numpy(windows[i:i + self.batch_size])).numpy()
               for i in range(0, len(windows), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.encoder.config.embedding_dim), np.float32)
