"""The evaluation protocol (docs/PROTOCOL.md): every category as the normal one, for every seed, for
any detector.

One loop, :func:`run_protocol`, runs every method: for a seed s, the method does its per-seed work
(the few-shot method trains its encoder on the seen categories' training pools, seeded by s, and embeds
every window once); then for every category c it fits that category's detector (the few-shot detector
on K support clips drawn from c's training pool with ``numpy.random.default_rng([s, c])``; a baseline
on c's whole training pool), scores the pooled test set, and computes the ROC AUC with
"category != c" as the anomaly label. :func:`evaluate` and :func:`evaluate_baseline` wrap it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from haad.data.collection import Collection
from haad.data.splits import Split, protocol_split
from haad.data.windows import content_lengths, make_windows
from haad.evaluation.augmentation import ProtocolAugmentation, uses_generator
from haad.evaluation.config import METHODS, BaselineEvalConfig, EvalConfig
from haad.evaluation.methods import BaselineMethod, FewShotMethod, ProtocolMethod
from haad.encoders import support_settings
from haad.support_copies import check_upright
from haad.evaluation.metrics import auc, mean_std

__all__ = ["METHODS", "BaselineEvalConfig", "EvalConfig", "evaluate", "evaluate_baseline", "run_protocol",
           "summarize", "summarize_matrix"]


@dataclass
class ProtocolRun:
    """What :func:`run_protocol` measured.

    Attributes:
        aucs: (S, C) AUC per seed and normal category.
        calibration: (S * C, 2), seed-major: the false-positive rate on normal test clips and the
            true-positive rate on anomalous ones of each detector's own ``threshold_``.
        scores: (S, C, N) every detector's scores of the N pooled test clips.
        thresholds: (S, C) each detector's ``threshold_``.
        snapshot: arrays the method keeps of its first seed (the few-shot method: the test clips'
            embeddings and every category's support draw), for reports.
    """

    aucs: np.ndarray
    calibration: np.ndarray
    scores: np.ndarray
    thresholds: np.ndarray
    snapshot: dict


def run_protocol(method: ProtocolMethod, seeds, log=None) -> ProtocolRun:
    """The protocol's seeds x categories loop for any method."""
    data, split = method.data, method.split
    test_labels = data.labels[split.test]
    aucs, calibration, all_scores, thresholds, snapshot = [], [], [], [], {}
    for seed in seeds:
        method.start_seed(int(seed))
        if not snapshot:
            snapshot = method.snapshot()
        row = np.zeros(data.num_classes)
        seed_scores, seed_thresholds = [], []
        for c in range(data.num_classes):
            normal = test_labels == c
            if normal.all() or not normal.any():
                raise ValueError(f"category {data.class_names[c]!r}: the test set has {int(normal.sum())} of its "
                                 f"clips among {len(normal)}; an AUC needs both normal and anomalous test clips")
            det = method.fit(int(seed), c)
            scores = method.test_scores(det)
            row[c] = auc(~normal, scores)
            flagged = scores > det.threshold_
            calibration.append((float(flagged[normal].mean()), float(flagged[~normal].mean())))
            seed_scores.append(np.asarray(scores, dtype=np.float32))
            seed_thresholds.append(det.threshold_)
        aucs.append(row)
        all_scores.append(seed_scores)
        thresholds.append(seed_thresholds)
        if log:
            log(f"{method.name} seed {seed}: mean AUC {row.mean():.3f}")
    return ProtocolRun(np.asarray(aucs), np.asarray(calibration), np.asarray(all_scores, dtype=np.float32),
                       np.asarray(thresholds, dtype=np.float64), snapshot)


def save_scores(path, run: ProtocolRun, data: Collection, split: Split, seeds) -> None:
    """Write a run's per-seed test scores beside its results (``scores.npz``, no pickle), so reports
    can draw ROC curves and histograms without recomputing anything."""
    import io

    from haad.storage import atomic_write_bytes

    arrays = {"scores": run.scores, "thresholds": run.thresholds, "aucs": run.aucs, "seeds": np.asarray(seeds),
              "test_index": np.asarray(split.test), "test_labels": data.labels[split.test],
              "class_names": np.asarray(data.class_names, dtype=np.str_),
              "seen": np.asarray(split.seen, dtype=np.int64), **{f"first_seed_{k}": v for k, v in run.snapshot.items()}}
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def summarize(aucs: np.ndarray, data: Collection, split: Split) -> dict:
    """Per-category mean +- std over seeds and the overall/seen/unseen means. ``aucs``: (S, C)."""
    return summarize_matrix(aucs, list(data.class_names), list(split.seen), list(split.unseen))


def summarize_matrix(aucs: np.ndarray, class_names: list, seen: list, unseen: list) -> dict:
    """:func:`summarize` from the names alone (``seen``/``unseen``: category indices into ``class_names``)."""
    aucs = np.asarray(aucs, dtype=np.float64)
    per_cat = {name: mean_std(aucs[:, c]) for c, name in enumerate(class_names)}

    def over(cols, std: bool = False):  # None for an empty group (every category unseen)
        if len(cols) == 0:
            return None
        part = aucs[:, list(cols)]
        return float(part.mean(axis=1).std()) if std else float(part.mean())

    return {
        "per_category": per_cat,
        "mean": float(aucs.mean()),
        "seen_mean": over(seen),
        "unseen_mean": over(unseen),
        "mean_std_over_seeds": float(aucs.mean(axis=1).std()),
        "seen_mean_std_over_seeds": over(seen, std=True),
        "unseen_mean_std_over_seeds": over(unseen, std=True),
        "seen_categories": [class_names[c] for c in seen],
        "unseen_categories": [class_names[c] for c in unseen],
    }


def _results(method: ProtocolMethod, seeds, k_shot, options: dict, aucs: np.ndarray, calibration: np.ndarray,
             **extra) -> dict:
    """The results dict shared by every method (see docs/PROTOCOL.md, "Results")."""
    data, split = method.data, method.split
    res = {"dataset": data.source, "method": method.name, "seeds": [int(s) for s in seeds], "k_shot": k_shot,
           "options": options, "split": split.to_dict(), "layout": data.layout.name, **extra, **method.timing()}
    res.update(summarize(aucs, data, split))
    # One pair per category per seed, seed-major. The few-shot method's seen categories draw their
    # supports from the encoder's own training clips, which sit closer together than new clips do, so
    # their rate is far higher (benchmarks/README.md, "Thresholds").
    seen_rows = np.isin(np.arange(len(calibration)) % data.num_classes, split.seen)
    res["threshold"] = {"rule": method.threshold_rule,
                        "false_positive_rate": float(calibration[:, 0].mean()),
                        "true_positive_rate": float(calibration[:, 1].mean()),
                        "false_positive_rate_seen": float(calibration[seen_rows, 0].mean()) if seen_rows.any() else None,
                        "false_positive_rate_unseen": (float(calibration[~seen_rows, 0].mean())
                                                       if (~seen_rows).any() else None)}
    return res


def pretrained_split(chosen, data: Collection, split: Split) -> Split:
    """The protocol split as a pretrained encoder sees it: a dataset it trained on keeps its seen and
    unseen categories (and is refused if one of its unseen categories entered training); every
    category of a dataset it never saw is unseen."""
    record = chosen.record_for(data.source)
    if record is None:
        return replace(split, seen=(), unseen=tuple(range(data.num_classes)))
    trained_fraction = chosen.pretrained.get("train_fraction")
    if trained_fraction is not None and trained_fraction != split.train_fraction:
        raise ValueError(f"encoder {chosen.spec} was trained on {record['name']}'s training pools at train_fraction "
                         f"{trained_fraction}; this split's is {split.train_fraction}, so its test clips would "
                         "include clips the encoder trained on")
    seen = {data.class_names[c] for c in split.seen}
    leaked = sorted(set(record["seen_categories"]) - seen)
    if leaked:
        raise ValueError(f"encoder {chosen.spec} was trained on {leaked} of {record['name']}, which are unseen "
                         "categories of this dataset's protocol split")
    return split


def run_config(config: EvalConfig, encoder_dir=None) -> EvalConfig:
    """``config`` as :func:`evaluate` runs it: its window decided (:meth:`EvalConfig.resolved`; a few-shot
    run with an encoder takes the window the encoder records)."""
    if config.window is not None or config.method != "fewshot" or encoder_dir is None:
        return config.resolved()
    from haad.encoders import resolve_encoder

    return config.resolved(resolve_encoder(encoder_dir).window)


def evaluate(data: Collection, config: EvalConfig = EvalConfig(), encoder_dir=None, out_dir=None,
             progress: bool = True, log=None) -> dict:
    """Run the protocol for the few-shot detector (or the no-learning floor) and return the results dict.

    Args:
        data: the collection.
        config: the run's settings.
        encoder_dir: use this encoder for every seed instead of training one per seed: an encoder spec
            (:func:`haad.encoders.resolve_encoder`: ``builtin``, a checkpoint directory, or a ``.onnx``
            file from ``haad export``, run by onnxruntime).
        out_dir: if given, each seed's encoder checkpoint goes to ``out_dir/encoders/seed-S``
            (a finished one is reused, an unfinished one resumed) and the per-seed test scores to
            ``out_dir/scores.npz`` (:func:`save_scores`).
        progress: progress bars on stderr.
        log: optional callable for one-line progress messages.
    """
    from haad.train import check_encoder_fits

    split = protocol_split(data, config.train_fraction)
    extra = {"encoder": str(encoder_dir) if encoder_dir is not None else None}
    encoder, (distance, turns, warps) = None, support_settings(config)
    upright = config.method == "bone-distance"  # y-up windows (the canonical, normalised space): turns apply
    if config.method != "fewshot" or encoder_dir is None:
        config = config.resolved()  # no encoder to record a window: the protocol's
    if config.method == "fewshot" and encoder_dir is not None:
        from haad.encoders import resolve_encoder

        # exact: a torch module runs its own forward (see FewShotMethod); an exported ONNX file's embedder
        # runs as it is (onnxruntime: equal to the module within float32 rounding).
        chosen = resolve_encoder(encoder_dir, exact=True)
        if chosen.header is None:
            method = "bone-distance" if chosen.spec == "bones" else "dct-distance"
            raise ValueError(f"encoder {chosen.spec!r} is a no-learning embedding: use --method {method}")
        config = config.resolved(chosen.window)
        encoder, (distance, turns, warps) = chosen.embedder, support_settings(config, chosen)
        upright = chosen.pretrained is not None
        if chosen.pretrained is not None:
            if config.augment.mode != "none":
                raise ValueError("generative augmentation needs a per-dataset encoder, not a pretrained one")
            # The pretrained encoder's space: the canonical skeleton, normalised for the sensor.
            from haad.preprocess import prepare_collection

            split = pretrained_split(chosen, data, split)
            data = prepare_collection(data, chosen.normalization)
            extra["encoder_trained_on"] = chosen.trained_datasets()
            extra["encoder_hybrid"] = chosen.header.get("meta", {}).get("hybrid")  # weights and scales, or None
        else:
            check_encoder_fits(chosen.header, encoder_dir, data, split, config.window)
    if config.method == "bone-distance":
        # Bone directions on the canonical skeleton, normalised for the sensor (clip order unchanged,
        # so the split still holds).
        from haad.preprocess import bone_space

        if config.augment.mode != "none" or encoder_dir is not None:
            raise ValueError("bone-distance is a no-learning embedding: it takes no encoder and no generative "
                             "augmentation")
        data, record = bone_space(data)
        extra.update(record)
    windows = make_windows(data.clips, data.layout.root, config.window)
    if uses_generator(config.augment):
        # The path in the options does not identify the weights (a retrained generator may sit there);
        # taken before any seed runs, so it names the weights the variants come from.
        from haad.storage import file_digest

        extra["generator_sha256"] = file_digest(Path(config.augment.generator) / "weights.safetensors")
    augmentation = None
    if config.augment.mode != "none":
        augmentation = ProtocolAugmentation(config.augment, data, split, windows, progress,
                                            content_lengths(data.clips, config.window))
    if np.isin(data.labels[split.seen_train()], split.unseen).any():  # guard: unseen must never train
        raise AssertionError("unseen category in the training set")
    check_upright(turns, upright, f"encoder {encoder_dir}" if encoder_dir is not None else f"--method {config.method}")
    method = FewShotMethod(data, split, windows, config, encoder, out_dir, augmentation, progress, distance, turns,
                           warps)
    extra["distance"], extra["turns"], extra["warps"] = distance, list(turns), list(warps)
    run = run_protocol(method, config.seeds, log)
    if out_dir is not None:
        save_scores(Path(out_dir) / "scores.npz", run, data, split, config.seeds)
    if augmentation is not None and augmentation.selection:
        # variant selection: per seed, the judge and the share of kept variants in their category
        extra["augment_selection"] = {str(s): v for s, v in sorted(augmentation.selection.items())}
    return _results(method, config.seeds, config.k_shot, config.options(), run.aucs, run.calibration, **extra)


def evaluate_baseline(data: Collection, config: BaselineEvalConfig, progress: bool = False, log=None,
                      out_dir=None) -> dict:
    """Run the protocol for a one-model-per-category baseline and return the results dict, with the
    fields of :func:`evaluate` plus ``train_seconds_per_category`` (mean time to fit one model);
    with ``out_dir``, the per-seed test scores go to ``out_dir/scores.npz``."""
    split = protocol_split(data, config.train_fraction)
    windows = make_windows(data.clips, data.layout.root, config.window)
    method = BaselineMethod(data, split, windows, config, progress)
    run = run_protocol(method, config.seeds, log)
    if out_dir is not None:
        save_scores(Path(out_dir) / "scores.npz", run, data, split, config.seeds)
    return _results(method, config.seeds, None, config.options(), run.aucs, run.calibration)
