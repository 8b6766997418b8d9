"""Benchmark: training the main model on a real MIDI folder, and prediction throughput.

    python benchmarks/bench_train.py [DATA_DIR]    # default: ../shared/midi

Training: ``train_run`` with ``MAIN_CONFIG`` on the group split, seed 0 (what
``models/jazz-electronic`` was made with), into a temporary folder; prints the wall time
of the whole run (fit, scoring under both protocols, baseline, saving) and of the fit
alone, and whether the weights equal the committed model's (same seed, same weights).
Prediction, with the trained model:

* batch: ``predict_proba`` on the first 100 notes of every used file at once (first
  call, which includes building TensorFlow's graph, and the best of three warm calls),
  and the ``file`` protocol (a vote of ``FILE_WINDOWS`` windows) on every used file;
* CLI path, in process: for every MIDI file of the folder, ``load_file`` then
  ``predict_proba`` on that one table, as ``genre-lib predict`` does (unusable files are
  skipped, as there);
* CLI, end to end: ``genre-lib predict RUN FILE... --json`` on every file, in a new
  process (start-up and model loading included).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from genre_lib.dataset import find_midi_files, load_dataset, load_file  # noqa: E402
from genre_lib.inference import predict_proba  # noqa: E402
from genre_lib.protocols import FILE_WINDOWS  # noqa: E402
from genre_lib.verdicts import RNNVerdict  # noqa: E402
from genre_lib.midi_io import MidiError  # noqa: E402
from genre_lib.paths import SHARED_MIDI as DEFAULT  # noqa: E402
from genre_lib.configs import MAIN_CONFIG  # noqa: E402
from genre_lib.locations import REAL_RUN_DIR  # noqa: E402
from genre_lib.train import train_run  # noqa: E402

GENRES = ["jazz", "electronic"]


def _same_weights(model, run_dir: Path) -> str:
    from genre_lib.runs import RunError, load_run

    try:
        committed = load_run(run_dir).model
    except RunError as exc:
        return f"not compared ({exc})"
    a, b = model.get_weights(), committed.get_weights()
    if len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b)):
        return "identical"
    diff = max(float(np.abs(x - y).max()) for x, y in zip(a, b)) if all(x.shape == y.shape for x, y in zip(a, b)) else float("nan")
    return f"different (largest difference {diff:.3g})"


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    files = [p for paths in find_midi_files(root, GENRES).values() for p in paths]
    start = time.perf_counter()
    data = load_dataset(root, GENRES, progress=False)
    load_s = time.perf_counter() - start
    print(f"{root}: {len(files)} MIDI files, {len(data)} used, {len(data.skipped)} skipped "
          f"(load_dataset {load_s:.2f} s, cached arrays if present); {os.cpu_count()} CPU cores")

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "main"
        start = time.perf_counter()
        run = train_run(data, run_dir, config=MAIN_CONFIG, seed=0, split="group")
        total = time.perf_counter() - start
        test = run.metrics["rnn"]["protocols"]
        print(f"train MAIN_CONFIG (group split, seed 0): {total:6.1f} s wall for the run, "
              f"{run.meta['train_seconds']:.1f} s of it fitting, {run.meta['epochs_trained']} epochs "
              f"({run.meta['train_seconds'] / run.meta['epochs_trained']:.2f} s/epoch on {MAIN_CONFIG.windows} windows "
              f"of each of {run.meta['split']['n_train']} files)")
        both = run.metrics["combined"]["protocols"]
        print(f"  test accuracy {test['file']['accuracy']:.3f} (file) and {test['first100']['accuracy']:.3f} (first100) "
              f"on {test['file']['n']} files, with the baseline {both['file']['accuracy']:.3f} and {both['first100']['accuracy']:.3f}; weights vs {REAL_RUN_DIR.name}: {_same_weights(run.model, REAL_RUN_DIR)}")

        start = time.perf_counter()
        predict_proba(run.model, data.X)
        first = time.perf_counter() - start
        warm = []
        for _ in range(3):
            start = time.perf_counter()
            predict_proba(run.model, data.X)
            warm.append(time.perf_counter() - start)
        print(f"predict_proba, batch of {len(data)}: first call {first:.2f} s ({len(data) / first:,.0f} files/s), "
              f"warm {min(warm):.3f} s ({len(data) / min(warm):,.0f} files/s)")
        start = time.perf_counter()
        RNNVerdict(run.model, run.genres, "file", FILE_WINDOWS).predict_proba(data.tables())
        vote = time.perf_counter() - start
        print(f"file protocol ({FILE_WINDOWS} windows per file), {len(data)} files: {vote:.2f} s ({len(data) / vote:,.0f} files/s)")

        reading = predicting = 0.0
        done = skipped = 0
        for path in files:
            start = time.perf_counter()
            try:
                table = load_file(path, run.max_notes)
            except (MidiError, OSError):
                skipped += 1
                continue
            finally:
                reading += time.perf_counter() - start
            start = time.perf_counter()
            predict_proba(run.model, table)
            predicting += time.perf_counter() - start
            done += 1
        loop = reading + predicting
        print(f"CLI path in process (load_file + predict_proba per file): {loop:.1f} s for {len(files)} files "
              f"({done} scored, {skipped} skipped): {len(files) / loop:,.1f} files/s; "
              f"reading {reading:.1f} s, predicting {predicting:.1f} s ({1000 * predicting / max(done, 1):.0f} ms per call)")

        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "genre_lib", "predict", str(run_dir), *map(str, files), "--json"],
            capture_output=True, text=True,
        )
        cli = time.perf_counter() - start
        scored = result.stdout.count('"predicted"')
        print(f"genre-lib predict, new process, {len(files)} files: {cli:.1f} s ({scored} scored, exit {result.returncode}): "
              f"{len(files) / cli:,.1f} files/s including start-up")


if __name__ == "__main__":
    main()
