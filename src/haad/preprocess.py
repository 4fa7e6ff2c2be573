"""Clips of any skeleton into the space a pretrained encoder was trained in.

A pretrained encoder sees clips on the canonical skeleton (:mod:`haad.canonical`), normalised for the
sensor (:mod:`haad.normalize`: metres, y up, one facing, one body size, one frame rate). A
:class:`Preprocessor` does both for one input skeleton, frame rate and handedness, clip by clip, in
front of the windowing stage; :func:`prepare_collection` does it for a whole collection (where the
handedness is decided once for all its clips).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from haad.canonical import CANONICAL, JointMapping, canonicalize, map_layout
from haad.data.collection import Collection
from haad.normalize import SensorNormConfig, detect_mirrored, normalize_collection, normalize_frames
from haad.skeleton import Layout


@dataclass(frozen=True)
class Preprocessor:
    """Maps clips of one input skeleton onto :data:`~haad.canonical.CANONICAL` and normalises them.

    Attributes:
        mapping: the input layout's joints -> canonical joints.
        normalization: the sensor-normalisation steps (those the encoder was trained with).
        fps: the input clips' frame rate (``None``: unknown, no resampling).
        mirrored: the input comes from a mirror-image export (decided on a collection, see
            :func:`haad.normalize.normalize_collection`).
    """

    mapping: JointMapping
    normalization: SensorNormConfig
    fps: float | None = None
    mirrored: bool = False

    @property
    def layout(self) -> Layout:
        """The skeleton of the clips it returns."""
        return CANONICAL

    def __call__(self, clip) -> np.ndarray:
        """One (T, J, 3) input clip as a normalised (T', 16, 3) canonical clip."""
        clip = np.asarray(clip)
        return self.frames(clip, [len(clip)])[0]

    def frames(self, frames, lengths) -> tuple[np.ndarray, np.ndarray]:
        """Input clips held end to end, (F, J, 3) ``frames`` with clip i the next ``lengths[i]``, prepared
        as :meth:`__call__` prepares each (each measured on its own, all in the same numpy calls):
        normalised canonical frames end to end and their clips' lengths."""
        return normalize_frames(self.mapping.apply(frames), lengths, self.fps, self.normalization, self.mirrored)

    def to_dict(self) -> dict:
        """JSON-able form, saved with a detector."""
        return {"mapping": asdict(self.mapping), "normalization": asdict(self.normalization), "fps": self.fps,
                "mirrored": self.mirrored}

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocessor":
        m = d["mapping"]
        mapping = JointMapping(source_layout=m["source_layout"], source_names=tuple(m["source_names"]),
                               sources=tuple(tuple(s) for s in m["sources"]),
                               weights=tuple(tuple(w) for w in m["weights"]), kinds=tuple(m["kinds"]))
        return cls(mapping, SensorNormConfig.from_dict(d["normalization"]), d["fps"], bool(d["mirrored"]))


def preprocessor_for(collection: Collection, normalization: SensorNormConfig, joint_map=None) -> Preprocessor:
    """The :class:`Preprocessor` for clips recorded like ``collection`` (its layout, frame rate and
    handedness)."""
    mapping = map_layout(collection.layout, joint_map)
    # As in normalize_collection: the mirror vote needs the up axis and the facing to be normalised.
    vote = normalization.handedness and normalization.up_axis and normalization.facing
    mirrored = vote and detect_mirrored(canonicalize(collection, joint_map), normalization)
    return Preprocessor(mapping, normalization, collection.fps, bool(mirrored))


def prepare_collection(collection: Collection, normalization: SensorNormConfig, joint_map=None) -> Collection:
    """``collection`` on the canonical skeleton, normalised (its fps becomes the target rate when resampled)."""
    return normalize_collection(canonicalize(collection, joint_map), normalization)


def bone_space(collection: Collection) -> tuple[Collection, dict]:
    """``collection`` as the no-learning bone-direction embedding sees it (the canonical skeleton, every
    normalisation step at its default; clip order unchanged) and the record results keep of it."""
    norm = SensorNormConfig()
    prepared = prepare_collection(collection, norm)
    return prepared, {"normalization": asdict(norm), "layout_used": prepared.layout.name}
