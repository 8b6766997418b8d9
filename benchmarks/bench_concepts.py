"""Benchmark: the whole edit table of issue 28 on the two-genre run's held-out test files.

    python benchmarks/bench_concepts.py [DATA_DIR] [--with-order] [--no-shift]

Every edit of :data:`genre_lib.edits.EDITS` (12 concepts, 4 horse tests) of every held-out
file of ``models/jazz-electronic`` (``run.json`` ``split.test_files``), judged by every judge
but the slowest (the RNN and the baseline under both protocols, the two combined;
``--with-order`` adds the ``9-order`` network), with the bootstrap intervals: what a
notebook cell computes. Prints the seconds of each stage and what dominates. Loading the
run and the first (tracing) call of each network are set-up, timed apart. ``--no-shift``
leaves out measuring every concept of every edited file (the edits' own check).
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from pathlib import Path

from genre_lib.concept_study import edit_table, judges_for, load_files, render
from genre_lib.edits import EDITS
from genre_lib.paths import MODELS_DIR, SHARED_MIDI
from genre_lib.protocols import PROTOCOLS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir", type=Path, nargs="?", default=SHARED_MIDI)
    ap.add_argument("--with-order", action="store_true", help="judge with the 9-order network too (the slowest)")
    ap.add_argument("--no-shift", action="store_true", help="do not measure the concepts of the edited files")
    args = ap.parse_args()
    from genre_lib.runs import load_run

    start = time.perf_counter()
    run = load_run(MODELS_DIR / "jazz-electronic")
    others = {"9-order": load_run(MODELS_DIR / "jazz-electronic-order")} if args.with_order else {}
    setup = time.perf_counter() - start
    spent: dict = defaultdict(float)

    def timed(j, protocol: str):
        """The verdict ``j`` with its predict_proba timed (an instance attribute shadows the method)."""
        def predict(tables):
            t = time.perf_counter()
            out = type(j).predict_proba(j, tables)
            spent[f"judge {j.name} {protocol}"] += time.perf_counter() - t
            return out
        j.predict_proba = predict
        return j

    judges = {p: [timed(j, p) for j in judges_for(run, p, others)] for p in PROTOCOLS}
    clock = time.perf_counter()
    files = load_files(args.data_dir, run.genres, run.meta["split"]["test_files"])
    t = time.perf_counter()
    for js in judges.values():  # the first call of a network traces it: set-up, not the table
        for j in js:
            j.predict_proba(files.tables[:2])
    warm = time.perf_counter() - t
    spent.clear()
    spent["read files"] = t - clock
    t = time.perf_counter()
    rendered = render(files, shift=not args.no_shift)
    spent["render edits" + ("" if args.no_shift else " and measure their concepts")] = time.perf_counter() - t
    t = time.perf_counter()
    table = edit_table(files, judges, rendered)
    judged = sum(v for k, v in spent.items() if k.startswith("judge"))
    spent["bootstrap and rows"] = time.perf_counter() - t - judged
    total = sum(spent.values())
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{args.data_dir}: {table['files']} held-out files x {len(EDITS)} edits, judges "
          f"{sorted({r['judge'] for r in table['rows']})}, both protocols; {cores} cores, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"set-up (not counted): load the runs {setup:.1f} s, first calls {warm:.1f} s")
    for k, v in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {k:45} {v:6.1f} s  ({v / total:4.0%})")
    print(f"edit table: {total:.1f} s (budget 60 s); dominated by {max(spent, key=spent.get)}")


if __name__ == "__main__":
    main()
