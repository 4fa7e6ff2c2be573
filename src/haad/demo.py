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


def run_demo(config: DemoConfig = DemoConfig(), progress: bool = False, log=None):
    """(synthetic collection, few-shot results, no-learning floor results)."""
    from haad.data.synthetic import synthesize

    data = synthesize(clips_per_class=config.clips_per_class, seed=0)
    floor = evaluate(data, config.eval_config("dct-distance"), progress=False)
    ours = evaluate(data, config.eval_config(), progress=progress, log=log)
    return data, ours, floor
