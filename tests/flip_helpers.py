"""What the flip tests share (tests/test_flip*.py, tests/test_widgets.py): the demo run
with some of its held-out files, independent readers of what a flip wrote (pretty_midi,
the Keras model called directly, the file's vote computed by hand) and the ``flip``
command run in this process."""

from __future__ import annotations

import contextlib
import io
import types
from pathlib import Path

import numpy as np
import pytest

from genre_lib.flip import FlipResult, FlipSettings, optimize_delta
from genre_lib.inference import predict_proba
from genre_lib.midi_io import DRUM, DURATION, PITCH, PROGRAM, STEP, TIME_RESOLUTION, VELOCITY, read_back_order, read_midi, write_midi


class Held(types.SimpleNamespace):
    """run (a loaded run folder), model, judge (its RNN verdict of the first notes), genres, root (data folder), files (held-out
    MIDI paths, the first ones of each genre) and predicted (the model's genre index of
    each)."""


def held_out(run, root: Path, per_genre: int) -> Held:
    """The first ``per_genre`` held-out test files of each genre of ``run`` (its own
    split, never files it was trained on) with the model's prediction for each."""
    test = run.meta["split"]["test_files"]
    files = [root / p for g in run.genres for p in [p for p in test if Path(p).parts[0] == g][:per_genre]]
    from genre_lib.dataset import load_file

    predicted = [int(np.argmax(predict_proba(run.model, load_file(f, run.max_notes))[0])) for f in files]
    return Held(run=run, model=run.model, genres=tuple(run.genres), root=root, files=files, predicted=predicted,
                judge=run.verdict("rnn", "first100"))


@pytest.fixture(scope="module")
def demo(demo_run, demo_dir) -> Held:
    """The small GRU trained on the demo corpus, with two held-out files per genre."""
    return held_out(demo_run, demo_dir, 2)


def copy_of_first_file(demo: Held, folder: Path) -> tuple[Path, str, str]:
    """A copy of the first held-out demo file in ``folder`` (so a bug could not damage
    the corpus), the genre the model gives it, and the other genre."""
    folder.mkdir(parents=True, exist_ok=True)
    src = folder / Path(demo.files[0]).name
    src.write_bytes(Path(demo.files[0]).read_bytes())
    own = demo.genres[demo.predicted[0]]
    return src, own, next(g for g in demo.genres if g != own)


def model_probs(model, table: np.ndarray) -> np.ndarray:
    """Probabilities straight from the Keras model (no genre_lib code in between)."""
    return np.asarray(model(np.asarray(table, np.float32)[None], training=False))[0]


def keras_vote(model, table: np.ndarray, protocol: str, k: int = 16) -> np.ndarray:
    """The vote of a table computed without genre_lib's verdicts: the windows cut by hand
    (the first, or ``k`` evenly spaced, each first step set to 0), the Keras logits model
    called directly, the logits averaged, the softmax."""
    from genre_lib.model import logits_model

    starts = [0] if protocol == "first100" else np.rint(np.linspace(0, len(table) - 100, k)).astype(int)
    windows = np.stack([table[s:s + 100] for s in starts]).astype(np.float32)
    windows[:, 0, 1] = 0.0  # the step column
    z = np.asarray(logits_model(model)(windows, training=False), np.float64).mean(axis=0)
    return np.exp(z - z.max()) / np.exp(z - z.max()).sum()


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
    result = optimize_delta(held.judge, table, target, FlipSettings(**settings))
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


def flip_cli(run_dir: Path, *args) -> tuple[int, str, str]:
    """``genre-lib flip RUN_DIR ARGS...`` in this process: (exit code, stdout, stderr).
    (Not capsys: module fixtures run the command too.)"""
    from genre_lib import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["flip", str(run_dir), *map(str, args)])
    return code, out.getvalue(), err.getvalue()


def one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("genre-lib flip: error:"), err
    for word in words:
        assert word in err, err


def check_cli_is_the_library_call(printed: dict, mine, src: Path, out: Path, protocol: str) -> None:
    """``genre-lib flip --json`` printed exactly :meth:`FileFlip.to_dict` of the library
    call ``mine`` with the same settings: every key and value but the optimiser's
    seconds."""
    from genre_lib.flip import FileFlip

    assert isinstance(mine, FileFlip) and mine.flipped
    with pytest.raises(AttributeError):
        mine.protocol = "file"  # frozen
    expected = json_copy(mine.to_dict(out))  # as JSON would carry it
    printed = dict(printed)
    assert list(printed) == list(expected)
    assert printed.pop("seconds") > 0 and expected.pop("seconds") > 0
    assert printed == expected
    assert printed["file"] == str(src) and printed["out"] == str(out) and printed["protocol"] == protocol
    assert mine.to_dict()["out"] is None  # nothing written by the library


def json_copy(obj: dict) -> dict:
    import json

    return json.loads(json.dumps(obj))
