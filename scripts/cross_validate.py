"""Group k-fold cross-validation of one iteration and of the baseline, under both
protocols (genre_lib.crossval): the accuracy figures the README and notebook 03 report.

    python scripts/cross_validate.py ../shared/midi --genres jazz electronic \
        --json results/cv-jazz-electronic.json

Prints one line per fold and the mean and standard deviation; the JSON file keeps
every file's probabilities, which notebook 03 reads to show where the genres meet.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genre_lib.crossval import cross_validate, save_cv
from genre_lib.dataset import load_dataset
from genre_lib.configs import ITERATIONS, MAIN_ITERATION


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--genres", nargs="+", required=True, help="the genres to tell apart, e.g. jazz electronic")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--only-folds", type=int, nargs="+", help="run only these folds (a quick look)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--iteration", choices=list(ITERATIONS), default=MAIN_ITERATION)
    ap.add_argument("--json", type=Path, help="write the result here (see genre_lib.crossval)")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    args = ap.parse_args()
    data = load_dataset(args.data_dir, args.genres, progress=False)
    print(f"{args.data_dir}: {len(data)} files, {len(set(data.groups))} groups; {args.folds}-fold group CV, "
          f"seed {args.seed}, iteration {args.iteration}", flush=True)
    result = cross_validate(data, ITERATIONS[args.iteration], args.folds, args.seed, args.only_folds,
                            log=lambda line: print(line, flush=True))
    result["iteration"] = args.iteration
    result["command"] = "python scripts/cross_validate.py " + " ".join(sys.argv[1:])
    for key, v in result["summary"].items():
        print(f"{key}: mean {v['mean']:.3f}, sd {v['sd']:.3f} over {len(result['folds'])} folds")
    for key, per in result["recall"].items():
        print(f"{key} recall: " + ", ".join(f"{g} {v['mean']:.3f} ± {v['sd']:.3f}" for g, v in per.items()))
    if args.json:
        save_cv(result, args.json, overwrite=args.overwrite)
    return 0


if __name__ == "__main__":
    sys.exit(main())
