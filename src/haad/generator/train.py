"""Training loop of the motion generator and its resumable checkpoints.

Loading a checkpoint and generating with it is :mod:`haad.generator.sample`.

One checkpoint directory (``out_dir``) holds everything (see :mod:`haad.checkpoint`):

* weights: ``model.*`` (raw weights), ``ema.*`` (EMA weights, what generation uses), ``optim.*``
  (Adam moments and step counts) and ``state.*`` (iteration, RNG states, loss history, running
  loss sums), so that an interrupted run resumes exactly where its last checkpoint left it;
* config: the denoiser config, the train config, the diffusion config with the normalisation
  statistics, the skeleton layout and a digest of the training windows.

The weights file is self-contained (the training state lives in it, not only in config.json), so
even a crash between the two atomic replacements of a save leaves a consistent state to resume.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from haad.checkpoint import (CheckpointError, load_checkpoint, load_optimizer_tensors, module_state,
                             optimizer_tensors, prefixed_state, save_checkpoint)
from haad.geometry import mirror, rotate_vertical
from haad.generator.denoiser import DenoiserConfig, NoisePredictor, make_config
from haad.generator.diffusion import TRANSFORMS, Diffusion
from haad.generator.sample import EMA_PREFIX, GENERATOR_KIND
from haad.skeleton import Layout
from haad.storage import bytes_digest

MODEL_PREFIX = "model."


@dataclass(frozen=True)
class GeneratorTrainConfig:
    """How the generator is trained (defaults follow HumanMAC / the few-shot reference code).

    Attributes:
        preset: denoiser size, a key of :data:`haad.generator.denoiser.PRESETS`.
        denoiser: field overrides applied on top of the preset (e.g. ``{"width": 64}``).
        n_coef: DCT coefficients modelled (20).
        iterations: optimiser steps in total (a resumed run continues up to this number).
        batch_size: windows per step (64).
        lr: Adam learning rate (3e-4).
        lr_schedule: ``"constant"`` (default) or ``"cosine"`` (to 0 at ``iterations``).
        grad_clip: max gradient norm, 0 = off (the reference does not clip).
        ema: EMA decay of the weights (0.995).
        ema_start: before this iteration the EMA is a plain copy of the weights (reference: 2000).
        n_obs: observed frames O used to build the training condition (30).
        n_obs_choices: if non-empty, every training window draws its O from these values instead
            (lets one generator serve several observed/predicted splits).
        rotate, rotate_prob, max_angle: random rotation about the vertical axis, applied with
            probability ``rotate_prob`` (reference: 0.5), angle uniform in [-max_angle, max_angle].
        mirror, mirror_prob: swap left/right joints and negate the lateral axis, with probability
            ``mirror_prob`` (reference: 0.5). Skipped for layouts without left/right pairs.
        up_axis: vertical axis of the data (1: y up, as in UTD-MHAD and NW-UCLA).
        lateral_axis: the axis negated by mirroring (0: x).
        norm_samples: augmented windows drawn to estimate the normalisation statistics.
        checkpoint_every: save every this many iterations (0: only at the end).
        log_every: the loss history records the mean loss of every block of this many iterations.
        seed: seeds the initial weights, batches, augmentation, timesteps, noise and dropout.
        device: torch device for training.
        transform: per-frame joint transform before standardising, ``parent`` (bone vectors, the
            root keeps its trajectory), ``root`` or ``none`` (absolute positions, as in the paper);
            see :mod:`haad.generator.diffusion`.
        norm: ``feature`` (one scale per joint and axis) or ``global`` (one scale).
        high_t_frac, high_t_from: fraction of the training timesteps drawn uniformly from
            high_from..999 instead of 1..999 (0 = the reference's uniform draw). DDIM starts at
            t = 991, where abar = 1.6e-4: x0_hat = (x_t - sqrt(1 - abar) eps_hat) / sqrt(abar)
            multiplies the noise predictor's error by 80, so the first steps need eps_hat to be
            accurate to about 1%. With a uniform draw the top tenth of the schedule gets a tenth of
            the training signal, and short trainings sample garbage (metres off) even though their
            loss looks fine. Weighting the draw does not change the per-t optimum, only how fast
            each part of the schedule is learnt.
    """

    preset: str = "cpu"
    denoiser: dict = field(default_factory=dict)
    n_coef: int = 20
    iterations: int = 20000
    batch_size: int = 64
    lr: float = 3e-4
    lr_schedule: str = "constant"
    grad_clip: float = 0.0
    ema: float = 0.995
    ema_start: int = 2000
    n_obs: int = 30
    n_obs_choices: tuple = ()
    rotate: bool = True
    rotate_prob: float = 0.5
    max_angle: float = math.pi
    mirror: bool = True
    mirror_prob: float = 0.5
    up_axis: int = 1
    lateral_axis: int = 0
    norm_samples: int = 20000
    checkpoint_every: int = 1000
    log_every: int = 100
    seed: int = 0
    device: str = "cpu"
    transform: str = "parent"
    norm: str = "feature"
    high_t_frac: float = 0.5
    high_t_from: int = 900

    def __post_init__(self) -> None:
        if self.transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {TRANSFORMS}, got {self.transform!r}")
        if self.norm not in ("feature", "global"):
            raise ValueError(f"norm must be 'feature' or 'global', got {self.norm!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        if self.up_axis not in (0, 1, 2) or self.lateral_axis not in (0, 1, 2) or self.up_axis == self.lateral_axis:
            raise ValueError(f"up_axis {self.up_axis} and lateral_axis {self.lateral_axis} must be distinct axes 0..2")
        if self.iterations < 0 or self.batch_size < 1 or self.log_every < 1:
            raise ValueError("iterations >= 0, batch_size >= 1 and log_every >= 1 required")
        object.__setattr__(self, "n_obs_choices", tuple(int(n) for n in self.n_obs_choices))
        object.__setattr__(self, "denoiser", dict(self.denoiser))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["n_obs_choices"] = list(self.n_obs_choices)
        return d

    @property
    def observed_lengths(self) -> tuple:
        """The observed lengths O this generator trains with."""
        return self.n_obs_choices or (self.n_obs,)

    @classmethod
    def from_dict(cls, d: dict) -> "GeneratorTrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# Train-config fields that may change when a run is resumed.
_RESUMABLE_CHANGES = {"iterations", "checkpoint_every", "log_every", "device"}


def windows_digest(windows: np.ndarray) -> str:
    """Short digest of the training windows (a resumed run must train on the same ones)."""
    return bytes_digest(np.ascontiguousarray(windows, dtype=np.float32).tobytes(), length=16)


# --- augmentation ----------------------------------------------------------------------------------
def augment(x: torch.Tensor, cfg: GeneratorTrainConfig, perm: torch.Tensor | None,
            generator: torch.Generator) -> torch.Tensor:
    """Random mirroring and rotation about the vertical axis of (B, H, J, 3) windows.

    Rotation is about the vertical line through the origin, i.e. through the root's first-frame
    position for root-offset windows. ``perm`` is the layout's mirror permutation (``None``: the
    layout has no left/right pairs, no mirroring). Random numbers are drawn on the CPU from
    ``generator``.
    """
    b = x.shape[0]
    if cfg.mirror and perm is not None:
        flip = (torch.rand(b, generator=generator) < cfg.mirror_prob).to(x.device)
        x = torch.where(flip[:, None, None, None], mirror(x, perm, cfg.lateral_axis), x)
    if cfg.rotate:
        on = torch.rand(b, generator=generator) < cfg.rotate_prob
        ang = (torch.rand(b, generator=generator) * 2 - 1) * cfg.max_angle * on
        x = rotate_vertical(x, ang.to(x), cfg.up_axis)
    return x


def normalization_stats(windows: torch.Tensor, cfg: GeneratorTrainConfig, perm, layout: Layout, length: int,
                        n_coef: int) -> Diffusion:
    """A :class:`Diffusion` whose normalisation is estimated on augmented training windows.

    Mean: per feature (J, 3), over windows and frames. Scale: chosen so that the normalised DCT
    coefficients have unit mean square, per feature (``cfg.norm == "feature"``, floored at 1% of the
    median feature scale) or over all features (``"global"``).
    """
    g = torch.Generator().manual_seed(cfg.seed + 2)
    n = len(windows)
    reps = max(1, math.ceil(cfg.norm_samples / n)) if (cfg.rotate or cfg.mirror) else 1
    j = windows.shape[2]
    kw = dict(length=length, n_coef=n_coef, num_joints=j, transform=cfg.transform,
              parents=list(layout.parents), root=layout.root)
    plain = Diffusion(**kw)
    base = windows.cpu().double()
    # One pass over the augmented copies, one copy at a time (all at once took GBs and ~20 s).
    # The DCT is linear, so the centred coefficients' mean square follows from per-coefficient sums
    # of C = DCT(features): mean((C_k - m d_k)^2) = E[C_k^2] - 2 m d_k E[C_k] + m^2 d_k^2, with
    # d_k the k-th DCT row's sum and m the per-feature mean.
    feat_sum = torch.zeros(j, 3, dtype=torch.float64)
    c_sum = torch.zeros(n_coef, j, 3, dtype=torch.float64)
    c_sq = torch.zeros(n_coef, j, 3, dtype=torch.float64)
    for _ in range(reps):
        feats = plain.features(augment(base, cfg, perm, g))
        feat_sum += feats.sum(dim=(0, 1))
        coef = plain.to_dct(feats)
        c_sum += coef.sum(dim=0)
        c_sq += coef.pow(2).sum(dim=0)
    count = reps * n
    mean = feat_sum / (count * length)  # (J, 3), over windows and frames
    d = plain.dct_mat.double().sum(dim=1)[:, None, None]  # (n_coef, 1, 1)
    msq = (c_sq / count - 2 * mean * d * (c_sum / count) + (mean * d) ** 2).clamp_min(0)  # (n_coef, J, 3)
    if cfg.norm == "global":
        scale = np.full((j, 3), float(msq.mean().sqrt()))
    else:
        scale = msq.mean(dim=0).sqrt().numpy()
        scale = np.maximum(scale, 0.01 * float(np.median(scale)))
    scale = np.where(scale > 0, scale, 1.0)
    return Diffusion(**kw, mean=mean.numpy(), scale=scale)


# --- checkpoint state -----------------------------------------------------------------------------
def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    with torch.no_grad():
        for pe, pm in zip(ema.parameters(), model.parameters()):
            pe.mul_(decay).add_(pm.detach(), alpha=1.0 - decay)
        for be, bm in zip(ema.buffers(), model.buffers()):
            be.copy_(bm)


def _ema_copy(ema: torch.nn.Module, model: torch.nn.Module) -> None:
    ema.load_state_dict(model.state_dict())


def _lr_at(cfg: GeneratorTrainConfig, it: int) -> float:
    if cfg.lr_schedule == "cosine" and cfg.iterations > 0:
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(it, cfg.iterations) / cfg.iterations))
    return cfg.lr


def _check_resume(header: dict, cfg: GeneratorTrainConfig, dcfg: DenoiserConfig, layout: Layout, digest: str) -> None:
    conf = header.get("config", {})
    problems = []
    if conf.get("denoiser") != dcfg.to_dict():
        problems.append(f"denoiser {conf.get('denoiser')} != {dcfg.to_dict()}")
    old = conf.get("train", {})
    new = cfg.to_dict()
    for k in sorted(set(old) | set(new)):
        if k not in _RESUMABLE_CHANGES and old.get(k) != new.get(k):
            problems.append(f"train.{k}: {old.get(k)!r} -> {new.get(k)!r}")
    if conf.get("layout") != layout.to_dict():
        problems.append("skeleton layout differs")
    if conf.get("data", {}).get("digest") != digest:
        problems.append("training windows differ")
    if problems:
        raise ValueError("cannot resume the generator checkpoint: " + "; ".join(problems)
                         + " (pass resume=False to start over, or use another directory)")


# --- training --------------------------------------------------------------------------------------
def train_generator(windows: np.ndarray, layout: Layout, cfg: GeneratorTrainConfig = GeneratorTrainConfig(),
                    out_dir="generator", resume: bool = True, progress: bool = True) -> Path:
    """Train the DCT diffusion generator on ``windows`` and keep its checkpoint in ``out_dir``.

    Args:
        windows: (N, H, J, 3) training windows (root-offset, metres). Pass only the seen categories'
            training windows: unseen categories must not leak into the generator.
        layout: the skeleton layout (left/right pairs for mirroring; stored with the checkpoint).
        cfg: training configuration.
        out_dir: checkpoint directory, rewritten atomically every ``cfg.checkpoint_every`` steps.
        resume: continue from the checkpoint in ``out_dir`` if there is one (it must have been made
            with the same data and settings, except the number of iterations and the checkpoint
            / logging periods). With ``resume=False`` an existing checkpoint is overwritten.
        progress: show a tqdm progress bar on stderr.

    Returns the checkpoint directory.
    """
    out_dir = Path(out_dir)
    windows = np.asarray(windows, dtype=np.float32)
    if windows.ndim != 4 or windows.shape[-1] != 3 or len(windows) == 0:
        raise ValueError(f"windows must be (N, H, J, 3), got {windows.shape}")
    n, length, num_joints, _ = windows.shape
    if num_joints != layout.num_joints:
        raise ValueError(f"windows have {num_joints} joints, layout {layout.name!r} has {layout.num_joints}")
    n_obs_all = cfg.observed_lengths
    if not all(1 <= o < length for o in n_obs_all):
        raise ValueError(f"observed lengths {n_obs_all} must be in 1..{length - 1}")
    dcfg = make_config(cfg.preset, num_joints, n_coef=cfg.n_coef, **cfg.denoiser)
    digest = windows_digest(windows)
    device = torch.device(cfg.device)
    data = torch.from_numpy(windows).to(device)
    perm = torch.from_numpy(layout.mirror_permutation()).long().to(device) if layout.left else None

    header = None
    tensors = None
    if resume:
        try:
            tensors, header = load_checkpoint(out_dir, kind=GENERATOR_KIND)
        except CheckpointError:
            if (out_dir / "config.json").exists() or (out_dir / "weights.safetensors").exists():
                raise
            tensors = header = None
    if header is not None:
        _check_resume(header, cfg, dcfg, layout, digest)

    fork_devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(cfg.seed)
        model = NoisePredictor(dcfg).to(device)
        ema = copy.deepcopy(model).eval()
        for p in ema.parameters():
            p.requires_grad_(False)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        gen = torch.Generator().manual_seed(cfg.seed + 1)

        if header is not None:
            diffusion = Diffusion.from_dict(header["config"]["diffusion"])
            model.load_state_dict(prefixed_state(tensors, MODEL_PREFIX))
            ema.load_state_dict(prefixed_state(tensors, EMA_PREFIX))
            load_optimizer_tensors(opt, tensors)
            start = int(tensors["state.iteration"][0])
            history = tensors["state.loss_history"].reshape(-1, 2).tolist()
            acc_sum, acc_n = float(tensors["state.loss_acc"][0]), int(tensors["state.loss_acc"][1])
            elapsed = float(tensors["state.elapsed"][0])
            gen.set_state(tensors["state.gen_rng"])
            torch.set_rng_state(tensors["state.torch_rng"])
            if device.type == "cuda" and "state.cuda_rng" in tensors:
                torch.cuda.set_rng_state(tensors["state.cuda_rng"], device)
        else:
            diffusion = normalization_stats(data, cfg, perm, layout, length, cfg.n_coef)
            start, history, acc_sum, acc_n, elapsed = 0, [], 0.0, 0, 0.0

        config = {
            "denoiser": dcfg.to_dict(),
            "train": cfg.to_dict(),
            "diffusion": diffusion.to_dict(),
            "layout": layout.to_dict(),
            "data": {"n_windows": int(n), "length": int(length), "digest": digest},
        }

        def save(it: int, finished: bool) -> None:
            t = module_state(model, MODEL_PREFIX)
            t.update(module_state(ema, EMA_PREFIX))
            t.update(optimizer_tensors(opt))
            t["state.iteration"] = torch.tensor([it], dtype=torch.int64)
            t["state.loss_history"] = torch.tensor(history, dtype=torch.float64).reshape(-1, 2)
            t["state.loss_acc"] = torch.tensor([acc_sum, acc_n], dtype=torch.float64)
            t["state.elapsed"] = torch.tensor([elapsed], dtype=torch.float64)
            t["state.gen_rng"] = gen.get_state()
            t["state.torch_rng"] = torch.get_rng_state()
            if device.type == "cuda":
                t["state.cuda_rng"] = torch.cuda.get_rng_state(device)
            t["norm.mean"] = diffusion.mean
            t["norm.scale"] = diffusion.scale
            # The history in the weights holds complete blocks only (a resumed run then continues it
            # exactly); the readable copy also shows the mean loss of an incomplete last block.
            shown = history + ([[it, acc_sum / acc_n]] if acc_n else [])
            meta = {"iteration": it, "finished": finished, "elapsed_s": round(elapsed, 3),
                    "loss_history": shown, "num_parameters": model.num_parameters()}
            save_checkpoint(out_dir, t, GENERATOR_KIND, config, meta)

        if header is not None and start >= cfg.iterations:
            return out_dir

        model.train()
        bar = tqdm(total=cfg.iterations, initial=start, desc="generator", unit="it", file=sys.stderr,
                   disable=not progress, dynamic_ncols=True)
        choices = torch.tensor(n_obs_all, dtype=torch.long)
        t0 = time.perf_counter()
        try:
            for it in range(start, cfg.iterations):
                idx = torch.randint(0, n, (cfg.batch_size,), generator=gen).to(device)
                x = augment(data[idx], cfg, perm, gen)
                if cfg.n_obs_choices:
                    n_obs = choices[torch.randint(0, len(choices), (cfg.batch_size,), generator=gen)].to(device)
                else:
                    n_obs = cfg.n_obs
                x0 = diffusion.encode(x)
                cond = diffusion.condition(x, n_obs)
                t = diffusion.sample_t(cfg.batch_size, gen, high_frac=cfg.high_t_frac, high_from=cfg.high_t_from).to(device)
                noise = torch.randn(x0.shape, generator=gen).to(device)
                for group in opt.param_groups:
                    group["lr"] = _lr_at(cfg, it)
                loss = diffusion.loss(model, x0, cond, t=t, noise=noise)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                opt.step()
                if it + 1 <= cfg.ema_start:
                    _ema_copy(ema, model)
                else:
                    _ema_update(ema, model, cfg.ema)
                acc_sum += float(loss.detach())
                acc_n += 1
                done = it + 1
                if done % cfg.log_every == 0:
                    history.append([done, acc_sum / acc_n])
                    bar.set_postfix(loss=f"{acc_sum / acc_n:.4f}")
                    acc_sum, acc_n = 0.0, 0
                bar.update(1)
                if done == cfg.iterations or (cfg.checkpoint_every and done % cfg.checkpoint_every == 0):
                    elapsed += time.perf_counter() - t0
                    t0 = time.perf_counter()
                    save(done, done == cfg.iterations)
        finally:
            bar.close()
    return out_dir
