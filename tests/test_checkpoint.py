
import pytest
import torch

from haad.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def test_roundtrip_and_kind(tmp_path):
    save_checkpoint(tmp_path / "c", {"w": torch.arange(6.0).reshape(2, 3)}, "thing", {"a": 1}, {"m": [1, 2]})
    tensors, header = load_checkpoint(tmp_path / "c", kind="thing")
    assert torch.equal(tensors["w"], torch.arange(6.0).reshape(2, 3))
    assert header["config"] == {"a": 1} and header["meta"] == {"m": [1, 2]} and header["format_version"] == 2
    with pytest.raises(CheckpointError, match="expected 'other'"):
        load_checkpoint(tmp_path / "c", kind="other")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_checkpoint(tmp_path / "missing")


def test_crash_between_the_two_files_is_detected(tmp_path):
    d = tmp_path / "c"
    save_checkpoint(d, {"w": torch.zeros(2)}, "thing", {"step": 1})
    old_config = (d / "config.json").read_text()
    save_checkpoint(d, {"w": torch.ones(2)}, "thing", {"step": 2})
    # simulate a crash after the new weights were moved in but before the new config was
    (d / "config.json").write_text(old_config)
    with pytest.raises(CheckpointError, match="different saves"):
        load_checkpoint(d)


def test_failed_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    d = tmp_path / "c"
    save_checkpoint(d, {"w": torch.zeros(2)}, "thing", {"step": 1})
    import haad.checkpoint as ck

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(ck, "save_file", boom)
    with pytest.raises(OSError):
        save_checkpoint(d, {"w": torch.ones(2)}, "thing", {"step": 2})
    tensors, header = load_checkpoint(d)
    assert torch.equal(tensors["w"], torch.zeros(2)) and header["config"] == {"step": 1}
    assert sorted(p.name for p in d.iterdir()) == ["config.json", "weights.safetensors"]
