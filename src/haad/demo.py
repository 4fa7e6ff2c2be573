"""The demo: the protocol on the embedded synthetic data, the learned encoder beside the no-learning floor.

Needs no download and no data folder, and runs in about a minute on 2 CPU cores.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from haad.evaluation.config import EvalConfig
from haad.evaluation.protocol import evaluate


@dataclass(frozen=True)
class DemoConfig:
    """Attributes:
        seeds: number of seeds.
        epochs: encoder training epochs (fewer than the protocol's 101: the synthetic actions are easy).
        clips_per_class: synthetic clips per action.
    """

    seeds: int = 2
    epochs: int = 25
    clips_per_class: int = 40

    def eval_config(self, method: str = "fewshot") -> EvalConfig:
        """The protocol settings of the demo's runs."""
        base = EvalConfig()
        return replace(base, method=method, seeds=tuple(range(self.seeds)), train=base.train.with_epochs(self.epochs))


def run_demo(config: DemoConfig = DemoConfig(), progress: bool = False, log=None, out_dir=None):
    """(synthetic collection, few-shot results, no-learning floor results).

    With ``out_dir``, each run's ``results.json`` and ``scores.npz`` go to ``out_dir/fewshot/`` and
    ``out_dir/dct-distance/`` (the layout of a benchmark run) and the HTML report of both to
    ``out_dir/report.html`` (:func:`haad.report.write_evaluation_report`). The encoders are trained in a
    temporary directory: a rerun with other settings never reuses them.
    """
    import shutil
    import tempfile
    from pathlib import Path

    from haad.data.synthetic import synthesize
    from haad.storage import atomic_write_json

    data = synthesize(clips_per_class=config.clips_per_class, seed=0)
    with tempfile.TemporaryDirectory(prefix="haad-demo-") as tmp:
        runs = {}
        for method in ("dct-distance", "fewshot"):
            work = Path(tmp) / method if out_dir is not None else None
            quiet = method == "dct-distance"
            runs[method] = evaluate(data, config.eval_config(method), out_dir=work, progress=progress and not quiet,
                                    log=None if quiet else log)
            if out_dir is not None:
                target = Path(out_dir) / method
                target.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(work / "scores.npz", target / "scores.npz")
                atomic_write_json(target / "results.json", runs[method])
    if out_dir is not None:
        from haad.report import write_evaluation_report

        write_evaluation_report(out_dir, Path(out_dir) / "report.html")
    return data, runs["fewshot"], runs["dct-distance"]
