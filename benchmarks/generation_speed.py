"""Seconds per generated clip (Eq. 4 completion, O = 30) against DDIM steps and denoiser preset.

Usage: python benchmarks/generation_speed.py [--threads 1] [--joints 20]
The denoiser's weights do not change the cost, so an untrained one is timed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

from haad.generator.denoiser import NoisePredictor, make_config
from haad.generator.diffusion import Diffusion
from haad.generator.sample import Generator


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--joints", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    out = {"command": "python " + " ".join(sys.argv), "threads": args.threads, "joints": args.joints, "rows": []}
    for preset, n_clips, batch in (("cpu", 64, 64), ("paper", 16, 16)):
        torch.manual_seed(0)
        model = NoisePredictor(make_config(preset, args.joints))
        gen = Generator(model, Diffusion(num_joints=args.joints), batch_size=batch)
        windows = rng.normal(0, 0.1, (n_clips, 60, args.joints, 3)).astype(np.float32)
        for steps in (100, 50, 20, 10):
            t0 = time.perf_counter()
            gen.generate(windows, n_variants=1, n_obs=30, steps=steps, seed=0)
            sec = (time.perf_counter() - t0) / n_clips
            out["rows"].append({"preset": preset, "params": model.num_parameters(), "steps": steps,
                                "seconds_per_clip": sec})
            print(f"{preset:6s} ({model.num_parameters() / 1e6:.1f} M)  {steps:3d} steps  {sec:.4f} s/clip", flush=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
