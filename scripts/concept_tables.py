"""What music the committed networks hear (issue 28): the concepts per genre on the
collection, the edit table on each run's held-out test files, probes of the RNN's
state, and the answer, written to results/concepts-<run>.json.

    python scripts/concept_tables.py ../shared/midi

One command writes both files (``--runs`` to choose): ``models/jazz-electronic`` judged
with ``models/jazz-electronic-order`` (the ``9-order`` network, same split) beside it,
and ``models/four-genres``. Every random choice (bootstrap, control labels) takes
``--seed``. It prints each step's time and the two-sentence answers. ``--ear`` asks the
audio judge too (``genre_lib.ear``, calibrated by ``scripts/ear_eval.py``): it plays every
edited file, so it takes most of the time; the committed tables were made by

    python scripts/concept_tables.py ../shared/midi --runs jazz-electronic --ear --ear-protocols first100 file
    python scripts/concept_tables.py ../shared/midi --runs four-genres --ear
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np

from genre_lib import __version__
from genre_lib.concept_study import (answer, data_table, edit_table, judges_for, load_files, probe_table,
                                     probe_windows, render)
from genre_lib.concepts import CONCEPTS, NAMES, measure
from genre_lib.ear import load_ears
from genre_lib.edits import EDITS, HORSE, SIDE_EFFECTS
from genre_lib.paths import MODELS_DIR, PROJECT, write_json
from genre_lib.protocols import PROTOCOLS
from genre_lib.runs import load_run

#: each run studied and the other networks (name: run folder) judging beside its RNN
STUDIES = {"jazz-electronic": {"9-order": "jazz-electronic-order"}, "four-genres": {}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--runs", nargs="+", choices=list(STUDIES), default=list(STUDIES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=PROJECT / "results")
    ap.add_argument("--ear", action="store_true",
                    help="the audio judge too, calibrated in <out>/ear-<run>.json (scripts/ear_eval.py); "
                         "it plays every edited file, so the table takes tens of minutes")
    ap.add_argument("--ear-protocols", nargs="+", choices=PROTOCOLS, default=["first100"],
                    help="the protocols the ear judges under (file plays 4 windows a file: four times the time)")
    ap.add_argument("--overwrite", action="store_true", help="replace existing results/concepts-<run>.json files")
    args = ap.parse_args()
    there = [str(args.out / f"concepts-{name}.json") for name in args.runs if (args.out / f"concepts-{name}.json").exists()]
    if there and not args.overwrite:  # before minutes of work, not after
        sys.exit(f"concept_tables: {', '.join(there)} exist; not replaced (pass --overwrite)")
    clock = time.perf_counter()

    def say(text: str) -> None:
        print(f"[{time.perf_counter() - clock:6.1f} s] {text}", flush=True)

    collection = {}  # every file's concepts, once for both runs
    for name in args.runs:
        run = load_run(MODELS_DIR / name)
        others = {k: load_run(MODELS_DIR / v) for k, v in STUDIES[name].items()}
        new = [g for g in run.genres if g not in collection]
        if new:
            every = load_files(args.data_dir, new)
            for k, g in enumerate(new):
                collection[g] = np.array([measure(p) for p, y in zip(every.pieces, every.y) if y == k])
            say(f"concepts of {len(every.paths)} files of {', '.join(new)} ({len(every.skipped)} skipped)")
        values = np.concatenate([collection[g] for g in run.genres])
        labels = np.concatenate([np.full(len(collection[g]), k) for k, g in enumerate(run.genres)])
        files = load_files(args.data_dir, run.genres, run.meta["split"]["test_files"])
        rendered = render(files)
        say(f"{name}: {len(files.paths)} held-out files read, {len(EDITS)} edits rendered")
        ears = load_ears(args.out / f"ear-{name}.json", run.genres) if args.ear else {}
        judges = {p: judges_for(run, p, others) + ([ears[p]] if p in ears and p in args.ear_protocols else []) for p in PROTOCOLS}
        table = edit_table(files, judges, rendered, args.seed)
        say(f"{name}: edit table judged")
        # how far each edit moves the concepts it is not about, on the files it changed: the median
        # |change| (shares in their units, tempo and density relative to the file's value) and its side effects
        relative = np.isin(NAMES, ["tempo", "density"])
        off_target = {}
        for edit_name, r in rendered.items():
            moved = np.abs(r["shift"]) / np.where(relative, np.maximum(np.abs(r["before"]), 1), 1)
            off_target[edit_name] = {c: float(np.nanmedian(moved[:, i])) for i, c in enumerate(NAMES)
                                     if c not in EDITS[edit_name].moves and np.isfinite(moved[:, i]).any()}
        w = probe_windows(run, files)
        probes = probe_table(w["states"], w["surface"], w["values"], w["groups"], w["files"], args.seed)
        say(f"{name}: probes of {len(w['files'])} windows")
        judged = list(dict.fromkeys((r["judge"], r["protocol"]) for r in table["rows"]))
        result = {
            "how": {"command": "python scripts/concept_tables.py " + " ".join(sys.argv[1:]), "seed": args.seed,
                    "genre_lib": __version__, "date": datetime.date.today().isoformat(), "run": f"models/{name}",
                    "others": {k: f"models/{v}" for k, v in STUDIES[name].items()},
                    **({"ear": f"results/ear-{name}.json (calibration), under {', '.join(args.ear_protocols)}"} if args.ear else {}),
                    "files": "the run's held-out test files (run.json split.test_files)", "skipped": files.skipped,
                    "data": "every readable file of the run's genres (per-genre concepts)"},
            "concepts": CONCEPTS, "edits": {k: e.text for k, e in EDITS.items()}, "horse": list(HORSE),
            "side_effects": SIDE_EFFECTS, "off_target_median": off_target,
            "data": {"files": {g: int(len(collection[g])) for g in run.genres},
                     "table": data_table(values, labels, run.genres)},
            "table": table,
            "answers": {f"{j} {p}": answer(table, j, p) for j, p in judged},
            "probes": {"what": "logistic probe of the GRU's final state per 100-note window (file protocol windows), "
                               "label: concept above its median over these windows; 5-fold group CV; control: the "
                               "labels shuffled over windows; surface: the same probe on the window's 48 note statistics",
                       "rows": probes},
        }
        out = write_json(args.out / f"concepts-{name}.json", result, args.overwrite, default=float)
        say(f"wrote {out.relative_to(PROJECT) if out.is_relative_to(PROJECT) else out}")
        print(result["answers"]["rnn file"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
