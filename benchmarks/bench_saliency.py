"""Benchmark: time to compute saliency maps, per method.

    python benchmarks/bench_saliency.py [--run models/jazz-electronic] [--model m.keras] [--repeats 21]

For each method of ``genre_lib.saliency.METHODS`` with its default settings (smoothgrad
with its default samples, ig with its default steps, occlusion of each of the 100 notes,
IG and occlusion from the training mean note): the time for one file after a warm-up
call (median of ``--repeats``),
and the time per file when 64 files are explained in one call. The model: ``--model``
(a .keras file) if given, else the committed run ``models/jazz-electronic`` if present,
else a small model trained on the demo corpus (``genre_lib.train``). Files: the first 64
usable files of ``--data`` (default ../shared/midi, else the demo corpus). Prints figures
only.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from genre_lib.paths import MODELS_DIR, PROJECT, SHARED_MIDI as SHARED  # noqa: E402

DEFAULT_RUN = MODELS_DIR / "jazz-electronic"


def _model_and_data(args):
    from genre_lib.data_source import resolve_data_dir
    from genre_lib.dataset import load_dataset
    from genre_lib.demo import ensure_demo_data
    from genre_lib.runs import load_run
    from genre_lib.locations import study_run, study_run_dir

    if args.model:
        import keras

        model, label = keras.models.load_model(args.model), str(args.model)
        data_dir = args.data or SHARED
    elif args.run.is_dir() and (args.data or SHARED).is_dir():
        model, label = load_run(args.run).model, str(args.run.relative_to(PROJECT) if args.run.is_relative_to(PROJECT) else args.run)
        data_dir = args.data or SHARED
    else:
        # no real data here: the model notebooks 04 and 05 use on the demo corpus
        demo = resolve_data_dir(ensure_demo_data())
        model, label = study_run(demo).model, f"the demo-corpus model ({study_run_dir(demo).relative_to(PROJECT)})"
        data_dir = demo.path
    data = load_dataset(data_dir, progress=False)
    index = np.arange(min(64, len(data)))
    return model, label, data.X[index], data.y[index], data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=DEFAULT_RUN)
    ap.add_argument("--model", type=Path, help="a .keras model instead of a run")
    ap.add_argument("--data", type=Path)
    ap.add_argument("--repeats", type=int, default=21, help="timed calls per method; the median is printed (the machine is shared, so single calls jitter)")
    args = ap.parse_args()

    from genre_lib import saliency as S

    model, label, X, y, data = _model_and_data(args)
    print(f"model: {label}; {len(X)} files x {X.shape[1]} notes; "
          f"smoothgrad n={S.N_SAMPLES}, ig steps={S.IG_STEPS}")
    print(f"{'method':<11} {'1 file (ms)':>12} {'per file in 64 (ms)':>20}")
    for name in S.METHODS:
        method = S.method_named(name, model)
        method.attribute(X[:1], y[:1])  # warm-up: tracing
        method.attribute(X, y)
        single = []
        for r in range(args.repeats):
            t0 = time.perf_counter()
            method.attribute(X[r % len(X)], int(y[r % len(X)]))
            single.append(time.perf_counter() - t0)
        batch = []
        for _ in range(max(1, args.repeats // 2)):
            t0 = time.perf_counter()
            method.attribute(X, y)
            batch.append(time.perf_counter() - t0)
        print(f"{name:<11} {1000 * np.median(single):12.1f} {1000 * np.median(batch) / len(X):20.2f}")


if __name__ == "__main__":
    main()
