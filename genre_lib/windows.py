"""Cutting a note table into windows of ``length`` consecutive notes, each with its
first step set to 0 (so a window looks like a file's beginning): :func:`random_starts`
for training, :func:`even_starts` for the ``k`` windows a file is judged by; and
:func:`onto_table`, putting per-window maps back onto the table.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .midi_io import FEATURES, STEP


def even_starts(n_notes: int, k: int, length: int = 100) -> np.ndarray:
    """Starts of ``k`` windows of ``length`` notes spread evenly over ``n_notes`` notes, the
    first at 0, the last ending at the last note (short tables repeat starts).

    Raises:
        ValueError: ``n_notes < length`` or ``k < 1``.
    """
    _check(n_notes, k, length)
    return np.rint(np.linspace(0, n_notes - length, k)).astype(np.int64)


def random_starts(n_notes: int, k: int, rng: np.random.Generator, length: int = 100) -> np.ndarray:
    """Start positions of ``k`` training windows: 0 first, then ``k - 1`` drawn
    uniformly from ``0 .. n_notes - length`` with ``rng``.

    Raises:
        ValueError: ``n_notes < length`` or ``k < 1``.
    """
    _check(n_notes, k, length)
    return np.concatenate([[0], rng.integers(0, n_notes - length + 1, size=k - 1)]).astype(np.int64)


def cut_windows(table: np.ndarray, starts: np.ndarray, length: int = 100) -> np.ndarray:
    """The windows of ``table`` that begin at ``starts``: float32 ``(len(starts), length,
    features)``, each with its first step set to 0."""
    starts = np.asarray(starts, dtype=np.int64)
    if len(starts) and (starts.min() < 0 or starts.max() + length > len(table)):
        raise ValueError(f"window starts {starts.min()}..{starts.max()} do not fit a table of {len(table)} notes")
    index = starts[:, None] + np.arange(length)[None, :]
    windows = np.asarray(table, dtype=np.float32)[index]
    windows[:, 0, STEP] = 0.0
    return windows


def onto_table(per_window: np.ndarray, starts: np.ndarray, n_notes: int) -> np.ndarray:
    """Per-window maps ``(windows, length, columns)`` added back, in float64, onto the
    notes of a table of ``n_notes`` notes they were cut from at ``starts`` (overlaps add
    up, notes no window reads get 0). A window's first step is the window's own 0, not
    the table's entry, so it gets nothing."""
    maps = np.array(per_window, dtype=np.float64)
    if maps.shape[-1] == len(FEATURES):
        maps[:, 0, STEP] = 0.0
    out = np.zeros((n_notes, maps.shape[-1]))
    np.add.at(out, np.asarray(starts)[:, None] + np.arange(maps.shape[1])[None, :], maps)
    return out


def even_windows(tables: list[np.ndarray], k: int, length: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """``k`` evenly spaced windows of each table: ``(windows, owner)`` (:func:`windows_of`)."""
    return windows_of(tables, lambda n: even_starts(n, k, length), length)


def random_windows(tables: list[np.ndarray], k: int, rng: np.random.Generator, length: int = 100
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``k`` training windows of each table (:func:`random_starts`), as :func:`windows_of`."""
    return windows_of(tables, lambda n: random_starts(n, k, rng, length), length)


def windows_of(tables: list[np.ndarray], starts_of: Callable[[int], np.ndarray], length: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """The windows of each table starting at ``starts_of(len(table))``: ``(windows
    (total, length, features), table by table; the position in ``tables`` of each
    window's table)``."""
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
