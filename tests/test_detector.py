import json

import numpy as np
import pytest
import torch

from haad.data.splits import draw_support, protocol_split
from haad.data.synthetic import synthesize
from haad.detector import DCTEmbedder, EncoderEmbedder, FewShotDetector
from haad.distances import mean_distance
from haad.encoder import ActionEncoder, EncoderConfig
from haad.evaluation.metrics import auc
from haad.skeleton import SMPL24


@pytest.fixture(scope="module")
def synth():
    return synthesize(clips_per_class=20, seed=5)


def test_mean_distance():
    q = np.array([[0.0, 0.0], [3.0, 4.0]])
    s = np.array([[0.0, 0.0], [0.0, 2.0]])
    assert np.allclose(mean_distance(q, s), [1.0, (5 + np.sqrt(9 + 4)) / 2])


def test_fit_predict_threshold_and_auc(synth):
    split = protocol_split(synth)
    det = FewShotDetector(DCTEmbedder(), SMPL24)
    support = draw_support(split, 0, 3, np.random.default_rng(0))
    det.fit([synth.clips[i] for i in support])
    assert det.support_embeddings_.shape == (3, 10 * 24 * 3)
    # leave-one-out calibration: each support clip's mean distance to the other two
    d = np.linalg.norm(det.support_embeddings_[:, None] - det.support_embeddings_[None], axis=-1)
    assert np.allclose(det.decision_scores_, d.sum(1) / 2, rtol=1e-5)
    assert det.threshold_ == pytest.approx(det.decision_scores_.max())
    test = [synth.clips[i] for i in split.test]
    scores = det.decision_function(test)
    y = synth.labels[split.test] != 0
    assert auc(y, scores) > 0.7
    pred = det.predict(test)
    assert set(np.unique(pred)) <= {0, 1}
    assert np.array_equal(pred, (scores > det.threshold_).astype(int))
    # re-set the threshold without refitting
    emb_before = det.support_embeddings_.copy()
    det.set_threshold(quantile=0.0)
    assert det.threshold_ == pytest.approx(det.decision_scores_.min())
    det.set_threshold(value=1e9)
    assert det.predict(test).sum() == 0
    assert np.array_equal(emb_before, det.support_embeddings_)


def test_augment_joins_support(synth):
    det = FewShotDetector(DCTEmbedder(), SMPL24)
    clips = synth.clips[:3]
    from haad.data.windows import make_windows

    w = make_windows(clips, SMPL24.root)
    det.fit(clips, augment=np.stack([w, w + 0.01], axis=1))
    assert det.support_embeddings_.shape[0] == 3 + 6


def test_conformal_p_values():
    # by hand: supports at 0, 1, 3 on a line; the bag's members score by their summed distance to the others
    det = FewShotDetector(None, SMPL24).fit_embeddings(np.array([[0.0], [1.0], [3.0]]))
    # x = 10: sums x 10+9+7=26, s 10+(1+3)=14, 9+(1+2)=12, 7+(3+2)=12 -> only x itself reaches 26
    # x = -1: sums x 1+2+4=7, s 1+4=5, 2+3=5, 4+5=9 -> x and the support at 3
    # x = 1.5: sums x 3.5, s 1.5+4=5.5, 0.5+3=3.5, 1.5+5=6.5 -> all four
    assert np.allclose(det.p_values_embeddings(np.array([[10.0], [-1.0], [1.5]])), [1 / 4, 2 / 4, 1])
    # exchangeable normal clips: P(p <= a) is a for a in {1, 2, ...}/(K + 1); the LOO-max threshold is looser
    rng = np.random.default_rng(0)
    for k in (3, 9):
        p, loo = [], []
        for _ in range(1000):
            det = FewShotDetector(None, SMPL24).fit_embeddings(rng.normal(size=(k, 8)))
            x = rng.normal(size=(20, 8))
            p.append(det.p_values_embeddings(x))
            loo.append(det.score_embeddings(x) > det.threshold_)
        p = np.concatenate(p)
        for m in (1, 2):  # measured deviations are under 0.006
            assert abs((p <= m / (k + 1)).mean() - m / (k + 1)) < 0.015, (k, m, (p <= m / (k + 1)).mean())
        assert np.mean(loo) > 1 / (k + 1) + 0.01, np.mean(loo)  # measured 0.31 (k = 3) and 0.12 (k = 9)
    # anomalies (shifted) get small p-values
    det = FewShotDetector(None, SMPL24).fit_embeddings(rng.normal(size=(9, 8)))
    assert det.p_values_embeddings(rng.normal(size=(50, 8)) + 3.0).max() == pytest.approx(0.1)


def test_p_values_and_loo_do_not_depend_on_batch_size():
    # torch.cdist's matrix-product shortcut (over 25 rows) gives a clip a non-zero distance to itself
    rng = np.random.default_rng(1)
    for k in (3, 30):
        sup = rng.normal(size=(k, 16)).astype(np.float32) * 10
        det = FewShotDetector(None, SMPL24).fit_embeddings(sup)
        assert det.decision_scores_.dtype == np.float32
        d = np.linalg.norm(sup[:, None].astype(np.float64) - sup[None], axis=-1)
        assert np.allclose(det.decision_scores_, d.sum(1) / (k - 1), rtol=1e-6)
        batch = np.concatenate([sup, rng.normal(size=(40, 16)).astype(np.float32) * 10])
        single = np.concatenate([det.p_values_embeddings(row[None]) for row in batch])
        assert np.array_equal(det.p_values_embeddings(batch), single)


def test_alpha_needs_two_support_clips():
    one = FewShotDetector(None, SMPL24).fit_embeddings(np.zeros((1, 4)))
    assert np.all(one.p_values_embeddings(np.ones((5, 4))) == 1.0)
    with pytest.raises(ValueError, match="at least 2"):
        one.predict(np.zeros((1, 60, 24, 3)), alpha=0.5)
    three = FewShotDetector(None, SMPL24).fit_embeddings(np.eye(3, 4))
    with pytest.raises(ValueError, match=r"1/4, 1\), e.g. 0.25"):
        three.predict(np.zeros((1, 60, 24, 3)), alpha=0.2)


def test_detector_saved_before_p_values_loads(synth, tmp_path):
    from haad.checkpoint import load_checkpoint, save_checkpoint
    from haad.detector import DETECTOR_KIND

    det = FewShotDetector(DCTEmbedder(), SMPL24).fit(synth.clips[:4])
    det.save(tmp_path / "new")
    tensors, header = load_checkpoint(tmp_path / "new", kind=DETECTOR_KIND)
    # A format-version-1 detector: leave-one-out scores under their old name, no recorded-clip count,
    # no provenance, no support windows, no save token.
    old_config = {k: v for k, v in header["config"].items() if k != "provenance"}
    v1 = {("loo_scores" if k == "decision_scores" else k): v for k, v in tensors.items()
          if k not in ("n_real_support", "support_windows")}
    save_checkpoint(tmp_path / "old", v1, DETECTOR_KIND, old_config)
    cfg_path = tmp_path / "old" / "config.json"
    saved = json.loads(cfg_path.read_text())
    saved["format_version"] = 1
    del saved["token"]
    cfg_path.write_text(json.dumps(saved))
    old = FewShotDetector.load(tmp_path / "old")
    assert old.n_real_support_ == 4 and old.provenance == {} and old.support_windows_ is None
    assert np.array_equal(old.p_values(synth.clips[10:20]), det.p_values(synth.clips[10:20]))
    with pytest.raises(ValueError, match="support windows"):
        old.explain(synth.clips[10:12])
    assert np.allclose(old.explain(synth.clips[10:12], method="embedding"),
                       det.explain(synth.clips[10:12], method="embedding"))
    assert np.array_equal(FewShotDetector.load(tmp_path / "new").support_windows_, det.support_windows_)


def test_p_values_ignore_generated_variants_and_survive_save(synth, tmp_path):
    from haad.data.windows import make_windows

    clips, test = synth.clips[:3], synth.clips[100:120]
    plain = FewShotDetector(DCTEmbedder(), SMPL24).fit(clips)
    w = make_windows(clips, SMPL24.root)
    det = FewShotDetector(DCTEmbedder(), SMPL24).fit(clips, augment=np.stack([w + 0.05, w - 0.05], axis=1))
    assert det.n_real_support_ == 3 and len(det.support_embeddings_) == 9
    assert np.array_equal(det.p_values(test), plain.p_values(test))
    assert np.array_equal(det.predict(test, alpha=0.25), (plain.p_values(test) <= 0.25).astype(int))
    det.save(tmp_path / "d")
    back = FewShotDetector.load(tmp_path / "d")
    assert back.n_real_support_ == 3 and np.array_equal(back.p_values(test), det.p_values(test))
    with pytest.raises(ValueError, match="alpha"):
        det.predict(test, alpha=1.5)
    with pytest.raises(ValueError, match="n_real"):
        det.fit_embeddings(det.support_embeddings_, n_real=0)


def test_save_load_identical_scores(synth, tmp_path):
    enc = ActionEncoder(EncoderConfig(num_joints=24)).eval()
    det = FewShotDetector(EncoderEmbedder(enc), SMPL24).fit(synth.clips[:3])
    det.set_threshold(quantile=0.5)
    det.save(tmp_path / "det")
    back = FewShotDetector.load(tmp_path / "det")
    test = synth.clips[10:30]
    assert np.allclose(det.decision_function(test), back.decision_function(test), atol=1e-6)
    assert back.threshold_ == det.threshold_
    dct_det = FewShotDetector(DCTEmbedder(), SMPL24).fit(synth.clips[:3])
    dct_det.save(tmp_path / "dct")
    assert np.allclose(FewShotDetector.load(tmp_path / "dct").decision_function(test), dct_det.decision_function(test))


def test_errors_name_the_problem(synth):
    det = FewShotDetector(DCTEmbedder(), SMPL24)
    with pytest.raises(RuntimeError, match="not fitted"):
        det.decision_function(synth.clips[:2])
    with pytest.raises(ValueError, match=r"clip 1: expected \(frames, 24, 3\)"):
        det.fit([synth.clips[0], np.zeros((30, 20, 3))])
    bad = synth.clips[0].copy()
    bad[4, 2, 1] = np.nan
    with pytest.raises(ValueError, match="clip 0: empty or contains NaN"):
        det.fit([bad])


def test_explain_points_at_the_changed_joints(synth):
    clip = synth.clips[0].copy()
    rng = np.random.default_rng(0)
    support = [clip + rng.normal(0, 0.01, clip.shape).astype(np.float32) for _ in range(3)]
    det = FewShotDetector(DCTEmbedder(), SMPL24).fit(support)
    moved = clip.copy()
    # shake the right wrist and hand only: the explanation must put them on top
    t = np.arange(len(clip))[:, None]
    moved[:, [21, 23]] += 0.3 * np.sin(t / 3.0)[:, :, None]
    for method in ("embedding", "occlusion"):
        share = det.explain([clip, moved], method=method)
        assert share.shape == (2, 24) and np.allclose(share.sum(1), 1)
        assert set(np.argsort(share[1])[-2:]) == {21, 23}, method
        assert share[1, [21, 23]].sum() > 0.9, method
    # the unchanged clip: differences spread over all joints
    assert det.explain([clip], method="embedding")[0].max() < 0.2
    # occlusion works with any embedder: one shaken joint of a random node-pooling encoder's input gets
    # nearly all the blame (measured: share 0.998-0.999 for joints 23, 21, 7 and 15); the embedding
    # split needs per-joint dimensions
    torch.manual_seed(0)
    enc = ActionEncoder(EncoderConfig(num_joints=24, pooling="node")).eval()
    node = FewShotDetector(EncoderEmbedder(enc), SMPL24).fit(support)
    for j in (23, 7):
        one = clip.copy()
        one[:, j] += 0.3 * np.sin(t / 3.0)
        share = node.explain([one])[0]
        assert np.argmax(share) == j and share[j] > 0.9, (j, share[j])
    with pytest.raises(ValueError, match="per-joint"):
        node.explain([clip], method="embedding")
    with pytest.raises(ValueError, match="method"):
        node.explain([clip], method="gradient")
    # generated variants join the support embeddings, but only recorded clips lend their joints
    from haad.data.windows import make_windows

    w = make_windows(support, SMPL24.root)
    aug = FewShotDetector(DCTEmbedder(), SMPL24).fit(support, augment=np.stack([w + 0.02, w - 0.02], axis=1))
    assert aug.support_windows_.shape == (3, 60, 24, 3) and len(aug.support_embeddings_) == 9
    share = aug.explain([moved])[0]
    assert set(np.argsort(share)[-2:]) == {21, 23} and share[[21, 23]].sum() > 0.9
    with pytest.raises(ValueError, match="batch_size"):
        aug.explain([moved], batch_size=0)
    # raw score drops: the shaken clip's are large, the unchanged clip's small (measured ratio ~4,000);
    # shares are their ratios
    drops = det.explain([clip, moved], normalize=False)
    assert drops[1, [21, 23]].sum() > 10 * drops[0].sum()
    assert np.allclose(drops[1] / drops[1].sum(), det.explain([moved])[0])
    with pytest.raises(ValueError, match="normalize=False"):
        det.explain([moved], method="embedding", normalize=False)
    # occlusion needs the support windows: fit keeps them, fit_embeddings cannot
    bare = FewShotDetector(DCTEmbedder(), SMPL24).fit_embeddings(det.support_embeddings_)
    with pytest.raises(ValueError, match="support windows"):
        bare.explain([moved])


@pytest.mark.slow
def test_occlusion_explains_a_learned_encoder(utd_dir):
    """Real data, a briefly trained encoder: a shaken joint is found by occlusion, not by the embedding split.

    The learned encoder's dense graph mixes every joint into every node, so its per-joint embedding
    dimensions barely point at the joint that differs. Measured (81 planted clips, ties counted as
    misses): occlusion ranks the shaken joint first for 0.49 of them, the embedding split for 0.04
    (chance 0.05); over three draws of the shaken joints 0.41-0.51 against 0.04-0.16."""
    from haad.data import load_dataset
    from haad.data.windows import make_windows
    from haad.train import TrainConfig, train_encoder

    data = load_dataset("utd-mhad", utd_dir.parent)
    split = protocol_split(data)
    idx = split.seen_train()
    x = make_windows([data.clips[i] for i in idx], data.layout.root)
    enc, _ = train_encoder(x, data.labels[idx], EncoderConfig(num_joints=20),
                           TrainConfig(epochs=10, iters_per_epoch=52, seed=0), progress=False)
    rng = np.random.default_rng(0)
    hits = {"embedding": [], "occlusion": []}
    t = np.arange(200)[:, None]
    for c in range(data.num_classes):
        det = FewShotDetector(EncoderEmbedder(enc), data.layout).fit(
            [data.clips[i] for i in draw_support(split, c, 3, np.random.default_rng([0, c]))])
        for i in [i for i in split.test if data.labels[i] == c][:3]:
            j = int(rng.integers(20))
            moved = data.clips[i].copy()
            moved[:, j] += 0.3 * np.sin(t[: len(moved)] / 3.0)
            for method, h in hits.items():
                share = det.explain([moved], method=method)[0]
                h.append(np.all(np.delete(share, j) < share[j]))  # first, and not tied
    occlusion, embedding = np.mean(hits["occlusion"]), np.mean(hits["embedding"])
    assert occlusion > 0.3 and occlusion > embedding + 0.15, (occlusion, embedding)


def test_score_stream_windows(synth):
    det = FewShotDetector(DCTEmbedder(), SMPL24).fit(synth.clips[:3])
    stream = np.concatenate([synth.clips[0], synth.clips[100], synth.clips[1]])
    starts, scores = det.score_stream(stream, hop=7)
    assert starts[0] == 0 and starts[-1] == len(stream) - 60 and np.all(np.diff(starts) > 0)
    assert len(scores) == len(starts)
    # each window scores like the same frames passed as a clip
    assert np.isclose(scores[1], det.decision_function([stream[7:67]])[0])
    s_short, sc_short = det.score_stream(stream[:30], hop=7)
    assert list(s_short) == [0] and len(sc_short) == 1
