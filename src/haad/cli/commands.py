"""The ``haad`` commands: each turns parsed options into library calls and prints what they return."""

from __future__ import annotations

import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np


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
    if getattr(args, "gen_precision", None) is not None:
        aug["precision"] = args.gen_precision
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
    window = WindowConfig(crop=args.crop) if getattr(args, "crop", None) is not None else None
    return replace(base, method=method, seeds=tuple(seeds), window=window, train=train,
                   augment=AugmentConfig(**aug), **_given(args, "k_shot", "pooling", "distance", "turns", "warps"))


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


def _check_category_options(args) -> None:
    """Refuse the options that only the within-category protocols take."""
    from haad.evaluation.within import PROTOCOLS

    if args.method not in (None, "fewshot", "dct-distance", "bone-distance") or args.scale is not None:
        what = "--scale" if args.method in (None, "fewshot", "dct-distance", "bone-distance") else f"--method {args.method}"
        raise ValueError(f"{what} is for the within-category protocols ({', '.join(PROTOCOLS)}), not the "
                         "category protocol (its baselines run with haad benchmark)")


def cmd_evaluate(args) -> int:
    from haad.data import load_dataset
    from haad.storage import claim_output_dir
    from haad.evaluation.config import EvalConfig
    from haad.evaluation.protocol import evaluate, run_config
    from haad.evaluation.report import format_results
    from haad.evaluation.within import DEFAULT_PROTOCOL

    if args.protocol == "category":
        _check_category_options(args)  # before the dataset is loaded
    data = load_dataset(args.dataset, args.data_dir)
    protocol = args.protocol or DEFAULT_PROTOCOL.get(Path(str(data.source)).name, "category")
    seeds = _seeds(args.seeds, args.first_seed)
    if protocol != "category":
        from haad.evaluation.within import WithinConfig, evaluate_within, format_within

        cfg = WithinConfig(protocol, **_given(args, "method", "k_shot", "scale", "distance", "turns", "warps"),
                           seeds=tuple(seeds))
        identity = {"dataset": data.source, "protocol": protocol, "method": cfg.method, "options": cfg.options(),
                    "encoder": args.encoder or "builtin" if cfg.method == "fewshot" else None}
        with claim_output_dir(args.out, identity, force=args.force):
            res = evaluate_within(data, cfg, encoder=args.encoder, log=None if args.quiet else _log)
            print(format_within(res))
            print(f"results written to {_write_results(args.out, res)}")
        return 0
    if args.protocol is None:  # the category protocol by default: checked once the dataset is known
        _check_category_options(args)
    cfg = run_config(_eval_config(args, seeds, args.method or EvalConfig.method), args.encoder)
    identity = {"dataset": data.source, "method": cfg.method, "seeds": list(cfg.seeds), "options": cfg.options(),
                "encoder": args.encoder}
    with claim_output_dir(args.out, identity, force=args.force):
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
    from haad.encoders import resolve_encoder
    from haad.generator.bank import GenerationSettings
    from haad.inference import ScoreConfig, SupportConfig, fit_detector, iter_rows, support_indices, write_csv

    gen_opts = {"--n-gen": args.n_gen, "--n-obs": args.n_obs, "--gen-steps": args.gen_steps, "--gen-seed": args.gen_seed,
                "--gen-precision": args.gen_precision}
    if args.generator is None and any(v is not None for v in gen_opts.values()):
        given = [k for k, v in gen_opts.items() if v is not None]
        raise ValueError(f"{', '.join(given)} only apply with --generator")
    if args.explain_method is not None and not args.explain:
        raise ValueError("--explain-method only applies with --explain N")
    if args.explain < 0:
        raise ValueError(f"--explain {args.explain}: expected a number of joints >= 0")
    if args.report is not None and args.report.is_dir():
        raise ValueError(f"--report {args.report} is a directory; give an HTML file path")
    if args.stream and args.crop == "resample":
        raise ValueError("--crop resample makes one window of each whole clip; --stream needs sliding windows")
    score = ScoreConfig(stream=args.stream, **_given(args, "hop", "alpha", "explain", "explain_method"))
    joint_map = None
    if args.joint_map is not None:
        from haad.canonical import load_joint_map

        joint_map = load_joint_map(args.joint_map)
    data = load_dataset(args.input, args.data_dir)
    if args.detector is not None:
        if any(v is not None for v in (args.generator, args.encoder, args.scale, args.crop, args.distance, args.turns,
                                       args.warps)):
            raise ValueError("--generator, --encoder, --scale, --crop, --distance, --turns and --warps apply to a new "
                             "support set: use them with --support, not --detector")
        det = FewShotDetector.load(args.detector)
        if args.alpha is not None:
            check_alpha(args.alpha, det.n_real_support_, "--alpha")
    else:
        sup = load_dataset(args.support, args.data_dir)
        generation = GenerationSettings(**{k: v for k, v in (("n_variants", args.n_gen), ("n_obs", args.n_obs),
                                                             ("steps", args.gen_steps),
                                                             ("precision", args.gen_precision)) if v is not None})
        from haad.data.windows import WindowConfig

        support = SupportConfig(**_given(args, "category", "k_shot", "threshold_quantile", "scale", "distance", "turns",
                                         "warps"),
                                generation=generation,
                                # the encoder's recorded window unless --crop; a stream slides windows of
                                # fixed length over each recording, cut from its frames
                                window=WindowConfig(crop=args.crop or "first") if args.crop or args.stream else None,
                                **({"generation_seed": args.gen_seed} if args.gen_seed is not None else {}))
        chosen = resolve_encoder(args.encoder)
        if args.save is not None and chosen.header is not None and chosen.encoder is None:  # an ONNX file
            raise ValueError(f"--save: a detector fitted with the ONNX encoder {args.encoder} cannot be saved (a saved "
                             "detector holds torch weights); use the checkpoint it was exported from (or builtin)")
        # Everything that can be refused is refused before anything is generated, fitted or saved.
        if chosen.normalization is None and tuple(sup.layout.joint_names) != tuple(data.layout.joint_names):
            raise ValueError(f"{args.input}: layout {data.layout.name!r} differs from the support clips' "
                             f"{sup.layout.name!r}; encoder {chosen.spec!r} takes one layout (the built-in "
                             "pretrained encoder and bones map any layout)")
        if args.alpha is not None:
            check_alpha(args.alpha, len(support_indices(sup, support, str(args.support))), "--alpha")
        det = fit_detector(sup, chosen, support, args.generator, name=str(args.support), joint_map=joint_map,
                           progress=not args.quiet)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = iter_rows(det, data, score, name=str(args.input), joint_map=joint_map)
        if args.report is not None:
            rows = list(rows)  # the report needs every row; without it they go to disk as they come
        # Into a temporary file that replaces --out only once every row is in: a failed run replaces nothing.
        n_rows, flagged = write_csv(rows, args.out)
    for w in caught:
        print(f"haad: warning: {w.message}", file=sys.stderr)
    if args.save is not None:
        det.save(args.save)
    rule = f"p-value <= {args.alpha}" if args.alpha is not None else f"above the threshold {det.threshold_:.4f}"
    encoder = det.provenance.get("encoder", "saved detector")
    print(f"scored {n_rows} {'windows' if args.stream else 'clips'} by the {det.distance} distance to "
          f"{det.support_summary()} (encoder {encoder}); {flagged} {rule}; written to {args.out}")
    if args.report is not None:
        from haad.report import write_detection_report

        path = write_detection_report(args.report, det, data, rows, score, name=str(args.input), joint_map=joint_map,
                                      max_animations=args.report_animations)
        print(f"report written to {path} ({_size(path)})")
    return 0


def cmd_export(args) -> int:
    from haad.onnx_export import export_onnx

    path = export_onnx(args.encoder, args.out)
    print(f"encoder {args.encoder} exported as {args.format} to {path} ({_size(path)}); "
          f"use it with haad detect --encoder {path}")
    return 0


def cmd_pretrain(args) -> int:
    from haad import distributed
    from haad.pretrain import PretrainConfig, pretrain

    base = PretrainConfig()
    datasets = tuple(d.strip() for d in args.datasets.split(",") if d.strip())
    skip = [k.strip() for k in args.skip.split(",") if k.strip()]
    steps = {"units", "up_axis", "facing", "scale", "center", "handedness", "fps"}
    unknown = sorted(set(skip) - steps)
    if unknown:
        raise ValueError(f"--skip {','.join(unknown)}: unknown normalisation step(s); choose from {sorted(steps)}")
    norm = replace(base.normalization, **{k: (None if k == "fps" else False) for k in skip})
    train = base.train.with_epochs(args.epochs) if args.epochs is not None else base.train
    train = replace(train, **_given(args, "iters_per_epoch", "seed"), **({"rotate": True} if args.rotate else {}))
    per_dataset = args.categories_per_dataset
    if per_dataset is not None and per_dataset < 0:
        raise ValueError(f"--categories-per-dataset {per_dataset}: must be >= 1 (or 0 for every category)")
    windows = {}
    if args.crop is not None:
        windows["window"] = replace(base.window, crop=args.crop)
    if args.train_crops is not None:
        windows["train_crops"] = tuple(c.strip() for c in args.train_crops.split(",") if c.strip())
    cfg = replace(base, datasets=datasets, normalization=norm, train=train, **windows,
                  **({"categories_per_dataset": per_dataset or None} if per_dataset is not None else {}),
                  **({"hybrid": None} if args.no_hybrid else {}))
    # Under torchrun every process joins one training job; only rank 0 writes, exports and prints.
    with distributed.session(args.device or "cpu"):
        _, hist, record = pretrain(cfg, args.out, args.data_dir, progress=not args.quiet, **_given(args, "device"))
        if not distributed.is_main():
            return 0
        clips = sum(d["clips"] for d in record["datasets"])
        ranks = f" by {distributed.world_size()} processes" if distributed.world_size() > 1 else ""
        print(f"encoder pretrained on {clips} clips of {len(record['categories'])} seen categories from "
              f"{len(datasets)} datasets{ranks} in {hist['seconds']:.1f} s; final loss {hist['loss'][-1]:.4f}; "
              f"saved to {args.out}")
        if args.export is not None:
            from haad.encoders import export_encoder

            export_encoder(args.out, args.export)
            print(f"weights exported to {args.export}")
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
    cfg = _eval_config(args, [seed]).resolved()
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

    out = args.out if args.out is not None else Path("haad-demo")
    data, ours, floor = run_demo(DemoConfig(**_given(args, "seeds", "epochs", "clips_per_class")),
                                 progress=not args.quiet, log=None if args.quiet else _log, out_dir=out)
    print(data.summary())
    print(format_results(ours))
    print()
    for label, res in (("no-learning floor (dct-distance)", floor), ("few-shot encoder", ours)):
        print(f"{label:<32}: mean {res['mean']:.3f}  seen {res['seen_mean']:.3f}  unseen {res['unseen_mean']:.3f}")
    _write_results(out, ours)
    _write_results(out, floor, "results-dct-distance.json")
    report = out / "report.html"
    print(f"results in {out}; report written to {report} ({_size(report)})")
    return 0


def _size(path: Path) -> str:
    n = path.stat().st_size
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def cmd_report(args) -> int:
    from haad.report import write_evaluation_report

    path = write_evaluation_report(args.run_dir, args.out)
    print(f"report written to {path} ({_size(path)})")
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
