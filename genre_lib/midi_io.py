"""Read MIDI files into note tables and write note tables back to MIDI.

A *note table* is a float32 array ``(notes, 6)``, one row per note ordered by onset
(:func:`note_order`), columns :data:`FEATURES`: pitch (0-127; for drums the drum sound),
step (seconds since the previous onset, 0 for the first note), duration (seconds),
velocity (1-127), drum (1 on the drum channel) and program (0-127, 0 for drums). Every
track, drums included, is merged into one sequence: drums carry much of a genre's rhythm.
Reading uses symusic, writing pretty_midi. What a MIDI file can hold is defined here
only: the note order, the rule for overlapping notes of one key (:func:`same_key_ends`)
and the projection onto what a written file holds (:func:`project_to_midi`), with the
order it is read back in (:func:`read_back_order`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FEATURES: tuple[str, ...] = ("pitch", "step", "duration", "velocity", "drum", "program")
"""Names of the note-table columns, in order."""

PITCH, STEP, DURATION, VELOCITY, DRUM, PROGRAM = range(len(FEATURES))

#: Tempo and resolution used when writing: 120 bpm at 480 ticks per beat, so onsets
#: and durations are stored to the nearest 1/960 s.
WRITE_TEMPO = 120.0
WRITE_RESOLUTION = 480
TIME_RESOLUTION = 60.0 / WRITE_TEMPO / WRITE_RESOLUTION


#: The lowest and highest value of each column a MIDI file holds: pitch 0-127, step >= 0,
#: duration at least one tick, velocity 1-127, drum 0/1, program 0-127.
MIDI_MIN = np.array([0.0, 0.0, TIME_RESOLUTION, 1.0, 0.0, 0.0])
MIDI_MAX = np.array([127.0, np.inf, np.inf, 127.0, 1.0, 127.0])


class NoteTableError(ValueError):
    """An array that is not a note table (wrong shape)."""


class MidiError(ValueError):
    """A MIDI file that cannot be used, with the file and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def note_order(onset: np.ndarray, pitch: np.ndarray, drum: np.ndarray, program: np.ndarray, duration: np.ndarray,
               velocity: np.ndarray) -> np.ndarray:
    """The order of a table's notes (an index array): by onset, then pitch, drum flag,
    program, duration and velocity, whatever the file's track layout.
    """
    return np.lexsort((velocity, duration, program, drum, pitch, onset))


def same_key_ends(start: np.ndarray, end: np.ndarray, drum: np.ndarray, program: np.ndarray, pitch: np.ndarray,
                  gap: float = 0.0, min_length: float = 0.0) -> np.ndarray:
    """Note ends (float64) cut so that no two notes of one key (drum flag, program,
    pitch) overlap: a note ends at the latest ``gap`` before the next note of its key,
    notes of a key starting together end together, each lasts at least ``min_length``.
    MIDI pairs note-offs with note-ons by key alone, so overlapping notes of one key read
    back differently in different readers.
    """
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    order = np.lexsort((start, pitch, program, drum))
    s, e = start[order], end[order]
    key = np.stack([np.asarray(c)[order] for c in (drum, program, pitch)], axis=1)
    same_key = np.r_[False, (key[1:] == key[:-1]).all(axis=1)]
    new_cluster = ~(same_key & np.r_[False, s[1:] == s[:-1]])  # (key, onset) changes
    starts = np.nonzero(new_cluster)[0]
    cluster = np.cumsum(new_cluster) - 1
    # onset of the next cluster of the same key (inf where the key ends)
    nxt = np.full(len(starts), np.inf)
    follows = same_key[starts[1:]]
    nxt[:-1][follows] = s[starts[1:]][follows]
    e = np.minimum(e, nxt[cluster] - gap)
    if len(e):
        e = np.minimum.reduceat(e, starts)[cluster]
    e = np.maximum(e, s + min_length)
    out = np.empty_like(e)
    out[order] = e
    return out


def notes_from_events(start: np.ndarray, end: np.ndarray, pitch: np.ndarray, velocity: np.ndarray, drum: np.ndarray,
                      program: np.ndarray) -> np.ndarray:
    """A note table from per-note absolute times (seconds) and attributes, sorted by
    :func:`note_order`; notes of no duration are dropped.
    """
    start = np.asarray(start, dtype=np.float64)
    duration = np.asarray(end, dtype=np.float64) - start
    keep = duration > 0
    pitch, velocity, drum, program = (np.asarray(c, dtype=np.float64)[keep] for c in (pitch, velocity, drum, program))
    start, duration, program = start[keep], duration[keep], np.where(drum > 0, 0.0, program)
    order = note_order(start, pitch, drum, program, duration, velocity)
    start = start[order]
    step = np.diff(start, prepend=start[:1]) if len(start) else start
    table = np.stack([pitch[order], step, duration[order], velocity[order], drum[order], program[order]], axis=1)
    return table.astype(np.float32).reshape(-1, len(FEATURES))


def parse_midi_bytes(data: bytes, path: str | Path = "<bytes>") -> np.ndarray:
    """Parse the bytes of a MIDI file into a note table (all notes, all tracks).

    Raises:
        MidiError: the bytes are not a MIDI file, cannot be parsed, or hold no notes.
    """
    import symusic

    if not data:
        raise MidiError(path, "empty file (0 bytes)")
    if data[:4] != b"MThd":
        raise MidiError(path, "not a MIDI file (no 'MThd' header)")
    try:
        score = symusic.Score.from_midi(data, ttype="second")
    except Exception as exc:  # symusic raises RuntimeError/ValueError for damaged data
        raise MidiError(path, f"unreadable MIDI: {exc}") from None
    parts = [(start, start + a["duration"], a["pitch"], a["velocity"], np.full(len(start), float(t.is_drum)),
              np.full(len(start), float(t.program)))
             for t in score.tracks for a in [t.notes.numpy()] for start in [a["time"].astype(np.float64)] if len(start)]
    if not parts:
        raise MidiError(path, "no notes")
    table = notes_from_events(*(np.concatenate(cols) for cols in zip(*parts)))
    if len(table) == 0:
        raise MidiError(path, "no notes")
    return table


def read_midi(path: str | Path) -> np.ndarray:
    """Read a MIDI file into a note table (all notes, all tracks, drums included).

    Raises:
        MidiError: the file is missing, not a MIDI file, unreadable, or has no notes.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise MidiError(path, f"cannot read file: {exc.strerror or exc}") from None
    return parse_midi_bytes(data, path)


def onsets(table: np.ndarray) -> np.ndarray:
    """Absolute onset time of each note of a note table, in seconds from its first note."""
    return np.cumsum(table[:, STEP].astype(np.float64))


def length_seconds(table: np.ndarray) -> float:
    """Length of a note table in seconds: from its first onset to its last note-off
    (0 for an empty table)."""
    t = np.asarray(table, dtype=np.float64)
    return float((onsets(t) + t[:, DURATION]).max()) if len(t) else 0.0


def to_pretty_midi(table: np.ndarray):
    """Turn a note table into a ``pretty_midi.PrettyMIDI`` object (one instrument per
    program, one drum instrument), at 120 bpm. Values are rounded and clipped to what
    MIDI can hold; see :func:`project_to_midi` for the full projection."""
    import pretty_midi

    table = np.asarray(table, dtype=np.float64)
    pm = pretty_midi.PrettyMIDI(resolution=WRITE_RESOLUTION, initial_tempo=WRITE_TEMPO)
    start = onsets(table)
    end = start + np.maximum(table[:, DURATION], TIME_RESOLUTION)
    drum = table[:, DRUM] >= 0.5
    program = np.where(drum, 0, np.clip(np.round(table[:, PROGRAM]), 0, 127)).astype(int)
    velocity, pitch = (np.clip(np.round(table[:, c]), lo, 127).astype(int) for c, lo in ((VELOCITY, 1), (PITCH, 0)))
    for p, is_drum in sorted(set(zip(program.tolist(), drum.tolist()))):  # one instrument per program, one of drums
        inst = pretty_midi.Instrument(program=p, is_drum=is_drum,
                                      name="Drums" if is_drum else pretty_midi.program_to_instrument_name(p))
        inst.notes = [pretty_midi.Note(velocity=int(velocity[i]), pitch=int(pitch[i]), start=float(start[i]),
                                       end=float(end[i])) for i in np.flatnonzero((program == p) & (drum == is_drum))]
        pm.instruments.append(inst)
    return pm


def write_midi(table: np.ndarray, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a note table to a playable ``.mid`` file (an existing file only with
    ``overwrite``, :func:`genre_lib.paths.write_atomic`); returns the path."""
    from .paths import write_atomic

    return write_atomic(path, lambda tmp: to_pretty_midi(table).write(str(tmp)), overwrite)


def write_read(table: np.ndarray, path: str | Path | None = None, overwrite: bool = False) -> np.ndarray:
    """``table`` written as a MIDI file (:func:`write_midi`) and read back
    (:func:`read_midi`): what a listener's file holds. Written to ``path`` (an existing
    file only replaced with ``overwrite``), else to a temporary file deleted afterwards."""
    if path is not None:
        return read_midi(write_midi(table, path, overwrite=overwrite))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return read_midi(write_midi(table, Path(tmp) / "table.mid"))


def read_back(table: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    """``(table written to MIDI and read back, None)``, as many first notes as ``table``
    has (:func:`write_read`), or ``(None, why)`` when fewer notes come back."""
    reparsed = write_read(table)
    if len(reparsed) < len(table):
        return None, f"read back {len(reparsed)} notes < {len(table)}"
    return reparsed[: len(table)], None


def project_to_midi(table: np.ndarray) -> np.ndarray:
    """Round and clip a note table to values a file written by :func:`write_midi` holds
    exactly, keeping the row order: integer pitch, velocity and program in range, a 0/1 drum
    flag (drum notes program 0), onsets rounded to the tick grid (steps >= 0, the first 0),
    durations on the grid, at least one tick and cut where the next note of the key starts.
    Rounding onsets rather than steps keeps the timing error below half a tick; the
    projection is idempotent. Returns a new float32 table.

    Raises:
        NoteTableError: not a ``(notes, 6)`` table.
    """
    t = np.array(table, dtype=np.float64, copy=True)
    if t.ndim != 2 or t.shape[1] != len(FEATURES):
        raise NoteTableError(f"note table must have shape (notes, {len(FEATURES)}), got {t.shape}")
    t[:, DRUM] = (t[:, DRUM] >= 0.5).astype(np.float64)
    for col in (PITCH, VELOCITY, PROGRAM):
        t[:, col] = np.clip(np.round(t[:, col]), MIDI_MIN[col], MIDI_MAX[col])
    t[t[:, DRUM] == 1.0, PROGRAM] = 0.0
    step = np.maximum(t[:, STEP], 0.0)
    if len(step):
        step[0] = 0.0
    ticks = np.round(np.cumsum(step) / TIME_RESOLUTION)
    # np.round of a running sum is non-decreasing, so steps stay >= 0
    t[:, STEP] = np.diff(ticks, prepend=ticks[:1]) * TIME_RESOLUTION
    dur = np.maximum(np.round(t[:, DURATION] / TIME_RESOLUTION), 1.0)
    ends = same_key_ends(ticks, ticks + dur, t[:, DRUM], t[:, PROGRAM], t[:, PITCH])
    t[:, DURATION] = (ends - ticks) * TIME_RESOLUTION
    return t.astype(np.float32)


def canonical_order(table: np.ndarray) -> np.ndarray:
    """The row order in which :func:`read_midi` returns a (projected) table once written:
    :func:`note_order` on the tick grid (notes only swap places inside chords).
    """
    t = np.asarray(table, dtype=np.float64)
    ticks = np.round(np.cumsum(np.maximum(t[:, STEP], 0.0)) / TIME_RESOLUTION)
    dur_ticks = np.round(t[:, DURATION] / TIME_RESOLUTION)
    return note_order(ticks, t[:, PITCH], t[:, DRUM], t[:, PROGRAM], dur_ticks, t[:, VELOCITY])


def read_back_order(table: np.ndarray) -> np.ndarray:
    """The table as :func:`read_midi` returns it once written: rows in
    :func:`canonical_order`, steps recomputed from the onsets (a note moved inside a
    chord takes the chord's step). For a projected table this equals writing and
    reading the file, without touching the disk; it is what a model is shown.
    """
    t = np.asarray(table, dtype=np.float32)
    order = canonical_order(t)
    ticks = np.round(np.cumsum(np.maximum(t[:, STEP].astype(np.float64), 0.0)) / TIME_RESOLUTION)[order]
    out = t[order].copy()
    out[:, STEP] = (np.diff(ticks, prepend=ticks[:1]) * TIME_RESOLUTION).astype(np.float32)
    return out
