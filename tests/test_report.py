"""benchmarks/report.py rebuilds the committed report from its archived inputs alone."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


@pytest.mark.slow
@pytest.mark.skipif(not (RESULTS / "json").is_dir(), reason="no archived benchmark results in this checkout")
def test_report_regenerates_from_the_archive(tmp_path):
    # A fresh checkout has no runs/: every table must come back from results/json, unchanged, and
    # the committed report must be what its archived inputs give (no hand edits, no stale copy).
    pytest.importorskip("matplotlib")
    out = tmp_path / "results"
    shutil.copytree(RESULTS, out)
    (out / "report.md").unlink()
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "report.py"), str(tmp_path / "no-runs"), str(out)],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (out / "report.md").read_text() == (RESULTS / "report.md").read_text()
    # ... and the README's "Tables" section is that report (report.py syncs it)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import report
    finally:
        sys.path.pop(0)
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "benchmarks" / "README.md", readme)
    report.sync_readme(readme, [(out / "report.md").read_text()[:-1]], "results")  # report.md = md + "\n"
    assert readme.read_text() == (ROOT / "benchmarks" / "README.md").read_text()
