"""Generated variants of a detector's own support clips (inference-time augmentation in deployment).

The evaluation protocol augments the support sets it draws through :mod:`haad.evaluation.augmentation`;
this module does the same for a user's K normal clips: it windows them as the detector does, checks
that the generator was trained on the same skeleton and window, and returns the variants with a
provenance record to save beside the fitted detector.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from haad.generator.bank import GenerationSettings
from haad.storage import file_digest


def support_variants(generator_dir, detector, support, settings: GenerationSettings = GenerationSettings(),
                     seed: int = 0, progress: bool = False) -> tuple[np.ndarray, dict]:
    """Variants of the support clips for ``detector.fit(support, augment=...)``.

    Args:
        generator_dir: a generator checkpoint (``haad train-generator``).
        detector: the :class:`haad.detector.FewShotDetector` to be fitted (its layout and window are used).
        support: the K normal clips, (T, J, 3) each.
        settings: variants per clip, observed frames, DDIM steps.
        seed: seed of the generation noise.
        progress: progress bar on stderr.

    Returns ((K, G, H, J, 3) variants, provenance dict naming the generator, its weights' sha256,
    the settings and the seed).
    """
    from haad.generator.sample import Generator
    from haad.generator.train import GeneratorTrainConfig

    generator_dir = Path(generator_dir)
    gen = Generator.load(generator_dir)
    layout, want = gen.layout, detector.layout
    if layout is not None and tuple(layout.joint_names) != tuple(want.joint_names):
        raise ValueError(f"{generator_dir}: generator trained on the {layout.name!r} skeleton "
                         f"({layout.num_joints} joints), the support clips use {want.name!r} ({want.num_joints} joints)")
    if gen.diffusion.num_joints != want.num_joints:  # checkpoints without a saved layout
        raise ValueError(f"{generator_dir}: generator made for {gen.diffusion.num_joints} joints, "
                         f"the support clips have {want.num_joints}")
    length = gen.diffusion.length
    if length != detector.window.length:
        raise ValueError(f"{generator_dir}: generator windows have {length} frames, the detector's {detector.window.length}")
    if not 1 <= settings.n_obs < length:
        raise ValueError(f"n_obs (observed frames before the generated ones) must be in 1..{length - 1}, "
                         f"got {settings.n_obs}")
    trained = GeneratorTrainConfig.from_dict(gen.header.get("config", {}).get("train", {})).observed_lengths
    if settings.n_obs not in trained:
        warnings.warn(f"{generator_dir} was trained with observed lengths {list(trained)}, not {settings.n_obs}; "
                      "its completions may be poor", stacklevel=2)
    windows = detector.windows(support)
    variants = gen.generate(windows, n_variants=settings.n_variants, n_obs=settings.n_obs, steps=settings.steps,
                            seed=seed, progress=progress, precision=settings.precision)
    provenance = {"generator": str(generator_dir),
                  "generator_sha256": file_digest(generator_dir / "weights.safetensors"),
                  "settings": settings.to_dict(), "seed": int(seed), "support_clips": len(windows)}
    return variants, provenance
