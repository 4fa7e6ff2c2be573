"""The evaluation protocol (PROTOCOL.md): every category as the normal one, for every seed.

For a seed s: train the encoder on the seen categories' training pools (seeded by s; or load a given
encoder), embed every window once, then for every category c draw K support clips from c's training
pool with ``numpy.random.default_rng([s, c])``, score the pooled test set by mean embedding distance
and compute the ROC AUC with "category != c" as the anomaly label.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from haad.data.collection import Collection
from haad.data.splits import Split, protocol_split, support_draws
from haad.data.windows import WindowConfig, content_lengths, make_windows
from haad.detector import DCTEmbedder, EncoderEmbedder, FewShotDetector
from haad.encoder import EncoderConfig
from haad.evaluation.augmentation import AugmentConfig, make_augmenters, uses_generator
from haad.evaluation.metrics import auc, mean_std
from haad.train import TrainConfig, load_encoder, train_encoder

METHODS = ("fewshot", "dct-distance")


@dataclass(frozen=True)
class EvalConfig:
    """Everything that defines one protocol run; recorded in every result.

    Attributes:
        method: ``"fewshot"`` (learned encoder) or ``"dct-distance"`` (the no-learning floor).
        seeds: the seeds to run.
        k_shot: support clips per category.
        train_fraction: per-category training-pool fraction.
        window: windowing and normalisation.
        pooling: encoder pooling (``"joint"`` default, ``"node"`` option).
        train: contrastive training settings (its ``seed`` is replaced by each run's seed).
        augment: generative augmentation (training-time positives and/or support variants).
    """

    method: str = "fewshot"
    seeds: tuple = tuple(range(10))
    k_shot: int = 3
    train_fraction: float = 0.8
    window: WindowConfig = field(default_factory=WindowConfig)
    pooling: str = "joint"
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose from {METHODS}")
        if self.k_shot < 1:
            raise ValueError(f"k_shot must be >= 1, got {self.k_shot}")
        if len(self.seeds) == 0:
            raise ValueError("need at least one seed")

    def options(self) -> dict:
        d = asdict(self)
        d["seeds"] = list(self.seeds)
        d["augment"] = self.augment.to_dict()  # later options only when on: older results stay comparable
        if self.method != "fewshot":
            d.pop("train")
            d.pop("pooling")
        return d


def check_encoder_fits(header: dict, encoder_dir, data: Collection, split: Split, window: WindowConfig) -> None:
    """Refuse an encoder made for another skeleton layout or window, or trained on an unseen category."""
    cfg, meta = header["config"], header.get("meta", {})
    if cfg["num_joints"] != data.layout.num_joints or cfg["window"] != window.length:
        raise ValueError(f"encoder {encoder_dir} expects J={cfg['num_joints']}, H={cfg['window']}; "
                         f"data has J={data.layout.num_joints}, H={window.length}")
    layout = meta.get("layout")
    if layout is not None and layout["joint_names"] != list(data.layout.joint_names):
        raise ValueError(f"encoder {encoder_dir} was trained on layout {layout['name']!r} whose joint order "
                         f"differs from {data.layout.name!r}")
    trained = meta.get("trained_categories")
    if trained is not None and meta.get("dataset") == data.source:
        leaked = sorted(set(trained) & set(split.unseen))
        if leaked:
            names = [data.class_names[c] for c in leaked]
            raise ValueError(f"encoder {encoder_dir} was trained on unseen categories {names}")


def category_aucs(embeddings: np.ndarray, data: Collection, split: Split, seed: int, k_shot: int,
                  support_augment=None, calibration: list | None = None) -> np.ndarray:
    """AUC per category for one seed, given embeddings of every clip of ``data``.

    ``support_augment(category, support_idx, seed)`` may return extra support embeddings.
    ``calibration``, if given, receives one (false-positive rate on normal test clips, true-positive
    rate on anomalous ones) pair per category for the detector's support-calibrated threshold.
    """
    test = split.test
    test_emb = embeddings[test]
    out = np.zeros(data.num_classes)
    det = FewShotDetector(embedder=None, layout=data.layout)
    for c, support in enumerate(support_draws(split, seed, k_shot)):
        emb = embeddings[support]
        if support_augment is not None:
            extra = support_augment(c, support, seed)
            if extra is not None and len(extra):
                emb = np.concatenate([emb, extra])
        det.fit_embeddings(emb, n_real=len(support))
        normal = data.labels[test] == c
        if normal.all() or not normal.any():
            raise ValueError(f"category {data.class_names[c]!r}: the test set has {int(normal.sum())} of its clips "
                             f"among {len(test)}; an AUC needs both normal and anomalous test clips")
        scores = det.score_embeddings(test_emb)
        out[c] = auc(~normal, scores)
        if calibration is not None:
            flagged = scores > det.threshold_
            calibration.append((float(flagged[normal].mean()), float(flagged[~normal].mean())))
    return out


def summarize(aucs: np.ndarray, data: Collection, split: Split) -> dict:
    """Per-category mean +- std over seeds and the overall/seen/unseen means. ``aucs``: (S, C)."""
    return summarize_matrix(aucs, list(data.class_names), list(split.seen), list(split.unseen))


def summarize_matrix(aucs: np.ndarray, class_names: list, seen: list, unseen: list) -> dict:
    """:func:`summarize` from the names alone (``seen``/``unseen``: category indices into ``class_names``)."""
    aucs = np.asarray(aucs, dtype=np.float64)
    per_cat = {name: mean_std(aucs[:, c]) for c, name in enumerate(class_names)}
    return {
        "per_category": per_cat,
        "mean": float(aucs.mean()),
        "seen_mean": float(aucs[:, seen].mean()),
        "unseen_mean": float(aucs[:, unseen].mean()),
        "mean_std_over_seeds": float(aucs.mean(axis=1).std()),
        "seen_mean_std_over_seeds": float(aucs[:, seen].mean(axis=1).std()),
        "unseen_mean_std_over_seeds": float(aucs[:, unseen].mean(axis=1).std()),
        "seen_categories": [class_names[c] for c in seen],
        "unseen_categories": [class_names[c] for c in unseen],
    }


def evaluate(data: Collection, config: EvalConfig = EvalConfig(), encoder_dir=None, out_dir=None,
             progress: bool = True, extra_views=None, support_augment=None, log=None) -> dict:
    """Run the protocol on ``data`` and return the results dict (see README for its fields).

    Args:
        data: the collection.
        config: the run's settings.
        encoder_dir: use this trained encoder for every seed instead of training one per seed.
        out_dir: if given, each seed's encoder checkpoint goes to ``out_dir/encoders/seed-S``
            (a finished one is reused, an unfinished one resumed).
        progress: progress bars on stderr.
        extra_views: ``fn(seed, train_idx, windows) -> (N, G, H, J, 3)`` extra training views.
        support_augment: ``fn(category, support_idx, seed, embed) -> extra support embeddings``.
        log: optional callable for one-line progress messages.
    """
    split = protocol_split(data, config.train_fraction)
    windows = make_windows(data.clips, data.layout.root, config.window)
    generator_digest = None
    if uses_generator(config.augment):
        # The path in the options does not identify the weights (a retrained generator may sit there);
        # taken before any seed runs, so it names the weights the variants come from.
        from haad.storage import file_digest
        generator_digest = file_digest(Path(config.augment.generator) / "weights.safetensors")
    if config.augment.mode != "none" and extra_views is None and support_augment is None:
        extra_views, support_augment = make_augmenters(config.augment, data, split, windows, config.k_shot,
                                                       progress, content_lengths(data.clips, config.window))
    train_idx = split.seen_train()
    if np.isin(data.labels[train_idx], split.unseen).any():  # guard: unseen must never train
        raise AssertionError("unseen category in the training set")
    aucs, train_seconds, calibration = [], [], []
    loaded = None
    if config.method == "fewshot" and encoder_dir is not None:
        loaded, header = load_encoder(encoder_dir)
        check_encoder_fits(header, encoder_dir, data, split, config.window)
    for seed in config.seeds:
        if config.method == "dct-distance":
            embed = DCTEmbedder(10)
        else:
            encoder = loaded
            if encoder is None:
                enc_cfg = EncoderConfig(num_joints=data.layout.num_joints, window=config.window.length,
                                        pooling=config.pooling)
                tcfg = replace(config.train, seed=int(seed))
                seed_dir = Path(out_dir) / "encoders" / f"seed-{seed}" if out_dir is not None else None
                views = extra_views(seed, train_idx, windows) if extra_views is not None else None
                t0 = time.perf_counter()
                encoder, hist = train_encoder(
                    windows[train_idx], data.labels[train_idx], enc_cfg, tcfg, extra_views=views,
                    out_dir=seed_dir, resume=seed_dir is not None, progress=progress,
                    meta={"dataset": data.source, "window": config.window.to_dict(), "split": split.to_dict(),
                          "layout": data.layout.to_dict(),
                          "augment": config.augment.train_settings(seed) if views is not None else None})
                train_seconds.append(hist["seconds"] if hist["seconds"] else time.perf_counter() - t0)
            embed = EncoderEmbedder(encoder)
        emb = embed(windows)
        aug = None
        if support_augment is not None:
            def aug(c, idx, s, _embed=embed):
                return support_augment(c, idx, s, _embed)
        row = category_aucs(emb, data, split, int(seed), config.k_shot, aug, calibration)
        aucs.append(row)
        if log:
            log(f"seed {seed}: mean AUC {row.mean():.3f}")
    aucs = np.asarray(aucs)
    res = {
        "dataset": data.source,
        "method": config.method,
        "seeds": [int(s) for s in config.seeds],
        "k_shot": config.k_shot,
        "options": config.options(),
        "split": split.to_dict(),
        "layout": data.layout.name,
        "encoder": str(encoder_dir) if encoder_dir is not None else None,
        "train_seconds": float(np.mean(train_seconds)) if train_seconds else 0.0,
    }
    res.update(summarize(aucs, data, split))
    if generator_digest is not None:
        res["generator_sha256"] = generator_digest
    selection = getattr(extra_views, "selection", None)
    if selection:  # variant selection: per seed, the judge and the share of kept variants in their category
        res["augment_selection"] = {str(s): v for s, v in sorted(selection.items())}
    cal = np.asarray(calibration)
    # One pair per category per seed, seed-major. Seen categories' supports are clips the encoder trained
    # on, which sit closer together than new clips do, so their rate is far higher (benchmarks/README.md).
    seen_rows = np.isin(np.arange(len(cal)) % data.num_classes, split.seen)
    res["threshold"] = {"rule": "max leave-one-out mean distance within the support set (predict's default)",
                        "false_positive_rate": float(cal[:, 0].mean()), "true_positive_rate": float(cal[:, 1].mean()),
                        "false_positive_rate_seen": float(cal[seen_rows, 0].mean()),
                        "false_positive_rate_unseen": float(cal[~seen_rows, 0].mean())}
    return res
