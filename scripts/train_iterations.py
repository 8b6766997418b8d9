"""Train every iteration (genre_lib.configs.ITERATIONS: the study's three, then ours) on one
data folder, for one or more seeds, and print the iterations table.

    python scripts/train_iterations.py ../shared/midi --out runs/real --seeds 0 1 2

Run folders that exist are kept (not retrained), so an interrupted sweep resumes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from genre_lib.dataset import load_dataset
from genre_lib.runs import iterations_table
from genre_lib.configs import ITERATIONS
from genre_lib.train import train_run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--out", type=Path, required=True, help="folder for the run folders")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--only", nargs="+", help="iteration names to train (default: all)")
    ap.add_argument("--genres", nargs="+", default=["jazz", "electronic"])
    args = ap.parse_args()
    data = load_dataset(args.data_dir, args.genres)
    print(f"{args.data_dir}: {len(data)} files used, {len(data.skipped)} skipped")
    for name, config in ITERATIONS.items():
        if args.only and name not in args.only:
            continue
        for seed in args.seeds:
            out = args.out / f"{name}-seed{seed}"
            if out.exists():
                continue
            start = time.perf_counter()
            run = train_run(data, out, config=config, seed=seed)
            test = run.metrics["rnn"]["protocols"]
            both = run.metrics["combined"]["protocols"]
            print(f"{out}: test accuracy {test['file']['accuracy']:.3f} (file), {test['first100']['accuracy']:.3f} "
                  f"(first100); with the baseline {both['file']['accuracy']:.3f} and {both['first100']['accuracy']:.3f}; val {run.metrics['val']['accuracy']:.3f}; {time.perf_counter() - start:.0f} s", flush=True)
    table = iterations_table(args.out)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
