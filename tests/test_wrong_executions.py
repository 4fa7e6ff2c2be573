"""Seeing wrong executions: the bone-direction embedding, pool scaling, and their within-category results."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import data_dir, require_dataset
from haad.canonical import CANONICAL
from haad.distances import pool_scale
from haad.embedders import BoneDCTEmbedder, DCTEmbedder
from haad.evaluation.within import WithinConfig, evaluate_within
from test_within import ui_prmd_like


def canonical_windows(n: int = 4, seed: int = 0) -> np.ndarray:
    """Random-walk motion of the canonical skeleton built from bone vectors (so bones are known)."""
    rng = np.random.default_rng(seed)
    parents = np.asarray(CANONICAL.parents)
    bones = rng.normal(size=(n, 1, 16, 3)) + 0.05 * rng.normal(size=(n, 60, 16, 3)).cumsum(1)
    out = np.zeros_like(bones)
    for j in range(1, 16):  # parents come before children in the canonical layout
        out[:, :, j] = out[:, :, parents[j]] + bones[:, :, j]
    return out


def test_bone_embedding_ignores_body_size_limb_length_and_position():
    w = canonical_windows()
    emb = BoneDCTEmbedder(CANONICAL.parents, 4)
    e = emb(w)
    assert e.shape == (4, 4 * 15 * 3) and np.isfinite(e).all()
    np.testing.assert_allclose(emb(2.5 * w + np.array([1.0, -3.0, 0.5])), e, atol=1e-5)
    # Twice as long a left forearm: the wrist moves, its direction from the elbow does not.
    longer = w.copy()
    wrist, elbow = CANONICAL.joint_names.index("left_wrist"), CANONICAL.joint_names.index("left_elbow")
    longer[:, :, wrist] = w[:, :, elbow] + 2 * (w[:, :, wrist] - w[:, :, elbow])
    np.testing.assert_allclose(emb(longer), e, atol=1e-5)
    assert not np.allclose(DCTEmbedder(4)(longer), DCTEmbedder(4)(w), atol=1e-3)  # positions do change
    # A bone bent the other way changes it.
    bent = longer.copy()
    bent[:, :, wrist] = w[:, :, elbow] - (w[:, :, wrist] - w[:, :, elbow])
    assert np.abs(emb(bent) - e).max() > 0.1


def test_bone_embedding_of_a_zero_length_bone_is_zero_not_nan():
    w = canonical_windows(2)
    w[:, :, 3] = w[:, :, 2]  # head on the neck
    e = BoneDCTEmbedder(CANONICAL.parents, 3)(w).reshape(2, 3, 15, 3)
    assert np.isfinite(e).all() and np.all(e[:, :, 2] == 0)  # bone index 2 ends at joint 3
    with pytest.raises(ValueError, match="no bone"):
        BoneDCTEmbedder([-1, -1])


def test_pool_scale_weighs_steady_dimensions_up():
    rng = np.random.default_rng(0)
    pool = rng.normal(size=(50, 3)) * np.array([10.0, 1.0, 0.1])
    w = pool_scale(pool, 1e-3)
    assert w[0] < w[1] < w[2]
    s = pool.std(0)
    np.testing.assert_allclose(w, 1 / (s + 1e-3 * s.mean()), rtol=1e-5)
    np.testing.assert_allclose(w[:2] * s[:2], 1.0, rtol=0.01)  # unit spread where eps * mean(s) is negligible
    with pytest.raises(ValueError, match="at least two"):
        pool_scale(pool[:1], 1e-3)
    with pytest.raises(ValueError, match="eps"):
        pool_scale(pool, 0.0)
    with pytest.raises(ValueError, match="identical"):
        pool_scale(np.ones((5, 3)), 1e-3)


def test_pool_scaling_sharpens_the_floor_on_a_planted_execution_error():
    data = ui_prmd_like()
    plain = evaluate_within(data, WithinConfig("ui-prmd-cross-subject", method="dct-distance", seeds=(0, 1, 2)))
    scaled = evaluate_within(data, WithinConfig("ui-prmd-cross-subject", method="dct-distance", scale="pool",
                                                seeds=(0, 1, 2)))
    assert scaled["options"]["scale"] == "pool" and plain["options"]["scale"] == "none"
    # Measured 0.907 -> 1.000: the planted arm offset moves dimensions that normal episodes keep steady.
    assert plain["mean"] < 0.95 and scaled["mean"] > 0.97
    bones = evaluate_within(data, WithinConfig("ui-prmd-cross-subject", method="bone-distance", scale="pool",
                                               seeds=(0, 1, 2)))
    # A shift of the whole arm bends only the collar bone: bones see it less than positions (measured 0.889).
    assert bones["layout_used"] == "canonical16" and 0.8 < bones["mean"] < scaled["mean"]


@pytest.mark.slow  # two CLI processes (torch's import each): kept out of the quick suite
@pytest.mark.parametrize("extra", [["--method", "dct-distance", "--scale", "pool"], ["--method", "stg-nf"]])
def test_scale_and_baselines_are_refused_by_the_category_protocol(tmp_path, extra):
    r = subprocess.run([sys.executable, "-m", "haad.cli", "evaluate", "--dataset", "synthetic", "--protocol", "category",
                        *extra, "--out", tmp_path / "x", "--quiet"], capture_output=True, text=True)
    assert r.returncode == 2 and "within-category protocols" in r.stderr and not (tmp_path / "x").exists()


@pytest.mark.slow
def test_bone_distance_runs_the_category_protocol(tmp_path):
    r = subprocess.run([sys.executable, "-m", "haad.cli", "evaluate", "--dataset", "synthetic", "--method",
                        "bone-distance", "--seeds", "2", "--out", tmp_path / "b", "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "b" / "results.json").read_text())
    assert res["method"] == "bone-distance" and res["layout_used"] == "canonical16" and res["encoder"] is None
    assert "train" not in res["options"]
    assert res["mean"] > 0.85  # measured 0.913 (dct-distance, same seeds: 0.918)


@pytest.mark.slow
def test_ui_prmd_wrong_executions_through_the_cli(tmp_path):
    require_dataset("ui-prmd")
    out = tmp_path / "ev"
    r = subprocess.run([sys.executable, "-m", "haad.cli", "evaluate", "--dataset", "ui-prmd", "--method", "bone-distance",
                        "--scale", "pool", "--seeds", "2", "--out", out, "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "results.json").read_text())
    assert res["protocol"] == "ui-prmd-cross-subject" and res["method"] == "bone-distance"
    assert res["mean"] > 0.88  # measured 0.923 over 10 seeds; the floor (DCT of positions) is 0.678


@pytest.mark.slow
def test_a_baseline_runs_the_within_protocol_on_its_support_pools():
    res = evaluate_within(ui_prmd_like(), WithinConfig("ui-prmd-cross-subject", method="mocodad", seeds=(0,)))
    assert res["method"] == "mocodad" and res["encoder"] is None and res["train_seconds_per_task"] > 0
    assert res["mean"] > 0.9  # measured 1.000 (the planted arm offset; MultiLevel-NF and STG-NF: 1.000 too)
    with pytest.raises(ValueError, match="scale must be none"):
        WithinConfig("ui-prmd-cross-subject", method="mocodad", scale="pool")


def _ui_prmd_like_files(tmp_path, data):
    """The squat task of ``ui_prmd_like`` as haad detect's files: support = subjects 1-8's correct
    episodes (shuffled, so --k-shot takes three of them), input = subjects 9-10's episodes."""
    from haad.data.generic import save_npz

    subject = np.array([int(n[5:7]) for n in data.names])
    correct = np.array([n.endswith("_correct") for n in data.names])
    squat = data.labels == 0
    sup = data.subset(np.random.default_rng(0).permutation(np.flatnonzero(squat & (subject <= 8) & correct)))
    test = data.subset(np.flatnonzero(squat & (subject >= 9)))
    save_npz(sup, tmp_path / "sup.npz")
    save_npz(test, tmp_path / "in.npz")
    return ~correct[np.flatnonzero(squat & (subject >= 9))]


def _scores(path) -> np.ndarray:
    import csv

    with open(path) as f:
        return np.array([float(r["score"]) for r in csv.DictReader(f)])


@pytest.mark.slow
def test_detect_with_bones_and_pool_scaling_saves_and_reloads(tmp_path):
    from haad.evaluation.metrics import auc

    wrong = _ui_prmd_like_files(tmp_path, ui_prmd_like())
    cli = [sys.executable, "-m", "haad", "detect", "--input", tmp_path / "in.npz"]
    r = subprocess.run([*cli, "--support", tmp_path / "sup.npz", "--k-shot", "3", "--encoder", "bones", "--scale", "pool",
                        "--crop", "resample", "--out", tmp_path / "a.csv", "--save", tmp_path / "det"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    a = _scores(tmp_path / "a.csv")
    assert auc(wrong, a) > 0.8  # measured 0.889 (12 test episodes, 6 wrong)
    config = json.loads((tmp_path / "det" / "config.json").read_text())["config"]
    assert config["embedder"] == "bone-distance" and config["window"]["crop"] == "resample"
    assert config["provenance"]["scale"]["pool"].startswith("24 clips")
    r = subprocess.run([*cli, "--detector", tmp_path / "det", "--out", tmp_path / "b.csv"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(_scores(tmp_path / "b.csv"), a)
    # Without pool scaling the scores differ (the scaling is not a no-op that save/load could lose).
    r = subprocess.run([*cli, "--support", tmp_path / "sup.npz", "--k-shot", "3", "--encoder", "bones", "--crop", "resample",
                        "--out", tmp_path / "c.csv"], capture_output=True, text=True)
    assert r.returncode == 0 and not np.allclose(_scores(tmp_path / "c.csv"), a)


@pytest.mark.slow  # CLI processes, as above
@pytest.mark.parametrize("extra, message", [
    (["--stream", "--crop", "resample"], "sliding windows"),
    (["--scale", "pool", "--k-shot", "1", "--category", "squat"], None),
])
def test_detect_refuses_what_cannot_work(tmp_path, extra, message):
    data = ui_prmd_like()
    _ui_prmd_like_files(tmp_path, data)
    if message is None:  # a pool of one clip has no spread
        from haad.data.generic import save_npz

        save_npz(data.subset(np.flatnonzero(data.labels == 0)[:1]), tmp_path / "sup.npz")
        message = "at least 2"
    r = subprocess.run([sys.executable, "-m", "haad", "detect", "--support", tmp_path / "sup.npz", "--input",
                        tmp_path / "in.npz", "--encoder", "bones", "--out", tmp_path / "x.csv", *extra],
                       capture_output=True, text=True)
    assert r.returncode == 2 and message in r.stderr and not (tmp_path / "x.csv").exists()


@pytest.mark.slow
def test_detect_sees_wrong_hurdle_steps_of_unseen_people(tmp_path):
    """ui-prmd's hurdle step through haad detect: 3 correct episodes of subjects 1-8 as support, all 80 as
    the pool; subjects 9-10's 20 correct and 20 incorrect episodes as input."""
    from haad.data import load_dataset
    from haad.data.generic import save_npz
    from haad.data.ui_prmd import ui_prmd_episodes
    from haad.evaluation.metrics import auc

    require_dataset("ui-prmd")
    data = load_dataset("ui-prmd", data_dir())
    meta = ui_prmd_episodes(data)
    hurdle = data.labels == data.class_names.index("hurdle_step")
    pool = np.flatnonzero(hurdle & (meta["subject"] <= 8) & meta["correct"])
    save_npz(data.subset(np.random.default_rng(1).permutation(pool)), tmp_path / "sup.npz")
    test = np.flatnonzero(hurdle & (meta["subject"] >= 9))
    save_npz(data.subset(test), tmp_path / "in.npz")
    got = {}
    # No --encoder: the built-in encoder, whose hybrid embedding carries the bone directions (Eq. H1).
    for name, args in (("dct", ["--encoder", "dct"]), ("bones-pool", ["--encoder", "bones", "--scale", "pool"]),
                       ("default-pool", ["--scale", "pool"])):
        r = subprocess.run([sys.executable, "-m", "haad", "detect", "--support", tmp_path / "sup.npz", "--input",
                            tmp_path / "in.npz", "--k-shot", "3", "--crop", "resample", "--out", tmp_path / f"{name}.csv",
                            *args], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        got[name] = auc(~meta["correct"][test], _scores(tmp_path / f"{name}.csv"))
    assert got["bones-pool"] > 0.85 and got["dct"] < 0.7  # measured 0.932 and 0.568
    assert got["default-pool"] > 0.85, got  # measured 0.932 (part-nearest, turns and warps; 0.927 with --turns 15,30 --warps none)


def test_the_bones_encoder_spec_is_bone_distance_in_the_within_protocols():
    data = ui_prmd_like()
    spec = evaluate_within(data, WithinConfig("ui-prmd-cross-subject", seeds=(0, 1)), encoder="bones")
    method = evaluate_within(data, WithinConfig("ui-prmd-cross-subject", method="bone-distance", seeds=(0, 1)))
    assert spec["encoder"] == "bones"
    assert {k: v["values"] for k, v in spec["per_category"].items()} == \
        {k: v["values"] for k, v in method["per_category"].items()}
