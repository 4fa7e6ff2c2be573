"""The ``haad`` command line's arguments: every command, its options and their types.

Options the config dataclasses hold a default for default to ``None`` here, so that the
dataclasses stay the one place where defaults live; help texts name them.
"""

from __future__ import annotations

import argparse
from pathlib import Path


TURNS_HELP = ("turn every support window about the vertical axis by plus and minus each of these angles (degrees, "
              "comma-separated, e.g. 15,30) and add the turned windows to the support set (an encoder on the "
              "canonical, normalised skeleton only); none for no turns; default: the encoder's "
              "(15,30,45,60,75,90 for the built-in encoder), else none")
WARPS_HELP = ("time-warp every support window by each of these exponents (comma-separated, e.g. 0.8,1.25: frame "
              "i of H plays the window at time (i/(H-1))^g, so below 1 starts faster and ends slower, above 1 "
              "the other way round) and add the warped windows to the support set; none for no warps; default: "
              "the encoder's (0.7,0.8,1.25,1.4 for the built-in encoder), else none")
GEN_PRECISION_HELP = ("the denoiser's precision while generating: float32 (default) or bfloat16 (faster on CPUs "
                      "with AVX-512 BF16; other variants)")
DISTANCE_HELP = ("score a clip by its mean distance to the support clips (the paper's Eq. 6), by the distance to the "
                 "nearest one (Eq. 6n), or, for the built-in encoder's embedding of parts, by each part's distance to "
                 "its nearest support clip, summed (part-nearest, Eq. 6p); default: the one the encoder records "
                 "(part-nearest for the built-in encoder), else mean")


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


def turn_angles(text: str) -> tuple:
    """``none`` -> (); ``15,30`` -> (-30.0, -15.0, 15.0, 30.0): plus and minus each angle, in order."""
    if text.strip().lower() == "none":
        return ()
    try:
        angles = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected angles in degrees like 15,30 (or none), got {text!r}") from None
    if not angles or not all(0 < a < 360 for a in angles):
        raise argparse.ArgumentTypeError(f"expected angles above 0 and below 360 degrees like 15,30, got {text!r}")
    return tuple(sorted({-a for a in angles} | set(angles)))


def warp_exponents(text: str) -> tuple:
    """``none`` -> (); ``0.8,1.25`` -> (0.8, 1.25): time-warp exponents, each finite and > 0."""
    if text.strip().lower() == "none":
        return ()
    try:
        warps = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected exponents like 0.8,1.25 (or none), got {text!r}") from None
    if not warps or not all(0 < g < float("inf") for g in warps):
        raise argparse.ArgumentTypeError(f"expected finite exponents above 0 like 0.8,1.25, got {text!r}")
    return warps


def positive_int_list(text: str) -> tuple:
    """argparse type: one or more comma-separated integers >= 1 (e.g. ``10,20,30``)."""
    return tuple(positive_int(part.strip()) for part in text.split(","))


def _add_common_eval(p: argparse.ArgumentParser, augment: bool = True) -> None:
    p.add_argument("--k-shot", type=positive_int, default=None, help="support clips per category (default 3)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="encoder training epochs (default 20; the paper's schedule: 101)")
    p.add_argument("--iters-per-epoch", type=positive_int, default=None, help="batches per epoch (default 52)")
    p.add_argument("--pooling", choices=("joint", "node"), default=None,
                   help="encoder pooling: per-joint max (default, reference code) or max over joints")
    p.add_argument("--rotate", action="store_true",
                   help="augment encoder training with random rotation about the vertical axis")
    p.add_argument("--crop", choices=("first", "resample"), default=None,
                   help="window: first 60 frames with last-frame padding (protocol) or resample to 60; default: "
                        "the window --encoder was trained with, else first")
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
    g.add_argument("--gen-precision", choices=("float32", "bfloat16"), default=None, help=GEN_PRECISION_HELP)
    g.add_argument("--select-from", type=positive_int, default=None,
                   help="training-time: generate N candidates per variant and keep those --judge places most "
                        "firmly in their clip's category (default 1: keep all)")
    g.add_argument("--completion", choices=("generator", "hold"), default=None,
                   help="how variants complete the first --n-obs frames: the generator (default) or "
                        "holding the last observed frame (the no-generator control)")
    g.add_argument("--judge", type=Path, default=None,
                   help="encoder trained without generative augmentation (a checkpoint, or a directory of "
                        "seed-S checkpoints such as an evaluate run's encoders/), for --select-from")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every ``haad`` command."""
    ap = argparse.ArgumentParser(prog="haad", description="Few-shot skeleton-based human action anomaly detection.")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="train a small encoder on the embedded synthetic data and print the table")
    p.add_argument("--seeds", type=positive_int, default=None, help="number of seeds (default 2)")
    p.add_argument("--epochs", type=positive_int, default=None, help="encoder training epochs (default 25)")
    p.add_argument("--clips-per-class", type=positive_int, default=None, help="synthetic clips per action (default 40)")
    p.add_argument("--out", type=Path, default=None,
                   help="write results.json, scores.npz and report.html here (default ./haad-demo)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")

    p = sub.add_parser("evaluate", help="run the evaluation protocol on a dataset")
    p.add_argument("--dataset", required=True,
                   help="a dataset name (see haad data info), or a path (.npz, .pkl, folder)")
    p.add_argument("--data-dir", type=Path, default=None, help="where named datasets live (default $HAAD_DATA_DIR)")
    p.add_argument("--method", choices=("fewshot", "dct-distance", "bone-distance", "multilevel-nf", "stg-nf",
                                        "mocodad"), default=None,
                   help="(default fewshot); bone-distance: no learning, bone directions on the canonical skeleton; "
                        "for the within-category protocols also the one-model-per-category baselines (trained on "
                        "each task's support pool; for the category protocol use haad benchmark)")
    p.add_argument("--scale", choices=("none", "pool"), default=None,
                   help="within-category protocols: pool divides every embedding dimension by its spread over the "
                        "task's pool of normal clips before the distance (default none; see docs/METHOD.md)")
    p.add_argument("--distance", choices=("mean", "nearest", "part-nearest"), default=None, help=DISTANCE_HELP)
    p.add_argument("--turns", type=turn_angles, default=None, help=TURNS_HELP)
    p.add_argument("--warps", type=warp_exponents, default=None, help=WARPS_HELP)
    p.add_argument("--seeds", type=positive_int, default=None, help="number of seeds 0..N-1 (default 10)")
    p.add_argument("--first-seed", type=non_negative_int, default=0,
                   help="run seeds F..F+N-1 instead (to extend a run; join the parts with haad merge-results)")
    p.add_argument("--encoder", default=None,
                   help="score with this encoder instead of training one per seed: builtin (the pretrained encoder "
                        "shipped with haad) or an encoder checkpoint directory")
    p.add_argument("--force", action="store_true",
                   help="replace results in --out written by a run with other settings")
    p.add_argument("--protocol", default=None,
                   choices=("category", "ui-prmd-cross-subject", "ui-prmd-personal", "bandai-namco-style",
                            "kinder-gator-population"),
                   help="category (anomaly = another category; the default) or a within-category protocol (the "
                        "default for ui-prmd and bandai-namco; see docs/PROTOCOL.md)")
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

    p = sub.add_parser("report", help="write a self-contained HTML report of an evaluate or benchmark run")
    p.add_argument("run_dir", type=Path, help="the run's --out directory (results.json, scores.npz; or METHOD/ dirs)")
    p.add_argument("--out", type=Path, default=None, help="the HTML file (default RUN_DIR/report.html)")

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

    p = sub.add_parser("pretrain", help="train one encoder on the seen categories of several datasets (any skeleton)")
    p.add_argument("--datasets", required=True,
                   help="comma-separated dataset names, e.g. utd-mhad,nw-ucla,florence3d (synthetic adds the "
                        "embedded synthetic actions)")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--seed", type=int, default=None, help="(default 0)")
    p.add_argument("--epochs", type=positive_int, default=None, help="training epochs (default 20)")
    p.add_argument("--iters-per-epoch", type=positive_int, default=None, help="batches per epoch (default 52)")
    p.add_argument("--rotate", action="store_true", help="random rotation about the vertical axis while training")
    p.add_argument("--skip", default="",
                   help="comma-separated normalisation steps to leave out: units, up_axis, facing, scale, center, "
                        "handedness, fps")
    p.add_argument("--categories-per-dataset", type=int, default=None,
                   help="each batch holds this many categories of every dataset (default 8; 0: every category of "
                        "every dataset), so that datasets with many categories do not crowd out those with few")
    p.add_argument("--crop", choices=("first", "resample"), default=None,
                   help="the encoder's window, recorded with it: the whole clip resampled to 60 frames (default) or "
                        "the first 60 frames")
    p.add_argument("--train-crops", default=None,
                   help="comma-separated crops every training clip is cut with, each window a positive of its "
                        "category (default resample,first: the encoder also serves --stream's sliding windows)")
    p.add_argument("--no-hybrid", action="store_true",
                   help="the encoder's embedding alone, without the no-learning bone-direction and position parts "
                        "beside it (haad.hybrid)")
    p.add_argument("--out", type=Path, required=True, help="checkpoint directory (resumed if unfinished)")
    p.add_argument("--export", type=Path, default=None,
                   help="also write the finished encoder's weights alone (no optimizer state) here, e.g. to ship it")
    p.add_argument("--device", default=None,
                   help="cpu (default) or cuda; under torchrun --nproc_per_node N, rank r uses cuda:r (nccl), or "
                        "N CPU processes share each batch (gloo)")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("detect", help="fit a detector on support clips and score clips (or long streams)")
    p.add_argument("--input", required=True, help="clips to score: a dataset name or path (.npz, ...)")
    p.add_argument("--data-dir", type=Path, default=None)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--detector", type=Path, help="a saved detector (haad detect --save)")
    src.add_argument("--support", help="support clips: a dataset name or path; with --category, only that category")
    p.add_argument("--category", default=None, help="normal category name in --support")
    p.add_argument("--k-shot", type=positive_int, default=None, help="use only the first K support clips")
    p.add_argument("--encoder", default=None,
                   help="builtin (default: the pretrained encoder shipped with haad, any mappable skeleton), dct "
                        "(the no-learning DCT embedding), bones (no learning: bone directions on any mappable "
                        "skeleton; for wrong executions of the right action, best with --scale pool), an encoder "
                        "checkpoint directory, or FILE.onnx (an encoder from haad export, run by onnxruntime; such a "
                        "detector cannot be --save'd)")
    p.add_argument("--scale", choices=("none", "pool"), default=None,
                   help="pool: measure distances in units of normal variation, the spread of every embedding "
                        "dimension over all the --category clips in --support (give more than K: other people's "
                        "correct executions, say), of which the first --k-shot are the support set (default none)")
    p.add_argument("--distance", choices=("mean", "nearest", "part-nearest"), default=None, help=DISTANCE_HELP)
    p.add_argument("--turns", type=turn_angles, default=None, help=TURNS_HELP)
    p.add_argument("--warps", type=warp_exponents, default=None, help=WARPS_HELP)
    p.add_argument("--crop", choices=("first", "resample"), default=None,
                   help="window: the first 60 frames or the whole clip resampled to 60 frames (a whole exercise "
                        "episode, where a wrong execution may show late; not with --stream); default: the window the "
                        "encoder was trained with (the built-in encoder: resample), first with --stream")
    p.add_argument("--joint-map", type=Path, default=None,
                   help="JSON {joint name: canonical joint name} for joint names the pretrained encoder's alias "
                        "table does not know")
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
    p.add_argument("--report", type=Path, default=None,
                   help="also write a self-contained HTML report here: scores against the threshold, p-values, "
                        "animated skeletons beside their nearest support clip (and timelines with --stream)")
    p.add_argument("--report-animations", type=non_negative_int, default=20, metavar="N",
                   help="the report animates at most the N highest-scoring clips or windows (default 20)")
    g = p.add_argument_group("support augmentation (with --support)")
    g.add_argument("--generator", type=Path, default=None,
                   help="add generated variants of the support clips to the support set (haad train-generator)")
    g.add_argument("--n-gen", type=positive_int, default=None, help="variants per support clip (default 1)")
    g.add_argument("--n-obs", type=positive_int, default=None, help="observed frames; 60 - N are generated (default 30)")
    g.add_argument("--gen-steps", type=positive_int, default=None, help="DDIM steps (default 20)")
    g.add_argument("--gen-precision", choices=("float32", "bfloat16"), default=None, help=GEN_PRECISION_HELP)
    g.add_argument("--gen-seed", type=non_negative_int, default=None, help="seed of the generation noise (default 0)")
    g.add_argument("--quiet", action="store_true", help="no progress bar while generating")

    p = sub.add_parser("export", help="export an encoder (a checkpoint directory or builtin) for another runtime")
    p.add_argument("encoder", help="builtin (the pretrained encoder shipped with haad) or an encoder checkpoint directory")
    p.add_argument("--format", choices=("onnx",), default="onnx",
                   help="onnx (default): one .onnx file, dynamic batch axis, the encoder's config and record in its "
                        "metadata; haad detect --encoder FILE.onnx runs it with onnxruntime")
    p.add_argument("--out", type=Path, required=True, help="the output file (FILE.onnx)")

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
