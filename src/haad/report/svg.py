"""Small inline-SVG plots for the HTML reports: line charts (ROC curves, score timelines), histograms
and scatter maps. No plotting library: each function returns one ``<svg>`` element as a string.
"""

from __future__ import annotations

from html import escape

import numpy as np

# Colour-blind-friendly categorical palette (Tableau 10, then a few more).
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac", "#1f77b4", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f", "#d62728")


def color(i: int) -> str:
    """The ``i``-th categorical colour (cycling)."""
    return PALETTE[i % len(PALETTE)]


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return [lo]
    step = 10 ** np.floor(np.log10((hi - lo) / n))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    start = np.ceil(lo / step) * step
    return [float(t) for t in np.arange(start, hi + step * 1e-9, step)]


def _tick_label(t: float) -> str:
    return f"{t:.3g}"


class Frame:
    """A plot area: maps data coordinates to SVG pixels and draws axes, ticks and labels."""

    def __init__(self, xlim, ylim, width=360, height=260, margin=(12, 12, 40, 48), title="", xlabel="", ylabel=""):
        self.x0, self.x1 = float(xlim[0]), float(xlim[1])
        self.y0, self.y1 = float(ylim[0]), float(ylim[1])
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1.0
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1.0
        self.w, self.h = width, height
        self.top, self.right, self.bottom, self.left = margin
        if title:
            self.top += 16
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel
        self.parts: list[str] = []

    def px(self, x) -> np.ndarray:
        """Data x to pixel x."""
        return self.left + (np.asarray(x, float) - self.x0) / (self.x1 - self.x0) * (self.w - self.left - self.right)

    def py(self, y) -> np.ndarray:
        """Data y to pixel y (up)."""
        return self.h - self.bottom - (np.asarray(y, float) - self.y0) / (self.y1 - self.y0) * (
            self.h - self.top - self.bottom)

    def axes(self, xticks=True, yticks=True) -> None:
        """Draw the box, the ticks and the labels."""
        l, r, t, b = self.left, self.w - self.right, self.top, self.h - self.bottom
        p = self.parts
        p.append(f'<rect x="{l}" y="{t}" width="{r - l}" height="{b - t}" fill="#fff" stroke="#999"/>')
        if xticks:
            for v in _ticks(self.x0, self.x1):
                x = _fmt(self.px(v))
                p.append(f'<line x1="{x}" x2="{x}" y1="{b}" y2="{b + 4}" stroke="#999"/>'
                         f'<text x="{x}" y="{b + 15}" text-anchor="middle">{_tick_label(v)}</text>')
        if yticks:
            for v in _ticks(self.y0, self.y1):
                y = _fmt(self.py(v))
                p.append(f'<line x1="{l - 4}" x2="{l}" y1="{y}" y2="{y}" stroke="#999"/>'
                         f'<text x="{l - 6}" y="{y}" dy="0.35em" text-anchor="end">{_tick_label(v)}</text>')
        if self.title:
            p.append(f'<text x="{(l + r) / 2}" y="14" text-anchor="middle" font-weight="bold">'
                     f'{escape(self.title)}</text>')
        if self.xlabel:
            p.append(f'<text x="{(l + r) / 2}" y="{self.h - 6}" text-anchor="middle">{escape(self.xlabel)}</text>')
        if self.ylabel:
            p.append(f'<text transform="translate(12,{(t + b) / 2}) rotate(-90)" text-anchor="middle">'
                     f'{escape(self.ylabel)}</text>')

    def line(self, xs, ys, stroke="#4e79a7", width=1.5, dash="", title="") -> None:
        """A polyline through (xs, ys)."""
        pts = " ".join(f"{_fmt(a)},{_fmt(b)}" for a, b in zip(self.px(xs), self.py(ys)))
        d = f' stroke-dasharray="{dash}"' if dash else ""
        tip = f"<title>{escape(title)}</title>" if title else ""
        self.parts.append(f'<polyline points="{pts}" fill="none" stroke="{stroke}" stroke-width="{width}"{d}>'
                          f'{tip}</polyline>')

    def vline(self, x, stroke="#333", dash="4 3", label="") -> None:
        """A vertical line at data x across the plot."""
        px = _fmt(self.px(x))
        self.parts.append(f'<line x1="{px}" x2="{px}" y1="{self.top}" y2="{self.h - self.bottom}" stroke="{stroke}" '
                          f'stroke-dasharray="{dash}"><title>{escape(label)}</title></line>')
        if label:
            self.parts.append(f'<text x="{px}" y="{self.top - 3}" text-anchor="middle" fill="{stroke}">'
                              f'{escape(label)}</text>')

    def hline(self, y, stroke="#333", dash="4 3", label="") -> None:
        """A horizontal line at data y across the plot."""
        py = _fmt(self.py(y))
        self.parts.append(f'<line x1="{self.left}" x2="{self.w - self.right}" y1="{py}" y2="{py}" stroke="{stroke}" '
                          f'stroke-dasharray="{dash}"><title>{escape(label)}</title></line>')

    def legend(self, items) -> None:
        """``items``: (label, colour) pairs, drawn top-right inside the plot."""
        x = self.w - self.right - 6
        for i, (label, col) in enumerate(items):
            y = self.top + 12 + 13 * i
            self.parts.append(f'<rect x="{x - 10}" y="{y - 8}" width="9" height="9" fill="{col}"/>'
                              f'<text x="{x - 14}" y="{y}" text-anchor="end">{escape(label)}</text>')

    def svg(self, cls: str = "plot") -> str:
        """The finished ``<svg>`` element."""
        return (f'<svg class="{cls}" xmlns="http://www.w3.org/2000/svg" width="{self.w}" height="{self.h}" '
                f'viewBox="0 0 {self.w} {self.h}" font-size="10" font-family="sans-serif">'
                + "".join(self.parts) + "</svg>")


def roc_points(is_anomaly: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates) of every threshold, anomalies positive."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(np.asarray(is_anomaly, bool), np.asarray(scores, np.float64))
    return fpr, tpr


def roc_plot(curves, title: str = "", marks=()) -> str:
    """ROC curves: ``curves`` is a list of (label, fpr, tpr, colour); ``marks``: (fpr, tpr, colour, label)
    points such as a detector's threshold."""
    f = Frame((0, 1), (0, 1), width=300, height=280, title=title, xlabel="false-positive rate",
              ylabel="true-positive rate")
    f.axes()
    f.line([0, 1], [0, 1], stroke="#bbb", width=1, dash="3 3")
    for label, fpr, tpr, col in curves:
        f.line(fpr, tpr, stroke=col, title=label)
    for x, y, col, label in marks:
        f.parts.append(f'<circle cx="{_fmt(f.px(x))}" cy="{_fmt(f.py(y))}" r="3.5" fill="{col}" stroke="#000" '
                       f'stroke-width="0.6"><title>{escape(label)}</title></circle>')
    return f.svg("plot roc")


def histogram_plot(groups, title: str = "", bins: int = 30, vlines=(), xlabel: str = "score", ticks=(),
                   width: int = 360, height: int = 240) -> str:
    """Overlaid step histograms: ``groups`` is a list of (label, values, colour); ``vlines``: (x, colour,
    label) markers such as thresholds; ``ticks``: (values, colour, label) rug marks under the axis."""
    values = [np.asarray(v, float) for _, v, _ in groups if len(v)]
    extra = [float(x) for x, _, _ in vlines] + [float(t) for vs, _, _ in ticks for t in vs]
    allv = np.concatenate(values + [np.asarray(extra)]) if values or extra else np.zeros(1)
    allv = allv[np.isfinite(allv)]
    lo, hi = (float(allv.min()), float(allv.max())) if len(allv) else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    dens = [np.histogram(v, edges)[0] / max(len(v), 1) for _, v, _ in groups]
    top = max([float(d.max()) for d in dens if len(d)] + [1e-9]) * 1.1
    f = Frame((lo, hi), (0, top), width=width, height=height, title=title, xlabel=xlabel, ylabel="share of clips")
    f.axes()
    for (label, _, col), d in zip(groups, dens):
        xs = np.repeat(edges, 2)[1:-1]
        ys = np.repeat(d, 2)
        pts = " ".join(f"{_fmt(a)},{_fmt(b)}" for a, b in zip(f.px(np.r_[edges[0], xs, edges[-1]]),
                                                               f.py(np.r_[0, ys, 0])))
        f.parts.append(f'<polygon points="{pts}" fill="{col}" fill-opacity="0.3" stroke="{col}" stroke-width="1.2">'
                       f'<title>{escape(label)}</title></polygon>')
    for vals, col, label in ticks:
        for t in vals:
            x = _fmt(f.px(t))
            b = f.h - f.bottom
            f.parts.append(f'<line x1="{x}" x2="{x}" y1="{b - 8}" y2="{b}" stroke="{col}" stroke-width="1.5">'
                           f'<title>{escape(label)} {t:.4g}</title></line>')
    for x, col, label in vlines:
        f.vline(x, stroke=col, label=label)
    f.legend([(label, col) for label, _, col in groups] + [(label, col) for _, col, label in ticks])
    return f.svg("plot hist")


def scatter_plot(points: np.ndarray, colors, titles, title: str = "", marked=None, legend=(),
                 size: int = 460) -> str:
    """A 2-D map: ``points`` (N, 2), one colour and tooltip per point; ``marked`` (bool, N) points are
    drawn as larger outlined diamonds (e.g. support clips)."""
    pts = np.asarray(points, float)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = (hi - lo) * 0.05 + 1e-9
    f = Frame((lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1]), width=size + 150, height=size,
              margin=(12, 150, 12, 12), title=title)
    f.axes(xticks=False, yticks=False)
    marked = np.zeros(len(pts), bool) if marked is None else np.asarray(marked, bool)
    xs, ys = f.px(pts[:, 0]), f.py(pts[:, 1])
    for i in np.argsort(marked, kind="stable"):  # marked points on top
        x, y, tip = _fmt(xs[i]), _fmt(ys[i]), f"<title>{escape(titles[i])}</title>"
        if marked[i]:
            f.parts.append(f'<path class="support" d="M{x} {float(y) - 6}l6 6l-6 6l-6 -6z" fill="{colors[i]}" '
                           f'stroke="#000" stroke-width="1.2">{tip}</path>')
        else:
            f.parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{colors[i]}" fill-opacity="0.8">{tip}</circle>')
    x = f.w - f.right + 10
    for i, (label, col) in enumerate(legend):
        y = f.top + 12 + 13 * i
        f.parts.append(f'<rect x="{x}" y="{y - 8}" width="9" height="9" fill="{col}"/>'
                       f'<text x="{x + 13}" y="{y}">{escape(label)}</text>')
    return f.svg("plot map")


def timeline_plot(starts, scores, threshold: float, spans, title: str = "", length: int = 60,
                  width: int = 760, height: int = 150) -> str:
    """A recording's window scores against their start frames with the threshold; ``spans`` are
    (first frame, end frame, href, label) flagged stretches, drawn as linked red bands."""
    starts = np.asarray(starts, float)
    scores = np.asarray(scores, float)
    x1 = float(starts.max() + length) if len(starts) else 1.0
    vals = np.r_[scores, threshold]
    lo, hi = float(vals.min()), float(vals.max())
    pad = (hi - lo) * 0.1 + 1e-9
    f = Frame((0, x1), (lo - pad, hi + pad), width=width, height=height, title=title, xlabel="frame",
              ylabel="score")
    f.axes()
    for a, b, href, label in spans:
        x, w = f.px(a), f.px(b) - f.px(a)
        rect = (f'<rect class="span" x="{_fmt(x)}" y="{f.top}" width="{_fmt(max(w, 2))}" '
                f'height="{f.h - f.top - f.bottom}" fill="#e15759" fill-opacity="0.25">'
                f'<title>{escape(label)}</title></rect>')
        f.parts.append(f'<a href="{escape(href)}">{rect}</a>' if href else rect)
    f.hline(threshold, stroke="#e15759", label=f"threshold {threshold:.4g}")
    centres = starts + length / 2
    f.line(centres, scores, stroke="#4e79a7")
    for c, s in zip(centres, scores):
        f.parts.append(f'<circle cx="{_fmt(f.px(c))}" cy="{_fmt(f.py(s))}" r="1.8" fill="#4e79a7"/>')
    return f.svg("plot timeline")


def score_bar(score: float, threshold: float, support_scores, width: int = 300, height: int = 46) -> str:
    """One clip's score on a number line beside the threshold and the support clips' leave-one-out
    scores (grey ticks)."""
    sup = np.asarray(support_scores, float)
    vals = np.r_[sup, score, threshold]
    lo, hi = float(vals.min()), float(vals.max())
    pad = (hi - lo) * 0.08 + 1e-9
    f = Frame((lo - pad, hi + pad), (0, 1), width=width, height=height, margin=(6, 8, 18, 8))
    y = f.py(0.5)
    p = f.parts
    p.append(f'<line x1="{f.left}" x2="{f.w - f.right}" y1="{_fmt(y)}" y2="{_fmt(y)}" stroke="#999"/>')
    for s in sup:
        x = _fmt(f.px(s))
        p.append(f'<line x1="{x}" x2="{x}" y1="{_fmt(y - 7)}" y2="{_fmt(y + 7)}" stroke="#888" stroke-width="1.5">'
                 f'<title>support leave-one-out {s:.4g}</title></line>')
    x = _fmt(f.px(threshold))
    p.append(f'<line x1="{x}" x2="{x}" y1="{f.top}" y2="{f.h - f.bottom}" stroke="#e15759" stroke-dasharray="3 2">'
             f'<title>threshold {threshold:.4g}</title></line>')
    col = "#e15759" if score > threshold else "#59a14f"
    p.append(f'<circle cx="{_fmt(f.px(score))}" cy="{_fmt(y)}" r="5" fill="{col}" stroke="#000">'
             f'<title>score {score:.4g}</title></circle>')
    p.append(f'<text x="{f.left}" y="{f.h - 4}">support (grey) · threshold (red dashes) · this clip (dot)</text>')
    return f.svg("plot bar")
