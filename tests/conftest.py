"""Shared fixtures: the real datasets (found through HAAD_DATA_DIR) and small synthetic data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Tests run on 2 cores next to other work; one thread keeps timings stable and avoids oversubscription.
torch.set_num_threads(1)


def data_dir() -> Path:
    return Path(os.environ.get("HAAD_DATA_DIR", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


def require_dataset(name: str) -> Path:
    """Path of a real dataset under HAAD_DATA_DIR; skip (or fail when HAAD_REQUIRE_DATA=1) if absent."""
    path = data_dir() / name
    if not path.is_dir():
        msg = f"real dataset {name!r} not found under HAAD_DATA_DIR={data_dir()} (set HAAD_DATA_DIR to ../shared/data)"
        if os.environ.get("HAAD_REQUIRE_DATA") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def utd_dir() -> Path:
    return require_dataset("utd-mhad")


@pytest.fixture(scope="session")
def ucla_dir() -> Path:
    return require_dataset("nw-ucla")
