"""How big a change to a note table is (:data:`SCALES`, :func:`change_size`) and what it
is in words (:func:`describe_changes`): the measure of a genre flip.
"""

from __future__ import annotations

import numpy as np

from .midi_io import DURATION, FEATURES, NoteTableError, onsets

#: Size of one "unit" of change per feature, so semitones and seconds are comparable:
#: a semitone, a 1/16 note at 120 bpm, 8 velocity steps (about half a dynamic level),
#: the drum flag itself, and one General MIDI family of 8 programs.
SCALES: dict[str, float] = {
    "pitch": 1.0,
    "step": 0.125,
    "duration": 0.125,
    "velocity": 8.0,
    "drum": 1.0,
    "program": 8.0,
}


#: A difference below this many scaled units (:data:`SCALES`) is float32 storage noise,
#: not a change: the one rule for what counts as a changed value or note.
NOISE = 1e-6


def scale_vector() -> np.ndarray:
    """:data:`SCALES` as a vector in the order of the note-table columns."""
    return np.array([SCALES[f] for f in FEATURES], dtype=np.float64)


def _scaled_diff(original: np.ndarray, modified: np.ndarray) -> np.ndarray:
    # float32 storage noise set to 0
    diff = (np.asarray(modified, np.float64) - np.asarray(original, np.float64)) / scale_vector()
    diff[np.abs(diff) < NOISE] = 0.0
    return diff


def change_size(original: np.ndarray, modified: np.ndarray) -> dict:
    """The size of the change from ``original`` to ``modified`` in scaled units
    (:data:`SCALES`): ``l1``, ``l2`` (Euclidean, not squared), ``notes_changed`` and
    ``units`` (a reminder of the scales).
    """
    diff = _scaled_diff(original, modified)
    return {
        "l1": float(np.abs(diff).sum()),
        "l2": float(np.sqrt((diff**2).sum())),
        "notes_changed": len(changed_notes(original, modified)),
        "units": "scaled: " + ", ".join(f"{f}/{s:g}" for f, s in SCALES.items()),
    }


def change_by_feature(original: np.ndarray, modified: np.ndarray) -> np.ndarray:
    """|change / scale| summed over the notes, one value per feature in the order of
    :data:`~genre_lib.midi_io.FEATURES` (scaled units, :data:`SCALES`): which features a
    change moved, comparable across features. The values add up to :func:`change_size`'s ``l1``."""
    return np.abs(_scaled_diff(original, modified)).sum(axis=0)


def changed_mask(original: np.ndarray, modified: np.ndarray) -> np.ndarray:
    """Which notes have at least one feature changed by :data:`NOISE` scaled units or
    more: ``(..., notes)`` booleans for tables ``(..., notes, features)`` (a stack of
    modified tables is compared with one original by broadcasting)."""
    return (_scaled_diff(original, modified) != 0).any(axis=-1)


def changed_notes(original: np.ndarray, modified: np.ndarray) -> np.ndarray:
    """Row indices of the notes with at least one feature changed (as :func:`change_size`
    counts them, :func:`changed_mask`)."""
    return np.flatnonzero(changed_mask(original, modified))


def seconds_touched(original: np.ndarray, modified: np.ndarray) -> float:
    """Seconds of ``modified`` during which at least one changed note sounds: the length
    of the union of the changed notes' intervals from onset to note-off. Notes that
    only moved because an earlier step changed are not counted: the change of length
    that brings is the difference of the tables' lengths."""
    rows = changed_notes(original, modified)
    if not len(rows):
        return 0.0
    t = np.asarray(modified, np.float64)
    start = onsets(t)[rows]
    end = start + t[rows, DURATION]
    order = np.argsort(start)
    start, end = start[order], np.maximum.accumulate(end[order])
    # a new stretch begins where a note starts after every earlier changed note has ended
    new = np.r_[True, start[1:] > end[:-1]]
    first, last = np.flatnonzero(new), np.r_[np.flatnonzero(new)[1:] - 1, len(start) - 1]
    return float((end[last] - start[first]).sum())


def _describe_one(feature: str, before: float, after: float) -> str:
    # said as a musician would hear the change, the columns' values after it
    d = after - before
    if feature == "pitch":
        return f"{abs(d):.0f} semitone{'s' if abs(d) != 1 else ''} {'higher' if d > 0 else 'lower'} ({before:.0f} -> {after:.0f})"
    if feature == "velocity":
        return f"struck {'harder' if d > 0 else 'softer'} by {abs(d):.0f} ({before:.0f} -> {after:.0f})"
    if feature in ("step", "duration"):
        what = (("starts", "later", "sooner") if feature == "step" else ("held", "longer", "shorter"))
        return (f"{what[0]} {abs(d) * 1000:.0f} ms {what[1] if d > 0 else what[2]} "
                f"({feature} {before:.3f} s -> {after:.3f} s)")
    if feature == "drum":
        return "moved to the drum track" if after >= 0.5 else "moved off the drum track"
    import pretty_midi

    return f"played by {pretty_midi.program_to_instrument_name(int(after))} (program {before:.0f} -> {after:.0f})"


def describe_changes(original: np.ndarray, modified: np.ndarray) -> list[dict]:
    """Every (note, feature) that differs between two tables of the same notes, in note
    order: ``note``, ``feature``, ``before``, ``after``, ``delta`` and ``text`` (e.g.
    ``"pitch +3 semitones (60 -> 63)"``).

    Raises:
        NoteTableError: the tables differ in shape.
    """
    a = np.asarray(original, dtype=np.float64)
    b = np.asarray(modified, dtype=np.float64)
    if a.shape != b.shape:
        raise NoteTableError(f"tables differ in shape: {a.shape} vs {b.shape}")
    return [
        {
            "note": int(i),
            "feature": FEATURES[k],
            "before": float(np.float32(a[i, k])),
            "after": float(np.float32(b[i, k])),
            "delta": float(np.float32(b[i, k] - a[i, k])),
            "text": _describe_one(FEATURES[k], float(a[i, k]), float(b[i, k])),
        }
        for i, k in zip(*np.nonzero(_scaled_diff(a, b)))
    ]
