import numpy as np
import pytest
import torch

import haad.train as train_mod
from haad.checkpoint import CheckpointError
from haad.data.splits import protocol_split
from haad.data.synthetic import synthesize
from haad.data.windows import make_windows
from haad.encoder import EncoderConfig
from haad.evaluation.protocol import EvalConfig, evaluate
from haad.train import TrainConfig, load_encoder, lr_factor, train_encoder


@pytest.fixture(scope="module")
def synth():
    return synthesize(clips_per_class=24, seed=3)


def _train_set(data):
    split = protocol_split(data)
    idx = split.seen_train()
    return make_windows([data.clips[i] for i in idx], data.layout.root), data.labels[idx]


def test_lr_schedule():
    cfg = TrainConfig(epochs=101)  # the paper's schedule
    assert [lr_factor(e, cfg) for e in range(6)] == [1.0] * 6
    assert lr_factor(6, cfg) == pytest.approx(1 - 1 / 97)
    assert lr_factor(100, cfg) == pytest.approx(1 - 95 / 97)


def test_resume_reproduces_uninterrupted_run(synth, tmp_path, monkeypatch):
    x, y = _train_set(synth)
    cfg = TrainConfig(epochs=4, iters_per_epoch=3, checkpoint_every=2, lr_fix_epochs=1, seed=7)
    ecfg = EncoderConfig(num_joints=24)
    full, _ = train_encoder(x, y, ecfg, cfg, out_dir=tmp_path / "a", progress=False)

    real = train_mod.lr_factor

    def crash(epoch, c):
        if epoch == 3:
            raise KeyboardInterrupt
        return real(epoch, c)

    monkeypatch.setattr(train_mod, "lr_factor", crash)
    with pytest.raises(KeyboardInterrupt):
        train_encoder(x, y, ecfg, cfg, out_dir=tmp_path / "b", progress=False)
    monkeypatch.setattr(train_mod, "lr_factor", real)
    _, header = load_encoder(tmp_path / "b")
    assert header["meta"]["epochs_done"] == 2 and not header["meta"]["complete"]
    resumed, hist = train_encoder(x, y, ecfg, cfg, out_dir=tmp_path / "b", resume=True, progress=False)
    assert len(hist["loss"]) == 4
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), k
    # the saved checkpoint loads back to the same weights and says it is complete
    loaded, header = load_encoder(tmp_path / "b")
    assert header["meta"]["complete"] and header["meta"]["train"]["seed"] == 7
    assert (tmp_path / "b" / "weights.safetensors").is_file()
    # resuming with other settings is refused rather than silently mixing runs
    with pytest.raises(CheckpointError, match="other settings"):
        train_encoder(x, y, ecfg, TrainConfig(epochs=5, iters_per_epoch=3), out_dir=tmp_path / "b",
                      resume=True, progress=False)


def test_extra_views_shape_checked(synth):
    x, y = _train_set(synth)
    with pytest.raises(ValueError, match="extra_views"):
        train_encoder(x, y, EncoderConfig(), TrainConfig(epochs=1, iters_per_epoch=1),
                      extra_views=np.zeros((len(x), 1, 50, 24, 3), np.float32), progress=False)
    enc, hist = train_encoder(x, y, EncoderConfig(), TrainConfig(epochs=1, iters_per_epoch=2, lr_fix_epochs=0),
                              extra_views=x[:, None] + 0.01, progress=False)
    assert len(hist["loss"]) == 1 and np.isfinite(hist["loss"][0])


@pytest.mark.slow
def test_learned_encoder_beats_floor_on_synthetic(synth):
    # Measured (24 clips per action, seed 3): dct-distance 0.944, encoder after 12 x 20 steps 0.991.
    # Floors below those with margin.
    floor = evaluate(synth, EvalConfig(method="dct-distance", seeds=(0, 1)), progress=False)
    ours = evaluate(synth, EvalConfig(seeds=(0,), train=TrainConfig(epochs=12, iters_per_epoch=20)),
                    progress=False)
    print("dct-distance", floor["mean"], "fewshot", ours["mean"], ours["unseen_mean"])
    assert 0.7 < floor["mean"] < 0.97
    assert ours["mean"] > 0.93
    assert ours["unseen_mean"] > 0.88
    assert ours["mean"] > floor["mean"] + 0.025


def test_resume_refuses_other_data_or_window(synth, tmp_path):
    x, y = _train_set(synth)
    cfg = TrainConfig(epochs=1, iters_per_epoch=2, lr_fix_epochs=0)
    ecfg = EncoderConfig(num_joints=24)
    train_encoder(x, y, ecfg, cfg, out_dir=tmp_path, progress=False, meta={"window": {"crop": "first"}})
    with pytest.raises(CheckpointError, match="train_data_digest"):
        train_encoder(x[::-1].copy(), y[::-1].copy(), ecfg, cfg, out_dir=tmp_path, resume=True, progress=False,
                      meta={"window": {"crop": "first"}})
    with pytest.raises(CheckpointError, match="window"):
        train_encoder(x, y, ecfg, cfg, out_dir=tmp_path, resume=True, progress=False,
                      meta={"window": {"crop": "resample"}})
    # identical data and settings: the finished encoder is reused as it is
    enc, hist = train_encoder(x, y, ecfg, cfg, out_dir=tmp_path, resume=True, progress=False,
                              meta={"window": {"crop": "first"}})
    assert len(hist["loss"]) == 1
