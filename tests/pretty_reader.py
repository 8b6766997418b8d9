"""The reference MIDI reader of the tests: pretty_midi, slower than the symusic reader
genre_lib uses, and written independently of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np  # noqa: F401

from genre_lib.midi_io import MidiError, notes_from_events


def read_midi_pretty(path: str | Path) -> np.ndarray:
    """Read a MIDI file with pretty_midi (slower reference reader used by the tests).

    Raises:
        MidiError: pretty_midi cannot parse the file, or it has no notes.
    """
    import warnings

    import pretty_midi

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tempo events on non-zero tracks are common
            pm = pretty_midi.PrettyMIDI(str(path))
    except Exception as exc:
        raise MidiError(path, f"unreadable MIDI: {exc}") from None
    notes = [(n, inst) for inst in pm.instruments for n in inst.notes]
    if not notes:
        raise MidiError(path, "no notes")
    table = notes_from_events(
        [n.start for n, _ in notes],
        [n.end for n, _ in notes],
        [n.pitch for n, _ in notes],
        [n.velocity for n, _ in notes],
        [float(i.is_drum) for _, i in notes],
        [i.program for _, i in notes],
    )
    if len(table) == 0:
        raise MidiError(path, "no notes")
    return table
