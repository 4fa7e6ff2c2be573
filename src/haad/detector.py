"""Few-shot anomaly detector (Algorithm 2, Eq. 6) with a PyOD-like contract.

``fit(support)`` embeds K normal clips (and optionally generated variants of them);
``decision_function(clips)`` is the mean Euclidean distance of each clip's embedding to the support
embeddings (higher = more anomalous); ``predict`` thresholds it with a threshold calibrated on the
support set alone (leave-one-out distances), re-settable without refitting, or with conformal
p-values (``p_values``, ``predict(clips, alpha=...)``) whose false-positive rate is at most alpha on
average over support sets when normal clips are exchangeable with the support ones (measured in
benchmarks/README.md, "Thresholds").
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from haad.checkpoint import load_checkpoint, save_checkpoint
from haad.data.windows import WindowConfig, make_windows
from haad.encoder import ActionEncoder
from haad.skeleton import Layout

DETECTOR_KIND = "fewshot-detector"


class DCTEmbedder:
    """No-learning embedding: the flattened first ``n_coef`` DCT coefficients of the window."""

    name = "dct-distance"

    def __init__(self, n_coef: int = 10):
        self.n_coef = n_coef

    def joint_index(self, num_joints: int) -> np.ndarray:
        """The joint each embedding dimension belongs to (layout (M, J, 3) flattened)."""
        return np.tile(np.repeat(np.arange(num_joints), 3), self.n_coef)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        from haad.dct import dct

        return dct(np.asarray(windows, dtype=np.float64), self.n_coef).reshape(len(windows), -1).astype(np.float32)


class EncoderEmbedder:
    """Embeds windows with a trained :class:`ActionEncoder` (eval mode, batched, no grad)."""

    name = "fewshot"

    def __init__(self, encoder: ActionEncoder, batch_size: int = 4096):
        self.encoder = encoder.eval()
        self.batch_size = batch_size

    def joint_index(self, num_joints: int) -> np.ndarray | None:
        """With per-joint pooling every embedding dimension is one joint; with node pooling none is."""
        return np.arange(num_joints) if self.encoder.config.pooling == "joint" else None

    @torch.no_grad()
    def __call__(self, windows: np.ndarray) -> np.ndarray:
        windows = np.asarray(windows, dtype=np.float32)
        out = [self.encoder(torch.from_numpy(windows[i:i + self.batch_size])).numpy()
               for i in range(0, len(windows), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.encoder.config.embedding_dim), np.float32)


def exact_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise Euclidean distances in float64, computed directly: ``torch.cdist``'s matrix-product
    shortcut (used beyond 25 rows) gives a clip a non-zero distance to itself and breaks exact ties,
    which the leave-one-out scores and the p-values' rank comparisons must not depend on."""
    return torch.cdist(a.double(), b.double(), compute_mode="donot_use_mm_for_euclid_dist")


def mean_distance(queries: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Mean Euclidean distance of every query row to every support row (Eq. 6)."""
    q = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32))
    s = torch.from_numpy(np.ascontiguousarray(support, dtype=np.float32))
    return torch.cdist(q, s).mean(dim=1).numpy()


def check_alpha(alpha: float, k: int, name: str = "alpha") -> None:
    """Refuse a p-value level that K real support clips cannot reach (p-values are multiples of 1/(K+1))."""
    if k < 2:
        raise ValueError(f"{name} needs at least 2 recorded support clips (with {k}, every p-value is 1)")
    if not 1 / (k + 1) <= alpha < 1:
        raise ValueError(f"{name} {alpha}: with {k} support clips p-values are multiples of 1/{k + 1}, so it must "
                         f"be in [1/{k + 1}, 1), e.g. {math.ceil(1e4 / (k + 1)) / 1e4}")


class FewShotDetector:
    """Mean embedding distance to a small support set of normal clips.

    Args:
        embedder: a callable mapping (N, H, J, 3) windows to (N, D) embeddings
            (:class:`EncoderEmbedder` or :class:`DCTEmbedder`).
        layout: skeleton layout of the clips (its root joint is used for normalisation).
        window: how clips become windows (protocol default).
        threshold_quantile: quantile of the support set's leave-one-out scores used as threshold.

    Fitted attributes: ``support_embeddings_`` (K', D), ``loo_scores_`` (K',), ``threshold_``,
    ``n_real_support_`` (the first rows of ``support_embeddings_`` that are recorded clips; the rest
    are generated variants), ``support_windows_`` (the recorded support clips' windows, kept by
    ``fit`` for occlusion explanations; ``None`` after ``fit_embeddings``).
    ``provenance`` (a JSON-able dict, empty by default) is saved with the detector: what its support
    set was made from, e.g. the generator that made extra support variants.
    """

    def __init__(self, embedder, layout: Layout, window: WindowConfig = WindowConfig(),
                 threshold_quantile: float = 1.0):
        self.embedder = embedder
        self.layout = layout
        self.window = window
        self.threshold_quantile = threshold_quantile
        self.provenance: dict = {}

    def windows(self, clips) -> np.ndarray:
        """(N, H, J, 3): clips (T, J, 3) as the detector windows them (a protocol window is unchanged)."""
        if isinstance(clips, np.ndarray) and clips.ndim == 3:
            clips = [clips]
        for i, c in enumerate(clips):
            c = np.asarray(c)
            if c.ndim != 3 or c.shape[1:] != (self.layout.num_joints, 3):
                raise ValueError(f"clip {i}: expected (frames, {self.layout.num_joints}, 3), got {c.shape}")
            if len(c) == 0 or not np.isfinite(c).all():
                raise ValueError(f"clip {i}: empty or contains NaN/inf")
        return make_windows(clips, self.layout.root, self.window)

    def embed(self, clips) -> np.ndarray:
        return self.embedder(self.windows(clips))

    def fit(self, support, augment=None) -> "FewShotDetector":
        """Fit on K normal clips.

        Args:
            support: K clips (T, J, 3) of the normal category.
            augment: optional extra support windows (e.g. generated variants), shape (M, H, J, 3)
                or (K, G, H, J, 3); they join the support set as they are (already windowed).
        """
        windows = self.windows(support)
        emb = self.embedder(windows)
        if augment is not None:
            extra = np.asarray(augment, dtype=np.float32).reshape(-1, self.window.length, self.layout.num_joints, 3)
            self.fit_embeddings(np.concatenate([emb, self.embedder(extra)]), n_real=len(emb))
        else:
            self.fit_embeddings(emb)
        self.support_windows_ = np.asarray(windows, dtype=np.float32)  # for occlusion explanations
        return self

    def fit_embeddings(self, embeddings: np.ndarray, n_real: int | None = None) -> "FewShotDetector":
        """Fit directly on support embeddings (used by the evaluation loop to avoid re-embedding).

        ``n_real``: how many of the first rows embed real recorded clips (default all); the rest are
        generated variants, which :meth:`p_values` leaves out.
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
        if len(emb) > 1:
            d = exact_distances(torch.from_numpy(emb), torch.from_numpy(emb)).numpy()
            self.loo_scores_ = (d.sum(axis=1) / (len(emb) - 1)).astype(np.float32)
        else:
            self.loo_scores_ = np.zeros(1, dtype=np.float32)
        self.set_threshold(quantile=self.threshold_quantile)
        return self

    def set_threshold(self, value: float | None = None, quantile: float | None = None) -> float:
        """Set ``threshold_`` to ``value``, or to a quantile of the leave-one-out support scores."""
        if value is not None:
            self.threshold_ = float(value)
        else:
            q = self.threshold_quantile if quantile is None else quantile
            if not 0 <= q <= 1:
                raise ValueError(f"quantile must be in [0, 1], got {q}")
            self.threshold_quantile = q
            self.threshold_ = float(np.quantile(self.loo_scores_, q))
        return self.threshold_

    def _check_fitted(self) -> None:
        if not hasattr(self, "support_embeddings_"):
            raise RuntimeError("detector is not fitted: call fit(support) first")

    def decision_function(self, clips) -> np.ndarray:
        """Anomaly score per clip: mean Euclidean distance to the support embeddings."""
        self._check_fitted()
        return mean_distance(self.embed(clips), self.support_embeddings_)

    def score_embeddings(self, embeddings: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return mean_distance(embeddings, self.support_embeddings_)

    def p_values(self, clips) -> np.ndarray:
        """Conformal p-value of each clip being normal (small = anomalous); see :meth:`p_values_embeddings`."""
        return self.p_values_embeddings(self.embed(clips))

    def p_values_embeddings(self, embeddings: np.ndarray) -> np.ndarray:
        """Full-conformal p-values against the K real support clips.

        For a clip x, the bag {x, s_1..s_K} scores each member by its mean distance to the other K;
        p = (number of members scoring at least x's score) / (K + 1). If x and the support clips are
        exchangeable (a normal clip recorded like the support ones), P(p <= a) <= a for every a, so
        ``predict(clips, alpha=a)`` flags at most a share a of normal clips, on average over support
        sets (one particular support set can do worse). With K >= 2 the smallest p-value is
        1 / (K + 1): three support clips cannot vouch for a false-positive rate below 25%; with K = 1
        every p-value is 1. Generated support variants are not exchangeable with recorded clips and
        are left out.
        """
        self._check_fitted()
        sup = torch.from_numpy(self.support_embeddings_[: self.n_real_support_])
        k = len(sup)
        q = torch.from_numpy(np.ascontiguousarray(embeddings, dtype=np.float32))
        d_qs = exact_distances(q, sup)                            # (N, K)
        d_ss = exact_distances(sup, sup).sum(dim=1)               # (K,) each support's distances to the others
        score_x = d_qs.sum(dim=1, keepdim=True)                  # x's summed distance to the K others
        score_s = d_ss[None] + d_qs                               # s_i's, with x in the bag
        # Every member's score is a sum over K distances, so the sums compare like the means.
        return ((score_s >= score_x).sum(dim=1).numpy() + 1) / (k + 1)

    def explain(self, clips, method: str = "occlusion", batch_size: int = 256, normalize: bool = True) -> np.ndarray:
        """Per-joint share of each clip's anomaly, (N, J), rows sum to 1 (higher = more to blame).

        With ``normalize=False`` (occlusion only) the rows are the score drops themselves, in score units
        and clipped at 0, so clips can be compared: a normal clip's drops are small even where its
        shares look decisive.

        ``occlusion`` (default, any embedder): for each joint, the clip's window gets that joint's
        motion relative to its parent from the nearest recorded support window (nearest in embedding
        space) and is scored again; the joint's share is how much that lowers the score, over the sum of all joints'
        (negative changes count 0; a clip no single joint explains gets equal shares). It needs the
        support windows, which detectors fitted or saved by this version keep. Costs J + 1 embeddings
        per clip.

        ``embedding``: the squared distance to the support embeddings split over embedding dimensions,
        each assigned to a joint (encoder pooling ``joint`` or the DCT embedding). Exact for the DCT
        embedding, but the learned encoder's dense graph mixes all joints into every node, so its
        dimensions barely point at the joints that differ (benchmarks/README.md, "Session 6").
        """
        self._check_fitted()
        if method == "embedding":
            if not normalize:
                raise ValueError("normalize=False needs method='occlusion' (the embedding split has no score units)")
            return self._explain_embedding(clips)
        if method != "occlusion":
            raise ValueError(f"method must be 'occlusion' or 'embedding', got {method!r}")
        if self.support_windows_ is None:
            raise ValueError("occlusion explanations need the support windows: fit(support) keeps them, "
                             "fit_embeddings cannot, and detectors saved before they were kept lack them; "
                             "refit with fit(support), or use method='embedding'")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        windows = self.windows(clips)
        j = self.layout.num_joints
        out = np.zeros((len(windows), j))
        sup_emb = self.support_embeddings_[: self.n_real_support_]
        for lo in range(0, len(windows), batch_size):
            w = windows[lo:lo + batch_size]
            emb = self.embedder(w)
            base = self.score_embeddings(emb)
            nearest = exact_distances(torch.from_numpy(emb), torch.from_numpy(sup_emb)).argmin(dim=1).numpy()
            ref = self.support_windows_[nearest]
            for jj, parent in enumerate(self.layout.parents):
                x = w.copy()
                # The joint moves as in the support clip *relative to its parent*, so it stays attached to
                # this clip's body (it names planted joints more often than the absolute trajectory does,
                # benchmarks/README.md, session 6); the root takes the support's root trajectory.
                x[:, :, jj] = ref[:, :, jj] if parent < 0 else w[:, :, parent] + ref[:, :, jj] - ref[:, :, parent]
                out[lo:lo + len(w), jj] = base - self.score_embeddings(self.embedder(x))
        out = np.clip(out, 0.0, None)
        if not normalize:
            return out
        total = out.sum(axis=1, keepdims=True)
        return np.where(total > 0, out / np.where(total > 0, total, 1.0), 1.0 / j)

    def _explain_embedding(self, clips) -> np.ndarray:
        j = self.layout.num_joints
        index = self.embedder.joint_index(j) if hasattr(self.embedder, "joint_index") else None
        if index is None:
            raise ValueError("explain(method='embedding') needs an embedding with per-joint dimensions "
                             "(encoder pooling 'joint' or dct-distance); this one pools over joints")
        emb = self.embed(clips)
        sq = ((emb[:, None, :] - self.support_embeddings_[None]) ** 2).mean(axis=1)  # (N, D)
        per_joint = np.zeros((len(emb), j))
        np.add.at(per_joint.T, index, sq.T)
        return per_joint / np.maximum(per_joint.sum(axis=1, keepdims=True), 1e-12)

    def stream_windows(self, stream: np.ndarray, hop: int = 10) -> tuple[np.ndarray, list]:
        """Sliding windows over a long (T, J, 3) recording: (start frames, the windows' frames).

        Windows of ``window.length`` frames start every ``hop`` frames (the last one ends at the last
        frame; a recording shorter than a window gives one, padded when windowed); each is normalised
        on its own first frame like any clip.
        """
        if hop < 1:
            raise ValueError(f"hop must be >= 1, got {hop}")
        stream = np.asarray(stream)
        h = self.window.length
        if stream.ndim != 3 or stream.shape[1:] != (self.layout.num_joints, 3) or len(stream) == 0:
            raise ValueError(f"stream: expected (frames, {self.layout.num_joints}, 3), got {stream.shape}")
        starts = list(range(0, max(len(stream) - h, 0) + 1, hop))
        if len(stream) > h and starts[-1] != len(stream) - h:
            starts.append(len(stream) - h)
        return np.asarray(starts), [stream[s:s + h] for s in starts]

    def score_stream(self, stream: np.ndarray, hop: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Score a long (T, J, 3) recording with sliding windows (:meth:`stream_windows`): (start frames, scores)."""
        self._check_fitted()
        starts, windows = self.stream_windows(stream, hop)
        return starts, self.decision_function(windows)

    def predict(self, clips, alpha: float | None = None) -> np.ndarray:
        """1 = anomalous, 0 = normal: score above ``threshold_``, or with ``alpha`` conformal p-value <= alpha."""
        if alpha is None:
            return (self.decision_function(clips) > self.threshold_).astype(np.int64)
        check_alpha(alpha, self.n_real_support_)
        return (self.p_values(clips) <= alpha).astype(np.int64)

    def save(self, directory) -> Path:
        """Save support embeddings, threshold, layout, window settings and (if any) the encoder."""
        self._check_fitted()
        tensors = {"support_embeddings": torch.from_numpy(self.support_embeddings_),
                   "n_real_support": torch.tensor([self.n_real_support_], dtype=torch.int64),
                   **({"support_windows": torch.from_numpy(self.support_windows_)}
                      if self.support_windows_ is not None else {}),
                   "loo_scores": torch.from_numpy(np.asarray(self.loo_scores_, np.float32))}
        config = {"embedder": self.embedder.name, "layout": self.layout.to_dict(),
                  "window": self.window.to_dict(), "threshold": self.threshold_,
                  "threshold_quantile": self.threshold_quantile, "provenance": self.provenance}
        if isinstance(self.embedder, EncoderEmbedder):
            tensors.update({f"model.{k}": v for k, v in self.embedder.encoder.state_dict().items()})
            config["encoder"] = self.embedder.encoder.config.to_dict()
        else:
            config["n_coef"] = self.embedder.n_coef
        return save_checkpoint(directory, tensors, DETECTOR_KIND, config)

    @classmethod
    def load(cls, directory) -> "FewShotDetector":
        from haad.encoder import EncoderConfig

        tensors, header = load_checkpoint(directory, kind=DETECTOR_KIND)
        cfg = header["config"]
        if cfg["embedder"] == "fewshot":
            enc = ActionEncoder(EncoderConfig(**cfg["encoder"]))
            enc.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
            embedder = EncoderEmbedder(enc)
        else:
            embedder = DCTEmbedder(cfg["n_coef"])
        det = cls(embedder, Layout.from_dict(cfg["layout"]), WindowConfig(**cfg["window"]),
                  cfg["threshold_quantile"])
        det.support_embeddings_ = tensors["support_embeddings"].numpy()
        n_real = tensors.get("n_real_support")  # absent in detectors saved before it existed
        det.n_real_support_ = int(n_real[0]) if n_real is not None else len(det.support_embeddings_)
        windows = tensors.get("support_windows")
        det.support_windows_ = windows.numpy() if windows is not None else None
        det.loo_scores_ = tensors["loo_scores"].numpy()
        det.threshold_ = float(cfg["threshold"])
        det.provenance = cfg.get("provenance", {})  # absent in detectors saved before it existed
        return det
