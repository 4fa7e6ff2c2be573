"""The HTML reports (haad report, haad detect --report, the demo's report): their contents, and the pages
opened in a real headless Chromium (no console errors, plots present, skeletons animate, not blank).

The browser tests need Chromium (Debian's ``chromium``) and Playwright from pip (never ``playwright
install``: the system browser is used). They skip when either is missing, except under CI (``CI`` or
``HAAD_REQUIRE_DATA`` set), where they fail. ``HAAD_REPORT_SCREENSHOTS=DIR`` also saves a screenshot
of each kind of report in DIR (docs/ keeps them).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = os.environ.get("HAAD_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


# ---------------------------------------------------------------- fixtures: runs and reports

@pytest.fixture(scope="module")
def synth():
    from haad.data.synthetic import synthesize

    return synthesize(clips_per_class=16, seed=0)


@pytest.fixture(scope="module")
def eval_run(synth, tmp_path_factory):
    """An evaluate run of the no-learning floor on synthetic data, 2 seeds (results.json + scores.npz)."""
    from dataclasses import replace

    from haad.evaluation.config import EvalConfig
    from haad.evaluation.protocol import evaluate
    from haad.storage import atomic_write_json

    out = tmp_path_factory.mktemp("eval")
    res = evaluate(synth, replace(EvalConfig(), method="dct-distance", seeds=(0, 1)), out_dir=out, progress=False)
    atomic_write_json(out / "results.json", res)
    return out


@pytest.fixture(scope="module")
def eval_report(eval_run):
    from haad.report import write_evaluation_report

    return write_evaluation_report(eval_run)


def _streams(data, n: int = 4):
    """Long recordings: walk, then another action, then walk again, end to end."""
    from haad.data.collection import Collection

    walk = np.flatnonzero(data.labels == data.class_names.index("walk"))
    other = np.flatnonzero(data.labels != data.class_names.index("walk"))
    clips = []
    for i in range(n):
        parts = [data.clips[walk[i]], data.clips[other[7 * i]], data.clips[walk[i + 1]]]
        clips.append(np.concatenate(parts).astype(np.float32))
    return Collection(clips, np.zeros(n, np.int64), ["recording"], data.layout, names=[f"rec{i}" for i in range(n)],
                      source="streams", fps=data.fps)


@pytest.fixture(scope="module")
def detect_report(synth, tmp_path_factory):
    """Clips scored by a DCT detector (SMPL-24 windows), explained."""
    from haad.inference import ScoreConfig, SupportConfig, fit_detector, score_rows
    from haad.report import write_detection_report

    det = fit_detector(synth, "dct", SupportConfig(category="walk", k_shot=3))
    cfg = ScoreConfig(explain=3)
    rows = score_rows(det, synth, cfg)
    return write_detection_report(tmp_path_factory.mktemp("det") / "detect.html", det, synth, rows, cfg,
                                  name="synthetic", max_animations=8)


@pytest.fixture(scope="module")
def stream_report(synth, tmp_path_factory):
    """Long recordings scored by sliding windows with the built-in pretrained encoder (16-joint windows)."""
    from haad.data.windows import WindowConfig
    from haad.inference import ScoreConfig, SupportConfig, fit_detector, score_rows
    from haad.report import write_detection_report

    det = fit_detector(synth, None, SupportConfig(category="walk", k_shot=4, window=WindowConfig(crop="first")))
    data = _streams(synth)
    cfg = ScoreConfig(stream=True, hop=15, explain=2)
    rows = score_rows(det, data, cfg)
    return write_detection_report(tmp_path_factory.mktemp("stream") / "stream.html", det, data, rows, cfg,
                                  name="streams", max_animations=6)


# ---------------------------------------------------------------- contents (no browser)

def test_evaluation_report_contents(eval_report, eval_run, tmp_path):
    html = eval_report.read_text()
    assert "<table" in html and "AUC per category" in html and "unseen" in html
    assert html.count('class="plot roc"') == 12 and html.count('class="plot hist"') == 12
    assert 'class="plot map"' in html and html.count('class="support"') == 12 * 3  # K=3 per category
    assert "What the threshold does" in html and "dct-distance" in html and "Options and provenance" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html

    # an older run without scores.npz: the tables and a note
    from haad.report import evaluation_report

    old = tmp_path / "old"
    old.mkdir()
    shutil.copy(eval_run / "results.json", old / "results.json")
    html = evaluation_report(old)
    assert "<table" in html and "need a rerun" in html and 'class="plot roc"' not in html

    # a benchmark run: one section per method; a method without embeddings (a baseline) says so
    bench = tmp_path / "bench"
    for method in ("dct-distance", "baseline"):
        (bench / method).mkdir(parents=True)
        shutil.copy(eval_run / "results.json", bench / method / "results.json")
    shutil.copy(eval_run / "scores.npz", bench / "dct-distance" / "scores.npz")
    with np.load(eval_run / "scores.npz") as z:
        np.savez(bench / "baseline" / "scores.npz", **{k: z[k] for k in z.files if not k.startswith("first_seed")})
    (bench / "table.json").write_text('{"methods": ["baseline", "dct-distance"]}')
    html = evaluation_report(bench)
    assert html.count('<section class="run"') == 2 and "Methods" in html and "has no embeddings" in html
    assert html.index('id="run-baseline"') < html.index('id="run-dct-distance"')  # the benchmark's order

    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no results.json"):
        evaluation_report(tmp_path / "empty")


def test_detection_report_contents(detect_report, synth):
    html = detect_report.read_text()
    assert html.count('<canvas class="skeleton"') == 8  # bounded by max_animations
    assert "p-value" in html and "threshold" in html and "top joints" in html and "nearest support" in html
    assert 'id="haad-data"' in html and "https://" not in html


def test_detection_report_any_layout_and_stream_spans(synth):
    """A custom 9-joint skeleton; stream spans link to animations that exist; no animations on request."""
    from haad.data.collection import Collection
    from haad.inference import ScoreConfig, SupportConfig, fit_detector, score_rows
    from haad.report import detection_report
    from haad.report.detection import flagged_spans
    from haad.skeleton import Layout

    keep = [0, 3, 15, 16, 17, 20, 21, 4, 5]
    names = ["pelvis", "spine", "head", "left_shoulder", "right_shoulder", "left_wrist", "right_wrist",
             "left_knee", "right_knee"]
    layout = Layout.generic(names, [-1, 0, 1, 1, 1, 3, 4, 0, 0], root=0, name="stick9")
    data = Collection([c[:, keep] for c in synth.clips], synth.labels, synth.class_names, layout, synth.order_keys,
                      names=synth.names, source="stick9", fps=synth.fps)
    det = fit_detector(data, "dct", SupportConfig(category="walk", k_shot=3))
    streams = _streams(data, 3)
    cfg = ScoreConfig(stream=True, hop=20)
    rows = score_rows(det, streams, cfg)
    html = detection_report(det, streams, rows, cfg, max_animations=4)
    assert html.count('<canvas class="skeleton"') == 4 and html.count('class="plot timeline"') == 3
    for k in re.findall(r'href="#anim-(\d+)"', html):
        assert f'id="anim-{k}"' in html
    assert re.search(r'<a href="#anim-\d+"><rect class="span"', html)
    html = detection_report(det, streams, rows, cfg, max_animations=0)
    assert '<canvas class="skeleton"' not in html and "No animations" in html
    assert flagged_spans([0, 10, 20, 40], [True, True, False, True], 15) == [(0, 25, [0, 1]), (40, 55, [3])]


@pytest.mark.slow
def test_cli_report_and_detect_report(eval_run, tmp_path):
    def haad(*args):
        env = dict(os.environ, OMP_NUM_THREADS="1")
        r = subprocess.run([sys.executable, "-m", "haad.cli", *map(str, args)], capture_output=True, text=True,
                           env=env, check=False)
        assert r.returncode == 0, r.stderr
        return r

    r = haad("report", eval_run, "--out", tmp_path / "r.html")
    assert re.search(r"report written to .*r\.html \(\d+ kB\)", r.stdout) and (tmp_path / "r.html").is_file()
    npz = tmp_path / "s.npz"
    haad("data", "convert", "synthetic", npz)
    r = haad("detect", "--input", npz, "--support", npz, "--category", "walk", "--k-shot", "3", "--encoder", "dct",
             "--out", tmp_path / "s.csv", "--report", tmp_path / "d.html", "--report-animations", "3")
    assert "report written to" in r.stdout
    assert (tmp_path / "d.html").read_text().count('<canvas class="skeleton"') == 3


# ---------------------------------------------------------------- in a real browser

def _require(msg: str):
    if os.environ.get("CI") or os.environ.get("HAAD_REQUIRE_DATA"):
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        _require("Chromium not found (apt-get install chromium); browser tests need it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _require('Playwright not installed (pip install "haad[test]"); browser tests need it')
    try:
        import PIL  # noqa: F401  (reads the screenshots; comes with matplotlib)
    except ImportError:
        _require('Pillow not installed (pip install "haad[plots]"); browser tests read screenshots with it')
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def _open(browser, path: Path):
    page = browser.new_page(viewport={"width": 1000, "height": 1300})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: errors.append(f"network request {r.url}") if not r.url.startswith(
        ("file:", "data:", "about:")) else None)
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return page, errors


def _not_blank(page, name: str, scroll_to: str | None = None) -> None:
    """A viewport screenshot has a fair share of non-white pixels (saved to HAAD_REPORT_SCREENSHOTS)."""
    from PIL import Image

    if scroll_to:
        page.locator(scroll_to).first.scroll_into_view_if_needed()
        page.evaluate(f"document.querySelector('{scroll_to}').scrollIntoView({{block: 'start'}})")
        page.wait_for_timeout(200)
    png = page.screenshot()
    img = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    assert (img < 245).mean() > 0.03, f"{name}: the screenshot is nearly blank"
    where = os.environ.get("HAAD_REPORT_SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        Image.open(io.BytesIO(png)).convert("RGB").quantize(64).save(Path(where) / f"report-{name}.png",
                                                                    optimize=True)


def _canvas_advances(page) -> None:
    grab = "document.querySelector('canvas.skeleton').toDataURL()"
    first = page.evaluate(grab)
    page.wait_for_timeout(400)
    second = page.evaluate(grab)
    assert first != second, "the skeleton animation does not advance"


@pytest.mark.slow
def test_browser_evaluation_report(browser, eval_report):
    page, errors = _open(browser, eval_report)
    assert page.locator("table.auc tbody tr").count() == 12
    assert page.locator("svg.roc").count() == 12 and page.locator("svg.hist").count() == 12
    assert page.locator("svg.map circle").count() > 20 and page.locator("svg.map path.support").count() == 36
    _not_blank(page, "evaluation")
    assert errors == []
    page.close()


@pytest.mark.slow
def test_browser_detection_report(browser, detect_report):
    page, errors = _open(browser, detect_report)
    assert page.locator("canvas.skeleton").count() == 8 and page.locator("svg.bar").count() == 8
    assert page.locator("svg.hist").count() == 1 and page.locator("table.scores").count() == 1
    _canvas_advances(page)
    _not_blank(page, "detection", scroll_to="#anim-0")
    assert errors == []
    page.close()


@pytest.mark.slow
def test_browser_stream_report(browser, stream_report):
    page, errors = _open(browser, stream_report)
    assert page.locator("svg.timeline").count() == 4 and page.locator("canvas.skeleton").count() >= 1
    links = page.locator('svg.timeline a[href^="#anim-"]')
    assert links.count() >= 1
    target = links.first.get_attribute("href")
    links.first.locator("rect").click()
    assert page.evaluate("location.hash") == target and page.locator(target).count() == 1
    _canvas_advances(page)
    _not_blank(page, "stream", scroll_to="h2:nth-of-type(3)")
    assert errors == []
    page.close()
