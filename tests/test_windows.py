"""Windows of many clips at once (make_windows, frame_windows: one gather over clips held end to end)
are exactly the windows make_window cuts clip by clip, for every crop, dtype and clip length."""

from __future__ import annotations

import numpy as np
import pytest

from haad.data.windows import WindowConfig, frame_blocks, frame_windows, make_window, make_windows

LENGTHS = (1, 2, 7, 59, 60, 61, 125, 60, 3)


def clips_of(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(t, 5, 3)).astype(dtype) for t in LENGTHS]


@pytest.mark.parametrize("crop", ["first", "resample"])
@pytest.mark.parametrize("root_offset", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_many_clips_at_once_equal_clip_by_clip(crop, root_offset, dtype):
    cfg = WindowConfig(length=60, crop=crop, root_offset=root_offset)
    clips = clips_of(dtype)
    one_by_one = np.stack([make_window(c, 2, cfg) for c in clips])
    together = make_windows(clips, 2, cfg)
    assert together.dtype == np.float32 and together.shape == (len(clips), 60, 5, 3)
    np.testing.assert_array_equal(together, one_by_one)
    # into rows of a given array, as a detector fills its windows block by block
    out = np.full((len(clips) + 2, 60, 5, 3), np.nan, dtype=np.float32)
    frame_windows(np.concatenate(clips), LENGTHS, 2, cfg, out=out[1:-1])
    np.testing.assert_array_equal(out[1:-1], one_by_one)
    assert np.isnan(out[0]).all() and np.isnan(out[-1]).all()


def test_frame_windows_refuses_lengths_that_do_not_add_up():
    frames = np.concatenate(clips_of(np.float32))
    with pytest.raises(ValueError, match="add up to"):
        frame_windows(frames, LENGTHS[:-1], 0)
    with pytest.raises(ValueError, match="no clips"):
        frame_windows(frames[:0], [], 0)


def test_frame_blocks_cover_every_clip_once_in_order():
    lengths = [5000, 1, 4000, 9000, 3, 3, 8192]
    blocks = frame_blocks(lengths, 8192)
    assert sum(blocks) == len(lengths) and min(blocks) >= 1
    first = 0
    for n in blocks:  # a block holds one clip, or clips whose frames fit
        assert n == 1 or sum(lengths[first:first + n]) <= 8192
        first += n
    assert blocks == [2, 1, 1, 2, 1]  # a clip longer than a block is a block of its own
