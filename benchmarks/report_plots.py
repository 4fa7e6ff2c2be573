"""Plots for benchmarks/report.py: Figure 5 grid, Figure 7 curve, lift against fidelity, generator loss."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (imported here: only the plots need it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(plt, fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_grid(grid, path: Path, ds: str) -> None:
    plt = pyplot()
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
    save(plt, fig, path)


def plot_curve(points, baseline, path: Path, ds: str) -> None:
    """Figure 7: mean AUC (± std over seeds) against training-time N_g, with the no-augmentation level."""
    plt = pyplot()
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
    save(plt, fig, path)


def plot_lift(points, path: Path, ds: str) -> None:
    """Per seen category: AUC change under training-time augmentation against the variants' fidelity."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.scatter([q[2] for q in points], [q[1] for q in points])
    for cat, lift, fid in points:
        ax.annotate(cat, (fid, lift), fontsize=6, xytext=(2, 2), textcoords="offset points")
    ax.axhline(0.0, color="grey", ls="--")
    ax.set_xlabel("fidelity of generated variants (nearest-class-mean accuracy)")
    ax.set_ylabel("AUC change, training-time aug. - none")
    ax.set_title(f"{ds}: per seen category")
    save(plt, fig, path)


def plot_loss(header: dict, path: Path, ds: str) -> None:
    hist = header.get("meta", {}).get("loss_history") or []  # [iteration, mean loss] pairs
    if not hist:
        return
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([h[0] for h in hist], [h[1] for h in hist])
    ax.set_xlabel("iteration")
    ax.set_ylabel("epsilon-prediction MSE")
    ax.set_yscale("log")
    ax.set_title(f"generator training loss ({ds})")
    save(plt, fig, path)
