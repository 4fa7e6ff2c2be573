"""Corrupt files and unsafe runs through the real CLI: every one a clear error naming the file, nothing
written or replaced by a run that fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from haad.checkpoint import CheckpointError
from haad.data.generic import save_npz
from haad.data.synthetic import synthesize
from haad.detector import FewShotDetector
from haad.embedders import DCTEmbedder
from haad.skeleton import SMPL24


def haad(*args):
    return subprocess.run([sys.executable, "-m", "haad.cli", *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("rel")
    data = synthesize(clips_per_class=6, seed=0)
    save_npz(data, d / "clips.npz")
    det = FewShotDetector(DCTEmbedder(), SMPL24).fit([data.clips[i] for i in np.flatnonzero(data.labels == 0)[:3]])
    det.save(d / "det")
    return d


def corrupt_copy(src, dst, edit):
    dst.mkdir()
    for name in ("config.json", "weights.safetensors"):
        (dst / name).write_bytes((src / name).read_bytes())
    edit(dst)
    return dst


def flip_a_bit_in_the_data(d):
    raw = bytearray((d / "weights.safetensors").read_bytes())
    raw[-5] ^= 0x10  # inside the last tensor's data, past the header
    (d / "weights.safetensors").write_bytes(bytes(raw))


WEIGHT_DAMAGE = {
    "truncated": lambda d: (d / "weights.safetensors").write_bytes((d / "weights.safetensors").read_bytes()[:100]),
    "empty": lambda d: (d / "weights.safetensors").write_bytes(b""),
    "random": lambda d: (d / "weights.safetensors").write_bytes(os.urandom(4096)),
    "bit-flip": flip_a_bit_in_the_data,
}


@pytest.mark.parametrize("damage", list(WEIGHT_DAMAGE))
def test_damaged_weights_are_a_clear_error(files, tmp_path, damage):
    bad = corrupt_copy(files / "det", tmp_path / "bad", WEIGHT_DAMAGE[damage])
    r = haad("detect", "--detector", bad, "--input", files / "clips.npz", "--out", tmp_path / "s.csv")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "weights.safetensors" in r.stderr and not (tmp_path / "s.csv").exists()


def edit_config(change):
    def edit(d):
        h = json.loads((d / "config.json").read_text())
        (d / "config.json").write_text(json.dumps(change(h)))
    return edit


CONFIG_DAMAGE = {
    "a list": (lambda h: [h], "JSON object"),
    "unknown field": (lambda h: {**h, "config": {**h["config"], "encoder": {"num_joints": 24, "window": 60,
                                                                           "colour": "red"}, "embedder": "fewshot"}},
                      "colour"),
    "missing field": (lambda h: {**h, "config": {k: v for k, v in h["config"].items() if k != "layout"}}, "layout"),
    "newer version": (lambda h: {**h, "format_version": 99}, "newer haad"),
}


@pytest.mark.parametrize("case", list(CONFIG_DAMAGE))
def test_malformed_config_names_the_file_and_field(files, tmp_path, case):
    change, expected = CONFIG_DAMAGE[case]
    bad = corrupt_copy(files / "det", tmp_path / "bad", edit_config(change))
    r = haad("detect", "--detector", bad, "--input", files / "clips.npz", "--out", tmp_path / "s.csv")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "config.json" in r.stderr and expected in r.stderr


def test_shape_mismatch_is_a_haad_error(tmp_path):
    from haad.encoder import ActionEncoder, EncoderConfig
    from haad.train import load_encoder, save_encoder

    save_encoder(tmp_path / "enc", ActionEncoder(EncoderConfig(num_joints=20, window=60)))
    h = json.loads((tmp_path / "enc" / "config.json").read_text())
    h["config"]["num_joints"] = 24  # the config now describes another skeleton than the weights
    (tmp_path / "enc" / "config.json").write_text(json.dumps(h))
    with pytest.raises(CheckpointError, match="do not fit the encoder its config.json describes"):
        load_encoder(tmp_path / "enc")


def test_same_joint_count_other_order_is_refused(files, tmp_path):
    data = synthesize(clips_per_class=2, seed=1)
    order = np.r_[1, 0, 2:24]  # the same 24 joints, two swapped
    from haad.data.collection import Collection
    from haad.skeleton import Layout

    swapped = Layout("swapped", tuple(SMPL24.joint_names[i] for i in order),
                     tuple(-1 if SMPL24.parents[i] < 0 else int(np.flatnonzero(order == SMPL24.parents[i])[0])
                           for i in order), int(np.flatnonzero(order == SMPL24.root)[0]))
    save_npz(Collection([c[:, order] for c in data.clips], data.labels, data.class_names, swapped),
             tmp_path / "swapped.npz")
    r = haad("detect", "--detector", files / "det", "--input", tmp_path / "swapped.npz", "--out", tmp_path / "s.csv")
    assert r.returncode == 2 and "layout 'swapped'" in r.stderr and not (tmp_path / "s.csv").exists()


@pytest.mark.slow
def test_a_failed_run_replaces_nothing(files, tmp_path):
    saved = tmp_path / "saved"
    r = haad("detect", "--support", files / "clips.npz", "--category", "walk", "--encoder", "dct", "--input",
             files / "clips.npz", "--save", saved, "--out", tmp_path / "a.csv")
    assert r.returncode == 0, r.stderr
    before = (saved / "weights.safetensors").read_bytes()
    blocked = tmp_path / "a.csv" / "scores.csv"  # its parent is a file: the CSV cannot be written
    r = haad("detect", "--support", files / "clips.npz", "--category", "run", "--encoder", "dct", "--input",
             files / "clips.npz", "--save", saved, "--out", blocked)
    assert r.returncode == 2 and "a.csv" in r.stderr
    assert (saved / "weights.safetensors").read_bytes() == before  # the earlier detector is still there


def test_k_shot_beyond_the_category_is_refused(files, tmp_path):
    r = haad("detect", "--support", files / "clips.npz", "--category", "walk", "--k-shot", "10", "--encoder", "dct",
             "--input", files / "clips.npz", "--out", tmp_path / "s.csv")
    assert r.returncode == 2 and "k_shot 10" in r.stderr and "only 6" in r.stderr


@pytest.mark.slow
def test_runs_sharing_an_output_directory(files, tmp_path):
    out = tmp_path / "ev"
    base = ("evaluate", "--dataset", files / "clips.npz", "--method", "dct-distance", "--out", out, "--quiet")
    assert haad(*base, "--seeds", "2").returncode == 0
    assert haad(*base, "--seeds", "2").returncode == 0  # the same settings again: allowed
    r = haad(*base, "--seeds", "3")
    assert r.returncode == 2 and "another run" in r.stderr and "seeds" in r.stderr
    assert json.loads((out / "results.json").read_text())["seeds"] == [0, 1]
    (out / ".haad.lock").write_text(str(os.getppid()))  # a live process holds it
    r = haad(*base, "--seeds", "2")
    assert r.returncode == 2 and "in use" in r.stderr
    (out / ".haad.lock").write_text("999999999")  # a holder that is gone: taken over
    assert haad(*base, "--seeds", "3", "--force").returncode == 0
    assert json.loads((out / "results.json").read_text())["seeds"] == [0, 1, 2] and not (out / ".haad.lock").exists()
