"""Speed of the core pipeline: encoder training time for one seed, and detector scoring throughput.

Usage (prints the figures beside this command; run on an otherwise idle machine):
    python benchmarks/speed.py --dataset utd-mhad --threads 2
    python benchmarks/speed.py --dataset nw-ucla --threads 2 --skip-train

Scoring throughput: a FewShotDetector fitted on K = 3 support clips scores a batch of 10,000 test clips
(windowing + DCT + Res-GCN + mean distance), timed end to end; the dct-distance detector is timed in
the same run so the two can be compared as a ratio.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import numpy as np
import torch

from haad.data import load_dataset
from haad.data.splits import protocol_split
from haad.data.windows import make_windows
from haad.detector import DCTEmbedder, EncoderEmbedder, FewShotDetector
from haad.encoder import ActionEncoder, EncoderConfig
from haad.train import TrainConfig, train_encoder


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="utd-mhad")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-test", type=int, default=10_000)
    ap.add_argument("--skip-train", action="store_true", help="score with an untrained encoder (same cost)")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    data = load_dataset(args.dataset)
    split = protocol_split(data)
    enc_cfg = EncoderConfig(num_joints=data.layout.num_joints)
    out = {"command": "python " + " ".join(sys.argv), "dataset": args.dataset, "threads": args.threads,
           "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}"}

    if args.skip_train:
        encoder = ActionEncoder(enc_cfg).eval()
    else:
        idx = split.seen_train()
        w = make_windows([data.clips[i] for i in idx], data.layout.root)
        t0 = time.perf_counter()
        encoder, hist = train_encoder(w, data.labels[idx], enc_cfg, TrainConfig(seed=0), progress=False)
        out["train_seconds_one_seed"] = time.perf_counter() - t0
        out["train_steps"] = TrainConfig().epochs * TrainConfig().iters_per_epoch

    rng = np.random.default_rng(0)
    test_clips = [data.clips[i] for i in rng.choice(split.test, size=args.n_test, replace=True)]
    support = [data.clips[i] for i in split.train_pools[0][:3]]
    for name, embedder in (("fewshot", EncoderEmbedder(encoder)), ("dct-distance", DCTEmbedder(10))):
        det = FewShotDetector(embedder, data.layout).fit(support)
        det.decision_function(test_clips[:100])  # warm-up
        secs = best_of(lambda: det.decision_function(test_clips), 3)
        out[f"{name}_score_seconds"] = secs
        out[f"{name}_clips_per_second"] = args.n_test / secs
    windows = make_windows(test_clips, data.layout.root)
    emb = EncoderEmbedder(encoder)
    out["fewshot_embed_only_clips_per_second"] = args.n_test / best_of(lambda: emb(windows), 3)
    out["fewshot_vs_dct_time_ratio"] = out["fewshot_score_seconds"] / out["dct-distance_score_seconds"]
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
