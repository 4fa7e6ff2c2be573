"""Where the generator's training time goes: seconds per iteration on 1 and 2 threads, and torch.profiler's
operator shares of a training step (the `cpu` preset, utd-mhad's seen training windows, batch 64).

    python benchmarks/generator_training_profile.py --iterations 200 --json benchmarks/results/json/speed/generator-training.json

Each thread count trains a fresh generator for 0 and for ``--iterations`` steps with
``haad.generator.train`` (the real loop: augmentation, DCT, noise, loss, backward, Adam, EMA; no
checkpoint but the last): the 0-step run is the fixed cost (the model, the normalisation statistics
over augmented copies of the training windows), the difference per step the cost of a step (with the
final checkpoint). The profile covers ``--profile-steps`` steps of a 1-thread run, after the fixed cost.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import torch

from haad.data import load_dataset
from haad.data.splits import protocol_split
from haad.data.windows import make_windows
from haad.generator.train import GeneratorTrainConfig, train_generator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="utd-mhad")
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--profile-steps", type=int, default=30)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    data = load_dataset(args.dataset)
    split = protocol_split(data)
    windows = make_windows([data.clips[i] for i in split.seen_train()], data.layout.root)
    out = {"dataset": args.dataset, "iterations": args.iterations, "windows": int(len(windows)),
           "load_average_start": os.getloadavg(), "seconds_per_iteration": {}}
    tmp = tempfile.mkdtemp(prefix="haad-genprof-")
    try:
        out["fixed_seconds"] = {}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            took = {}
            for n in (0, args.iterations):
                shutil.rmtree(f"{tmp}/g", ignore_errors=True)
                t0 = time.perf_counter()
                train_generator(windows, data.layout, GeneratorTrainConfig(iterations=n, checkpoint_every=0),
                                f"{tmp}/g", progress=False)
                took[n] = time.perf_counter() - t0
            out["fixed_seconds"][threads] = took[0]
            out["seconds_per_iteration"][threads] = (took[args.iterations] - took[0]) / args.iterations
            print(f"{threads} thread(s): fixed cost {took[0]:.1f} s, then "
                  f"{out['seconds_per_iteration'][threads] * 1e3:.1f} ms per iteration", flush=True)
        torch.set_num_threads(1)
        from torch.profiler import ProfilerActivity, profile

        # The profile starts after the fixed cost: a 1-step run leaves a checkpoint that the profiled run
        # resumes (its normalisation read back, not measured again).
        shutil.rmtree(f"{tmp}/g", ignore_errors=True)
        train_generator(windows, data.layout, GeneratorTrainConfig(iterations=1, checkpoint_every=0), f"{tmp}/g",
                        progress=False)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            train_generator(windows, data.layout,
                            GeneratorTrainConfig(iterations=1 + args.profile_steps, checkpoint_every=0), f"{tmp}/g",
                            progress=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    events = [e for e in prof.key_averages() if e.key.startswith("aten::") or e.key.startswith("mkldnn")
              or "Backward" in e.key]
    total = sum(e.self_cpu_time_total for e in prof.key_averages())
    shares = sorted(((e.key, e.self_cpu_time_total / total) for e in events), key=lambda kv: -kv[1])[:12]
    out["self_time_shares"] = dict(shares)
    out["load_average_end"] = os.getloadavg()
    print("self-time shares (1 thread): " + ", ".join(f"{k} {v:.2f}" for k, v in shares))
    print(f"load average {out['load_average_start']} -> {out['load_average_end']}")
    if args.json:
        from haad.storage import atomic_write_json

        atomic_write_json(args.json, out)


if __name__ == "__main__":
    main()
