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


@contextlib.contextmanager
def claim_output_dir(directory, identity: dict, results: str = "results.json", force: bool = False):
    """Hold ``directory`` for one run: refuse it while another run holds it (a lock file with the
    holder's pid; a lock whose process is gone is taken over), and refuse it when its ``results``
    file was written by a run whose ``identity`` (e.g. dataset, method, seeds, options) differs, so
    one run's results never silently replace another's (``force`` allows that)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lock = directory / ".haad.lock"
    previous = directory / results
    if previous.is_file() and not force:
        try:
            old = json.loads(previous.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            old = None
        wanted = json.loads(json.dumps(identity))
        if not isinstance(old, dict) or any(old.get(k) != v for k, v in wanted.items()):
            differs = [k for k, v in wanted.items() if not isinstance(old, dict) or old.get(k) != v]
            raise ValueError(f"{previous} holds the results of another run (it differs in {', '.join(differs)}); "
                             "choose another --out, or pass --force to replace them")
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
                os.kill(pid, 0)
            except (ValueError, ProcessLookupError, FileNotFoundError):
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()  # left by a run that is gone
                continue
            except PermissionError:
                pass
            raise ValueError(f"{directory} is in use by another haad run (pid {pid}, {lock}); "
                             "wait for it or choose another --out") from None
    else:
        raise ValueError(f"{directory}: could not take {lock}")
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield directory
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
