"""The figures of a classification, in pure numpy: accuracy, loss, per-genre recall and
precision, confusion, the misclassified files, mean ± sd over folds, pair accuracies,
bootstrap intervals over files and McNemar's test between two judges.

Everything here takes probabilities ``(files, genres)`` or per-file values and knows
nothing of models, protocols or folders, so the RNN, the baseline, their combination,
a cross-validation and a probe are all scored by the same code.
"""

from __future__ import annotations

from math import comb
from typing import Callable, Sequence

import numpy as np

#: probabilities are clipped to this before a logarithm (the loss, a combination)
EPS = 1e-7


def classification_metrics(probs: np.ndarray, y: np.ndarray, genres: Sequence[str]) -> dict:
    """Accuracy, mean cross-entropy loss, per-genre ``n``/``precision``/``recall`` and
    the confusion matrix (rows: true genre, columns: predicted), as a JSON-able dict.

    Args:
        probs: predicted probabilities ``(files, genres)``.
        y: true genre indices into ``genres``.
        genres: genre names, in the model's order.
    """
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    k = len(genres)
    pred = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], EPS, 1.0)))) if len(y) else float("nan")
    per_genre = {}
    for g, name in enumerate(genres):
        predicted, true = confusion[:, g].sum(), confusion[g].sum()
        per_genre[str(name)] = {
            "n": int(true),
            "precision": float(confusion[g, g] / predicted) if predicted else float("nan"),
            "recall": float(confusion[g, g] / true) if true else float("nan"),
        }
    return {
        "accuracy": float((pred == y).mean()) if len(y) else float("nan"),
        "loss": loss,
        "n": int(len(y)),
        "genres": [str(g) for g in genres],
        "per_genre": per_genre,
        "confusion": confusion.tolist(),
    }


def misclassified(probs: np.ndarray, y: np.ndarray, paths: Sequence[str], genres: Sequence[str],
                  groups: Sequence[str] | None = None) -> list[dict]:
    """The wrongly classified files, surest mistakes first: path, group (artist or
    sequencer; :func:`genre_lib.dataset.group_of` of the path unless ``groups`` is
    given), true and predicted genre, the probability given to the prediction and the
    probability of every genre."""
    from .dataset import group_of

    probs = np.asarray(probs)
    y = np.asarray(y)
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y)
    wrong = wrong[np.argsort(-probs[wrong, pred[wrong]], kind="stable")]
    return [
        {"path": str(paths[i]), "group": groups[i] if groups is not None else group_of(paths[i]),
         "true": str(genres[y[i]]), "predicted": str(genres[pred[i]]), "p_predicted": round(float(probs[i, pred[i]]), 4),
         "probabilities": {str(g): round(float(probs[i, j]), 4) for j, g in enumerate(genres)}}
        for i in wrong
    ]


def mean_sd(values: Sequence[float]) -> dict[str, float]:
    """``{"mean", "sd"}`` of a few values (folds, seeds): the sample standard deviation
    (``ddof=1``), 0 for a single value."""
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0}


def pair_accuracy(probs: np.ndarray, y: np.ndarray, genres: Sequence[str]) -> list[dict]:
    """How well each pair of genres is told apart: for the files of two genres, the
    share whose own genre gets the higher probability of the two (the other genres'
    probabilities ignored), and how many files of the pair's first genre the full
    decision gave to its second and the other way round. One dict per pair
    (``"jazz / rock"``: first / second), in genre order."""
    probs, y = np.asarray(probs, dtype=float), np.asarray(y)
    predicted = probs.argmax(1)
    rows = []
    for a in range(len(genres)):
        for b in range(a + 1, len(genres)):
            mask = (y == a) | (y == b)
            pair = probs[mask][:, [a, b]]
            right = np.where(y[mask] == a, pair[:, 0] > pair[:, 1], pair[:, 1] > pair[:, 0])
            rows.append({"pair": f"{genres[a]} / {genres[b]}", "files": int(mask.sum()),
                         "pair accuracy": float(right.mean()) if mask.any() else float("nan"),
                         "first called second": int(((y == a) & (predicted == b)).sum()),
                         "second called first": int(((y == b) & (predicted == a)).sum())})
    return rows


def bootstrap_interval(values: np.ndarray, statistic: Callable[[np.ndarray], float] = np.mean,
                       n: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """A percentile bootstrap interval of ``statistic`` over the rows of ``values``
    (one row per file: resampling files, the unit the claims are about).

    For a paired comparison of two judges on the same files, pass the per-file
    differences (``a - b``): the interval of their mean is the paired interval.
    """
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(v[rng.integers(0, len(v), len(v))]) for _ in range(n)])
    alpha = (1 - level) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    return float(low), float(high)


def mcnemar(right_a: np.ndarray, right_b: np.ndarray) -> dict:
    """McNemar's exact test of two judges on the same files: ``a_only`` (files only
    ``a`` gets right), ``b_only`` and the two-sided binomial p-value that the two are
    equally often right where they disagree. A tie (no disagreement) gives p = 1."""
    a, b = np.asarray(right_a, dtype=bool), np.asarray(right_b, dtype=bool)
    a_only, b_only = int((a & ~b).sum()), int((b & ~a).sum())
    n, low = a_only + b_only, min(a_only, b_only)
    p = min(1.0, 2 * sum(comb(n, i) for i in range(low + 1)) / 2**n) if n else 1.0
    return {"a_only": a_only, "b_only": b_only, "p": float(p)}


def shared_mistakes(predicted_a: np.ndarray, predicted_b: np.ndarray, y: np.ndarray, n: int = 2000,
                    seed: int = 0) -> dict:
    """How far two judges fail on the same files, against the chance level that keeps
    each judge's error rate per true genre: the files both would get wrong if their
    mistakes were independent given the genre (for each genre, its files times the two
    error rates).

    Args:
        predicted_a, predicted_b: each file's predicted genre index by the two judges.
        y: each file's true genre index.
        n, seed: bootstrap draws over files and their seed, for the interval of the ratio.

    Returns:
        ``files``; ``a_wrong``, ``b_wrong``; ``both_wrong`` and ``same_wrong_genre`` (of
        those, the files both give the same wrong genre); ``expected_both_wrong`` under
        independence; ``ratio`` = both_wrong / expected, with ``low`` and ``high`` its 95 %
        percentile bootstrap interval over files (:func:`bootstrap_interval`).
    """
    pa, pb, y = (np.asarray(v, dtype=int) for v in (predicted_a, predicted_b, y))
    wrong_a, wrong_b = pa != y, pb != y
    rows = np.stack([wrong_a, wrong_b, y], axis=1).astype(float)  # one row per file, for the bootstrap

    def counts(r: np.ndarray) -> tuple[float, float]:
        wa, wb, g = r[:, 0] > 0, r[:, 1] > 0, r[:, 2]
        expected = sum(wa[g == k].mean() * wb[g == k].mean() * (g == k).sum() for k in np.unique(g))
        return float((wa & wb).sum()), float(expected)

    def ratio(r: np.ndarray) -> float:
        both, expected = counts(r)
        return both / expected if expected > 0 else float("nan")

    both, expected = counts(rows)
    low, high = bootstrap_interval(rows, ratio, n=n, seed=seed)
    return {"files": len(y), "a_wrong": int(wrong_a.sum()), "b_wrong": int(wrong_b.sum()),
            "both_wrong": int(both), "same_wrong_genre": int((wrong_a & wrong_b & (pa == pb)).sum()),
            "expected_both_wrong": expected, "ratio": ratio(rows), "low": low, "high": high}
