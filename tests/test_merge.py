"""Merging results of one evaluation run in parts: provenance of the generator weights."""

import pytest

from haad.data.synthetic import synthesize
from haad.evaluation.merge import generator_note, merge_results
from haad.evaluation.protocol import EvalConfig, evaluate


@pytest.fixture(scope="module")
def parts():
    data = synthesize(clips_per_class=12, seed=0)
    return [evaluate(data, EvalConfig(method="dct-distance", seeds=(s,)), progress=False) for s in (0, 1)]


def _as_augmented(res, digest):
    """The same result as if it had come from a training-time-augmented run with these weights."""
    out = dict(res, options=dict(res["options"], augment=dict(res["options"]["augment"], mode="train",
                                                               generator="runs/gen/x")))
    if digest is not None:
        out["generator_sha256"] = digest
    return out


def test_a_shared_generator_digest_is_kept(parts):
    merged = merge_results([_as_augmented(p, "aa") for p in parts])
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
    assert merged["seeds"] == [0, 1] and generator_note(merged) is None
    with pytest.raises(ValueError, match="at least two"):
        merge_results(parts[:1])
