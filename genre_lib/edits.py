"""Edits of a MIDI file that take one musical concept out or put it in, and leave the rest:
functions ``Piece -> Piece`` in :data:`EDITS` (the very same piece when there is nothing to
change); :func:`write_piece` writes an edited file to listen to. The *horse tests* (Sturm:
a whole tone up or down, 6 % faster or slower) say how far an edit of no musical meaning
moves a verdict."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from .concepts import (BASS, CLASSES, FAMILIES, GRID, KICKS, ROOTS, SEVENTH, SNARES, STRAIGHT, SWUNG, TOP, Piece, beat_hits,
                       chords)


@dataclass(frozen=True)
class Edit:
    """An edit: its function, the concepts it moves, what it does, and whether it can make
    notes of one key overlap anew (then :func:`edit` pairs them as a file would)."""

    apply: Callable[[Piece], Piece]
    moves: tuple[str, ...]
    text: str
    pairs: bool = True


def _offbeats(p: Piece, low: float, high: float, shift: float) -> Piece:
    n, d = p.notes, int(round(shift * p.tpq))
    start, end = (t + np.where(((t / p.tpq) % 1 >= low) & ((t / p.tpq) % 1 < high), d, 0) for t in (n["start"], n["end"]))
    if (start == n["start"]).all() and (end == n["end"]).all():
        return p
    return p.changed(start=start, end=np.where(end > start, end, start + n["end"] - n["start"]))


def _hits(p: Piece, sounds: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # (is such a note, bar, beat 0-3)
    return beat_hits(p.notes["drum"] & np.isin(p.notes["pitch"], sounds), *p.bars(p.notes["start"]))


def _drop_hits(p: Piece, sounds: tuple[int, ...], beats: tuple[int, ...], all_beats: bool = False) -> Piece:
    on, bar, beat = _hits(p, sounds)
    drop = on & np.isin(beat, beats)
    if all_beats:
        full = np.zeros((bar.max() + 2, 4), bool)
        full[bar[on], beat[on]] = True
        drop &= full.all(axis=1)[bar]
    return p.select(~drop) if drop.any() else p


def _add_hits(p: Piece, sound: int, sounds: tuple[int, ...], beats: tuple[int, ...]) -> Piece:
    # as loud as the sounds' median hit, else the drums'
    n = p.notes
    bars = np.unique(p.bars(n["start"][n["drum"]])[0])
    on, bar, beat = _hits(p, sounds)
    have = set(zip(bar[on].tolist(), beat[on].tolist()))
    new = [(b, k) for b in bars[p.bar_length(bars) == 4].tolist() for k in beats if (b, k) not in have]
    if not new:
        return p
    (b, k), (t, _, first) = np.array(new).T, p.bar_grid()
    seg = np.searchsorted(first, b, side="right") - 1
    start = t[seg] + ((b - first[seg]) * 4 + k) * p.tpq
    same = n["drum"] & np.isin(n["pitch"], sounds)
    one = lambda v: np.full(len(start), v)  # noqa: E731
    return p.add(start=start, end=start + p.tpq // 4, pitch=one(sound), drum=one(True), track=one(n["track"][n["drum"]][0]),
                 velocity=one(int(np.median(n["velocity"][same if same.any() else n["drum"]]))),
                 program=one(n["program"][n["drum"]][0]))


def _seventh_moves() -> np.ndarray:
    # the root is the pitch class with a fifth above it, else the lowest
    interval = (np.arange(12)[None, :] - ROOTS.argmax(1)[:, None]) % 12
    return np.where(interval >= 10, 12 - interval, 0) * SEVENTH[:, None]


_SEVENTH_UP = _seventh_moves()


def drop_sevenths(p: Piece) -> Piece:
    """Each chord's seventh moved up to its root, bass notes untouched."""
    n, pitched = p.notes, ~p.notes["drum"]
    move, pitch = pitched & ~((n["program"] >= BASS[0]) & (n["program"] < BASS[1])), n["pitch"].copy()
    for _ in range(3):
        chord, mask = chords(n["start"][pitched], pitch[pitched], p.tpq)
        up = np.where(CLASSES[mask][chord] >= 3, _SEVENTH_UP[mask[chord], pitch[pitched] % 12], 0) * move[pitched]
        if not up.any():
            break
        pitch[pitched] = np.minimum(pitch[pitched] + up, 127)
    return p.changed(pitch=pitch) if (pitch != n["pitch"]).any() else p


def programs(p: Piece, low: int, high: int, to: int) -> Piece:
    """Pitched notes of GM programs ``low`` to ``high - 1`` played on program ``to``."""
    n = p.notes
    which = ~n["drum"] & (n["program"] >= low) & (n["program"] < high)
    return p.changed(program=np.where(which, to, n["program"])) if which.any() else p


def quantize(p: Piece) -> Piece:
    """Every onset moved to the nearest sixteenth or eighth-note triplet, its note whole."""
    beat = p.notes["start"] / p.tpq
    snapped = np.rint((np.floor(beat) + GRID[np.abs(beat[:, None] % 1 - GRID).argmin(1)]) * p.tpq).astype(np.int64)
    shift = snapped - p.notes["start"]
    return p.changed(start=snapped, end=p.notes["end"] + shift) if shift.any() else p


def transpose(p: Piece, semitones: int) -> Piece:
    """Every pitched note ``semitones`` up (down if negative), drums untouched."""
    n = p.notes
    return p.changed(pitch=np.where(n["drum"], n["pitch"], np.clip(n["pitch"] + semitones, 0, 127)))


def tempo(p: Piece, factor: float) -> Piece:
    """Every tempo of the tempo map times ``factor``: the notes stay on their beats."""
    return replace(p, tempo=np.c_[p.tempo[:, 0], np.rint(p.tempo[:, 1] / factor)].astype(np.int64))


EDITS: dict[str, Edit] = {
    "straighten": Edit(lambda p: _offbeats(p, SWUNG, TOP + 1e-9, -1 / 6), ("swing",),
                       "swung off-beat eighths (near 2/3 of the beat) played halfway: 1/6 beat earlier"),
    "add swing": Edit(lambda p: _offbeats(p, STRAIGHT, SWUNG, 1 / 6), ("swing",),
                      "straight off-beat eighths (near 1/2 of the beat) played late: 1/6 beat later"),
    "drop backbeat": Edit(lambda p: _drop_hits(p, SNARES, (1, 3)), ("backbeat",), "snares and claps on 2 and 4 removed", False),
    "add backbeat": Edit(lambda p: _add_hits(p, 38, SNARES, (1, 3)), ("backbeat",),
                         "a snare on beats 2 and 4 of every 4-beat bar the drums play in"),
    "add four-on-the-floor": Edit(lambda p: _add_hits(p, 36, KICKS, (0, 1, 2, 3)), ("four_on_floor",),
                                  "a kick on every beat of every 4-beat bar the drums play in"),
    "drop four-on-the-floor": Edit(lambda p: _drop_hits(p, KICKS, (1, 3), all_beats=True), ("four_on_floor",),
                                   "in bars with a kick on every beat, the kicks on 2 and 4 removed", False),
    "drop sevenths": Edit(drop_sevenths, ("sevenths",), "each chord's seventh moved up to its root (a triad)"),
    "guitar to piano": Edit(lambda p: programs(p, *FAMILIES["guitar"], 0), ("guitar", "piano"), "guitars played on a piano", False),
    "piano to guitar": Edit(lambda p: programs(p, *FAMILIES["piano"], 24), ("piano", "guitar"), "pianos played on a nylon guitar", False),
    "synth to piano": Edit(lambda p: programs(p, *FAMILIES["synth"], 0), ("synth", "piano"), "synth leads, pads, effects on a piano", False),
    "drop drums": Edit(lambda p: p.select(~p.notes["drum"]) if p.notes["drum"].any() else p,
                       ("drums", "backbeat", "four_on_floor"), "every drum note removed", False),
    "quantize": Edit(quantize, ("looseness",), "every onset on the nearest sixteenth or eighth-note triplet"),
    "transpose +2": Edit(lambda p: transpose(p, 2), (), "pitched notes a whole tone up (horse test)"),
    "transpose -2": Edit(lambda p: transpose(p, -2), (), "pitched notes a whole tone down (horse test)"),
    "tempo +6%": Edit(lambda p: tempo(p, 1.06), ("tempo",), "6 % faster (horse test)", False),
    "tempo -6%": Edit(lambda p: tempo(p, 0.94), ("tempo",), "6 % slower (horse test)", False),
}
#: the edits that should not matter to a genre
HORSE: tuple[str, ...] = ("transpose +2", "transpose -2", "tempo +6%", "tempo -6%")
#: what an edit also moves, beyond :attr:`Edit.moves`, where that lived in what it changed
#: (the drums' share of notes; swing a ride cymbal played; chords a loose player struck apart)
SIDE_EFFECTS: dict[str, tuple[str, ...]] = {
    "drop drums": ("swing", "looseness"), "quantize": ("swing", "syncopation", "sevenths", "repetition"),
    "drop sevenths": ("repetition",), **dict.fromkeys(("drop backbeat", "add backbeat", "add four-on-the-floor",
                                                       "drop four-on-the-floor"), ("drums",))}


def edit(piece: Piece, name: str) -> Piece:
    """``piece`` edited by :data:`EDITS` ``[name]``, its notes as a file holds them; the very
    same piece if nothing changed (KeyError: an unknown edit)."""
    if name not in EDITS:
        raise KeyError(f"unknown edit {name!r}: use one of {', '.join(EDITS)}")
    out = EDITS[name].apply(piece)
    return out.paired() if out is not piece and EDITS[name].pairs else out


def write_piece(piece: Piece, path: str | Path, overwrite: bool = False) -> Path:
    """Write ``piece`` as a MIDI file with its tempo map and time signatures, one track per
    original track (FileExistsError without ``overwrite``)."""
    import symusic

    from .paths import write_atomic

    path, n = Path(path), piece.notes
    if path.exists() and not overwrite:  # before the other checks, as write_atomic would
        raise FileExistsError(f"{path}: already exists; not replaced (pass overwrite=True to replace it)")
    if len(n["start"]) and n["start"].min() < 0:
        raise ValueError(f"{path}: a note starts before the file does (tick {n['start'].min()})")
    score = symusic.Score(piece.tpq)
    score.tempos.extend([symusic.Tempo(t, mspq=us) for t, us in piece.tempo.tolist()])
    score.time_signatures.extend([symusic.TimeSignature(*m) for m in piece.meter.tolist()])
    keys = np.stack([n["track"], n["program"], n["drum"]], 1)
    for track, program, drum in np.unique(keys, axis=0).tolist():
        i = np.flatnonzero((keys == [track, program, drum]).all(1))
        tr = symusic.Track(name="", program=int(program), is_drum=bool(drum))
        tr.notes = symusic.Note.from_numpy(n["start"][i].astype(np.int32), (n["end"] - n["start"])[i].astype(np.int32),
                                           n["pitch"][i].astype(np.int8), n["velocity"][i].astype(np.int8))
        score.tracks.append(tr)
    return write_atomic(path, lambda tmp: score.dump_midi(str(tmp)), overwrite)
