"""The augmentation bank and generative augmentation inside the protocol (tiny generator)."""

import json
from dataclasses import replace

import numpy as np
import pytest

import haad.train as training
from haad.data.collection import Collection
from haad.data.splits import protocol_split
from haad.data.synthetic import synthesize
from haad.data.windows import WindowConfig, content_lengths, make_windows, repad
from haad.evaluation.augmentation import AugmentConfig
from haad.generator.provenance import check_no_leak, write_provenance
from haad.evaluation.protocol import EvalConfig, evaluate
from haad.generator.bank import AugmentationBank, GenerationSettings
from haad.generator.train import GeneratorTrainConfig, train_generator
from haad.train import TrainConfig

TINY = {"width": 32, "depth": 2, "heads": 2, "ff": 64}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    data = synthesize(clips_per_class=10, seed=2)
    split = protocol_split(data)
    idx = split.seen_train()
    windows = make_windows([data.clips[i] for i in idx], data.layout.root)
    gen_dir = tmp_path_factory.mktemp("gen") / "g"
    cfg = GeneratorTrainConfig(denoiser=TINY, iterations=20, batch_size=16, ema_start=0, checkpoint_every=0,
                               norm_samples=500)
    train_generator(windows, data.layout, cfg, out_dir=gen_dir, progress=False)
    write_provenance(gen_dir, data, split, idx)
    return data, split, gen_dir


@pytest.fixture
def training_inputs(monkeypatch):
    """Records the windows and extra views the protocol hands to encoder training (then trains as usual)."""
    got = {}
    real = training.train_encoder

    def spy(windows, labels, *args, extra_views=None, **kwargs):
        got["windows"], got["views"] = windows.copy(), None if extra_views is None else extra_views.copy()
        return real(windows, labels, *args, extra_views=extra_views, **kwargs)

    monkeypatch.setattr(training, "train_encoder", spy)
    return got


def test_bank_generates_once_and_reuses(setup, tmp_path, monkeypatch):
    data, split, gen_dir = setup
    w = make_windows(data.clips[:5], data.layout.root)
    bank = AugmentationBank(tmp_path / "bank", gen_dir)
    s = GenerationSettings(n_variants=2, n_obs=30, steps=5)
    v = bank.variants(w, s, seed=1)
    assert v.shape == (5, 2, 60, 24, 3) and np.isfinite(v).all()
    entries = list((tmp_path / "bank").iterdir())
    assert len(entries) == 1
    meta = json.loads((entries[0] / "config.json").read_text())["config"]
    assert meta["seed"] == 1 and meta["settings"] == {"n_variants": 2, "n_obs": 30, "steps": 5}
    assert meta["generator_digest"] == bank.generator_digest
    # a second bank object reads the stored variants instead of generating
    again = AugmentationBank(tmp_path / "bank", gen_dir)

    def boom(*a, **k):
        raise AssertionError("should not generate")

    monkeypatch.setattr(type(again.generator), "generate", boom)
    assert np.array_equal(again.variants(w, s, seed=1), v)
    monkeypatch.undo()
    # another seed or other settings make a new entry with other variants
    v2 = bank.variants(w, s, seed=2)
    assert not np.allclose(v2, v)
    bank.variants(w, GenerationSettings(n_variants=2, n_obs=40, steps=5), seed=1)
    assert len(list((tmp_path / "bank").iterdir())) == 3


def test_leak_check(setup, tmp_path):
    data, split, gen_dir = setup
    check_no_leak(gen_dir, data, split)  # trained on seen categories only: fine
    leaky = tmp_path / "leaky"
    leaky.mkdir()
    write_provenance(leaky, data, split, np.arange(len(data)))
    with pytest.raises(ValueError, match="unseen categories"):
        check_no_leak(leaky, data, split)
    with pytest.raises(ValueError, match="provenance"):
        check_no_leak(tmp_path, data, split)


def test_protocol_with_augmentation(setup, tmp_path):
    data, split, gen_dir = setup
    aug = AugmentConfig(mode="both", generator=str(gen_dir), n_gen_train=1, n_gen_support=2, steps=5,
                        bank=str(tmp_path / "bank"))
    cfg = EvalConfig(seeds=(0,), train=TrainConfig(epochs=2, iters_per_epoch=4, lr_fix_epochs=1), augment=aug)
    res = evaluate(data, cfg, out_dir=tmp_path / "run", progress=False)
    assert res["options"]["augment"]["mode"] == "both"
    assert 0.5 < res["mean"] <= 1.0
    _, header = __import__("haad.train", fromlist=["load_encoder"]).load_encoder(tmp_path / "run/encoders/seed-0")
    assert header["meta"]["augment"]["n_gen_train"] == 1
    # the same out dir with augmentation off must not silently reuse the augmented encoder
    from haad.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match="other settings"):
        evaluate(data, EvalConfig(seeds=(0,), train=TrainConfig(epochs=2, iters_per_epoch=4, lr_fix_epochs=1)),
                 out_dir=tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match="needs a generator"):
        AugmentConfig(mode="train")


def test_repad_gives_back_the_clip_padding():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(3, 2, 60, 4, 3)).astype(np.float32)
    out = repad(v, np.array([60, 10, 1]))
    assert np.array_equal(out[0], v[0])  # a full-length clip is untouched
    assert np.array_equal(out[1, :, :10], v[1, :, :10])
    assert np.array_equal(out[1, :, 10:], np.repeat(v[1, :, 9:10], 50, axis=1))
    assert np.array_equal(out[2], np.repeat(v[2, :, :1], 60, axis=1))
    assert not np.array_equal(out, v) and np.isfinite(v).all()  # the input itself is not modified
    with pytest.raises(ValueError, match="window 1"):
        repad(v, np.array([60, 0, 5]))
    data = synthesize(clips_per_class=2, seed=0)
    clips = [data.clips[0][:25], data.clips[1]]
    assert content_lengths(clips).tolist() == [25, 60]
    assert content_lengths(clips, WindowConfig(crop="resample")).tolist() == [60, 60]


def test_keep_padding_reaches_the_training_positives(setup, tmp_path, training_inputs):
    data, _, gen_dir = setup
    short = Collection(clips=[c[:20] if i % 2 == 0 else c for i, c in enumerate(data.clips)], labels=data.labels,
                       class_names=data.class_names, layout=data.layout, source="short")
    got = training_inputs
    train = TrainConfig(epochs=1, iters_per_epoch=1, lr_fix_epochs=0)
    for keep in (False, True):
        aug = AugmentConfig(mode="train", generator=str(gen_dir), steps=3, keep_padding=keep,
                            bank=str(tmp_path / "bank"))
        res = evaluate(short, EvalConfig(seeds=(0,), train=train, augment=aug), progress=False)
        # a 20-frame clip's window is still from frame 20 on; only with keep_padding are its variants
        w, v = got["windows"], got["views"][:, 0]
        still = np.abs(np.diff(w[:, 19:], axis=1)).max(axis=(1, 2, 3)) == 0
        moving = np.abs(np.diff(v[:, 19:], axis=1)).max(axis=(1, 2, 3)) > 0
        assert still.sum() > 0 and (moving[still].all() if not keep else not moving[still].any())
        assert ("keep_padding" in res["options"]["augment"]) == keep


def test_faithfulness_margin_and_selection_keep_the_variants_of_their_own_category():
    from haad.evaluation.variant_selection import faithfulness_margin, select_faithful

    means = np.array([[0.0, 0.0], [10.0, 0.0]], np.float32)
    emb = np.array([[1.0, 0.0], [9.0, 0.0], [5.0, 0.0]], np.float32)
    m = faithfulness_margin(emb, np.array([0, 0, 1]), means, np.array([0, 1]))
    assert np.allclose(m, [1 - 9, 9 - 1, 0.0])
    with pytest.raises(ValueError, match="no class mean"):
        faithfulness_margin(emb, np.array([0, 2, 1]), means, np.array([0, 1]))

    # Windows whose "embedding" is their mean x coordinate; category 0 lives near 0, category 1 near 10.
    def embed(w):
        return np.stack([w[..., 0].mean(axis=(1, 2)), np.zeros(len(w))], axis=1).astype(np.float32)

    real = np.concatenate([np.full((4, 5, 2, 3), 0.0), np.full((4, 5, 2, 3), 10.0)]).astype(np.float32)
    real_labels = np.array([0] * 4 + [1] * 4)
    xs = np.array([[9.0, 1.0, 2.0, 0.5],    # a category-0 clip: candidates 1 and 3 are most faithful
                   [1.0, 6.0, 11.0, 9.0]])  # a category-1 clip: candidates 2 and 3
    cand = np.broadcast_to(xs[:, :, None, None, None], (2, 4, 5, 2, 3)).astype(np.float32)
    chosen, rate = select_faithful(cand, np.array([0, 1]), 2, embed, real, real_labels)
    assert chosen.shape == (2, 2, 5, 2, 3)
    assert chosen[0, :, 0, 0, 0].tolist() == [1.0, 0.5] and chosen[1, :, 0, 0, 0].tolist() == [11.0, 9.0]
    assert rate == 1.0
    _, rate = select_faithful(cand, np.array([0, 1]), 4, embed, real, real_labels)
    assert rate == 0.75  # keeping everything keeps the two strays (x = 9 for 0, x = 1 for 1)
    with pytest.raises(ValueError, match="cannot keep 5 of 4"):
        select_faithful(cand, np.array([0, 1]), 5, embed, real, real_labels)


def test_variant_selection_inside_the_protocol(setup, tmp_path, training_inputs):
    data, _, gen_dir = setup
    train = TrainConfig(epochs=1, iters_per_epoch=2, lr_fix_epochs=0)
    judges = tmp_path / "judges"
    evaluate(data, EvalConfig(seeds=(0, 1), train=train), out_dir=judges, progress=False)
    got = training_inputs
    aug = AugmentConfig(mode="train", generator=str(gen_dir), n_gen_train=2, steps=3, select_from=3,
                        judge=str(judges / "encoders"), bank=str(tmp_path / "bank"))
    res = evaluate(data, EvalConfig(seeds=(1,), train=train, augment=aug), out_dir=tmp_path / "run", progress=False)
    # the kept variants are 2 of the 3 x 2 candidates the bank made for this seed, per clip
    entries = [e for e in (tmp_path / "bank").iterdir()]
    assert len(entries) == 1
    cand = AugmentationBank(tmp_path / "bank", gen_dir).variants(
        make_windows([data.clips[i] for i in protocol_split(data).seen_train()], data.layout.root),
        GenerationSettings(n_variants=6, n_obs=30, steps=3), seed=1)
    views = got["views"]
    assert views.shape[1] == 2
    assert all(any(np.array_equal(views[i, k], cand[i, r]) for r in range(6)) for i in range(len(views)) for k in range(2))
    sel = res["augment_selection"]["1"]
    assert sel["judge"].endswith("seed-1") and 0.0 <= sel["nearest_own_category"] <= 1.0
    assert res["options"]["augment"]["select_from"] == 3
    _, header = __import__("haad.train", fromlist=["load_encoder"]).load_encoder(tmp_path / "run/encoders/seed-1")
    assert header["meta"]["augment"]["select_from"] == 3 and len(header["meta"]["augment"]["judge_digest"]) > 8
    # a judge trained with generative augmentation, a missing judge or a missing --judge are refused
    with pytest.raises(ValueError, match="trained with generative augmentation"):
        evaluate(data, EvalConfig(seeds=(1,), train=train, augment=replace(aug, judge=str(tmp_path / "run/encoders"))),
                 progress=False)
    with pytest.raises(FileNotFoundError, match="seed 1"):
        evaluate(data, EvalConfig(seeds=(1,), train=train, augment=replace(aug, judge=str(tmp_path))), progress=False)
    with pytest.raises(ValueError, match="needs a judge"):
        AugmentConfig(mode="train", generator=str(gen_dir), select_from=3)
    with pytest.raises(ValueError, match="training-time"):
        AugmentConfig(mode="support", generator=str(gen_dir), select_from=3, judge="x")


def test_hold_completion_is_the_no_generator_control(tmp_path, training_inputs):
    from haad.data.windows import hold_after

    w = np.random.default_rng(0).normal(size=(2, 60, 4, 3)).astype(np.float32)
    held = hold_after(w, 30)
    assert np.array_equal(held[:, :30], w[:, :30]) and np.array_equal(held[:, 30:], np.repeat(w[:, 29:30], 30, axis=1))
    with pytest.raises(ValueError, match="n_obs"):
        hold_after(w, 0)

    data = synthesize(clips_per_class=6, seed=1)
    got = training_inputs
    aug = AugmentConfig(mode="train", completion="hold", n_obs=20)  # no generator needed
    train = TrainConfig(epochs=1, iters_per_epoch=1, lr_fix_epochs=0)
    res = evaluate(data, EvalConfig(seeds=(0,), train=train, augment=aug), out_dir=tmp_path / "run", progress=False)
    assert np.array_equal(got["views"][:, 0], hold_after(got["windows"], 20))
    assert res["options"]["augment"]["completion"] == "hold"
    _, header = __import__("haad.train", fromlist=["load_encoder"]).load_encoder(tmp_path / "run/encoders/seed-0")
    assert header["meta"]["augment"] == {"completion": "hold", "n_gen_train": 1, "n_obs": 20}
    assert "completion" not in AugmentConfig(mode="train", generator="g").to_dict()
    with pytest.raises(ValueError, match="completion must be"):
        AugmentConfig(mode="train", completion="copy")
    with pytest.raises(ValueError, match="all equal"):
        AugmentConfig(mode="train", completion="hold", select_from=2, judge="j")
