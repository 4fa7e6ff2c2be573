"""Contrastive training of the action encoder (Algorithm 1), with progress, checkpoints and resume."""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from haad import distributed
from haad.checkpoint import (CheckpointError, load_checkpoint, load_optimizer_tensors, module_state,
                             optimizer_tensors, prefixed_state, save_checkpoint)
from haad.contrastive import BalancedBatchSampler, multi_positive_loss
from haad.encoder import ActionEncoder, EncoderConfig
from haad.geometry import rotate_vertical
from haad.storage import arrays_digest

ENCODER_KIND = "encoder"


@dataclass(frozen=True)
class TrainConfig:
    """Contrastive training settings (defaults: docs/METHOD.md).

    Attributes:
        epochs: training epochs (20; the paper's schedule is 101, which scores no better here: paired
            over 10 seeds, 20 epochs give utd-mhad +0.005, nw-ucla +0.013 and florence3d +0.014 mean
            AUC; benchmarks/README.md, "Training length").
        iters_per_epoch: batches per epoch (52).
        lr: AdamW learning rate (1e-3).
        weight_decay: AdamW weight decay (1e-3).
        lr_fix_epochs: epochs at constant lr before the linear decay (5).
        per_class: clips per seen category per batch (2).
        temperature: cosine-similarity temperature tau (1).
        rotate: random rotation of every sequence about the vertical axis (an option, off by default).
        up_axis: index of the vertical coordinate (1: y up, as in Kinect and SMPL data).
        seed: drives initialisation and batch draws.
        checkpoint_every: epochs between checkpoints when an output directory is given.
    """

    epochs: int = 20
    iters_per_epoch: int = 52
    lr: float = 1e-3
    weight_decay: float = 1e-3
    lr_fix_epochs: int = 5
    per_class: int = 2
    temperature: float = 1.0
    rotate: bool = False
    up_axis: int = 1
    seed: int = 0
    checkpoint_every: int = 10

    def with_epochs(self, epochs: int) -> "TrainConfig":
        """These settings for ``epochs`` epochs (the constant-lr phase shortened to fit)."""
        return replace(self, epochs=epochs, lr_fix_epochs=min(self.lr_fix_epochs, max(epochs - 1, 0)))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# Checkpoint meta that describes the run's progress or is measured from its result, not a setting: a
# resumed or reused checkpoint may differ there. (``hybrid``: the pretrained encoder's hybrid record,
# measured after training and rewritten by every haad pretrain that reuses the checkpoint.)
_RUN_STATE = ("history", "epochs_done", "complete", "hybrid")


def _json(obj):
    """JSON-normalised copy (tuples become lists), for comparing configs with what was saved."""
    return json.loads(json.dumps(obj))


def lr_factor(epoch: int, cfg: TrainConfig) -> float:
    """Flat for ``lr_fix_epochs``, then linear decay: 1 - (e - fix) / (epochs - fix + 1)."""
    return 1.0 - max(0, epoch - cfg.lr_fix_epochs) / float(cfg.epochs - cfg.lr_fix_epochs + 1)


def save_encoder(directory, encoder: ActionEncoder, meta: dict | None = None, optimizer=None) -> Path:
    """Write an encoder checkpoint (weights + its config + ``meta``, e.g. training settings)."""
    tensors = module_state(encoder, "model.")
    if optimizer is not None:
        tensors.update(optimizer_tensors(optimizer))
    return save_checkpoint(directory, tensors, ENCODER_KIND, encoder.config.to_dict(), meta)


def encoder_config_from(d, where) -> EncoderConfig:
    """An :class:`EncoderConfig` from a checkpoint's ``config`` (``where`` names the file in errors)."""
    known = {f.name for f in fields(EncoderConfig)}
    if not isinstance(d, dict):
        raise CheckpointError(f"{where}: 'config' must be a JSON object of encoder settings, got {type(d).__name__}")
    unknown, missing = sorted(set(d) - known), sorted(n for n in ("num_joints", "window") if n not in d)
    if unknown or missing:
        raise CheckpointError(f"{where}: encoder config has unknown field(s) {unknown} or lacks {missing}; "
                              f"expected fields: {sorted(known)}")
    try:
        return EncoderConfig(**d)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{where}: bad encoder config ({e})") from None


def load_encoder(directory) -> tuple[ActionEncoder, dict]:
    """Load an encoder checkpoint; returns the module in eval mode and the checkpoint header."""
    tensors, header = load_checkpoint(directory, kind=ENCODER_KIND)
    enc = ActionEncoder(encoder_config_from(header["config"], Path(directory) / "config.json"))
    state = prefixed_state(tensors, "model.")
    try:
        enc.load_state_dict(state)
    except RuntimeError:
        raise CheckpointError(f"{directory}: its weights do not fit the encoder its config.json describes "
                              f"({enc.config.num_joints} joints, window {enc.config.window}); the files do not "
                              "belong together") from None
    enc.eval()
    return enc, header


def check_encoder_fits(header: dict, encoder_dir, data, split, window) -> None:
    """Refuse an encoder made for another skeleton layout or window, or trained on one of ``split``'s
    unseen categories (``header``: the encoder checkpoint's, ``data``: a
    :class:`~haad.data.collection.Collection`, ``window``: a :class:`~haad.data.windows.WindowConfig`)."""
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


def train_encoder(
    windows: np.ndarray,
    labels: np.ndarray,
    encoder_config: EncoderConfig,
    config: TrainConfig = TrainConfig(),
    extra_views: np.ndarray | None = None,
    out_dir=None,
    resume: bool = False,
    progress: bool = True,
    meta: dict | None = None,
    device: str = "cpu",
    sampler: BalancedBatchSampler | None = None,
) -> tuple[ActionEncoder, dict]:
    """Train an encoder with the multi-positive contrastive loss.

    Args:
        windows: (N, H, J, 3) training windows (seen categories only).
        labels: (N,) their categories; every category brings ``per_class`` clips to each batch.
        encoder_config: the encoder to build.
        config: training settings.
        extra_views: optional (N, G, H, J, 3) extra views per clip (e.g. generated variants); each
            clip in a batch brings its G views, all positives of its category block.
        out_dir: where checkpoints go (every ``checkpoint_every`` epochs and at the end).
        resume: continue from the checkpoint in ``out_dir`` if there is an unfinished one.
        progress: show a progress bar on stderr.
        meta: extra JSON-able facts saved with the checkpoint (dataset, split, window options).
        device: where to train (``"cpu"``, ``"cuda"``); the batches are drawn on the CPU as always, so
            the same seed draws the same batches; the returned encoder is on the CPU.
        sampler: the batch sampler over ``labels`` (default: every category brings ``per_class``
            clips to every batch); record its settings in ``meta``.

    Under ``torchrun`` (:mod:`haad.distributed`) every process draws the same global batch, encodes
    its own contiguous shard of it (DistributedDataParallel, BatchNorm over the global batch) and
    computes the loss over the gathered embeddings of the whole batch, so N processes train the
    encoder one process would, up to float rounding; CUDA ranks use ``cuda:LOCAL_RANK``. Only rank 0
    writes checkpoints and shows progress; every rank returns the trained encoder.

    Returns:
        The trained encoder (eval mode) and a history dict (loss per epoch, seconds).
    """
    with distributed.session(device) as device:
        return _train_encoder(windows, labels, encoder_config, config, extra_views, out_dir, resume, progress,
                              meta, device, sampler)


def _train_encoder(windows, labels, encoder_config, config, extra_views, out_dir, resume, progress, meta, device,
                   sampler):
    windows = np.asarray(windows, dtype=np.float32)
    labels = np.asarray(labels)
    if windows.ndim != 4 or len(windows) != len(labels):
        raise ValueError(f"expected windows (N, H, J, 3) and labels (N,), got {windows.shape} and {labels.shape}")
    if extra_views is not None:
        extra_views = np.asarray(extra_views, dtype=np.float32)
        if extra_views.ndim != 5 or extra_views.shape[0] != len(windows) or extra_views.shape[2:] != windows.shape[1:]:
            raise ValueError(f"extra_views must be (N, G, H, J, 3) matching windows {windows.shape}, got {extra_views.shape}")
    sampler = BalancedBatchSampler(labels, config.per_class) if sampler is None else sampler

    torch.manual_seed(config.seed)
    encoder = ActionEncoder(encoder_config).to(device)
    opt = torch.optim.AdamW(encoder.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history = {"loss": [], "seconds": 0.0}
    start_epoch = 0
    meta = dict(meta or {})
    meta["train_data_digest"] = arrays_digest(windows, labels, extra_views, length=32)
    meta["trained_categories"] = sorted(int(c) for c in np.unique(labels))

    if resume and out_dir is not None and (Path(out_dir) / "config.json").is_file():
        tensors, header = load_checkpoint(out_dir, kind=ENCODER_KIND)
        saved = header.get("meta", {})
        wanted = _json({**meta, "train": config.to_dict()})
        # Every recorded setting must agree (training data digest, window, split, layout, augmentation);
        # a dataset *name* may differ (a path vs a name) when the data digest matches.
        differs = [k for k, v in wanted.items()
                   if k not in _RUN_STATE and k != "dataset" and saved.get(k) != v]
        if header["config"] != encoder_config.to_dict() or differs:
            what = ", ".join(differs) or "encoder config"
            raise CheckpointError(f"{out_dir}: existing checkpoint was made with other settings ({what}); "
                                  "use a new --out")
        encoder.load_state_dict(prefixed_state(tensors, "model."))
        load_optimizer_tensors(opt, tensors)
        history = saved.get("history", history)
        start_epoch = int(saved.get("epochs_done", 0))

    model = distributed.data_parallel(encoder, device)  # the encoder itself in one process
    x_all = torch.from_numpy(windows).to(device)
    v_all = torch.from_numpy(extra_views).to(device) if extra_views is not None else None
    y_all = torch.as_tensor(labels, dtype=torch.long).to(device)
    total = config.epochs * config.iters_per_epoch
    show = progress and distributed.is_main()
    bar = tqdm(total=total, initial=start_epoch * config.iters_per_epoch, disable=not show,
               file=sys.stderr, desc="encoder", leave=False)
    t0 = time.perf_counter() - history.get("seconds", 0.0)

    def checkpoint(epochs_done: int) -> None:
        history["seconds"] = time.perf_counter() - t0
        if distributed.is_main():
            save_encoder(out_dir, encoder, {**meta, "train": config.to_dict(), "history": history,
                                            "epochs_done": epochs_done,
                                            "complete": epochs_done >= config.epochs}, optimizer=opt)
        distributed.barrier()

    encoder.train()
    for epoch in range(start_epoch, config.epochs):
        for g in opt.param_groups:
            g["lr"] = config.lr * lr_factor(epoch, config)
        # Per-epoch seeding makes a resumed run draw exactly the batches an uninterrupted one would.
        rng = np.random.default_rng([config.seed, epoch])
        gen = torch.Generator().manual_seed(config.seed * 100003 + epoch)
        epoch_loss = 0.0
        for _ in range(config.iters_per_epoch):
            idx = torch.from_numpy(sampler.sample(rng)).to(device)
            x = x_all[idx].unsqueeze(1)
            if v_all is not None:
                x = torch.cat([x, v_all[idx]], dim=1)
            groups = y_all[idx].repeat_interleave(x.shape[1])
            x = x.reshape(-1, *x.shape[2:])
            if config.rotate:
                angles = (torch.rand(x.shape[0], generator=gen) * (2 * math.pi)).to(device)
                x = rotate_vertical(x, angles, config.up_axis)
            mine = distributed.shard(len(x))  # this rank's rows of the global batch (all in one process)
            z = distributed.gather_shards(model(x[mine]), len(x))
            loss = multi_positive_loss(z, groups, config.temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            epoch_loss += loss.item()
            bar.update(1)
        history["loss"].append(epoch_loss / config.iters_per_epoch)
        bar.set_postfix(loss=f"{history['loss'][-1]:.4f}")
        if out_dir is not None and ((epoch + 1) % config.checkpoint_every == 0 or epoch + 1 == config.epochs):
            checkpoint(epoch + 1)
    bar.close()
    history["seconds"] = time.perf_counter() - t0
    distributed.restore_batchnorm(encoder)
    encoder.cpu().eval()
    return encoder, history
