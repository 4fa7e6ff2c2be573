"""The inputs of benchmarks/report.py: run files, or the copies archived under OUT_DIR/json.

Every file the report reads is copied to OUT_DIR/json at its path relative to RUNS_ROOT, so the
tables stay reproducible without the runs. A file missing from RUNS_ROOT is read from that copy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def load_file(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def refuse_shrinking(run: Path, copy: Path) -> None:
    """Stop before a run that lacks some of its archived copy's seeds replaces that copy."""
    new, old = load_file(run), load_file(copy)
    if not (isinstance(new, dict) and isinstance(old, dict) and "seeds" in new and "seeds" in old):
        return
    lost = sorted(set(old["seeds"]) - set(new["seeds"]))
    if lost:
        raise SystemExit(f"report.py: {run} lacks seeds {lost} of its archived copy {copy}; extend the row "
                         "instead (benchmarks/extend_seeds.sh), or delete the archived copy to replace it")


class Inputs:
    """The report's view of RUNS_ROOT (``runs``) with its archive under OUT_DIR (``out``)."""

    def __init__(self, runs: Path, out: Path):
        self.runs, self.out = runs, out
        self.used: list[Path] = []  # every input, archived by archive()

    def find(self, p: Path) -> Path:
        """``p`` (a path under runs) itself, or, when a fresh checkout lacks it, its archived copy."""
        copy = self.out / "json" / p.relative_to(self.runs)
        if not p.exists():
            return copy if copy.exists() else p
        if copy.is_file() and p.suffix == ".json":
            refuse_shrinking(p, copy)
        return p

    def glob(self, d: Path, pattern: str) -> list:
        """The files matching ``pattern`` in ``d`` or in its archived copy, found, in name order."""
        copies = self.out / "json" / d.relative_to(self.runs)
        names = {q.name for q in d.glob(pattern)} | {q.name for q in copies.glob(pattern)}
        return [self.find(d / n) for n in sorted(names)]

    def use(self, p: Path) -> Path:
        """Record ``p`` (under runs, or already found) for the archive; return where it is read from."""
        self.used.append(p)
        return self.find(p) if p.is_relative_to(self.runs) else p

    def load(self, p: Path):
        """The JSON of a run's file (or its archived copy), None where neither exists; recorded."""
        return load_file(self.use(p))

    def weights_digest(self, gen_dir: Path) -> str:
        """sha256 of a generator's weights, kept beside the archived config (the weights are not archived)."""
        kept = self.out / "json" / gen_dir.relative_to(self.runs) / "weights.sha256"
        weights = gen_dir / "weights.safetensors"
        if weights.is_file():
            from haad.storage import file_digest

            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_text(file_digest(weights) + "\n")
        return kept.read_text().strip() if kept.is_file() else "unknown"

    def archive(self) -> None:
        """Copy every recorded input under OUT_DIR/json (a file read from its copy stays as it is)."""
        for p in self.used:
            p = self.find(p) if p.is_relative_to(self.runs) else p
            if not p.is_file() or not p.is_relative_to(self.runs):
                continue
            dest = self.out / "json" / p.relative_to(self.runs)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(p, dest)
