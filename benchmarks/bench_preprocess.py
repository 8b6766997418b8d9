"""Benchmark: preprocessing a real MIDI folder, cold and warm, against plain pretty_midi.

    python benchmarks/bench_preprocess.py [DATA_DIR]    # default: ../shared/midi

Cold: ``load_dataset`` with an empty cache (parse every file with symusic).
Warm: the same call again (hash the files, read the cache).
Reference: a one-process loop that parses every file with ``pretty_midi.PrettyMIDI``,
the way the TensorFlow music tutorial reads files. Prints seconds and the ratio.
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

import pretty_midi

from genre_lib.dataset import find_midi_files, load_dataset
from genre_lib.paths import SHARED_MIDI as DEFAULT


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    files = [p for paths in find_midi_files(root).values() for p in paths]
    print(f"{root}: {len(files)} MIDI files")
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        data = load_dataset(root, cache_dir=cache, progress=False)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        load_dataset(root, cache_dir=cache, progress=False)
        warm = time.perf_counter() - start
    print(f"genre_lib cold : {cold:8.2f} s  ({len(data)} used, {len(data.skipped)} skipped)")
    print(f"genre_lib warm : {warm:8.2f} s")
    start = time.perf_counter()
    ok = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in files:
            try:
                pretty_midi.PrettyMIDI(str(path))
                ok += 1
            except Exception:
                pass
    reference = time.perf_counter() - start
    print(f"pretty_midi    : {reference:8.2f} s  ({ok} parsed)")
    print(f"speed-up cold  : {reference / cold:8.1f} x")
    print(f"speed-up warm  : {reference / warm:8.1f} x")


if __name__ == "__main__":
    main()
