"""Collect finished benchmark runs into Markdown tables and plots.

Usage: python benchmarks/report.py [RUNS_ROOT] [OUT_DIR]     (defaults: runs, benchmarks/results)

Reads runs/core/*/results.json (benchmarks/core_tables.sh), runs/aug/*/results.json
(benchmarks/augmentation_tables.sh, sensitivity_tables.sh), runs/bench/*/table.md
(benchmarks/compare_tables.sh), runs/gen/*/ (generator checkpoints), runs/quality/*.json
(generator_quality.py), runs/analysis/pairwise-*.json (pairwise_auc.py) and
runs/analysis/threshold-*.json (threshold_calibration.py), runs/analysis/explain-*.json
(explanation_faithfulness.py), and writes OUT_DIR/report.md, the plots and a copy of every
file it used under OUT_DIR/json, at its path relative to RUNS_ROOT (small JSON and Markdown files, so
the figures stay inspectable without the runs). A file missing from RUNS_ROOT (a fresh checkout has
no runs/) is read from that copy instead, so a report can be regenerated, or extended with new runs,
anywhere; a run that lacks some of its copy's seeds stops the report rather than replace it, and a
row leaves the report only when its archived copy is deleted. With the default OUT_DIR it also rewrites the "Tables" section at the end of
benchmarks/README.md from the report, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path


def load_file(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def fmt(res, key="mean"):
    if res is None:
        return "—"
    std = res.get(key + "_std_over_seeds")
    return f"{res[key]:.3f}" + (f" ± {std:.3f}" if std is not None else "")


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
            "command (\"?\": weights not recorded). Retraining a generator is not bitwise reproducible, so a "
            "row extended after its generator was lost mixes instances. " + "; ".join(lines) + "."]


def weights_digest(gen_dir: Path, out: Path) -> str:
    """sha256 of a generator's weights, kept beside the archived config (the weights are not archived)."""
    kept = out / "json" / "gen" / gen_dir.name / "weights.sha256"
    weights = gen_dir / "weights.safetensors"
    if weights.is_file():
        from haad.storage import file_digest

        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text(file_digest(weights) + "\n")
    return kept.read_text().strip() if kept.is_file() else "unknown"


def seed_span(seeds: list) -> str:
    return f"{seeds[0]}–{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 1 \
        else ", ".join(map(str, seeds))


HEAD = "| method | seeds | mean | seen | unseen |\n|---|---|---|---|---|"


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


HEAD_PAIRED = ("| method | seeds | mean | seen | unseen | vs none, paired by seed |\n"
               "|---|---|---|---|---|---|")


def row_paired(label, res, base):
    return row(label, res)[:-2] + f" | {paired(res, base)} |"


def diff_stats(d: list) -> tuple[float, float, int]:
    """Mean, sample std and number of positive entries of paired differences."""
    m = sum(d) / len(d)
    sd = (sum((x - m) ** 2 for x in d) / (len(d) - 1)) ** 0.5 if len(d) > 1 else 0.0
    return m, sd, sum(x > 0 for x in d)


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


def pearson(xs: list, ys: list) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / (sxx * syy) ** 0.5 if sxx > 0 and syy > 0 else float("nan")


def archived(runs: Path, out: Path):
    """``find(path under runs)``: the path itself, or, when a fresh checkout lacks it, the copy this
    report archived under OUT_DIR/json at the same relative path; ``glob(dir, pattern)`` lists both."""
    def find(p: Path) -> Path:
        copy = out / "json" / p.relative_to(runs)
        if not p.exists():
            return copy if copy.exists() else p
        if copy.is_file() and p.suffix == ".json":
            refuse_shrinking(p, copy)
        return p

    def glob(d: Path, pattern: str) -> list:
        copies = out / "json" / d.relative_to(runs)
        names = {q.name for q in d.glob(pattern)} | {q.name for q in copies.glob(pattern)}
        return [find(d / n) for n in sorted(names)]

    return find, glob


def refuse_shrinking(run: Path, copy: Path) -> None:
    """Stop before a run that lacks some of its archived copy's seeds replaces that copy."""
    new, old = load_file(run), load_file(copy)
    if not (isinstance(new, dict) and isinstance(old, dict) and "seeds" in new and "seeds" in old):
        return
    lost = sorted(set(old["seeds"]) - set(new["seeds"]))
    if lost:
        raise SystemExit(f"report.py: {run} lacks seeds {lost} of its archived copy {copy}; extend the row "
                         "instead (benchmarks/extend_seeds.sh), or delete the archived copy to replace it")


def main() -> int:
    runs = Path(sys.argv[1] if len(sys.argv) > 1 else "runs")
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "benchmarks/results")
    out.mkdir(parents=True, exist_ok=True)
    find, glob = archived(runs, out)

    def load(path: Path):  # a run's file, or its archived copy
        return load_file(find(path))
    md = []
    used = []
    for ds in ("utd-mhad", "nw-ucla"):
        core = {m: load(runs / "core" / f"{ds}-{m}" / "results.json") for m in ("fewshot", "dct-distance")}
        md += [f"## {ds}", "", "### Core: learned encoder vs no-learning floor (K = 3)", "", HEAD,
               row("fewshot (ours, no generative augmentation)", core["fewshot"]),
               row("dct-distance (no learning)", core["dct-distance"])] + mixed_note()
        if core["fewshot"]:
            md.append(f"\nEncoder training: {core['fewshot']['train_seconds']:.0f} s per seed (mean; measured "
                      "while other jobs shared the 2 cores, so an upper bound).")
        used += [runs / "core" / f"{ds}-{m}" / "results.json" for m in core]
        aug = runs / "aug"
        t3 = [("none", core["fewshot"]), ("inference-time only", load(aug / f"{ds}-support" / "results.json")),
              ("training-time only", load(aug / f"{ds}-train" / "results.json")),
              ("both", load(aug / f"{ds}-both" / "results.json"))]
        md += ["", "### Table 3: generative augmentation (N_g = 1)", "", HEAD_PAIRED]
        md += [row_paired(n, r, t3[0][1]) for n, r in t3]
        select = load(aug / f"{ds}-train-select3" / "results.json")
        if select:  # variants kept only when the seed's no-augmentation encoder places them in their category
            md.append(row_paired("training-time only, selected variants (--select-from 3)", select, t3[0][1]))
            used.append(aug / f"{ds}-train-select3" / "results.json")
        hold = load(aug / f"{ds}-train-hold" / "results.json")
        if hold:  # the control: the observed prefix with its last frame held, no generated motion
            md.append(row_paired("training-time only, control: held last frame, no generator (--completion hold)",
                                 hold, t3[0][1]))
            used.append(aug / f"{ds}-train-hold" / "results.json")
        long = load(aug / f"{ds}-train-long" / "results.json")
        if long:  # the same augmentation from a generator trained 4x longer
            md.append(row_paired("training-time only, generator trained 12,000 iterations (20 DDIM steps)", long,
                                 t3[0][1]))
            used.append(aug / f"{ds}-train-long" / "results.json")
        keep = load(aug / f"{ds}-train-keeppad" / "results.json")
        if keep:  # the experiment that gives short clips' variants their padding back
            md.append(row_paired("training-time only, --keep-padding", keep, t3[0][1]))
            used.append(aug / f"{ds}-train-keeppad" / "results.json")
        md += mixed_note()
        if t3[0][1] and t3[2][1]:
            # Where does training-time augmentation move the AUC? Seen categories are the ones the
            # encoder and the generator trained on; unseen ones change only through the encoder.
            quality = load(runs / "quality" / f"{ds}.json")
            compared = [("training-time only", t3[2][1])] + ([("selected variants (R = 3)", select)] if select else []) \
                + ([("control: held last frame", hold)] if hold else [])
            rows, points = per_category_lift([r for _, r in compared], t3[0][1], quality)
            head = " | ".join(f"{n} | difference (seeds up)" for n, _ in compared)
            groups = "; ".join(f"{n}: seen {group_paired(r, t3[0][1], 'seen')}, unseen "
                               f"{group_paired(r, t3[0][1], 'unseen')}" for n, r in compared)
            md += ["", "#### Training-time augmentation per category (paired by seed against none)", "",
                   f"{groups}. Fidelity: nearest-class-mean accuracy of real held-out clips / of their generated "
                   "variants; draws: the category's share of all variants placed nearest to a wrong category "
                   "(`runs/quality`, seed-0 encoder, seen categories only).", "",
                   f"| category | | none | {head} | fidelity real / generated | draws of the misplaced variants |",
                   "|---" * (5 + 2 * len(compared)) + "|"] + rows
            if len(points) > 2:
                r = pearson([q[2] for q in points], [q[1] for q in points])
                md.append(f"\nPearson correlation over the seen categories between the variants' fidelity and "
                          f"the AUC change: {r:+.2f} ({len(points)} categories).")
                plot_lift(points, out / f"lift-vs-fidelity-{ds}.png", ds)
                md.append(f"\n![lift vs fidelity {ds}](lift-vs-fidelity-{ds}.png)")
        for pw in glob(runs / "analysis", f"pairwise-{ds}-*.json"):
            r = json.loads(pw.read_text())
            md += ["", f"#### `{r['normal']}` as the normal category: AUC against each other category alone "
                   f"(`benchmarks/pairwise_auc.py`, {len(r['seeds'])} seeds, the 8 largest drops)", "",
                   f"`{r['runs'][0]}` → `{r['runs'][1]}`", "",
                   "| anomaly category | | before | after | difference |", "|---|---|---|---|---|"]
            md += [f"| {q['category']} | {'unseen' if q['unseen'] else 'seen'} | {q['baseline']:.3f} | "
                   f"{q['compared']:.3f} | {q['difference']:+.3f} |" for q in r["pairs"][:8]]
            used.append(pw)
        steps = [(s, load(aug / f"{ds}-steps{s}" / "results.json")) for s in (100, 50, 20, 10)]
        if any(r for _, r in steps):
            md += ["", "### DDIM steps (inference-time augmentation, N_g = 5, K = 3)", "", HEAD]
            md += [row(f"{s} steps", r) for s, r in steps] + mixed_note()
        grid = {(ns, ng): load(aug / f"{ds}-ns{ns}-ng{ng}" / "results.json") for ns in (1, 3, 5, 10)
                for ng in (0, 1, 5, 10)}
        if any(grid.values()):
            md += ["", "### Figure 5: mean AUC ± std over seeds against support size N_s and inference-time N_g",
                   "", "| N_s \\ N_g | 0 | 1 | 5 | 10 |", "|---|---|---|---|---|"]
            for ns in (1, 3, 5, 10):
                md.append(f"| {ns} | " + " | ".join(fmt(grid[(ns, ng)]) for ng in (0, 1, 5, 10)) + " |")
            plot_grid(grid, out / f"fig5-{ds}.png", ds)
            md.append(f"\n![Figure 5 {ds}](fig5-{ds}.png)")
        obs = [(o, load(aug / f"{ds}-obs{o}" / "results.json")) for o in (50, 40, 30, 20, 10)]
        if any(r for _, r in obs):
            md += ["", "### Table 4: observed / predicted frames of the generated variants (training-time "
                   "augmentation, N_g = 1, 20 DDIM steps; one generator trained with every O)", "", HEAD_PAIRED]
            md += [row_paired(f"{o} / {60 - o}", r, core["fewshot"]) for o, r in obs]
            md += mixed_note()
        ng_train = [(n, load(aug / f"{ds}-train-ng{n}" / "results.json")) for n in (1, 3, 5, 10)]
        if any(r for _, r in ng_train):
            md += ["", "### Figure 7: mean AUC against training-time N_g (inference-time augmentation off, "
                   "K = 3, 20 DDIM steps)",
                   "", HEAD_PAIRED] + [row_paired(f"N_g = {n}", r, core["fewshot"]) for n, r in ng_train]
            md += mixed_note()
            plot_curve(ng_train, t3[0][1], out / f"fig7-{ds}.png", ds)
            md.append(f"\n![Figure 7 {ds}](fig7-{ds}.png)")
        used += [aug / f"{ds}-obs{o}" / "results.json" for o, _ in obs]
        used += [aug / f"{ds}-train-ng{n}" / "results.json" for n, _ in ng_train]
        used += [aug / f"{ds}-{n}" / "results.json" for n in ("support", "train", "both")]
        used += [aug / f"{ds}-steps{s}" / "results.json" for s in (100, 50, 20, 10)]
        used += [aug / f"{ds}-ns{ns}-ng{ng}" / "results.json" for ns, ng in grid]
        for name in (ds, f"{ds}-multiobs", f"{ds}-long"):
            gen = find(runs / "gen" / name / "config.json")
            if gen.is_file():
                used.append(gen)
                header = json.loads(gen.read_text())
                plot_loss(header, out / f"generator-loss-{name}.png", name)
                tr, meta = header["config"]["train"], header["meta"]
                trained_obs = tr["n_obs_choices"] or [tr["n_obs"]]
                digest = weights_digest(runs / "gen" / name, out)
                md.append(f"\nGenerator `runs/gen/{name}` ({tr['preset']} preset, {meta['num_parameters']:,} "
                          f"parameters, O in {trained_obs}, weights sha256 {digest[:8]}): {meta['iteration']} "
                          f"iterations of batch {tr['batch_size']} in {meta['elapsed_s']:.0f} s (wall clock, other "
                          "jobs sharing the 2 cores). Runs record the weights they sampled (`generator_sha256` in "
                          "results.json, per part under `merged_from`); rows without one used an earlier instance "
                          "trained by the same command."
                          f"\n\n![generator loss {name}](generator-loss-{name}.png)")
        table = find(runs / "bench" / ds / "table.md")
        if table.is_file():
            md += ["", "### Comparison with one-model-per-category baselines", "", table.read_text()]
            used += [table, find(runs / "bench" / ds / "table.json")]
        md.append("")
    quality = glob(runs / "quality", "*.json")
    if quality:
        md += ["## Generator quality on held-out clips (`benchmarks/generator_quality.py`)", "",
               "Test clips of the seen categories (never trained on), several variants each. ADE: mean "
               "joint error (m) of the generated future against the true one; zero-velocity: a future that "
               "repeats the last observed frame. Fidelity: nearest-class-mean accuracy over the seen categories "
               "in a trained encoder's embedding.", "",
               "| dataset | generator | O | variants x DDIM steps | ADE | best of N | zero-velocity ADE | diversity (m) | boundary jump "
               "/ data motion | bone-length error | fidelity real / generated / zero-velocity |",
               "|---|---|---|---|---|---|---|---|---|---|---|"]
        for q in quality:
            r = json.loads(q.read_text())
            f = r["fidelity"]
            md.append(f"| {r['dataset']} | {Path(r['generator']).name} | {r['n_obs']} | {r['variants']} x {r['steps']} | "
                      f"{r['ade']:.3f} | "
                      f"{r['ade_best_of_n']:.3f} | {r['ade_zero_velocity']:.3f} | {r['diversity']:.3f} | "
                      f"{r['boundary_jump_ratio']:.2f} | {r['bone_error']:.1%} | {f['real']:.2f} / "
                      f"{f['generated']:.2f} / {f['zero_velocity']:.2f} |")
            used.append(q)
        md.append("")
    thresholds = glob(runs / "analysis", "threshold-*.json")
    if thresholds:
        md += ["## Thresholds: how many normal clips the detector flags (`benchmarks/threshold_calibration.py`)", "",
               "False-positive rate (FPR) on normal test clips and true-positive rate (TPR) on the other "
               "categories' test clips. Rules: score above the max (`loo-max`, the default) or median "
               "(`loo-median`) leave-one-out score of the support set; conformal p-value at most 1/(K+1) "
               "(`conformal`, `predict(alpha=...)`, `haad detect --alpha`). Support drawn from the training "
               "pool as the protocol does (`protocol`: for a seen category, clips the encoder trained on), or "
               "from the category's test clips, the rest being scored (`fresh`: new recordings, as a user "
               "brings them).", ""]
        for t in thresholds:
            r = json.loads(t.read_text())
            md += [f"### {r['dataset']} ({len(r['seeds'])} seeds, {r['draws']} fresh draws per category and seed)", "",
                   f"`{r['command']}` (encoders: `haad evaluate --dataset {r['dataset']} --seeds {len(r['seeds'])} "
                   f"--out {r['run']}`)", "",
                   "| support | K | rule | FPR seen | FPR unseen | TPR seen | TPR unseen | 1/(K+1) |",
                   "|---|---|---|---|---|---|---|---|"]
            cells = {(q["way"], q["k_shot"], q["rule"], q["seen"]): q for q in r["rows"]}
            for way, k, rule in dict.fromkeys((q["way"], q["k_shot"], q["rule"]) for q in r["rows"]):
                seen, unseen = cells.get((way, k, rule, True)), cells.get((way, k, rule, False))
                rate = lambda q, key: f"{q[key]:.2f}" if q else "—"  # noqa: E731
                md.append(f"| {way} | {k} | {rule} | {rate(seen, 'false_positive_rate')} | "
                          f"{rate(unseen, 'false_positive_rate')} | {rate(seen, 'true_positive_rate')} | "
                          f"{rate(unseen, 'true_positive_rate')} | {1 / (k + 1):.2f} |")
            md.append("")
            used.append(t)
    explains = glob(runs / "analysis", "explain-*.json")
    if explains:
        md += ["## Per-joint explanations: do they name a planted anomaly? (`benchmarks/explanation_faithfulness.py`)",
               "", "One random joint of a normal test clip is shaken; the explanation should rank it first. "
               "Methods: `embedding` (distance split over per-joint embedding dimensions), `occlusion` (score drop "
               "when the joint takes the nearest support clip's trajectory; `explain`'s default). Noticed: the "
               "shake raised the clip's score by more than 10%.", "",
               "| dataset | embedding | method | planted | ranked first | in the top 3 | mean share | median score rise "
               "| noticed | ranked first when noticed | chance |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for e in explains:
            r = json.loads(e.read_text())
            for q in r["rows"]:
                first = "—" if q["top1_noticed"] is None else f"{q['top1_noticed']:.2f}"
                md.append(f"| {r['dataset']} | {q['embedding']} | {q['method']} | {q['planted']} | {q['top1']:.2f} | "
                          f"{q['top3']:.2f} | {q['mean_share']:.2f} | {q['median_score_rise']:+.0%} | {q['noticed']} | "
                          f"{first} | {r['chance_top1']:.2f} |")
            used.append(e)
        for e in explains:
            md += ["", f"`{json.loads(e.read_text())['command']}`"]
        md.append("")
    for p in used:  # archive every input under the same relative path (a fallback is its own copy)
        p = find(p) if p.is_relative_to(runs) else p
        if not p.is_file() or not p.is_relative_to(runs):
            continue
        dest = out / "json" / p.relative_to(runs)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(p, dest)
    (out / "report.md").write_text("\n".join(md) + "\n")
    readme = Path(__file__).resolve().parent / "README.md"
    if out.resolve() == readme.parent / "results":  # only the default OUT_DIR feeds the README
        sync_readme(readme, md, out.name)
    print("\n".join(md))
    return 0


TABLES_HEADING = "## Tables (generated by `python benchmarks/report.py`)"


def sync_readme(readme: Path, md: list, images: str) -> None:
    """Replace everything after README's Tables heading by the report, one heading level down and
    with image links made relative to the README."""
    text = readme.read_text()
    at = text.find(TABLES_HEADING)
    if at < 0:
        raise SystemExit(f"{readme}: no line {TABLES_HEADING!r} to put the tables under")
    body = []
    for line in "\n".join(md).split("\n"):  # entries of md may hold several lines
        if line.startswith("#"):
            line = "#" + line
        elif line.startswith("![") and "](" in line and "://" not in line:
            alt, target = line.split("](", 1)
            line = f"{alt}]({images}/{target}"
        body.append(line)
    readme.write_text(text[:at] + TABLES_HEADING + "\n\n" + "\n".join(body) + "\n")


def plot_grid(grid, path: Path, ds: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for ng in (0, 1, 5, 10):
        xs = [ns for ns in (1, 3, 5, 10) if grid[(ns, ng)]]
        if not xs:
            continue
        ys = [grid[(ns, ng)]["mean"] for ns in xs]
        es = [grid[(ns, ng)]["mean_std_over_seeds"] for ns in xs]
        ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=f"N_g = {ng}")
    ax.set_xlabel("support size N_s")
    ax.set_ylabel("mean AUC")
    ax.set_title(f"{ds}: support size and inference-time N_g")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_curve(points, baseline, path: Path, ds: str) -> None:
    """Figure 7: mean AUC (± std over seeds) against training-time N_g, with the no-augmentation level."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [(n, r) for n, r in points if r]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.errorbar([n for n, _ in pts], [r["mean"] for _, r in pts], yerr=[r["mean_std_over_seeds"] for _, r in pts],
                marker="o", capsize=3, label="training-time augmentation")
    if baseline:
        ax.axhline(baseline["mean"], color="grey", ls="--", label="no augmentation")
    ax.set_xlabel("training-time N_g (variants per clip)")
    ax.set_ylabel("mean AUC")
    ax.set_xticks([n for n, _ in points])
    ax.set_title(f"{ds}: training-time N_g")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_lift(points, path: Path, ds: str) -> None:
    """Per seen category: AUC change under training-time augmentation against the variants' fidelity."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.scatter([q[2] for q in points], [q[1] for q in points])
    for cat, lift, fid in points:
        ax.annotate(cat, (fid, lift), fontsize=6, xytext=(2, 2), textcoords="offset points")
    ax.axhline(0.0, color="grey", ls="--")
    ax.set_xlabel("fidelity of generated variants (nearest-class-mean accuracy)")
    ax.set_ylabel("AUC change, training-time aug. - none")
    ax.set_title(f"{ds}: per seen category")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_loss(header: dict, path: Path, ds: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hist = header.get("meta", {}).get("loss_history") or []  # [iteration, mean loss] pairs
    if not hist:
        return
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([h[0] for h in hist], [h[1] for h in hist])
    ax.set_xlabel("iteration")
    ax.set_ylabel("epsilon-prediction MSE")
    ax.set_yscale("log")
    ax.set_title(f"generator training loss ({ds})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
