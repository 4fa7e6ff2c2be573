"""The one detector contract (haad.base_detector.BaseDetector), checked the same way for the few-shot
detector and every baseline on seeded synthetic data: fit on one category's normal examples (clips or
windows), score other categories higher, predict by threshold_, round-trip through save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from haad.base_detector import BaseDetector
from haad.baselines import BASELINES, make_baseline
from haad.data.synthetic import synthesize
from haad.data.windows import make_windows
from haad.detector import FewShotDetector
from haad.embedders import DCTEmbedder
from haad.evaluation.metrics import auc

# Small configs and AUC floors. Measured AUCs (seed 0; categories walk / squat as the normal one):
# fewshot 1.00 / 0.89, multilevel-nf 1.00 / 0.90, stg-nf 0.83 / 0.83, mocodad 0.78 / 0.65 (seeds 1-2:
# 0.83-0.86 / 0.66-0.69). The floors leave a margin below the lowest.
CONFIGS = {
    "multilevel-nf": ({"steps": 2, "hidden": 8, "epochs": 2}, 0.8),
    "stg-nf": ({"steps": 2, "hidden": 4, "epochs": 1}, 0.72),
    "mocodad": ({"hidden": 32, "blocks": 1, "epochs": 60}, 0.58),
}
DETECTORS = ["fewshot", *BASELINES]
NORMAL = {"walk": 0, "squat": 3}


def make(name: str, layout) -> BaseDetector:
    if name == "fewshot":
        return FewShotDetector(DCTEmbedder(), layout)
    return make_baseline(name, layout, CONFIGS[name][0], seed=0)


@pytest.fixture(scope="module")
def data():
    torch.set_num_threads(1)
    d = synthesize(clips_per_class=10, seed=0)
    return d, make_windows(d.clips, d.layout.root)


def split(d, category: int, name: str):
    """(fit, test) indices: the few-shot detector's support is K = 3 clips, the baselines train on 6."""
    normal = np.flatnonzero(d.labels == category)
    fit, test = normal[:6], np.r_[normal[6:], np.flatnonzero(d.labels != category)]
    return (fit[:3] if name == "fewshot" else fit), test


@pytest.mark.parametrize("name", DETECTORS)
@pytest.mark.parametrize("category", list(NORMAL))
def test_other_categories_score_higher(data, name, category):
    d, windows = data
    fit, test = split(d, NORMAL[category], name)
    det = make(name, d.layout).fit(windows[fit])
    scores = det.decision_function(windows[test])
    assert scores.shape == (len(test),) and np.isfinite(scores).all()
    floor = 0.85 if name == "fewshot" else CONFIGS[name][1]
    value = auc(d.labels[test] != NORMAL[category], scores)
    assert value >= floor, f"{name}, normal {category}: AUC {value:.3f} below {floor}"


@pytest.mark.parametrize("name", DETECTORS)
def test_contract(data, name, tmp_path):
    d, windows = data
    fit, test = split(d, NORMAL["walk"], name)
    det = make(name, d.layout)
    assert isinstance(det, BaseDetector)
    with pytest.raises(RuntimeError):
        det.predict(windows[test])
    det.fit(windows[fit])
    # fit sets the fitted examples' scores and the threshold (default quantile 1: their maximum)
    assert det.decision_scores_.shape == (len(fit),)
    assert det.threshold_ == pytest.approx(float(np.max(det.decision_scores_)))
    scores = det.decision_function(windows[test])
    assert np.array_equal(det.predict(windows[test]), (scores > det.threshold_).astype(np.int64))
    det.set_threshold(quantile=0.0)
    assert det.threshold_ == pytest.approx(float(np.min(det.decision_scores_)))
    assert np.array_equal(det.predict(windows[test]), (scores > det.threshold_).astype(np.int64))
    # clips or their windows: the windowing stage is the same for every detector
    clips = [d.clips[i] for i in test]
    assert np.array_equal(det.decision_function(clips), scores)
    # save/load gives identical scores and threshold
    det.save(tmp_path / "det")
    back = type(det).load(tmp_path / "det")
    assert np.array_equal(back.decision_function(windows[test]), scores)
    assert back.threshold_ == det.threshold_ and np.array_equal(back.decision_scores_, det.decision_scores_)
    assert np.array_equal(back.predict(windows[test]), det.predict(windows[test]))
