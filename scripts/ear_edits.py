"""Does the ear hear an edit at all? Instruments swapped, as a control for its flip agreement.

    python scripts/ear_edits.py --run models/jazz-electronic --ear results/ear-jazz-electronic.json \\
        --n 40 --seed 0 --json results/ear-edits-jazz-electronic.json

The audio judge does not move with flips (``results/flip-ear.json``). That is news only
if it moves with edits it should hear. This script edits the same held-out files the
flip benchmark samples (``benchmarks/bench_flip.py --n 40 --seed 0``): the first 100
notes keep their pitches, times and drums, and every other note takes the program of the
matching pitched note (cyclically) of the first 100 notes of a donor file, a seeded
training file of

* the **other** genre (the flip's target): the instruments of that genre, the notes of this file;
* the file's **own** genre: another file's instruments, no change of genre intended (the
  null edit: how far any change of instruments moves a judge toward the other genre).

The whole file (the rest kept) is judged before and after by the ear and the run's RNN
and baseline under ``first100`` (:func:`genre_lib.ear.agreement`: the share whose genre
is the other one after the edit and before it, the share whose probability of it rose,
and its mean change, with 95 % bootstrap intervals over files).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

for _k in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_k, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from genre_lib.paths import PROJECT, SHARED_MIDI, write_json  # noqa: E402

sys.path.insert(0, str(PROJECT / "benchmarks"))
from bench_flip import held_out_files  # noqa: E402  (the flip benchmark's sample of files)


def swap_programs(table: np.ndarray, donor: np.ndarray, n: int = 100) -> np.ndarray:
    """``table`` whose first ``n`` pitched notes take, in turn, the programs of the pitched
    notes among the donor's first ``n`` (drums, pitches and times kept)."""
    from genre_lib.midi_io import DRUM, PROGRAM

    out = np.array(table, dtype=np.float32, copy=True)
    head = out[:n]
    pitched = np.nonzero(head[:, DRUM] < 0.5)[0]
    programs = donor[:n][donor[:n, DRUM] < 0.5, PROGRAM]
    if len(pitched) and len(programs):
        head[pitched, PROGRAM] = programs[np.arange(len(pitched)) % len(programs)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--ear", type=Path, required=True, help="results/ear-<run>.json (scripts/ear_eval.py)")
    ap.add_argument("--data", type=Path, default=SHARED_MIDI)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0, help="seed of the sample of files and of the donors")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args()
    if args.json and args.json.exists() and not args.overwrite:
        sys.exit(f"ear_edits: {args.json} exists; not replaced (pass --overwrite)")

    from genre_lib.ear import agreement, load_ears
    from genre_lib.evaluate import run_data
    from genre_lib.runs import load_run
    from genre_lib.verdicts import predict_all

    run = load_run(args.run)
    genres = tuple(run.genres)
    ear = load_ears(args.ear, genres)["first100"]
    data, y = run_data(run, args.data)
    train = run.split(data).train
    where = {p: i for i, p in enumerate(data.paths)}
    files = [where[p.relative_to(args.data).as_posix()] for p in held_out_files(run, args.data, args.n, args.seed)]
    rng = np.random.default_rng(args.seed)
    before = [data.table(i) for i in files]
    other = np.array([1 - y[i] if len(genres) == 2 else (y[i] + 1) % len(genres) for i in files])
    verdicts = run.verdicts("first100")

    def judge(tables: list) -> dict:  # every judge's probabilities; the combined verdict from its parts'
        return {"ear": ear.predict_proba(tables), **predict_all(verdicts, tables)}

    p_before = judge(before)
    report = {"run": args.run.name, "command": "python scripts/ear_edits.py " + " ".join(sys.argv[1:]),
              "files": len(files), "sample_seed": args.seed, "protocol": "first100",
              "target": "the other genre (the flip benchmark's target)", "edits": {}}
    for edit, donor_genre in (("instruments of the other genre", other), ("instruments of the own genre", y[files])):
        donors = [rng.choice(train[(y[train] == g) & (train != i)]) for g, i in zip(donor_genre, files)]
        after = [swap_programs(t, data.table(d)) for t, d in zip(before, donors)]
        p_after = judge(after)
        report["edits"][edit] = {"donors": [data.paths[d] for d in donors], "judges": {
            name: agreement(p_before[name], p_after[name], other, seed=args.seed) for name in p_before}}
        print(f"\n{edit}: the {len(files)} files' first 100 notes (judged first100)")
        for name, a in report["edits"][edit]["judges"].items():
            print(f"  {name:10s} other genre after {a['agrees']:.2f} {np.round(a['agrees_95'], 2).tolist()} "
                  f"(before {a['agreed_before']:.2f}); p(other) rose for {a['rose']:.2f}, mean change "
                  f"{a['p_change']:+.3f} {np.round(a['p_change_95'], 3).tolist()}")
    if args.json:
        print(f"wrote {write_json(args.json, report, args.overwrite)}")


if __name__ == "__main__":
    main()
