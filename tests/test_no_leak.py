"""Unseen categories never reach any training: checked on what the trainers actually receive."""

import json

import numpy as np

import haad.train as training
import haad.generator.train as gen_train
from haad.cli import main
from haad.data.splits import protocol_split
from haad.data.synthetic import synthesize
from haad.evaluation.protocol import EvalConfig, evaluate
from haad.train import TrainConfig


def test_split_is_deterministic_and_exact():
    data = synthesize(clips_per_class=10, seed=1)
    a, b = protocol_split(data), protocol_split(data)
    assert all(np.array_equal(x, y) for x, y in zip(a.train_pools, b.train_pools))
    assert np.array_equal(a.test, b.test)
    assert a.seen == tuple(range(9)) and a.unseen == (9, 10, 11)  # C = 12: last ceil(12 / 4) = 3
    assert all(len(p) == 8 for p in a.train_pools)  # int(0.8 * 10)
    pools = np.concatenate(a.train_pools)
    assert len(np.intersect1d(pools, a.test)) == 0 and len(pools) + len(a.test) == len(data)


def test_encoder_training_sees_only_seen_categories(monkeypatch):
    data = synthesize(clips_per_class=8, seed=1)
    split = protocol_split(data)
    got = {}
    real = training.train_encoder

    def spy(windows, labels, *args, **kwargs):
        got["labels"] = np.asarray(labels).copy()
        return real(windows, labels, *args, **kwargs)

    monkeypatch.setattr(training, "train_encoder", spy)
    evaluate(data, EvalConfig(seeds=(0,), train=TrainConfig(epochs=1, iters_per_epoch=1, lr_fix_epochs=0)),
             progress=False)
    assert set(got["labels"].tolist()) == set(split.seen)
    assert len(got["labels"]) == sum(len(split.train_pools[c]) for c in split.seen)


def test_generator_training_sees_only_seen_categories(monkeypatch, tmp_path):
    data = synthesize()  # what `--dataset synthetic` loads
    split = protocol_split(data)
    got = {}

    def spy(windows, layout, cfg, out_dir, resume=True, progress=True):
        got["n"] = len(windows)
        out_dir.mkdir(parents=True, exist_ok=True)
        return out_dir

    monkeypatch.setattr(gen_train, "train_generator", spy)
    assert main(["train-generator", "--dataset", "synthetic", "--out", str(tmp_path / "g"), "--quiet"]) == 0
    assert got["n"] == len(split.seen_train())
    prov = json.loads((tmp_path / "g" / "provenance.json").read_text())
    assert set(prov["trained_category_names"]) == {data.class_names[c] for c in split.seen}
