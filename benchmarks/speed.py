"""Speed of the core pipeline: encoder training time for one seed, and detector scoring throughput
against the machine's FLOP bound, for torch and for onnxruntime.

Usage (prints the figures beside this command and the machine's load; run on an otherwise idle machine):
    python benchmarks/speed.py --dataset utd-mhad --threads 2 --skip-train --json benchmarks/results/speed-utd-mhad.json
    python benchmarks/speed.py --dataset utd-mhad --threads 2
    python benchmarks/speed.py --dataset utd-mhad --threads 1 --skip-train --detect --repeats 7

Scoring throughput: a FewShotDetector fitted on K = 3 support clips scores a batch of 10,000 test clips
through the API (``decision_function``: windowing + DCT + Res-GCN + mean distance), timed end to end,
with the torch module's own forward (``torch``: how every embedding was computed before
:func:`haad.embedders.fast_embed`), with that inference-only path (``torch-fast``: the default), with
the inference-only path as it was before it ran its products through oneDNN (``torch-fast-before``:
:func:`fast_embed_before`, MKL's GEMMs, torch's tanh, batches of 1,024) and with the same encoder
exported to ONNX and run by onnxruntime (:mod:`haad.onnx_export`); the dct-distance detector is timed
in the same run. Every repeat times every path in turn (so that a change of the machine's load falls
on all of them alike); a path's figure is its best repeat, and ``torch_fast_vs_before_speedup`` is
the median over repeats of the per-repeat ratio. ``--detect`` also times ``haad detect`` end to end
in this process (reading the two ``.npz`` files, fitting on the support clips, scoring, writing the
CSV; the interpreter's start-up excluded), with the same encoder as a checkpoint, the fast path and
the path before it in turn.

The FLOP bound: the encoder's FLOPs per window (counted by ``torch.utils.flop_counter`` on a real
batch: the matrix products and the DCT einsum; BatchNorm, tanh, max and the distances are not counted)
and this machine's float32 GEMM rate (a 2048 x 2048 matmul, same threads); bound = GEMM rate / FLOPs
per window, and each measured rate is given as a share of it. ``torch.matmul`` runs MKL's sgemm; on
CPUs where oneDNN's GEMM is faster (an AMD EPYC with AVX-512: twice the rate) the same 2048 x 2048
product through oneDNN gives a second, higher bound (``*_onednn_*``), reported beside the first.
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
from haad.onednn import onednn_matmul_available
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


def onednn_gemm_gflops(n: int = 2048, repeats: int = 10) -> float | None:
    """The same product through oneDNN's linear (``None`` where this torch has none)."""
    if not onednn_matmul_available():
        return None
    op = torch.ops.mkldnn._linear_pointwise
    a, b = torch.randn(n, n), torch.randn(n, n)
    op(a, b.t(), None, "none", [], "")  # warm-up
    return 2 * n ** 3 / best_of(lambda: op(a, b.t(), None, "none", [], ""), repeats) / 1e9


def in_turn(fns: dict, repeats: int) -> dict:
    """Seconds of every repeat of every function, the functions timed in turn within each repeat.

    Repeat r starts with the r-th function (the order rotates), since what a function costs can
    depend on the one before it."""
    names = list(fns)
    times = {name: [] for name in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            t0 = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def ratio_stats(slow: list, fast: list) -> dict:
    """Median, min and max over repeats of the per-repeat ratio slow / fast (seconds)."""
    r = np.asarray(slow) / np.asarray(fast)
    return {"median": float(np.median(r)), "min": float(r.min()), "max": float(r.max())}


def fast_embed_before(encoder: ActionEncoder, windows: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """:func:`haad.embedders.fast_embed` as it was before its products went through oneDNN (commit
    73f471a): node-major activations, MKL's GEMMs (``@``), BatchNorm as one ``addcmul``, torch's
    ``tanh``, the DCT as an einsum, batches of 1,024 whatever the threads. Kept to time against."""
    cfg = encoder.config
    j, m = cfg.num_joints, cfg.n_coef
    out = np.empty((len(windows), cfg.embedding_dim), np.float32)

    def fold(gc, bn):
        f = gc.weight.shape[1]
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shift = bn.bias - bn.running_mean * scale
        if gc.bias is not None:
            shift = shift + gc.bias.repeat(j) * scale
        return gc.weight, gc.adj, scale.reshape(j, 1, f), shift.reshape(j, 1, f)

    def graph_conv(x, weight, adj):
        b, f = x.shape[1], x.shape[2]
        y = (x.reshape(j * b, f) @ weight).reshape(j, b * weight.shape[1])
        return (adj @ y).reshape(j, b, weight.shape[1])

    def layer(x, params):
        weight, adj, scale, shift = params
        return torch.tanh_(torch.addcmul(shift, graph_conv(x, weight, adj), scale))

    with torch.inference_mode():
        first = fold(encoder.inp.gc, encoder.inp.bn)
        blocks = [(fold(b.a.gc, b.a.bn), fold(b.b.gc, b.b.bn)) for b in encoder.blocks]
        for lo in range(0, len(windows), batch_size):
            w = torch.from_numpy(windows[lo:lo + batch_size])
            coef = torch.einsum("kt,btjc->jbkc", encoder.dct, w).reshape(j, len(w), 3 * m)
            x = layer(coef, first)
            for a, b in blocks:
                x = layer(layer(x, a), b).add_(x)
            feats = graph_conv(x, encoder.out.weight, encoder.out.adj).add_(encoder.out.bias).add_(coef)
            pooled = feats.amax(dim=2).T if cfg.pooling == "joint" else feats.amax(dim=0)
            out[lo:lo + len(w)] = pooled.numpy()
    return out


class BeforeFastEmbedder(EncoderEmbedder):
    """:class:`EncoderEmbedder` with :func:`fast_embed_before`."""

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        return fast_embed_before(self.encoder, np.asarray(windows, dtype=np.float32))


def layer_ops(encoder: ActionEncoder, batch: int, repeats: int) -> dict:
    """The operations of one hidden graph-convolution layer of :func:`haad.embedders.fast_embed` on a
    batch of ``batch`` windows (node-major activations (J * batch, F)), each timed in turn: the
    node-shared product X W and the adjacency product A Y through MKL (``@``) and through oneDNN's
    linear, torch's tanh and the sigmoid form of it. GEMMs in GFLOP/s, elementwise steps in ns per
    element, all with their microseconds per window."""
    from haad.embedders import _bn_tanh_

    op = torch.ops.mkldnn._linear_pointwise
    cfg = encoder.config
    j, f = cfg.num_joints, cfg.hidden
    g = torch.Generator().manual_seed(0)
    x, w, adj = torch.randn(j * batch, f, generator=g), torch.randn(f, f, generator=g), torch.randn(j, j, generator=g)
    y = torch.randn(j, batch * f, generator=g)
    z = torch.randn(j, batch, f, generator=g)
    scale, shift = torch.rand(j, 1, f, generator=g) + 0.5, torch.randn(j, 1, f, generator=g)
    wt = w.t().contiguous()
    fns = {"XW_mkl": lambda: x @ w, "AY_mkl": lambda: adj @ y,
           "bn_tanh_torch": lambda: torch.tanh_(torch.addcmul(shift, z, scale)),
           "bn_tanh_sigmoid": lambda: _bn_tanh_(z.clone(), 2 * scale, 2 * shift), "clone": lambda: z.clone()}
    if onednn_matmul_available():
        fns.update(XW_onednn=lambda: op(x, wt, None, "none", [], ""), AY_onednn=lambda: op(adj, y.t(), None, "none", [], ""))
    out = {"batch": batch}
    with torch.inference_mode():
        for fn in fns.values():
            fn()
        times = {k: min(v) for k, v in in_turn(fns, repeats).items()}
        if "XW_onednn" in fns:
            out["onednn_vs_mkl_max_abs_diff"] = max(float((fns["XW_onednn"]() - x @ w).abs().max()),
                                                    float((fns["AY_onednn"]() - adj @ y).abs().max()))
    times["bn_tanh_sigmoid"] -= times.pop("clone")  # its input is copied first (it works in place)
    flops = {"XW": 2 * j * batch * f * f, "AY": 2 * j * j * batch * f}
    for k, secs in times.items():
        out[f"{k}_us_per_window"] = secs / batch * 1e6
        if k[:2] in flops:
            out[f"{k}_gflops"] = flops[k[:2]] / secs / 1e9
        else:
            out[f"{k}_ns_per_element"] = secs / z.numel() * 1e9
    return out


def detect_speed(args, data, split, test_idx, ckpt: Path, tmp: Path, bound: float) -> dict:
    """``haad detect`` end to end, in this process, with the fast path and the path before it in turn."""
    import contextlib
    import io

    import haad.embedders
    from haad.cli import main as haad_main
    from haad.data.generic import save_npz

    category = data.class_names[0]
    support = save_npz(data.subset(split.train_pools[0][:3]), tmp / "support.npz", compress=False)
    inputs = save_npz(data.subset(test_idx), tmp / "input.npz", compress=False)
    argv = ["detect", "--support", str(support), "--category", category, "--k-shot", "3", "--input", str(inputs),
            "--encoder", str(ckpt), "--quiet", "--out", str(tmp / "scores.csv")]
    new = haad.embedders.fast_embed

    def run(fast_embed):
        haad.embedders.fast_embed = fast_embed
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                if haad_main(argv) != 0:
                    raise RuntimeError("haad detect failed: " + " ".join(argv))
        finally:
            haad.embedders.fast_embed = new

    fns = {"torch-fast-before": lambda: run(fast_embed_before), "torch-fast": lambda: run(new)}
    for fn in fns.values():
        fn()  # warm-up
    times = in_turn(fns, args.repeats)
    out = {"detect_command": "haad " + " ".join(argv), "detect_clips": len(test_idx)}
    for name, secs in times.items():
        out[f"detect_{name}_seconds"] = min(secs)
        out[f"detect_{name}_seconds_per_repeat"] = secs
        out[f"detect_{name}_windows_per_second"] = len(test_idx) / min(secs)
        out[f"detect_{name}_share_of_flop_bound"] = len(test_idx) / min(secs) / bound
    out["detect_torch_fast_vs_before_speedup"] = ratio_stats(times["torch-fast-before"], times["torch-fast"])
    return out


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
    ap.add_argument("--detect", action="store_true",
                    help="also time haad detect end to end on the same clips, fast path against the path before it")
    ap.add_argument("--fast-batches", default="",
                    help="also time the fast path's encoder alone at these batch sizes (comma separated), in turn")
    ap.add_argument("--ops", type=int, default=0, metavar="BATCH",
                    help="also time the operations of one hidden layer on a batch of this many windows")
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
    onednn_gflops = onednn_gemm_gflops()
    bound_onednn = onednn_gflops * 1e9 / flops if onednn_gflops else None
    out.update(onednn_gemm_2048_float32_gflops=onednn_gflops, flop_bound_onednn_windows_per_second=bound_onednn,
               fast_embed_uses_onednn=onednn_matmul_available())

    rng = np.random.default_rng(0)
    test_idx = rng.choice(split.test, size=args.n_test, replace=True)
    test_clips = [data.clips[i] for i in test_idx]
    support = [data.clips[i] for i in split.train_pools[0][:3]]
    embedders = [("torch", EncoderEmbedder(encoder, fast=False)), ("torch-fast", EncoderEmbedder(encoder)),
                 ("torch-fast-before", BeforeFastEmbedder(encoder))]
    tmp = tempfile.TemporaryDirectory()
    ckpt = save_encoder(Path(tmp.name) / "enc", encoder, {"dataset": args.dataset, "complete": True})
    if not args.no_onnx:
        from haad.onnx_export import OnnxEmbedder, export_onnx

        embedders.append(("onnxruntime", OnnxEmbedder(export_onnx(ckpt, Path(tmp.name) / "enc.onnx"),
                                                      threads=args.threads)))
    embedders.append(("dct-distance", DCTEmbedder(10)))
    scores, detectors = {}, {}
    for name, embedder in embedders:
        det = detectors[name] = FewShotDetector(embedder, data.layout).fit(support)
        det.decision_function(test_clips[:100])  # warm-up
        scores[name] = det.decision_function(test_clips[:500])
    # The encoder paths in turn; the dct-distance detector on its own afterwards, as before (timed in
    # turn after the encoder paths, its float64 DCT of every window took 0.7 to 1.0 s instead of 0.25).
    times = in_turn({name: (lambda det=det: det.decision_function(test_clips))
                     for name, det in detectors.items() if name != "dct-distance"}, args.repeats)
    times["dct-distance"] = [best_of(lambda: detectors["dct-distance"].decision_function(test_clips), args.repeats)]
    for name, _ in embedders:
        secs = min(times[name])
        out[f"{name}_score_seconds"] = secs
        out[f"{name}_windows_per_second"] = args.n_test / secs
        if name != "dct-distance":
            out[f"{name}_score_seconds_per_repeat"] = times[name]
            out[f"{name}_share_of_flop_bound"] = args.n_test / secs / bound
            if bound_onednn:
                out[f"{name}_share_of_onednn_flop_bound"] = args.n_test / secs / bound_onednn
    out["torch_fast_vs_before_speedup"] = ratio_stats(times["torch-fast-before"], times["torch-fast"])
    windows = make_windows(test_clips, data.layout.root)
    out["windowing_only_windows_per_second"] = args.n_test / best_of(
        lambda: make_windows(test_clips, data.layout.root), args.repeats)
    times = in_turn({name: (lambda e=embedder: e(windows)) for name, embedder in embedders[:-1]}, args.repeats)
    for name, _ in embedders[:-1]:
        rate = args.n_test / min(times[name])
        out[f"{name}_embed_only_windows_per_second"] = rate
        out[f"{name}_embed_only_share_of_flop_bound"] = rate / bound
        if bound_onednn:
            out[f"{name}_embed_only_share_of_onednn_flop_bound"] = rate / bound_onednn
    out["torch_fast_vs_before_embed_only_speedup"] = ratio_stats(times["torch-fast-before"], times["torch-fast"])
    if args.fast_batches:
        from haad.embedders import fast_embed

        sizes = [int(b) for b in args.fast_batches.split(",")]
        times = in_turn({b: (lambda b=b: fast_embed(encoder, windows, batch_size=b)) for b in sizes}, args.repeats)
        out["torch_fast_embed_only_windows_per_second_by_batch"] = {str(b): args.n_test / min(times[b]) for b in sizes}
    if args.ops:
        out["layer_ops"] = layer_ops(encoder, args.ops, max(args.repeats, 10))
    if args.detect:
        out.update(detect_speed(args, data, split, test_idx, ckpt, Path(tmp.name), bound))
    out["torch_vs_dct_time_ratio"] = out["torch_score_seconds"] / out["dct-distance_score_seconds"]
    if "onnxruntime" in scores:
        out["onnxruntime_vs_torch_speedup"] = out["torch_score_seconds"] / out["onnxruntime_score_seconds"]
        out["onnxruntime_vs_torch_max_abs_score_diff_over_max_score"] = float(
            np.abs(scores["onnxruntime"] - scores["torch"]).max() / scores["torch"].max())
    out["torch_fast_vs_torch_speedup"] = out["torch_score_seconds"] / out["torch-fast_score_seconds"]
    out["torch_fast_vs_torch_max_abs_score_diff_over_max_score"] = float(
        np.abs(scores["torch-fast"] - scores["torch"]).max() / scores["torch"].max())
    out["torch_fast_before_vs_torch_max_abs_score_diff_over_max_score"] = float(
        np.abs(scores["torch-fast-before"] - scores["torch"]).max() / scores["torch"].max())
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
