"""Merging results of one evaluation run in parts: provenance of the generator weights."""

import pytest

from haad.data.synthetic import synthesize
from haad.evaluation.merge import generator_note, merge_results
from haad.evaluation.protocol import EvalConfig, evaluate


@pytest.fixture(scope="module")
def data():
    return synthesize(clips_per_class=12, seed=0)


@pytest.fixture(scope="module")
def parts(data):
    return [evaluate(data, EvalConfig(method="dct-distance", seeds=(s,)), progress=False) for s in (0, 1, 2)]


def _as_augmented(res, digest, **augment):
    """The same result as if it had come from a training-time-augmented run with these weights."""
    out = dict(res, options=dict(res["options"], augment=dict(res["options"]["augment"], mode="train",
                                                               generator="runs/gen/x", **augment)))
    if digest is not None:
        out["generator_sha256"] = digest
    return out


def test_a_shared_generator_digest_is_kept(parts):
    merged = merge_results([_as_augmented(p, "aa") for p in parts[:2]])
    assert merged["generator_sha256"] == "aa" and generator_note(merged) is None
    assert [m["generator_sha256"] for m in merged["merged_from"]] == ["aa", "aa"]


@pytest.mark.parametrize("digests", [("aa", "bb"), ("aa", None)])
def test_differing_or_unrecorded_generators_are_flagged(parts, digests):
    merged = merge_results([_as_augmented(p, d) for p, d in zip(parts, digests)])
    assert "generator_sha256" not in merged
    assert [m["generator_sha256"] for m in merged["merged_from"]] == list(digests)
    assert "mixes generator instances" in generator_note(merged)


def test_without_generator_there_is_nothing_to_flag(parts):
    merged = merge_results(parts)
    assert merged["seeds"] == [0, 1, 2] and generator_note(merged) is None
    with pytest.raises(ValueError, match="at least two"):
        merge_results(parts[:1])


def test_a_merged_part_merges_again_like_one_run(data, parts):
    whole = evaluate(data, EvalConfig(method="dct-distance", seeds=(0, 1, 2)), progress=False)
    merged = merge_results([merge_results(parts[1:]), parts[0]])
    assert merged["seeds"] == [0, 1, 2] and [m["seeds"] for m in merged["merged_from"]] == [[1], [2], [0]]
    for key in ("mean", "seen_mean", "unseen_mean", "mean_std_over_seeds", "seen_mean_std_over_seeds"):
        assert merged[key] == pytest.approx(whole[key], abs=1e-12)
    assert merged["threshold"]["true_positive_rate"] == pytest.approx(whole["threshold"]["true_positive_rate"])
    # the seen/unseen split of the false-positive rate: it averages back to the overall rate
    t, c = whole["threshold"], len(whole["per_category"])
    n_seen = len(whole["seen_categories"])
    assert (n_seen * t["false_positive_rate_seen"] + (c - n_seen) * t["false_positive_rate_unseen"]) / c == \
        pytest.approx(t["false_positive_rate"])
    for key in ("false_positive_rate_seen", "false_positive_rate_unseen"):
        assert merged["threshold"][key] == pytest.approx(t[key])
    # a part from before the split existed: the merge keeps only the rates every part has
    old = dict(parts[0], threshold={k: v for k, v in parts[0]["threshold"].items() if not k.endswith("seen")})
    assert set(merge_results([old, *parts[1:]])["threshold"]) == {"rule", "false_positive_rate", "true_positive_rate"}


def test_fields_missing_in_some_parts_do_not_pass_for_all_seeds(parts):
    a, b, c = (dict(p) for p in parts)
    a["train_seconds"], b["train_seconds"] = 100.0, 40.0
    del c["train_seconds"], c["threshold"]
    merged = merge_results([a, b, c])
    assert merged["train_seconds"] == pytest.approx(70.0)  # over the parts that timed their seeds
    assert "threshold" not in merged  # seed 2 has none, so no rate covers all three seeds


def test_parts_that_differ_in_more_than_seeds_are_refused(parts):
    other = dict(parts[1], options=dict(parts[1]["options"], k_shot=1), _path="other.json")
    with pytest.raises(ValueError, match=r"other.json: options differ .*k_shot"):
        merge_results([parts[0], other])


def test_the_hold_control_samples_no_generator(parts):
    merged = merge_results([_as_augmented(p, None, completion="hold") for p in parts[:2]])
    assert generator_note(merged) is None


def test_merge_runs_without_seen_categories(tmp_path):
    """A pretrained encoder that never saw the dataset: every category unseen, seen rates None."""
    from haad.data.synthetic import synthesize
    from haad.evaluation.config import EvalConfig
    from haad.evaluation.merge import merge_results
    from haad.evaluation.protocol import evaluate

    data = synthesize(clips_per_class=6, seed=0)
    parts = [evaluate(data, EvalConfig(seeds=(s,)), encoder_dir="builtin", progress=False) for s in (0, 1)]
    assert parts[0]["seen_mean"] is None and parts[0]["threshold"]["false_positive_rate_seen"] is None
    merged = merge_results(parts)
    whole = evaluate(data, EvalConfig(seeds=(0, 1)), encoder_dir="builtin", progress=False)
    assert merged["seen_mean"] is None and abs(merged["mean"] - whole["mean"]) < 1e-12
    assert "false_positive_rate_seen" not in merged["threshold"]
    assert abs(merged["threshold"]["false_positive_rate"] - whole["threshold"]["false_positive_rate"]) < 1e-12
