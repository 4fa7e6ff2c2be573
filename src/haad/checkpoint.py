"""Checkpoints on disk: safetensors weights + JSON config + format version, written atomically.

A checkpoint is a directory::

    DIR/weights.safetensors   tensors only (never pickle)
    DIR/config.json           {"format_version": ..., "kind": ..., "config": {...}, "meta": {...}}

Both files are written to temporary names first (fsynced) and moved into place with ``os.replace``,
config last. Each save stamps the same random token into the weights' metadata and the config, so
a crash between the two moves (new weights, old config) is detected on load instead of silently
pairing weights with the wrong step or settings.

Every checkpoint records its ``format_version``. :func:`migrate` is the one place that reads older
versions: it brings a loaded checkpoint up to :data:`FORMAT_VERSION`, so no loader carries branches
for old files. A newer version than this haad knows is refused by name.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from haad.storage import atomic_path, atomic_write_json, file_digest

FORMAT_VERSION = 2
"""Version 2: every checkpoint records its weights' sha256 (verified on load) and a save token; every
detector stores its ``decision_scores`` and threshold (few-shot detectors' were ``loo_scores``;
baselines had none); few-shot detectors always store ``n_real_support``, ``provenance`` and
``preprocessor``."""
WEIGHTS = "weights.safetensors"
CONFIG = "config.json"


class CheckpointError(RuntimeError):
    """A checkpoint directory is missing, incomplete, of another kind or of an unknown version."""


def save_checkpoint(directory, tensors: dict, kind: str, config: dict, meta: dict | None = None) -> Path:
    """Write ``tensors`` (name -> tensor) and the config into ``directory`` atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    token = uuid.uuid4().hex
    with atomic_path(directory / WEIGHTS) as tmp:
        save_file(flat, str(tmp), metadata={"haad_token": token})
        digest = file_digest(tmp)
    atomic_write_json(
        directory / CONFIG,
        {"format_version": FORMAT_VERSION, "kind": kind, "config": config, "meta": meta or {}, "token": token,
         "weights_sha256": digest},
    )
    return directory


def update_meta(directory, key: str, value) -> None:
    """Set ``meta[key]`` of a saved checkpoint, rewriting its config only (atomically; the weights, the
    save token and the digest stay as they are, so the pair still loads together)."""
    _, header = load_checkpoint(directory)
    header["meta"] = {**header.get("meta", {}), key: value}
    atomic_write_json(Path(directory) / CONFIG, header)


def load_checkpoint(directory, kind: str | None = None) -> tuple[dict, dict]:
    """Return (tensors, header) from a checkpoint directory; ``header`` is the parsed config.json,
    migrated to :data:`FORMAT_VERSION`."""
    directory = Path(directory)
    cfg_path, w_path = directory / CONFIG, directory / WEIGHTS
    if not cfg_path.is_file() or not w_path.is_file():
        raise CheckpointError(f"{directory}: not a checkpoint (expected {CONFIG} and {WEIGHTS})")
    try:
        header = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{cfg_path}: invalid JSON ({e})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{cfg_path}: expected a JSON object with format_version, kind, config and meta, "
                              f"got a JSON {type(header).__name__}")
    version = header.get("format_version")
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise CheckpointError(f"{cfg_path}: format version {version} was written by a newer haad; this one reads "
                              f"versions 1 to {FORMAT_VERSION} (upgrade haad)")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise CheckpointError(f"{cfg_path}: format version {version!r}, this haad reads 1 to {FORMAT_VERSION}")
    for field, types in (("kind", str), ("config", dict), ("meta", dict)):
        if field in header and not isinstance(header[field], types):
            raise CheckpointError(f"{cfg_path}: field {field!r} must be a JSON {types.__name__}, "
                                  f"got {type(header[field]).__name__}")
    if not isinstance(header.get("kind"), str) or not isinstance(header.get("config"), dict):
        raise CheckpointError(f"{cfg_path}: missing field 'kind' or 'config'")
    if kind is not None and header.get("kind") != kind:
        raise CheckpointError(f"{directory}: holds a {header.get('kind')!r} checkpoint, expected {kind!r}")
    try:
        with safe_open(str(w_path), framework="pt") as f:
            weights_token = (f.metadata() or {}).get("haad_token")
    except Exception as e:  # safetensors raises its own error types for truncated or foreign files
        raise CheckpointError(f"{w_path}: not a readable safetensors file ({type(e).__name__}: {e})") from None
    if (version >= 2 or "token" in header) and header.get("token") != weights_token:
        raise CheckpointError(f"{directory}: {WEIGHTS} and {CONFIG} come from different saves "
                              "(an interrupted write?); delete the directory or restore it from a copy")
    digest = file_digest(w_path)
    if version >= 2 and header.get("weights_sha256") != digest:
        raise CheckpointError(f"{w_path}: its sha256 differs from the one recorded in {CONFIG} (a corrupted or "
                              "replaced file); restore the checkpoint from a copy or recreate it")
    try:
        tensors = load_file(str(w_path))
    except Exception as e:
        raise CheckpointError(f"{w_path}: not a readable safetensors file ({type(e).__name__}: {e})") from None
    try:
        header, tensors = migrate(header, tensors, weights_token, digest)
    except CheckpointError as e:
        raise CheckpointError(f"{directory}: {e}") from None
    return tensors, header


def migrate(header: dict, tensors: dict, weights_token: str | None, digest: str) -> tuple[dict, dict]:
    """Bring a checkpoint read from disk up to :data:`FORMAT_VERSION`, one version at a time."""
    header, tensors = dict(header), dict(tensors)
    if header["format_version"] == 1:
        # Early version-1 files carry no save token, and no version-1 file a digest: nothing to check
        # them against.
        header.setdefault("token", weights_token)
        header["weights_sha256"] = digest
        if header.get("kind") == "fewshot-detector":
            config = dict(header["config"])
            config.setdefault("provenance", {})
            config.setdefault("preprocessor", None)
            header["config"] = config
            tensors["decision_scores"] = tensors.pop("loo_scores")
            if "n_real_support" not in tensors:  # every support embedding was a recorded clip
                tensors["n_real_support"] = torch.tensor([len(tensors["support_embeddings"])], dtype=torch.int64)
        if str(header.get("kind", "")).startswith("baseline/"):
            # Version-1 baselines kept no training scores, so no threshold can be given to them.
            raise CheckpointError(f"a format-version-1 {header['kind']} checkpoint has no threshold; fit it again")
        header["format_version"] = 2
    return header, tensors


def optimizer_tensors(opt: torch.optim.Optimizer, prefix: str = "optim.") -> dict:
    """An optimizer's per-parameter state as flat tensors (``prefix + "<param id>.<name>"``), so it can
    live in a safetensors file next to the weights and training can resume exactly."""
    out = {}
    for pid, state in opt.state_dict()["state"].items():
        for name, value in state.items():
            t = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            out[f"{prefix}{pid}.{name}"] = t.detach().clone().reshape(-1) if t.dim() == 0 else t.detach().clone()
    return out


def load_optimizer_tensors(opt: torch.optim.Optimizer, tensors: dict, prefix: str = "optim.") -> None:
    """Inverse of :func:`optimizer_tensors` (hyper-parameters stay those of ``opt``)."""
    sd = opt.state_dict()
    state: dict = {}
    for key, value in tensors.items():
        if key.startswith(prefix):
            pid, name = key[len(prefix):].split(".", 1)
            state.setdefault(int(pid), {})[name] = value.reshape(()) if name == "step" else value.clone()
    sd["state"] = state
    opt.load_state_dict(sd)


def module_state(module: torch.nn.Module, prefix: str = "") -> dict:
    """A module's state dict with its keys under ``prefix``, so several modules share one file."""
    return {prefix + k: v for k, v in module.state_dict().items()}


def prefixed_state(tensors: dict, prefix: str) -> dict:
    """The tensors whose names start with ``prefix``, with the prefix removed: the inverse of
    :func:`module_state`, ready for ``load_state_dict``."""
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
