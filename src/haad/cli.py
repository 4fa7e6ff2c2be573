"""The ``haad`` command line: a thin layer over the Python API.

Commands: ``demo``, ``evaluate``, ``benchmark``, ``train``, ``train-generator``, ``detect``, ``data convert``, ``data info``.
Tables and results go to stdout and to files named by the user; progress bars go to stderr
(``--quiet`` turns them off).
"""

from __future__ import annotations

import argparse
import json
import sys
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
    p.add_argument("--k-shot", type=positive_int, default=3, help="support clips per category (default 3)")
    p.add_argument("--epochs", type=positive_int, default=None, help="encoder training epochs (default 101)")
    p.add_argument("--iters-per-epoch", type=positive_int, default=None, help="batches per epoch (default 52)")
    p.add_argument("--pooling", choices=("joint", "node"), default="joint",
                   help="encoder pooling: per-joint max (default, reference code) or max over joints")
    p.add_argument("--rotate", action="store_true",
                   help="augment encoder training with random rotation about the vertical axis")
    p.add_argument("--crop", choices=("first", "resample"), default="first",
                   help="window: first 60 frames with last-frame padding (protocol) or resample to 60")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    if not augment:
        return
    g = p.add_argument_group("generative augmentation")
    g.add_argument("--generator", type=Path, default=None, help="generator checkpoint (haad train-generator)")
    g.add_argument("--augment", choices=("none", "train", "support", "both"), default="none",
                   help="use generated variants as training positives, support clips, or both")
    g.add_argument("--n-gen", type=positive_int, default=None, help="variants per clip for training and support (default 1)")
    g.add_argument("--n-gen-train", type=positive_int, default=None, help="variants per training clip (overrides --n-gen)")
    g.add_argument("--n-gen-support", type=positive_int, default=None, help="variants per support clip (overrides --n-gen)")
    g.add_argument("--n-obs", type=positive_int, default=30, help="observed frames; 60 - N are generated (default 30)")
    g.add_argument("--keep-padding", action="store_true",
                   help="variants of clips shorter than the window keep the clip's last-frame padding")
    g.add_argument("--gen-steps", type=positive_int, default=20,
                   help="DDIM steps (default 20: within seed noise of the paper's 100, 5x cheaper)")
    g.add_argument("--select-from", type=positive_int, default=1,
                   help="training-time: generate N candidates per variant and keep those --judge places most "
                        "firmly in their clip's category (default 1: keep all)")
    g.add_argument("--completion", choices=("generator", "hold"), default="generator",
                   help="how variants complete the first --n-obs frames: the generator (default) or "
                        "holding the last observed frame (the no-generator control)")
    g.add_argument("--judge", type=Path, default=None,
                   help="encoder trained without generative augmentation (a checkpoint, or a directory of "
                        "seed-S checkpoints such as an evaluate run's encoders/), for --select-from")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="haad", description="Few-shot skeleton-based human action anomaly detection.")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="train a small encoder on the embedded synthetic data and print the table")
    p.add_argument("--seeds", type=positive_int, default=2, help="number of seeds (default 2)")
    p.add_argument("--epochs", type=positive_int, default=25, help="encoder training epochs (default 25)")
    p.add_argument("--clips-per-class", type=positive_int, default=40, help="synthetic clips per action (default 40)")
    p.add_argument("--out", type=Path, default=None, help="also write results.json files here")
    p.add_argument("--quiet", action="store_true", help="no progress bars")

    p = sub.add_parser("evaluate", help="run the evaluation protocol on a dataset")
    p.add_argument("--dataset", required=True,
                   help="utd-mhad, nw-ucla, humanact12, synthetic, or a path (.npz, .pkl, folder)")
    p.add_argument("--data-dir", type=Path, default=None, help="where named datasets live (default $HAAD_DATA_DIR)")
    p.add_argument("--method", choices=("fewshot", "dct-distance"), default="fewshot")
    p.add_argument("--seeds", type=positive_int, default=10, help="number of seeds 0..N-1 (default 10)")
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
    p.add_argument("--seeds", type=positive_int, default=10, help="seeds for fewshot and dct-distance (default 10)")
    p.add_argument("--baseline-seeds", type=positive_int, default=3, help="seeds for one-model-per-category methods")
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
    p.add_argument("--preset", choices=("paper", "cpu"), default="cpu", help="denoiser size (default cpu)")
    p.add_argument("--iterations", type=positive_int, default=None, help="optimiser steps (default: the config's)")
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-obs", type=positive_int_list, default=None,
                   help="observed frames O of the training condition (default 30); a comma-separated list "
                        "(e.g. 10,20,30,40,50) draws one per window, so one generator serves every O")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, required=True, help="checkpoint directory (resumed if present)")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("train", help="train one encoder on a dataset's seen categories and save it")
    p.add_argument("--dataset", required=True)
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--seed", type=int, default=0)
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
    p.add_argument("--threshold-quantile", type=float, default=1.0,
                   help="threshold = this quantile of the support set's leave-one-out scores (default 1.0)")
    p.add_argument("--alpha", type=probability, default=None,
                   help="flag clips whose conformal p-value is <= ALPHA instead of using the threshold: on average "
                        "over support sets, at most a share ALPHA of normal clips recorded like the support ones "
                        "is flagged (needs K >= 2 and ALPHA >= 1/(K+1))")
    p.add_argument("--stream", action="store_true", help="treat each input clip as a long recording: sliding windows")
    p.add_argument("--hop", type=positive_int, default=10, help="frames between window starts with --stream")
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


def _eval_config(args, seeds, method="fewshot"):
    from haad.data.windows import WindowConfig
    from haad.evaluation.protocol import EvalConfig
    from haad.train import TrainConfig

    train = TrainConfig()
    if args.epochs is not None:
        train = replace(train, epochs=args.epochs, lr_fix_epochs=min(train.lr_fix_epochs, max(args.epochs - 1, 0)))
    if getattr(args, "iters_per_epoch", None) is not None:
        train = replace(train, iters_per_epoch=args.iters_per_epoch)
    if getattr(args, "rotate", False):
        train = replace(train, rotate=True)
    from haad.evaluation.augmentation import AugmentConfig

    def pick(name, default):
        value = getattr(args, name, None)
        return default if value is None else value

    n_gen = pick("n_gen", 1)
    augment = AugmentConfig(
        mode=getattr(args, "augment", "none"),
        generator=str(args.generator) if getattr(args, "generator", None) else None,
        n_gen_train=pick("n_gen_train", n_gen),
        n_gen_support=pick("n_gen_support", n_gen),
        n_obs=getattr(args, "n_obs", 30), steps=getattr(args, "gen_steps", 100),
        keep_padding=getattr(args, "keep_padding", False),
        select_from=getattr(args, "select_from", 1),
        completion=getattr(args, "completion", "generator"),
        judge=str(args.judge) if getattr(args, "judge", None) else None)
    return EvalConfig(method=method, seeds=tuple(seeds), k_shot=getattr(args, "k_shot", 3),
                      window=WindowConfig(crop=getattr(args, "crop", "first")),
                      pooling=getattr(args, "pooling", "joint"), train=train, augment=augment)


def _write_results(out: Path, res: dict, name: str = "results.json") -> Path:
    from haad.storage import atomic_write_json

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / name, res)
    return out / name


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cmd_evaluate(args) -> int:
    from haad.data import load_dataset
    from haad.evaluation.protocol import evaluate
    from haad.evaluation.report import format_results

    data = load_dataset(args.dataset, args.data_dir)
    cfg = _eval_config(args, range(args.first_seed, args.first_seed + args.seeds), args.method)
    res = evaluate(data, cfg, encoder_dir=args.encoder, out_dir=args.out, progress=not args.quiet,
                   log=None if args.quiet else _log)
    print(format_results(res))
    path = _write_results(args.out, res)
    print(f"results written to {path}")
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
    path = _write_results(args.out, res)
    print(f"merged seeds {res['seeds']} written to {path}")
    return 0


def _reusable(path: Path, dataset: str, seeds: list, options: dict):
    """A finished results file for the same dataset, seeds and options, else None."""
    if not path.is_file():
        return None
    try:
        res = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    if res.get("dataset") != dataset or res.get("seeds") != seeds:
        return None
    if res.get("options") != json.loads(json.dumps(options)):
        return None
    return res


def cmd_benchmark(args) -> int:
    from haad.baselines import BASELINES
    from haad.storage import atomic_write_bytes
    from haad.data import load_dataset
    from haad.evaluation.compare import comparison_table, table_markdown
    from haad.evaluation.per_category import baseline_options, evaluate_per_category
    from haad.evaluation.protocol import METHODS, evaluate

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS and m not in BASELINES]
    if unknown or not methods:
        raise ValueError(f"unknown method(s) {unknown}; choose from {sorted(METHODS + tuple(BASELINES))}")
    data = load_dataset(args.dataset, args.data_dir)
    log = None if args.quiet else _log
    results = []
    for m in methods:
        method_dir = args.out / m
        if m in METHODS:
            cfg = _eval_config(args, range(args.seeds), m)
            seeds, options = list(cfg.seeds), cfg.options()
        else:
            base_cfg = {"epochs": args.baseline_epochs} if args.baseline_epochs is not None else None
            seeds, options = list(range(args.baseline_seeds)), baseline_options(base_cfg)
        res = _reusable(method_dir / "results.json", data.source, seeds, options)
        if res is not None:
            if log:
                log(f"{m}: reusing {method_dir / 'results.json'} (same dataset, seeds and options)")
        elif m in METHODS:
            res = evaluate(data, cfg, out_dir=method_dir, progress=not args.quiet, log=log)
        else:
            res = evaluate_per_category(data, m, seeds=seeds, config=base_cfg, progress=not args.quiet, log=log)
        _write_results(method_dir, res)
        results.append(res)
        print(f"{m}: mean {res['mean']:.3f}  seen {res['seen_mean']:.3f}  unseen {res['unseen_mean']:.3f}",
              flush=True)
    table = comparison_table(results)
    md = table_markdown(table)
    _write_results(args.out, table, "table.json")
    atomic_write_bytes(args.out / "table.md", md.encode())
    print(md)
    print(f"table written to {args.out / 'table.md'} and {args.out / 'table.json'}")
    return 0


def cmd_detect(args) -> int:
    import csv
    import io

    from haad.storage import atomic_write_bytes
    from haad.data import load_dataset
    from haad.detector import DCTEmbedder, EncoderEmbedder, FewShotDetector, check_alpha
    from haad.train import load_encoder

    gen_opts = {"--n-gen": args.n_gen, "--n-obs": args.n_obs, "--gen-steps": args.gen_steps, "--gen-seed": args.gen_seed}
    if args.generator is None and any(v is not None for v in gen_opts.values()):
        given = [k for k, v in gen_opts.items() if v is not None]
        raise ValueError(f"{', '.join(given)} only apply with --generator")
    if args.explain_method is not None and not args.explain:
        raise ValueError("--explain-method only applies with --explain N")
    if args.explain < 0:
        raise ValueError(f"--explain {args.explain}: expected a number of joints >= 0")
    data = load_dataset(args.input, args.data_dir)

    def check_input(layout) -> None:
        if data.layout.num_joints != layout.num_joints:
            raise ValueError(f"{args.input}: {data.layout.num_joints} joints, the detector expects {layout.num_joints}")

    if args.detector is not None:
        if args.generator is not None:
            raise ValueError("--generator augments a new support set: use it with --support, not --detector")
        det = FewShotDetector.load(args.detector)
        check_input(det.layout)
        if args.alpha is not None:
            check_alpha(args.alpha, det.n_real_support_, "--alpha")
    else:
        sup = load_dataset(args.support, args.data_dir)
        idx = np.arange(len(sup))
        if args.category is not None:
            if args.category not in sup.class_names:
                raise ValueError(f"--category {args.category!r} not in {args.support}: {sup.class_names}")
            idx = np.flatnonzero(sup.labels == sup.class_names.index(args.category))
        if args.k_shot is not None:
            idx = idx[: args.k_shot]
        # Everything that can be refused is checked before generating, fitting or saving anything.
        check_input(sup.layout)
        if args.alpha is not None:
            check_alpha(args.alpha, len(idx), "--alpha")
        embedder = EncoderEmbedder(load_encoder(args.encoder)[0]) if args.encoder else DCTEmbedder()
        det = FewShotDetector(embedder, sup.layout, threshold_quantile=args.threshold_quantile)
        support = [sup.clips[i] for i in idx]
        extra = None
        if args.generator is not None:
            from haad.generator.bank import GenerationSettings
            from haad.generator.support import support_variants

            settings = GenerationSettings(n_variants=args.n_gen or 1, n_obs=args.n_obs or 30,
                                          steps=args.gen_steps or 20)
            if settings.n_obs >= det.window.length:
                raise ValueError(f"--n-obs {settings.n_obs}: must be below the window's {det.window.length} frames")
            extra, det.provenance = support_variants(args.generator, det, support, settings, args.gen_seed or 0,
                                                     progress=not args.quiet)
            det.provenance.update(support=str(args.support), category=args.category)
        det.fit(support, augment=extra)
        if args.save is not None:
            det.save(args.save)
    explain_method = args.explain_method or "occlusion"
    if args.explain and explain_method == "occlusion" and det.support_windows_ is None:
        print(f"haad: warning: {args.detector} was saved before detectors kept their support windows; "
              "--explain falls back to --explain-method embedding (refit with --support for occlusion)",
              file=sys.stderr)
        explain_method = "embedding"
    if len(data.clips) == 0:
        raise ValueError(f"{args.input}: no clips to score")
    # Every window of every clip is scored (and explained) in one batch: per-clip calls cost far more.
    owners, starts, windows = [], [], []
    for i, clip in enumerate(data.clips):
        st, win = det.stream_windows(clip, args.hop) if args.stream else ([0], [clip])
        owners += [i] * len(st)
        starts += [int(s) for s in st]
        windows += list(win)
    emb = det.embed(windows)
    scores, p_values = det.score_embeddings(emb), det.p_values_embeddings(emb)
    flags = p_values <= args.alpha if args.alpha is not None else scores > det.threshold_
    shares = det.explain(windows, method=explain_method) if args.explain else None
    rows = []
    names = det.layout.joint_names
    for w, (i, start) in enumerate(zip(owners, starts)):
        row = {"clip": data.names[i], "category": data.class_names[data.labels[i]], "start_frame": start,
               "score": f"{scores[w]:.6f}", "p_value": f"{p_values[w]:.6f}", "anomalous": int(flags[w])}
        if shares is not None:
            top = np.argsort(shares[w])[::-1][: args.explain]
            row["top_joints"] = " ".join(f"{names[j]}:{shares[w, j]:.2f}" for j in top)
        rows.append(row)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(args.out, buf.getvalue().encode())
    flagged = sum(r["anomalous"] for r in rows)
    rule = f"p-value <= {args.alpha}" if args.alpha is not None else f"above the threshold {det.threshold_:.4f}"
    print(f"scored {len(rows)} {'windows' if args.stream else 'clips'} against {len(det.support_embeddings_)} "
          f"support embeddings; {flagged} {rule}; written to {args.out}")
    return 0


def cmd_train_generator(args) -> int:
    from haad.data import load_dataset
    from haad.data.splits import protocol_split
    from haad.data.windows import make_windows
    from haad.evaluation.augmentation import write_provenance
    from haad.generator.train import GeneratorTrainConfig, train_generator

    data = load_dataset(args.dataset, args.data_dir)
    split = protocol_split(data)
    idx = split.seen_train()  # seen categories' training pools only: unseen ones must not leak
    windows = make_windows([data.clips[i] for i in idx], data.layout.root)
    cfg = GeneratorTrainConfig(preset=args.preset, seed=args.seed, device=args.device)
    if args.iterations is not None:
        cfg = replace(cfg, iterations=args.iterations)
    if args.batch_size is not None:
        cfg = replace(cfg, batch_size=args.batch_size)
    if args.n_obs is not None:
        if max(args.n_obs) >= windows.shape[1]:
            raise ValueError(f"--n-obs {','.join(map(str, args.n_obs))}: every observed length must be below "
                             f"the window length {windows.shape[1]} (some frames must be left to generate)")
        cfg = replace(cfg, n_obs=args.n_obs[0]) if len(args.n_obs) == 1 else replace(cfg, n_obs_choices=args.n_obs)
    path = train_generator(windows, data.layout, cfg, out_dir=args.out, resume=True, progress=not args.quiet)
    write_provenance(path, data, split, idx)
    print(f"generator ({args.preset} preset) trained on {len(idx)} windows of {len(split.seen)} seen "
          f"categories; checkpoint in {path}")
    return 0


def cmd_train(args) -> int:
    from haad.data import load_dataset
    from haad.data.splits import protocol_split
    from haad.data.windows import make_windows
    from haad.encoder import EncoderConfig
    from haad.train import train_encoder

    data = load_dataset(args.dataset, args.data_dir)
    cfg = _eval_config(args, [args.seed])
    split = protocol_split(data, cfg.train_fraction)
    idx = split.seen_train()
    windows = make_windows([data.clips[i] for i in idx], data.layout.root, cfg.window)
    enc_cfg = EncoderConfig(num_joints=data.layout.num_joints, window=cfg.window.length, pooling=cfg.pooling)
    _, hist = train_encoder(windows, data.labels[idx], enc_cfg, replace(cfg.train, seed=args.seed),
                            out_dir=args.out, resume=True, progress=not args.quiet,
                            meta={"dataset": data.source, "window": cfg.window.to_dict(),
                                  "split": split.to_dict(), "layout": data.layout.to_dict()})
    print(f"encoder trained on {len(idx)} clips of {len(split.seen)} seen categories in "
          f"{hist['seconds']:.1f} s; final loss {hist['loss'][-1]:.4f}; saved to {args.out}")
    return 0


def cmd_demo(args) -> int:
    from haad.data.synthetic import synthesize
    from haad.evaluation.protocol import evaluate
    from haad.evaluation.report import format_results

    data = synthesize(clips_per_class=args.clips_per_class, seed=0)
    print(data.summary())
    seeds = range(args.seeds)
    floor = evaluate(data, _eval_config(args, seeds, "dct-distance"), progress=False)
    ours = evaluate(data, _eval_config(args, seeds), progress=not args.quiet, log=None if args.quiet else _log)
    print(format_results(ours))
    print()
    print(f"no-learning floor (dct-distance): mean {floor['mean']:.3f}  seen {floor['seen_mean']:.3f}  "
          f"unseen {floor['unseen_mean']:.3f}")
    print(f"few-shot encoder              : mean {ours['mean']:.3f}  seen {ours['seen_mean']:.3f}  "
          f"unseen {ours['unseen_mean']:.3f}")
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
