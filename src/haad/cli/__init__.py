"""The ``haad`` command line: a thin layer over the Python API.

Commands: ``demo``, ``evaluate``, ``benchmark``, ``train``, ``train-generator``, ``detect``, ``report``, ``export``, ``data convert``, ``data info``.
Tables and results go to stdout and to files named by the user; progress bars go to stderr
(``--quiet`` turns them off).
"""

from __future__ import annotations

import sys

from haad.cli.commands import (cmd_benchmark, cmd_data, cmd_demo, cmd_detect, cmd_evaluate, cmd_export,
                               cmd_merge_results, cmd_pretrain, cmd_report, cmd_train, cmd_train_generator)
from haad.cli.parser import build_parser

HANDLERS = {"demo": cmd_demo, "evaluate": cmd_evaluate, "benchmark": cmd_benchmark, "detect": cmd_detect,
            "train-generator": cmd_train_generator, "train": cmd_train, "data": cmd_data,
            "merge-results": cmd_merge_results, "pretrain": cmd_pretrain, "report": cmd_report, "export": cmd_export}


def _check_outputs(args) -> None:
    """Refuse unusable output paths before any work is done (and before anything is written)."""
    out = getattr(args, "output", None) if args.command == "data" else getattr(args, "out", None)
    if out is None:
        return
    wants_file = args.command in ("detect", "data", "report", "export")
    if wants_file and out.is_dir():
        raise ValueError(f"{out} is a directory; give a file path")
    if not wants_file and out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is an existing file; give a directory")


def main(argv=None) -> int:
    """Run the ``haad`` command line; returns the exit status (2 for a user error, printed as one line)."""
    args = build_parser().parse_args(argv)
    try:
        _check_outputs(args)
        return HANDLERS[args.command](args)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        # Expected user errors (missing data, bad files, bad options): one clear line, no traceback.
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"haad: error: {msg}", file=sys.stderr)
        return 2

