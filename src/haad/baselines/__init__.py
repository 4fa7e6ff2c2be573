"""One-model-per-category baselines sharing the :class:`CategoryDetector` contract.

``BASELINES`` maps a method name to its class; :func:`make_baseline` builds one from a name and
:func:`load_baseline` reloads any saved baseline from its checkpoint directory.
"""

from __future__ import annotations

from haad.baselines.base import CategoryDetector, resolve_config
from haad.baselines.mocodad import MoCoDAD, MoCoDADConfig
from haad.baselines.multilevel_nf import MultiLevelNF, MultiLevelNFConfig
from haad.baselines.stg_nf import STGNF, STGNFConfig
from haad.checkpoint import CheckpointError, load_checkpoint

BASELINES: dict[str, type[CategoryDetector]] = {
    "multilevel-nf": MultiLevelNF,
    "stg-nf": STGNF,
    "mocodad": MoCoDAD,
}


def make_baseline(name: str, layout, config=None, seed: int = 0, progress: bool = False) -> CategoryDetector:
    """An unfitted baseline by name; ``config`` is None, a dict of overrides or the config dataclass."""
    try:
        cls = BASELINES[name]
    except KeyError:
        raise KeyError(f"unknown baseline {name!r}; known: {sorted(BASELINES)}") from None
    return cls(layout, config=config, seed=seed, progress=progress)


def load_baseline(directory, progress: bool = False) -> CategoryDetector:
    """Reload a saved baseline of any kind from its checkpoint directory."""
    _, header = load_checkpoint(directory)
    kind = str(header.get("kind", ""))
    name = kind.split("/", 1)[-1]
    if not kind.startswith("baseline/") or name not in BASELINES:
        raise CheckpointError(f"{directory}: holds a {kind!r} checkpoint, not a known baseline")
    return BASELINES[name].load(directory, progress=progress)


__all__ = [
    "BASELINES",
    "CategoryDetector",
    "MoCoDAD",
    "MoCoDADConfig",
    "MultiLevelNF",
    "MultiLevelNFConfig",
    "STGNF",
    "STGNFConfig",
    "load_baseline",
    "make_baseline",
    "resolve_config",
]
