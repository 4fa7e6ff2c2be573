"""The inference-only encoder path (`EncoderEmbedder(fast=True)`, `fast_embed`: node-major activations,
one GEMM per weight and per adjacency, through oneDNN where torch has it, BatchNorm folded into a
multiply-add, tanh(z) as 2 sigmoid(2z) - 1) gives the module's scores, with oneDNN and without.

Tolerances: embeddings within 1e-5 of their norm; scores with exact float64 distances within 1e-4
relative, each; the detector's own float32 scores within 1e-4 of the largest score (its
`torch.cdist` shortcut, |q|^2 + |s|^2 - 2 q.s, loses relative digits for clips close to the support,
whichever encoder path made the embeddings). `EncoderEmbedder(fast=False)` is the module's forward,
unchanged.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from haad.data import load_dataset
from haad.distances import exact_distances
from haad.embedders import EncoderEmbedder, fast_embed
from haad.encoder import ActionEncoder, EncoderConfig
from haad.encoders import resolve_encoder
from haad.inference import SupportConfig, fit_detector
from haad.onednn import linear, matmul, onednn_linear_available, onednn_matmul_available

from conftest import require_dataset


def rel_rows(a: np.ndarray, b: np.ndarray) -> float:
    return float((np.linalg.norm(a - b, axis=1) / np.maximum(np.linalg.norm(a, axis=1), 1e-12)).max())


@pytest.mark.parametrize("onednn", [True, False])
def test_onednn_helpers_compute_what_torch_computes(onednn):
    if onednn and not onednn_matmul_available():
        pytest.skip("this torch has no usable oneDNN linear")
    assert onednn_matmul_available() <= onednn_linear_available()
    g = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(300, 40, generator=g), torch.randn(24, 40, generator=g), torch.randn(24, generator=g)
    torch.testing.assert_close(linear(x, w, b, onednn=onednn), torch.nn.functional.linear(x, w, b))
    torch.testing.assert_close(linear(x, w, onednn=onednn), x @ w.t())
    a, y = torch.randn(20, 20, generator=g), torch.randn(20, 3000, generator=g)
    torch.testing.assert_close(matmul(a, y, onednn=onednn), a @ y)


@pytest.mark.parametrize("onednn", [True, False])
@pytest.mark.parametrize("pooling", ["joint", "node"])
def test_fast_embed_equals_the_module_on_synthetic_windows(pooling, onednn, monkeypatch):
    import haad.embedders

    if not onednn:  # the F.linear / torch.mm path (no oneDNN in this torch, or off the CPU)
        monkeypatch.setattr(haad.embedders, "onednn_matmul_available", lambda: False)
    elif not onednn_matmul_available():
        pytest.skip("this torch has no usable oneDNN linear")
    torch.manual_seed(1)
    enc = ActionEncoder(EncoderConfig(num_joints=20, pooling=pooling, blocks=2)).eval()
    # Non-trivial BatchNorm statistics, as a trained encoder has.
    for m in enc.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    windows = np.random.default_rng(0).normal(size=(700, 60, 20, 3)).astype(np.float32)
    with torch.no_grad():
        expected = enc(torch.from_numpy(windows)).numpy()
    assert rel_rows(expected, fast_embed(enc, windows, batch_size=256)) <= 1e-5
    assert rel_rows(expected, fast_embed(enc, windows)) <= 1e-5  # the default batch for torch's threads
    assert fast_embed(enc, windows[:0]).shape == (0, enc.config.embedding_dim)
    # fast=False is the module's own forward, bit for bit.
    np.testing.assert_array_equal(EncoderEmbedder(enc, fast=False)(windows), expected)
    enc.train()
    with pytest.raises(ValueError, match="eval mode"):
        fast_embed(enc, windows)


@pytest.mark.slow
@pytest.mark.realdata
def test_fast_path_scores_match_the_module_on_real_clips():
    require_dataset("utd-mhad")
    data = load_dataset("utd-mhad")
    assert resolve_encoder("builtin").embedder.learned.fast
    exact = resolve_encoder("builtin", exact=True).embedder  # the hybrid with the module's own forward
    assert not exact.learned.fast
    for category in data.class_names[:: max(1, data.num_classes // 5)]:
        cfg = SupportConfig(category=category, k_shot=3)
        new = fit_detector(data, "builtin", cfg)
        old = copy.copy(new)
        old.embedder = exact  # the module's forward, as before
        old.fit([data.clips[i] for i in np.flatnonzero(data.labels == data.class_names.index(category))[:3]])
        e_old, e_new = old.embed(data.clips), new.embed(data.clips)
        assert rel_rows(e_old, e_new) <= 1e-5
        assert rel_rows(old.support_embeddings_, new.support_embeddings_) <= 1e-5
        d_old = exact_distances(torch.from_numpy(e_old), torch.from_numpy(old.support_embeddings_)).mean(1).numpy()
        d_new = exact_distances(torch.from_numpy(e_new), torch.from_numpy(new.support_embeddings_)).mean(1).numpy()
        assert np.max(np.abs(d_old - d_new) / d_old) <= 1e-4, category
        s_old, s_new = old.decision_function(data.clips), new.decision_function(data.clips)
        assert np.abs(s_old - s_new).max() <= 1e-4 * s_old.max(), category


def test_score_stream_in_chunks_gives_the_scores_of_one_batch():
    torch.manual_seed(2)
    from haad.detector import FewShotDetector
    from haad.data.synthetic import synthesize

    data = synthesize(clips_per_class=3, seed=1)
    enc = ActionEncoder(EncoderConfig(num_joints=data.layout.num_joints, blocks=1)).eval()
    det = FewShotDetector(EncoderEmbedder(enc), data.layout).fit(data.clips[:3])
    stream = np.concatenate(data.clips[3:12])
    starts, windows = det.stream_windows(stream, hop=3)
    expected = det.decision_function(windows)
    for chunk in (1, 7, len(windows), 10 ** 6):
        s, scores = det.score_stream(stream, hop=3, chunk=chunk)
        np.testing.assert_array_equal(s, starts)
        assert np.abs(scores - expected).max() <= 1e-4 * expected.max()
    with pytest.raises(ValueError, match="chunk"):
        det.score_stream(stream, chunk=0)
