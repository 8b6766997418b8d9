"""MIDI <-> note table: round trip, and agreement with pretty_midi."""

from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from genre_lib.midi_io import (
    DRUM,
    DURATION,
    FEATURES,
    PITCH,
    PROGRAM,
    STEP,
    TIME_RESOLUTION,
    VELOCITY,
    MidiError,
    NoteTableError,
    notes_from_events,
    onsets,
    project_to_midi,
    read_midi,
    same_key_ends,
    write_midi,
)

from .pretty_reader import read_midi_pretty

from .conftest import SHARED_MIDI, needs_shared


def _random_table(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    start = np.sort(rng.uniform(0, 20, n))
    drum = (rng.random(n) < 0.3).astype(float)
    return notes_from_events(
        start,
        start + rng.uniform(0.05, 1.5, n),
        rng.integers(21, 109, n),
        rng.integers(1, 128, n),
        drum,
        rng.integers(0, 128, n),
    )


def test_notes_from_events_orders_by_onset_then_pitch_and_drops_silent_notes():
    table = notes_from_events(
        start=[1.0, 0.5, 0.5, 2.0],
        end=[1.5, 1.0, 0.7, 2.0],  # the last note has zero duration
        pitch=[60, 67, 48, 72],
        velocity=[90, 80, 70, 60],
        drum=[0, 0, 1, 0],
        program=[0, 33, 5, 0],
    )
    assert table.shape == (3, len(FEATURES))
    np.testing.assert_array_equal(table[:, PITCH], [48, 67, 60])
    np.testing.assert_allclose(table[:, STEP], [0.0, 0.0, 0.5])
    np.testing.assert_allclose(table[:, DURATION], [0.2, 0.5, 0.5])
    np.testing.assert_array_equal(table[:, DRUM], [1, 0, 0])
    # a drum note's program is meaningless in General MIDI; it is stored as 0
    np.testing.assert_array_equal(table[:, PROGRAM], [0, 33, 0])


def test_write_then_read_gives_the_same_notes(tmp_path: Path):
    table = _random_table(300, seed=1)
    path = write_midi(table, tmp_path / "round.mid")
    back = read_midi(path)
    assert back.shape == table.shape
    for col in (PITCH, VELOCITY, DRUM, PROGRAM):
        np.testing.assert_array_equal(back[:, col], table[:, col], err_msg=FEATURES[col])
    # times are stored in ticks of TIME_RESOLUTION seconds
    np.testing.assert_allclose(onsets(back), onsets(table), atol=TIME_RESOLUTION)
    np.testing.assert_allclose(back[:, DURATION], table[:, DURATION], atol=2 * TIME_RESOLUTION)


def test_written_file_is_read_the_same_by_pretty_midi(tmp_path: Path):
    table = _random_table(120, seed=2)
    path = write_midi(table, tmp_path / "pm.mid")
    pm = pretty_midi.PrettyMIDI(str(path))
    assert sum(len(i.notes) for i in pm.instruments) == len(table)
    assert {i.is_drum for i in pm.instruments} == {True, False}
    np.testing.assert_allclose(read_midi_pretty(path), read_midi(path), atol=1e-4)


def test_write_refuses_to_overwrite(tmp_path: Path):
    path = write_midi(_random_table(10, seed=3), tmp_path / "x.mid")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="x.mid"):
        write_midi(_random_table(10, seed=4), path)
    assert path.read_bytes() == before
    write_midi(_random_table(10, seed=4), path, overwrite=True)
    assert path.read_bytes() != before


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty file"),
        (b"hello, I am text\n", "not a MIDI file"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\xff\xff", "unreadable MIDI"),
    ],
)
def test_bad_bytes_raise_midi_error_naming_the_file(tmp_path: Path, content: bytes, reason: str):
    path = tmp_path / "bad.mid"
    path.write_bytes(content)
    with pytest.raises(MidiError, match=reason) as info:
        read_midi(path)
    assert info.value.path == str(path)


def test_file_without_notes_is_an_error(tmp_path: Path):
    path = tmp_path / "silent.mid"
    pm = pretty_midi.PrettyMIDI()
    pm.instruments.append(pretty_midi.Instrument(program=0))
    pm.write(str(path))
    with pytest.raises(MidiError, match="no notes"):
        read_midi(path)


def test_missing_file_is_an_error(tmp_path: Path):
    with pytest.raises(MidiError, match="cannot read file"):
        read_midi(tmp_path / "nope.mid")


@pytest.mark.slow
@needs_shared
def test_symusic_reader_matches_pretty_midi_on_real_files():
    """The fast reader and pretty_midi agree on the first 100 notes of real files.

    Pitch, onset, velocity, drum and program agree exactly. Durations differ only where
    a file holds overlapping notes of the same pitch on one channel: pretty_midi closes
    all of them at the first note-off, symusic pairs note-ons and note-offs first in,
    first out. We require agreement on at least 95% of the durations.
    """
    # a spread of ~40 files over every genre folder (every 50th of the ~2200 files; every
    # 25th gave ~90 when the collection grew, for the same point at twice the cost)
    files = sorted(SHARED_MIDI.glob("*/*.mid"))[::50]
    compared = agree = 0
    for path in files:
        try:
            fast = read_midi(path)[:100]
        except MidiError:
            continue
        slow = read_midi_pretty(path)[:100]
        assert fast.shape == slow.shape, path.name
        for col in (PITCH, STEP, VELOCITY, DRUM, PROGRAM):
            np.testing.assert_allclose(fast[:, col], slow[:, col], atol=1e-3, err_msg=f"{path.name} {FEATURES[col]}")
        compared += len(fast)
        agree += int(np.isclose(fast[:, DURATION], slow[:, DURATION], atol=1e-3).sum())
    assert compared > 3000
    assert agree / compared >= 0.95


def messy_table(seed: int = 0) -> np.ndarray:
    """A note table with every kind of illegal value a continuous delta can produce."""
    rng = np.random.default_rng(seed)
    n = 60
    cols = [(-10, 140), (-0.2, 0.6), (-0.1, 1.0), (-20, 150), (-0.5, 1.5), (-5, 135)]
    return np.stack([rng.uniform(lo, hi, n) for lo, hi in cols], axis=1).astype(np.float32)


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
    with pytest.raises(NoteTableError, match="shape"):
        project_to_midi(np.zeros((10, 5)))


def test_same_key_notes_never_overlap_and_other_keys_are_left_alone():
    # key (drum, program, pitch): notes 0, 1, 2 share one key, 1 and 2 start together;
    # note 3 has another pitch, note 4 another program
    start = np.array([0.0, 1.0, 1.0, 0.5, 0.5])
    end = np.array([3.0, 2.0, 4.0, 9.0, 9.0])
    drum = np.zeros(5)
    program = np.array([0, 0, 0, 0, 5])
    pitch = np.array([60, 60, 60, 62, 60])
    np.testing.assert_array_equal(same_key_ends(start, end, drum, program, pitch), [1.0, 2.0, 2.0, 9.0, 9.0])
    # a gap before the next note of the key, and a shortest length
    np.testing.assert_array_equal(same_key_ends(start, end, drum, program, pitch, gap=0.25, min_length=0.5),
                                  [0.75, 2.0, 2.0, 9.0, 9.0])
    np.testing.assert_array_equal(same_key_ends([0.0, 0.1], [1.0, 1.0], [1, 1], [0, 0], [36, 36], gap=0.2, min_length=0.05),
                                  [0.05, 1.0])
