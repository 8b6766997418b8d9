"""Seeded train / validation / test splits: :func:`stratified_split` (random files,
each genre's share kept) and :func:`group_split` (no artist or sequencer on two sides,
:func:`genre_lib.dataset.group_of`; files of one sequencer share habits, so a random
split overstates accuracy on new sources).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, train_test_split


class Split(NamedTuple):
    """Positions of the files on each side of a split."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def stratified_split(y: np.ndarray, test_size: float = 0.2, val_size: float = 0.1, seed: int = 0) -> Split:
    """Seeded random split of files with genres ``y``, each genre's share kept on every side
    (``test_size``, ``val_size``: fractions of all files).
    """
    index = np.arange(len(y))
    rest, test = train_test_split(index, test_size=test_size, stratify=y, random_state=seed)
    train, val = train_test_split(
        rest, test_size=val_size / (1 - test_size), stratify=y[rest], random_state=seed + 1
    )
    return Split(np.sort(train), np.sort(val), np.sort(test))


def _hold_out_groups(index: np.ndarray, y: np.ndarray, groups: np.ndarray, fraction: float, seed: int):
    n_splits = max(2, round(1 / fraction))
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    keep, out = next(folds.split(index, y[index], groups[index]))
    return index[keep], index[out]


def group_split(y: np.ndarray, groups: list[str] | np.ndarray, test_size: float = 0.2, val_size: float = 0.1,
                seed: int = 0) -> Split:
    """Seeded split with no group (artist or sequencer, :func:`genre_lib.dataset.group_of`)
    on two sides, genres balanced as well as the groups allow; ``test_size`` and
    ``val_size`` are approximate (whole groups move).
    """
    y = np.asarray(y)
    groups = np.asarray(groups)
    index = np.arange(len(y))
    rest, test = _hold_out_groups(index, y, groups, test_size, seed)
    train, val = _hold_out_groups(rest, y, groups, val_size / (1 - test_size), seed + 1)
    return Split(np.sort(train), np.sort(val), np.sort(test))


def group_folds(y: np.ndarray, groups: list[str] | np.ndarray, n_folds: int = 5, val_size: float = 0.1, seed: int = 0) -> list[Split]:
    """Group ``n_folds``-fold cross-validation of files with genres ``y`` and ``groups``:
    every file a test file once, no group on two sides of a fold, each fold's validation
    part (about ``val_size`` of the files) held out by group from its training part.
    """
    y = np.asarray(y)
    groups = np.asarray(groups)
    folds = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    out = []
    for k, (rest, test) in enumerate(folds.split(np.zeros(len(y)), y, groups)):
        train, val = _hold_out_groups(rest, y, groups, val_size / (1 - 1 / n_folds), seed + 1 + k)
        out.append(Split(np.sort(train), np.sort(val), np.sort(test)))
    return out


def make_split(kind: str, y: np.ndarray, groups, test_size: float = 0.2, val_size: float = 0.1, seed: int = 0) -> Split:
    """Dispatch on ``kind`` (``"group"`` or ``"stratified"``); see the two functions."""
    if kind == "group":
        return group_split(y, groups, test_size, val_size, seed)
    if kind == "stratified":
        return stratified_split(y, test_size, val_size, seed)
    raise ValueError(f"unknown split kind {kind!r}: use 'group' or 'stratified'")
