"""Plain-text and Markdown tables of protocol results."""

from __future__ import annotations


def format_results(res: dict) -> str:
    """A per-category table (mean +- std over seeds) with overall, seen and unseen means."""
    names = list(res["per_category"])
    unseen = set(res["unseen_categories"])
    width = max(12, max(len(n) for n in names) + 2)
    lines = [
        f"dataset {res['dataset']}  method {res['method']}  K={res['k_shot']}  seeds={len(res['seeds'])}",
        f"{'category':<{width}} {'':6} AUC mean +- std",
    ]
    for n in names:
        pc = res["per_category"][n]
        tag = "unseen" if n in unseen else "seen"
        lines.append(f"{n:<{width}} {tag:6} {pc['mean']:.3f} +- {pc['std']:.3f}")
    lines.append("-" * (width + 26))
    for key, label in (("mean", "mean"), ("seen_mean", "seen mean"), ("unseen_mean", "unseen mean")):
        if res[key] is None:  # e.g. no seen categories: a pretrained encoder that never saw the dataset
            continue
        std = res.get(key + "_std_over_seeds")
        extra = f" +- {std:.3f}" if std is not None else ""
        lines.append(f"{label:<{width}} {'':6} {res[key]:.3f}{extra}")
    if res.get("threshold"):
        t = res["threshold"]
        split = ""
        if t.get("false_positive_rate_seen") is not None and t.get("false_positive_rate_unseen") is not None:
            why = ": their supports are the encoder's training clips" if res.get("method") == "fewshot" else ""
            split = (f" (seen {100 * t['false_positive_rate_seen']:.1f}%{why}; "
                     f"unseen {100 * t['false_positive_rate_unseen']:.1f}%)")
        lines.append(f"default threshold (support-calibrated): {100 * t['false_positive_rate']:.1f}% of normal "
                     f"test clips flagged{split}, {100 * t['true_positive_rate']:.1f}% of anomalies")
    if res.get("train_seconds"):
        lines.append(f"training: {res['train_seconds']:.1f} s per seed")
    return "\n".join(lines)
