"""Metrics for anomaly scores."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def auc(is_anomaly: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC with anomalies as the positive class (higher score = more anomalous)."""
    is_anomaly = np.asarray(is_anomaly).astype(bool)
    if is_anomaly.all() or not is_anomaly.any():
        raise ValueError("AUC needs both normal and anomalous test clips")
    return float(roc_auc_score(is_anomaly, np.asarray(scores, dtype=np.float64)))


def mean_std(values) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "std": float(v.std()), "values": [float(x) for x in v]}
