"""Musical concepts measured in a MIDI file on its own beat grid.

A note table forgets the beat; a :class:`Piece` keeps what the file holds: notes in ticks,
ticks per quarter note (the beat), tempo map, time signatures. Files are read with symusic,
as :func:`genre_lib.midi_io.read_midi` reads them (pretty_midi takes ~150 times as long and
refuses some of the collection's files); :func:`to_table` gives the note table a judge reads.
:data:`CONCEPTS` defines each measure in one line; :func:`measure` computes them for a file or
any subset of its notes (a 100-note window), NaN where there is nothing to measure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .midi_io import MidiError, note_order

#: what each measure is, for a musician (the beat is a quarter note; "4-beat bars" are bars of four quarters)
CONCEPTS: dict[str, str] = {
    "swing": "share of off-beat eighths played late, near 2/3 of the beat (a triplet feel), rather than at 1/2",
    "syncopation": "share of pitched notes that start off the beat and are held across the next beat",
    "backbeat": "share of 4-beat bars with a snare or clap on beats 2 and 4",
    "four_on_floor": "share of 4-beat bars with a kick drum on every beat",
    "sevenths": "share of chords (3+ pitch classes starting within 1/12 beat) holding a third and a seventh above one of their notes",
    "walking_bass": "share of beats on which the bass (GM 32-39) plays a new note 1-4 semitones from its note one beat before",
    "piano": "share of pitched notes on pianos (GM 0-7)",
    "organ": "share of pitched notes on organs (GM 16-23)",
    "guitar": "share of pitched notes on guitars (GM 24-31)",
    "strings": "share of pitched notes on strings and ensembles (GM 40-55)",
    "brass_reeds": "share of pitched notes on brass, reeds and pipes (GM 56-79)",
    "synth": "share of pitched notes on synth leads, pads and effects (GM 80-103)",
    "drums": "share of all notes played on the drum channel (0: no drums)",
    "tempo": "tempo in quarter notes per minute (median over the notes)",
    "density": "pitched notes per beat",
    "repetition": "share of pitched notes repeated (same pitch, instrument and place in the bar) 1, 2, 4 or 8 bars before",
    "looseness": "mean distance of onsets from the nearest sixteenth or eighth-note triplet, in beats (0: quantized)",
}
NAMES: tuple[str, ...] = tuple(CONCEPTS)
#: the GM program range [low, high) of each instrument share
FAMILIES: dict[str, tuple[int, int]] = {"piano": (0, 8), "organ": (16, 24), "guitar": (24, 32), "strings": (40, 56),
                                        "brass_reeds": (56, 80), "synth": (80, 104)}
#: the GM program range [low, high) of the bass
BASS: tuple[int, int] = (32, 40)
#: a note is "on" a beat position within this share of a beat (a 32nd triplet: 42 ms at 120 bpm)
TOL = 1 / 12
#: where an off-beat eighth counts as straight, [low, high), and as swung, [high, top] (beat fractions)
STRAIGHT, SWUNG, TOP = 1 / 2 - 1 / 24, 7 / 12, 2 / 3 + 1 / 24
#: the positions of a quantizer's grid within a beat: sixteenths and eighth-note triplets
GRID = np.array([0, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 3 / 4, 1])
SNARES, KICKS = (37, 38, 39, 40), (35, 36)
FIELDS: tuple[str, ...] = ("start", "end", "pitch", "velocity", "program", "drum", "track")

_bits = (np.arange(4096)[:, None] >> np.arange(12)) & 1  # the pitch classes of each 12-bit set
_up = lambda r, k: _bits[:, (r + k) % 12]  # noqa: E731
#: ROOTS[set, r]: r is in the set with a third and a seventh above it (3, or 4 with a fifth too)
ROOTS = np.stack([_bits[:, r] * (_up(r, 3) | _up(r, 4)) * (_up(r, 10) | _up(r, 11)) * (3 + _up(r, 7)) for r in range(12)], 1)
SEVENTH, CLASSES = ROOTS.any(axis=1), _bits.sum(axis=1)  # a seventh chord; how many pitch classes


@dataclass(frozen=True, eq=False)
class Piece:
    """A MIDI file as it is written: ``notes`` (arrays of :data:`FIELDS`: start and end in
    ticks, pitch, velocity, program, drum flag, track), ``tpq`` ticks per quarter note,
    ``tempo`` ``(changes, 2)`` [tick, microseconds per quarter] and ``meter``
    ``(changes, 3)`` [tick, numerator, denominator]."""

    notes: dict
    tpq: int
    tempo: np.ndarray
    meter: np.ndarray

    def select(self, keep: np.ndarray) -> "Piece":
        """The piece with only the notes ``keep`` (a mask or an index)."""
        return replace(self, notes={k: v[keep] for k, v in self.notes.items()})

    def changed(self, **arrays: np.ndarray) -> "Piece":
        """The piece with some note arrays replaced."""
        return replace(self, notes={**self.notes, **arrays})

    def add(self, **arrays: np.ndarray) -> "Piece":
        """The piece with more notes (one array per field of :data:`FIELDS`)."""
        return replace(self, notes={k: np.concatenate([v, np.asarray(arrays[k], v.dtype)]) for k, v in self.notes.items()})

    def paired(self) -> "Piece":
        """The notes as a written file holds them: notes of one key (track, program, drum,
        pitch) starting together end at the earliest of their ends, and a key's notes end
        in the order they start (a reader pairs a note-off with the oldest note-on)."""
        n = self.notes
        key = [n[k] for k in ("track", "program", "drum", "pitch")]
        o = np.lexsort((n["start"], *key[::-1]))
        k = np.stack([a[o] for a in (*key, n["start"])], 1)
        same = k[1:] == k[:-1]
        chord, voice = np.r_[True, ~same.all(1)], np.r_[True, ~same[:, :4].all(1)]
        end = np.minimum.reduceat(n["end"][o], np.flatnonzero(chord))[np.cumsum(chord) - 1]
        out = np.empty_like(end)
        out[o] = end[np.lexsort((end, np.cumsum(voice)))]
        return self.changed(end=out)

    def seconds(self, ticks: np.ndarray) -> np.ndarray:
        """Seconds from the start of the file of ``ticks``, through the tempo map."""
        t, us = self.tempo[:, 0], self.tempo[:, 1].astype(np.float64) / 1e6 / self.tpq
        at = np.concatenate([[0.0], np.cumsum(np.diff(t) * us[:-1])])
        k = np.searchsorted(t, ticks, side="right") - 1
        return at[k] + (np.asarray(ticks) - t[k]) * us[k]

    def bars(self, ticks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(bar, position, length)`` of each tick: the bar's number, the position in it
        and its length, both in beats (quarter notes), from the time signatures."""
        t, length, first = self.bar_grid()
        k = np.searchsorted(t, ticks, side="right") - 1
        q = (np.asarray(ticks) - t[k]) / self.tpq
        n = np.floor(q / length[k] + 1e-9)
        return first[k] + n.astype(np.int64), q - n * length[k], length[k]

    def bar_length(self, bar: np.ndarray) -> np.ndarray:
        """The length in beats of each bar numbered ``bar``."""
        _, length, first = self.bar_grid()
        return length[np.searchsorted(first, bar, side="right") - 1]

    def bar_grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each time signature's tick, bar length (beats) and first bar number."""
        t, length = self.meter[:, 0], self.meter[:, 1] * 4 / self.meter[:, 2]
        return t, length, np.concatenate([[0], np.cumsum(np.ceil(np.diff(t) / self.tpq / length[:-1]))]).astype(np.int64)


def read_piece(path: str | Path | bytes) -> Piece:
    """Read a MIDI file (a path or its bytes) into a :class:`Piece` (4/4 and 120 bpm until the
    file says otherwise, as in MIDI). Raises :class:`MidiError`: unreadable, or no notes."""
    import symusic

    name = "<bytes>" if isinstance(path, bytes) else path
    try:
        score = symusic.Score.from_midi(path if isinstance(path, bytes) else Path(path).read_bytes())
    except Exception as exc:  # symusic raises RuntimeError/ValueError for damaged data, OSError for a missing file
        raise MidiError(name, f"unreadable MIDI: {exc}") from None
    parts = [(a["time"], a["time"] + a["duration"], a["pitch"], a["velocity"], np.full(len(a["time"]), t.program),
              np.full(len(a["time"]), t.is_drum), np.full(len(a["time"]), i))
             for i, t in enumerate(score.tracks) for a in [t.notes.numpy()]]
    if not sum(len(p[0]) for p in parts):
        raise MidiError(name, "no notes")
    notes = {k: np.concatenate(c).astype(bool if k == "drum" else np.int64) for k, c in zip(FIELDS, zip(*parts))}
    t, m = score.tempos.numpy(), score.time_signatures.numpy()
    tempo = np.r_[[[0, 500000]], np.stack([t["time"], t["mspq"]], 1).astype(np.int64)]
    meter = np.r_[[[0, 4, 4]], np.stack([m["time"], m["numerator"], m["denominator"]], 1).astype(np.int64)]
    # the defaults hold until the file's first change (a later change at tick 0 replaces them)
    return Piece(notes, int(score.tpq), tempo, meter[meter[:, 2] > 0])


def to_table(piece: Piece) -> tuple[np.ndarray, np.ndarray]:
    """The note table a judge reads of ``piece`` (what :func:`genre_lib.midi_io.read_midi` reads of
    it written; its notes paired as in a file, :meth:`Piece.paired`) and each row's note index."""
    n = piece.notes
    on, off = piece.seconds(n["start"]), piece.seconds(n["end"])
    kept = np.flatnonzero(off > on)
    on, off, pitch, drum = on[kept], off[kept], n["pitch"][kept], n["drum"][kept]
    program, velocity = np.where(drum, 0, n["program"][kept]), n["velocity"][kept]
    o = note_order(on, pitch, drum, program, off - on, velocity)
    # the table notes_from_events makes of these notes, without sorting them a second time
    step = np.diff(on[o], prepend=on[o][:1])
    return np.stack([pitch[o], step, (off - on)[o], velocity[o], drum[o], program[o]], 1).astype(np.float32), kept[o]


def beat_hits(sel: np.ndarray, bar: np.ndarray, pos: np.ndarray, length: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Notes of ``sel`` on a beat of a 4-beat bar (:meth:`Piece.bars`): ``(is one, bar, beat 0-3)``."""
    beat = np.rint(pos).astype(np.int64)
    on = sel & (length == 4) & (np.abs(pos - beat) < TOL)
    return on, bar + (beat == 4), beat % 4  # a hit just before the bar line is the next bar's 1


def _bar_hits(piece: Piece, sel: np.ndarray, grid: tuple, beats: tuple[int, ...]) -> float:
    spanned = np.arange(grid[0].min(), grid[0].max() + 1)
    four = piece.bar_length(spanned) == 4
    on, bar, beat = beat_hits(sel, *grid)
    hit = np.zeros((len(spanned) + 1, 4), bool)
    hit[bar[on] - spanned[0], beat[on]] = True
    return float(hit[:-1][four][:, list(beats)].all(axis=1).mean()) if four.any() else np.nan


def measure(piece: Piece, rows: np.ndarray | None = None) -> np.ndarray:
    """Every concept of :data:`CONCEPTS` (in its order) for the notes ``rows`` of ``piece``
    (default: all): a float array, NaN where there is nothing to measure."""
    n = piece.notes if rows is None else {k: v[rows] for k, v in piece.notes.items()}
    start, drum, pitch, program = n["start"], n["drum"], n["pitch"], n["program"]
    out = dict.fromkeys(NAMES, np.nan)
    if not (~drum).any():
        return np.array(list(out.values()))
    tpq, pitched = piece.tpq, ~drum
    phase = (start / tpq) % 1  # beats of x/4 and x/8 meters keep their phase across bar lines
    beats = (start.max() - start.min()) / tpq + 1
    straight = ((phase >= STRAIGHT) & (phase < SWUNG)).sum()
    swung = ((phase >= SWUNG) & (phase <= TOP)).sum()
    out["swing"] = swung / (straight + swung) if straight + swung else np.nan
    held = n["end"] >= (np.floor(start / tpq + TOL) + 1.25) * tpq  # past the next beat by a sixteenth
    out["syncopation"] = ((np.abs(phase - np.rint(phase)) >= TOL) & held)[pitched].mean()
    grid = piece.bars(start)
    out["backbeat"] = _bar_hits(piece, drum & np.isin(pitch, SNARES), grid, (1, 3))
    out["four_on_floor"] = _bar_hits(piece, drum & np.isin(pitch, KICKS), grid, (0, 1, 2, 3))
    mask = chords(start[pitched], pitch[pitched], tpq)[1]
    out["sevenths"] = SEVENTH[mask[CLASSES[mask] >= 3]].mean() if (CLASSES[mask] >= 3).any() else np.nan
    bass = pitched & (program >= BASS[0]) & (program < BASS[1])
    out["walking_bass"] = _walking(start[bass], pitch[bass], tpq) / beats
    for name, (lo, hi) in FAMILIES.items():
        out[name] = ((program >= lo) & (program < hi))[pitched].mean()
    out["drums"] = drum.mean()
    out["tempo"] = np.median(6e7 / piece.tempo[np.searchsorted(piece.tempo[:, 0], start, side="right") - 1, 1])
    out["density"] = pitched.sum() / beats
    out["repetition"] = _repetition(grid[0][pitched], grid[1][pitched], pitch[pitched], program[pitched])
    out["looseness"] = np.abs(phase[:, None] - GRID).min(axis=1).mean()
    return np.array([float(v) for v in out.values()])


def chords(start: np.ndarray, pitch: np.ndarray, tpq: int) -> tuple[np.ndarray, np.ndarray]:
    """Pitched notes starting together (in the same twelfth of a beat): ``(chord, mask)``, each
    note's chord number and each chord's 12-bit pitch-class set."""
    key = np.rint(start * 12 / tpq).astype(np.int64)
    _, chord = np.unique(key, return_inverse=True)
    mask = np.zeros(chord.max() + 1 if len(chord) else 0, np.int64)
    np.bitwise_or.at(mask, chord, 1 << (pitch % 12))
    return chord, mask


def _walking(start: np.ndarray, pitch: np.ndarray, tpq: int) -> int:
    # the bass's lowest new note moves 1-4 semitones from its note one beat before
    if len(start) < 2:
        return 0
    o = np.lexsort((pitch, start))
    first = np.r_[True, start[o][1:] != start[o][:-1]]  # the lowest note of each onset
    s, step = start[o][first], np.abs(np.diff(pitch[o][first]))
    on = np.abs(s / tpq - np.rint(s / tpq)) < TOL
    return int((on[1:] & on[:-1] & (np.abs(np.diff(s) - tpq) < TOL * tpq) & (step >= 1) & (step <= 4)).sum())


def _repetition(bar: np.ndarray, pos: np.ndarray, pitch: np.ndarray, program: np.ndarray) -> float:
    K = 128 * 128 * 1024  # a note's key: pitch, program, position in the bar to a twelfth of a beat
    code = bar * K + (pitch * 128 + program) * 1024 + np.minimum(np.rint(pos * 12), 1023).astype(np.int64)
    later = bar > bar.min()
    if not later.any():
        return np.nan
    known = np.sort(code)
    found = np.zeros(len(code), bool)
    for lag in (1, 2, 4, 8):
        i = np.minimum(np.searchsorted(known, code - lag * K), len(known) - 1)
        found |= known[i] == code - lag * K
    return float(found[later].mean())
