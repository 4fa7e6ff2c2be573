"""Markdown cells, rows and paired-by-seed statistics for benchmarks/report.py.

A run's result is the ``results.json`` of ``haad evaluate`` (or ``haad merge-results``): overall,
seen and unseen means with their std over seeds, and per category the AUC of every seed. Two runs
with the same seed drew the same splits and support sets, so their difference is taken seed by seed.
"""

from __future__ import annotations

HEAD = "| method | seeds | mean | seen | unseen |\n|---|---|---|---|---|"
HEAD_PAIRED = ("| method | seeds | mean | seen | unseen | vs none, paired by seed |\n"
               "|---|---|---|---|---|---|")


def fmt(res, key="mean"):
    if res is None:
        return "—"
    std = res.get(key + "_std_over_seeds")
    return f"{res[key]:.3f}" + (f" ± {std:.3f}" if std is not None else "")


def seed_span(seeds: list) -> str:
    return f"{seeds[0]}–{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 1 \
        else ", ".join(map(str, seeds))


def generator_parts(res) -> list:
    """For a row merged from parts whose generator weights differ: (seeds, short digest or "?") per
    part, else an empty list (see haad merge-results)."""
    by_digest = {}
    for m in (res or {}).get("merged_from") or []:
        by_digest.setdefault(m.get("generator_sha256"), []).extend(m["seeds"])
    if len(by_digest) < 2:
        return []
    return [(sorted(seeds), (d or "?")[:8]) for d, seeds in by_digest.items()]


_marked = []  # (label, res) of the rows marked * since the last mixed_note()


def row(label, res):
    if res is None:
        return f"| {label} | — | — | — | — |"
    mark = ""
    if generator_parts(res):  # explained under the table by mixed_note()
        mark = "*"
        _marked.append((label, res))
    return (f"| {label} | {len(res['seeds'])}{mark} | {fmt(res)} | {fmt(res, 'seen_mean')} | "
            f"{fmt(res, 'unseen_mean')} |")


def mixed_note() -> list:
    """Lines explaining the rows marked * since the last call (none if no row was marked)."""
    lines = [f"{label}: " + ", ".join(f"seeds {seed_span(s)} generator {d}" for s, d in generator_parts(res))
             for label, res in _marked]
    _marked.clear()
    if not lines:
        return []
    return ["", "\\* Seeds whose variants came from different instances of the generator, trained by the same "
            "command (\"?\": weights not recorded). Retraining a generator does not reproduce its weights bit "
            "for bit; \"Generator instances\" in benchmarks/README.md gives how much that moves a seed. "
            + "; ".join(lines) + "."]


def diff_stats(d: list) -> tuple[float, float, int]:
    """Mean, sample std and number of positive entries of paired differences."""
    m = sum(d) / len(d)
    sd = (sum((x - m) ** 2 for x in d) / (len(d) - 1)) ** 0.5 if len(d) > 1 else 0.0
    return m, sd, sum(x > 0 for x in d)


def seed_means(res) -> dict:
    """Mean AUC over categories for every seed of a run."""
    vals = [c["values"] for c in res["per_category"].values()]  # (categories, seeds)
    return {s: sum(v[i] for v in vals) / len(vals) for i, s in enumerate(res["seeds"])}


def paired(res, base) -> str:
    """Mean AUC difference to ``base`` on the seeds both runs have (same seed = same split draws)."""
    if res is None or base is None or res is base:
        return "—"
    a, b = seed_means(res), seed_means(base)
    d = [a[s] - b[s] for s in a if s in b]
    if not d:
        return "—"
    m, sd, up = diff_stats(d)
    return f"{m:+.3f} ± {sd:.3f} ({up}/{len(d)} seeds up)"


def row_paired(label, res, base):
    return row(label, res)[:-2] + f" | {paired(res, base)} |"


def group_paired(res, base, group: str) -> str:
    """Paired-by-seed difference of the mean AUC over the ``group`` ("seen"/"unseen") categories."""
    cats = res.get(f"{group}_categories", [])
    common = [s for s in res["seeds"] if s in base["seeds"]]
    if not cats or not common:
        return "—"

    def mean_at(r, s):
        return sum(dict(zip(r["seeds"], r["per_category"][c]["values"]))[s] for c in cats) / len(cats)

    m, sd, up = diff_stats([mean_at(res, s) - mean_at(base, s) for s in common])
    return f"{m:+.3f} ± {sd:.3f} ({up}/{len(common)} seeds up)"


def per_category_lift(compared: list, base, quality) -> tuple[list, list]:
    """Markdown rows, and (category, change, fidelity) points for the first compared run.

    Per category: ``base``'s mean, then for every run in ``compared`` its mean and its difference to
    ``base`` paired by seed (over the seeds both have). ``quality`` is a generator_quality.py result
    (``fidelity_per_category``, ``attracts_misplaced``; seen categories), or None.
    """
    fid = (quality or {}).get("fidelity_per_category", {})
    pulls = (quality or {}).get("attracts_misplaced", {})
    seen = set(compared[0].get("seen_categories", []))
    rows, points = [], []
    for cat in compared[0]["per_category"]:  # category-id order
        b = dict(zip(base["seeds"], base["per_category"][cat]["values"]))
        cells = [cat, "seen" if cat in seen else "unseen", f"{sum(b.values()) / len(b):.3f}"]
        for i, res in enumerate(compared):
            a = dict(zip(res["seeds"], res["per_category"][cat]["values"]))
            common = [s for s in res["seeds"] if s in b]
            m, sd, up = diff_stats([a[s] - b[s] for s in common])
            cells += [f"{sum(a[s] for s in common) / len(common):.3f}", f"{m:+.3f} ± {sd:.3f} ({up}/{len(common)})"]
            if i == 0 and cat in fid:
                points.append((cat, m, fid[cat]["generated"]))
        f, pull = fid.get(cat), pulls.get(cat)
        cells += [f"{f['real']:.2f} / {f['generated']:.2f}" if f else "—", f"{pull:.0%}" if pull is not None else "—"]
        rows.append("| " + " | ".join(cells) + " |")
    return rows, points


def pearson(xs: list, ys: list) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / (sxx * syy) ** 0.5 if sxx > 0 and syy > 0 else float("nan")
