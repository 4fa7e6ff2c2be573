"""A protocol run keeps every detector's test scores (scores.npz) for reports: they reproduce its AUCs."""

from __future__ import annotations

import numpy as np

from haad.data.synthetic import synthesize
from haad.evaluation.config import EvalConfig
from haad.evaluation.metrics import auc
from haad.evaluation.protocol import evaluate


def test_scores_file_reproduces_the_aucs(tmp_path):
    data = synthesize(clips_per_class=8, seed=0)
    res = evaluate(data, EvalConfig(method="dct-distance", seeds=(0, 1)), out_dir=tmp_path, progress=False)
    with np.load(tmp_path / "scores.npz", allow_pickle=False) as z:
        scores, labels, names = z["scores"], z["test_labels"], list(z["class_names"])
        assert scores.shape == (2, data.num_classes, len(labels)) and z["thresholds"].shape == (2, data.num_classes)
        for c, name in enumerate(names):
            values = [auc(labels != c, scores[s, c]) for s in range(2)]
            assert np.allclose(values, res["per_category"][name]["values"])
        emb, draws = z["first_seed_test_embeddings"], z["first_seed_support_draws"]
        assert emb.shape[0] == len(labels) and draws.shape == (data.num_classes, 3)
        assert (data.labels[draws] == np.arange(data.num_classes)[:, None]).all()  # each support from its category
