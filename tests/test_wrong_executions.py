"""Seeing wrong executions: the bone-direction embedding, pool scaling, and their within-category results."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import require_dataset
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


def test_scale_and_bones_are_refused_by_the_category_protocol(tmp_path):
    r = subprocess.run([sys.executable, "-m", "haad.cli", "evaluate", "--dataset", "synthetic", "--protocol", "category",
                        "--method", "bone-distance", "--out", tmp_path / "x", "--quiet"], capture_output=True, text=True)
    assert r.returncode == 2 and "within-category protocols" in r.stderr and not (tmp_path / "x").exists()


@pytest.mark.slow
def test_ui_prmd_wrong_executions_through_the_cli(tmp_path):
    require_dataset("ui-prmd")
    out = tmp_path / "ev"
    r = subprocess.run([sys.executable, "-m", "haad.cli", "evaluate", "--dataset", "ui-prmd", "--method", "bone-distance",
                        "--scale", "pool", "--seeds", "2", "--out", out, "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "results.json").read_text())
    assert res["protocol"] == "ui-prmd-cross-subject" and res["method"] == "bone-distance"
    assert res["mean"] > 0.88  # measured 0.924 over 10 seeds; the floor (DCT of positions) is 0.678


@pytest.mark.slow
def test_a_baseline_runs_the_within_protocol_on_its_support_pools():
    res = evaluate_within(ui_prmd_like(), WithinConfig("ui-prmd-cross-subject", method="mocodad", seeds=(0,)))
    assert res["method"] == "mocodad" and res["encoder"] is None and res["train_seconds_per_task"] > 0
    assert res["mean"] > 0.9  # measured 1.000 (the planted arm offset; MultiLevel-NF and STG-NF: 1.000 too)
    with pytest.raises(ValueError, match="scale must be none"):
        WithinConfig("ui-prmd-cross-subject", method="mocodad", scale="pool")
