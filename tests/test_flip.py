"""Genre flips: projection to legal MIDI, the delta optimiser on a real trained model,
the MIDI round trip, the change report, audio and the ``flip`` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from genre_lib.flip import SCALES, FlipResult, change_size, describe_changes, project_to_midi, read_back_order
from genre_lib.midi_io import DRUM, DURATION, FEATURES, PITCH, PROGRAM, STEP, TIME_RESOLUTION, VELOCITY, read_midi, write_midi

from .conftest import SHARED_MIDI, needs_shared

@pytest.fixture(scope="module")
def trained(real_run):
    """The committed real-data model and six real files it never saw (three held-out
    test files of each genre): (model, genres, files)."""
    if not SHARED_MIDI.is_dir():
        pytest.skip(f"real data not found at {SHARED_MIDI}")
    test_files = real_run.meta["split"]["test_files"]
    files = []
    for genre in real_run.genres:
        files += [SHARED_MIDI / p for p in test_files if p.split("/")[0] == genre][:3]
    return real_run.model, tuple(real_run.genres), files


def predict(model, table: np.ndarray) -> np.ndarray:
    return np.asarray(model(np.asarray(table, np.float32)[None], training=False))[0]


@pytest.fixture(scope="module")
def flipped(trained, tmp_path_factory):
    """One real flip, written to disk: (result, path of the written file, model)."""
    from genre_lib.dataset import load_file
    from genre_lib.flip import optimize_delta

    model, genres, files = trained
    table = load_file(files[0])
    target = 1 - int(np.argmax(predict(model, table)))
    result = optimize_delta(model, table, target, genres=genres)
    out = tmp_path_factory.mktemp("flip") / "flipped.mid"
    write_midi(result.modified, out)
    return result, out, model


def messy_table(seed: int = 0) -> np.ndarray:
    """A note table with every kind of illegal value a continuous delta can produce."""
    rng = np.random.default_rng(seed)
    n = 60
    t = np.stack(
        [
            rng.uniform(-10, 140, n),
            rng.uniform(-0.2, 0.6, n),
            rng.uniform(-0.1, 1.0, n),
            rng.uniform(-20, 150, n),
            rng.uniform(-0.5, 1.5, n),
            rng.uniform(-5, 135, n),
        ],
        axis=1,
    )
    return t.astype(np.float32)


# --- projection -----------------------------------------------------------------------


def test_projection_gives_legal_midi_values_and_is_idempotent():
    p = project_to_midi(messy_table())
    for col, lo, hi in ((PITCH, 0, 127), (VELOCITY, 1, 127), (PROGRAM, 0, 127)):
        assert np.all(p[:, col] == np.round(p[:, col])) and p[:, col].min() >= lo and p[:, col].max() <= hi
    assert set(np.unique(p[:, DRUM])) <= {0.0, 1.0}
    assert np.all(p[p[:, DRUM] == 1, PROGRAM] == 0)
    assert p[0, STEP] == 0 and p[:, STEP].min() >= 0
    ticks = np.cumsum(p[:, STEP].astype(np.float64)) / TIME_RESOLUTION
    np.testing.assert_allclose(ticks, np.round(ticks), atol=1e-3)
    dur = p[:, DURATION].astype(np.float64) / TIME_RESOLUTION
    np.testing.assert_allclose(dur, np.round(dur), atol=1e-3)
    assert p[:, DURATION].min() >= np.float32(TIME_RESOLUTION)
    np.testing.assert_array_equal(project_to_midi(p), p)


@needs_shared
def test_projected_table_survives_midi_round_trip_in_read_back_order(tmp_path: Path):
    from genre_lib.dataset import find_midi_files, load_file

    table = load_file(find_midi_files(SHARED_MIDI)["jazz"][0])
    rng = np.random.default_rng(1)
    noisy = table + rng.normal(0, 1, table.shape).astype(np.float32) * np.array([2, 0.02, 0.05, 5, 0, 0], np.float32)
    p = project_to_midi(noisy)
    write_midi(p, tmp_path / "p.mid")
    back = read_midi(tmp_path / "p.mid")
    np.testing.assert_allclose(back, read_back_order(p), atol=1e-5)


# --- the optimiser on a real model ------------------------------------------------------


def test_flip_succeeds_and_survives_the_midi_round_trip(flipped):
    result, out, model = flipped
    assert isinstance(result, FlipResult)
    assert result.success and result.flipped
    assert int(np.argmax(result.probs_before)) != result.target
    # independent re-parse and re-classification of the written file
    reparsed = read_midi(out)[: len(result.modified)]
    probs = predict(model, reparsed)
    assert int(np.argmax(probs)) == result.target
    np.testing.assert_allclose(probs, result.probs_reparsed, atol=1e-4)
    assert 0 < result.notes_changed < len(result.modified)


def test_frozen_features_never_change(flipped, trained):
    from genre_lib.flip import optimize_delta

    from genre_lib.flip import FROZEN

    result, _, model = flipped
    assert FROZEN == ("drum",)
    for k in (DRUM,):
        np.testing.assert_array_equal(result.trajectory_tables[:, :, k], np.broadcast_to(result.base[:, k], result.trajectory_tables.shape[:2]))
    frozen = optimize_delta(model, result.original, result.target, frozen=("pitch", "drum", "program"), max_steps=30, round_trip=False)
    for k in (PITCH, DRUM, PROGRAM):
        assert np.all(frozen.trajectory_tables[:, :, k] == frozen.base[:, k])


def test_trajectory_probabilities_match_the_model_on_each_projected_table(flipped):
    result, _, model = flipped
    assert len(result.trajectory_steps) == len(result.trajectory_tables) == len(result.trajectory_probs)
    assert result.trajectory_steps[0] == 0 and result.trajectory_steps[-1] == result.steps
    for k in sorted({0, len(result.trajectory_steps) // 2, len(result.trajectory_steps) - 1}):
        table = result.trajectory_tables[k]
        np.testing.assert_array_equal(project_to_midi(table), table)
        np.testing.assert_allclose(predict(model, read_back_order(table)), result.trajectory_probs[k], atol=1e-4)
    np.testing.assert_array_equal(result.trajectory_tables[-1], result.modified)


def test_change_report_and_size_match_a_direct_diff(flipped):
    result, _, _ = flipped
    a, b = result.base.astype(np.float64), result.modified.astype(np.float64)
    where = {(int(i), FEATURES[k]) for i, k in zip(*np.nonzero(a != b))}
    changes = describe_changes(result.base, result.modified)
    assert {(c["note"], c["feature"]) for c in changes} == where
    for c in changes:
        k = FEATURES.index(c["feature"])
        assert c["before"] == pytest.approx(a[c["note"], k], abs=1e-6)
        assert c["after"] == pytest.approx(b[c["note"], k], abs=1e-6)
    scaled = (b - a) / np.array([SCALES[f] for f in FEATURES])
    assert result.l1 == pytest.approx(np.abs(scaled).sum(), rel=1e-5)
    assert result.l2 == pytest.approx(np.sqrt((scaled**2).sum()), rel=1e-5)
    assert result.notes_changed == len({i for i, _ in where})


def test_change_texts_read_as_music():
    a = np.array([[60, 0, 0.25, 80, 0, 0], [62, 0.5, 0.5, 80, 0, 0]], np.float32)
    b = a.copy()
    b[0, PITCH] = 63
    b[1, DURATION] = 0.9
    texts = [c["text"] for c in describe_changes(a, b)]
    assert texts[0].startswith("pitch +3 semitones")
    assert texts[1].startswith("duration x1.8")
    assert change_size(a, b) | {"units": ""} == {"l1": pytest.approx(3 + 0.4 / 0.125), "l2": pytest.approx(np.hypot(3, 3.2)), "notes_changed": 2, "units": ""}


# --- audio -----------------------------------------------------------------------------


def test_audio_has_expected_length_and_is_finite(flipped):
    from genre_lib.audio import TAIL, audio_length, render_audio

    result, _, _ = flipped
    fs = 8000
    wave = render_audio(result.modified, fs=fs)
    end = float((np.cumsum(result.modified[:, STEP].astype(np.float64)) + result.modified[:, DURATION]).max())
    assert len(wave) == audio_length(result.modified, fs) == int(round((end + TAIL) * fs))
    assert wave.dtype == np.float32 and np.all(np.isfinite(wave)) and np.abs(wave).max() <= 1
    drums = result.modified.copy()
    drums[:, DRUM] = 1
    assert np.abs(render_audio(drums, fs=fs)).max() > 0.1  # drums are heard, not skipped


# --- the command line ------------------------------------------------------------------


@pytest.fixture
def cli(trained, real_run):
    """Run ``genre-lib flip`` in-process on the committed run folder."""
    from genre_lib import cli as cli_mod

    model, genres, files = trained

    def call(capsys, *args):
        code = cli_mod.main(["flip", str(real_run.path), *map(str, args)])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return call, model, genres, files


def test_cli_flip_json_writes_flipped_file_and_leaves_input_alone(cli, capsys, tmp_path):
    call, model, genres, files = cli
    src = files[1]
    before_bytes = Path(src).read_bytes()
    from genre_lib.dataset import load_file

    target = genres[1 - int(np.argmax(predict(model, load_file(src))))]
    out = tmp_path / "out.mid"
    code, stdout, stderr = call(capsys, src, "--target", target, "--out", out, "--json")
    assert code == 0, stderr
    report = json.loads(stdout)
    for key in ("before", "after_reparsed", "flipped", "steps", "l1", "l2", "notes_changed", "changes"):
        assert key in report
    assert report["flipped"] is True and set(report["after_reparsed"]) == set(genres)
    assert max(report["after_reparsed"], key=report["after_reparsed"].get) == target
    assert Path(src).read_bytes() == before_bytes
    assert int(np.argmax(predict(model, read_midi(out)[:100]))) == genres.index(target)
    # an existing --out needs --overwrite; the input itself is refused outright
    code, _, err = call(capsys, src, "--target", target, "--out", out)
    assert code == 2 and "--overwrite" in err and len(err.strip().splitlines()) == 1
    code, _, err = call(capsys, src, "--target", target, "--out", src, "--overwrite")
    assert code == 2 and "input" in err
    assert Path(src).read_bytes() == before_bytes


def test_cli_flip_errors_are_one_clear_line(cli, capsys, tmp_path):
    call, model, genres, files = cli
    from genre_lib.dataset import load_file

    src = files[1]
    own = genres[int(np.argmax(predict(model, load_file(src))))]
    other = genres[1 - genres.index(own)]
    out = tmp_path / "out.mid"
    cases = [
        ((src, "--target", "polka", "--out", out), ["polka", *genres]),
        ((src, "--target", own, "--out", out), ["already classified as " + own]),
        ((src, "--target", other, "--out", out, "--max-steps", "0"), ["nothing written"]),
    ]
    bad = tmp_path / "notes.mid"
    bad.write_text("not a MIDI file\n")
    cases.append(((bad, "--target", other, "--out", out), ["not a MIDI file"]))
    for args, words in cases:
        code, _, err = call(capsys, *args)
        assert code == 2, args
        assert len(err.strip().splitlines()) == 1 and err.startswith("genre-lib flip: error:")
        for word in words:
            assert word in err
        assert not out.exists()
