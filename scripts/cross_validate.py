"""Group k-fold cross-validation of one model configuration and of the baseline: the
accuracy figure the README reports for real data.

    python scripts/cross_validate.py ../shared/midi --folds 5 --seed 0

Every file is a test file once; no sequencer or artist is on two sides of a fold. For
each fold the RNN (genre_lib.train.MAIN_CONFIG unless --iteration names another) and
the gradient-boosting baseline are trained on the same training files and scored on
the same test files. Prints one line per fold and the mean and standard deviation.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from genre_lib.baseline import baseline_proba, fit_baseline
from genre_lib.dataset import load_dataset
from genre_lib.evaluate import classification_metrics, predict_proba
from genre_lib.splits import group_folds
from genre_lib.train import ITERATIONS, MAIN_CONFIG, fit


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--iteration", choices=sorted(ITERATIONS), help="configuration (default: MAIN_CONFIG)")
    ap.add_argument("--genres", nargs="+", default=["jazz", "electronic"])
    ap.add_argument("--json", type=Path, help="also write the per-fold figures to this JSON file")
    args = ap.parse_args()
    config = ITERATIONS[args.iteration] if args.iteration else MAIN_CONFIG
    data = load_dataset(args.data_dir, args.genres, progress=False)
    print(f"{args.data_dir}: {len(data)} files, {len(set(data.groups))} groups; {args.folds}-fold group CV, seed {args.seed}")
    rows = []
    for k, part in enumerate(group_folds(data.y, data.groups, args.folds, seed=args.seed)):
        start = time.perf_counter()
        model, history = fit(config, data.X[part.train], data.y[part.train], data.X[part.val], data.y[part.val],
                             len(data.genres), seed=args.seed + k)
        seconds = time.perf_counter() - start
        rnn = classification_metrics(predict_proba(model, data.X[part.test]), data.y[part.test], data.genres)
        clf = fit_baseline(data.X[part.train], data.y[part.train], seed=args.seed + k)
        base = classification_metrics(baseline_proba(clf, data.X[part.test]), data.y[part.test], data.genres)
        rows.append({"fold": k, "n_test": rnn["n"], "rnn_accuracy": rnn["accuracy"], "rnn_loss": rnn["loss"],
                     "baseline_accuracy": base["accuracy"], "epochs": len(history["loss"]), "train_seconds": round(seconds, 1)})
        print(f"fold {k}: {rnn['n']:4d} test files  RNN {rnn['accuracy']:.3f} (loss {rnn['loss']:.3f}, "
              f"{len(history['loss'])} epochs, {seconds:.0f} s)  baseline {base['accuracy']:.3f}", flush=True)
    for key in ("rnn_accuracy", "baseline_accuracy"):
        v = np.array([r[key] for r in rows])
        print(f"{key}: mean {v.mean():.3f}, sd {v.std(ddof=1):.3f} over {len(v)} folds")
    if args.json:
        args.json.write_text(json.dumps({"config": config.to_dict(), "folds": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
