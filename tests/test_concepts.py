"""Musical concepts (genre_lib.concepts), their edits (genre_lib.edits) and the study of
what a judge hears (genre_lib.concept_study), checked on the planted examples of
genre_lib.demo.concept_examples, on cases known by hand and on real files."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from genre_lib.concept_study import answer, data_table, probe_table
from genre_lib.concepts import CONCEPTS, NAMES, measure, read_piece, to_table
from genre_lib.demo import concept_examples
from genre_lib.edits import EDITS, HORSE, SIDE_EFFECTS, edit, write_piece
from genre_lib.midi_io import MidiError, read_midi

from .conftest import SHARED_MIDI, needs_shared

#: how far apart a planted example without and with its concept must measure (default 0.5)
GAP = {"syncopation": 0.15, "drums": 0.2, "tempo": 20.0, "density": 1.0, "looseness": 0.02}
#: "little": what an edit may move a concept it is not about, on a planted example
#: (absolute for shares, relative for tempo and density), and a listed side effect
LITTLE, SIDE = 0.02, 0.1
#: the planted example each edit is tried on: (concept, 0 without / 1 with), and where its concept goes
ON = {"straighten": ("swing", 1, 0.0), "add swing": ("swing", 0, 1.0), "drop backbeat": ("backbeat", 1, 0.0),
      "add backbeat": ("backbeat", 0, 1.0), "add four-on-the-floor": ("four_on_floor", 0, 1.0),
      "drop four-on-the-floor": ("four_on_floor", 1, 0.0), "drop sevenths": ("sevenths", 1, 0.0),
      "guitar to piano": ("guitar", 1, 0.0), "piano to guitar": ("piano", 1, 0.0), "synth to piano": ("synth", 1, 0.0),
      "drop drums": ("drums", 1, 0.0), "quantize": ("looseness", 1, 0.0), "transpose +2": ("sevenths", 1, None),
      "transpose -2": ("walking_bass", 1, None), "tempo +6%": ("tempo", 0, 127.2), "tempo -6%": ("tempo", 0, 112.8)}


@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    return concept_examples(tmp_path_factory.mktemp("concepts"), seed=0)


def _scale(concept: str, value: float) -> float:
    return max(abs(value), 1.0) if concept in ("tempo", "density") else 1.0


def test_every_concept_has_a_planted_example_the_measure_separates(examples):
    assert set(examples) == set(CONCEPTS) and len(CONCEPTS) >= 8
    for c, (without, with_) in examples.items():
        i = NAMES.index(c)
        a, b = measure(read_piece(without))[i], measure(read_piece(with_))[i]
        assert b - a >= GAP.get(c, 0.5), (c, a, b)


@pytest.mark.parametrize("name", list(EDITS))
def test_each_edit_moves_its_concept_and_little_else_and_reads_back(examples, name, tmp_path):
    concept, which, target = ON[name]
    piece = read_piece(examples[concept][which])
    edited = edit(piece, name)
    before, after = measure(piece), measure(edited)
    for i, c in enumerate(NAMES):
        moved = abs(after[i] - before[i]) / _scale(c, before[i])
        if c in EDITS[name].moves:
            if target is not None and c == concept:
                assert after[i] == pytest.approx(target, abs=0.01), (name, c)
        elif c in SIDE_EFFECTS.get(name, ()):
            assert moved <= SIDE, (name, c, before[i], after[i])
        else:
            assert moved <= LITTLE, (name, c, before[i], after[i])
    assert name not in HORSE or not set(EDITS[name].moves) - {"tempo"}
    # the edited file reads back: the note table a judge reads, and the same concepts
    path = write_piece(edited, tmp_path / "edited.mid")
    table, _ = to_table(edited)
    back = read_midi(path)
    assert back.shape == table.shape and np.allclose(back, table, atol=2e-4)
    assert np.allclose(measure(read_piece(path)), after, equal_nan=True)
    with pytest.raises(FileExistsError):
        write_piece(edited, path)


def test_an_edit_with_nothing_to_change_returns_the_same_piece(examples):
    plain = read_piece(examples["swing"][0])  # no guitar, no synth, no sevenths, no swing
    for name in ("guitar to piano", "synth to piano", "drop sevenths", "straighten", "drop backbeat"):
        assert edit(plain, name) is plain, name
    with pytest.raises(KeyError, match="unknown edit"):
        edit(plain, "louder")


def test_tempo_edit_scales_every_time_and_keeps_the_beat(examples):
    piece = read_piece(examples["swing"][1])
    table, faster = to_table(piece)[0], to_table(edit(piece, "tempo +6%"))[0]
    assert np.allclose(faster[:, 1:3], table[:, 1:3] / 1.06, atol=1e-4)
    assert np.array_equal(faster[:, [0, 3, 4, 5]], table[:, [0, 3, 4, 5]])


def test_piece_reads_like_read_midi_and_bad_files_fail_clearly(examples, tmp_path):
    for without, with_ in examples.values():
        for path in (without, with_):
            assert np.allclose(to_table(read_piece(path))[0], read_midi(path), atol=1e-5)
    (tmp_path / "bad.mid").write_bytes(b"MThd nonsense")
    with pytest.raises(MidiError, match="bad.mid"):
        read_piece(tmp_path / "bad.mid")


def test_beat_grid_matches_pretty_midi_downbeats(examples):
    import pretty_midi

    for path in (examples["tempo"][1], examples["swing"][0]):
        piece = read_piece(path)
        pm = pretty_midi.PrettyMIDI(str(path))
        downbeats = pm.get_downbeats()
        bar, pos, _ = piece.bars(piece.notes["start"])
        starts = piece.seconds(piece.notes["start"] - (pos * piece.tpq).round().astype(int))
        assert np.allclose(np.unique(starts.round(6)), downbeats[: len(np.unique(bar))], atol=1e-6)


def test_data_table_auc_and_cliffs_delta_by_hand():
    values = np.full((6, len(NAMES)), np.nan)
    values[:, 0] = [0.1, 0.2, 0.3, 0.25, 0.5, 0.6]  # genre b above genre a in 8 of 9 pairs
    table = data_table(values, np.array([0, 0, 0, 1, 1, 1]), ("a", "b"))
    pair = table["swing"]["pairs"]["a / b"]
    assert pair["auc"] == pytest.approx(1 / 9) and pair["delta"] == pytest.approx(2 / 9 - 1)
    assert table["swing"]["genres"]["b"]["median"] == pytest.approx(0.5)
    assert table["tempo"]["genres"]["a"]["undefined"] == 3


def _row(edit_name, flipped, low, high, margin=-0.1, to=None):
    return {"edit": edit_name, "judge": "rnn", "protocol": "file", "flipped": flipped, "flipped_interval": (low, high),
            "margin": margin, "margin_interval": (margin - 0.05, margin + 0.05), "to": to or {"jazz": 0}}


def test_answer_names_the_edits_above_every_horse_test():
    rows = [_row(h, 0.02, 0.0, 0.04) for h in HORSE]
    rows += [_row("drop drums", 0.10, 0.06, 0.15, to={"jazz": 3, "rock": 0, "electronic": 5}), _row("add swing", 0.03, 0.01, 0.05), _row("quantize", 0.0, 0.0, 0.0)]
    text = answer({"rows": rows, "files": 203})
    first, second = text.split(". The others cannot", 1)
    assert "drop drums 10.0% (6.0% to 15.0%" in first and "3 to jazz, 5 to electronic)" in first and "at most 2.0%" in first and "add swing" not in first
    assert "add swing" in second and "quantize" in second and text.count(".") >= 2


def test_probe_selectivity_finds_a_concept_a_state_holds_and_not_one_it_does_not():
    rng = np.random.default_rng(0)
    n, files = 640, np.repeat(np.arange(80), 8)
    values = np.full((n, len(NAMES)), np.nan)
    values[:, 0] = rng.normal(size=n)  # swing: written in the state
    values[:, 1] = rng.normal(size=n)  # syncopation: not
    states = np.c_[values[:, 0] + 0.3 * rng.normal(size=n), rng.normal(size=(n, 7))]
    rows = {r["concept"]: r for r in probe_table(states, states, values, files % 20, files, seed=0)}
    assert rows["swing"]["selectivity"] > 0.3 and rows["swing"]["selectivity_interval"][0] > 0.2
    assert abs(rows["syncopation"]["selectivity"]) < 0.1
    assert "not probed" in rows["tempo"]["note"]


@needs_shared
@pytest.mark.slow
def test_on_real_files_pieces_read_like_read_midi_and_edits_move_little_else():
    """40 real files (10 per genre): the table equals read_midi's; every edit moves a
    concept it is not about by at most 0.01 on the median file (a share; relative for
    tempo and density), and writes a file that reads back."""
    import tempfile

    paths = [p for g in ("jazz", "electronic", "rock", "country") for p in sorted((SHARED_MIDI / g).glob("*.mid"))[:12]]
    pieces = []
    for path in paths:
        try:
            pieces.append(read_piece(path))
        except MidiError:
            continue
        assert np.allclose(to_table(pieces[-1])[0], read_midi(path), atol=2e-4), path
    base = np.array([measure(p) for p in pieces])
    with tempfile.TemporaryDirectory() as tmp:
        for name, e in EDITS.items():
            edited = [edit(p, name) for p in pieces]
            d = np.abs(np.array([measure(q) for q in edited]) - base) / np.where(
                np.isin(NAMES, ["tempo", "density"]), np.maximum(np.abs(base), 1), 1)
            for i, c in enumerate(NAMES):
                if c not in e.moves and c not in SIDE_EFFECTS.get(name, ()):
                    assert np.nanmedian(d[:, i]) <= 0.01, (name, c)
            q = edited[0]
            assert np.allclose(read_midi(write_piece(q, Path(tmp) / "x.mid", overwrite=True)), to_table(q)[0], atol=2e-4)


@pytest.mark.slow
def test_cli_concepts_gives_the_table_and_its_answer(demo_run, demo_dir, tmp_path):
    """``genre-lib concepts`` on 8 demo files per genre: every edit, judge and protocol, the
    verdicts before the edits equal ``evaluate``'s (the same files, read by read_midi)."""
    import json
    import shutil

    from genre_lib.dataset import load_dataset
    from genre_lib.evaluate import evaluate_run

    from .test_cli import run_cli

    data = tmp_path / "data"
    for genre in ("jazz", "electronic"):
        (data / genre).mkdir(parents=True)
        for path in sorted((demo_dir / genre).glob("*.mid"))[:8]:
            shutil.copy(path, data / genre / path.name)
    result = run_cli("concepts", str(demo_run.path), str(data), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    table = report["table"]
    assert table["files"] + len(report["skipped"]) == 16 and table["files"] >= 10
    rows = {(r["edit"], r["judge"], r["protocol"]): r for r in table["rows"]}
    assert set(rows) == {(e, j, p) for e in EDITS for j in ("rnn", "baseline", "combined") for p in ("first100", "file")}
    evaluated = evaluate_run(demo_run, load_dataset(data, progress=False, use_cache=False))
    for p in ("first100", "file"):
        assert rows["drop drums", "rnn", p]["accuracy"][0] == pytest.approx(evaluated["protocols"][p]["accuracy"])
        assert "held-out" in report["answers"][f"rnn {p}"]
    text = run_cli("concepts", str(demo_run.path), str(data))
    assert text.returncode == 0 and "drop drums" in text.stdout and "rnn file: Judged by the RNN" in text.stdout
    shutil.rmtree(data / "electronic")  # new files of one genre only: judged all the same
    one = json.loads(run_cli("concepts", str(demo_run.path), str(data), "--json").stdout)["table"]
    assert set(one["rows"][0]["per_genre"]) == {"jazz"} and one["genres"] == list(demo_run.genres)
    missing = run_cli("concepts", str(tmp_path / "absent"), str(data))
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    other = tmp_path / "other" / "jazz"  # files the run never split: none of its held-out ones
    other.mkdir(parents=True)
    shutil.copy(sorted((demo_dir / "jazz").glob("*.mid"))[0], other / "renamed.mid")
    none = run_cli("concepts", str(demo_run.path), str(other.parent), "--split", "test")
    assert none.returncode == 2 and none.stderr.strip().count("\n") == 0 and "held-out test files" in none.stderr


@pytest.mark.parametrize("name, files, judges, ear", [
    ("jazz-electronic", 203, {"rnn", "baseline", "combined", "9-order"}, {"first100", "file"}),
    ("four-genres", 428, {"rnn", "baseline", "combined"}, {"first100"})])
def test_stored_tables_cover_every_held_out_file_edit_and_judge_and_state_their_answer(name, files, judges, ear):
    """results/concepts-<run>.json (scripts/concept_tables.py): all held-out files, every edit,
    judge and protocol, the answers as :func:`answer` computes them from the stored table."""
    import json

    from .conftest import PROJECT

    stored = json.loads((PROJECT / "results" / f"concepts-{name}.json").read_text())
    table = stored["table"]
    assert table["files"] == files and not stored["how"]["skipped"]
    assert set(stored["how"]["ear"].split(" under ")[-1].split(", ")) == ear  # the ear: its protocols only
    assert {(r["edit"], r["judge"], r["protocol"]) for r in table["rows"]} == {
        (e, j, p) for e in EDITS for j in judges for p in ("first100", "file")} | {(e, "ear", p) for e in EDITS for p in ear}
    for key, text in stored["answers"].items():
        assert text == answer(table, *key.split(" "))
    assert {r["concept"] for r in stored["probes"]["rows"]} == set(NAMES)
