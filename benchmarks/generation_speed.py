"""Generated variants per second (Eq. 4 completion, O = 30): the sampling path against the reference path.

Usage: python benchmarks/generation_speed.py [--threads 1] [--joints 20] [--repeats 5] [--batch 64]
                                            [--windows 64] [--profile] [--json PATH]

Headline: the ``cpu`` denoiser preset, 20 DDIM steps, 64 windows of J joints, one variant each,
batches of 64: ``Generator.generate`` (``Diffusion.complete`` with a ``SamplingDenoiser``), in float32
and with ``precision="bfloat16"``, against ``Generator.generate(reference=True)``
(``Diffusion.complete_reference``, the module's own forward: the path before), timed in turn in this one
process ``--repeats`` times; a ratio is the median of the per-repeat ratios, so that a load shared by
the paths cancels. Beside it, the bound the matrix
products set: the denoiser's FLOPs per variant (``torch.utils.flop_counter``) and the rate of one
of its products (the q | k | v projection of a 64-window batch, (1280 x 128) by (128 x 384), through
the sampling path's linear, and through ``F.linear`` as the reference path's layers), timed in the
same repeats. Then the ``paper`` preset (16 windows) the same way, and seconds per clip of both
paths against the number of DDIM steps.

The weights are random, the zero-initialised output projections included: the cost does not depend
on them, and a denoiser that predicts nonzero noise makes the printed difference between the two
paths' variants meaningful.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from haad.generator.denoiser import NoisePredictor, SamplingDenoiser, make_config, onednn_linear_available
from haad.generator.diffusion import Diffusion
from haad.generator.sample import Generator


def _generator(preset: str, joints: int, batch: int) -> Generator:
    torch.manual_seed(0)
    model = NoisePredictor(make_config(preset, joints))
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.normal_(0, 0.02)
    return Generator(model, Diffusion(num_joints=joints), batch_size=batch)


def _seconds(gen: Generator, windows: np.ndarray, steps: int, reference: bool,
             batch: int | None = None, precision: str = "float32") -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    out = gen.generate(windows, n_variants=1, n_obs=30, steps=steps, seed=0, batch_size=batch, reference=reference,
                       precision=precision)
    return time.perf_counter() - t0, out


def profile(gen: Generator, windows: np.ndarray, steps: int, batch: int) -> dict:
    """Share of the sampling path's operator time (torch.profiler, self CPU time), largest first."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        gen.generate(windows, n_variants=1, n_obs=30, steps=steps, seed=0, batch_size=batch)
    times = {e.key: e.self_cpu_time_total for e in prof.key_averages()}
    total = sum(times.values())
    top = sorted(times.items(), key=lambda kv: -kv[1])[:8]
    return {k: v / total for k, v in top}


def flops_per_step(model: NoisePredictor) -> float:
    """FLOPs of one denoiser call per window (the same in both paths)."""
    x = torch.randn(8, model.cfg.n_coef, model.cfg.num_joints, 3)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x, torch.full((8,), 5), x)
    return counter.get_total_flops() / 8


def gemm_seconds(model: NoisePredictor, calls: int = 20, plain: bool = False) -> tuple[float, float]:
    """(seconds, FLOPs) of ``calls`` q | k | v projections of a 64-window batch through the sampling
    path's linear (``plain``: through ``F.linear``, as the reference path's layers run)."""
    fast = SamplingDenoiser(model)
    w = fast.blocks[0]["qkv"]
    x = torch.randn(64 * model.cfg.n_coef, w.shape[1])

    def linear():
        return torch.nn.functional.linear(x, w) if plain else fast._linear(x, w, None)

    linear()
    t0 = time.perf_counter()
    for _ in range(calls):
        linear()
    return time.perf_counter() - t0, 2.0 * calls * x.shape[0] * w.shape[0] * w.shape[1]


def compare(gen: Generator, windows: np.ndarray, steps: int, repeats: int, batch: int) -> dict:
    """The paths timed in turn ``repeats`` times (after one untimed call each), with the GEMM rate;
    the sampling path (float32, then bfloat16) in batches of ``batch``, the reference path in the
    generator's (64)."""
    _, ref = _seconds(gen, windows, steps, True)
    _, new = _seconds(gen, windows, steps, False, batch)
    _, half = _seconds(gen, windows, steps, False, batch, "bfloat16")
    old_s, new_s, bf_s, rates, plain_rates = [], [], [], [], []
    for _ in range(repeats):
        old_s.append(_seconds(gen, windows, steps, True)[0])
        new_s.append(_seconds(gen, windows, steps, False, batch)[0])
        bf_s.append(_seconds(gen, windows, steps, False, batch, "bfloat16")[0])
        sec, flops = gemm_seconds(gen.model)
        rates.append(flops / sec)
        sec, flops = gemm_seconds(gen.model, plain=True)
        plain_rates.append(flops / sec)
    n = len(windows)
    ratios = np.array(old_s) / np.array(new_s)
    bf_ratios = np.array(old_s) / np.array(bf_s)
    flops_variant = flops_per_step(gen.model) * steps
    rate = float(np.median(rates))
    return {"steps": steps, "windows": n, "batch_size": batch, "reference_batch_size": gen.batch_size,
            "repeats": repeats,
            "reference_variants_per_s": float(np.median(n / np.array(old_s))),
            "variants_per_s": float(np.median(n / np.array(new_s))),
            "ratio": float(np.median(ratios)), "ratio_min": float(ratios.min()), "ratio_max": float(ratios.max()),
            "bfloat16_variants_per_s": float(np.median(n / np.array(bf_s))), "bfloat16_ratio": float(np.median(bf_ratios)),
            "bfloat16_ratio_min": float(bf_ratios.min()), "bfloat16_ratio_max": float(bf_ratios.max()),
            "bfloat16_max_abs_difference": float(np.abs(half - new).max()),
            "max_abs_difference": float(np.abs(new - ref).max()), "max_abs_value": float(np.abs(ref).max()),
            "denoiser_flops_per_variant": flops_variant, "gemm_flops_per_s": rate,
            "gemm_flops_per_s_f_linear": float(np.median(plain_rates)),
            "gemm_bound_variants_per_s": rate / flops_variant}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--joints", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64, help="windows per batch of the sampling path")
    ap.add_argument("--windows", type=int, default=64, help="windows of the cpu-preset headline")
    ap.add_argument("--profile", action="store_true", help="torch.profiler's operator shares of the sampling path")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    out = {"command": "python " + " ".join(sys.argv), "threads": args.threads, "joints": args.joints,
           "torch": torch.__version__, "onednn_linear": onednn_linear_available(),
           "load_average_before": list(os.getloadavg()), "cpu_count": os.cpu_count()}
    print(f"threads {args.threads}, J = {args.joints}, torch {torch.__version__}, oneDNN linear "
          f"{out['onednn_linear']}, load average {out['load_average_before'][0]:.2f} on {os.cpu_count()} cores",
          flush=True)

    def show(preset, params, r):
        print(f"{preset:6s} ({params / 1e6:.1f} M)  {r['steps']:3d} steps  {r['windows']} windows: "
              f"reference {r['reference_variants_per_s']:.1f} variants/s, now {r['variants_per_s']:.1f} variants/s, "
              f"ratio {r['ratio']:.2f} (min {r['ratio_min']:.2f}, max {r['ratio_max']:.2f}); "
              f"max |difference| {r['max_abs_difference']:.2g} of max |value| {r['max_abs_value']:.3g}\n"
              f"        denoiser {r['denoiser_flops_per_variant'] / 1e6:.0f} MFLOP per variant; GEMM at "
              f"{r['gemm_flops_per_s'] / 1e9:.0f} GFLOP/s (F.linear {r['gemm_flops_per_s_f_linear'] / 1e9:.0f}): at most {r['gemm_bound_variants_per_s']:.1f} variants/s "
              f"({r['gemm_bound_variants_per_s'] / r['reference_variants_per_s']:.2f} x the reference)\n"
              f"        bfloat16 denoiser: {r['bfloat16_variants_per_s']:.1f} variants/s, ratio {r['bfloat16_ratio']:.2f} "
              f"(min {r['bfloat16_ratio_min']:.2f}, max {r['bfloat16_ratio_max']:.2f}); max |difference from "
              f"float32| {r['bfloat16_max_abs_difference']:.2g}", flush=True)

    out["headline"] = []
    for preset, n_clips, repeats in (("cpu", args.windows, args.repeats), ("paper", 16, max(1, args.repeats // 2))):
        gen = _generator(preset, args.joints, 64)
        windows = rng.normal(0, 0.1, (n_clips, 60, args.joints, 3)).astype(np.float32)
        r = {"preset": preset, "params": gen.model.num_parameters(),
             **compare(gen, windows, 20, repeats, args.batch)}
        out["headline"].append(r)
        show(preset, r["params"], r)
        if args.profile and preset == "cpu":
            out["profile"] = profile(gen, windows, 20, args.batch)
            print("sampling path, share of operator time: " + ", ".join(
                f"{k} {v:.2f}" for k, v in out["profile"].items()), flush=True)

    out["rows"] = []
    for preset, n_clips in (("cpu", 64), ("paper", 16)):
        gen = _generator(preset, args.joints, 64)
        windows = rng.normal(0, 0.1, (n_clips, 60, args.joints, 3)).astype(np.float32)
        for steps in (100, 50, 20, 10):
            old = _seconds(gen, windows, steps, True)[0] / n_clips
            new = _seconds(gen, windows, steps, False)[0] / n_clips
            out["rows"].append({"preset": preset, "params": gen.model.num_parameters(), "steps": steps,
                                "reference_seconds_per_clip": old, "seconds_per_clip": new})
            print(f"{preset:6s} {steps:3d} steps  reference {old:.4f} s/clip, now {new:.4f} s/clip ({old / new:.2f}x)",
                  flush=True)
    out["load_average_after"] = list(os.getloadavg())
    print(f"load average after: {out['load_average_after'][0]:.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
