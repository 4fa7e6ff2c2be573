"""Within-category anomaly protocols: real deviations inside one action, not another action.

The category protocol (:mod:`.protocol`) calls "another category" the anomaly. These protocols test
what practitioners look for instead: a wrong execution of the right exercise, another style of the
same motion, another population doing the same motion. Each builds, for every normal category c, a
:class:`Task`: the pool its K support clips are drawn from, and the normal and anomalous test clips.
Per seed s and task i, the support is drawn with ``numpy.random.default_rng([s, i])``; the detector
scores the task's test clips by mean embedding distance (Eq. 6) and the ROC AUC is computed with the
task's anomalous clips as positives.

* ``ui-prmd-cross-subject`` (the default for ui-prmd): for each exercise, support from the correct
  episodes of subjects 1-8; test on subjects 9-10, correct (normal) against incorrect (anomalous).
* ``ui-prmd-personal``: for each exercise and subject, support from that subject's correct episodes;
  test on the same subject's other correct episodes against their incorrect ones.
* ``bandai-namco-style`` (the default for bandai-namco): for each motion, support from the first 80%
  of its ``normal``-style clips (by id); test on the other ``normal`` clips against the ``elderly`` ones.
* ``kinder-gator-population``: for each motion, support from adults; test on children, that motion's
  clips (normal) against the other motions' (anomalous).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from haad.data.collection import Collection
from haad.data.windows import WindowConfig, make_windows
from haad.detector import FewShotDetector, support_origins
from haad.support_copies import check_support_fields, check_upright, copy_embeddings, support_options
from haad.evaluation.metrics import auc, mean_std


@dataclass(frozen=True)
class Task:
    """One normal category's test: support pool, normal and anomalous test clips (indices).

    ``personal``: the pool's clips not drawn as support are normal test clips too (the support and the
    test come from one person; ``test_normal`` is then empty)."""

    name: str
    support_pool: np.ndarray
    test_normal: np.ndarray
    test_anomalous: np.ndarray
    personal: bool = False

    def n_test_normal(self, k_shot: int) -> int:
        """How many normal test clips a support of ``k_shot`` clips leaves."""
        return len(self.test_normal) + (len(self.support_pool) - k_shot if self.personal else 0)

    def test_set(self, support: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The test clips given the drawn support, and which of them are anomalous."""
        normal = self.test_normal
        if self.personal:
            normal = np.concatenate([normal, np.setdiff1d(self.support_pool, support)])
        test = np.concatenate([normal, self.test_anomalous])
        return test, np.r_[np.zeros(len(normal)), np.ones(len(self.test_anomalous))].astype(bool)


def ui_prmd_tasks(data: Collection, support_subjects=range(1, 9), test_subjects=(9, 10)) -> list:
    """Cross-subject: support from subjects 1-8's correct episodes; test on subjects 9-10 (other subject
    sets: the cross-validation inside the support subjects, benchmarks/within_selection.py)."""
    from haad.data.ui_prmd import ui_prmd_episodes

    meta = ui_prmd_episodes(data)
    if set(support_subjects) & set(test_subjects):
        raise ValueError(f"support and test subjects overlap: {sorted(set(support_subjects) & set(test_subjects))}")
    train, test = np.isin(meta["subject"], list(support_subjects)), np.isin(meta["subject"], list(test_subjects))
    tasks = []
    for c, name in enumerate(data.class_names):
        mine = data.labels == c
        tasks.append(Task(name, np.flatnonzero(mine & train & meta["correct"]),
                          np.flatnonzero(mine & test & meta["correct"]), np.flatnonzero(mine & test & ~meta["correct"])))
    return tasks


def ui_prmd_personal_tasks(data: Collection) -> list:
    """Personal: for each exercise and subject, support from that subject's correct episodes; test on
    the same subject's other correct episodes (normal) and incorrect ones (anomalous)."""
    from haad.data.ui_prmd import ui_prmd_episodes

    meta = ui_prmd_episodes(data)
    tasks = []
    for c, name in enumerate(data.class_names):
        for subject in np.unique(meta["subject"]):
            mine = (data.labels == c) & (meta["subject"] == subject)
            tasks.append(Task(f"{name}/s{subject:02d}", np.flatnonzero(mine & meta["correct"]), np.zeros(0, np.int64),
                              np.flatnonzero(mine & ~meta["correct"]), personal=True))
    return tasks


def bandai_style_tasks(data: Collection) -> list:
    """Style: ``normal`` clips (80% support pool by id, 20% test) against ``elderly`` clips."""
    from haad.data.bandai_namco import bandai_namco_styles

    style = bandai_namco_styles(data)
    tasks = []
    for c, name in enumerate(data.class_names):
        normal = np.flatnonzero((data.labels == c) & (style == "normal"))
        normal = normal[np.lexsort(data.order_keys[normal].T[::-1])]
        cut = int(round(0.8 * len(normal)))
        tasks.append(Task(name, normal[:cut], normal[cut:], np.flatnonzero((data.labels == c) & (style == "elderly"))))
    return tasks


def population_tasks(data: Collection) -> list:
    """Population: support from adults; test on children (this motion normal, the others anomalous)."""
    from haad.data.kinder_gator import kinder_gator_participants

    child = kinder_gator_participants(data)["child"]
    return [Task(name, np.flatnonzero((data.labels == c) & ~child), np.flatnonzero((data.labels == c) & child),
                 np.flatnonzero((data.labels != c) & child)) for c, name in enumerate(data.class_names)]


PROTOCOLS = {"ui-prmd-cross-subject": ui_prmd_tasks, "ui-prmd-personal": ui_prmd_personal_tasks,
             "bandai-namco-style": bandai_style_tasks, "kinder-gator-population": population_tasks}
# The protocol ``haad evaluate`` runs by default on a dataset (others: the category protocol).
DEFAULT_PROTOCOL = {"ui-prmd": "ui-prmd-cross-subject", "bandai-namco": "bandai-namco-style"}
METHODS = ("fewshot", "dct-distance", "bone-distance")
# One-model-per-category baselines: trained on the task's whole support pool, as the paper trains them.
BASELINE_METHODS = ("multilevel-nf", "stg-nf", "mocodad")


@dataclass(frozen=True)
class WithinConfig:
    """Attributes:
        protocol: a name in :data:`PROTOCOLS`.
        method: ``fewshot`` (an encoder, default the built-in one), ``dct-distance`` (the no-learning
            floor), ``bone-distance`` (no learning: DCT of bone directions on the canonical skeleton,
            :class:`~haad.embedders.BoneDCTEmbedder`) or a baseline of :data:`BASELINE_METHODS` (one
            model per task and seed, trained on the task's whole support pool, the dataset's own skeleton).
        seeds: the seeds (support draws; a baseline's initialisation).
        k_shot: support clips per task.
        window: windowing; whole episodes resampled to 60 frames, since a deviation may come late.
        scale: ``none`` (Eq. 6 as it is) or ``pool``: every task's embeddings are first divided by the
            spread of its support pool's normal clips (:func:`haad.distances.pool_scale`); the K support
            clips are drawn as before.
        scale_eps: the floor of ``pool`` scaling, a fraction of the mean spread (chosen by subject
            cross-validation on ui-prmd's support subjects; benchmarks/within_selection.py).
        bone_coef: DCT coefficients per bone direction for ``bone-distance`` (chosen the same way).
        distance: the support distance, ``mean`` (Eq. 6) or ``nearest`` (Eq. 6n); ``None``: the one the
            encoder records (``nearest`` for the built-in encoder), else ``mean``. Recorded in the options
            only when given; results say which was used.
        turns: angles (degrees) by which every support clip's window, turned about the vertical axis, joins
            the support set (the canonical, normalised space only: an encoder on it or ``bone-distance``);
            ``None``: the ones the encoder records (the built-in encoder's: every 15 degrees from -90 to 90),
            else none. Recorded like ``distance``.
        warps: time-warp exponents by which every support clip's window, warped, joins the support set
            (:func:`haad.support_copies.warped`); ``None``: the ones the encoder records (the built-in
            encoder's (0.7, 0.8, 1.25, 1.4)), else none. Recorded like ``distance``.
    """

    protocol: str
    method: str = "fewshot"
    seeds: tuple = tuple(range(10))
    k_shot: int = 3
    window: WindowConfig = field(default_factory=lambda: WindowConfig(crop="resample"))
    scale: str = "none"
    scale_eps: float = 1e-3
    bone_coef: int = 4
    distance: str | None = None
    turns: tuple | None = None
    warps: tuple | None = None

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; choose from {sorted(PROTOCOLS)}")
        if self.method not in METHODS + BASELINE_METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS + BASELINE_METHODS)}, got {self.method!r}")
        if self.method in BASELINE_METHODS and self.scale != "none":
            raise ValueError(f"{self.method} is not a distance to the support: scale must be none")
        if self.scale not in ("none", "pool"):
            raise ValueError(f"scale must be none or pool, got {self.scale!r}")
        if self.scale_eps <= 0 or self.bone_coef < 1:
            raise ValueError(f"need scale_eps > 0 and bone_coef >= 1, got {self.scale_eps} and {self.bone_coef}")
        if self.k_shot < 1 or not self.seeds:
            raise ValueError("need k_shot >= 1 and at least one seed")
        if self.distance is not None or self.turns is not None or self.warps is not None:
            if self.method in BASELINE_METHODS:
                raise ValueError(f"{self.method} is not a distance to the support: it takes no distance, turns or "
                                 "warps")
            check_support_fields(self)

    def options(self) -> dict:
        d = asdict(self)
        d["seeds"] = list(self.seeds)
        return support_options(d)


def _embed(data: Collection, config: WithinConfig, encoder) -> tuple:
    """Every clip's embedding once, what describes the encoder in the results, the embeddings of the clips'
    support copies (:func:`~haad.support_copies.copy_embeddings`) and the widths of the embedding's parts
    (``None``: one part)."""
    from haad.embedders import DCTEmbedder

    if config.method == "dct-distance":
        check_upright(config.turns, False, "dct-distance")
        windows, warps = make_windows(data.clips, data.layout.root, config.window), list(config.warps or ())
        return (DCTEmbedder()(windows), {"encoder": None, "distance": config.distance or "mean", "turns": [],
                                         "warps": warps}, copy_embeddings(DCTEmbedder(), windows, (), warps), None)
    from haad.encoders import resolve_encoder, support_settings
    from haad.preprocess import prepare_collection

    chosen = resolve_encoder(encoder, exact=True)  # a torch module's own forward, as the category protocol's
    distance, turns, warps = support_settings(config, chosen)
    info = {"encoder": chosen.spec, "encoder_trained_on": chosen.trained_datasets(),
            "encoder_hybrid": (chosen.header or {}).get("meta", {}).get("hybrid"),
            "distance": distance, "turns": list(turns), "warps": list(warps)}
    if chosen.pretrained is not None and chosen.record_for(data.source) is not None:
        # Pretraining drew from the category protocol's training pools, which hold this
        # protocol's test clips (other subjects, styles or populations of the same motions).
        raise ValueError(f"encoder {chosen.spec} was pretrained on {data.source}'s clips, which include this "
                         f"protocol's test clips; use an encoder that never saw {data.source}")
    if chosen.normalization is not None:  # a pretrained encoder or bones: the canonical, normalised skeleton
        data = prepare_collection(data, chosen.normalization)
    elif chosen.header is not None:
        joints = chosen.header.get("meta", {}).get("layout", {}).get("joint_names")
        if joints is not None and list(joints) != list(data.layout.joint_names):
            raise ValueError(f"encoder {chosen.spec} was trained on another skeleton than {data.layout.name!r}")
    check_upright(info["turns"], chosen.normalization is not None, f"encoder {chosen.spec}")
    # An exported .onnx encoder's embedder runs as it is (onnxruntime; equal within float32 rounding).
    windows = make_windows(data.clips, data.layout.root, config.window)
    emb = chosen.embedder(windows)
    copies = copy_embeddings(chosen.embedder, windows, info["turns"], info["warps"])
    return emb, info, copies, getattr(chosen.embedder, "part_dims", None)


def _bone_embed(data: Collection, config: WithinConfig) -> tuple:
    """Bone-direction DCT embeddings of every clip, on the canonical skeleton, normalised for the sensor
    (as :func:`_embed` returns them)."""
    from haad.embedders import BoneDCTEmbedder
    from haad.preprocess import bone_space

    prepared, record = bone_space(data)
    windows = make_windows(prepared.clips, prepared.layout.root, config.window)
    embedder = BoneDCTEmbedder(prepared.layout.parents, config.bone_coef)
    turns, warps = list(config.turns or ()), list(config.warps or ())
    return (embedder(windows), {"encoder": None, **record, "distance": config.distance or "mean", "turns": turns,
                                "warps": warps}, copy_embeddings(embedder, windows, turns, warps), None)


def task_aucs(emb: np.ndarray, tasks: list, config: WithinConfig, log=None, distance: str = "mean",
              copies_emb: np.ndarray | None = None, part_dims=None) -> np.ndarray:
    """(seeds, tasks) ROC AUCs of the detector on precomputed embeddings (the module docstring's loop),
    scored by the support ``distance`` (``mean``, Eq. 6; ``nearest``, Eq. 6n); ``copies_emb`` (copies, N, D):
    every clip's support copies (turned, warped), whose support clips' rows join the support set; ``part_dims``:
    the embedding's parts (for ``part-nearest``, Eq. 6p)."""
    from haad.distances import pool_scale

    det = FewShotDetector(None, None, distance=distance)
    aucs = np.zeros((len(config.seeds), len(tasks)))
    # Scaling depends on the task's pool only, never on the seed's draw or on test clips.
    weights = [pool_scale(emb[t.support_pool], config.scale_eps) if config.scale == "pool" else None for t in tasks]
    scaled = [emb if w is None else emb * w for w in weights]
    for s, seed in enumerate(config.seeds):
        for i, t in enumerate(tasks):
            support = np.random.default_rng([int(seed), i]).choice(t.support_pool, config.k_shot, replace=False)
            support = np.sort(support)
            sup, origins = scaled[i][support], None
            if copies_emb is not None:
                copies = copies_emb[:, support].reshape(-1, emb.shape[1])
                sup = np.concatenate([sup, copies if weights[i] is None else copies * weights[i]])
                origins = support_origins(len(support), len(copies_emb))
            det.fit_embeddings(sup, n_real=len(support), origins=origins, part_dims=part_dims)
            test, labels = t.test_set(support)
            aucs[s, i] = auc(labels, det.score_embeddings(scaled[i][test]))
        if log:
            log(f"{config.protocol} seed {seed}: mean AUC {aucs[s].mean():.3f}")
    return aucs


def baseline_aucs(data: Collection, tasks: list, config: WithinConfig, log=None) -> tuple[np.ndarray, dict]:
    """(seeds, tasks) ROC AUCs of a one-model-per-category baseline: per seed and task, one model trained
    on the windows of the task's whole support pool, scoring the task's test clips."""
    import time

    from haad.baselines import make_baseline

    windows = make_windows(data.clips, data.layout.root, config.window)
    aucs = np.zeros((len(config.seeds), len(tasks)))
    seconds = []
    for s, seed in enumerate(config.seeds):
        for i, t in enumerate(tasks):
            model = make_baseline(config.method, data.layout, seed=int(seed))
            t0 = time.perf_counter()
            model.fit(windows[t.support_pool])
            seconds.append(time.perf_counter() - t0)
            test, labels = t.test_set(np.zeros(0, np.int64))
            aucs[s, i] = auc(labels, model.decision_function(windows[test]))
        if log:
            log(f"{config.protocol} {config.method} seed {seed}: mean AUC {aucs[s].mean():.3f}")
    return aucs, {"encoder": None, "training": "one model per task and seed, the task's whole support pool",
                  "train_seconds_per_task": float(np.mean(seconds))}


def evaluate_within(data: Collection, config: WithinConfig, encoder=None, log=None) -> dict:
    """Run a within-category protocol and return its results dict (``per_category``: per task, the AUC's
    mean and std over seeds and the values; ``mean``: the mean over tasks)."""
    tasks = PROTOCOLS[config.protocol](data)
    if any(t.personal for t in tasks) and (config.scale != "none" or config.method in BASELINE_METHODS):
        # The pool is the person's own correct episodes, whose undrawn ones are test clips: scaling by
        # the pool, or training a model on it, would see test clips.
        raise ValueError(f"{config.protocol}: the support pool holds test clips, so neither --scale pool nor a "
                         "baseline trained on the pool applies")
    for t in tasks:
        n_normal = t.n_test_normal(config.k_shot)
        if len(t.support_pool) < config.k_shot or not n_normal or not len(t.test_anomalous):
            raise ValueError(f"{config.protocol}, {t.name}: {len(t.support_pool)} support clips (K = {config.k_shot}), "
                             f"{n_normal} normal and {len(t.test_anomalous)} anomalous test clips")
    if config.method in BASELINE_METHODS:
        aucs, info = baseline_aucs(data, tasks, config, log)
    else:
        emb, info, copies_emb, part_dims = (_bone_embed(data, config) if config.method == "bone-distance"
                                            else _embed(data, config, encoder))
        aucs = task_aucs(emb, tasks, config, log, info["distance"], copies_emb, part_dims)
    return {
        "dataset": data.source, "protocol": config.protocol, "method": config.method,
        "seeds": [int(s) for s in config.seeds], "k_shot": config.k_shot, "options": config.options(),
        "layout": data.layout.name, **info,
        "tasks": {t.name: {"support_pool": int(len(t.support_pool)),
                           "test_normal": t.n_test_normal(config.k_shot),
                           "test_anomalous": int(len(t.test_anomalous))} for t in tasks},
        "per_category": {t.name: mean_std(aucs[:, i]) for i, t in enumerate(tasks)},
        "mean": float(aucs.mean()), "mean_std_over_seeds": float(aucs.mean(axis=1).std()),
    }


def format_within(res: dict) -> str:
    """A per-task table (mean +- std over seeds) and the mean."""
    width = max(12, *(len(n) + 2 for n in res["per_category"]))
    lines = [f"dataset {res['dataset']}  protocol {res['protocol']}  method {res['method']}  "
             f"encoder {res.get('encoder')}  K={res['k_shot']}  seeds={len(res['seeds'])}",
             f"{'task':<{width}} normal anomalous  AUC mean +- std"]
    for name, pc in res["per_category"].items():
        t = res["tasks"][name]
        lines.append(f"{name:<{width}} {t['test_normal']:6d} {t['test_anomalous']:9d}  {pc['mean']:.3f} +- {pc['std']:.3f}")
    lines.append(f"{'mean':<{width}} {'':16}  {res['mean']:.3f} +- {res['mean_std_over_seeds']:.3f}")
    return "\n".join(lines)
