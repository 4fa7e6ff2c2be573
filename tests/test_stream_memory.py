"""Long recordings are scored chunk by chunk (``haad detect --stream`` through ``score_rows``, and
``FewShotDetector.score_stream``): the windows embedded at once are bounded by the chunk size, no list
of every window is made, the scores are those of scoring every window in one batch, and the memory
the scoring needs beyond the recording and its rows does not grow with the recording's length.
The measured peak RSS of the real command is in benchmarks/README.md ("Speed", long recordings)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import haad.inference as inference
from haad.canonical import canonicalize
from haad.data.collection import Collection
from haad.data.synthetic import synthesize
from haad.data.windows import WindowConfig
from haad.detector import FewShotDetector
from haad.embedders import DCTEmbedder
from haad.encoders import EncoderChoice, resolve_encoder
from haad.inference import ScoreConfig, SupportConfig, fit_detector, score_rows


class CountingEmbedder:
    """Wraps an embedder and records how many windows each call embeds."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []
        self.name = getattr(inner, "name", "counting")

    def joint_index(self, num_joints):
        return self.inner.joint_index(num_joints)

    def __call__(self, windows):
        self.calls.append(len(windows))
        return self.inner(windows)


@pytest.fixture(scope="module")
def canonical_data():
    return canonicalize(synthesize(clips_per_class=4, seed=5))


def recording(data: Collection, frames: int, seed: int = 0) -> np.ndarray:
    """Clips of ``data`` end to end, cut to ``frames`` frames."""
    rng = np.random.default_rng(seed)
    parts, total = [], 0
    while total < frames:
        parts.append(data.clips[int(rng.integers(len(data.clips)))])
        total += len(parts[-1])
    return np.ascontiguousarray(np.concatenate(parts)[:frames], dtype=np.float32)


def recorded(data: Collection, frames: int, seed: int = 0) -> Collection:
    """A collection of one recording of ``frames`` frames (:func:`recording`)."""
    return Collection([recording(data, frames, seed)], [0], ["recording"], data.layout, fps=data.fps)


def traced(fn):
    """``fn()``'s result and the traced memory (numpy's included) it kept and peaked at beyond what was there."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        out = fn()
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return out, kept - before, peak - before


def no_full_window_list(monkeypatch):
    def refuse(self, stream, hop=10):
        raise AssertionError("every window of the recording cut at once")

    monkeypatch.setattr(FewShotDetector, "stream_windows", refuse)


def test_detect_scores_a_recording_in_chunks_with_the_builtin_encoder(canonical_data, monkeypatch):
    """score_rows (what haad detect --stream runs) with the pretrained encoder and its preprocessor."""
    chosen = resolve_encoder("builtin")
    counting = CountingEmbedder(chosen.embedder)
    det = fit_detector(canonical_data, EncoderChoice(chosen.spec, counting, chosen.header, chosen.path),
                       SupportConfig(category="walk", k_shot=3, window=WindowConfig(crop="first")))
    assert det.preprocessor is not None
    rec = recording(canonical_data, 3000)
    data = Collection([rec], [0], ["recording"], canonical_data.layout, fps=canonical_data.fps)
    starts, windows = det.stream_windows(rec, 5)
    expected = det.decision_function(windows)  # every window in one batch
    expected_p = det.p_values(windows)
    assert len(windows) > 500
    counting.calls.clear()
    monkeypatch.setattr(inference, "CHUNK", 64)
    no_full_window_list(monkeypatch)
    rows = score_rows(det, data, ScoreConfig(stream=True, hop=5))
    assert max(counting.calls) <= 64 and sum(counting.calls) == len(windows)  # each window once, 64 at most
    assert [r["start_frame"] for r in rows] == list(starts)
    scores = np.array([float(r["score"]) for r in rows])
    # The detector's float32 distances (torch.cdist's |q|^2 + |s|^2 - 2 q.s shortcut, taken for batches
    # over 25 rows) round differently for a batch of another size: equal within 1e-4 of the largest score.
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-4 * expected.max())
    np.testing.assert_allclose([float(r["p_value"]) for r in rows], expected_p)


def test_score_stream_embeds_at_most_a_chunk_at_once(canonical_data, monkeypatch):
    counting = CountingEmbedder(DCTEmbedder())
    det = FewShotDetector(counting, canonical_data.layout).fit(canonical_data.clips[:3])
    rec = recording(canonical_data, 2500, seed=1)
    starts, windows = det.stream_windows(rec, 3)
    expected = det.decision_function(windows)
    for chunk in (1, 50, 256, len(windows) + 1):
        counting.calls.clear()
        with monkeypatch.context() as m:
            no_full_window_list(m)
            s, scores = det.score_stream(rec, hop=3, chunk=chunk)
        assert max(counting.calls) == min(chunk, len(windows)) and sum(counting.calls) == len(windows)
        np.testing.assert_array_equal(s, starts)
        np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-4 * expected.max())  # as above


def test_scoring_memory_does_not_grow_with_the_recording(canonical_data, monkeypatch):
    """Traced allocations (numpy's included) while score_rows runs, beyond the rows it returns: the
    same for a recording four times as long."""
    det = FewShotDetector(DCTEmbedder(), canonical_data.layout).fit(canonical_data.clips[:3])
    monkeypatch.setattr(inference, "CHUNK", 128)
    transient = {}
    for frames in (6_000, 48_000):
        data = recorded(canonical_data, frames, seed=2)
        rows, kept, peak = traced(lambda: score_rows(det, data, ScoreConfig(stream=True, hop=10)))
        transient[frames] = (peak - kept, len(rows), kept)
    (small, n_small, _), (large, n_large, rows_bytes) = transient[6_000], transient[48_000]
    assert n_large > 7 * n_small
    # One chunk's windows (128 x 60 x 16 x 3 float32: 1.5 MB) and their temporaries (measured 4.7 MB for
    # both lengths), whatever the length; a view per window of the whole recording would add 0.7 MB here.
    # The rows themselves (about 0.4 kB each) are what grows.
    assert large <= 1.05 * small + 128 * 1024, (small, large)
    assert rows_bytes / n_large < 2048


def test_rows_go_to_disk_as_they_come(canonical_data, monkeypatch, tmp_path):
    """haad detect --stream without --report: write_csv(iter_rows(...)) holds no row beyond the one being
    written, so the traced peak is the same for a recording four times as long; the file is the one
    write_csv(score_rows(...)) writes; a failure part-way leaves an existing file as it was."""
    det = FewShotDetector(DCTEmbedder(), canonical_data.layout).fit(canonical_data.clips[:3])
    monkeypatch.setattr(inference, "CHUNK", 128)
    config = ScoreConfig(stream=True, hop=10)
    peaks = {}
    for frames in (6_000, 48_000):
        data = recorded(canonical_data, frames, seed=2)
        (n, flagged), _, peaks[frames] = traced(
            lambda: inference.write_csv(inference.iter_rows(det, data, config), tmp_path / f"{frames}.csv"))
        rows = score_rows(det, data, config)
        assert (n, flagged) == (len(rows), sum(r["anomalous"] for r in rows))
        inference.write_csv(rows, tmp_path / "list.csv")
        assert (tmp_path / f"{frames}.csv").read_bytes() == (tmp_path / "list.csv").read_bytes()
    assert n > 700
    assert peaks[48_000] <= 1.05 * peaks[6_000] + 128 * 1024, peaks  # the rows (0.4 kB each) would add 1.7 MB
    # a bad frame near the end: the first chunks' rows were written, the error comes later
    bad = recorded(canonical_data, 6_000, seed=2)
    bad.clips[0][-3, 4, 1] = np.nan  # after the collection's own check, as a corrupt read would
    before = (tmp_path / "6000.csv").read_bytes()
    with pytest.raises(ValueError, match="NaN"):
        inference.write_csv(inference.iter_rows(det, bad, config), tmp_path / "6000.csv")
    assert (tmp_path / "6000.csv").read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_default_chunk_follows_torchs_threads():
    import torch

    from haad.detector import SINGLE_THREAD_CHUNK, stream_chunk
    from haad.embedders import FAST_BATCH

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert stream_chunk() == SINGLE_THREAD_CHUNK == 256
        torch.set_num_threads(2)
        assert stream_chunk() == FAST_BATCH
    finally:
        torch.set_num_threads(threads)
