"""The HTML report of a detection (``haad detect --report``): for each scored clip (or stream window),
its score against the detector's threshold and the support set's leave-one-out scores, its p-value,
and, for the highest-scoring ones, an animation of the window the detector scored beside its nearest
support window (nearest in embedding space), joints coloured by their share of the explanation.
With streams, a score timeline per recording whose flagged spans link to their animations.

The page holds at most ``max_animations`` animations, so its size stays bounded whatever the input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from haad.report.html import esc, key_values, note, page, table, write_page
from haad.report.svg import histogram_plot, score_bar, timeline_plot

MAX_TIMELINES = 40   # recordings drawn as timelines with --stream
MAX_TABLE_ROWS = 100  # rows of the highest-scores table


def project_2d(windows: list[np.ndarray]) -> tuple[int, int]:
    """(horizontal axis, vertical axis) of an orthographic view: the vertical axis is the one along which
    a body is tallest (largest per-frame extent over joints, averaged); the horizontal one is the first
    other axis (x for y-up or z-up data: an x-y or x-z view)."""
    extent = np.mean([np.ptp(w, axis=1).mean(axis=0) for w in windows], axis=0)
    up = int(np.argmax(extent))
    return next(a for a in range(3) if a != up), up


def encode_window(window: np.ndarray, axes: tuple[int, int], root: int | None = None) -> dict:
    """A (T, J, 3) window as the page's compact form: 2-D coordinates quantised to 0..1000 in a square box
    (origin ``o``, side ``s``) and flattened frame-major (``f``). With ``root``, the horizontal coordinate
    is taken relative to that joint in each frame (the body stays in view while it walks or runs)."""
    xy = np.asarray(window, np.float64)[..., list(axes)].copy()
    if root is not None:
        xy[..., 0] -= xy[:, root:root + 1, 0]
    lo = xy.reshape(-1, 2).min(axis=0)
    side = float(np.ptp(xy.reshape(-1, 2), axis=0).max()) or 1.0
    q = np.rint((xy - lo) / side * 1000).astype(int)
    return {"t": int(xy.shape[0]), "j": int(xy.shape[1]), "o": [round(float(lo[0]), 5), round(float(lo[1]), 5)],
            "s": round(side, 5), "f": q.reshape(-1).tolist()}


def _window_list(detector, data, config) -> tuple[list, list, list]:
    """(owner clip, start frame, frames) of every scored window, in :func:`~haad.inference.score_rows`' order."""
    owners, starts, segments = [], [], []
    for i, clip in enumerate(data.clips):
        st, win = detector.stream_windows(clip, config.hop) if config.stream else ([0], [clip])
        owners += [i] * len(st)
        starts += [int(s) for s in st]
        segments += list(win)
    return owners, starts, segments


def flagged_spans(starts, flags, length: int) -> list[tuple[int, int, list[int]]]:
    """Consecutive flagged windows of one recording as (first frame, end frame, positions of its windows)."""
    spans, cur = [], None
    for k, (s, f) in enumerate(zip(starts, flags)):
        if f and cur is not None and s <= cur[1]:
            cur = (cur[0], s + length, cur[2] + [k])
        elif f:
            if cur is not None:
                spans.append(cur)
            cur = (s, s + length, [k])
        elif cur is not None:
            spans.append(cur)
            cur = None
    if cur is not None:
        spans.append(cur)
    return spans


def _choose(scores: np.ndarray, priority: list[int], n: int) -> list[int]:
    """Up to ``n`` windows: those in ``priority`` first, then the rest by decreasing score."""
    chosen = []
    for w in list(priority) + list(np.argsort(-scores, kind="stable")):
        if len(chosen) >= n:
            break
        if int(w) not in chosen:
            chosen.append(int(w))
    return sorted(chosen, key=lambda w: -scores[w])


def detection_report(detector, data, rows: list[dict], config=None, name: str = "input", joint_map=None,
                     max_animations: int = 20, title: str | None = None) -> str:
    """The HTML page of a detection.

    Args:
        detector: the fitted :class:`~haad.detector.FewShotDetector` that scored ``data``.
        data: the scored collection.
        rows: what :func:`~haad.inference.score_rows` returned for them (same ``config``).
        config: the :class:`~haad.inference.ScoreConfig` of the scoring (stream, hop, alpha, explain).
        name, joint_map: as for :func:`~haad.inference.score_rows`.
        max_animations: at most this many animated windows, the highest-scoring ones (with streams, the
            best window of each flagged span first, so the timeline's spans link to them).
        title: the page title.
    """
    from haad.inference import ScoreConfig, for_input

    config = config or ScoreConfig()
    det = for_input(detector, data, name, joint_map)
    owners, starts, segments = _window_list(det, data, config)
    if len(rows) != len(segments):
        raise ValueError(f"{len(rows)} rows for {len(segments)} scored windows: rows must come from score_rows "
                         "with the same config")
    scores = np.array([float(r["score"]) for r in rows])
    p_values = np.array([float(r["p_value"]) for r in rows])
    flags = np.array([bool(int(r["anomalous"])) for r in rows])
    length = det.window.length
    spans_by_clip, priority = {}, []
    if config.stream:
        for i in range(len(data.clips)):
            pos = [w for w, o in enumerate(owners) if o == i]
            spans = flagged_spans([starts[w] for w in pos], flags[pos], length)
            spans_by_clip[i] = [(a, b, [pos[k] for k in ks]) for a, b, ks in spans]
            priority += [max((pos[k] for k in ks), key=lambda w: scores[w]) for _, _, ks in spans]
        priority.sort(key=lambda w: -scores[w])
    chosen = _choose(scores, priority, max(0, int(max_animations)))
    anim_of = {w: k for k, w in enumerate(chosen)}

    layout = det.window_layout
    items, support_used = [], {}
    data_obj = {"bones": [[j, p] for j, p in enumerate(layout.parents) if p >= 0], "items": items, "support": []}
    if chosen:
        wins = det.windows([segments[w] for w in chosen])
        emb = det.embed(wins)
        real = det.support_embeddings_[: det.n_real_support_]
        nearest = np.argmin(((emb[:, None, :] - real[None]) ** 2).sum(-1), axis=1)
        sup_wins = det.support_windows_
        shares = None
        if config.explain:
            method = config.explain_method if sup_wins is not None else "embedding"
            shares = det.explain(wins, method=method)
        frames = [wins[k] for k in range(len(chosen))]
        if sup_wins is not None:
            frames += [sup_wins[int(j)] for j in set(nearest.tolist()) if int(j) < len(sup_wins)]
        axes = project_2d(frames)
        for k, w in enumerate(chosen):
            j = int(nearest[k])
            if sup_wins is not None and j < len(sup_wins) and j not in support_used:
                support_used[j] = len(data_obj["support"])
                data_obj["support"].append(encode_window(sup_wins[j], axes, layout.root))
            items.append({"window": encode_window(wins[k], axes, layout.root), "support": support_used.get(j, -1),
                          "support_index": j,
                          "shares": [round(float(v), 4) for v in shares[k]] if shares is not None else None})

    body = [f"<h1>{esc(title or f'haad detection report: {name}')}</h1>", _summary(det, data, rows, flags, config)]
    body.append(_overview(det, scores, flags))
    if config.stream:
        body.append(_timelines(data, owners, starts, scores, det.threshold_, spans_by_clip, anim_of, length))
    body.append(_cards(det, data, rows, chosen, items, owners, starts, scores, p_values, flags, config))
    body.append(_top_table(rows, scores, anim_of))
    return page(title or f"haad detection report: {name}", "".join(body), data_obj)


def _summary(det, data, rows, flags, config) -> str:
    rule = (f"conformal p-value ≤ {config.alpha}" if config.alpha is not None
            else f"score above the threshold {det.threshold_:.4f}")
    what = "windows" if config.stream else "clips"
    pairs = [("scored", f"{len(rows)} {what} of {len(data.clips)} {'recordings' if config.stream else 'clips'}"),
             ("flagged", f"{int(flags.sum())} ({rule})"),
             ("support", det.support_summary()),
             ("score", ("distance to the nearest support embedding (Eq. 6n)" if det.distance == "nearest"
                        else "mean distance to the support embeddings (Eq. 6)")),
             ("threshold", (f"{det.threshold_:.4f} (quantile {det.threshold_quantile} of the support set's "
                            "leave-one-out scores)")),
             ("layout", (f"{data.layout.name} ({data.layout.num_joints} joints); windows drawn on "
                         f"{det.window_layout.name} ({det.window_layout.num_joints} joints)"))]
    if config.stream:
        pairs.append(("windows", f"{det.window.length} frames every {config.hop} frames"))
    if det.provenance:
        pairs.append(("provenance", det.provenance))
    return "<h2>Summary</h2>" + key_values(pairs)


def _overview(det, scores, flags) -> str:
    groups = [("not flagged", scores[~flags], "#59a14f"), ("flagged", scores[flags], "#e15759")]
    svg = histogram_plot([g for g in groups if len(g[1])], title="scores of every scored window",
                         vlines=[(det.threshold_, "#333", "threshold")],
                         ticks=[(np.asarray(det.decision_scores_, float), "#777", "support leave-one-out")],
                         width=560, height=240)
    return ("<h2>Scores against the threshold</h2><p>Every score, the threshold (dashed) and the support "
            f"clips' leave-one-out scores (grey ticks under the axis).</p><div class=\"plots\">{svg}</div>")


def _timelines(data, owners, starts, scores, threshold, spans_by_clip, anim_of, length) -> str:
    parts = [("<h2>Score timelines</h2><p>Each recording's window scores (at the window's centre) and the "
              "threshold; red bands are flagged spans, linked to the animation of their highest-scoring window.</p>")]
    shown = sorted(range(len(data.clips)), key=lambda i: -max(scores[w] for w, o in enumerate(owners) if o == i))
    for i in shown[:MAX_TIMELINES]:
        pos = [w for w, o in enumerate(owners) if o == i]
        spans = []
        for a, b, ws in spans_by_clip.get(i, []):
            best = max(ws, key=lambda w: scores[w])
            href = f"#anim-{anim_of[best]}" if best in anim_of else ""
            spans.append((a, b, href, f"frames {a}-{b}: {len(ws)} flagged windows, max score {scores[best]:.4g}"))
        svg = timeline_plot([starts[w] for w in pos], scores[pos], threshold, spans,
                            title=f"{data.names[i]} ({data.class_names[data.labels[i]]})", length=length)
        parts.append(f'<div class="timeline-wrap">{svg}</div>')
    if len(shown) > MAX_TIMELINES:
        parts.append(note(f"{len(shown) - MAX_TIMELINES} more recordings (lower scores) are not drawn."))
    return "".join(parts)


def _cards(det, data, rows, chosen, items, owners, starts, scores, p_values, flags, config) -> str:
    if not chosen:
        return note("No animations (--report-animations 0).")
    names = det.window_layout.joint_names
    parts = [f"<h2>The {len(chosen)} highest-scoring {'windows' if config.stream else 'clips'}</h2>"
             "<p>Left: the window the detector scored; right: the nearest support window in embedding space (an "
             "orthographic side view, following the root joint sideways). "
             + ("Joints are coloured (grey to red) and sized by their share of the explanation. " if config.explain
                else "Joints are not coloured (no <code>--explain</code>). ")
             + "Click an animation to pause it.</p>"]
    if det.support_windows_ is None:
        parts.append(note("This detector was saved without its support windows: the nearest support clip "
                          "cannot be drawn."))
    for k, (w, item) in enumerate(zip(chosen, items)):
        i = owners[w]
        tag = '<span class="tag flag">flagged</span>' if flags[w] else '<span class="tag ok">not flagged</span>'
        meta = [("clip", data.names[i]), ("category", data.class_names[data.labels[i]])]
        if config.stream:
            meta.append(("frames", f"{starts[w]}–{starts[w] + det.window.length}"))
        meta += [("score", f"{scores[w]:.4f} (threshold {det.threshold_:.4f})"), ("p-value", f"{p_values[w]:.4f}"),
                 ("nearest support", f"support clip {item['support_index']}")]
        if item["shares"] is not None:
            top = np.argsort(item["shares"])[::-1][:5]
            meta.append(("top joints", ", ".join(f"{names[j]} {item['shares'][j]:.2f}" for j in top)))
        bar = score_bar(scores[w], det.threshold_, det.decision_scores_)
        width = 520 if item["support"] >= 0 else 260
        parts.append(f'<div class="card" id="anim-{k}"><canvas class="skeleton" data-anim="{k}" width="{width}" '
                     f'height="260"></canvas><div class="meta"><h3>#{k + 1} {tag}</h3>{key_values(meta)}{bar}'
                     "</div></div>")
    return "".join(parts)


def _top_table(rows, scores, anim_of) -> str:
    order = np.argsort(-scores, kind="stable")[:MAX_TABLE_ROWS]
    keys = [k for k in ("clip", "category", "start_frame", "score", "p_value", "anomalous", "top_joints")
            if k in rows[0]]
    body = []
    for w in order:
        cells = [esc(rows[w][k]) for k in keys]
        link = f'<a href="#anim-{anim_of[int(w)]}">▶</a>' if int(w) in anim_of else ""
        body.append([link] + cells)
    more = f" (the first {MAX_TABLE_ROWS} of {len(rows)})" if len(rows) > MAX_TABLE_ROWS else ""
    return f"<h2>Highest scores{more}</h2>" + table(["", *keys], body, "scores")


def write_detection_report(path, detector, data, rows, config=None, name: str = "input", joint_map=None,
                           max_animations: int = 20) -> Path:
    """Write :func:`detection_report`'s page to ``path`` (atomically); returns the path."""
    return write_page(path, detection_report(detector, data, rows, config, name, joint_map, max_animations))
