"""Benchmark: flip real held-out files of both genres to the other genre.

    python benchmarks/bench_flip.py [--run models/jazz-electronic] [--n 40] [--data ../shared/midi]
    python benchmarks/bench_flip.py --model scratch.keras --files held_out.json   # any model

For each file: read the first 100 notes, flip to the genre the model does *not*
choose (``genre_lib.flip.optimize_delta`` with its defaults unless overridden), write
the result to MIDI, read it back and classify it again. Prints the success rate after
the round trip, the median notes changed (of 100), the median l1 (scaled units, see
``genre_lib.flip.SCALES``) and seconds per flip (median, max).

Files: the run's recorded test split when ``run.json`` lists it (keys ``test_paths``,
``test_files`` or ``split.test``), else a seeded sample of the data folder (and the
script says so: those files may have been seen in training). Half the files from each
genre, as far as the data allow.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = PROJECT.parent / "shared" / "midi"


def _recorded_test_files(run_dir: Path, data: Path) -> list[Path] | None:
    meta = run_dir / "run.json"
    if not meta.is_file():
        return None
    info = json.loads(meta.read_text())
    for getter in (
        lambda d: d["test_paths"],
        lambda d: d["test_files"],
        lambda d: d["split"]["test"],
        lambda d: d["splits"]["test"],
    ):
        try:
            paths = getter(info)
        except (KeyError, TypeError):
            continue
        if paths and isinstance(paths[0], str):
            return [Path(p) if Path(p).is_absolute() else data / p for p in paths]
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=PROJECT / "models" / "jazz-electronic")
    ap.add_argument("--model", type=Path, help="a .keras model instead of a run (development)")
    ap.add_argument("--files", type=Path, help="JSON with 'paths' (relative to --data) and 'genres'")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--params", default="{}", help="JSON of optimize_delta keyword arguments")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from genre_lib.dataset import MidiError, find_midi_files, load_file
    from genre_lib.flip import DEFAULTS, classify, optimize_delta

    features = None
    if args.model:
        import keras

        model = keras.models.load_model(args.model)
        info = json.loads(args.files.read_text()) if args.files else {}
        genres = tuple(info.get("genres") or sorted(find_midi_files(args.data)))
        files = [args.data / p for p in info.get("paths", [])] or None
        source = f"{args.files}" if files else None
    else:
        from genre_lib.runs import load_run

        run = load_run(args.run)
        model, genres = run.model, tuple(run.genres)
        features = tuple(run.features)
        files = _recorded_test_files(args.run, args.data)
        source = f"{args.run}/run.json test split" if files else None
    if files is None:
        by_genre = find_midi_files(args.data, list(genres))
        rng = np.random.default_rng(args.seed)
        files = [p for g in genres for p in rng.permutation(by_genre[g])[: args.n]]
        source = f"seeded sample of {args.data} (NOT a recorded held-out split)"
    # balance the genres
    by = {g: [f for f in files if Path(f).relative_to(args.data).parts[0].lower() == g.lower()] for g in genres}
    half = -(-args.n // len(genres))
    chosen = [f for g in genres for f in by[g][:half]][: args.n]
    params = json.loads(args.params)
    print(f"model: {args.model or args.run}; genres {genres}; files: {source}")
    print(f"params: {dict(DEFAULTS, **params)}")

    rows = []
    for path in chosen:
        try:
            table = load_file(path)
        except MidiError as exc:
            print(f"  skip {exc}")
            continue
        kw = {"features": features} if features else {}
        p = classify(model, table, **kw)
        target = 1 - int(np.argmax(p)) if len(genres) == 2 else int(np.argsort(p)[-2])
        t0 = time.perf_counter()
        r = optimize_delta(model, table, target, genres=genres, **kw, **params)
        sec = time.perf_counter() - t0
        rows.append((r.flipped, r.success, r.notes_changed, r.l1, r.steps, sec))
        rel = Path(path).relative_to(args.data)
        print(
            f"  {str(rel)[:48]:48s} -> {genres[target]:10s} flipped={int(r.flipped)} notes={r.notes_changed:3d} "
            f"l1={r.l1:7.2f} steps={r.steps:3d} {sec:5.2f}s p_target {p[target]:.2f}->"
            f"{(r.probs_reparsed[target] if r.probs_reparsed is not None else float('nan')):.2f}",
            flush=True,
        )
    a = np.array(rows, dtype=float)
    print(
        f"\n{len(a)} files: success after round trip {a[:, 0].mean():.1%} "
        f"(before round trip {a[:, 1].mean():.1%}); median notes changed {np.median(a[:, 2]):.0f}/100 "
        f"(max {a[:, 2].max():.0f}); median l1 {np.median(a[:, 3]):.2f}; median steps {np.median(a[:, 4]):.0f}; "
        f"seconds per flip median {np.median(a[:, 5]):.2f}, max {a[:, 5].max():.2f}"
    )
    if a[:, 0].mean() < 0.95:
        sys.exit(1)


if __name__ == "__main__":
    main()
