"""Do per-joint explanations point at the joint that makes a clip anomalous? A planted-anomaly check.

Usage:
    python benchmarks/explanation_faithfulness.py --dataset utd-mhad --run runs/calib/utd-mhad \
        [--seeds 3] [--per-category 3] [--json runs/analysis/explain-utd-mhad.json]

For every seed's encoder (``RUN/encoders/seed-S``) and every category, the protocol's detector (K = 3
support clips) is fitted, and up to ``--per-category`` of the category's normal test clips get one
random joint shaken (0.3 m sine along all three axes, about 1.6 Hz at 30 fps). The explanation of the
shaken clip should put that joint on top. Reported per embedding (the learned encoder, the DCT
embedding) and explanation method (``embedding``: the distance split over embedding dimensions;
``occlusion``: the score drop when the joint takes the nearest support clip's trajectory): how often
the shaken joint ranks first and in the top three, and its mean share; how much the shake raised
the clip's anomaly score (median relative rise); and the first-rank rate over the clips whose score
rose by more than 10% (an anomaly the detector does not notice cannot be explained by its score).
Chance is 1/J for the first rank. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from generator_quality import emit  # benchmarks/ is on sys.path when run as a script

from run_encoders import add_run_arguments, load_run

from haad.data.splits import support_draws
from haad.detector import DCTEmbedder, EncoderEmbedder, FewShotDetector

METHODS = ("embedding", "occlusion")
NOTICED = 0.1  # a planted anomaly the detector notices raises the clip's score by more than 10%


def shake(clip: np.ndarray, joint: int, amplitude: float = 0.3) -> np.ndarray:
    """The clip with one joint moved by a sine of ``amplitude`` metres along every axis."""
    out = clip.copy()
    out[:, joint] += amplitude * np.sin(np.arange(len(clip)) / 3.0)[:, None]
    return out


def pessimistic_rank(share: np.ndarray, joint: int) -> int:
    """Rank of ``joint`` (0 = top) with ties counted against it: equal shares are no hit."""
    return int((share > share[joint]).sum() + (share == share[joint]).sum() - 1)


def ranks(data, split, embedder, seed: int, per_category: int, rng) -> dict:
    """{method: [(rank of the shaken joint (0 = top), its share, relative score rise)] per planted clip}."""
    out = {m: [] for m in METHODS}
    for c, support in enumerate(support_draws(split, seed, 3)):
        det = FewShotDetector(embedder, data.layout).fit([data.clips[i] for i in support])
        for i in [i for i in split.test if data.labels[i] == c][:per_category]:
            joint = int(rng.integers(data.layout.num_joints))
            moved = shake(data.clips[i], joint)
            before, after = det.decision_function([data.clips[i], moved])
            for m in METHODS:
                share = det.explain([moved], method=m)[0]
                out[m].append((pessimistic_rank(share, joint), float(share[joint]),
                               float(after / before - 1)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_run_arguments(ap)
    ap.add_argument("--per-category", type=int, default=3, help="planted clips per category and seed")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    data, split, encoders = load_run(ap, args)
    results: dict = {}
    for seed, encoder in encoders:
        for name, embedder in (("learned encoder", EncoderEmbedder(encoder)), ("dct", DCTEmbedder())):
            # the same planted joints for both embeddings
            for m, r in ranks(data, split, embedder, seed, args.per_category, np.random.default_rng([seed, 7])).items():
                results.setdefault((name, m), []).extend(r)
    rows = []
    for (name, m), r in results.items():
        rank, share, rise = (np.array([x[k] for x in r]) for k in range(3))
        noticed = rise > NOTICED
        rows.append({"embedding": name, "method": m, "top1": float((rank == 0).mean()), "top3": float((rank < 3).mean()),
                     "mean_share": float(share.mean()), "planted": len(r), "median_score_rise": float(np.median(rise)),
                     "noticed": int(noticed.sum()),
                     "top1_noticed": float((rank[noticed] == 0).mean()) if noticed.any() else None})
    out = {"command": "python " + " ".join(sys.argv), "dataset": args.dataset, "run": str(args.run),
           "seeds": list(range(args.seeds)), "chance_top1": 1 / data.layout.num_joints, "rows": rows}
    emit(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
