"""Augmentation bank: generated variants of a set of windows, made once and reused from disk.

Each entry is a :mod:`haad.checkpoint` directory ``BANK/<key>/`` holding the variants tensor
(N, G, H, J, 3) and, in its config, what produced them: the generator checkpoint's digest and path,
the generation settings (variants, observed frames, DDIM steps), the seed and a digest of the input
windows. The key is a hash of all of those, so an entry is reused exactly when nothing changed and a
changed generator, setting, seed or input makes a new one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from haad.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from haad.generator.denoiser import sampling_dtype
from haad.storage import array_digest, bytes_digest, file_digest

BANK_KIND = "augmentation-bank"


@dataclass(frozen=True)
class GenerationSettings:
    """How variants are generated: ``n_variants`` per window, ``n_obs`` observed frames, DDIM ``steps``,
    and the denoiser's ``precision`` (``float32``, or ``bfloat16``: faster on CPUs with AVX-512 BF16,
    other variants; :class:`~haad.generator.denoiser.SamplingDenoiser`).

    ``steps`` defaults to 20, not the paper's 100: on both datasets 20 steps gave the same mean AUC as
    100 within the seed noise (benchmarks/README.md, "DDIM steps") at a fifth of the cost."""

    n_variants: int = 1
    n_obs: int = 30
    steps: int = 20
    precision: str = "float32"

    def __post_init__(self) -> None:
        if self.n_variants < 1 or self.n_obs < 1 or self.steps < 1:
            raise ValueError(f"generation settings must be positive, got {self}")
        sampling_dtype(self.precision)

    def to_dict(self) -> dict:
        """The settings; ``precision`` only when not float32, so entries made before it still match."""
        d = asdict(self)
        if self.precision == "float32":
            d.pop("precision")
        return d


class AugmentationBank:
    """Generated variants cached under ``directory``.

    Args:
        directory: the bank's folder (created on first write).
        generator_dir: the generator checkpoint used (its weights' digest identifies it).
        generator: a loaded :class:`haad.generator.sample.Generator` (loaded lazily when ``None``).
    """

    def __init__(self, directory, generator_dir, generator=None, progress: bool = False):
        self.directory = Path(directory)
        self.generator_dir = Path(generator_dir)
        weights = self.generator_dir / "weights.safetensors"
        if not weights.is_file():
            raise CheckpointError(f"{self.generator_dir}: not a generator checkpoint (no weights.safetensors)")
        self.generator_digest = file_digest(weights)
        self._generator = generator
        self.progress = progress

    @property
    def generator(self):
        if self._generator is None:
            from haad.generator.sample import Generator

            self._generator = Generator.load(self.generator_dir)
        return self._generator

    def key(self, windows_digest: str, settings: GenerationSettings, seed: int) -> str:
        blob = json.dumps({"generator": self.generator_digest, "windows": windows_digest,
                           "settings": settings.to_dict(), "seed": int(seed)}, sort_keys=True)
        return bytes_digest(blob.encode(), length=24)

    def variants(self, windows: np.ndarray, settings: GenerationSettings = GenerationSettings(),
                 seed: int = 0) -> np.ndarray:
        """(N, G, H, J, 3) variants of ``windows``: read from the bank, or generated and stored."""
        windows = np.asarray(windows, dtype=np.float32)
        wd = array_digest(windows)
        entry = self.directory / self.key(wd, settings, seed)
        if (entry / "config.json").is_file():
            tensors, header = load_checkpoint(entry, kind=BANK_KIND)
            cfg = header["config"]
            if cfg["windows_digest"] == wd and cfg["generator_digest"] == self.generator_digest:
                return tensors["variants"].numpy()
        out = self.generator.generate(windows, n_variants=settings.n_variants, n_obs=settings.n_obs,
                                      steps=settings.steps, seed=seed, progress=self.progress,
                                      precision=settings.precision)
        save_checkpoint(entry, {"variants": torch.from_numpy(out)}, BANK_KIND, {
            "generator_dir": str(self.generator_dir), "generator_digest": self.generator_digest,
            "settings": settings.to_dict(), "seed": int(seed), "windows_digest": wd,
            "shape": list(out.shape)})
        return out
