"""Merge results files of one evaluation that was run in parts over disjoint seeds.

Seeds are independent under the protocol (each seed trains its own encoder and draws its own
support sets), so a 10-seed row may be run as seeds 0-3 in one run and 4-9 in another
(``haad evaluate --first-seed 4 --seeds 6``). Merging refuses files whose dataset, split, method or
options differ in anything but the seeds, and files that share a seed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from haad.evaluation.augmentation import uses_generator
from haad.evaluation.protocol import summarize_matrix

# Fields that must be identical across the merged parts (``options`` is compared without its seeds).
_SAME = ("dataset", "method", "k_shot", "split", "layout", "encoder", "seen_categories", "unseen_categories")


def load_results(path: Path) -> dict:
    """Read a results.json (or the results.json inside a directory), with errors naming the file."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        raw = path.read_bytes()
        res = json.loads(raw)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such results file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not a JSON results file ({e})") from None
    if not isinstance(res, dict):
        raise ValueError(f"{path}: not a results file of haad evaluate (a JSON {type(res).__name__}, not an object)")
    for key in ("seeds", "per_category", "options", "dataset"):
        if key not in res:
            raise ValueError(f"{path}: not a results file of haad evaluate (no {key!r})")
    res["_path"] = str(path)
    res["_sha256"] = hashlib.sha256(raw).hexdigest()  # the part as read: an in-place merge replaces the file
    return res


def merge_results(parts: list) -> dict:
    """One results dict over the union of the parts' seeds, summarised as if run in one go.

    ``parts``: results dicts as written by ``haad evaluate``. The summary statistics are recomputed
    from the per-seed AUCs; ``train_seconds`` and the threshold rates become seed-weighted means
    (each seed contributes the same number of calibration pairs; the threshold is dropped unless every
    part has one); ``merged_from`` records every part's file, the sha256 of its content as read, its
    seeds and generator digest. ``generator_sha256`` stays only if all parts share it.
    """
    if len(parts) < 2:
        raise ValueError("merging needs at least two results files")
    first = parts[0]
    names = list(first["per_category"])
    base_opts = {k: v for k, v in first["options"].items() if k != "seeds"}
    seen_at = {}
    for p in parts:
        where = p.get("_path", "a results dict")
        for key in _SAME:
            if p.get(key) != first.get(key):
                raise ValueError(f"{where}: {key} differs from {first.get('_path', 'the first file')}; "
                                 "only runs that differ in their seeds can be merged")
        if p.get("distance", "mean") != first.get("distance", "mean"):  # results from before the choice: Eq. 6
            raise ValueError(f"{where}: support distance {p.get('distance', 'mean')} differs from "
                             f"{first.get('_path', 'the first file')}'s {first.get('distance', 'mean')}")
        for copies in ("turns", "warps"):  # results from before the support copies: none
            if p.get(copies, []) != first.get(copies, []):
                raise ValueError(f"{where}: support {copies} {p.get(copies, [])} differ from "
                                 f"{first.get('_path', 'the first file')}'s {first.get(copies, [])}")
        opts = {k: v for k, v in p["options"].items() if k != "seeds"}
        if opts != base_opts:
            diff = sorted(k for k in set(opts) | set(base_opts) if opts.get(k) != base_opts.get(k))
            raise ValueError(f"{where}: options differ from {first.get('_path', 'the first file')} in {diff}")
        if list(p["per_category"]) != names:
            raise ValueError(f"{where}: categories differ from {first.get('_path', 'the first file')}")
        for s in p["seeds"]:
            if s in seen_at:
                raise ValueError(f"seed {s} is in both {seen_at[s]} and {where}")
            seen_at[s] = where
    rows = {}  # seed -> (C,) AUCs
    for p in parts:
        for i, s in enumerate(p["seeds"]):
            rows[s] = [p["per_category"][n]["values"][i] for n in names]
    seeds = sorted(rows)
    aucs = np.asarray([rows[s] for s in seeds])
    seen = [names.index(n) for n in first["seen_categories"]]
    unseen = [names.index(n) for n in first["unseen_categories"]]

    def weighted(get, having):
        """Seed-weighted mean over the parts that have the field (None if none has it)."""
        have = [p for p in parts if having(p)]
        n = sum(len(p["seeds"]) for p in have)
        return float(sum(get(p) * len(p["seeds"]) for p in have) / n) if n else None

    res = {k: v for k, v in first.items() if not k.startswith("_")}
    res["seeds"] = seeds
    res["options"] = dict(first["options"], seeds=seeds)
    res["train_seconds"] = weighted(lambda p: p["train_seconds"], lambda p: "train_seconds" in p) or 0.0
    res.update(summarize_matrix(aucs, names, seen, unseen))
    res.pop("threshold", None)
    if all("threshold" in p for p in parts):  # a rate over only some seeds would pass for all of them
        # A rate is None where its group is empty (no seen category): kept only as a number in every part.
        rates = [k for k in first["threshold"]
                 if k != "rule" and all(p["threshold"].get(k) is not None for p in parts)]
        res["threshold"] = dict({"rule": first["threshold"]["rule"]},
                                **{k: weighted(lambda p, k=k: p["threshold"][k], lambda p: True) for k in rates})
    selection = {}
    for p in parts:
        selection.update(p.get("augment_selection", {}))
    if selection:
        res["augment_selection"] = dict(sorted(selection.items(), key=lambda kv: int(kv[0])))
    merged_from = []
    for p in parts:  # a part that was itself merged keeps its own provenance
        merged_from += p.get("merged_from") or [{"file": p.get("_path"), "sha256": p.get("_sha256"),
                                                 "seeds": p["seeds"], "generator_sha256": p.get("generator_sha256")}]
    res["merged_from"] = merged_from
    digests = {m.get("generator_sha256") for m in merged_from}
    res.pop("generator_sha256", None)
    if len(digests) == 1 and None not in digests:
        res["generator_sha256"] = digests.pop()
    return res


def generator_note(res: dict) -> str | None:
    """A warning when the merged parts' generated variants came from different (or unrecorded) weights."""
    if not uses_generator(res.get("options", {}).get("augment") or {}) or "generator_sha256" in res:
        return None
    return ("note: the parts' generator weights differ or were not recorded (merged_from lists each part's "
            "generator_sha256); the merged row mixes generator instances")
