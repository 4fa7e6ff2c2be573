"""`haad evaluate --encoder FILE.onnx`: an encoder exported by `haad export --format onnx` runs the
protocols that use a fixed encoder (the category protocol with a given encoder, the within-category
protocols) with onnxruntime doing the embedding, and gives the torch encoder's AUCs.

The protocol embeds with the torch module's own forward; onnxruntime computes the same function in
another order, so embeddings differ by float32 rounding (about 1e-6 of their norm) and AUCs, which
only see the order of the scores, agree within 1e-5 (on florence3d and bandai-namco they are equal).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -e \".[onnx]\")")
pytest.importorskip("onnx", reason="onnx is not installed (pip install -e \".[onnx]\")")

from conftest import require_dataset  # noqa: E402
from haad.data.synthetic import synthesize  # noqa: E402
from haad.encoder import ActionEncoder, EncoderConfig  # noqa: E402
from haad.evaluation.config import EvalConfig  # noqa: E402
from haad.evaluation.protocol import evaluate  # noqa: E402
from haad.onnx_export import export_onnx  # noqa: E402
from haad.train import save_encoder  # noqa: E402

ATOL = 1e-5


def haad(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-m", "haad.cli", *map(str, args)], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise AssertionError(f"haad {args} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


@pytest.fixture(scope="module")
def builtin_onnx(tmp_path_factory):
    """The built-in encoder exported through the CLI."""
    out = tmp_path_factory.mktemp("onnx") / "builtin.onnx"
    r = haad("export", "builtin", "--format", "onnx", "--out", out)
    assert out.is_file() and "exported as onnx" in r.stdout
    return out


def evaluate_cli(tmp_path, name: str, dataset: str, encoder) -> dict:
    out = tmp_path / name
    haad("evaluate", "--dataset", dataset, "--encoder", encoder, "--seeds", "2", "--out", out, "--quiet")
    return json.loads((out / "results.json").read_text())


def assert_same_aucs(torch_res: dict, onnx_res: dict) -> None:
    assert list(torch_res["per_category"]) == list(onnx_res["per_category"])
    for name, pc in torch_res["per_category"].items():
        a, b = np.asarray(pc["values"]), np.asarray(onnx_res["per_category"][name]["values"])
        assert a.shape == b.shape == (2,), name
        assert np.abs(a - b).max() <= ATOL, (name, a, b)
    assert abs(torch_res["mean"] - onnx_res["mean"]) <= ATOL


@pytest.mark.realdata
@pytest.mark.slow
def test_category_protocol_with_the_exported_builtin_gives_its_aucs(tmp_path, builtin_onnx):
    require_dataset("florence3d")
    res_t = evaluate_cli(tmp_path, "torch", "florence3d", "builtin")
    res_o = evaluate_cli(tmp_path, "onnx", "florence3d", builtin_onnx)
    assert_same_aucs(res_t, res_o)
    # results.json names the .onnx file and what the encoder was trained on, as for the checkpoint.
    assert res_t["encoder"] == "builtin" and res_o["encoder"] == str(builtin_onnx)
    assert res_o["encoder_trained_on"] == res_t["encoder_trained_on"] == ["utd-mhad", "nw-ucla", "florence3d"]
    assert res_o["seen_categories"] == res_t["seen_categories"] and res_o["unseen_categories"]
    assert res_o["options"] == res_t["options"] and res_o["seeds"] == [0, 1]
    # Detector thresholds come from the support embeddings: equal within float32 rounding too.
    st = np.load(tmp_path / "torch" / "scores.npz")
    so = np.load(tmp_path / "onnx" / "scores.npz")
    np.testing.assert_allclose(so["thresholds"], st["thresholds"], rtol=1e-5)
    np.testing.assert_allclose(so["aucs"], st["aucs"], atol=ATOL, rtol=0)


@pytest.mark.slow
@pytest.mark.realdata
def test_within_protocol_with_the_exported_builtin_gives_its_aucs(tmp_path, builtin_onnx):
    require_dataset("bandai-namco")
    res_t = evaluate_cli(tmp_path, "torch", "bandai-namco", "builtin")
    res_o = evaluate_cli(tmp_path, "onnx", "bandai-namco", builtin_onnx)
    assert res_o["protocol"] == "bandai-namco-style"
    assert_same_aucs(res_t, res_o)
    assert res_o["encoder"] == str(builtin_onnx) and res_o["encoder_trained_on"] == res_t["encoder_trained_on"]


def test_per_dataset_encoder_exported_to_onnx_gives_the_checkpoints_aucs(tmp_path):
    """No data needed: an (untrained) per-dataset encoder of the synthetic skeleton, as a checkpoint and as
    ONNX, under the category protocol through the API."""
    data = synthesize(clips_per_class=8, seed=3)
    torch.manual_seed(0)
    enc = ActionEncoder(EncoderConfig(num_joints=data.layout.num_joints, blocks=1)).eval()
    src = save_encoder(tmp_path / "enc", enc, {"dataset": data.source, "complete": True,
                                               "layout": data.layout.to_dict()})
    onnx_file = export_onnx(src, tmp_path / "enc.onnx")
    cfg = EvalConfig(seeds=(0, 1))
    res_t = evaluate(data, cfg, encoder_dir=src, progress=False)
    res_o = evaluate(data, cfg, encoder_dir=onnx_file, progress=False)
    assert_same_aucs(res_t, res_o)
    assert res_o["encoder"] == str(onnx_file) and "encoder_trained_on" not in res_o
    assert 0.5 < res_o["mean"] < 1.0  # an untrained encoder still separates some synthetic actions
