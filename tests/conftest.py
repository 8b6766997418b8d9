"""Shared fixtures: the demo corpus and the real data beside the project."""

from __future__ import annotations

from pathlib import Path

import pytest

from genre_lib.paths import MODELS_DIR, PROJECT, SHARED_MIDI  # noqa: F401 (PROJECT: for the test modules)

needs_shared = pytest.mark.skipif(
    not SHARED_MIDI.is_dir(), reason=f"real data not found at {SHARED_MIDI} (see docs/data.md)"
)


def _table(n: int, seed: int, drum_only: bool = False):
    import numpy as np

    from genre_lib.midi_io import notes_from_events

    rng = np.random.default_rng(seed)
    start = np.sort(rng.uniform(0, 30, n))
    return notes_from_events(
        start,
        start + rng.uniform(0.05, 0.8, n),
        rng.integers(36, 90, n),
        rng.integers(30, 120, n),
        np.ones(n) if drum_only else (rng.random(n) < 0.2).astype(float),
        rng.integers(0, 100, n),
    )


@pytest.fixture
def broken_folder(tmp_path: Path) -> Path:
    """A data folder with two good files per genre and one of each kind of bad file."""
    import pretty_midi

    from genre_lib.midi_io import write_midi

    root = tmp_path / "data"
    for g, genre in enumerate(("Jazz", "electronic")):
        for i in range(2):
            write_midi(_table(150, seed=10 * g + i), root / genre / f"good_{i}_x{g}.mid")
    jazz = root / "Jazz"
    (jazz / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\xff\xff")
    (jazz / "notes.mid").write_text("this is a text file, not MIDI\n")
    (jazz / "empty.mid").write_bytes(b"")
    silent = pretty_midi.PrettyMIDI()
    silent.instruments.append(pretty_midi.Instrument(program=0))
    silent.write(str(jazz / "zero_notes.mid"))
    write_midi(_table(150, seed=99, drum_only=True), jazz / "drums_only.mid")
    write_midi(_table(20, seed=98), root / "electronic" / "sub" / "twenty_notes.mid")
    (root / "electronic" / "copy_of_good_0.mid").write_bytes((root / "electronic" / "good_0_x1.mid").read_bytes())
    (root / "electronic" / "readme.txt").write_text("not a MIDI file name, ignored\n")
    return root


BROKEN_REASONS = {
    "Jazz/corrupt.mid": "unreadable MIDI",
    "Jazz/notes.mid": "not a MIDI file",
    "Jazz/empty.mid": "empty file",
    "Jazz/zero_notes.mid": "no notes",
    "Jazz/drums_only.mid": "drums only",
    "electronic/sub/twenty_notes.mid": "too short: 20 notes < 100",
    "electronic/good_0_x1.mid": "duplicate",
}


#: the committed model trained on the real data (see models/README.md)
REAL_RUN = MODELS_DIR / "jazz-electronic"
#: a tiny but real training configuration: a few seconds on the demo corpus
TINY_CONFIG = dict(units=16, dense_units=16, epochs=6, patience=3)


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    """The generated demo corpus (made on first use under data/demo)."""
    from genre_lib.demo import ensure_demo_data

    return ensure_demo_data()


@pytest.fixture(scope="session")
def demo_data(demo_dir):
    """The demo corpus as a Dataset."""
    from genre_lib.dataset import load_dataset

    return load_dataset(demo_dir, progress=False)


def _trained_once(tmp_path_factory, name: str, train):
    """``train(out)`` for a run folder ``out`` named ``name``, once per test session: under
    pytest-xdist the first worker to ask trains it and the others load the folder it
    wrote (seeded training would give them the same weights, at seconds each); alone,
    or where file locks are missing, each process trains its own."""
    import os

    from genre_lib.runs import load_run

    try:
        import fcntl
    except ImportError:  # not on this platform: train here
        fcntl = None
    if fcntl is None or not os.environ.get("PYTEST_XDIST_WORKER"):
        return train(tmp_path_factory.mktemp("runs") / name)
    # this session's folder, common to its workers; a folder of its own per run, so that
    # no run is a seed sibling (runs.seed_siblings) of another, as with mktemp
    shared = tmp_path_factory.getbasetemp().parent / "shared-runs" / name
    shared.mkdir(parents=True, exist_ok=True)
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if (shared / name / "run.json").is_file():
            return load_run(shared / name)
        return train(shared / name)


@pytest.fixture(scope="session")
def demo_run(demo_data, tmp_path_factory):
    """A small GRU trained for real (seeded) on the demo corpus, as a loaded run folder."""
    from genre_lib.configs import ModelConfig
    from genre_lib.train import train_run

    return _trained_once(tmp_path_factory, "demo-tiny",
                         lambda out: train_run(demo_data, out, config=ModelConfig(**TINY_CONFIG), seed=0))


@pytest.fixture(scope="session")
def demo_seed1(demo_data, demo_run, tmp_path_factory):
    """A second tiny demo network: the demo run's configuration and split (split seed 0),
    weight seed 1 (train_run's split_seed). A session fixture: the flip tests of several
    modules ask it for a second opinion, and a worker trains it once."""
    from genre_lib.configs import ModelConfig
    from genre_lib.train import train_run

    return _trained_once(tmp_path_factory, "demo-tiny-seed1",
                         lambda out: train_run(demo_data, out, config=ModelConfig(**TINY_CONFIG), seed=1, split_seed=0))


@pytest.fixture(scope="session")
def real_run():
    """The committed real-data run; skipped when it is not there."""
    from genre_lib.runs import load_run

    if not (REAL_RUN / "run.json").is_file():
        pytest.skip(f"no committed real model at {REAL_RUN}")
    return load_run(REAL_RUN)


#: the fixtures that train a model: a test that asks for one (or for a fixture built on
#: one) is marked slow
TRAINED = ("demo_run", "demo_seed1")


def pytest_collection_modifyitems(items):
    """Every test that reads ../shared/midi (``needs_shared``, or the committed model's
    ``real_run``) is marked ``real_data``, so ``-m "not real_data"`` leaves them all out;
    every test of a trained model (:data:`TRAINED`) is marked ``slow``."""
    for item in items:
        if any(f in getattr(item, "fixturenames", ()) for f in TRAINED):
            item.add_marker(pytest.mark.slow)
        skip_reasons = [str(m.kwargs.get("reason", "")) for m in item.iter_markers("skipif")]
        if "real_run" in getattr(item, "fixturenames", ()) or any("real data not found" in r for r in skip_reasons):
            item.add_marker(pytest.mark.real_data)
