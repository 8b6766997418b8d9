"""The 48 order-free statistics of a file's notes that the baseline
(:class:`genre_lib.verdicts.BaselineVerdict`) and the plausibility measure
(:mod:`genre_lib.plausibility`) read: tempo and density, loudness, instrument families,
drum sounds and a key-free pitch-class profile."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .general_midi import DRUM_SOUNDS, FAMILIES, drum_sound, program_family
from .midi_io import DRUM, DURATION, PITCH, PROGRAM, STEP, VELOCITY, onsets


def note_statistics(table: np.ndarray) -> np.ndarray:
    """The 48 statistics of one note table ``(notes, features)``: 13 basic ones (notes
    per second, drum share, pitch mean and std, log step and duration means and stds,
    velocity mean and std, share of simultaneous onsets, distinct programs, notes), the
    share of notes of each program family and drum sound, and the pitch-class shares
    of the pitched notes sorted largest first (key-free). ``log`` is ``log1p`` of seconds."""
    t = np.asarray(table, dtype=np.float64)
    n = len(t)
    drum = t[:, DRUM] >= 0.5
    pitched = ~drum
    seconds = float((onsets(t) + t[:, DURATION]).max()) if n else 0.0
    pitch = t[pitched, PITCH]
    log_step, log_dur = np.log1p(np.maximum(t[:, STEP], 0)), np.log1p(np.maximum(t[:, DURATION], 0))
    basic = [
        n / seconds if seconds > 0 else 0.0,
        drum.mean(),
        pitch.mean() if len(pitch) else 0.0,
        pitch.std() if len(pitch) else 0.0,
        log_step.mean(), log_step.std(), log_dur.mean(), log_dur.std(),
        t[:, VELOCITY].mean(), t[:, VELOCITY].std(),
        (t[1:, STEP] == 0).mean() if n > 1 else 0.0,
        len(np.unique(t[pitched, PROGRAM])),
        n,
    ]
    families = np.bincount(program_family(t[pitched, PROGRAM]), minlength=len(FAMILIES)) / n
    sounds = drum_sound(t[drum, PITCH])
    drums = np.bincount(sounds[sounds >= 0], minlength=len(DRUM_SOUNDS)) / n
    classes = np.bincount(np.rint(pitch).astype(np.int64) % 12, minlength=12).astype(np.float64)
    classes = np.sort(classes / max(len(pitch), 1))[::-1]
    return np.concatenate([basic, families, drums, classes])


def statistics(tables: Sequence[np.ndarray]) -> np.ndarray:
    """:func:`note_statistics` of each table, ``(files, 48)``."""
    return np.array([note_statistics(t) for t in tables]).reshape(len(tables), -1)
