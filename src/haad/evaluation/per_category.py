"""The protocol for one-model-per-category baselines: for every category c and seed, train one model
on c's whole training pool and score the pooled test set (PROTOCOL.md, "Scoring and metric")."""

from __future__ import annotations

import time

import numpy as np

from haad.data.collection import Collection
from haad.data.splits import protocol_split
from haad.data.windows import WindowConfig, make_windows
from haad.evaluation.metrics import auc
from haad.evaluation.protocol import summarize


def baseline_options(config: dict | None, window: WindowConfig = WindowConfig(),
                     train_fraction: float = 0.8) -> dict:
    """The options recorded with (and identifying) a baseline's results."""
    return {"window": window.to_dict(), "train_fraction": train_fraction, "config": dict(config or {}),
            "training": "one model per category, whole training pool"}


def evaluate_per_category(data: Collection, method: str, seeds=(0, 1, 2), config: dict | None = None,
                          window: WindowConfig = WindowConfig(), train_fraction: float = 0.8,
                          progress: bool = False, log=None) -> dict:
    """Run a baseline from :data:`haad.baselines.BASELINES` under the protocol.

    Returns a results dict with the same fields as :func:`haad.evaluation.protocol.evaluate`, plus
    ``train_seconds_per_category`` (mean time to fit one category's model).
    """
    from haad.baselines import BASELINES

    if method not in BASELINES:
        raise ValueError(f"unknown baseline {method!r}; choose from {sorted(BASELINES)}")
    cls = BASELINES[method]
    split = protocol_split(data, train_fraction)
    windows = make_windows(data.clips, data.layout.root, window)
    test = split.test
    aucs, fit_seconds = [], []
    for seed in seeds:
        row = np.zeros(data.num_classes)
        for c in range(data.num_classes):
            model = cls(data.layout, config=config, seed=int(seed), progress=progress)
            t0 = time.perf_counter()
            model.fit(windows[split.train_pools[c]])
            fit_seconds.append(time.perf_counter() - t0)
            row[c] = auc(data.labels[test] != c, model.decision_function(windows[test]))
            if log:
                log(f"{method} seed {seed} {data.class_names[c]}: AUC {row[c]:.3f}")
        aucs.append(row)
    aucs = np.asarray(aucs)
    res = {
        "dataset": data.source,
        "method": method,
        "seeds": [int(s) for s in seeds],
        "k_shot": None,
        "options": baseline_options(config, window, train_fraction),
        "split": split.to_dict(),
        "layout": data.layout.name,
        "train_seconds": float(np.sum(fit_seconds) / max(len(seeds), 1)),
        "train_seconds_per_category": float(np.mean(fit_seconds)),
    }
    res.update(summarize(aucs, data, split))
    return res
