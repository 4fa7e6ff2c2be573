"""The support distance: the paper's mean (Eq. 6) or the nearest support embedding (Eq. 6n), through the
detector, its p-values, explanations, saved files, the configs, results and the command line."""

import json

import numpy as np
import pytest

from haad.data.synthetic import synthesize
from haad.detector import DCTEmbedder, FewShotDetector
from haad.distances import reduce_distances, support_distance
from haad.skeleton import SMPL24


@pytest.fixture(scope="module")
def synth():
    return synthesize(clips_per_class=6, seed=3)


def brute(q, s):
    return np.linalg.norm(np.asarray(q, np.float64)[:, None] - np.asarray(s, np.float64)[None], axis=-1)


def test_support_distance_rules():
    rng = np.random.default_rng(0)
    q, s = rng.normal(size=(40, 7)) * 5 + 100, rng.normal(size=(4, 7)) * 5 + 100  # a large common part
    d = brute(q, s)
    assert np.allclose(support_distance(q, s, "mean"), d.mean(1), rtol=1e-5)
    assert np.allclose(support_distance(q, s, "nearest"), d.min(1), rtol=1e-5)
    with pytest.raises(ValueError, match="distance must be one of mean, nearest, part-nearest, got 'median'"):
        support_distance(q, s, "median")


def test_leave_one_out_reduction():
    import torch

    e = np.array([[0.0], [1.0], [3.0], [7.0]])
    d = torch.from_numpy(brute(e, e))
    assert np.allclose(reduce_distances(d, "mean", exclude_self=True).numpy(), [11 / 3, 9 / 3, 9 / 3, 17 / 3])
    assert np.allclose(reduce_distances(d, "nearest", exclude_self=True).numpy(), [1, 1, 2, 4])
    assert np.allclose(reduce_distances(d, "nearest").numpy(), [0, 0, 0, 0])  # itself, when not excluded


def test_nearest_detector_scores_threshold_and_p_values():
    sup = np.array([[0.0], [1.0], [3.0]])
    det = FewShotDetector(None, SMPL24, distance="nearest").fit_embeddings(sup)
    assert np.allclose(det.decision_scores_, [1, 1, 2])  # each support's nearest other
    assert det.threshold_ == pytest.approx(2.0)
    x = np.array([[10.0], [-1.0], [1.5], [2.0]])
    assert np.allclose(det.score_embeddings(x), [7, 1, 0.5, 1])
    # by hand: each bag member scores by its nearest other member
    # x = 10: x 7; supports 1, 1, 2 -> only x reaches 7
    # x = -1: x 1; supports min(1, 1) = 1, 1, 2 -> all four
    # x = 1.5: x 0.5; supports 1, 0.5, 1.5 -> all four
    # x = 2: x 1; supports 1, 1, 1 -> all four
    assert np.allclose(det.p_values_embeddings(x), [1 / 4, 1, 1, 1])
    x = np.array([[5.0]])  # x 2; supports 1, 1, 2 (min(2, 2)) -> x and the support at 3
    assert np.allclose(det.p_values_embeddings(x), [2 / 4])


def test_nearest_p_values_are_valid_and_match_a_brute_force_bag():
    rng = np.random.default_rng(1)
    for k in (3, 9):
        p = []
        for _ in range(800):
            sup = rng.normal(size=(k, 8))
            det = FewShotDetector(None, SMPL24, distance="nearest").fit_embeddings(sup)
            x = rng.normal(size=(20, 8))
            got = det.p_values_embeddings(x)
            if len(p) < 3:  # the bag by brute force: every member's nearest other member
                for xi, pi in zip(x, got):
                    bag = np.concatenate([xi[None], sup])
                    d = brute(bag, bag) + np.diag(np.full(k + 1, np.inf))
                    score = d.min(1)
                    assert pi == pytest.approx((score >= score[0]).sum() / (k + 1))
            p.append(got)
        p = np.concatenate(p)
        for m in (1, 2):
            # exchangeable: P(p <= a) <= a; ties (two members each other's nearest score alike) make it
            # conservative. Measured 0.218 / 0.508 at K = 3 (a = 0.25 / 0.5), 0.099 / 0.198 at K = 9.
            a = m / (k + 1)
            assert a - 0.05 < (p <= a).mean() < a + 0.02, (k, m, (p <= a).mean())


def test_one_support_clip_is_the_same_under_both_rules():
    sup, x = np.zeros((1, 4)), np.random.default_rng(2).normal(size=(5, 4))
    mean = FewShotDetector(None, SMPL24).fit_embeddings(sup)
    near = FewShotDetector(None, SMPL24, distance="nearest").fit_embeddings(sup)
    assert np.allclose(mean.score_embeddings(x), near.score_embeddings(x))
    assert np.all(near.p_values_embeddings(x) == 1.0)


def test_nearest_detector_on_clips_saves_and_explains(synth, tmp_path):
    det = FewShotDetector(DCTEmbedder(), SMPL24, distance="nearest").fit(synth.clips[:3])
    test = synth.clips[10:16]
    emb = det.embed(test)
    assert np.allclose(det.decision_function(test), brute(emb, det.support_embeddings_).min(1), rtol=1e-5)
    det.save(tmp_path / "det")
    assert json.loads((tmp_path / "det" / "config.json").read_text())["config"]["distance"] == "nearest"
    back = FewShotDetector.load(tmp_path / "det")
    assert back.distance == "nearest"
    assert np.array_equal(back.decision_function(test), det.decision_function(test))
    # the embedding split follows the score: the squared differences to the nearest support embedding
    shares = det.explain(test, method="embedding")
    nearest = brute(emb, det.support_embeddings_).argmin(1)
    sq = (emb - det.support_embeddings_[nearest]) ** 2
    per_joint = sq.reshape(len(emb), 10, 24, 3).sum(axis=(1, 3))
    assert np.allclose(shares, per_joint / per_joint.sum(1, keepdims=True), rtol=1e-4, atol=1e-7)


def test_detector_saved_before_the_choice_scores_by_the_mean(synth, tmp_path):
    det = FewShotDetector(DCTEmbedder(), SMPL24).fit(synth.clips[:3])
    det.save(tmp_path / "det")
    path = tmp_path / "det" / "config.json"
    header = json.loads(path.read_text())
    del header["config"]["distance"]
    path.write_text(json.dumps(header))
    assert FewShotDetector.load(tmp_path / "det").distance == "mean"
    header["config"]["distance"] = "median"
    path.write_text(json.dumps(header))
    from haad.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match="malformed detector config.*median"):
        FewShotDetector.load(tmp_path / "det")


def test_configs_refuse_an_unknown_distance():
    from haad.evaluation.config import EvalConfig
    from haad.evaluation.within import WithinConfig
    from haad.hybrid import HybridConfig
    from haad.inference import SupportConfig

    for make in (lambda: EvalConfig(distance="l1"), lambda: SupportConfig(distance="l1"),
                 lambda: WithinConfig("ui-prmd-cross-subject", distance="l1"), lambda: HybridConfig(distance="l1"),
                 lambda: FewShotDetector(None, SMPL24, distance="l1")):
        with pytest.raises(ValueError, match="distance must be one of mean, nearest, part-nearest, got 'l1'"):
            make()
    with pytest.raises(ValueError, match="takes no distance"):
        WithinConfig("ui-prmd-cross-subject", method="stg-nf", distance="mean")
    # Options record the distance only when it is given: results from before the choice keep matching.
    assert "distance" not in EvalConfig().options()
    assert EvalConfig(distance="nearest").options()["distance"] == "nearest"
    assert "distance" not in WithinConfig("ui-prmd-cross-subject").options()


def test_encoders_record_their_distance(tmp_path):
    from haad.checkpoint import load_checkpoint, update_meta
    from haad.encoders import BUILTIN_DIR, resolve_encoder

    assert resolve_encoder("builtin").distance == "part-nearest"
    assert resolve_encoder("dct").distance == "mean" and resolve_encoder("bones").distance == "mean"
    # A hybrid record from before the choice (no distance) scores by the mean; a malformed one is refused.
    import shutil

    old = tmp_path / "old"
    shutil.copytree(BUILTIN_DIR, old)
    _, header = load_checkpoint(old)
    record = {k: v for k, v in header["meta"]["hybrid"].items() if k != "distance"}
    update_meta(old, "hybrid", record)
    assert resolve_encoder(old).distance == "mean"
    update_meta(old, "hybrid", {**record, "distance": "far"})
    with pytest.raises(ValueError, match=f"encoder {old}: malformed hybrid record.*far"):
        resolve_encoder(old)


def test_fit_detector_takes_the_encoders_distance_unless_told(synth):
    from haad.inference import SupportConfig, fit_detector

    name = synth.class_names[0]
    assert fit_detector(synth, None, SupportConfig(category=name, k_shot=3)).distance == "part-nearest"
    assert fit_detector(synth, None, SupportConfig(category=name, k_shot=3, distance="mean")).distance == "mean"
    assert fit_detector(synth, "dct", SupportConfig(category=name, k_shot=3)).distance == "mean"
    det = fit_detector(synth, "dct", SupportConfig(category=name, k_shot=3, distance="nearest"))
    emb = det.embed(synth.clips[20:30])
    assert np.allclose(det.decision_function(synth.clips[20:30]), brute(emb, det.support_embeddings_).min(1),
                       rtol=1e-5)


def test_merge_refuses_results_of_another_distance(tmp_path):
    from haad.evaluation.merge import merge_results

    def part(seed, distance):
        res = {"dataset": "d", "method": "fewshot", "k_shot": 3, "split": {}, "layout": "l", "encoder": "builtin",
               "seen_categories": [], "unseen_categories": ["a"], "seeds": [seed],
               "options": {"seeds": [seed]}, "per_category": {"a": {"values": [0.9]}}, "_path": f"p{seed}"}
        if distance is not None:
            res["distance"] = distance
        return res

    merge_results([part(0, None), part(1, "mean")])  # before the choice: the mean
    with pytest.raises(ValueError, match="p1: support distance nearest differs from p0's mean"):
        merge_results([part(0, None), part(1, "nearest")])
    # and of other support copies (results from before them: none)
    merge_results([part(0, None), {**part(1, None), "warps": []}])
    with pytest.raises(ValueError, match=r"p1: support warps \[0.8\] differ from p0's \[\]"):
        merge_results([part(0, None), {**part(1, None), "warps": [0.8]}])
    with pytest.raises(ValueError, match="p1: support turns"):
        merge_results([{**part(0, None), "turns": [-15.0, 15.0]}, part(1, None)])


def test_turned_windows():
    from haad.geometry import check_turns, turned

    rng = np.random.default_rng(4)
    w = rng.normal(size=(5, 7, 3, 3)).astype(np.float32)
    t = turned(w, (90.0, -30.0))
    assert t.shape == (10, 7, 3, 3) and t.dtype == np.float32
    # 90 degrees about y: heights unchanged, the horizontal plane turned a quarter, lengths kept
    assert np.allclose(t[:5, ..., 1], w[..., 1])
    assert np.allclose(np.linalg.norm(t[:5][..., [0, 2]], axis=-1), np.linalg.norm(w[..., [0, 2]], axis=-1), atol=1e-6)
    assert np.allclose((t[:5][..., [0, 2]] * w[..., [0, 2]]).sum(-1), 0, atol=1e-5)
    assert np.allclose(turned(t[5:], (30.0,)), w, atol=1e-6)  # turned back
    assert turned(w, ()).shape == (0, 7, 3, 3)
    with pytest.raises(ValueError, match="finite"):
        check_turns((15, float("nan")))
    with pytest.raises(ValueError, match="angles in degrees"):
        check_turns("abc")


def test_support_turns_and_warps_join_the_support_set(synth, tmp_path):
    from haad.inference import SupportConfig, fit_detector
    from haad.support_copies import copy_windows

    name = synth.class_names[0]
    det = fit_detector(synth, None, SupportConfig(category=name, k_shot=3, distance="nearest"))
    # the built-in encoder's record: every 15 degrees from -90 to 90, and four time warps
    assert det.turns == tuple(float(a) for a in range(-90, 91, 15) if a) and det.warps == (0.7, 0.8, 1.25, 1.4)
    assert det.support_embeddings_.shape[0] == 3 * 17 and det.n_real_support_ == 3
    # the extra rows are the support windows turned by each angle, then warped by each exponent, embedded
    expect = det.embedder(copy_windows(det.support_windows_, det.turns, det.warps))
    assert np.allclose(det.support_embeddings_[3:], expect, rtol=1e-5, atol=1e-6)
    # leave-one-out scores leave out the row's own clip and its copies (they sit next to it)
    from haad.detector import support_origins

    origin = support_origins(3, 16)
    assert list(origin) == [0, 1, 2] * 17
    d = brute(det.support_embeddings_, det.support_embeddings_)
    d[origin[:, None] == origin[None, :]] = np.inf
    assert np.allclose(det.decision_scores_, d.min(1), rtol=1e-5)
    assert det.threshold_ == pytest.approx(det.decision_scores_.max())
    assert det.support_summary() == ("3 recorded clips + 36 turned copies (-90, -75, -60, -45, -30, -15, 15, 30, 45, "
                                     "60, 75, 90 degrees) + 12 time-warped copies (exponents 0.7, 0.8, 1.25, 1.4)")
    plain = fit_detector(synth, None, SupportConfig(category=name, k_shot=3, turns=(), warps=()))
    assert plain.support_embeddings_.shape[0] == 3
    assert np.allclose(plain.support_embeddings_, det.support_embeddings_[:3])
    warps_only = fit_detector(synth, None, SupportConfig(category=name, k_shot=3, turns=(), warps=(0.8,)))
    assert warps_only.support_summary() == "3 recorded clips + 3 time-warped copies (exponents 0.8)"
    # copies are extra support, like generated variants: p-values use the 3 recorded clips alone
    x = synth.clips[30:40]
    p = det.p_values(x)
    assert set(np.unique(p)) <= {0.25, 0.5, 0.75, 1.0}
    det.save(tmp_path / "det")
    back = FewShotDetector.load(tmp_path / "det")
    assert (back.turns, back.warps) == (det.turns, det.warps)
    assert np.array_equal(back.decision_function(x), det.decision_function(x))
    # turning needs y-up windows: the canonical, normalised space; warping does not
    with pytest.raises(ValueError, match="support turns need y-up windows.*encoder dct takes the dataset's own"):
        fit_detector(synth, "dct", SupportConfig(category=name, k_shot=3, turns=(15.0,)))
    with pytest.raises(ValueError, match="support turns need y-up windows"):
        FewShotDetector(DCTEmbedder(), SMPL24, turns=(15,)).fit(synth.clips[:3])
    dct = fit_detector(synth, "dct", SupportConfig(category=name, k_shot=3, warps=(0.8, 1.25)))
    assert dct.support_embeddings_.shape[0] == 9 and dct.turns == ()


def test_warped_windows():
    from haad.support_copies import check_warps, warped

    rng = np.random.default_rng(5)
    w = rng.normal(size=(4, 11, 3, 3)).astype(np.float32)
    out = warped(w, (0.5, 1.0, 2.0))
    assert out.shape == (12, 11, 3, 3) and out.dtype == np.float32
    assert np.allclose(out[4:8], w)  # exponent 1: the window itself
    for block in (out[:4], out[8:]):  # first and last frames stay
        assert np.allclose(block[:, 0], w[:, 0]) and np.allclose(block[:, -1], w[:, -1])
    # a joint moving at constant speed: frame i of the warped copy sits at time (i / 10)^g
    ramp = np.broadcast_to(np.arange(11, dtype=np.float32)[None, :, None, None], (1, 11, 1, 3))
    for g in (0.7, 1.4):
        assert np.allclose(warped(ramp, (g,))[0, :, 0, 0], (np.arange(11) / 10) ** g * 10, atol=1e-5)
    assert warped(w, ()).shape == (0, 11, 3, 3)
    for bad in ((0.0,), (-1.0,), (float("inf"),), "abc"):
        with pytest.raises(ValueError, match="exponents > 0"):
            check_warps(bad)


def test_leave_one_group_out():
    import torch

    e = np.array([[0.0], [1.0], [3.0], [0.5], [7.0]])
    d = torch.from_numpy(brute(e, e))
    g = [0, 1, 2, 0, 3]  # row 3 is a copy of row 0
    assert np.allclose(reduce_distances(d, "nearest", groups=g).numpy(), [1, 0.5, 2, 0.5, 4])
    assert np.allclose(reduce_distances(d, "mean", groups=g).numpy(), [11 / 3, 9.5 / 4, 11.5 / 4, 9.5 / 3, 23.5 / 4])
    assert np.allclose(reduce_distances(d[:2, :2], "nearest", groups=[0, 0]).numpy(), [0, 0])  # nothing left
    with pytest.raises(ValueError, match="2 origins for 3 support embeddings"):
        FewShotDetector(None, SMPL24).fit_embeddings(np.zeros((3, 2)), origins=[0, 1])


def test_turns_in_the_protocols():
    from haad.evaluation.config import EvalConfig
    from haad.evaluation.protocol import evaluate
    from haad.evaluation.within import WithinConfig

    data = synthesize(clips_per_class=6, seed=3)
    with pytest.raises(ValueError, match="support turns need y-up windows.*--method dct-distance takes the dataset"):
        evaluate(data, EvalConfig(method="dct-distance", seeds=(0,), turns=(15.0,)), progress=False)
    bones = evaluate(data, EvalConfig(method="bone-distance", seeds=(0,), turns=(-15.0, 15.0)), progress=False)
    assert bones["turns"] == [-15.0, 15.0] and bones["options"]["turns"] == [-15.0, 15.0]
    assert evaluate(data, EvalConfig(method="bone-distance", seeds=(0,)), progress=False)["turns"] == []
    assert "turns" not in EvalConfig().options() and "turns" not in WithinConfig("ui-prmd-cross-subject").options()
    with pytest.raises(ValueError, match="takes no distance, turns or warps"):
        WithinConfig("ui-prmd-cross-subject", method="mocodad", turns=(15,))
    # warps need no y-up windows: the dataset's own skeleton takes them too
    dct = evaluate(data, EvalConfig(method="dct-distance", seeds=(0,), warps=(0.8, 1.25)), progress=False)
    assert dct["warps"] == [0.8, 1.25] and dct["options"]["warps"] == [0.8, 1.25] and dct["turns"] == []
    plain = evaluate(data, EvalConfig(method="dct-distance", seeds=(0,)), progress=False)
    assert plain["warps"] == [] and "warps" not in plain["options"] and dct["mean"] != plain["mean"]
    with pytest.raises(ValueError, match="takes no distance, turns or warps"):
        WithinConfig("ui-prmd-cross-subject", method="mocodad", warps=(0.8,))


def test_cli_turn_angles():
    import argparse

    from haad.cli.parser import turn_angles

    assert turn_angles("15,30") == (-30.0, -15.0, 15.0, 30.0)
    assert turn_angles("none") == ()
    for bad in ("abc", "0", "15,-5", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            turn_angles(bad)


def test_cli_warp_exponents():
    import argparse

    from haad.cli.parser import warp_exponents

    assert warp_exponents("0.8,1.25") == (0.8, 1.25) and warp_exponents("None") == ()
    for bad in ("abc", "0", "0.8,-1", "", "inf"):
        with pytest.raises(argparse.ArgumentTypeError):
            warp_exponents(bad)


def test_part_nearest_sums_each_parts_nearest_distance():
    rng = np.random.default_rng(6)
    q, s = rng.normal(size=(30, 9)), rng.normal(size=(5, 9))
    dims = (4, 3, 2)
    edges = [0, 4, 7, 9]
    expect = sum(brute(q[:, a:b], s[:, a:b]).min(1) for a, b in zip(edges[:-1], edges[1:]))
    assert np.allclose(support_distance(q, s, "part-nearest", dims), expect, rtol=1e-5)
    assert np.allclose(support_distance(q, s, "part-nearest"), brute(q, s).min(1), rtol=1e-5)  # one part
    with pytest.raises(ValueError, match="widths \\[4, 3\\] do not make up 9"):
        support_distance(q, s, "part-nearest", (4, 3))
    # the detector: leave-one-out and conformal scores part by part
    det = FewShotDetector(None, SMPL24, distance="part-nearest").fit_embeddings(s, part_dims=dims)
    loo = 0
    for a, b in zip(edges[:-1], edges[1:]):
        d = brute(s[:, a:b], s[:, a:b]) + np.diag(np.full(5, np.inf))
        loo = loo + d.min(1)
    assert np.allclose(det.decision_scores_, loo, rtol=1e-5)
    assert np.allclose(det.score_embeddings(q), expect, rtol=1e-5)
    x = q[0]
    bag = np.concatenate([x[None], s])
    score = 0
    for a, b in zip(edges[:-1], edges[1:]):
        d = brute(bag[:, a:b], bag[:, a:b]) + np.diag(np.full(6, np.inf))
        score = score + d.min(1)
    assert det.p_values_embeddings(q[:1])[0] == pytest.approx((score >= score[0]).sum() / 6)


def test_the_builtin_encoder_scores_part_by_part(synth, tmp_path):
    from haad.inference import SupportConfig, fit_detector

    det = fit_detector(synth, None, SupportConfig(category=synth.class_names[0], k_shot=3))
    assert det.distance == "part-nearest"
    dims = det.part_dims_
    assert len(dims) == 3 and sum(dims) == det.support_embeddings_.shape[1]  # learned, bones, positions
    x = synth.clips[20:26]
    emb = det.embed(x)
    edges = np.cumsum([0, *dims])
    expect = sum(brute(emb[:, a:b], det.support_embeddings_[:, a:b]).min(1) for a, b in zip(edges[:-1], edges[1:]))
    assert np.allclose(det.decision_function(x), expect, rtol=1e-4)
    det.save(tmp_path / "det")
    back = FewShotDetector.load(tmp_path / "det")
    assert back.part_dims_ == dims and np.array_equal(back.decision_function(x), det.decision_function(x))
    shares = det.explain(x, method="embedding") if det.embedder.joint_index(16) is not None else None
    if shares is not None:
        assert np.allclose(shares.sum(1), 1)
    path = tmp_path / "det" / "config.json"
    header = json.loads(path.read_text())
    header["config"]["part_dims"] = [1, 2]
    path.write_text(json.dumps(header))
    from haad.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match="do not make up"):
        FewShotDetector.load(tmp_path / "det")
