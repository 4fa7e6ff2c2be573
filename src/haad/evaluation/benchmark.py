"""Several methods under the protocol on one dataset, side by side: one results.json per method (reused
when a finished one with the same dataset, seeds and options is already there) and one comparison
table (``table.md``, ``table.json``)."""

from __future__ import annotations

import json
from pathlib import Path

from haad.data.collection import Collection
from haad.evaluation.compare import comparison_table, table_markdown
from haad.evaluation.config import BaselineEvalConfig, EvalConfig
from haad.evaluation.protocol import evaluate, evaluate_baseline
from haad.storage import atomic_write_bytes, atomic_write_json


def reusable_results(path: Path, dataset: str, seeds: list, options: dict) -> dict | None:
    """A finished results file for the same dataset, seeds and options, else None."""
    if not path.is_file():
        return None
    try:
        res = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    if not isinstance(res, dict) or res.get("dataset") != dataset or res.get("seeds") != seeds:
        return None
    if res.get("options") != json.loads(json.dumps(options)):
        return None
    return res


def run_benchmark(data: Collection, configs: list, out_dir, progress: bool = False, log=None,
                  on_result=None) -> tuple[dict, str]:
    """Run every config (:class:`EvalConfig` or :class:`BaselineEvalConfig`) and compare them.

    Each method's results go to ``out_dir/METHOD/results.json``; the comparison to
    ``out_dir/table.json`` and ``out_dir/table.md``. ``on_result(results)`` is called after each
    method. Returns (table, markdown).
    """
    out_dir = Path(out_dir)
    results = []
    for cfg in configs:
        if isinstance(cfg, EvalConfig):
            cfg = cfg.resolved()  # as evaluate runs it (no encoder given: the protocol's window)
        method_dir = out_dir / cfg.method
        res = reusable_results(method_dir / "results.json", data.source, list(cfg.seeds), cfg.options())
        if res is not None:
            if log:
                log(f"{cfg.method}: reusing {method_dir / 'results.json'} (same dataset, seeds and options)")
        elif isinstance(cfg, BaselineEvalConfig):
            res = evaluate_baseline(data, cfg, progress=progress, log=log, out_dir=method_dir)
        else:
            res = evaluate(data, cfg, out_dir=method_dir, progress=progress, log=log)
        atomic_write_json(method_dir / "results.json", res)
        results.append(res)
        if on_result is not None:
            on_result(res)
    table = comparison_table(results)
    md = table_markdown(table)
    atomic_write_json(out_dir / "table.json", table)
    atomic_write_bytes(out_dir / "table.md", md.encode())
    return table, md


__all__ = ["BaselineEvalConfig", "EvalConfig", "reusable_results", "run_benchmark"]
