"""Choose ``bone-distance``'s DCT coefficients and pool scaling's floor without the test subjects.

ui-prmd cross-subject tests on subjects 9-10. This script never looks at them: it runs the same
protocol inside the support subjects 1-8, four folds (test on 1-2, 3-4, 5-6, 7-8; support from the
other six), for every setting of a small grid, and prints the mean AUC over folds (10 seeds each). The
setting with the best fold mean is :class:`haad.evaluation.within.WithinConfig`'s default. With
``--test`` it also prints each setting's AUC on subjects 9-10, to show how the choice fares.

    python benchmarks/within_selection.py [--test] [--json benchmarks/results/json/within/selection.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from haad.canonical import CANONICAL
from haad.data import load_dataset
from haad.data.windows import make_windows
from haad.embedders import BoneDCTEmbedder, DCTEmbedder
from haad.evaluation.within import WithinConfig, task_aucs, ui_prmd_tasks
from haad.normalize import SensorNormConfig
from haad.preprocess import prepare_collection

FOLDS = ((1, 2), (3, 4), (5, 6), (7, 8))
COEFS = (3, 4, 6, 10)
EPS = (1e-3, 1e-2, 1e-1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=os.environ.get("HAAD_DATA_DIR", "../shared/data"))
    ap.add_argument("--test", action="store_true", help="also print the AUC on the test subjects 9-10")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    data = load_dataset("ui-prmd", args.data_dir)
    windows = make_windows(prepare_collection(data, SensorNormConfig()).clips, CANONICAL.root,
                           WithinConfig("ui-prmd-cross-subject").window)
    folds = [ui_prmd_tasks(data, [s for s in range(1, 9) if s not in f], f) for f in FOLDS]
    test = ui_prmd_tasks(data)
    rows = []
    print("representation  coef  scale_eps  folds-mean" + ("  test(9-10)" if args.test else ""))
    for rep in ("dct-distance", "bone-distance"):
        for n in COEFS:
            emb = (DCTEmbedder(n) if rep == "dct-distance" else BoneDCTEmbedder(CANONICAL.parents, n))(windows)
            for eps in EPS:
                cfg = WithinConfig("ui-prmd-cross-subject", method=rep, scale="pool", scale_eps=eps)
                row = {"method": rep, "coef": n, "scale_eps": eps,
                       "folds_mean": float(np.mean([task_aucs(emb, t, cfg).mean() for t in folds]))}
                if args.test:
                    row["test"] = float(task_aucs(emb, test, cfg).mean())
                rows.append(row)
                print(f"{rep:15s} {n:5d} {eps:10g}  {row['folds_mean']:.3f}"
                      + (f"       {row['test']:.3f}" if args.test else ""), flush=True)
    best = max(rows, key=lambda r: r["folds_mean"])
    print(f"best by folds: {best['method']} coef {best['coef']} scale_eps {best['scale_eps']:g}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"command": "python " + " ".join(["benchmarks/within_selection.py", *sys.argv[1:]]),
                                         "folds": FOLDS, "rows": rows, "best": best}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
