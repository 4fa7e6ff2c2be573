"""Files on disk: atomic writes and content digests, the one implementation of each.

Every file haad writes (checkpoints, results, CSVs, ``.npz`` archives) goes through
:func:`atomic_path`: the bytes land in a temporary file beside the target, are fsynced, and replace
the target with ``os.replace`` only once complete, so a crash or an error never leaves a half-written
file or corrupts an older one. Digests identify inputs (data, weights, settings) in checkpoints and
caches.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; once the block finishes, it replaces ``path``.

    The temporary file is fsynced before the move, keeps the mode of the file it replaces (or 0644),
    and is removed if the block raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        # mkstemp creates the file 0600; give it the existing file's mode, or a plain 0644.
        os.chmod(tmp, (path.stat().st_mode & 0o777) if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_json(path, obj) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def file_digest(path) -> str:
    """sha256 (hex) of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def bytes_digest(*chunks: bytes, length: int | None = None) -> str:
    """sha256 (hex) of the chunks in order, cut to ``length`` characters if given."""
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()[:length]


def array_digest(x: np.ndarray) -> str:
    """sha256 of a float32 array's shape and values (identifies a set of windows)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    return bytes_digest(str(x.shape).encode(), x.tobytes())


def arrays_digest(*arrays, length: int | None = 32) -> str:
    """sha256 of several arrays (``None`` skipped), each with its shape and dtype."""
    chunks = []
    for a in arrays:
        if a is not None:
            a = np.ascontiguousarray(a)
            chunks += [str((a.shape, a.dtype.str)).encode(), a.tobytes()]
    return bytes_digest(*chunks, length=length)


def json_digest(obj, length: int | None = None) -> str:
    """sha256 of ``obj`` as canonical JSON (sorted keys)."""
    return bytes_digest(json.dumps(obj, sort_keys=True).encode(), length=length)
