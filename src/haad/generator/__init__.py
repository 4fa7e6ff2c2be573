"""HumanMAC-style DCT diffusion generator: makes variants of motion windows (generative augmentation).

* :mod:`~haad.generator.denoiser` -- the transformer noise predictor and its size presets.
* :mod:`~haad.generator.diffusion` -- epsilon loss, DDIM and DCT completion (Eq. 2-4); the cosine
  schedule itself is :func:`haad.diffusion_schedule.cosine_betas`.
* :mod:`~haad.generator.train` -- training loop with EMA, augmentation and resumable checkpoints.
* :mod:`~haad.generator.sample` -- :func:`load_generator` and the :class:`Generator` used by the
  augmentation bank.
"""

from haad.generator.denoiser import PRESETS, DenoiserConfig, NoisePredictor, make_config
from haad.generator.diffusion import Diffusion, ddim_timesteps
from haad.generator.sample import Generator, load_generator
from haad.generator.train import GeneratorTrainConfig, train_generator

__all__ = [
    "PRESETS", "DenoiserConfig", "NoisePredictor", "make_config", "Diffusion", "ddim_timesteps",
    "Generator", "GeneratorTrainConfig", "load_generator", "train_generator",
]
