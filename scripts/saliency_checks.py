"""Every saliency method's checks on all held-out test files of a run, with paired
bootstrap intervals over files (genre_lib.saliency_checks.check_methods): the figures
notebooks 04 and 05 read.

    python scripts/saliency_checks.py models/jazz-electronic ../shared/midi \
        --json results/saliency-checks-jazz-electronic.json

Per method (gradient, gradient x input, SmoothGrad, IG, occlusion) and per file: the
deletion AUC of the map's ranking and of three rankings with no map in them (random
order, a position-matched random order: another file's map of the same method and
genre, and the last notes first); the randomization Spearman; the Spearman with
occlusion; for files flipped to the runner-up genre (default flip settings, first 100
notes), the share of changed notes among the map's top-k against the same share with
another file's map. The JSON keeps every file's figures, the command, the run and the
data it was computed on.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from genre_lib import saliency as S
from genre_lib.data_source import data_record
from genre_lib.dataset import load_dataset
from genre_lib.paths import shown
from genre_lib.runs import load_run
from genre_lib.saliency_checks import check_methods, save_checks, with_meta


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--json", type=Path, help="write the result here")
    ap.add_argument("--max-files", type=int, default=0, help="a seeded sample of at most N held-out files (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-flips", action="store_true", help="skip the flips (and the overlap with flipped notes)")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    args = ap.parse_args()
    if args.json and args.json.exists() and not args.overwrite:
        print(f"{args.json}: exists; not replaced (use --overwrite)", file=sys.stderr)
        return 2
    run = load_run(args.run_dir)
    data = load_dataset(args.data_dir, list(run.genres), progress=False)
    index = run.files_to_judge(data.paths, "test", max_files=args.max_files, seed=args.seed)
    # IG's baseline as notebook 04 takes it: the genre-balanced mean of every file the
    # model may have seen (training and validation)
    seen = np.setdiff1d(np.arange(len(data)), run.held_out(data.paths))
    ig_baseline = S.mean_baseline(data.X[seen], data.y[seen])
    files = [data.paths[i] for i in index]
    print(f"{shown(args.run_dir)} on {shown(args.data_dir)}: {len(index)} held-out test files", flush=True)
    start = time.time()
    checks = check_methods(run.model, data.X[index], data.y[index], ig_baseline=ig_baseline, files=tuple(files),
                           genres=tuple(run.genres), flips=not args.no_flips, seed=args.seed,
                           log=lambda line: print(f"[{time.time() - start:5.0f} s] {line}", flush=True))
    meta = {"command": "python scripts/saliency_checks.py " + " ".join(sys.argv[1:]),
            "run": shown(args.run_dir), "run_trained_on": run.meta.get("trained_on"),
            "data": data_record(data),
            "split": "test", "n_files": len(index), "max_files": args.max_files,
            "seconds": round(time.time() - start, 1)}
    checks = with_meta(checks, **meta)
    print("\n".join(checks.lines()))
    if args.json:
        save_checks(checks, args.json, overwrite=args.overwrite)
        print(f"wrote {shown(args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
