"""Cutting a file's note table into fixed-length windows.

The study fed a model each file's first 100 notes. A file of the real collection has
thousands of notes (notebook 01 prints how many), so the first 100 are a few seconds
of its intro. A *window* is any run of ``length`` consecutive notes; cutting many windows
from every file gives a model far more (and more varied) sequences to learn from, and
lets a file be judged by all of its music instead of its opening.

Every window is a note table of its own: its first note's ``step`` is set to 0, as in a
file's first note, so the model cannot tell a window from a file's beginning by the
step it starts with. The first window (start 0) is exactly the study's input.

Two ways to place windows, both pure functions of their arguments:

* :func:`random_starts` for training: window 0 is the file's beginning, the others
  start at seeded random positions;
* :func:`even_starts` for judging a file: ``k`` windows spread evenly from the first
  note to the last full window.
"""

from __future__ import annotations

import numpy as np

from .midi_io import STEP


def even_starts(n_notes: int, k: int, length: int = 100) -> np.ndarray:
    """Start positions of ``k`` windows of ``length`` notes spread evenly over a table of
    ``n_notes`` notes: the first at 0, the last ending at the last note. Short tables
    repeat starts (a table of exactly ``length`` notes has only the start 0).

    Raises:
        ValueError: ``n_notes < length`` (such files are dropped, as in the study) or ``k < 1``.
    """
    _check(n_notes, k, length)
    return np.rint(np.linspace(0, n_notes - length, k)).astype(np.int64)


def random_starts(n_notes: int, k: int, rng: np.random.Generator, length: int = 100) -> np.ndarray:
    """Start positions of ``k`` windows for training: 0 (the study's input) first, then
    ``k - 1`` positions drawn uniformly from ``0 .. n_notes - length`` with ``rng``.

    Raises:
        ValueError: ``n_notes < length`` or ``k < 1``.
    """
    _check(n_notes, k, length)
    return np.concatenate([[0], rng.integers(0, n_notes - length + 1, size=k - 1)]).astype(np.int64)


def cut_windows(table: np.ndarray, starts: np.ndarray, length: int = 100) -> np.ndarray:
    """The windows of ``table`` that begin at ``starts``: float32 ``(len(starts), length,
    features)``, each with its first step set to 0 (see the module docstring)."""
    starts = np.asarray(starts, dtype=np.int64)
    if len(starts) and (starts.min() < 0 or starts.max() + length > len(table)):
        raise ValueError(f"window starts {starts.min()}..{starts.max()} do not fit a table of {len(table)} notes")
    index = starts[:, None] + np.arange(length)[None, :]
    windows = np.asarray(table, dtype=np.float32)[index]
    windows[:, 0, STEP] = 0.0
    return windows


def even_windows(tables: list[np.ndarray], k: int, length: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """``k`` evenly spaced windows (:func:`even_starts`) of each note table of ``tables``.

    Returns:
        ``(W, owner)``: windows ``(len(tables) * k, length, features)``, table by table,
        and the position in ``tables`` of each window's table.
    """
    return _windows_of(tables, lambda n: even_starts(n, k, length), length)


def random_windows(tables: list[np.ndarray], k: int, rng: np.random.Generator, length: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """``k`` training windows (:func:`random_starts`, drawn with ``rng``) of each note
    table of ``tables``; returns ``(W, owner)`` as :func:`even_windows`."""
    return _windows_of(tables, lambda n: random_starts(n, k, rng, length), length)


def _windows_of(tables, starts_of, length: int) -> tuple[np.ndarray, np.ndarray]:
    parts, owner = [], []
    for i, table in enumerate(tables):
        starts = starts_of(len(table))
        parts.append(cut_windows(table, starts, length))
        owner.append(np.full(len(starts), i))
    if not parts:
        return np.zeros((0, length, 0), np.float32), np.zeros(0, dtype=int)
    return np.concatenate(parts), np.concatenate(owner)


def _check(n_notes: int, k: int, length: int) -> None:
    if n_notes < length:
        raise ValueError(f"a table of {n_notes} notes has no window of {length} notes")
    if k < 1:
        raise ValueError(f"need at least one window, not {k}")
