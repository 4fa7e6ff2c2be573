"""How well does the support-calibrated threshold hold? False- and true-positive rates of ``predict``.

Usage:
    python benchmarks/threshold_calibration.py --dataset utd-mhad --run runs/calib/utd-mhad \
        [--seeds 3] [--k-shot 3 5] [--json runs/analysis/threshold-utd-mhad.json]

The detector's threshold is a quantile of its support set's leave-one-out scores (each support clip's
mean distance to the other K - 1); at the default quantile 1.0 (their maximum) a new normal clip that
is exchangeable with the K support clips exceeds it with probability of about 1 / (K + 1) (a conformal
argument; not exact, since the new clip's score averages over K clips, a support clip's over K - 1).
For each seed's encoder (``RUN/encoders/seed-S``, from ``haad evaluate --out RUN``) and each category,
two ways of drawing the support are measured:

* ``protocol``: K clips from the category's training pool, as the protocol draws them. For a seen
  category these are clips the encoder was trained on.
* ``fresh``: K clips drawn from the category's *test* clips (``--draws`` draws per seed), the rest of
  them being the normal clips scored: what a user who records K new clips of a seen category gets.
  For unseen categories both ways give clips the encoder never saw.

Three rules are measured: the score above the max (the default) or the median leave-one-out score,
and the conformal p-value (``FewShotDetector.p_values``) at most 1 / (K + 1), which bounds the
false-positive rate by 1 / (K + 1) for exchangeable normal clips. Prints one JSON object: per way, K,
rule and seen/unseen, the mean false-positive rate on normal test clips, the true-positive rate on
the other categories' test clips, and the 1 / (K + 1) reference.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from generator_quality import emit  # benchmarks/ is on sys.path when run as a script

from run_encoders import add_run_arguments, load_run

from haad.data.splits import support_draws
from haad.data.windows import make_windows
from haad.detector import EncoderEmbedder, FewShotDetector

RULES = ("loo-max", "loo-median", "conformal")


def rates(det: FewShotDetector, support_emb, normal_emb, anomal_emb) -> dict:
    """{rule: (false-positive rate on normal_emb, true-positive rate on anomal_emb)} for the detector's
    rules: score above the max / median leave-one-out score, conformal p-value <= 1 / (K + 1)."""
    det.fit_embeddings(support_emb)
    sn, sa = det.score_embeddings(normal_emb), det.score_embeddings(anomal_emb)
    out = {}
    for rule, q in (("loo-max", 1.0), ("loo-median", 0.5)):
        t = det.set_threshold(quantile=q)
        out[rule] = (float((sn > t).mean()), float((sa > t).mean()))
    alpha = 1 / (len(support_emb) + 1)
    out["conformal"] = (float((det.p_values_embeddings(normal_emb) <= alpha).mean()),
                        float((det.p_values_embeddings(anomal_emb) <= alpha).mean()))
    return out


def calibration(encoders: list, data, split, windows, ks: list, draws: int) -> list:
    """Rows {way, k_shot, rule, seen, false_positive_rate, true_positive_rate, reference, measurements}."""
    test = np.asarray(split.test)
    labels = data.labels[test]
    det = FewShotDetector(embedder=None, layout=data.layout)
    acc: dict = {}
    for seed, encoder in encoders:
        emb = EncoderEmbedder(encoder)(windows)
        test_emb = emb[test]
        for k in ks:
            for c, support in enumerate(support_draws(split, seed, k)):
                seen = c in split.seen
                normal = labels == c
                for rule, r in rates(det, emb[support], test_emb[normal], test_emb[~normal]).items():
                    acc.setdefault(("protocol", k, rule, seen), []).append(r)
                mine = np.flatnonzero(normal)
                if len(mine) < k + 1:  # no normal clip left to score
                    continue
                rng = np.random.default_rng([seed, c, k, 1])
                for _ in range(draws):
                    pick = rng.permutation(mine)
                    for rule, r in rates(det, test_emb[pick[:k]], test_emb[pick[k:]], test_emb[~normal]).items():
                        acc.setdefault(("fresh", k, rule, seen), []).append(r)
    rows = []
    order = lambda kv: (kv[0][0] != "protocol", kv[0][1], RULES.index(kv[0][2]), not kv[0][3])  # noqa: E731
    for (way, k, rule, seen), v in sorted(acc.items(), key=order):
        v = np.asarray(v)
        rows.append({"way": way, "k_shot": k, "rule": rule, "seen": seen, "false_positive_rate": float(v[:, 0].mean()),
                     "true_positive_rate": float(v[:, 1].mean()), "reference_1_over_k_plus_1": 1 / (k + 1),
                     "measurements": len(v)})
    return rows


def cross_check(results: Path, rows: list, seeds: list) -> None:
    """The protocol / loo-max rows redo what ``haad evaluate`` measured (``threshold`` in results.json):
    when the run has the same seeds and K, the two must agree."""
    if not results.is_file():
        return
    res = json.loads(results.read_text())
    if res.get("options", {}).get("augment", {}).get("mode", "none") not in ("none", "train"):
        return  # there the protocol's threshold also counts generated support variants; this script does not
    mine = [r for r in rows if r["way"] == "protocol" and r["rule"] == "loo-max" and r["k_shot"] == res["k_shot"]]
    if res["seeds"] != seeds or not mine or "threshold" not in res:
        return
    fpr = sum(r["false_positive_rate"] * r["measurements"] for r in mine) / sum(r["measurements"] for r in mine)
    if abs(fpr - res["threshold"]["false_positive_rate"]) > 1e-3:
        raise SystemExit(f"{results}: haad evaluate measured a false-positive rate of "
                         f"{res['threshold']['false_positive_rate']:.4f} for the default threshold, this script {fpr:.4f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_run_arguments(ap)
    ap.add_argument("--k-shot", type=int, nargs="+", default=[3, 5])
    ap.add_argument("--draws", type=int, default=20, help="fresh support draws per category and seed")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    data, split, encoders = load_run(ap, args)
    rows = calibration(encoders, data, split, make_windows(data.clips, data.layout.root), args.k_shot, args.draws)
    out = {"command": "python " + " ".join(sys.argv), "dataset": args.dataset, "run": str(args.run),
           "seeds": list(range(args.seeds)), "draws": args.draws, "rows": rows}
    emit(out, args.json)
    cross_check(args.run / "results.json", rows, list(range(args.seeds)))  # after emit: the rows stay inspectable
    return 0


if __name__ == "__main__":
    sys.exit(main())
