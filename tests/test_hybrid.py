"""The pretrained encoder's hybrid embedding (haad.hybrid, docs/METHOD.md Eq. H1): typical distances,
the record a pretraining writes, the embedder it rebuilds, and detectors that keep it through save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from haad.canonical import CANONICAL
from haad.embedders import BoneDCTEmbedder, DCTEmbedder, EncoderEmbedder, HybridEmbedder
from haad.encoders import BUILTIN_DIR, resolve_encoder
from haad.hybrid import HybridConfig, hybrid_embedder, hybrid_record, typical_distance


def test_typical_distance_is_the_mean_distance_between_distinct_rows():
    two = np.array([[0.0, 0.0], [3.0, 4.0]])
    assert typical_distance(two, 50, 0) == pytest.approx(5.0)  # every pair is the two distinct rows
    with pytest.raises(ValueError, match="at least two"):
        typical_distance(two[:1], 10, 0)
    with pytest.raises(ValueError, match="same"):
        typical_distance(np.ones((4, 3)), 10, 0)


def test_scales_are_measured_within_each_dataset():
    class Offset:  # a stand-in for the learned part: the windows' first coordinate, as it is
        def __call__(self, w):
            return w[:, 0, 0, :1].astype(np.float32)

    rng = np.random.default_rng(0)
    windows = rng.normal(size=(40, 60, CANONICAL.num_joints, 3)).astype(np.float32)
    windows[20:, :, :, 0] += 100.0  # the second dataset sits far from the first
    groups = np.repeat([0, 1], 20)
    cfg = HybridConfig(pairs=2000)
    within = hybrid_record(cfg, Offset(), windows, CANONICAL.parents, groups)
    pooled = hybrid_record(cfg, Offset(), windows, CANONICAL.parents)
    # Across the two datasets the first coordinate differs by 100; within each by about 1.13 (|N(0,2)|).
    assert within["scales"]["learned"] < 2.0 < 40.0 < pooled["scales"]["learned"]
    assert within["datasets"] == 2 and pooled["datasets"] == 1 and within["windows"] == 40
    with pytest.raises(ValueError, match="group labels"):
        hybrid_record(cfg, Offset(), windows, CANONICAL.parents, groups[:5])


def test_hybrid_embedder_weights_each_part_by_its_scale():
    rng = np.random.default_rng(1)
    windows = rng.normal(size=(5, 60, CANONICAL.num_joints, 3)).astype(np.float32)

    class Learned:
        def __call__(self, w):
            return np.full((len(w), 16), 2.0, np.float32)

        def joint_index(self, num_joints):
            return np.arange(num_joints)

    record = {**json.loads(json.dumps(HybridConfig().__dict__)), "position_weight": 0.5,
              "scales": {"learned": 4.0, "bones": 2.0, "positions": 10.0}}
    emb = hybrid_embedder(Learned(), record, CANONICAL.parents)
    bones = BoneDCTEmbedder(CANONICAL.parents, 4)(windows)
    positions = DCTEmbedder(10)(windows)
    out = emb(windows)
    assert out.shape == (5, 16 + bones.shape[1] + positions.shape[1])
    np.testing.assert_allclose(out[:, :16], 0.5)  # 2 * 1 / 4
    np.testing.assert_allclose(out[:, 16:16 + bones.shape[1]], bones / 2.0, rtol=1e-6)
    np.testing.assert_allclose(out[:, 16 + bones.shape[1]:], positions * 0.05, rtol=1e-6)
    assert len(emb.joint_index(CANONICAL.num_joints)) == out.shape[1]
    assert emb(windows[:0]).shape == (0, out.shape[1])
    # a part weighted 0 is left out, not computed as zeros
    assert hybrid_embedder(Learned(), {**record, "position_weight": 0.0}, CANONICAL.parents)(windows).shape[1] == \
        16 + bones.shape[1]
    with pytest.raises(ValueError, match="malformed hybrid record"):
        hybrid_embedder(Learned(), {k: v for k, v in record.items() if k != "scales"}, CANONICAL.parents)
    with pytest.raises(ValueError, match="not all 0"):
        HybridConfig(learned_weight=0, bone_weight=0, position_weight=0)


def test_the_shipped_encoder_carries_its_hybrid_record():
    header = json.loads((BUILTIN_DIR / "config.json").read_text())
    record = header["meta"]["hybrid"]
    assert record["datasets"] == len(header["meta"]["pretrained"]["datasets"])
    assert all(record["scales"][p] > 0 for p in ("learned", "bones", "positions"))
    chosen = resolve_encoder("builtin")
    assert isinstance(chosen.embedder, HybridEmbedder) and isinstance(chosen.embedder.learned, EncoderEmbedder)
    assert chosen.encoder is chosen.embedder.learned.encoder
    assert resolve_encoder("builtin", exact=True).embedder.learned.fast is False


def test_pretrain_records_the_hybrid_and_no_hybrid_leaves_it_out(tmp_path):
    from haad.pretrain import PretrainConfig, pretrain
    from haad.train import TrainConfig

    train = TrainConfig(epochs=1, iters_per_epoch=2, lr_fix_epochs=0)
    _, _, record = pretrain(PretrainConfig(datasets=("synthetic",), train=train), tmp_path / "hy")
    header = json.loads((tmp_path / "hy" / "config.json").read_text())
    assert header["meta"]["hybrid"] == record["hybrid"] and header["meta"]["complete"]
    chosen = resolve_encoder(tmp_path / "hy")  # the weights still load with the rewritten config
    assert isinstance(chosen.embedder, HybridEmbedder)
    pretrain(PretrainConfig(datasets=("synthetic",), train=train, hybrid=None), tmp_path / "plain")
    plain = resolve_encoder(tmp_path / "plain")
    assert isinstance(plain.embedder, EncoderEmbedder) and plain.header["meta"]["hybrid"] is None
    # the same trained encoder: the hybrid's first part is the plain embedding, weighted
    w = np.random.default_rng(0).normal(size=(4, 60, CANONICAL.num_joints, 3)).astype(np.float32)
    factor = record["hybrid"]["learned_weight"] / record["hybrid"]["scales"]["learned"]
    np.testing.assert_allclose(chosen.embedder(w)[:, :16], plain.embedder(w) * factor, rtol=1e-5, atol=1e-6)
    # the same checkpoint again without a hybrid: it is reused, and embeds as the config now says
    pretrain(PretrainConfig(datasets=("synthetic",), train=train, hybrid=None), tmp_path / "hy")
    assert isinstance(resolve_encoder(tmp_path / "hy").embedder, EncoderEmbedder)


def test_an_encoder_whose_scales_were_never_measured_is_refused(tmp_path):
    import shutil

    from haad.checkpoint import update_meta
    from haad.encoders import export_encoder

    shutil.copytree(BUILTIN_DIR, tmp_path / "enc")
    record = json.loads((BUILTIN_DIR / "config.json").read_text())["meta"]["hybrid"]
    update_meta(tmp_path / "enc", "hybrid", {**record, "scales": None})  # stopped before measuring them
    with pytest.raises(ValueError, match="never measured.*haad pretrain"):
        resolve_encoder(tmp_path / "enc")
    with pytest.raises(ValueError, match="never measured"):
        export_encoder(tmp_path / "enc", tmp_path / "out")
    update_meta(tmp_path / "enc", "hybrid", {**record, "scales": {**record["scales"], "bones": -1.0}})
    with pytest.raises(ValueError, match="bones need a finite scale"):
        resolve_encoder(tmp_path / "enc")


def test_detectors_on_the_hybrid_keep_it_through_save_and_load(tmp_path):
    from haad.data.synthetic import synthesize
    from haad.detector import FewShotDetector
    from haad.inference import SupportConfig, fit_detector

    data = synthesize(clips_per_class=6, seed=2)
    det = fit_detector(data, None, SupportConfig(category="walk", k_shot=3, scale="pool"))
    assert isinstance(det.embedder.inner, HybridEmbedder)  # pool scaling around the hybrid
    det.save(tmp_path / "det")
    back = FewShotDetector.load(tmp_path / "det")
    np.testing.assert_array_equal(back.decision_function(data.clips[:12]), det.decision_function(data.clips[:12]))
    # a hybrid built by hand, without the record it would be rebuilt from, is refused before writing
    det.embedder = HybridEmbedder(det.embedder.inner.parts, det.embedder.inner.factors)
    with pytest.raises(ValueError, match="record and parents"):
        det.save(tmp_path / "det2")
    assert not (tmp_path / "det2").exists()


def test_a_hybrid_record_without_parents_is_a_clear_error(tmp_path):
    import shutil

    shutil.copytree(BUILTIN_DIR, tmp_path / "enc")
    from haad.checkpoint import update_meta

    update_meta(tmp_path / "enc", "layout", None)
    with pytest.raises(ValueError, match="parents"):
        resolve_encoder(tmp_path / "enc")


@pytest.mark.slow
def test_pretrain_cli_writes_the_settings_it_was_given(tmp_path):
    import subprocess
    import sys

    def haad(*args):
        return subprocess.run([sys.executable, "-m", "haad", "pretrain", "--datasets", "synthetic", "--epochs", "1",
                               "--iters-per-epoch", "2", "--quiet", *map(str, args)], capture_output=True, text=True)

    r = haad("--no-hybrid", "--categories-per-dataset", "0", "--out", tmp_path / "plain")
    assert r.returncode == 0, r.stderr
    meta = json.loads((tmp_path / "plain" / "config.json").read_text())["meta"]
    assert meta["hybrid"] is None and "categories_per_dataset" not in meta["pretrained"]
    r = haad("--out", tmp_path / "hy")
    meta = json.loads((tmp_path / "hy" / "config.json").read_text())["meta"]
    assert r.returncode == 0 and meta["hybrid"]["bone_weight"] == HybridConfig().bone_weight
    assert meta["pretrained"]["categories_per_dataset"] == 8 and meta["train"]["epochs"] == 1
    r = haad("--categories-per-dataset", "-1", "--out", tmp_path / "bad")
    assert r.returncode == 2 and "--categories-per-dataset -1" in r.stderr and not (tmp_path / "bad").exists()
