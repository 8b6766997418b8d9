"""The figures of a classification: accuracy, loss, per-genre recall and precision,
confusion, the misclassified files, mean ± sd over folds, pair accuracies, bootstrap
intervals over files and McNemar's test. Everything takes probabilities ``(files,
genres)`` or per-file values and knows nothing of models, protocols or folders.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

#: probabilities are clipped to this before a logarithm (the loss, a combination)
EPS = 1e-7


def classification_metrics(probs: np.ndarray, y: np.ndarray, genres: Sequence[str]) -> dict:
    """Accuracy, mean cross-entropy loss (probabilities clipped to :data:`EPS`), per-genre
    ``n``/``precision``/``recall`` (NaN where undefined) and the confusion matrix (rows:
    true genre, columns: predicted), as a JSON-able dict; ``probs`` is ``(files, genres)``
    and ``y`` indexes ``genres``."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    probs, y, k = np.asarray(probs, dtype=np.float64), np.asarray(y, dtype=np.int64), len(genres)
    pred = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
    labels = np.arange(k)
    confusion = confusion_matrix(y, pred, labels=labels) if len(y) else np.zeros((k, k), dtype=np.int64)
    precision, recall, _, n = precision_recall_fscore_support(y, pred, labels=labels, zero_division=np.nan) \
        if len(y) else (np.full(k, np.nan), np.full(k, np.nan), None, np.zeros(k, dtype=int))
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], EPS, 1.0)))) if len(y) else float("nan")
    return {
        "accuracy": float((pred == y).mean()) if len(y) else float("nan"),
        "loss": loss,
        "n": int(len(y)),
        "genres": [str(g) for g in genres],
        "per_genre": {str(name): {"n": int(n[g]), "precision": float(precision[g]), "recall": float(recall[g])}
                      for g, name in enumerate(genres)},
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
    """How well each pair of genres is told apart: per pair (``"jazz / rock"``), the share
    of its files whose own genre beats the other of the two, and how many of each the full
    decision gave to the other.
    """
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


def bootstrap_interval(values: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray] | None = None,
                       n: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """A percentile bootstrap interval over the rows of ``values`` (files), all ``n``
    resamples drawn at once; ``statistic`` maps the resamples ``(n, files, ...)`` to ``(n,)``
    (default: their means). Per-file differences of two judges give the paired interval.
    """
    v = np.asarray(values, dtype=float) if statistic is None else np.asarray(values)
    if len(v) == 0:
        return float("nan"), float("nan")
    resamples = v[np.random.default_rng(seed).integers(0, len(v), (n, len(v)))]
    draws = resamples.mean(axis=1) if statistic is None else statistic(resamples)
    alpha = (1 - level) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    return float(low), float(high)


def histogram_overlap(a: np.ndarray, b: np.ndarray, bins: int = 40) -> float:
    """The share two samples' histograms have in common, bin by bin (the same bins, each
    histogram summing to 1): 1 for identical histograms, 0 when no bin is shared."""
    edges = np.histogram_bin_edges(np.concatenate([a, b]), bins=bins)
    return float(np.minimum(np.histogram(a, edges)[0] / len(a), np.histogram(b, edges)[0] / len(b)).sum())


def mcnemar(right_a: np.ndarray, right_b: np.ndarray) -> dict:
    """McNemar's exact test of two judges on the same files: ``a_only`` (files only
    ``a`` gets right), ``b_only`` and the two-sided binomial p-value
    (``scipy.stats.binomtest``) that the two are equally often right where they
    disagree; p = 1 without disagreement."""
    from scipy.stats import binomtest

    a, b = np.asarray(right_a, dtype=bool), np.asarray(right_b, dtype=bool)
    a_only, b_only = int((a & ~b).sum()), int((b & ~a).sum())
    p = binomtest(a_only, a_only + b_only, 0.5).pvalue if a_only + b_only else 1.0
    return {"a_only": a_only, "b_only": b_only, "p": float(p)}


def shared_mistakes(predicted_a: np.ndarray, predicted_b: np.ndarray, y: np.ndarray, n: int = 2000,
                    seed: int = 0) -> dict:
    """How far two judges (their predicted genres) fail on the same files, against the
    files both would get wrong if their mistakes were independent given the true genre
    ``y``: ``a_wrong``, ``b_wrong``, ``both_wrong``, ``same_wrong_genre``,
    ``expected_both_wrong``, their ``ratio`` and its 95 % bootstrap interval (``n`` draws).
    """
    pa, pb, y = (np.asarray(v, dtype=int) for v in (predicted_a, predicted_b, y))
    wrong_a, wrong_b = pa != y, pb != y
    rows = np.stack([wrong_a, wrong_b, y], axis=1).astype(np.int8)  # one row per file, for the bootstrap
    genres = np.unique(y)

    def counts(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Files both get wrong and those expected by chance, of each of a stack of file sets."""
        wa, wb, g = r[..., 0] > 0, r[..., 1] > 0, r[..., 2]
        expected = np.zeros(r.shape[:-2])
        for k in genres:
            of = g == k
            n_k = of.sum(axis=-1)
            with np.errstate(invalid="ignore", divide="ignore"):
                term = (wa & of).sum(axis=-1) / n_k * ((wb & of).sum(axis=-1) / n_k) * n_k
            expected = expected + np.where(n_k > 0, term, 0.0)
        return (wa & wb).sum(axis=-1).astype(float), expected

    def ratio(r: np.ndarray) -> np.ndarray:
        both, expected = counts(r)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(expected > 0, both / expected, np.nan)

    both, expected = counts(rows)
    low, high = bootstrap_interval(rows, ratio, n=n, seed=seed)
    return {"files": len(y), "a_wrong": int(wrong_a.sum()), "b_wrong": int(wrong_b.sum()),
            "both_wrong": int(both), "same_wrong_genre": int((wrong_a & wrong_b & (pa == pb)).sum()),
            "expected_both_wrong": float(expected), "ratio": float(ratio(rows)), "low": low, "high": high}
