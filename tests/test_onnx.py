"""Encoders exported to ONNX (`haad export --format onnx`) embed like the torch encoder they came from,
through the API and the real CLI, with onnxruntime doing the embedding.

Tolerances. The encoders agree within 1e-5 relative: each embedding row within 1e-5 of its norm, and
so (triangle inequality) each score computed with exact distances within 1e-5 of the embeddings'
scale (|e| + mean support |s|). The detector's own scores (`mean_distance`: float32 `torch.cdist`,
whose matrix-product shortcut computes |q|^2 + |s|^2 - 2 q.s) lose digits for queries close to the
support; there the two encoders' 5e-6 differences come out larger (up to ~6e-5 of the largest
score on utd-mhad), and the CSV comparison allows for that (1e-4 of the largest score).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -e \".[onnx]\")")
pytest.importorskip("onnx", reason="onnx is not installed (pip install -e \".[onnx]\")")

from haad.data import load_dataset  # noqa: E402
from haad.distances import exact_distances  # noqa: E402
from haad.encoder import ActionEncoder, EncoderConfig  # noqa: E402
from haad.embedders import HybridEmbedder  # noqa: E402
from haad.encoders import resolve_encoder  # noqa: E402
from haad.inference import SupportConfig, fit_detector  # noqa: E402
from haad.onnx_export import OnnxEmbedder, export_onnx, read_header  # noqa: E402
from haad.train import save_encoder  # noqa: E402

from conftest import require_dataset  # noqa: E402

RTOL = 1e-5


def haad(*args, check=True):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-m", "haad.cli", *map(str, args)], capture_output=True, text=True, env=env)
    if check and r.returncode != 0:
        raise AssertionError(f"haad {args} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


@pytest.fixture(scope="module")
def builtin_onnx(tmp_path_factory):
    return export_onnx("builtin", tmp_path_factory.mktemp("onnx") / "builtin.onnx")


def assert_embeddings_match(a: np.ndarray, b: np.ndarray) -> None:
    rel = np.linalg.norm(a - b, axis=1) / np.maximum(np.linalg.norm(a, axis=1), 1e-12)
    assert rel.max() <= RTOL, f"embeddings differ by {rel.max():.2e} of their norm"


def assert_exact_scores_match(ea, eb, sa, sb) -> None:
    """Scores with exact float64 distances agree within RTOL of the embeddings' scale."""
    da = exact_distances(torch.from_numpy(ea), torch.from_numpy(sa)).mean(1).numpy()
    db = exact_distances(torch.from_numpy(eb), torch.from_numpy(sb)).mean(1).numpy()
    scale = np.linalg.norm(ea, axis=1) + np.linalg.norm(sa, axis=1).mean()
    worst = (np.abs(da - db) / scale).max()
    assert worst <= RTOL, f"scores differ by {worst:.2e} of the embeddings' scale"


def test_export_keeps_the_header_and_a_dynamic_batch(builtin_onnx):
    import onnx

    header = read_header(builtin_onnx)
    torch_choice, onnx_choice = resolve_encoder("builtin"), resolve_encoder(builtin_onnx)
    assert header["config"] == torch_choice.header["config"] and header["exported_from"] == "builtin"
    assert onnx_choice.pretrained == torch_choice.pretrained and onnx_choice.pretrained is not None
    assert onnx_choice.normalization == torch_choice.normalization
    # The file holds the trained module; the hybrid record in its header rebuilds the no-learning parts.
    assert isinstance(onnx_choice.embedder, HybridEmbedder) and isinstance(onnx_choice.embedder.learned, OnnxEmbedder)
    assert onnx_choice.embedder.record == torch_choice.embedder.record and onnx_choice.encoder is None
    dim = onnx.load(str(builtin_onnx)).graph.input[0].type.tensor_type.shape.dim
    assert dim[0].dim_param and [d.dim_value for d in dim[1:]] == [60, 16, 3]
    width = 16 + 4 * 15 * 3 + 10 * 16 * 3  # learned (one per joint), bone directions, positions
    for n in (1, 7, 0):  # any batch size, including none
        assert onnx_choice.embedder.learned(np.zeros((n, 60, 16, 3), np.float32)).shape == (n, 16)
        assert onnx_choice.embedder(np.zeros((n, 60, 16, 3), np.float32)).shape == (n, width)
    with pytest.raises(ValueError, match="expected windows of shape"):
        onnx_choice.embedder(np.zeros((2, 60, 15, 3), np.float32))


def test_per_dataset_checkpoint_exports_and_matches_on_synthetic_windows(tmp_path):
    torch.manual_seed(0)
    enc = ActionEncoder(EncoderConfig(num_joints=20, pooling="node")).eval()
    src = save_encoder(tmp_path / "enc", enc, {"dataset": "synthetic", "complete": True})
    path = export_onnx(src, tmp_path / "enc.onnx")
    choice = resolve_encoder(path)
    assert choice.pretrained is None and choice.embedder.joint_index(20) is None
    windows = np.random.default_rng(0).normal(size=(300, 60, 20, 3)).astype(np.float32)
    with torch.no_grad():
        expected = enc(torch.from_numpy(windows)).numpy()
    assert_embeddings_match(expected, choice.embedder(windows))


def test_export_refuses_what_it_cannot_export(tmp_path, builtin_onnx):
    with pytest.raises(ValueError, match="must end in .onnx"):
        export_onnx("builtin", tmp_path / "x.bin")
    with pytest.raises(ValueError, match="checkpoint directory"):
        export_onnx("dct", tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="checkpoint directory"):
        export_onnx(builtin_onnx, tmp_path / "x.onnx")


@pytest.mark.realdata
def test_api_scores_match_torch_on_real_clips(builtin_onnx):
    require_dataset("utd-mhad")
    data = load_dataset("utd-mhad")
    cfg = SupportConfig(category=data.class_names[0], k_shot=3)
    det_t = fit_detector(data, "builtin", cfg)
    det_o = fit_detector(data, builtin_onnx, cfg)
    assert isinstance(det_o.embedder.learned, OnnxEmbedder) and det_o.preprocessor is not None
    ea, eb = det_t.embed(data.clips), det_o.embed(data.clips)
    assert_embeddings_match(ea, eb)
    assert_embeddings_match(det_t.support_embeddings_, det_o.support_embeddings_)
    assert_exact_scores_match(ea, eb, det_t.support_embeddings_, det_o.support_embeddings_)
    # Windows taken as they are (no preprocessing): the same check on the raw windows of every clip.
    w = det_t.windows(data.clips)
    assert_embeddings_match(det_t.embedder(w), det_o.embedder(w))
    with pytest.raises(ValueError, match="cannot be saved"):
        det_o.save(builtin_onnx.parent / "det")


@pytest.mark.slow
@pytest.mark.realdata
def test_cli_export_then_detect_gives_torchs_scores(tmp_path):
    require_dataset("utd-mhad")
    model = tmp_path / "builtin.onnx"
    r = haad("export", "builtin", "--format", "onnx", "--out", model)
    assert model.is_file() and "exported as onnx" in r.stdout
    common = ("--support", "utd-mhad", "--category", "wave", "--k-shot", "3", "--input", "utd-mhad")
    haad("detect", *common, "--encoder", "builtin", "--out", tmp_path / "t.csv")
    haad("detect", *common, "--encoder", model, "--out", tmp_path / "o.csv")
    rows_t = list(csv.DictReader(open(tmp_path / "t.csv")))
    rows_o = list(csv.DictReader(open(tmp_path / "o.csv")))
    assert [r["clip"] for r in rows_t] == [r["clip"] for r in rows_o] and len(rows_t) > 800
    st = np.array([float(r["score"]) for r in rows_t])
    so = np.array([float(r["score"]) for r in rows_o])
    assert np.abs(st - so).max() <= 1e-4 * st.max(), np.abs(st - so).max() / st.max()
    # Most scores agree within RTOL outright (those far from the support, where float32 distances keep their digits).
    assert np.mean(np.abs(st - so) <= RTOL * st) > 0.9
    r = haad("detect", *common, "--encoder", model, "--out", tmp_path / "s.csv", "--save", tmp_path / "det", check=False)
    assert r.returncode == 2 and "cannot be saved" in r.stderr and not (tmp_path / "det").exists()
    r = haad("export", "builtin", "--out", tmp_path / "x.txt", check=False)
    assert r.returncode == 2 and "must end in .onnx" in r.stderr
