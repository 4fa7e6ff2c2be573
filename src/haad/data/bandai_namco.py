"""Bandai Namco Research Motion dataset 2, styles ``normal`` and ``elderly``: 10 motions in BVH
(``shared/data/bandai-namco/SOURCE.md``).

Files ``data/dataset-2_<content>_<style>_<id>.bvh[.gz]``, each optionally with a ``.json`` of
``{"content": i, "style": j}`` (indices into ``cfg/content_label.txt`` and ``cfg/style_label.txt``;
checked against the file name when present). Read with :func:`haad.data.bvh.read_bvh` from the
``Hips`` joint down: the file's ``joint_Root`` above it is a fixed node at the origin, which would
add a "bone" whose length changes as the actor walks, so it is dropped. End Sites (zero offsets in
these files) are left out.

Collection: 21 joints (Hips, Spine, Chest, Neck, Head, Shoulder/UpperArm/LowerArm/Hand _L and _R,
UpperLeg/LowerLeg/Foot/Toes _L and _R), layout ``bandai-namco`` built from the hierarchy (root Hips,
sides from the ``_L``/``_R`` suffixes), positions in **centimetres**, y up, 30 fps (from the files'
Frame Time). Labels: the content, index into :data:`BANDAI_NAMCO_CONTENTS` (the order of
``cfg/content_label.txt``). Order key (id, style); every clip its own split group. Clip names
``<style>/<content>/<id>`` (e.g. ``elderly/walk/001``) carry the style;
:func:`bandai_namco_styles` returns it per clip.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from haad.data.bvh import read_bvh
from haad.data.collection import Collection, DataError

BANDAI_NAMCO_CONTENTS = (
    "walk", "walk-turn-left", "walk-turn-right", "run", "wave-both-hands", "wave-left-hand",
    "wave-right-hand", "raise-up-both-hands", "raise-up-left-hand", "raise-up-right-hand",
)
#: All 7 styles of the release, in ``cfg/style_label.txt`` order (the json's ``style`` index).
BANDAI_NAMCO_STYLES = ("active", "elderly", "exhausted", "feminine", "masculine", "normal", "youthful")

FILE_PATTERN = re.compile(r"dataset-2_([a-z-]+)_([a-z]+)_(\d+)\.bvh(\.gz)?")
NAME_PATTERN = re.compile(r"([a-z]+)/([a-z-]+)/(\d+)")
ROOT_JOINT = "Hips"


def _data_dir(root: Path) -> Path:
    if (root / "data").is_dir():
        return root / "data"
    if root.is_dir() and any(FILE_PATTERN.fullmatch(p.name) for p in root.iterdir()):
        return root
    from haad.data.generic import MissingDataError

    raise MissingDataError(f"{root}: expected a data/ folder of dataset-2_<content>_<style>_<id>.bvh[.gz] files")


def _check_json(bvh: Path, content: str, style: str) -> None:
    meta = bvh.with_name(re.sub(r"\.bvh(\.gz)?$", ".json", bvh.name))
    if not meta.is_file():
        return
    try:
        d = json.loads(meta.read_text())
        ci, si = int(d["content"]), int(d["style"])
    except (ValueError, KeyError, TypeError) as e:
        raise DataError(f"{meta}: expected {{\"content\": i, \"style\": j}}: {type(e).__name__}: {e}") from None
    if not (0 <= ci < len(BANDAI_NAMCO_CONTENTS) and BANDAI_NAMCO_CONTENTS[ci] == content
            and 0 <= si < len(BANDAI_NAMCO_STYLES) and BANDAI_NAMCO_STYLES[si] == style):
        raise DataError(f"{meta}: content {ci} / style {si} disagree with the file name ({content}, {style})")


def load_bandai_namco(root, styles=("normal", "elderly")) -> Collection:
    """Load the BVH clips of the given ``styles`` (see module doc) into a :class:`Collection`."""
    root = Path(root)
    bad = [s for s in styles if s not in BANDAI_NAMCO_STYLES]
    if bad or not styles:
        raise ValueError(f"load_bandai_namco: styles must be a non-empty subset of {BANDAI_NAMCO_STYLES}, got {styles}")
    folder = _data_dir(root)
    items = []
    for f in folder.iterdir():
        m = FILE_PATTERN.fullmatch(f.name)
        if m is None:
            continue
        content, style, ident = m.group(1), m.group(2), int(m.group(3))
        if content not in BANDAI_NAMCO_CONTENTS:
            raise DataError(f"{f}: unknown content {content!r} (known: {BANDAI_NAMCO_CONTENTS})")
        if style not in styles:
            continue
        items.append((BANDAI_NAMCO_CONTENTS.index(content), ident, BANDAI_NAMCO_STYLES.index(style), f))
    if not items:
        from haad.data.generic import MissingDataError

        raise MissingDataError(f"{folder}: no dataset-2_<content>_<style>_<id>.bvh[.gz] files of styles {styles}")
    items.sort(key=lambda it: it[:3])
    clips, labels, keys, names = [], [], [], []
    layout, fps = None, None
    for label, ident, si, f in items:
        content, style = BANDAI_NAMCO_CONTENTS[label], BANDAI_NAMCO_STYLES[si]
        _check_json(f, content, style)
        motion = read_bvh(f, root_joint=ROOT_JOINT)
        if layout is None:
            layout, fps = motion.layout(name="bandai-namco"), motion.fps
        elif motion.joint_names != layout.joint_names or motion.parents != layout.parents:
            raise DataError(f"{f}: skeleton differs from the first file's ({items[0][3].name})")
        elif motion.fps != fps:
            raise DataError(f"{f}: {motion.fps} fps, but {items[0][3].name} has {fps}")
        clips.append(motion.positions)
        labels.append(label)
        keys.append((ident, si))
        names.append(f"{style}/{content}/{ident:03d}")
    return Collection(
        clips=clips,
        labels=np.array(labels, dtype=np.int64),
        class_names=list(BANDAI_NAMCO_CONTENTS),
        layout=layout,
        order_keys=np.array(keys, dtype=np.int64),
        names=names,
        source=str(root),
        fps=fps,
    )


def bandai_namco_styles(collection: Collection) -> np.ndarray:
    """The style of every clip (``"normal"``, ``"elderly"``, ...), parsed from clip names
    ``<style>/<content>/<id>``; raises :class:`DataError` for other names."""
    out = []
    for name in collection.names:
        m = NAME_PATTERN.fullmatch(str(name))
        if m is None or m.group(1) not in BANDAI_NAMCO_STYLES:
            raise DataError(f"{collection.source}: clip name {name!r} is not a Bandai Namco clip name "
                            f"(<style>/<content>/<id>)")
        out.append(m.group(1))
    return np.array(out, dtype=np.str_)
