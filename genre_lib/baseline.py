"""A non-neural baseline: gradient boosting on simple statistics of each file's notes.

It sees the same first 100 notes as the RNN, but only as a bag of per-file summaries
(no order), so the gap between the two is what the recurrent model adds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .midi_io import DRUM, FEATURES, PROGRAM

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingClassifier


_STATS = ("mean", "std", "p10", "p90")


def statistic_names() -> list[str]:
    """Names of the columns :func:`file_statistics` returns."""
    names = [f"{f} {s}" for f in FEATURES for s in _STATS]
    names += [f"share of program family {k}" for k in range(16)]
    names += ["distinct programs", "distinct velocities", "share of simultaneous onsets"]
    return names


def file_statistics(X: np.ndarray) -> np.ndarray:
    """Per-file summaries ``(files, k)`` of note tables ``X`` (files, notes, features):
    mean, std, 10th and 90th percentile of every feature, the share of pitched notes in
    each of General MIDI's 16 program families, and three counts (see
    :func:`statistic_names`)."""
    X = np.asarray(X, dtype=np.float64)
    cols = [X.mean(1), X.std(1), np.percentile(X, 10, axis=1), np.percentile(X, 90, axis=1)]
    per_feature = np.stack(cols, axis=2).reshape(len(X), -1)  # feature-major, like the names
    pitched = X[:, :, DRUM] < 0.5
    family = (X[:, :, PROGRAM] // 8).astype(int)
    families = np.stack([((family == k) & pitched).mean(1) for k in range(16)], axis=1)
    counts = np.stack([
        [len(np.unique(x[:, PROGRAM])) for x in X],
        [len(np.unique(x[:, FEATURES.index("velocity")])) for x in X],
        (X[:, :, FEATURES.index("step")] == 0).mean(1),
    ], axis=1)
    return np.concatenate([per_feature, families, counts], axis=1)


def fit_baseline(X: np.ndarray, y: np.ndarray, seed: int = 0) -> "HistGradientBoostingClassifier":
    """A scikit-learn ``HistGradientBoostingClassifier`` fitted on
    :func:`file_statistics` of ``X``, with balanced class weights."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    clf = HistGradientBoostingClassifier(random_state=seed, class_weight="balanced")
    return clf.fit(file_statistics(X), np.asarray(y))


def baseline_proba(clf: "HistGradientBoostingClassifier", X: np.ndarray) -> np.ndarray:
    """Genre probabilities ``(files, genres)`` of a fitted baseline."""
    return clf.predict_proba(file_statistics(X))
