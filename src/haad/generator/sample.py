"""Loading a trained generator checkpoint and generating variants of windows with it.

The checkpoint is written by :func:`haad.generator.train.train_generator`; generation uses its EMA
weights (stored under ``ema.*``) and the diffusion config with the normalisation statistics.
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np
import torch
from tqdm.auto import tqdm

from haad.checkpoint import load_checkpoint, module_state, prefixed_state
from haad.generator.denoiser import DenoiserConfig, NoisePredictor
from haad.generator.diffusion import Diffusion
from haad.skeleton import Layout

GENERATOR_KIND = "generator"
EMA_PREFIX = "ema."


def load_generator(directory, device="cpu") -> tuple[NoisePredictor, Diffusion, dict]:
    """Load a generator checkpoint.

    Returns (EMA noise predictor in eval mode on ``device``, diffusion with its normalisation,
    checkpoint header with ``ema_digest`` added: see :attr:`Generator.digest`).
    """
    tensors, header = load_checkpoint(directory, kind=GENERATOR_KIND)
    conf = header["config"]
    model = NoisePredictor(DenoiserConfig.from_dict(conf["denoiser"]))
    model.load_state_dict(prefixed_state(tensors, EMA_PREFIX))
    header = dict(header)
    # Digest of what was loaded, under the names it is stored with (the strict load above means
    # these are exactly the checkpoint's ``ema.*`` tensors).
    header["ema_digest"] = _state_digest(module_state(model, EMA_PREFIX), conf)
    model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    diffusion = Diffusion.from_dict(conf["diffusion"])
    return model, diffusion, header


def _state_digest(tensors: dict, conf: dict) -> str:
    h = hashlib.sha256()
    for k in sorted(tensors):
        h.update(k.encode())
        h.update(tensors[k].detach().cpu().contiguous().numpy().tobytes())
    h.update(repr(sorted(conf["diffusion"].items())).encode())
    h.update(repr(sorted(conf["denoiser"].items())).encode())
    return h.hexdigest()[:16]


def _item_generator(seed: int, index: int, variant: int) -> torch.Generator:
    # One generator per (window, variant): a window's noise does not depend on its batch.
    state = np.random.SeedSequence([int(seed), int(index), int(variant)]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & 0x7FFF_FFFF_FFFF_FFFF)


class Generator:
    """A trained generator ready to make variants of windows.

    ``generate`` is deterministic for a given seed, and every (window, variant) draws its noise from
    its own generator seeded by (seed, window index, variant index), so a window's variants do not
    depend on how the windows are batched.
    """

    def __init__(self, model: NoisePredictor, diffusion: Diffusion, header: dict | None = None,
                 device="cpu", batch_size: int = 64):
        self.model = model.eval()
        self.diffusion = diffusion
        self.header = header or {}
        self.device = torch.device(device)
        self.batch_size = int(batch_size)

    @classmethod
    def load(cls, directory, device="cpu", batch_size: int = 64) -> "Generator":
        """A :class:`Generator` from the checkpoint directory written by the trainer."""
        model, diffusion, header = load_generator(directory, device=device)
        return cls(model, diffusion, header, device=device, batch_size=batch_size)

    @property
    def digest(self) -> str:
        """Digest of the EMA weights and the diffusion/denoiser config (identifies what generates)."""
        return self.header.get("ema_digest", "")

    @property
    def layout(self) -> Layout | None:
        """The skeleton layout the generator was trained on (``None`` if the header has none)."""
        d = self.header.get("config", {}).get("layout")
        return Layout.from_dict(d) if d else None

    def generate(self, windows: np.ndarray, n_variants: int = 1, n_obs: int = 30, steps: int = 100, seed: int = 0,
                 batch_size: int | None = None, progress: bool = False, reference: bool = False,
                 precision: str = "float32") -> np.ndarray:
        """Variants of each window: its first ``n_obs`` frames observed, the rest generated (Eq. 4).

        Args:
            windows: (B, H, J, 3) windows (root-offset, metres), as the generator was trained on.
            n_variants: variants per window.
            n_obs: observed frames O.
            steps: DDIM steps (100 in the paper).
            seed: seed of the noise.
            batch_size: windows per denoiser call (default: the generator's).
            progress: tqdm bar on stderr.
            reference: run :meth:`Diffusion.complete_reference` (the step-by-step Eq. 4 with the
                module's forward) instead of :meth:`Diffusion.complete`: the same variants up to
                float32 rounding, slower; for tests and benchmarks.
            precision: ``float32``, or ``bfloat16``: the denoiser in bfloat16, faster on CPUs with
                AVX-512 BF16, not the same variants (:class:`~haad.generator.denoiser.SamplingDenoiser`).

        Returns (B, n_variants, H, J, 3) float32.
        """
        windows = np.asarray(windows, dtype=np.float32)
        d = self.diffusion
        if windows.ndim != 4 or windows.shape[1:] != (d.length, d.num_joints, 3):
            raise ValueError(f"windows must be (B, {d.length}, {d.num_joints}, 3), got {windows.shape}")
        b = len(windows)
        jobs = [(i, v) for i in range(b) for v in range(n_variants)]
        out = np.empty((b, n_variants) + windows.shape[1:], dtype=np.float32)
        bs = int(batch_size or self.batch_size)
        for lo in tqdm(range(0, len(jobs), bs), desc="generate", unit="batch", file=sys.stderr,
                       disable=not progress):
            chunk = jobs[lo:lo + bs]
            x = torch.from_numpy(windows[[i for i, _ in chunk]]).to(self.device)
            gens = [_item_generator(seed, i, v) for i, v in chunk]
            if reference:
                y = d.complete_reference(self.model, x, n_obs=n_obs, steps=steps, generator=gens)
            else:
                y = d.complete(self.model, x, n_obs=n_obs, steps=steps, generator=gens, precision=precision)
            y = y.cpu().numpy()
            for (i, v), yy in zip(chunk, y):
                out[i, v] = yy
        return out
