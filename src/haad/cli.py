"""The ``haad`` command line: a thin layer over the Python API.

Commands: ``demo``, ``evaluate``, ``benchmark``, ``train``, ``train-generator``, ``detect``, ``data convert``, ``data info``.
Tables and results go to stdout and to files named by the user; progress bars go to stderr
(``--quiet`` turns them off).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np


def _int_at_least(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int_at_least(text, 0)


def probability(text: str) -> float:
    """argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return value


def positive_int_list(text: str) -> tuple:
    """argparse type: one or more comma-separated integers >= 1 (e.g. ``10,20,30``)."""
    return tuple(positive_int(part.strip()) for part in text.split(","))


def _add_common_eval(p: argparse.ArgumentParser, augment: bool = True) -> None:
    p.add_argument("--k-shot", type=positive_int, default=None, help="support clips per category (default 3)")
    p.add_argument("--epochs", type=positive_int, default=None, help="encoder training epochs (default 101)")
    p.add_argument("--iters-per-epoch", type=positive_int, default=None, help="batches per epoch (default 52)")
    p.add_argument("--pooling", choices=("joint", "node"), default=None,
                   help="encoder pooling: per-joint max (default, reference code) or max over joints")
    p.add_argument("--rotate", action="store_true",
                   help="augment encoder training with random rotation about the vertical axis")
    p.add_argument("--crop", choices=("first", "resample"), default=None,
                   help="window: first 60 frames with last-frame padding (protocol) or resample to 60")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    if not augment:
        return
    g = p.add_argument_group("generative augmentation")
    g.add_argument("--generator", type=Path, default=None, help="generator checkpoint (haad train-generator)")
    g.add_argument("--augment", choices=("none", "train", "support", "both"), default=None,
                   help="use generated variants as training positives, support clips, or both")
    g.add_argument("--n-gen", type=positive_int, default=None, help="variants per clip for training and support (default 1)")
    g.add_argument("--n-gen-train", type=positive_int, default=None, help="variants per training clip (overrides --n-gen)")
    g.add_argument("--n-gen-support", type=positive_int, default=None, help="variants per support clip (overrides --n-gen)")
    g.add_argument("--n-obs", type=positive_int, default=None, help="observed frames; 60 - N are generated (default 30)")
    g.add_argument("--keep-padding", action="store_true",
                   help="variants of clips shorter than the window keep the clip's last-frame padding")
    g.add_argument("--gen-steps", type=positive_int, default=None,
                   help="DDIM steps (default 20: within seed noise of the paper's 100, 5x cheaper)")
    g.add_argument("--select-from", type=positive_int, default=None,
                   help="training-time: generate N candidates per variant and keep those --judge places most "
                        "firmly in their clip's category (default 1: keep all)")
    g.add_argument("--completion", choices=("generator", "hold"), default=None,
                   help="how variants complete the first --n-obs frames: the generator (default) or "
                        "holding the last observed frame (the no-generator control)")
    g.add_argument("--judge", type=Path, default=None,
                   help="encoder trained without generative augmentation (a checkpoint, or a directory of "
                        "seed-S checkpoints such as an evaluate run's encoders/), for --select-from")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="haad", description="Few-shot skeleton-based human action anomaly detection.")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="train a small encoder on the embedded synthetic data and print the table")
    p.add_argument("--seeds", type=positive_int, default=None, help="number of seeds (default 2)")
    p.add_argument("--epochs", type=positive_int, default=None, help="encoder training epochs (default 25)")
    p.add_argument("--clips-per-class", type=positive_int, default=None, help="synthetic clips per action (default 40)")
    p.add_argument("--out", type=Path, default=None, help="also write results.json files here")
    p.add_argument("--quiet", action="store_true", help="no progress bars")

    p = sub.add_parser("evaluate", help="run the evaluation protocol on a dataset")
    p.add_argument("--dataset", required=True,
                   help="utd-mhad, nw-ucla, humanact12, synthetic, or a path (.npz, .pkl, folder)")
    p.add_argument("--data-dir", type=Path, default=None, help="where named datasets live (default $HAAD_DATA_DIR)")
    p.add_argument("--method", choices=("fewshot", "dct-distance"), default=None, help="(default fewshot)")
    p.add_argument("--seeds", type=positive_int, default=None, help="number of seeds 0..N-1 (default 10)")
    p.add_argument("--first-seed", type=non_negative_int, default=0,
                   help="run seeds F..F+N-1 instead (to extend a run; join the parts with haad merge-results)")
    p.add_argument("--encoder", type=Path, default=None, help="use this trained encoder instead of training")
    p.add_argument("--out", type=Path, required=True, help="output directory (results.json, encoders)")
    _add_common_eval(p)

    p = sub.add_parser("benchmark", help="compare methods under the protocol; writes table.md and table.json")
    p.add_argument("--dataset", required=True)
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--methods", default="fewshot,multilevel-nf,stg-nf,mocodad,dct-distance",
                   help="comma-separated: fewshot, dct-distance and the baselines")
    p.add_argument("--seeds", type=positive_int, default=None, help="seeds for fewshot and dct-distance (default 10)")
    p.add_argument("--baseline-seeds", type=positive_int, default=None,
                   help="seeds for one-model-per-category methods (default 3)")
    p.add_argument("--baseline-epochs", type=positive_int, default=None, help="override the baselines' training epochs")
    p.add_argument("--out", type=Path, required=True)
    _add_common_eval(p)

    p = sub.add_parser("merge-results", help="join results.json files of one evaluation run over disjoint seeds")
    p.add_argument("parts", nargs="+", type=Path, help="results.json files (or their directories)")
    p.add_argument("--out", type=Path, required=True,
                   help="output directory for the merged results.json (may be one of the parts' own)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing OUT/results.json that is not one of the parts")

    p = sub.add_parser("train-generator", help="train the DCT diffusion generator on the seen categories")
    p.add_argument("--dataset", required=True)
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--preset", choices=("paper", "cpu"), default=None, help="denoiser size (default cpu)")
    p.add_argument("--iterations", type=positive_int, default=None, help="optimiser steps (default: the config's)")
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--n-obs", type=positive_int_list, default=None,
                   help="observed frames O of the training condition (default 30); a comma-separated list "
                        "(e.g. 10,20,30,40,50) draws one per window, so one generator serves every O")
    p.add_argument("--device", default=None)
    p.add_argument("--out", type=Path, required=True, help="checkpoint directory (resumed if present)")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("train", help="train one encoder on a dataset's seen categories and save it")
    p.add_argument("--dataset", required=True)
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--seed", type=int, default=None, help="(default 0)")
    p.add_argument("--out", type=Path, required=True, help="checkpoint directory")
    _add_common_eval(p, augment=False)

    p = sub.add_parser("detect", help="fit a detector on support clips and score clips (or long streams)")
    p.add_argument("--input", required=True, help="clips to score: a dataset name or path (.npz, ...)")
    p.add_argument("--data-dir", type=Path, default=None)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--detector", type=Path, help="a saved detector (haad detect --save)")
    src.add_argument("--support", help="support clips: a dataset name or path; with --category, only that category")
    p.add_argument("--category", default=None, help="normal category name in --support")
    p.add_argument("--k-shot", type=positive_int, default=None, help="use only the first K support clips")
    p.add_argument("--encoder", type=Path, default=None, help="trained encoder (default: dct-distance embedding)")
    p.add_argument("--threshold-quantile", type=float, default=None,
                   help="threshold = this quantile of the support set's leave-one-out scores (default 1.0)")
    p.add_argument("--alpha", type=probability, default=None,
                   help="flag clips whose conformal p-value is <= ALPHA instead of using the threshold: on average "
                        "over support sets, at most a share ALPHA of normal clips recorded like the support ones "
                        "is flagged (needs K >= 2 and ALPHA >= 1/(K+1))")
    p.add_argument("--stream", action="store_true", help="treat each input clip as a long recording: sliding windows")
    p.add_argument("--hop", type=positive_int, default=None, help="frames between window starts with --stream")
    p.add_argument("--explain", type=int, default=0, metavar="N", help="also list the N joints that weigh most")
    p.add_argument("--explain-method", choices=("occlusion", "embedding"), default=None,
                   help="occlusion (default: the score drop when a joint moves like in the nearest support clip) or "
                        "embedding (the distance split over per-joint embedding dimensions; detectors saved before "
                        "support windows were kept)")
    p.add_argument("--save", type=Path, default=None, help="save the fitted detector here")
    p.add_argument("--out", type=Path, required=True, help="CSV of scores")
    g = p.add_argument_group("support augmentation (with --support)")
    g.add_argument("--generator", type=Path, default=None,
                   help="add generated variants of the support clips to the support set (haad train-generator)")
    g.add_argument("--n-gen", type=positive_int, default=None, help="variants per support clip (default 1)")
    g.add_argument("--n-obs", type=positive_int, default=None, help="observed frames; 60 - N are generated (default 30)")
    g.add_argument("--gen-steps", type=positive_int, default=None, help="DDIM steps (default 20)")
    g.add_argument("--gen-seed", type=non_negative_int, default=None, help="seed of the generation noise (default 0)")
    g.add_argument("--quiet", action="store_true", help="no progress bar while generating")

    p = sub.add_parser("data", help="dataset utilities")
    dsub = p.add_subparsers(dest="data_command", required=True)
    q = dsub.add_parser("convert", help="write any supported source as the documented .npz format")
    q.add_argument("source", help="dataset name or path")
    q.add_argument("output", type=Path, help="output .npz path")
    q.add_argument("--data-dir", type=Path, default=None)
    q.add_argument("--force", action="store_true", help="overwrite an existing output file")
    q = dsub.add_parser("info", help="summarise a dataset and its protocol split")
    q.add_argument("source")
    q.add_argument("--data-dir", type=Path, default=None)
    return ap


def _given(args, *names) -> dict:
    """The options the user gave (argparse default None), by dataclass field name: the config
    dataclasses hold every default."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def _eval_config(args, seeds, method: str = "fewshot"):
    from haad.evaluation.augmentation import AugmentConfig
    from haad.evaluation.config import EvalConfig
    from haad.data.windows import WindowConfig

    base = EvalConfig()
    train = base.train.with_epochs(args.epochs) if args.epochs is not None else base.train
    train = replace(train, **_given(args, "iters_per_epoch"), **({"rotate": True} if args.rotate else {}))
    aug = _given(args, "augment", "n_obs", "select_from", "completion")
    if getattr(args, "gen_steps", None) is not None:
        aug["steps"] = args.gen_steps
    for name in ("generator", "judge"):
        if getattr(args, name, None) is not None:
            aug[name] = str(getattr(args, name))
    if getattr(args, "keep_padding", False):
        aug["keep_padding"] = True
    if "augment" in aug:
        aug["mode"] = aug.pop("augment")
    n_gen = getattr(args, "n_gen", None)
    for name in ("n_gen_train", "n_gen_support"):
        value = getattr(args, name, None)
        if value is not None or n_gen is not None:
            aug[name] = value if value is not None else n_gen
    window = WindowConfig(**_given(args, "crop"))
    return replace(base, method=method, seeds=tuple(seeds), window=window, train=train,
                   augment=AugmentConfig(**aug), **_given(args, "k_shot", "pooling"))


def _seeds(count: int | None, first: int = 0) -> range:
    """Seeds first..first+count-1 (count: the config's default number of seeds when not given)."""
    from haad.evaluation.config import EvalConfig

    return range(first, first + (count if count is not None else len(EvalConfig().seeds)))


def _write_results(out: Path, res: dict, name: str = "results.json") -> Path:
    from haad.storage import atomic_write_json

    atomic_write_json(out / name, res)
    return out / name


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cmd_evaluate(args) -> int:
    from haad.data import load_dataset
    from haad.evaluation.config import EvalConfig
    from haad.evaluation.protocol import evaluate
    from haad.evaluation.report import format_results

    data = load_dataset(args.dataset, args.data_dir)
    cfg = _eval_config(args, _seeds(args.seeds, args.first_seed), args.method or EvalConfig.method)
    res = evaluate(data, cfg, encoder_dir=args.encoder, out_dir=args.out, progress=not args.quiet,
                   log=None if args.quiet else _log)
    print(format_results(res))
    print(f"results written to {_write_results(args.out, res)}")
    return 0


def cmd_merge_results(args) -> int:
    from haad.evaluation.merge import generator_note, load_results, merge_results
    from haad.evaluation.report import format_results

    target = args.out / "results.json"
    parts = [load_results(p) for p in args.parts]  # all read before anything is written
    if target.exists() and not args.force and all(Path(p["_path"]).resolve() != target.resolve() for p in parts):
        raise ValueError(f"{target} exists and is not one of the parts; merging would replace it "
                         "(add it as a part, or pass --force)")
    res = merge_results(parts)
    note = generator_note(res)
    if note:
        _log(note)
    print(format_results(res))
    print(f"merged seeds {res['seeds']} written to {_write_results(args.out, res)}")
    return 0


def cmd_benchmark(args) -> int:
    from haad.baselines import BASELINES
    from haad.data import load_dataset
    from haad.evaluation.benchmark import BaselineEvalConfig, run_benchmark
    from haad.evaluation.config import METHODS

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS and m not in BASELINES]
    if unknown or not methods:
        raise ValueError(f"unknown method(s) {unknown}; choose from {sorted(METHODS + tuple(BASELINES))}")
    data = load_dataset(args.dataset, args.data_dir)
    overrides = {"epochs": args.baseline_epochs} if args.baseline_epochs is not None else None
    configs = [_eval_config(args, _seeds(args.seeds), m) if m in METHODS
               else BaselineEvalConfig(m, config=overrides, **({"seeds": tuple(range(args.baseline_seeds))}
                                                            if args.baseline_seeds is not None else {}))
               for m in methods]

    def report(res: dict) -> None:
        print(f"{res['method']}: mean {res['mean']:.3f}  seen {res['seen_mean']:.3f}  "
              f"unseen {res['unseen_mean']:.3f}", flush=True)

    _, md = run_benchmark(data, configs, args.out, progress=not args.quiet, log=None if args.quiet else _log,
                          on_result=report)
    print(md)
    print(f"table written to {args.out / 'table.md'} and {args.out / 'table.json'}")
    return 0


def cmd_detect(args) -> int:
    from haad.data import load_dataset
    from haad.detector import FewShotDetector, check_alpha
    from haad.embedders import DCTEmbedder, EncoderEmbedder
    from haad.generator.bank import GenerationSettings
    from haad.inference import ScoreConfig, SupportConfig, fit_detector, score_rows, support_indices, write_csv
    from haad.train import load_encoder

    gen_opts = {"--n-gen": args.n_gen, "--n-obs": args.n_obs, "--gen-steps": args.gen_steps, "--gen-seed": args.gen_seed}
    if args.generator is None and any(v is not None for v in gen_opts.values()):
        given = [k for k, v in gen_opts.items() if v is not None]
        raise ValueError(f"{', '.join(given)} only apply with --generator")
    if args.explain_method is not None and not args.explain:
        raise ValueError("--explain-method only applies with --explain N")
    if args.explain < 0:
        raise ValueError(f"--explain {args.explain}: expected a number of joints >= 0")
    score = ScoreConfig(stream=args.stream, **_given(args, "hop", "alpha", "explain", "explain_method"))
    data = load_dataset(args.input, args.data_dir)
    if args.detector is not None:
        if args.generator is not None:
            raise ValueError("--generator augments a new support set: use it with --support, not --detector")
        det = FewShotDetector.load(args.detector)
        if args.alpha is not None:
            check_alpha(args.alpha, det.n_real_support_, "--alpha")
    else:
        sup = load_dataset(args.support, args.data_dir)
        generation = GenerationSettings(**{k: v for k, v in (("n_variants", args.n_gen), ("n_obs", args.n_obs),
                                                             ("steps", args.gen_steps)) if v is not None})
        support = SupportConfig(**_given(args, "category", "k_shot", "threshold_quantile"), generation=generation,
                                **({"generation_seed": args.gen_seed} if args.gen_seed is not None else {}))
        if sup.layout.num_joints != data.layout.num_joints:
            raise ValueError(f"{args.input}: {data.layout.num_joints} joints, the support clips have "
                             f"{sup.layout.num_joints}")
        if args.alpha is not None:  # refused before anything is generated, fitted or saved
            check_alpha(args.alpha, len(support_indices(sup, support, str(args.support))), "--alpha")
        embedder = EncoderEmbedder(load_encoder(args.encoder)[0]) if args.encoder else DCTEmbedder()
        det = fit_detector(sup, embedder, support, args.generator, name=str(args.support), progress=not args.quiet)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = score_rows(det, data, score, name=str(args.input))
    for w in caught:
        print(f"haad: warning: {w.message}", file=sys.stderr)
    # Written last, once everything has been computed: a failed run replaces nothing.
    write_csv(rows, args.out)
    if args.save is not None:
        det.save(args.save)
    flagged = sum(r["anomalous"] for r in rows)
    rule = f"p-value <= {args.alpha}" if args.alpha is not None else f"above the threshold {det.threshold_:.4f}"
    print(f"scored {len(rows)} {'windows' if args.stream else 'clips'} against {len(det.support_embeddings_)} "
          f"support embeddings; {flagged} {rule}; written to {args.out}")
    return 0


def cmd_train_generator(args) -> int:
    from haad.data import load_dataset
    from haad.generator.provenance import train_generator_on_seen
    from haad.generator.train import GeneratorTrainConfig

    data = load_dataset(args.dataset, args.data_dir)
    cfg = GeneratorTrainConfig(**_given(args, "preset", "seed", "device", "iterations", "batch_size"))
    if args.n_obs is not None:
        cfg = replace(cfg, n_obs=args.n_obs[0]) if len(args.n_obs) == 1 else replace(cfg, n_obs_choices=args.n_obs)
    path, n_windows, n_seen = train_generator_on_seen(data, cfg, args.out, progress=not args.quiet)
    print(f"generator ({cfg.preset} preset) trained on {n_windows} windows of {n_seen} seen categories; "
          f"checkpoint in {path}")
    return 0


def cmd_train(args) -> int:
    from haad.data import load_dataset
    from haad.data.splits import protocol_split
    from haad.data.windows import make_windows
    from haad.evaluation.methods import train_seen_encoder
    from haad.train import TrainConfig

    data = load_dataset(args.dataset, args.data_dir)
    seed = args.seed if args.seed is not None else TrainConfig.seed
    cfg = _eval_config(args, [seed])
    split = protocol_split(data, cfg.train_fraction)
    idx = split.seen_train()
    windows = make_windows([data.clips[i] for i in idx], data.layout.root, cfg.window)
    _, hist = train_seen_encoder(data, split, windows, cfg, seed, args.out, progress=not args.quiet)
    print(f"encoder trained on {len(idx)} clips of {len(split.seen)} seen categories in "
          f"{hist['seconds']:.1f} s; final loss {hist['loss'][-1]:.4f}; saved to {args.out}")
    return 0


def cmd_demo(args) -> int:
    from haad.demo import DemoConfig, run_demo
    from haad.evaluation.report import format_results

    data, ours, floor = run_demo(DemoConfig(**_given(args, "seeds", "epochs", "clips_per_class")),
                                 progress=not args.quiet, log=None if args.quiet else _log)
    print(data.summary())
    print(format_results(ours))
    print()
    for label, res in (("no-learning floor (dct-distance)", floor), ("few-shot encoder", ours)):
        print(f"{label:<32}: mean {res['mean']:.3f}  seen {res['seen_mean']:.3f}  unseen {res['unseen_mean']:.3f}")
    if args.out is not None:
        _write_results(args.out, ours)
        _write_results(args.out, floor, "results-dct-distance.json")
    return 0


def cmd_data(args) -> int:
    from haad.data import load_dataset, save_npz
    from haad.data.splits import protocol_split

    data = load_dataset(args.source, args.data_dir)
    if args.data_command == "convert":
        if args.output.exists() and not args.force:
            print(f"haad: error: {args.output} exists; pass --force to overwrite it", file=sys.stderr)
            return 2
        save_npz(data, args.output)
        print(f"{data.summary()}\nwritten to {args.output}")
        return 0
    split = protocol_split(data)
    print(data.summary())
    counts = np.bincount(data.labels, minlength=data.num_classes)
    for c, name in enumerate(data.class_names):
        tag = "unseen" if c in split.unseen else "seen"
        print(f"  {c:3d} {name:<32} {tag:6} clips {counts[c]:4d}  train pool {len(split.train_pools[c]):4d}")
    print(f"pooled test set: {len(split.test)} clips")
    return 0


def _check_outputs(args) -> None:
    """Refuse unusable output paths before any work is done (and before anything is written)."""
    out = getattr(args, "output", None) if args.command == "data" else getattr(args, "out", None)
    if out is None:
        return
    wants_file = args.command in ("detect", "data")
    if wants_file and out.is_dir():
        raise ValueError(f"{out} is a directory; give a file path")
    if not wants_file and out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is an existing file; give a directory")


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"demo": cmd_demo, "evaluate": cmd_evaluate, "benchmark": cmd_benchmark, "detect": cmd_detect, "train-generator": cmd_train_generator, "train": cmd_train, "data": cmd_data,
                "merge-results": cmd_merge_results}
    try:
        _check_outputs(args)
        return handlers[args.command](args)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        # Expected user errors (missing data, bad files, bad options): one clear line, no traceback.
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"haad: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
