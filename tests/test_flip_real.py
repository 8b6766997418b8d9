"""Flips of the committed real model (models/jazz-electronic) on real held-out files of
both genres: the library call behind ``genre-lib flip`` (genre_lib.opinions.flip_file,
asking the run's seed siblings and its plausibility measure), the written file checked
with an independent reader, instruments frozen, and the installed command in a new
process printing the library call's report."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from genre_lib.midi_io import DRUM, PROGRAM, read_midi, write_midi

from .conftest import SHARED_MIDI
from .flip_helpers import Held, check_written_flip, flip_file, held_out, json_copy, model_probs


@pytest.fixture(scope="module")
def real(real_run) -> Held:
    """The committed real-data model with the first of its held-out test files of each
    genre."""
    if not SHARED_MIDI.is_dir():
        pytest.skip(f"real data not found at {SHARED_MIDI}")
    return held_out(real_run, SHARED_MIDI, 1)


@pytest.fixture(scope="module")
def real_flips(real) -> list:
    """Each held-out file flipped to the other genre by the library call behind the
    command, with its defaults (:func:`genre_lib.opinions.flip_file`: the first 100
    notes, the run's seed siblings and plausibility measure asked)."""
    from genre_lib.flip import flip_file as library_flip

    return [library_flip(real.run, f, 1 - p) for f, p in zip(real.files, real.predicted)]


@pytest.mark.slow
def test_real_held_out_files_of_both_genres_flip_and_survive_the_round_trip(real, real_flips, tmp_path: Path):
    genres_flipped = set()
    for k, mine in enumerate(real_flips):
        out = write_midi(mine.result.modified, tmp_path / f"flipped_{k}.mid")
        check_written_flip(real.model, types.SimpleNamespace(result=mine.result, out=out, table=mine.table,
                                                             target=1 - real.predicted[k]))
        genres_flipped.add(Path(real.files[k]).parts[-2])
    assert genres_flipped == set(real.genres)


@pytest.mark.slow
def test_real_flip_with_instruments_frozen_keeps_every_instrument(real, tmp_path: Path):
    flip = flip_file(real, len(real.files) - 1, tmp_path, frozen=("drum", "program"))
    r = flip.result
    np.testing.assert_array_equal(r.modified[:, [DRUM, PROGRAM]], r.base[:, [DRUM, PROGRAM]])
    if r.flipped:
        check_written_flip(real.model, flip)


@pytest.mark.slow
def test_cli_flip_as_a_user_runs_it_on_the_committed_model(real, real_flips, tmp_path: Path):
    """The installed command in a subprocess, on a real held-out file and the committed run."""
    k = len(real.files) - 1
    target = real.genres[1 - real.predicted[k]]
    out = tmp_path / "flipped.mid"
    proc = subprocess.run(
        [sys.executable, "-m", "genre_lib", "flip", str(real.run.path), str(real.files[k]), "--target", target,
         "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["flipped"] is True and report["notes_changed"] < 50
    probs = model_probs(real.model, read_midi(out)[:100])
    assert real.genres[int(np.argmax(probs))] == target
    np.testing.assert_allclose(probs, [report["after_reparsed"][g] for g in real.genres], atol=1e-5)
    # the command prints the library call's report: the same keys in the same order, the
    # same values but the optimiser's seconds (the panel: the run's verdicts, its
    # plausibility measure and its seed siblings, asked by default)
    mine = json_copy(real_flips[k].to_dict(out))
    assert list(report) == list(mine)
    report.pop("seconds"), mine.pop("seconds")
    assert report == mine
    assert {"rnn-seed1", "rnn-seed2"} <= set(report["opinions"]["verdicts"]) and "plausibility" in report["opinions"]
