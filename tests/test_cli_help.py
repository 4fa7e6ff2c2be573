"""The command line's help names the defaults that the config dataclasses hold (the one place where
defaults live, docs/ARCHITECTURE.md): every "(default X)" in an option's help is checked against the
dataclass field it describes, so that changing a default without its help, or the other way round,
fails here."""

from __future__ import annotations

import argparse
import re

from haad.cli.parser import build_parser
from haad.demo import DemoConfig
from haad.evaluation.augmentation import AugmentConfig
from haad.evaluation.config import BaselineEvalConfig, EvalConfig
from haad.evaluation.within import WithinConfig
from haad.generator.train import GeneratorTrainConfig
from haad.inference import SupportConfig
from haad.pretrain import PretrainConfig
from haad.train import TrainConfig

EVAL, AUG, PRE, SUP = EvalConfig(), AugmentConfig(), PretrainConfig(), SupportConfig()
TRAINING = {"--k-shot": EVAL.k_shot, "--epochs": EVAL.train.epochs, "--iters-per-epoch": EVAL.train.iters_per_epoch}
GENERATION = {"--n-gen": AUG.n_gen_train, "--n-obs": AUG.n_obs, "--gen-steps": AUG.steps,
              "--select-from": AUG.select_from}
assert AUG.n_gen_train == AUG.n_gen_support  # one --n-gen default stands for both

# (command, option) -> the dataclass default its help names
DEFAULTS = {
    ("demo", "--seeds"): DemoConfig().seeds,
    ("demo", "--epochs"): DemoConfig().epochs,
    ("demo", "--clips-per-class"): DemoConfig().clips_per_class,
    ("evaluate", "--method"): EVAL.method,
    ("evaluate", "--scale"): WithinConfig("ui-prmd-cross-subject").scale,
    ("evaluate", "--seeds"): len(EVAL.seeds),
    **{("evaluate", k): v for k, v in {**TRAINING, **GENERATION}.items()},
    ("benchmark", "--seeds"): len(EVAL.seeds),
    ("benchmark", "--baseline-seeds"): len(BaselineEvalConfig("stg-nf").seeds),
    **{("benchmark", k): v for k, v in {**TRAINING, **GENERATION}.items()},
    ("train-generator", "--preset"): GeneratorTrainConfig().preset,
    ("train-generator", "--n-obs"): GeneratorTrainConfig().n_obs,
    ("train", "--seed"): TrainConfig().seed,
    **{("train", k): v for k, v in TRAINING.items()},
    ("pretrain", "--seed"): PRE.train.seed,
    ("pretrain", "--epochs"): PRE.train.epochs,
    ("pretrain", "--iters-per-epoch"): PRE.train.iters_per_epoch,
    ("pretrain", "--categories-per-dataset"): PRE.categories_per_dataset,
    ("pretrain", "--train-crops"): ",".join(PRE.train_crops),
    ("detect", "--scale"): SUP.scale,
    ("detect", "--threshold-quantile"): SUP.threshold_quantile,
    ("detect", "--n-gen"): SUP.generation.n_variants,
    ("detect", "--n-obs"): SUP.generation.n_obs,
    ("detect", "--gen-steps"): SUP.generation.steps,
    ("detect", "--gen-seed"): SUP.generation_seed,
}
# Defaults that no config dataclass holds (paths, the encoder's name, argparse's own) or that help
# describes in words.
NOT_A_CONFIG = {("demo", "--out"), ("evaluate", "--data-dir"), ("evaluate", "--protocol"), ("report", "--out"),
                ("train-generator", "--iterations"), ("detect", "--encoder"), ("detect", "--explain-method"),
                ("detect", "--report-animations")}


def documented_defaults():
    """(command, option, the help's default text) for every option whose help names a default."""
    def walk(parser, command=""):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, f"{command} {name}".strip())
            elif action.help and action.option_strings and re.search(r"\bdefault\b", action.help):
                m = re.search(r"\(default:? ([^;): ]+)", action.help)
                yield command, action.option_strings[-1], m.group(1) if m else None

    return list(walk(build_parser()))


def test_every_default_in_the_help_is_the_config_default():
    seen = set()
    for command, option, text in documented_defaults():
        key = (command, option)
        seen.add(key)
        if key in NOT_A_CONFIG or text is None:  # no "(default X)": the help says it in words
            continue
        assert key in DEFAULTS, f"haad {command} {option}: its help names a default ({text!r}); add it to DEFAULTS"
        assert text == str(DEFAULTS[key]), f"haad {command} {option}: help says {text!r}, the config {DEFAULTS[key]!r}"
    assert set(DEFAULTS) <= seen, sorted(set(DEFAULTS) - seen)  # no stale entries
