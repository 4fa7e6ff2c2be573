"""Memory and speed of ``haad detect --stream`` on long recordings, through the real command line.

Usage (prints each command beside its figures, and the machine's load):
    python benchmarks/stream_memory.py --minutes 15,30,60 --threads 1 --json benchmarks/results/json/speed/stream-memory.json

It writes, in a temporary folder (``--workdir`` to keep it), a support collection and one recording
per length in the generic ``.npz`` format (uncompressed, float32, fps 30, the canonical skeleton's
joint names, so the built-in encoder maps them): the clips of ``haad.data.synthetic`` moved onto the
canonical skeleton, drawn at random and laid end to end until the recording is that long. Then, for
each recording, a fresh process runs

    haad detect --support support.npz --category walk --k-shot 3 --input rec-60min.npz --stream --hop 10 --out scores.csv

(as ``python -m haad.cli``, the same interpreter) and this script reports:

* ``peak_rss_mb``: the child's peak resident set (``ru_maxrss`` of ``os.wait4`` on that child). This
  script imports nothing beyond the standard library while it measures, so the peak Linux carries
  over from the parent at ``exec`` (a few MB, ``parent_peak_rss_mb``) stays far below the child's;
* ``input_mb``: the recording's joint array as loaded (frames x joints x 3 float32), which the
  command holds whole: ``haad detect`` reads the ``.npz`` into memory (it is not memory-mapped);
* ``peak_rss_minus_input_mb``: what scoring costs beyond the recording: it must not grow with length;
* ``seconds`` (wall clock, start-up, loading and fitting included), ``windows_per_second`` and the
  ``realtime_factor`` (recording duration / seconds), both end to end; with two lengths or more,
  ``marginal_windows_per_second`` between the shortest and the longest (start-up cancels out).

A one-minute recording is measured first as the fixed cost (start-up, imports, fitting the detector).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FPS = 30.0
REPO = Path(__file__).resolve().parents[1]


def write_recordings(workdir: Path, minutes: list, seed: int = 0) -> dict:
    """The support collection and one recording per length (run in a child: it imports numpy and haad)."""
    import numpy as np

    from haad.canonical import canonicalize
    from haad.data.collection import Collection
    from haad.data.generic import save_npz
    from haad.data.synthetic import synthesize

    data = canonicalize(synthesize(clips_per_class=6, seed=seed))
    assert data.fps == FPS, data.fps
    save_npz(data, workdir / "support.npz")
    rng = np.random.default_rng(seed)
    out = {"support": str(workdir / "support.npz"), "layout": data.layout.name, "joints": data.layout.num_joints,
           "recordings": {}}
    for m in minutes:
        frames = int(round(m * 60 * FPS))
        parts, total = [], 0
        while total < frames:
            clip = data.clips[int(rng.integers(len(data.clips)))]
            parts.append(clip)
            total += len(clip)
        rec = np.ascontiguousarray(np.concatenate(parts)[:frames], dtype=np.float32)
        path = workdir / f"rec-{m:g}min.npz"
        save_npz(Collection([rec], [0], ["recording"], data.layout, names=[f"rec-{m:g}min"], source=path.stem,
                            fps=FPS), path, compress=False)
        out["recordings"][f"{m:g}"] = {"path": str(path), "frames": frames, "input_mb": rec.nbytes / 2**20,
                                       "file_mb": path.stat().st_size / 2**20}
    return out


def parent_peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def run_detect(argv: list, env: dict, log_stem: Path) -> dict:
    """Run one command in a fresh process; its wall time and its own peak RSS (``os.wait4`` reaps it, so
    its output goes to files rather than pipes that ``communicate`` would wait on)."""
    out_path, err_path = log_stem.with_suffix(".stdout"), log_stem.with_suffix(".stderr")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        parent = parent_peak_rss_mb()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout = out_path.read_text().strip()
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} failed ({proc.returncode}):\n{stdout}\n{err_path.read_text()}")
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "parent_peak_rss_mb": parent,
            "stdout": stdout.splitlines()[-1] if stdout else ""}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", default="15,30,60", help="recording lengths in minutes, comma-separated")
    ap.add_argument("--hop", type=int, default=10, help="frames between window starts")
    ap.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of the command")
    ap.add_argument("--workdir", default=None, help="keep the recordings and CSV files here (default: a temporary folder)")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    ap.add_argument("--write-recordings", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    minutes = [float(m) for m in args.minutes.split(",") if m.strip()]
    if args.write_recordings is not None:  # the child that writes the files
        print(json.dumps(write_recordings(Path(args.write_recordings), minutes)))
        return 0

    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="haad-stream-")
        workdir = Path(tmp.name)
    else:
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
    lengths = [1.0] + [m for m in minutes if m != 1.0]
    files = json.loads(subprocess.run(
        [sys.executable, __file__, "--write-recordings", str(workdir), "--minutes", ",".join(f"{m:g}" for m in lengths)],
        check=True, capture_output=True, text=True).stdout)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"], capture_output=True, text=True)
    out = {"command": "python " + shlex.join(sys.argv), "threads": args.threads, "hop": args.hop, "fps": FPS,
           "layout": files["layout"], "joints": files["joints"],
           "git_commit": commit.stdout.strip() or None,
           "src_uncommitted": [line[3:] for line in dirty.stdout.splitlines()],  # files of src/ that differ from it
           "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
           "load_average_at_start": [round(x, 2) for x in os.getloadavg()], "runs": []}
    print(f"load average {out['load_average_at_start']}; {args.threads} thread(s); hop {args.hop}")
    for m in lengths:
        rec = files["recordings"][f"{m:g}"]
        csv_path = workdir / f"scores-{m:g}min.csv"
        argv = [sys.executable, "-m", "haad.cli", "detect", "--support", files["support"], "--category", "walk",
                "--k-shot", "3", "--input", rec["path"], "--stream", "--hop", str(args.hop), "--out", str(csv_path),
                "--quiet"]
        r = run_detect(argv, env, workdir / f"detect-{m:g}min")
        with open(csv_path) as f:
            windows = sum(1 for _ in f) - 1
        duration = rec["frames"] / FPS
        row = {"minutes": m, "frames": rec["frames"], "windows": windows, "input_mb": rec["input_mb"],
               "file_mb": rec["file_mb"], "peak_rss_mb": r["peak_rss_mb"],
               "peak_rss_minus_input_mb": r["peak_rss_mb"] - rec["input_mb"], "seconds": r["seconds"],
               "windows_per_second": windows / r["seconds"], "realtime_factor": duration / r["seconds"],
               "parent_peak_rss_mb": r["parent_peak_rss_mb"], "command": shlex.join(argv), "output": r["stdout"]}
        out["runs"].append(row)
        print(f"{m:5g} min  {rec['frames']:7d} frames  {windows:6d} windows  input {rec['input_mb']:6.1f} MB  "
              f"peak RSS {r['peak_rss_mb']:6.1f} MB (minus input {row['peak_rss_minus_input_mb']:6.1f})  "
              f"{r['seconds']:6.2f} s  {row['windows_per_second']:7.0f} windows/s  {row['realtime_factor']:6.0f}x real time"
              f"\n    {row['command']}")
    if len(out["runs"]) >= 3:
        lo, hi = out["runs"][1], out["runs"][-1]  # the shortest and longest of the lengths asked for
        out["marginal_windows_per_second"] = (hi["windows"] - lo["windows"]) / (hi["seconds"] - lo["seconds"])
        out["peak_rss_minus_input_growth_mb"] = hi["peak_rss_minus_input_mb"] - lo["peak_rss_minus_input_mb"]
        print(f"between {lo['minutes']:g} and {hi['minutes']:g} min: {out['marginal_windows_per_second']:.0f} windows/s; "
              f"peak RSS beyond the input grew by {out['peak_rss_minus_input_growth_mb']:.1f} MB")
    out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"load average at the end {out['load_average_at_end']}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
