"""Speed of the default path: the built-in encoder's hybrid embedding through the API, beside its learned
part alone, on a dataset's own clips (every clip mapped onto the canonical skeleton and normalised for
the sensor, then windowed and embedded).

    python benchmarks/builtin_speed.py --threads 1 --repeats 5 --json benchmarks/results/json/speed/builtin-speed.json

A detector is fitted on K = 3 clips of one category with ``haad.inference.fit_detector`` (the
built-in encoder, as ``haad detect`` uses it by default) and scores ``--n-test`` clips drawn from the
dataset (with replacement) through ``decision_function``, timed end to end: preparing the clips
(canonical skeleton, normalisation), windowing, the embedding, each part's distance to the nearest of
the 3 support clips and their 48 turned and time-warped copies, summed (Eq. 6p, the encoder's recorded
settings). In the same repeats, in turn: the same detector scoring by Eq. 6 against the 3 clips alone
(``--distance mean --turns none --warps none``), the learned part alone, the preparation and windowing
alone, and either embedding of the prepared windows alone (every other repeat in reverse order); a
figure is the best repeat.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from dataclasses import replace

import numpy as np
import torch

from haad.data import load_dataset
from haad.inference import SupportConfig, fit_detector


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="utd-mhad")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n-test", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = load_dataset(args.dataset)
    cfg = SupportConfig(category=data.class_names[0], k_shot=3)
    hybrid = fit_detector(data, "builtin", cfg)
    learned = copy.copy(hybrid)
    learned.embedder = hybrid.embedder.learned
    learned.fit([data.clips[i] for i in np.flatnonzero(data.labels == 0)[:3]])
    plain = fit_detector(data, "builtin", replace(cfg, distance="mean", turns=(), warps=()))
    clips = [data.clips[i] for i in np.random.default_rng(0).integers(0, len(data.clips), args.n_test)]
    windows = hybrid.windows(clips)  # prepared (canonical, normalised) and windowed
    paths = {"hybrid (built-in)": lambda: hybrid.decision_function(clips),
             "hybrid, Eq. 6 against the 3 clips alone": lambda: plain.decision_function(clips),
             "learned part alone": lambda: learned.decision_function(clips),
             "preparing and windowing only": lambda: hybrid.windows(clips),
             "hybrid embedding of the windows only": lambda: hybrid.embedder(windows),
             "learned embedding of the windows only": lambda: hybrid.embedder.learned(windows)}
    for fn in paths.values():  # warm-up: first allocations, oneDNN's probe
        fn()
    best = {k: float("inf") for k in paths}
    for r in range(args.repeats):
        # Every other repeat in reverse order: a path timed right after another one pays for what that
        # one left behind (allocator state, caches), and that cost would always fall on the same path.
        for name in (list(paths) if r % 2 == 0 else list(reversed(paths))):
            t0 = time.perf_counter()
            paths[name]()
            best[name] = min(best[name], time.perf_counter() - t0)
    rates = {k: args.n_test / v for k, v in best.items()}
    out = {"command": "python benchmarks/builtin_speed.py " + " ".join(
               f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None and k != "json"),
           "dataset": args.dataset, "threads": args.threads, "n_test": args.n_test, "repeats": args.repeats,
           "load_average": os.getloadavg(), "windows_per_second": rates,
           "hybrid_vs_learned": rates["hybrid (built-in)"] / rates["learned part alone"],
           "builtin_settings_vs_mean": rates["hybrid (built-in)"] / rates["hybrid, Eq. 6 against the 3 clips alone"]}
    for k, v in rates.items():
        print(f"{k:45s} {v:10,.0f} windows/s")
    print(f"hybrid / learned alone: {out['hybrid_vs_learned']:.2f}, built-in settings / Eq. 6: "
          f"{out['builtin_settings_vs_mean']:.2f} (same run); load average {out['load_average']}")
    if args.json:
        from haad.storage import atomic_write_json

        atomic_write_json(args.json, out)


if __name__ == "__main__":
    main()
