"""Speed of the core pipeline: encoder training time for one seed, and detector scoring throughput
against the machine's FLOP bound, for torch and for onnxruntime.

Usage (prints the figures beside this command and the machine's load; run on an otherwise idle machine):
    python benchmarks/speed.py --dataset utd-mhad --threads 2 --skip-train --json benchmarks/results/speed-utd-mhad.json
    python benchmarks/speed.py --dataset utd-mhad --threads 2

Scoring throughput: a FewShotDetector fitted on K = 3 support clips scores a batch of 10,000 test clips
through the API (``decision_function``: windowing + DCT + Res-GCN + mean distance), timed end to end,
with the torch module's own forward (``torch``: how every embedding was computed before
:func:`haad.embedders.fast_embed`), with that inference-only path (``torch-fast``: the default) and
with the same encoder exported to ONNX and run by onnxruntime (:mod:`haad.onnx_export`); the
dct-distance detector is timed in the same run. The FLOP bound: the
encoder's FLOPs per window (counted by ``torch.utils.flop_counter`` on a real batch: the matrix
products and the DCT einsum; BatchNorm, tanh, max and the distances are not counted) and this
machine's float32 GEMM rate (a 2048 x 2048 matmul, same threads); bound = GEMM rate / FLOPs per
window, and each measured rate is given as a share of it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from haad.data import load_dataset
from haad.data.splits import protocol_split
from haad.data.windows import make_windows
from haad.detector import DCTEmbedder, EncoderEmbedder, FewShotDetector
from haad.encoder import ActionEncoder, EncoderConfig
from haad.train import TrainConfig, save_encoder, train_encoder


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def encoder_flops_per_window(encoder: ActionEncoder, batch: int = 64) -> float:
    """FLOPs of one window through the encoder, counted on a batch (matmuls and einsum; 2 per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    cfg = encoder.config
    x = torch.zeros(batch, cfg.window, cfg.num_joints, 3)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        encoder(x)
    return counter.get_total_flops() / batch


def gemm_gflops(n: int = 2048, repeats: int = 10) -> float:
    """float32 GEMM rate of this machine with torch's current threads (best of ``repeats``)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    return 2 * n ** 3 / best_of(lambda: a @ b, repeats) / 1e9


def stream_child(args) -> dict:
    """One long synthetic recording (a random walk of the synthetic skeleton's joints) scored in this
    process: its peak RSS (``all``: every window at once, as before chunking; ``chunked``:
    :meth:`FewShotDetector.score_stream`)."""
    from haad.data.synthetic import synthesize

    def peak_rss_mb() -> float:
        # VmHWM: this process's own peak (getrusage's ru_maxrss can carry the parent's peak over exec).
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024

    data = synthesize(clips_per_class=1, seed=0)  # small: the peak RSS is the recording's and the scoring's
    torch.manual_seed(0)
    encoder = ActionEncoder(EncoderConfig(num_joints=data.layout.num_joints)).eval()
    det = FewShotDetector(EncoderEmbedder(encoder), data.layout).fit(data.clips[:3])
    rng = np.random.default_rng(0)  # a random walk of the joints, in metres
    stream = (np.cumsum(rng.normal(scale=0.002, size=(args.stream_frames, data.layout.num_joints, 3)), axis=0)
              .astype(np.float32))
    before = peak_rss_mb()
    t0 = time.perf_counter()
    if args.stream_child == "all":
        starts, windows = det.stream_windows(stream, args.hop)
        scores = det.decision_function(windows)
    else:
        starts, scores = det.score_stream(stream, args.hop)
    secs = time.perf_counter() - t0
    return {"mode": args.stream_child, "joints": data.layout.num_joints, "windows": len(starts), "seconds": secs,
            "peak_rss_mb_before_scoring": before,
            "peak_rss_mb": peak_rss_mb(),
            "recording_mb": stream.nbytes / 2**20, "scores_sum": float(np.sum(scores, dtype=np.float64))}


def stream_memory(args) -> dict:
    """Peak RSS of scoring one recording of ``--stream-frames`` frames, each way in a fresh process."""
    import subprocess

    res = {}
    for mode in ("all", "chunked"):
        cmd = [sys.executable, __file__, "--dataset", args.dataset, "--threads", str(args.threads),
               "--stream-frames", str(args.stream_frames), "--hop", str(args.hop), "--stream-child", mode]
        res[mode] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="utd-mhad")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-test", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-train", action="store_true", help="score with an untrained encoder (same cost)")
    ap.add_argument("--no-onnx", action="store_true", help="leave out onnxruntime")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    ap.add_argument("--stream-frames", type=int, default=0,
                    help="also score a synthetic recording of this many frames (108000: one hour at 30 fps) and "
                         "report the peak RSS, every window at once against score_stream's chunks")
    ap.add_argument("--hop", type=int, default=10, help="hop of the recording's windows")
    ap.add_argument("--stream-only", action="store_true", help="only the recording (with --stream-frames)")
    ap.add_argument("--stream-child", choices=("all", "chunked"), default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.stream_child is not None:
        print(json.dumps(stream_child(args)))
        return 0
    if args.stream_only:
        out = {"command": "python " + " ".join(sys.argv), "dataset": args.dataset, "threads": args.threads,
               "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
               "stream": stream_memory(args), "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}
        print(json.dumps(out, indent=2))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(out, f, indent=2)
        return 0

    data = load_dataset(args.dataset)
    split = protocol_split(data)
    enc_cfg = EncoderConfig(num_joints=data.layout.num_joints)
    out = {"command": "python " + " ".join(sys.argv), "dataset": args.dataset, "threads": args.threads,
           "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
           "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}

    if args.skip_train:
        torch.manual_seed(0)
        encoder = ActionEncoder(enc_cfg).eval()
    else:
        idx = split.seen_train()
        w = make_windows([data.clips[i] for i in idx], data.layout.root)
        t0 = time.perf_counter()
        encoder, hist = train_encoder(w, data.labels[idx], enc_cfg, TrainConfig(seed=0), progress=False)
        out["train_seconds_one_seed"] = time.perf_counter() - t0
        out["train_steps"] = TrainConfig().epochs * TrainConfig().iters_per_epoch
    encoder.eval()

    flops = encoder_flops_per_window(encoder)
    gflops = gemm_gflops()
    bound = gflops * 1e9 / flops
    out.update(encoder_mflops_per_window=flops / 1e6, gemm_2048_float32_gflops=gflops,
               flop_bound_windows_per_second=bound)

    rng = np.random.default_rng(0)
    test_clips = [data.clips[i] for i in rng.choice(split.test, size=args.n_test, replace=True)]
    support = [data.clips[i] for i in split.train_pools[0][:3]]
    embedders = [("torch", EncoderEmbedder(encoder, fast=False)), ("torch-fast", EncoderEmbedder(encoder))]
    tmp = tempfile.TemporaryDirectory()
    if not args.no_onnx:
        from haad.onnx_export import OnnxEmbedder, export_onnx

        ckpt = save_encoder(Path(tmp.name) / "enc", encoder, {"dataset": args.dataset, "complete": True})
        embedders.append(("onnxruntime", OnnxEmbedder(export_onnx(ckpt, Path(tmp.name) / "enc.onnx"),
                                                      threads=args.threads)))
    embedders.append(("dct-distance", DCTEmbedder(10)))
    scores = {}
    for name, embedder in embedders:
        det = FewShotDetector(embedder, data.layout).fit(support)
        det.decision_function(test_clips[:100])  # warm-up
        secs = best_of(lambda: det.decision_function(test_clips), args.repeats)
        scores[name] = det.decision_function(test_clips[:500])
        out[f"{name}_score_seconds"] = secs
        out[f"{name}_windows_per_second"] = args.n_test / secs
        if name != "dct-distance":
            out[f"{name}_share_of_flop_bound"] = args.n_test / secs / bound
    windows = make_windows(test_clips, data.layout.root)
    out["windowing_only_windows_per_second"] = args.n_test / best_of(
        lambda: make_windows(test_clips, data.layout.root), args.repeats)
    for name, embedder in embedders[:-1]:
        rate = args.n_test / best_of(lambda: embedder(windows), args.repeats)
        out[f"{name}_embed_only_windows_per_second"] = rate
        out[f"{name}_embed_only_share_of_flop_bound"] = rate / bound
    out["torch_vs_dct_time_ratio"] = out["torch_score_seconds"] / out["dct-distance_score_seconds"]
    if "onnxruntime" in scores:
        out["onnxruntime_vs_torch_speedup"] = out["torch_score_seconds"] / out["onnxruntime_score_seconds"]
        out["onnxruntime_vs_torch_max_abs_score_diff_over_max_score"] = float(
            np.abs(scores["onnxruntime"] - scores["torch"]).max() / scores["torch"].max())
    out["torch_fast_vs_torch_speedup"] = out["torch_score_seconds"] / out["torch-fast_score_seconds"]
    out["torch_fast_vs_torch_max_abs_score_diff_over_max_score"] = float(
        np.abs(scores["torch-fast"] - scores["torch"]).max() / scores["torch"].max())
    if args.stream_frames:
        out["stream"] = stream_memory(args)
    out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    tmp.cleanup()
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
