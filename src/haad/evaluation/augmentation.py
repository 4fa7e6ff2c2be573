"""Generative augmentation inside the protocol: training-time extra positives and support variants.

For a seed s (which also seeds the generation), training-time augmentation gives each seen training
clip ``n_gen_train`` generated variants as extra positives; inference-time augmentation adds
``n_gen_support`` variants of each support clip to the support set. Variants are made only for the
clips that use them, once per seed, and cached on disk by the bank.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from haad.data.collection import Collection
from haad.data.splits import Split
from haad.data.windows import WindowConfig, hold_after, repad
from haad.generator.bank import GenerationSettings
from haad.generator.denoiser import sampling_dtype
from haad.generator.provenance import check_no_leak

MODES = ("none", "train", "support", "both")
COMPLETIONS = ("generator", "hold")


@dataclass(frozen=True)
class AugmentConfig:
    """Attributes:
        mode: ``none``, ``train`` (extra positives), ``support`` (support-set variants) or ``both``.
        generator: generator checkpoint directory (required unless ``mode == "none"``).
        n_gen_train: variants per training clip.
        n_gen_support: variants per support clip.
        n_obs: observed frames O (the rest, 60 - O, is generated).
        steps: DDIM steps (default: :class:`~haad.generator.bank.GenerationSettings`'s).
        bank: augmentation-bank directory (default: ``GENERATOR/bank``).
        keep_padding: give each variant its clip's padding back: frames past the end of a clip shorter
            than the window repeat the variant's frame at that end, as the protocol pads real clips.
            Off by default (the paper's recipe generates all 60 - O frames). On NW-UCLA, where 84% of
            clips are shorter than 60 frames and 47% shorter than 30, the generated futures otherwise
            put motion where every real window of that clip is still.
        select_from: training-time only: generate ``select_from`` candidates per kept variant and keep
            the ``n_gen_train`` that ``judge`` places most firmly in their clip's category
            (:mod:`haad.evaluation.variant_selection`). 1 (default) keeps every variant, as the paper.
        judge: with ``select_from > 1``, an encoder trained without generative augmentation: its
            checkpoint directory, or a directory of ``seed-S`` checkpoints (one per seed, e.g. the
            ``encoders/`` of an ``evaluate --out`` run), so each seed is judged by its own encoder.
        completion: ``generator`` (default) completes the first ``n_obs`` frames with the diffusion
            model; ``hold`` repeats the last observed frame instead (no generator needed), the control
            that tells what the generated motion adds over the observed prefix alone.
        precision: the denoiser's precision while generating (``float32``, or ``bfloat16``: faster on
            CPUs with AVX-512 BF16, other variants; :class:`~haad.generator.bank.GenerationSettings`).
    """

    mode: str = "none"
    generator: str | None = None
    n_gen_train: int = 1
    n_gen_support: int = 1
    n_obs: int = GenerationSettings.n_obs
    steps: int = GenerationSettings.steps
    bank: str | None = None
    keep_padding: bool = False
    select_from: int = 1
    judge: str | None = None
    completion: str = "generator"
    precision: str = GenerationSettings.precision

    def __post_init__(self) -> None:
        sampling_dtype(self.precision)
        if self.mode not in MODES:
            raise ValueError(f"augment mode must be one of {MODES}, got {self.mode!r}")
        if self.completion not in COMPLETIONS:
            raise ValueError(f"completion must be one of {COMPLETIONS}, got {self.completion!r}")
        if self.mode != "none" and self.completion == "generator" and not self.generator:
            raise ValueError(f"augment mode {self.mode!r} needs a generator checkpoint (--generator)")
        if self.completion == "hold" and self.select_from > 1:
            raise ValueError("select_from needs generated variants; with completion 'hold' they are all equal")
        for name in ("n_gen_train", "n_gen_support", "n_obs", "steps", "select_from"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.select_from > 1 and not self.judge:
            raise ValueError("select_from > 1 needs a judge encoder (--judge)")
        if self.select_from > 1 and not self.train:
            raise ValueError(f"select_from applies to training-time variants; augment mode is {self.mode!r}")

    @property
    def train(self) -> bool:
        return self.mode in ("train", "both")

    @property
    def support(self) -> bool:
        return self.mode in ("support", "both")

    def to_dict(self) -> dict:
        """The settings; the later options only when on, so results recorded before them still match."""
        d = asdict(self)
        if not self.keep_padding:
            d.pop("keep_padding")
        if self.select_from == 1:
            d.pop("select_from")
            d.pop("judge")
        if self.completion == "generator":
            d.pop("completion")
        if self.precision == "float32":
            d.pop("precision")
        return d

    def train_settings(self, seed: int | None = None) -> dict:
        """What shapes a training-time-augmented encoder (so ``train`` and ``both`` runs can share it).

        With variant selection, ``seed`` picks the judge whose weights are recorded.
        """
        from haad.storage import file_digest

        if self.completion == "hold":  # no generator, no sampling: only what is held matters
            return {"completion": "hold", "n_gen_train": self.n_gen_train, "n_obs": self.n_obs,
                    **({"keep_padding": True} if self.keep_padding else {})}
        # The generator is identified by its weights, so a retrained generator at the same path
        # is not mistaken for the old one (and a moved one is still recognised).
        settings = {"generator_digest": file_digest(Path(self.generator) / "weights.safetensors"),
                    "n_gen_train": self.n_gen_train, "n_obs": self.n_obs, "steps": self.steps}
        if self.keep_padding:  # only when on, so encoders trained before the option existed still match
            settings["keep_padding"] = True
        if self.precision != "float32":
            settings["precision"] = self.precision
        if self.select_from > 1:
            settings["select_from"] = self.select_from
            if seed is not None:  # the judge is identified by its weights, like the generator
                from haad.evaluation.variant_selection import judge_dir

                settings["judge_digest"] = file_digest(judge_dir(self.judge, seed) / "weights.safetensors")
        return settings


def uses_generator(augment) -> bool:
    """Whether an augmentation setting samples a generator: an :class:`AugmentConfig`, or its form in
    a results file's ``options["augment"]`` (where default fields may be left out)."""
    def get(key, default=None):
        return augment.get(key, default) if isinstance(augment, dict) else getattr(augment, key, default)

    return get("mode", "none") != "none" and bool(get("generator")) and get("completion", "generator") != "hold"


class ProtocolAugmentation:
    """Generated variants for one protocol run: extra training views and support-set variants.

    Per seed, variants are generated (or read from the bank) only for the clips that need them:
    the seen training clips (training-time) and the support clips the protocol draws
    (inference-time). ``lengths`` (frames of real motion per window) is needed with
    ``cfg.keep_padding``. With variant selection, ``selection`` records per seed the judge and the
    share of kept variants nearest their own category.
    """

    def __init__(self, cfg: AugmentConfig, data: Collection, split: Split, windows: np.ndarray,
                 progress: bool = False, lengths: np.ndarray | None = None):
        if cfg.mode == "none":
            raise ValueError("augmentation mode 'none' needs no ProtocolAugmentation")
        if cfg.keep_padding and lengths is None:
            raise ValueError("keep_padding needs the windows' content lengths")
        from haad.generator.bank import AugmentationBank

        self.cfg, self.data, self.split, self.windows, self.lengths = cfg, data, split, windows, lengths
        self.bank = None
        if cfg.completion == "generator":
            check_no_leak(cfg.generator, data, split)
            self.bank = AugmentationBank(cfg.bank or Path(cfg.generator) / "bank", cfg.generator, progress=progress)
        self.selection: dict = {}
        self._cache: dict = {}

    def _variants(self, seed: int, n: int, idx: np.ndarray, tag: str) -> np.ndarray:
        key = (seed, tag)
        if key not in self._cache:
            self._cache.clear()
            cfg = self.cfg
            if self.bank is None:  # completion "hold": n copies of the zero-velocity completion
                v = np.repeat(hold_after(self.windows[idx], cfg.n_obs)[:, None], n, axis=1)
            else:
                settings = GenerationSettings(n_variants=n, n_obs=cfg.n_obs, steps=cfg.steps,
                                              precision=cfg.precision)
                v = self.bank.variants(self.windows[idx], settings, seed)
            self._cache[key] = repad(v, self.lengths[idx]) if cfg.keep_padding else v
        return self._cache[key]

    def training_views(self, seed: int, train_idx: np.ndarray) -> np.ndarray | None:
        """(N, G, H, J, 3) extra views of the training clips ``train_idx``, or None without training-time
        augmentation."""
        cfg = self.cfg
        if not cfg.train:
            return None
        idx = np.asarray(train_idx)
        if cfg.select_from == 1:
            return self._variants(int(seed), cfg.n_gen_train, idx, "train")
        from haad.embedders import EncoderEmbedder
        from haad.evaluation.variant_selection import judge_dir, select_faithful
        from haad.storage import file_digest
        from haad.train import check_encoder_fits, load_encoder

        jdir = judge_dir(cfg.judge, seed)
        judge, header = load_encoder(jdir)
        check_encoder_fits(header, jdir, self.data, self.split, WindowConfig(length=self.windows.shape[1]))
        if header.get("meta", {}).get("augment"):
            raise ValueError(f"judge {jdir} was trained with generative augmentation; use an encoder trained without it")
        candidates = self._variants(int(seed), cfg.n_gen_train * cfg.select_from, idx, "train")
        labels = self.data.labels[idx]
        chosen, rate = select_faithful(candidates, labels, cfg.n_gen_train, EncoderEmbedder(judge, fast=False),
                                       self.windows[idx], labels)
        self.selection[int(seed)] = {"judge": str(jdir), "judge_digest": file_digest(jdir / "weights.safetensors"),
                                     "nearest_own_category": rate}
        return chosen

    def support_variants(self, seed: int, draws: list, category: int) -> np.ndarray | None:
        """(K * G, H, J, 3) variants of ``category``'s support clips, or None without support augmentation.

        ``draws`` are the seed's support draws of every category: their variants are generated in one
        batch (so the bank holds one entry per seed), and the category's rows are returned.
        """
        if not self.cfg.support:
            return None
        rows = np.concatenate(draws)
        v = self._variants(int(seed), self.cfg.n_gen_support, rows, "support")
        start = sum(len(d) for d in draws[:category])
        v = v[start:start + len(draws[category])]
        return v.reshape(-1, *v.shape[2:])
