"""The HTML report of an evaluation run (``haad evaluate``) or of a benchmark run (one section per method).

From ``results.json``: the per-category AUC table (mean ± std over seeds, seen and unseen marked), the
threshold's false-positive and true-positive rates, and the run's options and provenance. From
``scores.npz`` (written beside it since runs keep their test scores): ROC curves per category, normal
against anomalous score histograms, each detector's threshold on them, and a t-SNE map of the first
seed's test and support embeddings. A run without ``scores.npz`` gets the tables and a note.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from haad.report.html import esc, key_values, note, page, table, write_page
from haad.report.svg import color, histogram_plot, roc_plot, roc_points, scatter_plot

MAX_MAP_POINTS = 1500  # t-SNE points (test clips are subsampled beyond this; support clips always kept)


def find_runs(run_dir) -> list[Path]:
    """The run directories a report covers: ``run_dir`` itself for an evaluate run, or each method's
    directory (``run_dir/METHOD/results.json``) for a benchmark run, in ``table.json``'s order."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir}: not a directory (give an evaluate or benchmark run's --out)")
    subs = sorted(p.parent for p in run_dir.glob("*/results.json"))
    table_path = run_dir / "table.json"
    if subs and table_path.is_file():  # the benchmark's own order of methods
        try:
            order = [str(m) for m in json.loads(table_path.read_text()).get("methods", [])]
            subs.sort(key=lambda p: order.index(p.name) if p.name in order else len(order))
        except (json.JSONDecodeError, AttributeError, TypeError):
            pass
    if subs:
        return subs
    if (run_dir / "results.json").is_file():
        return [run_dir]
    raise ValueError(f"{run_dir}: no results.json (nor METHOD/results.json of a benchmark run)")


def load_run(run_dir) -> tuple[dict, dict | None]:
    """(results.json's dict, scores.npz's arrays or ``None`` when the run has none)."""
    run_dir = Path(run_dir)
    try:
        res = json.loads((run_dir / "results.json").read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{run_dir / 'results.json'}: not valid JSON ({e})") from None
    path = run_dir / "scores.npz"
    if not path.is_file():
        return res, None
    with np.load(path, allow_pickle=False) as z:
        return res, {k: z[k] for k in z.files}


def _fmt_ms(pc) -> str:
    if isinstance(pc, dict) and "mean" in pc:
        return f"{pc['mean']:.3f} ± {pc.get('std', 0.0):.3f}"
    return esc(pc)


def _summary_line(res: dict) -> str:
    parts = [f"mean AUC <b>{res['mean']:.3f}</b> ± {res.get('mean_std_over_seeds', 0.0):.3f}"]
    for key, label in (("seen_mean", "seen"), ("unseen_mean", "unseen")):
        if res.get(key) is not None:
            parts.append(f"{label} {res[key]:.3f} ± {res.get(key + '_std_over_seeds') or 0.0:.3f}")
    return "<p>" + " · ".join(parts) + f" · {len(res.get('seeds', []))} seeds</p>"


def threshold_rates(scores: np.ndarray, thresholds: np.ndarray, test_labels: np.ndarray) -> np.ndarray:
    """(S, C, 2): for each seed and normal category, the false-positive rate of the detector's threshold on
    the category's test clips and its true-positive rate on the other categories' clips."""
    out = np.zeros(scores.shape[:2] + (2,))
    for s in range(scores.shape[0]):
        for c in range(scores.shape[1]):
            flagged = scores[s, c] > thresholds[s, c]
            normal = test_labels == c
            out[s, c] = flagged[normal].mean(), flagged[~normal].mean()
    return out


def _auc_table(res: dict, rates: np.ndarray | None) -> str:
    seen = set(res.get("seen_categories") or [])
    unseen = set(res.get("unseen_categories") or [])
    headers = ["category", "", "AUC (mean ± std)", "per seed"]
    if rates is not None:
        headers += ["threshold FPR", "threshold TPR"]
    rows, classes = [], []
    for c, (name, pc) in enumerate(res["per_category"].items()):
        tag = ('<span class="tag unseen">unseen</span>' if name in unseen else
               '<span class="tag seen">seen</span>' if name in seen else "")
        values = " ".join(f"{v:.3f}" for v in pc.get("values", [])) if isinstance(pc, dict) else ""
        row = [esc(name), tag, _fmt_ms(pc), values]
        if rates is not None and c < rates.shape[1]:
            row += [f"{100 * rates[:, c, 0].mean():.1f}%", f"{100 * rates[:, c, 1].mean():.1f}%"]
        rows.append(row)
        classes.append("unseen" if name in unseen else "seen" if name in seen else "")
    return table(headers, rows, "auc", classes)


def _threshold_section(res: dict, rates: np.ndarray | None) -> str:
    th = res.get("threshold")
    if not th:
        return ""
    text = (f"<p>Rule: {esc(th.get('rule', ''))}. Each detector flags a clip whose score is above its own "
            "threshold, set on its support set alone. Over every seed and normal category the thresholds flag "
            f"<b>{100 * th['false_positive_rate']:.1f}%</b> of normal test clips (false positives) and "
            f"<b>{100 * th['true_positive_rate']:.1f}%</b> of anomalous ones (true positives)")
    extra = [f"{label} {100 * th[key]:.1f}%" for key, label in (("false_positive_rate_seen", "seen"),
                                                                 ("false_positive_rate_unseen", "unseen"))
             if th.get(key) is not None]
    text += f"; false positives by group: {', '.join(extra)}.</p>" if extra else ".</p>"
    if rates is not None:
        text += ("<p>Per category (mean over seeds): the table's last two columns; on the ROC curves each "
                 "seed's threshold is a dot.</p>")
    return "<h3>What the threshold does</h3>" + text


def _roc_and_histograms(sc: dict, res: dict) -> str:
    scores, thresholds = sc["scores"], sc["thresholds"]
    labels, names = sc["test_labels"], [str(n) for n in sc["class_names"]]
    seen = {int(c) for c in sc.get("seen", [])}
    rocs, hists = [], []
    for c, name in enumerate(names):
        normal = labels == c
        curves, marks = [], []
        for s in range(scores.shape[0]):
            fpr, tpr = roc_points(~normal, scores[s, c])
            seed = int(sc["seeds"][s]) if "seeds" in sc else s
            curves.append((f"seed {seed}", fpr, tpr, color(s)))
            flagged = scores[s, c] > thresholds[s, c]
            marks.append((flagged[normal].mean(), flagged[~normal].mean(), color(s),
                          f"seed {seed} threshold {thresholds[s, c]:.4g}"))
        tag = "seen" if c in seen else "unseen"
        auc = res["per_category"].get(name, {}).get("mean") if isinstance(res.get("per_category"), dict) else None
        title = f"{name} ({tag})" + (f" AUC {auc:.3f}" if auc is not None else "")
        rocs.append(roc_plot(curves, title=title, marks=marks))
        hists.append(histogram_plot([("normal", scores[0, c][normal], "#59a14f"),
                                     ("anomalous", scores[0, c][~normal], "#e15759")],
                                    title=f"{name} ({tag}), seed {int(sc['seeds'][0])}",
                                    vlines=[(thresholds[0, c], "#333", "threshold")], width=300, height=210))
    return ("<h3>ROC curves per category</h3><p>Normal = the test clips of the category, anomalous = every "
            "other test clip; one curve per seed, the dot is that detector's threshold.</p>"
            f'<div class="plots rocs">{"".join(rocs)}</div>'
            "<h3>Normal against anomalous scores</h3><p>The first seed's test scores of each category's "
            "detector; the dashed line is its threshold.</p>"
            f'<div class="plots hists">{"".join(hists)}</div>')


def embedding_map(sc: dict, seed: int = 0) -> str | None:
    """The t-SNE map of the first seed's test embeddings with the support clips (``None`` without them)."""
    test = sc.get("first_seed_test_embeddings")
    if test is None or len(test) == 0:
        return None
    from sklearn.manifold import TSNE

    names = [str(n) for n in sc["class_names"]]
    labels = np.asarray(sc["test_labels"])
    rng = np.random.default_rng(seed)
    keep = np.arange(len(test)) if len(test) <= MAX_MAP_POINTS else np.sort(
        rng.choice(len(test), MAX_MAP_POINTS, replace=False))
    support = sc.get("first_seed_support_embeddings")
    draws = sc.get("first_seed_support_draws")
    if support is not None and draws is not None and len(support):
        sup_labels = np.concatenate([np.full(int((row >= 0).sum()), c) for c, row in enumerate(draws)])
    else:
        support, sup_labels = np.zeros((0, test.shape[1]), np.float32), np.zeros(0, int)
    emb = np.concatenate([test[keep], support]).astype(np.float64)
    lab = np.concatenate([labels[keep], sup_labels]).astype(int)
    marked = np.r_[np.zeros(len(keep), bool), np.ones(len(support), bool)]
    if len(emb) < 5:
        return None
    perplexity = float(min(30.0, max(2.0, (len(emb) - 1) / 3)))
    xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(emb)
    titles = [f"{'support' if m else 'test'} clip: {names[l]}" for l, m in zip(lab, marked)]
    legend = [(n, color(c)) for c, n in enumerate(names)] + [("◆ support clip", "#000")]
    return scatter_plot(xy, [color(l) for l in lab], titles, title="t-SNE of the first seed's embeddings",
                        marked=marked, legend=legend)


def _provenance(res: dict, sc: dict | None) -> str:
    keys = ("dataset", "method", "protocol", "seeds", "k_shot", "layout", "encoder", "encoder_trained_on",
            "generator_sha256", "train_seconds", "train_seconds_per_category", "split", "options")
    pairs = [(k, res[k]) for k in keys if k in res and res[k] is not None]
    if sc is not None:
        pairs.append(("scores.npz", f"scores {tuple(sc['scores'].shape)} (seeds, categories, test clips)"))
    return "<h3>Options and provenance</h3>" + key_values(pairs)


def run_section(run_dir, title: str | None = None) -> str:
    """One run's section of the report (HTML)."""
    run_dir = Path(run_dir)
    res, sc = load_run(run_dir)
    name = title or res.get("method", run_dir.name)
    anchor = f"run-{esc(run_dir.name)}"
    parts = [f'<section class="run" id="{anchor}"><h2>{esc(name)} on {esc(res.get("dataset", "?"))}</h2>',
             _summary_line(res)]
    has_scores = sc is not None and "scores" in sc and sc["scores"].ndim == 3 and sc["scores"].size
    rates = threshold_rates(sc["scores"], sc["thresholds"], sc["test_labels"]) if has_scores else None
    parts.append("<h3>AUC per category</h3>" + _auc_table(res, rates))
    parts.append(_threshold_section(res, rates))
    if not has_scores:
        parts.append(note(f"{esc(run_dir)} has no <code>scores.npz</code> (the run predates runs keeping their "
                          "test scores, or its protocol does not write them): ROC curves, histograms and the "
                          "embedding map need a rerun of <code>haad evaluate</code> with this <code>--out</code>."))
    else:
        parts.append(_roc_and_histograms(sc, res))
        emap = embedding_map(sc)
        parts.append("<h3>Embedding map</h3>")
        if emap is None:
            parts.append(note("This run has no embeddings (a one-model-per-category baseline does not embed clips "
                              "into one space): no map."))
        else:
            parts.append("<p>Test clips (dots) and every category's support clips (diamonds) of the first seed, "
                         "embedded together by t-SNE and coloured by category.</p>" + f'<div class="plots">{emap}</div>')
    parts.append(_provenance(res, sc if has_scores else None))
    parts.append("</section>")
    return "".join(parts)


def _comparison(runs: list[Path]) -> str:
    rows = []
    for d in runs:
        res, _ = load_run(d)
        fmt = lambda v: f"{v:.3f}" if v is not None else "–"
        rows.append([f'<a href="#run-{esc(d.name)}">{esc(res.get("method", d.name))}</a>', fmt(res.get("mean")),
                     fmt(res.get("seen_mean")), fmt(res.get("unseen_mean")), str(len(res.get("seeds", [])))])
    return "<h2>Methods</h2>" + table(["method", "mean AUC", "seen", "unseen", "seeds"], rows, "methods")


def evaluation_report(run_dir) -> str:
    """The whole HTML page for an evaluate or benchmark run directory."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise RuntimeError('the report needs scikit-learn: pip install "haad[plots]"') from None
    runs = find_runs(run_dir)
    title = f"haad report: {Path(run_dir).resolve().name}"
    body = [f"<h1>{esc(title)}</h1><p>Run directory <code>{esc(Path(run_dir).resolve())}</code>.</p>"]
    if len(runs) > 1:
        body.append(_comparison(runs))
    body += [run_section(d) for d in runs]
    return page(title, "".join(body))


def write_evaluation_report(run_dir, out=None) -> Path:
    """Write the report of ``run_dir`` to ``out`` (default ``run_dir/report.html``); returns the path."""
    out = Path(out) if out is not None else Path(run_dir) / "report.html"
    return write_page(out, evaluation_report(run_dir))
