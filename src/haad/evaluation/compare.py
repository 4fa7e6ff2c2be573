"""Comparison tables: categories as rows, methods as columns, mean +- std over seeds, best per row marked."""

from __future__ import annotations


def comparison_table(results: list[dict]) -> dict:
    """Combine per-method results dicts (same dataset) into one JSON-able table."""
    if not results:
        raise ValueError("no results to compare")
    datasets = {r["dataset"] for r in results}
    if len(datasets) != 1:
        raise ValueError(f"results come from several datasets: {sorted(datasets)}")
    # Category-id order (seen, then unseen), whatever order a JSON file kept the keys in.
    cats = list(results[0]["seen_categories"]) + list(results[0]["unseen_categories"])
    for r in results:
        if sorted(r["per_category"]) != sorted(cats):
            raise ValueError(f"method {r['method']} has other categories than {results[0]['method']}")
    methods = [r["method"] for r in results]
    rows = []
    for name in cats:
        cells = {r["method"]: {"mean": r["per_category"][name]["mean"], "std": r["per_category"][name]["std"]}
                 for r in results}
        best = max(cells, key=lambda m: cells[m]["mean"])
        tag = "unseen" if name in results[0]["unseen_categories"] else "seen"
        rows.append({"category": name, "split": tag, "cells": cells, "best": best})
    summary = {}
    for key in ("mean", "seen_mean", "unseen_mean"):
        vals = {r["method"]: {"mean": r[key], "std": r.get(key + "_std_over_seeds")} for r in results}
        summary[key] = {"cells": vals, "best": max(vals, key=lambda m: vals[m]["mean"])}
    return {
        "dataset": results[0]["dataset"],
        "methods": methods,
        "seeds": {r["method"]: len(r["seeds"]) for r in results},
        "k_shot": {r["method"]: r.get("k_shot") for r in results},
        "train_seconds_per_category": {r["method"]: r.get("train_seconds_per_category") for r in results},
        "train_seconds_per_seed": {r["method"]: r.get("train_seconds") for r in results},
        "rows": rows,
        "summary": summary,
    }


def _cell(c: dict, best: bool) -> str:
    s = f"{c['mean']:.3f}" + (f" ± {c['std']:.3f}" if c.get("std") is not None else "")
    return f"**{s}**" if best else s


def table_markdown(table: dict) -> str:
    """Markdown rendering of :func:`comparison_table`'s output."""
    methods = table["methods"]
    head = [f"{m} ({table['seeds'][m]} seeds)" for m in methods]
    lines = [f"### {table['dataset']}", "", "| category | split | " + " | ".join(head) + " |",
             "|---|---|" + "---|" * len(methods)]
    for row in table["rows"]:
        cells = [_cell(row["cells"][m], m == row["best"]) for m in methods]
        lines.append(f"| {row['category']} | {row['split']} | " + " | ".join(cells) + " |")
    for key, label in (("mean", "**mean**"), ("seen_mean", "seen mean"), ("unseen_mean", "unseen mean")):
        s = table["summary"][key]
        cells = [_cell(s["cells"][m], m == s["best"]) for m in methods]
        lines.append(f"| {label} | | " + " | ".join(cells) + " |")
    secs = table["train_seconds_per_category"]
    per_seed = table["train_seconds_per_seed"]
    cost = []
    for m in methods:
        if secs.get(m):
            cost.append(f"{secs[m]:.1f} s per category model")
        elif per_seed.get(m):
            cost.append(f"{per_seed[m]:.1f} s per seed (one encoder for all categories)")
        else:
            cost.append("no training")
    lines.append("| training time | | " + " | ".join(cost) + " |")
    lines.append("")
    lines.append("Mean ± std over seeds (std of the overall means: over seeds); best per row in bold. "
                 "Few-shot methods use K = " + ", ".join(f"{m}: {k}" for m, k in table["k_shot"].items() if k)
                 + " support clips; one-model-per-category methods train on the whole training pool.")
    return "\n".join(lines) + "\n"


def best_counts(table: dict) -> dict:
    """How many category rows each method wins."""
    counts = {m: 0 for m in table["methods"]}
    for row in table["rows"]:
        counts[row["best"]] += 1
    return counts

