"""Genre flips: projection to legal MIDI, the delta optimiser on real trained models (the
small GRU trained on the demo corpus, and the committed real model on real held-out
files), the MIDI round trip checked with an independent reader (pretty_midi), the
change report, audio and the ``flip`` command against real run folders."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from genre_lib.changes import SCALES, change_size, describe_changes
from genre_lib.flip import FROZEN, FlipError, FlipResult, FlipSettings, optimize_delta
from genre_lib.inference import predict_proba
from genre_lib.midi_io import (
    DRUM,
    DURATION,
    FEATURES,
    PITCH,
    PROGRAM,
    STEP,
    TIME_RESOLUTION,
    VELOCITY,
    project_to_midi,
    read_back_order,
    read_midi,
    write_midi,
)

from .conftest import SHARED_MIDI


class Held(types.SimpleNamespace):
    """run (a loaded run folder), model, genres, root (data folder), files (held-out
    MIDI paths, the first ones of each genre) and predicted (the model's genre index of
    each)."""


def held_out(run, root: Path, per_genre: int) -> Held:
    """The first ``per_genre`` held-out test files of each genre of ``run`` (its own
    split, never files it was trained on) with the model's prediction for each."""
    test = run.meta["split"]["test_files"]
    files = [root / p for g in run.genres for p in [p for p in test if Path(p).parts[0] == g][:per_genre]]
    from genre_lib.dataset import load_file

    predicted = [int(np.argmax(predict_proba(run.model, load_file(f, run.max_notes))[0])) for f in files]
    return Held(run=run, model=run.model, genres=tuple(run.genres), root=root, files=files, predicted=predicted)


@pytest.fixture(scope="module")
def demo(demo_run, demo_dir) -> Held:
    """The small GRU trained on the demo corpus, with two held-out files per genre."""
    return held_out(demo_run, demo_dir, 2)


@pytest.fixture(scope="module")
def real(real_run) -> Held:
    """The committed real-data model with two of its held-out test files per genre."""
    if not SHARED_MIDI.is_dir():
        pytest.skip(f"real data not found at {SHARED_MIDI}")
    return held_out(real_run, SHARED_MIDI, 2)


def model_probs(model, table: np.ndarray) -> np.ndarray:
    """Probabilities straight from the Keras model (no genre_lib code in between)."""
    return np.asarray(model(np.asarray(table, np.float32)[None], training=False))[0]


def pretty_midi_notes(path: Path) -> list[tuple[int, ...]]:
    """Every note of a MIDI file as read by pretty_midi, as sorted (onset tick, duration
    tick, pitch, velocity, drum, program) tuples: an independent reader of what was
    written."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(path))
    return sorted(
        (round(n.start / TIME_RESOLUTION), round((n.end - n.start) / TIME_RESOLUTION), n.pitch, n.velocity,
         int(inst.is_drum), inst.program)
        for inst in pm.instruments for n in inst.notes
    )


def table_notes(table: np.ndarray) -> list[tuple[int, ...]]:
    """The same tuples computed by hand from a (projected) note table."""
    t = np.asarray(table, np.float64)
    onset = np.round(np.cumsum(t[:, STEP]) / TIME_RESOLUTION).astype(int)
    dur = np.round(t[:, DURATION] / TIME_RESOLUTION).astype(int)
    return sorted(zip(onset.tolist(), dur.tolist(), *(t[:, k].astype(int).tolist() for k in (PITCH, VELOCITY, DRUM, PROGRAM))))


def flip_file(held: Held, k: int, tmp: Path, **settings) -> types.SimpleNamespace:
    """Flip held-out file ``k`` to the genre the model does not choose and write it."""
    from genre_lib.dataset import load_file

    table = load_file(held.files[k], held.run.max_notes)
    target = 1 - held.predicted[k]
    result = optimize_delta(held.model, table, target, FlipSettings(**settings), genres=held.genres)
    out = write_midi(result.modified, tmp / f"flipped_{k}.mid")
    return types.SimpleNamespace(result=result, out=out, table=table, target=target)


def check_written_flip(model, flip) -> None:
    """The written file holds exactly the projected table (pretty_midi's reading), the
    model reads it back as the target genre, and the result reports those numbers."""
    r = flip.result
    assert isinstance(r, FlipResult) and r.success and r.flipped
    assert pretty_midi_notes(flip.out) == table_notes(r.modified)
    reparsed = read_midi(flip.out)[: len(r.modified)]
    np.testing.assert_allclose(reparsed, read_back_order(r.modified), atol=1e-5)
    probs = model_probs(model, reparsed)
    assert int(np.argmax(probs)) == flip.target != int(np.argmax(model_probs(model, flip.table)))
    np.testing.assert_allclose(probs, r.probs_reparsed, atol=1e-5)
    np.testing.assert_allclose(r.probs_before, model_probs(model, flip.table), atol=1e-5)
    assert 0 < r.notes_changed < len(r.modified) // 2


@pytest.fixture(scope="module")
def demo_flip(demo, tmp_path_factory):
    """One flip of a held-out demo file on the demo run, written to disk."""
    return flip_file(demo, 0, tmp_path_factory.mktemp("flip"))


def test_projected_noisy_file_is_what_pretty_midi_reads_back(demo, tmp_path: Path):
    from genre_lib.dataset import load_file

    table = load_file(demo.files[0])
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 1, table.shape) * np.array([2, 0.02, 0.05, 5, 0, 20])
    p = project_to_midi(table + noise.astype(np.float32))
    write_midi(p, tmp_path / "p.mid")
    assert pretty_midi_notes(tmp_path / "p.mid") == table_notes(p)
    np.testing.assert_allclose(read_midi(tmp_path / "p.mid"), read_back_order(p), atol=1e-5)


# --- the optimiser on the demo run -----------------------------------------------------


def test_demo_flip_survives_writing_and_rereading(demo, demo_flip):
    check_written_flip(demo.model, demo_flip)
    assert demo_flip.result.summary()["after_reparsed"].keys() == set(demo.genres)


def test_frozen_features_never_change(demo, demo_flip):
    result = demo_flip.result
    assert FROZEN == ("drum",)
    frames = result.trajectory_tables
    np.testing.assert_array_equal(frames[:, :, DRUM], np.broadcast_to(result.base[:, DRUM], frames.shape[:2]))
    frozen = optimize_delta(demo.model, result.original, result.target,
                            FlipSettings(frozen=("pitch", "drum", "program"), max_steps=30, round_trip=False))
    changed = {c["feature"] for c in frozen.changes}
    assert changed and not changed & {"pitch", "drum", "program"}
    for k in (PITCH, DRUM, PROGRAM):
        assert np.all(frozen.trajectory_tables[:, :, k] == frozen.base[:, k])


def test_trajectory_probabilities_are_the_models_on_each_written_frame(demo, demo_flip, tmp_path: Path):
    result = demo_flip.result
    n = len(result.trajectory_steps)
    assert n == len(result.trajectory_tables) == len(result.trajectory_probs) == len(result.trajectory_phase)
    assert result.trajectory_steps[0] == 0 and result.trajectory_steps[-1] == result.steps
    assert np.all(np.diff(result.trajectory_steps) >= 0)
    for k in sorted({0, n // 2, n - 1}):
        table = result.trajectory_tables[k]
        np.testing.assert_array_equal(project_to_midi(table), table)
        path = write_midi(table, tmp_path / f"frame_{k}.mid")
        np.testing.assert_allclose(model_probs(demo.model, read_midi(path)[:100]), result.trajectory_probs[k], atol=1e-5)
    np.testing.assert_array_equal(result.trajectory_tables[0], result.base)
    np.testing.assert_array_equal(result.trajectory_tables[-1], result.modified)
    # the target's probability ends higher than it started, and wins
    assert result.trajectory_probs[-1, result.target] > 0.5 > result.trajectory_probs[0, result.target]


def test_change_report_and_size_match_a_direct_diff(demo_flip):
    result = demo_flip.result
    a, b = result.base.astype(np.float64), result.modified.astype(np.float64)
    where = {(int(i), FEATURES[k]) for i, k in zip(*np.nonzero(a != b))}
    changes = describe_changes(result.base, result.modified)
    assert {(c["note"], c["feature"]) for c in changes} == where == {(c["note"], c["feature"]) for c in result.changes}
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
    size = change_size(a, b)
    assert (size["l1"], size["l2"], size["notes_changed"]) == (pytest.approx(3 + 0.4 / 0.125), pytest.approx(np.hypot(3, 3.2)), 2)


def test_l1_weight_makes_the_change_sparser(demo, demo_flip):
    """Without pruning or annealing, the L1 weight alone decides how many notes move (the
    default weight against none; a heavier one can keep the flip from succeeding)."""
    r = demo_flip.result
    dense = optimize_delta(demo.model, r.original, r.target, FlipSettings(l1=0.0, prune=False, anneal=False, round_trip=False))
    sparse = optimize_delta(demo.model, r.original, r.target, FlipSettings(l1=0.3, prune=False, anneal=False, round_trip=False))
    assert dense.success and sparse.success
    assert sparse.notes_changed < dense.notes_changed


@pytest.mark.slow
def test_same_seed_same_flip(demo, demo_flip):
    r = demo_flip.result
    again = optimize_delta(demo.model, r.original, r.target, FlipSettings(round_trip=False), genres=demo.genres)
    np.testing.assert_array_equal(again.modified, r.modified)
    assert again.steps == r.steps


def test_out_of_budget_is_reported_not_claimed(demo, demo_flip):
    r = demo_flip.result
    out = optimize_delta(demo.model, r.original, r.target, FlipSettings(max_steps=0))
    assert not out.success and not out.flipped and out.steps == 0
    assert int(np.argmax(out.probs_reparsed)) != r.target


def test_bad_arguments_raise_clear_errors(demo, demo_flip):
    table = demo_flip.table
    for target, settings, words in (
        (5, dict(), "out of range for 2 genres"),
        (0, dict(frozen=("tempo",)), "unknown feature"),
        (0, dict(loss="hinge"), "loss must be"),
    ):
        with pytest.raises(FlipError, match=words):
            optimize_delta(demo.model, table, target, FlipSettings(**settings))
    with pytest.raises(FlipError, match="shape"):
        optimize_delta(demo.model, table[:, :5], 0)


# --- the committed real model on real held-out files -------------------------------------


@pytest.mark.slow
def test_real_held_out_files_of_both_genres_flip_and_survive_the_round_trip(real, tmp_path: Path):
    genres_flipped = set()
    for k in range(len(real.files)):
        flip = flip_file(real, k, tmp_path)
        check_written_flip(real.model, flip)
        genres_flipped.add(Path(real.files[k]).parts[-2])
    assert genres_flipped == set(real.genres)


@pytest.mark.slow
def test_real_flip_with_instruments_frozen_keeps_every_instrument(real, tmp_path: Path):
    flip = flip_file(real, len(real.files) - 1, tmp_path, frozen=("drum", "program"))
    r = flip.result
    np.testing.assert_array_equal(r.modified[:, [DRUM, PROGRAM]], r.base[:, [DRUM, PROGRAM]])
    if r.flipped:
        check_written_flip(real.model, flip)


# --- note map ----------------------------------------------------------------------------


def test_note_map_frames_both_tables_and_marks_exactly_the_changed_notes():
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgba

    from genre_lib.plots import FLIP_COLOR, plot_flip

    original = np.array([[60 + k % 5, 0.5 * (k > 0), 0.4, 80, 0, 0] for k in range(20)], np.float32)
    modified = original.copy()
    modified[1:, STEP] = 0.05  # everything squeezed into one second
    modified[3, PITCH] = 90
    fig, axes = plt.subplots(1, 2, sharex=True, sharey=True)
    try:
        plot_flip(original, modified, axes=axes, values=np.linspace(-1, 1, 20))
        end = 19 * 0.5 + 0.4
        for ax in axes:
            assert ax.get_xlim()[1] >= end and ax.get_ylim()[1] > 90 and ax.get_ylim()[0] < 60
        orange = np.array(to_rgba(FLIP_COLOR))
        changed = np.arange(20) >= 1
        for ax in axes:
            edges = ax.collections[-1].get_edgecolors()
            assert np.all((np.abs(edges - orange).max(axis=1) < 1e-6) == changed)
        faces = axes[1].collections[-1].get_facecolors()
        assert np.all((np.abs(faces[:, :3] - orange[:3]).max(axis=1) < 1e-6) == changed)
        assert "19 notes changed" in axes[1].get_title()
    finally:
        plt.close(fig)


# --- audio -----------------------------------------------------------------------------


def test_audio_has_expected_length_and_is_finite(demo_flip):
    from genre_lib.audio import TAIL, audio_length, render_audio

    modified = demo_flip.result.modified
    fs = 8000
    wave = render_audio(modified, fs=fs)
    end = float((np.cumsum(modified[:, STEP].astype(np.float64)) + modified[:, DURATION]).max())
    assert len(wave) == audio_length(modified, fs) == int(round((end + TAIL) * fs))
    assert wave.dtype == np.float32 and np.all(np.isfinite(wave)) and 0.5 < np.abs(wave).max() <= 1
    drums = modified.copy()
    drums[:, DRUM] = 1
    assert np.abs(render_audio(drums, fs=fs)).max() > 0.1  # drums are heard, not skipped
    np.testing.assert_array_equal(render_audio(modified, fs=fs), wave)


# --- the command line, against real run folders ---------------------------------------


def flip_cli(capsys, run_dir: Path, *args) -> tuple[int, str, str]:
    """``genre-lib flip RUN_DIR ARGS...`` in-process: (exit code, stdout, stderr)."""
    from genre_lib import cli

    code = cli.main(["flip", str(run_dir), *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("genre-lib flip: error:"), err
    for word in words:
        assert word in err, err


@pytest.fixture
def demo_src(demo, tmp_path: Path) -> tuple[Path, str, str]:
    """A copy of a held-out demo file (so a bug could not damage the corpus), the genre
    the model gives it, and the other genre."""
    src = tmp_path / "in" / Path(demo.files[0]).name
    src.parent.mkdir()
    src.write_bytes(Path(demo.files[0]).read_bytes())
    own = demo.genres[demo.predicted[0]]
    return src, own, next(g for g in demo.genres if g != own)


@pytest.mark.slow
def test_cli_flip_json_and_the_written_file(demo, demo_src, capsys, tmp_path: Path):
    src, own, other = demo_src
    before = src.read_bytes()
    out = tmp_path / "out.mid"
    code, stdout, stderr = flip_cli(capsys, demo.run.path, src, "--target", other.upper(), "--out", out, "--json")
    assert code == 0, stderr
    report = json.loads(stdout)
    for key in ("before", "after_reparsed", "flipped", "steps", "l1", "l2", "notes_changed", "changes"):
        assert key in report
    assert report["flipped"] is True and report["target"] == other and report["out"] == str(out)
    assert set(report["before"]) == set(report["after_reparsed"]) == set(demo.genres)
    assert max(report["before"], key=report["before"].get) == own
    assert max(report["after_reparsed"], key=report["after_reparsed"].get) == other
    assert report["notes_changed"] == len({c["note"] for c in report["changes"]}) > 0
    assert src.read_bytes() == before
    # the written file, read independently, is the original plus exactly the reported changes
    from genre_lib.dataset import load_file

    expected = project_to_midi(load_file(src))
    for c in report["changes"]:
        expected[c["note"], FEATURES.index(c["feature"])] = c["after"]
    assert pretty_midi_notes(out) == table_notes(expected)
    probs = model_probs(demo.model, read_midi(out)[:100])
    np.testing.assert_allclose(probs, [report["after_reparsed"][g] for g in demo.genres], atol=1e-5)


@pytest.mark.slow
def test_cli_flip_never_overwrites(demo, demo_src, capsys, tmp_path: Path):
    src, own, other = demo_src
    before = src.read_bytes()
    out = tmp_path / "out.mid"
    out.write_bytes(b"mine")
    code, _, err = flip_cli(capsys, demo.run.path, src, "--target", other, "--out", out)
    one_line_error(code, err, "already exists", "--overwrite")
    assert out.read_bytes() == b"mine"
    for same in (src, src.parent / ".." / src.parent.name / src.name):
        code, _, err = flip_cli(capsys, demo.run.path, src, "--target", other, "--out", same, "--overwrite")
        one_line_error(code, err, "input")
    assert src.read_bytes() == before
    code, stdout, err = flip_cli(capsys, demo.run.path, src, "--target", other, "--out", out, "--overwrite")
    assert code == 0, err
    assert f"-> {other}" in stdout and out.read_bytes()[:4] == b"MThd"
    assert src.read_bytes() == before


def test_cli_flip_errors_are_one_clear_line(demo, demo_src, capsys, tmp_path: Path):
    src, own, other = demo_src
    out = tmp_path / "out.mid"
    bad = tmp_path / "notes.mid"
    bad.write_text("not a MIDI file\n")
    cases = [
        ((src, "--target", "polka", "--out", out), ["unknown target genre 'polka'", *demo.genres]),
        ((src, "--target", own, "--out", out), ["already classified as " + own, "nothing to flip"]),
        ((src, "--target", other, "--out", out, "--max-steps", "0"), [f"no flip to {other} within 0 steps", "nothing written"]),
        ((bad, "--target", other, "--out", out), ["notes.mid", "not a MIDI file"]),
    ]
    for args, words in cases:
        one_line_error(*flip_cli(capsys, demo.run.path, *args)[::2], *words)
        assert not out.exists()
    code, _, err = flip_cli(capsys, tmp_path / "no-run", src, "--target", other, "--out", out)
    one_line_error(code, err, "cannot load run")


@pytest.mark.slow
def test_cli_flip_as_a_user_runs_it_on_the_committed_model(real, tmp_path: Path):
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
    from genre_lib.opinions import flip_file

    mine = json.loads(json.dumps(flip_file(real.run, real.files[k], real.genres.index(target)).to_dict(out)))
    assert list(report) == list(mine)
    report.pop("seconds"), mine.pop("seconds")
    assert report == mine
    assert {"rnn-seed1", "rnn-seed2"} <= set(report["opinions"]["verdicts"]) and "plausibility" in report["opinions"]


def test_trajectory_plot_shows_every_frame_and_the_pruning(demo_flip):
    import matplotlib.pyplot as plt

    from genre_lib.plots import plot_flip_trajectory

    r = demo_flip.result
    axes = plot_flip_trajectory(r)
    try:
        n = len(r.trajectory_steps)
        lines = axes[0].get_lines()
        np.testing.assert_allclose(lines[r.target].get_ydata(), r.trajectory_probs[:, r.target])
        assert len(axes[1].get_lines()[0].get_ydata()) == n
        assert axes[1].get_lines()[0].get_ydata()[-1] == r.notes_changed
        labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
        assert labels[: len(r.genre_names)] == r.genre_names
        assert ("pruning" in labels) == ("prune" in r.trajectory_phase)
        assert all(ax.get_xlabel() and ax.get_ylabel() and ax.get_title() for ax in axes)
    finally:
        plt.close(axes[0].figure)


# --- the file's vote, several judges (issue 20) -------------------------------------------


def keras_vote(model, table: np.ndarray, protocol: str, k: int = 16) -> np.ndarray:
    """The vote of a table computed without genre_lib's inference code: the windows
    (protocols.protocol_windows), the Keras logits model called directly, the logits
    averaged, the softmax (protocols.vote)."""
    from genre_lib.model import logits_model
    from genre_lib.protocols import protocol_windows, vote

    windows = protocol_windows([table], protocol, k, 100)
    z = np.asarray(logits_model(model)(windows, training=False))
    return vote(z, 1)[0]


@pytest.fixture(scope="module")
def demo_seed1(demo_data, demo_run, tmp_path_factory):
    """A second tiny demo network: the demo run's configuration and split (split seed 0),
    weight seed 1 (train_run's split_seed)."""
    from genre_lib.model import ModelConfig
    from genre_lib.train import train_run

    from .conftest import TINY_CONFIG

    out = tmp_path_factory.mktemp("runs") / "demo-tiny-seed1"
    return train_run(demo_data, out, config=ModelConfig(**TINY_CONFIG), seed=1, split_seed=0)


@pytest.mark.slow
def test_seed_sibling_trains_on_the_same_files_with_other_weights(demo_run, demo_seed1, demo_data):
    assert demo_seed1.meta["split"] == demo_run.meta["split"] and demo_seed1.meta["seed"] == 1
    sibling, run = demo_seed1.split(demo_data), demo_run.split(demo_data)
    for a, b in zip(sibling, run):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(demo_seed1.model.get_weights()[-2], demo_run.model.get_weights()[-2])


def test_judge_reads_what_the_verdict_reads(demo, demo_data):
    from genre_lib.flip import Judge
    from genre_lib.verdicts import RNNVerdict

    tables = demo_data.tables(demo.run.held_out(demo_data.paths)[:4])
    for protocol in ("first100", "file"):
        np.testing.assert_allclose(Judge(demo.model, protocol).proba(tables),
                                   RNNVerdict(demo.model, demo.genres).predict_proba(tables, protocol), atol=1e-6)
        for table in tables:
            np.testing.assert_allclose(Judge(demo.model, protocol).proba([table])[0],
                                       keras_vote(demo.model, table, protocol), atol=1e-5)


def tape_objective(model, table: np.ndarray, starts: np.ndarray, target: int, loss: str) -> np.ndarray:
    """The gradient of the vote's objective with respect to the whole table, by
    TensorFlow itself: windows gathered from the table inside the tape, their first
    step zeroed, the logits averaged over windows."""
    import tensorflow as tf

    from genre_lib.model import logits_model

    lm = logits_model(model)
    x = tf.Variable(np.asarray(table, np.float32))
    first_step = np.ones((len(starts), 100, len(FEATURES)), np.float32)
    first_step[:, 0, STEP] = 0.0
    with tf.GradientTape() as tape:
        windows = tf.gather(x, starts[:, None] + np.arange(100)[None, :]) * first_step
        zbar = tf.reduce_mean(lm(windows, training=False), axis=0)
        if loss == "ce":
            value = tf.nn.log_softmax(zbar)[target]
        else:
            other = int(np.argmax(np.where(np.arange(len(zbar)) == target, -np.inf, zbar.numpy())))
            value = zbar[target] - zbar[other]
    return tf.convert_to_tensor(tape.gradient(value, x)).numpy()  # gather's gradient comes as IndexedSlices


def test_vote_gradient_equals_tensorflows_own_through_overlapping_windows(demo, demo_data):
    """Judge.objective (windows cut in numpy, each window's gradient added back onto its
    notes) against a tape through the gathering itself, for two genres (the margin's
    shortcut) and for three (one gradient per genre), both losses."""
    from genre_lib.flip import Judge
    from genre_lib.model import ModelConfig, build_model

    from .conftest import TINY_CONFIG

    table = read_back_order(project_to_midi(demo_data.table(int(demo.run.held_out(demo_data.paths)[0]))))
    assert len(table) < 16 * 100  # the 16 windows overlap
    three = build_model(ModelConfig(**TINY_CONFIG), demo_data.X[:40], 3, seed=0)
    for model, target in ((demo.model, 1), (three, 2)):
        judge = Judge(model, "file")
        starts = judge.starts(len(table))
        for loss in ("margin", "ce"):
            zbar, grad = judge.objective(table, target, loss)
            expected = tape_objective(model, table, starts, target, loss)
            assert np.abs(expected).max() > 0
            np.testing.assert_allclose(grad, expected, atol=1e-5 * np.abs(expected).max())
        np.testing.assert_allclose(zbar, judge.vote_logits([table])[0], atol=1e-5)


def check_file_vote_flip(model, result, out: Path) -> None:
    """A whole-file flip written to ``out``: pretty_midi reads exactly the flipped
    table, and the vote computed independently on the file read back is the target's
    while it was not on the original."""
    assert result.flipped and result.success
    assert pretty_midi_notes(out) == table_notes(result.modified)
    reparsed = read_midi(out)
    assert len(reparsed) == len(result.original)
    after = keras_vote(model, reparsed, "file")
    assert int(np.argmax(after)) == result.target != int(np.argmax(keras_vote(model, result.original, "file")))
    np.testing.assert_allclose(after, result.probs_reparsed, atol=1e-5)


@pytest.mark.slow
def test_demo_file_vote_flip_changes_only_notes_the_windows_read(demo, demo_data, tmp_path: Path):
    from genre_lib.changes import changed_notes, seconds_touched
    from genre_lib.windows import even_starts

    i = int(demo.run.held_out(demo_data.paths)[1])
    whole = demo_data.table(i)
    target = 1 - int(np.argmax(keras_vote(demo.model, whole, "file")))
    r = optimize_delta(demo.model, whole, target, genres=demo.genres, protocol="file")
    out = write_midi(r.modified, tmp_path / "whole.mid")
    check_file_vote_flip(demo.model, r, out)
    assert r.judges == ("rnn/file",) and r.modified.shape == whole.shape
    read = np.zeros(len(whole), bool)
    for s in even_starts(len(whole), 16, 100):
        read[s : s + 100] = True
    changed = changed_notes(r.base, r.modified)
    assert len(changed) == r.notes_changed > 0 and read[changed].all()
    assert r.share_changed == pytest.approx(r.notes_changed / len(whole))
    assert 0 < r.seconds_touched == seconds_touched(r.base, r.modified) <= r.seconds_after
    assert r.summary()["share_changed"] == pytest.approx(r.share_changed, abs=1e-6)


@pytest.mark.slow
def test_two_networks_flip_convinces_both_after_the_round_trip(demo, demo_seed1, tmp_path: Path):
    """The multi-judge objective on a small demo case: one flip, checked by reading the
    written file back and calling both Keras models directly."""
    from genre_lib.dataset import load_file

    checked = 0
    for k in range(len(demo.files)):
        table = load_file(demo.files[k])
        p0, p1 = model_probs(demo.model, table), model_probs(demo_seed1.model, table)
        if int(np.argmax(p0)) != int(np.argmax(p1)):
            continue  # the two networks disagree already: no common target
        target = 1 - int(np.argmax(p0))
        r = optimize_delta(demo.model, table, target, genres=demo.genres, also=[demo_seed1.model])
        out = write_midi(r.modified, tmp_path / f"both_{k}.mid")
        reparsed = read_midi(out)[:100]
        assert r.flipped and r.judges == ("rnn/first100", "rnn-2/first100")
        for model, probs in zip((demo.model, demo_seed1.model), r.judge_probs_reparsed):
            direct = model_probs(model, reparsed)
            assert int(np.argmax(direct)) == target
            np.testing.assert_allclose(direct, probs, atol=1e-5)
        checked += 1
    assert checked >= 2


@pytest.mark.slow
@pytest.mark.real_data
def test_real_file_vote_flip_survives_the_round_trip(real, tmp_path: Path):
    """A real held-out file whose vote is close (the committed model's file vote is
    about 0.51 electronic): the whole file is flipped, written and judged again."""
    path = SHARED_MIDI / "electronic" / "Adamski - Love And Life.mid"
    assert str(path.relative_to(SHARED_MIDI)) in real.run.meta["split"]["test_files"]
    whole = read_midi(path)
    target = 1 - int(np.argmax(keras_vote(real.model, whole, "file")))
    r = optimize_delta(real.model, whole, target, FlipSettings(record_every=50), genres=real.genres, protocol="file")
    check_file_vote_flip(real.model, r, write_midi(r.modified, tmp_path / "whole.mid"))
    assert r.notes_changed < 0.01 * len(whole)


# --- the command line: --whole-file and the second opinions ----------------------------


@pytest.mark.slow
def test_cli_whole_file_flip_and_its_second_opinions(demo, demo_src, demo_seed1, capsys, tmp_path: Path):
    from genre_lib.verdicts import RNNVerdict

    src, own, other = demo_src
    whole = read_midi(src)
    target = demo.genres.index(other)
    if int(np.argmax(keras_vote(demo.model, whole, "file"))) == target:
        pytest.skip("the file's vote is already the other genre")
    out = tmp_path / "whole.mid"
    code, stdout, stderr = flip_cli(capsys, demo.run.path, src, "--target", other, "--out", out, "--whole-file",
                                    "--ask", demo_seed1.path, "--json")
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["protocol"] == "file" and report["flipped"] and report["notes"] == len(whole)
    assert report["share_changed"] == pytest.approx(report["notes_changed"] / len(whole), abs=1e-6)
    reparsed = read_midi(out)
    assert len(reparsed) == len(whole)
    assert int(np.argmax(keras_vote(demo.model, reparsed, "file"))) == target
    opinions = report["opinions"]
    assert set(opinions["verdicts"]) == {"rnn", "baseline", "combined", "rnn-seed1"}
    # every opinion is the verdict computed directly on the written file
    verdicts = {"rnn": RNNVerdict(demo.model, demo.genres), "rnn-seed1": RNNVerdict(demo_seed1.model, demo.genres),
                **{v.name: v for v in demo.run.verdicts()[1:]}}
    for name, by in opinions["verdicts"].items():
        for protocol, v in by.items():
            after = verdicts[name].predict_proba([reparsed], protocol)[0]
            before = verdicts[name].predict_proba([whole], protocol)[0]
            assert v["p_target_after"] == pytest.approx(after[target], abs=1e-5)
            assert v["p_target_before"] == pytest.approx(before[target], abs=1e-5)
            assert v["agrees"] == (int(np.argmax(after)) == target)
    from genre_lib.midi_io import length_seconds

    assert opinions["seconds"]["file_after"] == pytest.approx(length_seconds(reparsed), abs=1e-3)
    assert "plausibility_problem" in report  # the demo run has no plausibility.npz


@pytest.mark.slow
def test_cli_default_flip_asks_the_rest_of_the_file(demo, demo_src, demo_seed1, capsys, tmp_path: Path):
    """Without --whole-file the first 100 notes are flipped and written, as before; the
    second opinions judge the whole file with those notes in place, checked directly."""
    src, own, other = demo_src
    out = tmp_path / "first.mid"
    code, stdout, stderr = flip_cli(capsys, demo.run.path, src, "--target", other, "--out", out,
                                    "--convince", demo_seed1.path, "--json")
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["protocol"] == "first100" and report["notes"] == 100
    assert report["judges"] == ["rnn/first100", "rnn-seed1/first100"]
    target = demo.genres.index(other)
    first = read_midi(out)
    assert int(np.argmax(model_probs(demo.model, first))) == target == int(np.argmax(model_probs(demo_seed1.model, first)))
    # the whole file as the opinions saw it: the flipped notes, then the rest of the input
    whole = read_midi(src)
    # (read back, the flipped notes are in chord order; the rest follows the same last onset)
    rebuilt = read_midi(write_midi(project_to_midi(np.concatenate([first, whole[100:]])), tmp_path / "rebuilt.mid"))
    probs = model_probs(demo.model, rebuilt[:100])
    assert report["opinions"]["verdicts"]["rnn"]["first100"]["p_target_after"] == pytest.approx(probs[target], abs=1e-4)
    assert report["opinions"]["seconds"]["excerpt_notes"] == 100


# --- the library call behind the command: genre_lib.opinions.flip_file ------------------


@pytest.mark.slow
@pytest.mark.parametrize("whole_file", [False, True], ids=["first100", "file"])
def test_cli_flip_json_is_the_library_calls_report(demo, demo_src, demo_seed1, capsys, tmp_path: Path, whole_file):
    """``genre-lib flip --json`` prints exactly :meth:`FileFlip.to_dict` of the library
    call with the same settings: every key and value but the optimiser's seconds."""
    from genre_lib.opinions import FileFlip, flip_file

    src, own, other = demo_src
    protocol = "file" if whole_file else "first100"
    target = demo.genres.index(other)
    if int(np.argmax(keras_vote(demo.model, read_midi(src), protocol))) == target:
        pytest.skip(f"the file's {protocol} verdict is already the other genre")
    out = tmp_path / "out.mid"
    extra = ["--whole-file", "--ask", demo_seed1.path] if whole_file else ["--convince", demo_seed1.path]
    code, stdout, stderr = flip_cli(capsys, demo.run.path, src, "--target", other, "--out", out, "--json", *extra)
    assert code == 0, stderr
    printed = json.loads(stdout)
    mine = flip_file(demo.run, src, target, FlipSettings(), protocol,
                     convince=() if whole_file else [demo_seed1.path], asked=[demo_seed1.path] if whole_file else [])
    assert isinstance(mine, FileFlip) and mine.flipped
    with pytest.raises(AttributeError):
        mine.protocol = "file"  # frozen
    expected = json.loads(json.dumps(mine.to_dict(out)))  # as JSON would carry it
    assert list(printed) == list(expected)
    assert printed.pop("seconds") > 0 and expected.pop("seconds") > 0
    assert printed == expected
    assert printed["file"] == str(src) and printed["out"] == str(out) and printed["protocol"] == protocol
    assert mine.to_dict()["out"] is None  # nothing written by the library
    # asked without --ask: the run's seed siblings (none beside the tmp demo run); the
    # panel is then the run's own verdicts
    alone = flip_file(demo.run, src, target, FlipSettings(), protocol)
    assert set(alone.to_dict()["opinions"]["verdicts"]) == {"rnn", "baseline", "combined"}


def test_flip_file_errors_name_the_file_not_a_flag(demo, demo_src, tmp_path: Path):
    from genre_lib.opinions import flip_file
    from genre_lib.runs import RunError

    src, own, other = demo_src
    with pytest.raises(FlipError, match="already classified as " + own) as caught:
        flip_file(demo.run, src, demo.genres.index(own))
    assert str(src) in str(caught.value) and "--" not in str(caught.value)
    with pytest.raises(FlipError, match="the note table: already classified") as caught:
        flip_file(demo.run, read_midi(src), demo.genres.index(own))
    with pytest.raises(RunError, match="cannot load run") as caught:
        flip_file(demo.run, src, demo.genres.index(other), asked=[tmp_path / "no-run"])
    assert "--" not in str(caught.value)
    with pytest.raises(FlipError, match="unknown protocol"):
        flip_file(demo.run, src, demo.genres.index(other), protocol="last100")


def test_seed_siblings_are_the_run_folders_named_after_the_run(tmp_path: Path):
    from genre_lib.runs import seed_siblings

    for name, complete in [("m", True), ("m-seed1", True), ("m-seed2", True), ("m-seed3", False), ("mx-seed1", True),
                           ("m-order", True)]:
        (tmp_path / name).mkdir()
        if complete:
            (tmp_path / name / "run.json").write_text("{}")
    assert seed_siblings(tmp_path / "m") == [tmp_path / "m-seed1", tmp_path / "m-seed2"]
