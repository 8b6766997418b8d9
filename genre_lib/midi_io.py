"""MIDI files to note tables and back. A *note table* is a float32 array ``(notes, 6)``,
one row per note by onset (:func:`note_order`), columns :data:`FEATURES`: pitch (for drums
the drum sound), step (seconds since the previous onset), duration (s), velocity, drum
(1 on the drum channel) and program (0 for drums). Every track, drums included, merges into
one sequence: drums carry much of a genre's rhythm. What a written file holds is defined
here only: :func:`same_key_ends`, :func:`project_to_midi`, :func:`read_back_order`."""

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
    """The order of a table's notes: by onset, then pitch, drum, program, duration, velocity."""
    return np.lexsort((velocity, duration, program, drum, pitch, onset))


def same_key_ends(start: np.ndarray, end: np.ndarray, drum: np.ndarray, program: np.ndarray, pitch: np.ndarray,
                  gap: float = 0.0, min_length: float = 0.0) -> np.ndarray:
    """Note ends cut so that no two notes of one key (drum, program, pitch) overlap: at
    the latest ``gap`` before the key's next note, together for notes starting together, at
    least ``min_length``. MIDI pairs note-offs with note-ons by key alone, so overlapping
    notes of one key read back differently in different readers."""
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
    """A note table from per-note absolute times and attributes; notes of no duration dropped."""
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
    """A MIDI file's bytes as a note table (MidiError: not MIDI, unparsable, no notes)."""
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
    """A MIDI file as a note table, every track (MidiError: missing, unreadable, no notes)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise MidiError(path, f"cannot read file: {exc.strerror or exc}") from None
    return parse_midi_bytes(data, path)


def onsets(table: np.ndarray) -> np.ndarray:
    """Each note's onset in seconds from the table's first note."""
    return np.cumsum(table[:, STEP].astype(np.float64))


def length_seconds(table: np.ndarray) -> float:
    """Seconds from a table's first onset to its last note-off (0 if empty)."""
    t = np.asarray(table, dtype=np.float64)
    return float((onsets(t) + t[:, DURATION]).max()) if len(t) else 0.0


def to_pretty_midi(table: np.ndarray):
    """A ``pretty_midi.PrettyMIDI`` of a table at 120 bpm (one instrument per program, one
    for drums), values rounded and clipped as :func:`project_to_midi` does."""
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
    """Write a table to a playable ``.mid`` file (an existing one only with ``overwrite``)."""
    from .paths import write_atomic

    return write_atomic(path, lambda tmp: to_pretty_midi(table).write(str(tmp)), overwrite)


def write_read(table: np.ndarray, path: str | Path | None = None, overwrite: bool = False) -> np.ndarray:
    """``table`` written as MIDI and read back: what a listener's file holds (to ``path``,
    else a temporary file)."""
    if path is not None:
        return read_midi(write_midi(table, path, overwrite=overwrite))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return read_midi(write_midi(table, Path(tmp) / "table.mid"))


def read_back(table: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    """``(table written and read back, None)``, as many first notes as ``table``, or
    ``(None, why)`` when fewer come back."""
    reparsed = write_read(table)
    if len(reparsed) < len(table):
        return None, f"read back {len(reparsed)} notes < {len(table)}"
    return reparsed[: len(table)], None


def project_to_midi(table: np.ndarray) -> np.ndarray:
    """A table rounded and clipped to what :func:`write_midi` holds exactly, row order
    kept: integer pitch, velocity and program, a 0/1 drum flag, onsets on the tick grid (so the
    timing error stays below half a tick), durations of at least one tick cut where the key's
    next note starts. Idempotent."""
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
    """The row order :func:`read_midi` gives a written (projected) table."""
    t = np.asarray(table, dtype=np.float64)
    ticks = np.round(np.cumsum(np.maximum(t[:, STEP], 0.0)) / TIME_RESOLUTION)
    dur_ticks = np.round(t[:, DURATION] / TIME_RESOLUTION)
    return note_order(ticks, t[:, PITCH], t[:, DRUM], t[:, PROGRAM], dur_ticks, t[:, VELOCITY])


def read_back_order(table: np.ndarray) -> np.ndarray:
    """The table as :func:`read_midi` returns it once written, without the disk: rows in
    :func:`canonical_order`, steps recomputed from onsets. What a model is shown."""
    t = np.asarray(table, dtype=np.float32)
    order = canonical_order(t)
    ticks = np.round(np.cumsum(np.maximum(t[:, STEP].astype(np.float64), 0.0)) / TIME_RESOLUTION)[order]
    out = t[order].copy()
    out[:, STEP] = (np.diff(ticks, prepend=ticks[:1]) * TIME_RESOLUTION).astype(np.float32)
    return out
