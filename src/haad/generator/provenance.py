"""What a generator was trained on, recorded beside its checkpoint, so that an evaluation can refuse a
generator that saw one of its unseen categories."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from haad.data.collection import Collection
from haad.data.splits import Split
from haad.storage import atomic_write_json

PROVENANCE = "provenance.json"


def write_provenance(generator_dir, data: Collection, split: Split, trained_idx: np.ndarray) -> None:
    """Record what a generator was trained on, so evaluation can refuse a leaking generator."""
    cats = sorted({int(c) for c in data.labels[trained_idx]})
    atomic_write_json(Path(generator_dir) / PROVENANCE, {
        "dataset": data.source, "num_classes": data.num_classes, "trained_categories": cats,
        "trained_category_names": [data.class_names[c] for c in cats], "num_windows": int(len(trained_idx)),
        "split": split.to_dict()})


def check_no_leak(generator_dir, data: Collection, split: Split) -> None:
    """Raise if the generator's recorded training data includes one of ``split``'s unseen categories."""
    path = Path(generator_dir) / PROVENANCE
    if not path.is_file():
        raise ValueError(f"{generator_dir}: no {PROVENANCE}; train it with `haad train-generator` so the "
                         "evaluation can verify that unseen categories did not leak into it")
    prov = json.loads(path.read_text())
    trained = prov.get("trained_category_names", [])
    if prov.get("num_classes") != data.num_classes or not set(trained) <= set(data.class_names):
        raise ValueError(f"{generator_dir}: trained on {prov.get('dataset')!r} (categories {trained}), "
                         f"which does not match {data.source!r}")
    leaked = sorted(set(trained) & {data.class_names[c] for c in split.unseen})
    if leaked:
        raise ValueError(f"{generator_dir}: trained on unseen categories {leaked}; they must not leak")


def train_generator_on_seen(data: Collection, cfg, out_dir, progress: bool = False) -> tuple:
    """Train a generator on the seen categories' training pools of ``data`` only (unseen categories must
    not leak into it) and record that beside the checkpoint. ``cfg``: a
    :class:`~haad.generator.train.GeneratorTrainConfig`. Returns (checkpoint path, training windows,
    seen categories)."""
    from haad.data.splits import protocol_split
    from haad.data.windows import make_windows
    from haad.generator.train import train_generator

    split = protocol_split(data)
    idx = split.seen_train()
    windows = make_windows([data.clips[i] for i in idx], data.layout.root)
    if max(cfg.observed_lengths) >= windows.shape[1]:
        raise ValueError(f"n_obs {','.join(map(str, cfg.observed_lengths))}: every observed length must be below "
                         f"the window length {windows.shape[1]} (some frames must be left to generate)")
    path = train_generator(windows, data.layout, cfg, out_dir=out_dir, resume=True, progress=progress)
    write_provenance(path, data, split, idx)
    return path, len(idx), len(split.seen)
