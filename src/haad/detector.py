"""The few-shot detector (Algorithm 2, Eq. 6): embedding distance to K normal support clips (mean, or nearest: Eq. 6n).

``fit(support)`` embeds K normal clips (and optionally generated variants of them);
``decision_function(X)`` is the mean Euclidean distance of each example's embedding to the support
embeddings (higher = more anomalous); ``predict`` thresholds it with a threshold calibrated on the
support set alone (its leave-one-out scores, ``decision_scores_``), re-settable without refitting,
or with conformal p-values (``p_values``, ``predict(X, alpha=...)``) whose false-positive rate is at
most alpha on average over support sets when normal clips are exchangeable with the support ones
(benchmarks/README.md, "Thresholds"). It follows :class:`~haad.base_detector.BaseDetector`, the
contract every baseline shares.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from haad.base_detector import BaseDetector
from haad.checkpoint import CheckpointError, load_checkpoint, prefixed_state, save_checkpoint
from haad.data.windows import WindowConfig
from haad.distances import check_distance, exact_distances, reduce_distances, split_parts, support_distance
from haad.embedders import BoneDCTEmbedder, DCTEmbedder, EncoderEmbedder, HybridEmbedder, ScaledEmbedder
from haad.encoder import ActionEncoder
from haad.geometry import check_turns
from haad.explain import embedding_split, normalize_shares, occlusion_drops
from haad.preprocess import Preprocessor
from haad.skeleton import Layout
from haad.support_copies import check_upright, check_warps, copy_windows

DETECTOR_KIND = "fewshot-detector"
# Windows of a long recording embedded together with one torch thread (score_stream, haad detect
# --stream); with more threads, the fast encoder path's batch (see stream_chunk).
SINGLE_THREAD_CHUNK = 256


def stream_chunk() -> int:
    """Windows of a long recording prepared and embedded together, for torch's current thread count.

    The chunk bounds the memory scoring needs beyond the recording (its windows and the encoder's
    activations). One thread: 256 windows, as fast as 1,024 (see :data:`haad.embedders.FAST_BATCH`), and
    ``haad detect --stream``'s peak RSS stays flat with the recording's length (benchmarks/README.md,
    "Speed"). Several threads: ``FAST_BATCH`` (1,024), since each batch costs every thread
    synchronisations that are slow on shared cores; the allocator then keeps more between chunks.
    """
    from haad.embedders import FAST_BATCH

    return SINGLE_THREAD_CHUNK if torch.get_num_threads() == 1 else FAST_BATCH


def check_alpha(alpha: float, k: int, name: str = "alpha") -> None:
    """Refuse a p-value level that K real support clips cannot reach (p-values are multiples of 1/(K+1))."""
    if k < 2:
        raise ValueError(f"{name} needs at least 2 recorded support clips (with {k}, every p-value is 1)")
    if not 1 / (k + 1) <= alpha < 1:
        raise ValueError(f"{name} {alpha}: with {k} support clips p-values are multiples of 1/{k + 1}, so it must "
                         f"be in [1/{k + 1}, 1), e.g. {math.ceil(1e4 / (k + 1)) / 1e4}")


def support_origins(k: int, n_copies: int, n_rows: int | None = None) -> np.ndarray:
    """The origin of every one of ``n_rows`` support rows (default: no generated variants) laid out as ``fit``
    lays them out: the K recorded clips, then the K copies of each turn and warp
    (:func:`haad.support_copies.copy_windows`, copy after copy), then generated variants (each its own origin)."""
    n_extra = 0 if n_rows is None else n_rows - k * (1 + n_copies)
    return np.concatenate([np.arange(k), np.tile(np.arange(k), n_copies), k + np.arange(n_extra)])


class FewShotDetector(BaseDetector):
    """Embedding distance to a small support set of normal clips: the mean (Eq. 6) or the nearest (Eq. 6n).

    Args:
        embedder: a callable mapping (N, H, J, 3) windows to (N, D) embeddings (an embedder of
            :mod:`haad.embedders`: a trained encoder's, the DCT, bone directions, a pretrained encoder's
            hybrid, any of them pool-scaled).
        layout: skeleton layout of the clips (its root joint is used for normalisation).
        window: how clips become windows (protocol default).
        threshold_quantile: quantile of the support set's leave-one-out scores used as threshold.
        preprocessor: maps and normalises clips into the encoder's space first (a pretrained encoder's).
        distance: ``mean`` (Eq. 6, the paper's), ``nearest`` (Eq. 6n: the distance to the nearest support
            embedding) or ``part-nearest`` (Eq. 6p: for an embedding made of parts, the hybrid one, the sum
            of each part's distance to its nearest support embedding; what the built-in encoder records,
            :attr:`haad.encoders.EncoderChoice.distance`).
        turns: angles in degrees; ``fit`` adds each support window turned about the vertical axis by each
            of them to the support set (as extra support, like generated variants: left out of the
            p-values). Windows must be y-up, as the canonical, normalised space of a ``preprocessor``
            makes them (the built-in encoder records every 15 degrees from -90 to 90:
            :attr:`haad.encoders.EncoderChoice.turns`).
        warps: time-warp exponents; ``fit`` adds each support window time-warped by each of them
            (:func:`haad.support_copies.warped`) to the support set, like the turns (the built-in encoder
            records (0.7, 0.8, 1.25, 1.4): :attr:`haad.encoders.EncoderChoice.warps`).

    Fitted attributes: ``part_dims_`` (the widths of the embedding's parts, from the embedder's
    ``part_dims``; ``None``: one part), ``support_embeddings_`` (K', D), ``decision_scores_`` (K',: each support
    embedding's leave-one-out score), ``threshold_``, ``n_real_support_`` (the first rows of
    ``support_embeddings_`` that are recorded clips; the rest are generated variants),
    ``support_windows_`` (the recorded support clips' windows, kept by ``fit`` for occlusion
    explanations; ``None`` after ``fit_embeddings``). ``provenance`` (a JSON-able dict, empty by
    default) is saved with the detector: what its support set was made from, e.g. the generator
    that made extra support variants.
    """

    name = "fewshot"

    def __init__(self, embedder, layout: Layout, window: WindowConfig = WindowConfig(),
                 threshold_quantile: float = 1.0, preprocessor: Preprocessor | None = None,
                 distance: str = "mean", turns=(), warps=()):
        self.embedder = embedder
        self.distance = check_distance(distance)
        self.turns = check_turns(turns)
        self.warps = check_warps(warps)
        self.layout = layout
        self.window = window
        self.threshold_quantile = threshold_quantile
        self.preprocessor = preprocessor
        self.provenance: dict = {}

    def prepare_frames(self, frames: np.ndarray, lengths) -> tuple[np.ndarray, np.ndarray]:
        """Through the preprocessor (a pretrained encoder's canonical, normalised space) when there is one."""
        if self.preprocessor is None:
            return frames, np.asarray(lengths)
        return self.preprocessor.frames(frames, lengths)

    @property
    def window_layout(self) -> Layout:
        return self.layout if self.preprocessor is None else self.preprocessor.layout

    def embed(self, X) -> np.ndarray:
        """(N, D) embeddings of clips or windows."""
        windows = self.windows(X)
        if windows.shape[1] != self.window.length:
            raise ValueError(f"windows of {windows.shape[1]} frames; this detector embeds {self.window.length}")
        return self.embedder(windows)

    def fit(self, X, augment=None) -> "FewShotDetector":
        """Fit on K normal clips (or their windows).

        Args:
            X: the K support clips (T, J, 3) of the normal category, or their (K, H, J, 3) windows.
            augment: optional extra support windows (e.g. generated variants), shape (M, H, J, 3)
                or (K, G, H, J, 3); they join the support set as they are (already windowed).

        With :attr:`turns` and :attr:`warps`, the support windows turned by each angle and warped by each
        exponent join the support set too.
        """
        check_upright(self.turns, self.preprocessor is not None, "a detector without a preprocessor")
        windows = self.windows(X)
        emb = self.embed(windows)
        n_copies = len(self.turns) + len(self.warps)
        extra = [self.embedder(copy_windows(windows, self.turns, self.warps))] if n_copies else []
        if augment is not None:
            extra.append(self.embedder(np.asarray(augment, dtype=np.float32).reshape(
                -1, self.window.length, self.window_layout.num_joints, 3)))
        rows = np.concatenate([emb, *extra]) if extra else emb
        self.fit_embeddings(rows, n_real=len(emb), origins=support_origins(len(emb), n_copies, len(rows)))
        self.support_windows_ = windows  # for occlusion explanations
        return self

    def fit_embeddings(self, embeddings: np.ndarray, n_real: int | None = None, origins=None,
                       part_dims=None) -> "FewShotDetector":
        """Fit directly on support embeddings (the evaluation loop embeds a dataset once per seed).

        ``n_real``: how many of the first rows embed real recorded clips (default all); the rest are
        generated variants or turned or warped copies, which :meth:`p_values` leaves out.
        ``origins``: one label per row, the recorded clip it was made from (:func:`support_origins`);
        a row's leave-one-out score leaves out every row of its origin, since a turned or warped copy of a
        clip sits next to it and would make the threshold as small as the turn or warp. Default: every row its own.
        ``part_dims``: the widths of the embedding's parts (default: the embedder's ``part_dims``, else one part).
        """
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim != 2 or len(emb) == 0:
            raise ValueError(f"need at least one support embedding, got shape {emb.shape}")
        n_real = len(emb) if n_real is None else int(n_real)
        if not 1 <= n_real <= len(emb):
            raise ValueError(f"n_real must be in 1..{len(emb)}, got {n_real}")
        self.support_embeddings_ = emb
        self.n_real_support_ = n_real
        self.support_windows_ = None  # fit() sets them; embeddings alone do not give them
        if origins is not None and len(origins) != len(emb):
            raise ValueError(f"{len(origins)} origins for {len(emb)} support embeddings")
        self.part_dims_ = tuple(part_dims) if part_dims is not None else getattr(self.embedder, "part_dims", None)
        split_parts(emb, self.part_dims_)  # the widths must make up the embedding
        if len(emb) > 1:
            loo = 0
            for part in self._parts(emb):
                part = torch.from_numpy(np.ascontiguousarray(part))
                d = exact_distances(part, part)
                loo = loo + (reduce_distances(d, self.distance, exclude_self=True) if origins is None
                             else reduce_distances(d, self.distance, groups=origins))
            self.decision_scores_ = loo.numpy().astype(np.float32)
        else:
            self.decision_scores_ = np.zeros(1, dtype=np.float32)
        self.set_threshold(quantile=self.threshold_quantile)
        return self

    def _parts(self, emb: np.ndarray) -> list:
        """``emb``'s column blocks that the distance treats apart: the parts under Eq. 6p, else all of it."""
        return split_parts(emb, self.part_dims_) if self.distance == "part-nearest" else [emb]

    def support_summary(self) -> str:
        """The support set in words: the recorded clips, their turned and warped copies and the generated variants."""
        self._check_fitted()
        k = self.n_real_support_
        n_turned = min(k * len(self.turns), len(self.support_embeddings_) - k)
        n_warped = min(k * len(self.warps), len(self.support_embeddings_) - k - n_turned)
        n_generated = len(self.support_embeddings_) - k - n_turned - n_warped
        text = f"{k} recorded clips"
        if n_turned:
            text += f" + {n_turned} turned copies ({', '.join(f'{t:g}' for t in self.turns)} degrees)"
        if n_warped:
            text += f" + {n_warped} time-warped copies (exponents {', '.join(f'{g:g}' for g in self.warps)})"
        if n_generated:
            text += f" + {n_generated} generated variants"
        return text

    def decision_function(self, X) -> np.ndarray:
        """Anomaly score per example: the mean Euclidean distance to the support embeddings (Eq. 6), the
        distance to the nearest one (Eq. 6n), or that part by part, summed (Eq. 6p), as :attr:`distance` says."""
        self._check_fitted()
        return self.score_embeddings(self.embed(X))

    def score_embeddings(self, embeddings: np.ndarray) -> np.ndarray:
        """:meth:`decision_function` of examples already embedded."""
        self._check_fitted()
        return support_distance(embeddings, self.support_embeddings_, self.distance, self.part_dims_)

    def p_values(self, X) -> np.ndarray:
        """Conformal p-value of each clip being normal (small = anomalous); see :meth:`p_values_embeddings`."""
        return self.p_values_embeddings(self.embed(X))

    def p_values_embeddings(self, embeddings: np.ndarray) -> np.ndarray:
        """Full-conformal p-values against the K real support clips.

        For a clip x, the bag {x, s_1..s_K} scores each member by its distance to the other K (their mean,
        or the nearest, as :attr:`distance` says); p = (number of members scoring at least x's score) /
        (K + 1). If x and the support clips are exchangeable (a normal clip recorded like the support
        ones), P(p <= a) <= a for every a, so ``predict(clips, alpha=a)`` flags at most a share a of
        normal clips, on average over support sets (one particular support set can do worse). With K >= 2
        the smallest p-value is 1 / (K + 1): three support clips cannot vouch for a false-positive rate
        below 25%; with K = 1 every p-value is 1. Generated support variants and turned or warped copies are not
        exchangeable with recorded clips and are left out.
        """
        self._check_fitted()
        k = self.n_real_support_
        emb = np.ascontiguousarray(embeddings, dtype=np.float32)
        score_x, score_s = 0, 0
        for q_part, s_part in zip(self._parts(emb), self._parts(self.support_embeddings_[:k])):
            sup, q = torch.from_numpy(np.ascontiguousarray(s_part)), torch.from_numpy(np.ascontiguousarray(q_part))
            d_qs = exact_distances(q, sup)                        # (N, K)
            d_ss = exact_distances(sup, sup)                      # (K, K)
            if self.distance == "mean":
                # Every member's score is a sum over K distances, so the sums compare like the means.
                score_x = score_x + d_qs.sum(dim=1, keepdim=True)  # x's summed distance to the K others
                score_s = score_s + d_ss.sum(dim=1)[None] + d_qs    # s_i's, with x in the bag
            else:  # the nearest, part by part under Eq. 6p
                others = (reduce_distances(d_ss, "nearest", exclude_self=True) if k > 1
                          else torch.full((1,), float("inf"), dtype=d_ss.dtype))
                score_x = score_x + d_qs.min(dim=1, keepdim=True).values  # x's nearest of the K others
                score_s = score_s + torch.minimum(others[None], d_qs)     # s_i's nearest, with x in the bag
        return ((score_s >= score_x).sum(dim=1).numpy() + 1) / (k + 1)

    def explain(self, X, method: str = "occlusion", batch_size: int = 256, normalize: bool = True) -> np.ndarray:
        """Per-joint share of each example's anomaly, (N, J), rows sum to 1 (higher = more to blame).

        ``method``: ``occlusion`` (default; needs the support windows, which ``fit`` keeps) or
        ``embedding`` (see :mod:`haad.explain`). With ``normalize=False`` (occlusion only) the rows
        are the score drops themselves, in score units and clipped at 0, so examples can be compared:
        a normal clip's drops are small even where its shares look decisive.
        """
        self._check_fitted()
        if method == "embedding":
            if not normalize:
                raise ValueError("normalize=False needs method='occlusion' (the embedding split has no score units)")
            return embedding_split(self, self.windows(X))
        if method != "occlusion":
            raise ValueError(f"method must be 'occlusion' or 'embedding', got {method!r}")
        drops = occlusion_drops(self, self.windows(X), batch_size)
        return normalize_shares(drops) if normalize else drops

    def check_streamable(self) -> None:
        """Refuse to slide windows over a recording when the support windows are whole clips squeezed into
        one window (crop resample): slices of a recording would be compared at another time scale."""
        if self.window.crop == "resample":
            raise ValueError("stream: this detector resamples each whole clip to one window (crop resample); a long "
                             "recording needs sliding windows of fixed length: fit it with haad detect --support ... "
                             "--stream or --crop first (Python: SupportConfig(window=WindowConfig(crop='first')))")

    def stream_starts(self, stream: np.ndarray, hop: int = 10) -> tuple[np.ndarray, int]:
        """The sliding windows over a long (T, J, 3) recording without cutting them: (start frames, input
        frames per window); window i is ``stream[starts[i]:starts[i] + frames]``.

        Windows of ``window.length`` frames (counted at the encoder's frame rate: a preprocessor that
        resamples gets the same span of time in input frames) start every ``hop`` input frames (the last
        one ends at the last frame; a recording shorter than a window gives one, padded when windowed).
        """
        if hop < 1:
            raise ValueError(f"hop must be >= 1, got {hop}")
        self.check_streamable()
        h = self.window.length
        pre = self.preprocessor
        if pre is not None and pre.fps is not None and pre.normalization.fps is not None:
            # The preprocessor resamples each window to the encoder's rate: cut the same span of time.
            h = max(1, int(round(h * pre.fps / pre.normalization.fps)))
        shape = np.shape(stream)
        if len(shape) != 3 or shape[1:] != (self.layout.num_joints, 3) or shape[0] == 0:
            raise ValueError(f"stream: expected (frames, {self.layout.num_joints}, 3), got {shape}")
        frames = shape[0]
        starts = list(range(0, max(frames - h, 0) + 1, hop))
        if frames > h and starts[-1] != frames - h:
            starts.append(frames - h)
        return np.asarray(starts), h

    def stream_windows(self, stream: np.ndarray, hop: int = 10) -> tuple[np.ndarray, list]:
        """Sliding windows over a long (T, J, 3) recording: (start frames, the windows as views of ``stream``),
        see :meth:`stream_starts`; each is normalised on its own first frame like any clip when windowed.
        Every window at once: :meth:`score_stream` and ``haad detect --stream`` cut them chunk by chunk."""
        stream = np.asarray(stream)
        starts, h = self.stream_starts(stream, hop)
        return starts, [stream[s:s + h] for s in starts]

    def score_stream(self, stream: np.ndarray, hop: int = 10, chunk: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Score a long (T, J, 3) recording with sliding windows (:meth:`stream_starts`): (start frames, scores).

        The windows are cut from ``stream`` (views), prepared and embedded ``chunk`` at a time (default
        :func:`stream_chunk`), so the memory beyond the recording itself and the scores stays bounded
        however long it is (benchmarks/README.md, "Speed").
        """
        self._check_fitted()
        chunk = stream_chunk() if chunk is None else chunk
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        stream = np.asarray(stream)
        starts, h = self.stream_starts(stream, hop)
        scores = np.empty(len(starts), np.float32)
        for i in range(0, len(starts), chunk):
            scores[i:i + chunk] = self.decision_function([stream[s:s + h] for s in starts[i:i + chunk]])
        return starts, scores

    def predict(self, X, alpha: float | None = None) -> np.ndarray:
        """1 = anomalous, 0 = normal: score above ``threshold_``, or with ``alpha`` conformal p-value <= alpha."""
        if alpha is None:
            return super().predict(X)
        check_alpha(alpha, self.n_real_support_)
        return (self.p_values(X) <= alpha).astype(np.int64)

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "support_embeddings_")

    def save(self, directory) -> Path:
        """Save support embeddings and windows, threshold, layout, window settings and (if any) the encoder."""
        self._check_fitted()
        tensors = {"support_embeddings": torch.from_numpy(self.support_embeddings_),
                   "n_real_support": torch.tensor([self.n_real_support_], dtype=torch.int64),
                   "decision_scores": torch.from_numpy(np.asarray(self.decision_scores_, np.float32))}
        if self.support_windows_ is not None:
            tensors["support_windows"] = torch.from_numpy(self.support_windows_)
        config = {"embedder": self.embedder.name, "layout": self.layout.to_dict(),
                  "window": self.window.to_dict(), "threshold": self.threshold_,
                  "threshold_quantile": self.threshold_quantile, "distance": self.distance,
                  "turns": list(self.turns), "warps": list(self.warps),
                  "part_dims": None if self.part_dims_ is None else list(self.part_dims_),
                  "provenance": self.provenance,
                  "preprocessor": self.preprocessor.to_dict() if self.preprocessor is not None else None}
        embedder = self.embedder
        if isinstance(embedder, ScaledEmbedder):
            tensors["scale"] = torch.from_numpy(embedder.weights)
            embedder = embedder.inner
        if isinstance(embedder, HybridEmbedder):
            if embedder.record is None or embedder.parents is None:
                raise ValueError("a detector on a HybridEmbedder can be saved only with the record and parents it "
                                 "was built from (haad.hybrid.hybrid_embedder)")
            config["hybrid"], config["parents"] = embedder.record, embedder.parents
            embedder = embedder.learned
        if isinstance(embedder, EncoderEmbedder):
            tensors.update({f"model.{k}": v for k, v in embedder.encoder.state_dict().items()})
            config["encoder"] = embedder.encoder.config.to_dict()
        else:
            config["n_coef"] = embedder.n_coef
            if isinstance(embedder, BoneDCTEmbedder):
                config["parents"] = embedder.parents
        return save_checkpoint(directory, tensors, DETECTOR_KIND, config)

    @classmethod
    def load(cls, directory) -> "FewShotDetector":
        """Read a detector written by :meth:`save` (any format version :mod:`haad.checkpoint` migrates)."""
        from haad.train import encoder_config_from

        tensors, header = load_checkpoint(directory, kind=DETECTOR_KIND)
        cfg, where = header["config"], Path(directory) / "config.json"
        try:
            if cfg["embedder"] in ("fewshot", HybridEmbedder.name):
                enc = ActionEncoder(encoder_config_from(cfg["encoder"], where))
                try:
                    enc.load_state_dict(prefixed_state(tensors, "model."))
                except RuntimeError:
                    raise CheckpointError(f"{directory}: its encoder weights do not fit the encoder its config.json "
                                          f"describes ({enc.config.num_joints} joints; layout "
                                          f"{cfg['layout'].get('name')!r})") from None
                embedder = EncoderEmbedder(enc)
                if cfg["embedder"] == HybridEmbedder.name:
                    from haad.hybrid import hybrid_embedder

                    embedder = hybrid_embedder(embedder, cfg["hybrid"], cfg["parents"])
            elif cfg["embedder"] == BoneDCTEmbedder.name:
                embedder = BoneDCTEmbedder(cfg["parents"], int(cfg["n_coef"]))
            else:
                embedder = DCTEmbedder(int(cfg["n_coef"]))
            if "scale" in tensors:
                embedder = ScaledEmbedder(embedder, tensors["scale"].numpy())
            pre = cfg["preprocessor"]
            det = cls(embedder, Layout.from_dict(cfg["layout"]), WindowConfig(**cfg["window"]),
                      float(cfg["threshold_quantile"]), Preprocessor.from_dict(pre) if pre else None,
                      distance=cfg.get("distance", "mean"),  # detectors saved before the choice: Eq. 6
                      turns=cfg.get("turns", ()), warps=cfg.get("warps", ()))
            det.support_embeddings_ = tensors["support_embeddings"].numpy()
            det.n_real_support_ = int(tensors["n_real_support"][0])
            windows = tensors.get("support_windows")  # absent when fitted from embeddings alone
            det.support_windows_ = windows.numpy() if windows is not None else None
            det.decision_scores_ = tensors["decision_scores"].numpy()
            det.threshold_ = float(cfg["threshold"])
            det.part_dims_ = tuple(cfg["part_dims"]) if cfg.get("part_dims") is not None else None
            split_parts(det.support_embeddings_, det.part_dims_)
            det.provenance = dict(cfg["provenance"])
        except KeyError as e:
            raise CheckpointError(f"{where}: missing field {e.args[0]!r} of a saved detector") from None
        except (TypeError, ValueError, AttributeError) as e:
            raise CheckpointError(f"{where}: malformed detector config ({e})") from None
        if not np.isfinite(det.threshold_) or not np.isfinite(det.support_embeddings_).all():
            raise CheckpointError(f"{directory}: the saved threshold or support embeddings are not finite")
        return det
