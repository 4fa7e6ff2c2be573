"""The sections of benchmarks/report.py's report, one function per table or figure.

Each function takes the report's ``Inputs`` (report_archive.py) and returns Markdown lines; a
section whose runs do not exist is left out.
"""

from __future__ import annotations

import json
from pathlib import Path

from report_archive import Inputs
from report_plots import plot_curve, plot_grid, plot_lift, plot_loss
from report_tables import (HEAD, HEAD_PAIRED, fmt, group_paired, mixed_note, pearson, per_category_lift, row,
                           row_paired)


def dataset(inp: Inputs, ds: str) -> list:
    """Everything measured on one dataset, under a ``## ds`` heading."""
    core = {m: inp.load(inp.runs / "core" / f"{ds}-{m}" / "results.json") for m in ("fewshot", "dct-distance")}
    none = core["fewshot"]
    md = [f"## {ds}", ""] + core_table(core)
    md += table3(inp, ds, none)
    md += ddim_steps(inp, ds) + figure5(inp, ds) + table4(inp, ds, none) + figure7(inp, ds, none)
    md += generators(inp, ds) + baselines(inp, ds)
    md.append("")
    return md


def core_only(inp: Inputs, ds: str) -> list:
    """A dataset measured under the core protocol only (ours and the floor)."""
    core = {m: inp.load(inp.runs / "core" / f"{ds}-{m}" / "results.json") for m in ("fewshot", "dct-distance")}
    return [f"## {ds}", ""] + core_table(core) + [""]


def core_table(core: dict) -> list:
    md = ["### Core: learned encoder vs no-learning floor (K = 3)", "", HEAD,
          row("fewshot (ours, no generative augmentation)", core["fewshot"]),
          row("dct-distance (no learning)", core["dct-distance"])] + mixed_note()
    if core["fewshot"]:
        md.append(f"\nEncoder training: {core['fewshot']['train_seconds']:.0f} s per seed (mean; measured "
                  "while other jobs shared the 2 cores, so an upper bound).")
    return md


# Table 3's rows after the paper's four: label and run name under runs/aug/ (minus the dataset).
TABLE3_EXTRA = [
    # variants kept only when the seed's no-augmentation encoder places them in their category
    ("training-time only, selected variants (--select-from 3)", "train-select3"),
    # the control: the observed prefix with its last frame held, no generated motion
    ("training-time only, control: held last frame, no generator (--completion hold)", "train-hold"),
    # the same augmentation from a generator trained 4x longer
    ("training-time only, generator trained 12,000 iterations (20 DDIM steps)", "train-long"),
    # short clips' variants keep their clip's padding
    ("training-time only, --keep-padding", "train-keeppad"),
]


def table3(inp: Inputs, ds: str, none) -> list:
    """Table 3 and, below it, where training-time augmentation moves the AUC."""
    aug = inp.runs / "aug"
    t3 = [("none", none), ("inference-time only", inp.load(aug / f"{ds}-support" / "results.json")),
          ("training-time only", inp.load(aug / f"{ds}-train" / "results.json")),
          ("both", inp.load(aug / f"{ds}-both" / "results.json"))]
    md = ["", "### Table 3: generative augmentation (N_g = 1)", "", HEAD_PAIRED]
    md += [row_paired(n, r, none) for n, r in t3]
    extra = {name: inp.load(aug / f"{ds}-{name}" / "results.json") for _, name in TABLE3_EXTRA}
    md += [row_paired(label, extra[name], none) for label, name in TABLE3_EXTRA if extra[name]]
    md += mixed_note()
    if none and t3[2][1]:
        compared = [("training-time only", t3[2][1]), ("selected variants (R = 3)", extra["train-select3"]),
                    ("control: held last frame", extra["train-hold"])]
        md += per_category(inp, ds, [(n, r) for n, r in compared if r], none)
    for pw in inp.glob(inp.runs / "analysis", f"pairwise-{ds}-*.json"):
        md += pairwise(json.loads(inp.use(pw).read_text()))
    return md


def per_category(inp: Inputs, ds: str, compared: list, none) -> list:
    """Per category, training-time augmentation against none, beside the variants' fidelity.

    Seen categories are the ones the encoder and the generator trained on; unseen ones change only
    through the encoder.
    """
    quality = inp.load(inp.runs / "quality" / f"{ds}.json")
    rows, points = per_category_lift([r for _, r in compared], none, quality)
    head = " | ".join(f"{n} | difference (seeds up)" for n, _ in compared)
    groups = "; ".join(f"{n}: seen {group_paired(r, none, 'seen')}, unseen "
                       f"{group_paired(r, none, 'unseen')}" for n, r in compared)
    md = ["", "#### Training-time augmentation per category (paired by seed against none)", "",
          f"{groups}. Fidelity: nearest-class-mean accuracy of real held-out clips / of their generated "
          "variants; draws: the category's share of all variants placed nearest to a wrong category "
          "(`runs/quality`, seed-0 encoder, seen categories only).", "",
          f"| category | | none | {head} | fidelity real / generated | draws of the misplaced variants |",
          "|---" * (5 + 2 * len(compared)) + "|"] + rows
    if len(points) > 2:
        r = pearson([q[2] for q in points], [q[1] for q in points])
        md.append(f"\nPearson correlation over the seen categories between the variants' fidelity and "
                  f"the AUC change: {r:+.2f} ({len(points)} categories).")
        plot_lift(points, inp.out / f"lift-vs-fidelity-{ds}.png", ds)
        md.append(f"\n![lift vs fidelity {ds}](lift-vs-fidelity-{ds}.png)")
    return md


def pairwise(r: dict) -> list:
    """One category as the normal one: its AUC against each other category alone (pairwise_auc.py)."""
    md = ["", f"#### `{r['normal']}` as the normal category: AUC against each other category alone "
          f"(`benchmarks/pairwise_auc.py`, {len(r['seeds'])} seeds, the 8 largest drops)", "",
          f"`{r['runs'][0]}` → `{r['runs'][1]}`", "",
          "| anomaly category | | before | after | difference |", "|---|---|---|---|---|"]
    return md + [f"| {q['category']} | {'unseen' if q['unseen'] else 'seen'} | {q['baseline']:.3f} | "
                 f"{q['compared']:.3f} | {q['difference']:+.3f} |" for q in r["pairs"][:8]]


def ddim_steps(inp: Inputs, ds: str) -> list:
    steps = [(s, inp.load(inp.runs / "aug" / f"{ds}-steps{s}" / "results.json")) for s in (100, 50, 20, 10)]
    if not any(r for _, r in steps):
        return []
    return ["", "### DDIM steps (inference-time augmentation, N_g = 5, K = 3)", "", HEAD] \
        + [row(f"{s} steps", r) for s, r in steps] + mixed_note()


def figure5(inp: Inputs, ds: str) -> list:
    grid = {(ns, ng): inp.load(inp.runs / "aug" / f"{ds}-ns{ns}-ng{ng}" / "results.json") for ns in (1, 3, 5, 10)
            for ng in (0, 1, 5, 10)}
    if not any(grid.values()):
        return []
    md = ["", "### Figure 5: mean AUC ± std over seeds against support size N_s and inference-time N_g",
          "", "| N_s \\ N_g | 0 | 1 | 5 | 10 |", "|---|---|---|---|---|"]
    for ns in (1, 3, 5, 10):
        md.append(f"| {ns} | " + " | ".join(fmt(grid[(ns, ng)]) for ng in (0, 1, 5, 10)) + " |")
    plot_grid(grid, inp.out / f"fig5-{ds}.png", ds)
    return md + [f"\n![Figure 5 {ds}](fig5-{ds}.png)"]


def table4(inp: Inputs, ds: str, none) -> list:
    obs = [(o, inp.load(inp.runs / "aug" / f"{ds}-obs{o}" / "results.json")) for o in (50, 40, 30, 20, 10)]
    if not any(r for _, r in obs):
        return []
    return ["", "### Table 4: observed / predicted frames of the generated variants (training-time "
            "augmentation, N_g = 1, 20 DDIM steps; one generator trained with every O)", "", HEAD_PAIRED] \
        + [row_paired(f"{o} / {60 - o}", r, none) for o, r in obs] + mixed_note()


def figure7(inp: Inputs, ds: str, none) -> list:
    ng_train = [(n, inp.load(inp.runs / "aug" / f"{ds}-train-ng{n}" / "results.json")) for n in (1, 3, 5, 10)]
    if not any(r for _, r in ng_train):
        return []
    md = ["", "### Figure 7: mean AUC against training-time N_g (inference-time augmentation off, "
          "K = 3, 20 DDIM steps)",
          "", HEAD_PAIRED] + [row_paired(f"N_g = {n}", r, none) for n, r in ng_train] + mixed_note()
    plot_curve(ng_train, none, inp.out / f"fig7-{ds}.png", ds)
    return md + [f"\n![Figure 7 {ds}](fig7-{ds}.png)"]


def generators(inp: Inputs, ds: str) -> list:
    """Each generator of the dataset: its size, training time and weights digest, and its loss curve."""
    md = []
    for name in (ds, f"{ds}-multiobs", f"{ds}-long"):
        gen = inp.find(inp.runs / "gen" / name / "config.json")
        if not gen.is_file():
            continue
        header = json.loads(inp.use(gen).read_text())
        plot_loss(header, inp.out / f"generator-loss-{name}.png", name)
        tr, meta = header["config"]["train"], header["meta"]
        trained_obs = tr["n_obs_choices"] or [tr["n_obs"]]
        digest = inp.weights_digest(inp.runs / "gen" / name)
        md.append(f"\nGenerator `runs/gen/{name}` ({tr['preset']} preset, {meta['num_parameters']:,} "
                  f"parameters, O in {trained_obs}, weights sha256 {digest[:8]}): {meta['iteration']} "
                  f"iterations of batch {tr['batch_size']} in {meta['elapsed_s']:.0f} s (wall clock, other "
                  "jobs sharing the 2 cores). Runs record the weights they sampled (`generator_sha256` in "
                  "results.json, per part under `merged_from`); rows without one (\"?\" under a table) used "
                  "another instance trained by the same command."
                  f"\n\n![generator loss {name}](generator-loss-{name}.png)")
    return md


def baselines(inp: Inputs, ds: str) -> list:
    """The per-category comparison written by compare_tables.sh (``haad bench``)."""
    table = inp.find(inp.runs / "bench" / ds / "table.md")
    if not table.is_file():
        return []
    inp.use(table)
    inp.use(inp.runs / "bench" / ds / "table.json")
    return ["", "### Comparison with one-model-per-category baselines", "", table.read_text()]


def generator_quality(inp: Inputs) -> list:
    quality = inp.glob(inp.runs / "quality", "*.json")
    if not quality:
        return []
    md = ["## Generator quality on held-out clips (`benchmarks/generator_quality.py`)", "",
          "Test clips of the seen categories (never trained on), several variants each. ADE: mean "
          "joint error (m) of the generated future against the true one; zero-velocity: a future that "
          "repeats the last observed frame. Fidelity: nearest-class-mean accuracy over the seen categories "
          "in a trained encoder's embedding.", "",
          "| dataset | generator | O | variants x DDIM steps | ADE | best of N | zero-velocity ADE | diversity (m) "
          "| boundary jump / data motion | bone-length error | fidelity real / generated / zero-velocity |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
    for q in quality:
        r = json.loads(inp.use(q).read_text())
        f = r["fidelity"]
        md.append(f"| {r['dataset']} | {Path(r['generator']).name} | {r['n_obs']} | {r['variants']} x {r['steps']} | "
                  f"{r['ade']:.3f} | "
                  f"{r['ade_best_of_n']:.3f} | {r['ade_zero_velocity']:.3f} | {r['diversity']:.3f} | "
                  f"{r['boundary_jump_ratio']:.2f} | {r['bone_error']:.1%} | {f['real']:.2f} / "
                  f"{f['generated']:.2f} / {f['zero_velocity']:.2f} |")
    return md + [""]


def thresholds(inp: Inputs) -> list:
    files = inp.glob(inp.runs / "analysis", "threshold-*.json")
    if not files:
        return []
    md = ["## Thresholds: how many normal clips the detector flags (`benchmarks/threshold_calibration.py`)", "",
          "False-positive rate (FPR) on normal test clips and true-positive rate (TPR) on the other "
          "categories' test clips. Rules: score above the max (`loo-max`, the default) or median "
          "(`loo-median`) leave-one-out score of the support set; conformal p-value at most 1/(K+1) "
          "(`conformal`, `predict(alpha=...)`, `haad detect --alpha`). Support drawn from the training "
          "pool as the protocol does (`protocol`: for a seen category, clips the encoder trained on), or "
          "from the category's test clips, the rest being scored (`fresh`: new recordings, as a user "
          "brings them).", ""]
    for t in files:
        r = json.loads(inp.use(t).read_text())
        md += [f"### {r['dataset']} ({len(r['seeds'])} seeds, {r['draws']} fresh draws per category and seed)", "",
               f"`{r['command']}` (encoders: `haad evaluate --dataset {r['dataset']} --epochs 101 --seeds {len(r['seeds'])} "
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
    return md


def explanations(inp: Inputs) -> list:
    files = inp.glob(inp.runs / "analysis", "explain-*.json")
    if not files:
        return []
    md = ["## Per-joint explanations: do they name a planted anomaly? (`benchmarks/explanation_faithfulness.py`)",
          "", "One random joint of a normal test clip is shaken; the explanation should rank it first. "
          "Methods: `embedding` (distance split over per-joint embedding dimensions), `occlusion` (score drop "
          "when the joint takes the nearest support clip's trajectory; `explain`'s default). Noticed: the "
          "shake raised the clip's score by more than 10%.", "",
          "| dataset | embedding | method | planted | ranked first | in the top 3 | mean share | median score rise "
          "| noticed | ranked first when noticed | chance |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    results = [json.loads(inp.use(e).read_text()) for e in files]
    for r in results:
        for q in r["rows"]:
            first = "—" if q["top1_noticed"] is None else f"{q['top1_noticed']:.2f}"
            md.append(f"| {r['dataset']} | {q['embedding']} | {q['method']} | {q['planted']} | {q['top1']:.2f} | "
                      f"{q['top3']:.2f} | {q['mean_share']:.2f} | {q['median_score_rise']:+.0%} | {q['noticed']} | "
                      f"{first} | {r['chance_top1']:.2f} |")
    for r in results:
        md += ["", f"`{r['command']}`"]
    return md + [""]
