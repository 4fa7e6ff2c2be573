"""The per-seed encoders of an ``haad evaluate --out RUN`` directory, shared by the analysis scripts."""

from __future__ import annotations

import argparse
from pathlib import Path

from haad.data import load_dataset
from haad.data.splits import protocol_split
from haad.data.windows import WindowConfig
from haad.train import check_encoder_fits
from haad.train import load_encoder


def add_run_arguments(ap: argparse.ArgumentParser) -> None:
    """--dataset, --data-dir, --run (an evaluate directory with encoders/seed-S) and --seeds."""
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--run", type=Path, required=True, help="an haad evaluate --out directory with encoders/seed-S")
    ap.add_argument("--seeds", type=int, default=3)


def load_run(ap: argparse.ArgumentParser, args) -> tuple:
    """(data, split, [(seed, encoder)]) for seeds 0..--seeds-1; every encoder checked against the data
    (layout, window, no unseen category), a missing one an argument error."""
    data = load_dataset(args.dataset, args.data_dir)
    split = protocol_split(data)
    encoders = []
    for seed in range(args.seeds):
        enc_dir = args.run / "encoders" / f"seed-{seed}"
        if not (enc_dir / "weights.safetensors").is_file():
            ap.error(f"--run {args.run}: no encoder for seed {seed} "
                     f"(run haad evaluate --seeds {args.seeds} --out {args.run})")
        encoder, header = load_encoder(enc_dir)
        check_encoder_fits(header, enc_dir, data, split, WindowConfig())
        encoders.append((seed, encoder))
    return data, split, encoders
