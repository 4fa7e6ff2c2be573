"""One encoder for every skeleton: contrastive training on the seen categories of many datasets at once.

Every dataset named is loaded, mapped onto the canonical skeleton and normalised for its sensor
(:mod:`haad.preprocess`); only the training pools of its *seen* categories (its protocol split,
docs/PROTOCOL.md) enter training, so every dataset's unseen categories stay unseen. Categories are
namespaced by dataset (``utd-mhad/wave``), and each batch holds two clips of each of 8 categories of
every dataset (Algorithm 1's balanced batch, balanced over datasets too; or of every category). The
checkpoint records exactly what went in: each dataset's name, source, frame rate, seen categories
used, unseen categories left out and clip count, the normalisation, the canonical layout, the window
(and the crops every clip was cut with in training), the training settings and the hybrid embedding's
weights and scales (:mod:`haad.hybrid`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from haad.canonical import CANONICAL
from haad.data.splits import protocol_split
from haad.data.windows import WindowConfig, make_windows
from haad.encoder import EncoderConfig
from haad.hybrid import HybridConfig
from haad.normalize import SensorNormConfig
from haad.preprocess import prepare_collection
from haad.train import TrainConfig

SYNTHETIC = "synthetic"


@dataclass(frozen=True)
class PretrainConfig:
    """Attributes:
        datasets: the datasets whose seen categories train the encoder (names for
            :func:`haad.data.load_dataset`; ``synthetic`` adds the embedded synthetic actions).
        normalization: the sensor-normalisation steps applied to every clip.
        window: the encoder's window, recorded in its checkpoint: how clips are cut when it is used
            (whole clips resampled to 60 frames; :class:`haad.evaluation.config.EvalConfig` and
            :class:`haad.inference.SupportConfig` take it unless told otherwise).
        train_crops: every training clip enters training once per crop named here, each window a positive
            of its category: besides ``window.crop``, ``first`` (the first 60 frames, as a recording's
            sliding windows are cut) so that the one encoder also serves ``haad detect --stream``
            (benchmarks/README.md, "Which window the pretrained encoder takes").
        pooling: encoder pooling.
        train: contrastive training settings (20 epochs, as the shipped encoder was trained: in-dataset
            as good as 101 and better on datasets never seen, benchmarks/README.md "How long to pretrain").
        train_fraction: the protocol split's per-category training-pool fraction.
        categories_per_dataset: ``None`` (Algorithm 1: every category in every batch), or this many
            categories of every dataset per batch (all of a dataset with fewer), drawn anew each batch,
            so that a dataset with many categories does not crowd out one with few (8, as the shipped
            encoder was trained).
        hybrid: the no-learning parts beside the encoder's embedding (:mod:`haad.hybrid`; their typical
            distances are measured on the training windows after training), or ``None`` for the
            encoder's embedding alone.
    """

    datasets: tuple = ("utd-mhad", "nw-ucla", "florence3d")
    normalization: SensorNormConfig = field(default_factory=SensorNormConfig)
    window: WindowConfig = field(default_factory=lambda: WindowConfig(crop="resample"))
    train_crops: tuple = ("resample", "first")
    pooling: str = "joint"
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=20))
    train_fraction: float = 0.8
    categories_per_dataset: int | None = 8
    hybrid: HybridConfig | None = field(default_factory=HybridConfig)

    def __post_init__(self) -> None:
        if not self.datasets:
            raise ValueError("pretraining needs at least one dataset")
        if self.categories_per_dataset is not None and self.categories_per_dataset < 1:
            raise ValueError(f"categories_per_dataset must be >= 1, got {self.categories_per_dataset}")
        if len(set(self.datasets)) != len(self.datasets):
            raise ValueError(f"a dataset is named twice: {list(self.datasets)}")
        crops = tuple(self.train_crops)
        if not crops or len(set(crops)) != len(crops) or self.window.crop not in crops:
            raise ValueError(f"train_crops {list(crops)}: name each crop once, the window's ({self.window.crop!r}) "
                             "among them")
        for crop in crops:
            replace(self.window, crop=crop)  # WindowConfig refuses an unknown crop

    def encoder_config(self) -> EncoderConfig:
        return EncoderConfig(num_joints=CANONICAL.num_joints, window=self.window.length, pooling=self.pooling)


@dataclass
class PretrainData:
    """The training windows of every dataset together.

    Attributes:
        windows: (N, H, 16, 3) canonical, normalised windows of the seen categories' training pools.
        labels: (N,) indices into ``class_names``.
        class_names: namespaced category names (``dataset/category``).
        records: per dataset, what went in (see the module docstring).
    """

    windows: np.ndarray
    labels: np.ndarray
    class_names: list
    records: list

    def save(self, path) -> None:
        """Write the gathered windows and their record to one ``.npz`` (no pickle)."""
        import io
        import json

        from haad.storage import atomic_write_bytes

        buf = io.BytesIO()
        np.savez_compressed(buf, windows=self.windows, labels=self.labels,
                            meta=np.asarray(json.dumps({"class_names": self.class_names, "records": self.records})))
        atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path) -> "PretrainData":
        import json

        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return cls(z["windows"], z["labels"], meta["class_names"], meta["records"])


def gather(config: PretrainConfig, data_dir=None) -> PretrainData:
    """Load, canonicalise, normalise and window the seen categories' training pools of every dataset."""
    from haad.data import load_dataset

    windows, labels, names, records = [], [], [], []
    for name in config.datasets:
        if name == SYNTHETIC:
            from haad.data.synthetic import synthesize

            data = synthesize(seed=0)
        else:
            data = load_dataset(name, data_dir)
        split = protocol_split(data, config.train_fraction)
        idx = split.seen_train()
        if np.isin(data.labels[idx], split.unseen).any():  # guard: unseen must never train
            raise AssertionError(f"{name}: unseen category in the training set")
        part = prepare_collection(data.subset(idx), config.normalization)
        offset = len(names)
        seen = [int(c) for c in split.seen]
        remap = {c: offset + i for i, c in enumerate(seen)}
        names += [f"{name}/{data.class_names[c]}" for c in seen]
        part_labels = np.array([remap[int(c)] for c in part.labels], dtype=np.int64)
        for crop in config.train_crops:
            windows.append(make_windows(part.clips, CANONICAL.root, replace(config.window, crop=crop)))
            labels.append(part_labels)
        records.append({"name": name, "source": str(data.source), "layout": data.layout.name, "fps": data.fps,
                        "clips": int(len(idx)), "seen_categories": [data.class_names[c] for c in seen],
                        "unseen_excluded": [data.class_names[c] for c in split.unseen]})
    return PretrainData(np.concatenate(windows), np.concatenate(labels), names, records)


def pretrain(config: PretrainConfig = PretrainConfig(), out_dir=None, data_dir=None, progress: bool = False,
             data: PretrainData | None = None, device: str = "cpu"):
    """Train the encoder; returns (encoder, history, what went in). With ``out_dir`` the checkpoint is
    saved there (and an unfinished one resumed, a finished one reused). ``data``: windows gathered
    before (:func:`gather`, e.g. saved with :meth:`PretrainData.save` and trained elsewhere).

    With ``config.hybrid`` the hybrid embedding's scales are measured on the training windows once
    training is done (by rank 0 under ``torchrun``); the record (also ``what went in["hybrid"]``, ``None``
    without a hybrid) goes into the checkpoint's ``meta["hybrid"]``."""
    from haad.contrastive import BalancedBatchSampler
    from haad.train import train_encoder

    data = gather(config, data_dir) if data is None else data
    record = {"datasets": data.records, "categories": data.class_names,
              "normalization": asdict(config.normalization), "train_fraction": config.train_fraction,
              "train_crops": list(config.train_crops)}
    sampler = None
    if config.categories_per_dataset is not None:
        record["categories_per_dataset"] = config.categories_per_dataset
        # Class names are namespaced "dataset/category": the dataset is the group.
        groups = {i: name.split("/", 1)[0] for i, name in enumerate(data.class_names)}
        sampler = BalancedBatchSampler(data.labels, config.train.per_class, groups, config.categories_per_dataset)
    encoder, history = train_encoder(
        data.windows, data.labels, config.encoder_config(), config.train, out_dir=out_dir,
        resume=out_dir is not None, progress=progress,
        # Until the scales are measured below, the checkpoint's hybrid record says they are pending, so
        # that a run stopped in between leaves an encoder that refuses to load rather than one that
        # silently embeds with its learned part alone.
        meta={"dataset": "+".join(config.datasets), "window": config.window.to_dict(),
              "layout": CANONICAL.to_dict(), "pretrained": record,
              "hybrid": None if config.hybrid is None else {**asdict(config.hybrid), "scales": None}},
        device=device, sampler=sampler)
    from haad import distributed

    hybrid = None
    if config.hybrid is not None and distributed.is_main():
        from haad.embedders import EncoderEmbedder
        from haad.hybrid import hybrid_record

        dataset_of = np.array([name.split("/", 1)[0] for name in data.class_names])[data.labels]
        hybrid = hybrid_record(config.hybrid, EncoderEmbedder(encoder.cpu().eval()), data.windows,
                               CANONICAL.parents, dataset_of)
    if out_dir is not None and distributed.is_main():
        from haad.checkpoint import update_meta

        # Also on a finished checkpoint that was reused: it embeds as this config says.
        update_meta(out_dir, "hybrid", hybrid)
    distributed.barrier()
    return encoder, history, {**record, "hybrid": hybrid}
