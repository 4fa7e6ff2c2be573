"""Using a few-shot detector on a person's own data: fit it on their K normal clips, score clips or long
recordings, and write one row per clip (or window) — what ``haad detect`` does, as a library.

:func:`fit_detector` builds and fits a :class:`~haad.detector.FewShotDetector` from a support
collection; :func:`score_rows` scores a collection with it (the windows of all clips in chunks, see
:func:`~haad.detector.stream_chunk`: per-clip calls cost far more, and a long recording's windows are
cut a chunk at a time, so the memory beyond the recording and the rows stays bounded) and returns the
rows; :func:`iter_rows` gives the same rows chunk by chunk, and :func:`write_csv` writes either
atomically (rows that come one by one go to disk as they come, so nothing grows with the recording).
"""

from __future__ import annotations

import copy
import csv
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from haad.data.collection import Collection
from haad.data.windows import WindowConfig
from haad.detector import FewShotDetector, check_alpha, stream_chunk
from haad.generator.bank import GenerationSettings
from haad.preprocess import preprocessor_for
from haad.storage import atomic_path
from haad.support_copies import check_support_fields, check_upright

EXPLAIN_METHODS = ("occlusion", "embedding")
CHUNK = None  # windows scored (and explained) together; None: haad.detector.stream_chunk()


@dataclass(frozen=True)
class SupportConfig:
    """How a detector is made from a support collection.

    Attributes:
        category: the normal category's name (``None``: every clip of the collection is normal).
        k_shot: use only the first K clips of that category (``None``: all of them).
        threshold_quantile: the threshold is this quantile of the support set's leave-one-out scores.
        generation: with a generator, the generated support variants' settings.
        generation_seed: seed of the generation noise.
        scale: ``none``, or ``pool``: distances in units of normal variation (docs/METHOD.md, Eq. W2),
            the spread of every embedding dimension over *all* the category's clips in the support
            collection (the pool), of which the first ``k_shot`` form the support set.
        scale_eps: the floor of ``pool`` scaling, a fraction of the mean spread.
        window: how clips become windows (``crop="resample"``: a whole episode in one window, for
            deviations that may come late in it; not for streams); ``None``: the window the encoder
            records (the built-in encoder's: whole clips resampled), else the first frames
            (:class:`~haad.data.windows.WindowConfig`'s defaults). Streams need ``crop="first"``.
        distance: the support distance, ``mean`` (Eq. 6) or ``nearest`` (Eq. 6n); ``None``: the one the
            encoder records (:attr:`haad.encoders.EncoderChoice.distance`: ``nearest`` for the built-in
            encoder), else ``mean``.
        turns: angles (degrees) by which every support window, turned about the vertical axis, joins the
            support set (an encoder on the canonical, normalised skeleton only); ``None``: the ones the
            encoder records (:attr:`haad.encoders.EncoderChoice.turns`: every 15 degrees from -90 to 90 for
            the built-in encoder), else none.
        warps: time-warp exponents by which every support window, warped, joins the support set
            (:func:`haad.support_copies.warped`); ``None``: the ones the encoder records
            (:attr:`haad.encoders.EncoderChoice.warps`: (0.7, 0.8, 1.25, 1.4) for the built-in encoder), else none.
    """

    category: str | None = None
    k_shot: int | None = None
    threshold_quantile: float = 1.0
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    generation_seed: int = 0
    scale: str = "none"
    scale_eps: float = 1e-3
    window: WindowConfig | None = None
    distance: str | None = None
    turns: tuple | None = None
    warps: tuple | None = None

    def __post_init__(self) -> None:
        if self.scale not in ("none", "pool"):
            raise ValueError(f"scale must be none or pool, got {self.scale!r}")
        check_support_fields(self)


@dataclass(frozen=True)
class ScoreConfig:
    """How a fitted detector scores a collection.

    Attributes:
        stream: every clip is a long recording, scored by sliding windows.
        hop: frames between window starts with ``stream``.
        alpha: flag by conformal p-value <= alpha instead of the threshold.
        explain: list this many joints that weigh most in each score (0: no explanation).
        explain_method: ``occlusion`` or ``embedding`` (see :mod:`haad.explain`).
    """

    stream: bool = False
    hop: int = 10
    alpha: float | None = None
    explain: int = 0
    explain_method: str = "occlusion"

    def __post_init__(self) -> None:
        if self.hop < 1:
            raise ValueError(f"hop must be >= 1, got {self.hop}")
        if self.explain < 0:
            raise ValueError(f"explain {self.explain}: expected a number of joints >= 0")
        if self.explain_method not in EXPLAIN_METHODS:
            raise ValueError(f"explain_method must be one of {EXPLAIN_METHODS}, got {self.explain_method!r}")


def pool_indices(support: Collection, config: SupportConfig, name: str = "support") -> np.ndarray:
    """The clips of the normal category in ``support`` (all of them: the pool the support set is taken from)."""
    if config.category is None:
        return np.arange(len(support))
    if config.category not in support.class_names:
        raise ValueError(f"category {config.category!r} not in {name}: {support.class_names}")
    return np.flatnonzero(support.labels == support.class_names.index(config.category))


def support_indices(support: Collection, config: SupportConfig, name: str = "support") -> np.ndarray:
    """The clips of ``support`` that form the support set (``name`` labels the collection in errors)."""
    idx = pool_indices(support, config, name)
    if config.k_shot is not None:
        if config.k_shot > len(idx):
            what = f"category {config.category!r}" if config.category is not None else "it"
            raise ValueError(f"k_shot {config.k_shot}: {name} has only {len(idx)} clips of {what}")
        idx = idx[: config.k_shot]
    if len(idx) == 0:
        raise ValueError(f"{name}: no support clips")
    return idx


def for_input(detector: FewShotDetector, data: Collection, name: str, joint_map=None) -> FewShotDetector:
    """The detector ready for clips recorded like ``data``.

    A detector with a preprocessor (a pretrained encoder) takes any skeleton it can map: it gets a
    preprocessor for ``data``'s layout, frame rate and handedness (kept when ``data`` is recorded
    like the support clips). Without one, ``data`` must use the detector's own layout, joint for joint:
    two layouts with the same number of joints in another order are refused, not compared.
    """
    if detector.preprocessor is None:
        if tuple(data.layout.joint_names) != tuple(detector.layout.joint_names):
            raise ValueError(f"{name}: layout {data.layout.name!r} ({data.layout.num_joints} joints) differs from the "
                             f"detector's {detector.layout.name!r} ({detector.layout.num_joints} joints); joints: "
                             f"{', '.join(data.layout.joint_names)} against {', '.join(detector.layout.joint_names)}")
        return detector
    from haad.canonical import map_layout

    pre = detector.preprocessor
    if data.fps == pre.fps and map_layout(data.layout, joint_map) == pre.mapping:
        return detector  # recorded like the support clips: their preprocessor, handedness included
    new = copy.copy(detector)
    new.layout = data.layout
    new.preprocessor = preprocessor_for(data, pre.normalization, joint_map)
    return new


def fit_detector(support: Collection, encoder=None, config: SupportConfig = SupportConfig(), generator_dir=None,
                 alpha: float | None = None, name: str = "support", joint_map=None,
                 progress: bool = False) -> FewShotDetector:
    """A detector fitted on the support clips ``config`` selects.

    Args:
        support: the collection holding the normal clips.
        encoder: an encoder spec (``None``: the built-in pretrained encoder; ``"dct"``; a checkpoint
            path; see :mod:`haad.encoders`), a resolved :class:`~haad.encoders.EncoderChoice`, or an
            embedder callable used as it is.
        config: which clips, the threshold, the generation settings.
        generator_dir: add generated variants of the support clips (per-dataset encoders only).
        alpha: a p-value level to check against the support size.
        name: the support collection's name in messages.
        joint_map: for a pretrained encoder, ``{source joint name: canonical joint name}`` for names
            the alias table does not know (or the path of such a JSON file).
        progress: progress bar while generating.

    Everything that can be refused (``alpha``, an unmappable layout, a generator with a pretrained
    encoder) is checked before anything is generated or fitted.
    """
    from haad.encoders import EncoderChoice, resolve_encoder, support_settings
    from haad.preprocess import preprocessor_for

    idx = support_indices(support, config, name)
    pool = pool_indices(support, config, name) if config.scale == "pool" else None
    if pool is not None and len(pool) < 2:
        raise ValueError(f"scale pool: {name} has {len(pool)} clip(s) of the category; the spread of normal "
                         "executions needs at least 2 (more than K make it worth having)")
    if alpha is not None:
        check_alpha(alpha, len(idx), "alpha")
    if isinstance(encoder, EncoderChoice):
        chosen = encoder
    else:
        chosen = resolve_encoder(encoder) if encoder is None or isinstance(encoder, (str, Path)) else None
    embedder = chosen.embedder if chosen is not None else encoder
    preprocessor = None
    trained_on = ((chosen.header or {}).get("meta", {}).get("layout") or {}) if chosen is not None else {}
    if chosen is not None and chosen.pretrained is None and trained_on.get("joint_names") is not None \
            and list(trained_on["joint_names"]) != list(support.layout.joint_names):
        raise ValueError(f"encoder {chosen.spec} was trained on layout {trained_on.get('name')!r}; {name} uses "
                         f"{support.layout.name!r} (joints {', '.join(support.layout.joint_names)}): a per-dataset "
                         "encoder takes its own layout only (the built-in pretrained encoder maps any layout)")
    if chosen is not None and chosen.normalization is not None:  # the canonical skeleton, normalised
        if generator_dir is not None:
            raise ValueError("generated support variants need a per-dataset encoder (the generator works on the "
                             f"dataset's own skeleton); {chosen.spec} takes the recorded clips only")
        preprocessor = preprocessor_for(support.subset(idx), chosen.normalization, joint_map)
    window = config.window or (chosen.window if chosen is not None else None) or WindowConfig()
    distance, turns, warps = support_settings(config, chosen)
    check_upright(turns, preprocessor is not None, f"encoder {chosen.spec}" if chosen is not None else "this embedder")
    det = FewShotDetector(embedder, support.layout, window, threshold_quantile=config.threshold_quantile,
                          preprocessor=preprocessor, distance=distance, turns=turns, warps=warps)
    if pool is not None:
        from haad.distances import pool_scale
        from haad.embedders import ScaledEmbedder

        weights = pool_scale(det.embed([support.clips[i] for i in pool]), config.scale_eps)
        det.embedder = ScaledEmbedder(embedder, weights)
        det.provenance["scale"] = {"pool": f"{len(pool)} clips of {config.category or name}", "eps": config.scale_eps}
    clips = [support.clips[i] for i in idx]
    extra = None
    if generator_dir is not None:
        from haad.generator.support import support_variants

        if config.generation.n_obs >= det.window.length:
            raise ValueError(f"n_obs {config.generation.n_obs}: must be below the window's {det.window.length} frames")
        extra, det.provenance = support_variants(generator_dir, det, clips, config.generation,
                                                 config.generation_seed, progress=progress)
        det.provenance.update(support=name, category=config.category)
    if chosen is not None:
        det.provenance["encoder"] = chosen.spec
    return det.fit(clips, augment=extra)


def score_rows(detector: FewShotDetector, data: Collection, config: ScoreConfig = ScoreConfig(),
               name: str = "input", joint_map=None) -> list[dict]:
    """One row per clip (per window with ``config.stream``): clip, category, start_frame, score, p_value,
    anomalous, and top_joints with ``config.explain`` (``name`` labels the collection in errors;
    ``joint_map`` maps its joint names for a pretrained encoder, see :func:`for_input`)."""
    return list(iter_rows(detector, data, config, name, joint_map))


def iter_rows(detector: FewShotDetector, data: Collection, config: ScoreConfig = ScoreConfig(),
              name: str = "input", joint_map=None):
    """:func:`score_rows`' rows, one chunk of windows at a time: what is checked before scoring is
    checked when this is called, and the rows of a chunk come once it is scored, so that a long
    recording's rows can go to disk (:func:`write_csv`) without being held."""
    detector = for_input(detector, data, name, joint_map)
    if len(data.clips) == 0:
        raise ValueError(f"{name}: no clips to score")
    if config.alpha is not None:
        check_alpha(config.alpha, detector.n_real_support_, "alpha")
    method = config.explain_method
    if config.explain and method == "occlusion" and detector.support_windows_ is None:
        warnings.warn("this detector was saved before detectors kept their support windows; explanations fall "
                      "back to the embedding split (refit it on its support clips for occlusion)", stacklevel=2)
        method = "embedding"
    names = detector.window_layout.joint_names
    return _rows(detector, data, config, method, names)


def _rows(detector: FewShotDetector, data: Collection, config: ScoreConfig, method: str, names):
    def score_chunk(owners: list, starts: list, clips: list):
        # Prepared (mapped, normalised, cut to the window) in blocks of frames (BaseDetector.windows), so
        # their float64 temporaries stay bounded; the chunk's float32 windows are the one large array.
        windows = detector.windows(clips)
        emb = detector.embed(windows)
        scores, p_values = detector.score_embeddings(emb), detector.p_values_embeddings(emb)
        flags = p_values <= config.alpha if config.alpha is not None else scores > detector.threshold_
        shares = detector.explain(windows, method=method) if config.explain else None
        for w, (i, start) in enumerate(zip(owners, starts)):
            row = {"clip": data.names[i], "category": data.class_names[data.labels[i]], "start_frame": start,
                   "score": f"{scores[w]:.6f}", "p_value": f"{p_values[w]:.6f}", "anomalous": int(flags[w])}
            if shares is not None:
                top = np.argsort(shares[w])[::-1][: config.explain]
                row["top_joints"] = " ".join(f"{names[j]}:{shares[w, j]:.2f}" for j in top)
            yield row

    # Windows are scored (and explained) in chunks: far cheaper than clip by clip, and a long recording's
    # windows are cut from it (views) as its chunks fill, never all at once.
    chunk = CHUNK if CHUNK is not None else stream_chunk()
    owners, starts, windows = [], [], []
    for i, clip in enumerate(data.clips):
        if config.stream:
            clip = np.asarray(clip)
        st, h = detector.stream_starts(clip, config.hop) if config.stream else ([0], None)
        for s in st:
            owners.append(i)
            starts.append(int(s))
            windows.append(clip if h is None else clip[s:s + h])
            if len(windows) == chunk:
                yield from score_chunk(owners, starts, windows)
                owners, starts, windows = [], [], []
    if windows:
        yield from score_chunk(owners, starts, windows)


def write_csv(rows, path) -> tuple[int, int]:
    """Write rows of :func:`score_rows` (a list, or :func:`iter_rows` as they come) as a CSV file,
    atomically: they go to a temporary file beside ``path`` as they arrive, which replaces ``path``
    only once every row is written (an error on the way leaves ``path`` as it was). Returns the
    number of rows and of rows flagged anomalous."""
    n = flagged = 0
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = None
        for row in rows:
            if writer is None:
                writer = csv.DictWriter(f, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(row)
            n, flagged = n + 1, flagged + int(row["anomalous"])
        if writer is None:
            raise ValueError(f"{path}: no rows to write")
    return n, flagged
