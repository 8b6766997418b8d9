"""The non-neural baseline's parts: 48 statistics of a file's notes and the gradient
boosting that reads them (the judge itself is :class:`genre_lib.verdicts.BaselineVerdict`).

It sees the notes only as a bag of per-file summaries (no order): tempo and density,
loudness, how many instruments of which General MIDI family, which drum sounds, and a
key-free profile of the pitch classes. The gap between it and the recurrent model is
what the RNN adds, so it is made as strong as we can: scored under both protocols of
:mod:`genre_lib.protocols`, on the first 100 notes (``first100``) and on every note of
the file (``file``), each time trained on the same kind of statistics of the training
files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from .general_midi import DRUM_SOUNDS, FAMILIES, drum_sound, program_family
from .midi_io import DRUM, DURATION, PITCH, PROGRAM, STEP, VELOCITY, onsets
from .protocols import FIRST_N, notes_read

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingClassifier


_BASIC = (
    "notes per second", "drum share", "pitch mean", "pitch std", "log step mean", "log step std",
    "log duration mean", "log duration std", "velocity mean", "velocity std",
    "share of simultaneous onsets", "distinct programs", "notes",
)


def statistic_names() -> list[str]:
    """Names of the 48 columns :func:`note_statistics` returns, in order."""
    return (
        list(_BASIC)
        + [f"share of {f} notes" for f in FAMILIES]
        + [f"share of {d} hits" for d in DRUM_SOUNDS]
        + [f"pitch-class share, rank {r + 1}" for r in range(12)]
    )


def note_statistics(table: np.ndarray) -> np.ndarray:
    """The 48 statistics (:func:`statistic_names`) of one note table ``(notes, features)``.

    Shares are of all notes (family and drum-sound shares) or of the pitched notes
    (pitch classes, sorted largest first so that the profile does not depend on the key);
    ``log`` is ``log1p`` of seconds. A file without pitched notes gets zeros for the
    pitch statistics.
    """
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


def statistics(tables: Sequence[np.ndarray], protocol: str, first_n: int = FIRST_N) -> np.ndarray:
    """:func:`note_statistics` ``(files, 48)`` of whole note tables (one per file), of
    the notes ``protocol`` reads (:func:`genre_lib.protocols.notes_read`: the first
    ``first_n`` under ``first100``, all of them under ``file``)."""
    read = notes_read(tables, protocol, first_n)
    return np.array([note_statistics(t) for t in read]).reshape(len(read), -1)


def fit_baseline(S: np.ndarray, y: np.ndarray, seed: int = 0) -> "HistGradientBoostingClassifier":
    """A scikit-learn ``HistGradientBoostingClassifier`` with balanced class weights,
    fitted on statistics ``S`` ``(files, 48)`` (:func:`statistics`)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    clf = HistGradientBoostingClassifier(random_state=seed, class_weight="balanced")
    # one OpenMP thread: once TensorFlow has started its own thread pools in the same
    # process, scikit-learn's OpenMP threads spin against them and a fit takes 20x longer
    with threadpool_limits(1, user_api="openmp"):
        return clf.fit(np.asarray(S), np.asarray(y))


