"""Scoring a trained model: probabilities, accuracy, loss, per-genre metrics, confusion.

Pure numpy on top of one call to the model (:func:`genre_lib.inference.predict_proba`),
so the same metrics serve the neural model and the baseline (:mod:`genre_lib.baseline`).
"""

from __future__ import annotations

import numpy as np

from .dataset import Dataset
from .inference import predict_proba  # noqa: F401  (where callers have always found it)


class GenreMismatchError(ValueError):
    """A data folder holds genres the model was not trained on."""


def classification_metrics(probs: np.ndarray, y: np.ndarray, genres: tuple[str, ...] | list[str]) -> dict:
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
    eps = 1e-7
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], eps, 1.0)))) if len(y) else float("nan")
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


def align_labels(data: Dataset, model_genres: tuple[str, ...] | list[str]) -> np.ndarray:
    """The dataset's labels re-indexed into the model's genre order.

    Raises:
        GenreMismatchError: the folder has a genre the model does not know.
    """
    model_genres = [g.lower() for g in model_genres]
    unknown = [g for g in data.genres if g.lower() not in model_genres]
    if unknown:
        raise GenreMismatchError(
            f"{data.root}: genre folder(s) {unknown} unknown to the model, which was trained on "
            f"{model_genres}; pass --genres to pick the genres it knows"
        )
    order = np.array([model_genres.index(g.lower()) for g in data.genres], dtype=np.int64)
    return order[data.y]


def misclassified(probs: np.ndarray, y: np.ndarray, paths: list[str], genres) -> list[dict]:
    """The wrongly classified files, surest mistakes first: path, true and predicted
    genre, and the probability given to the prediction."""
    probs = np.asarray(probs)
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != np.asarray(y))
    wrong = wrong[np.argsort(-probs[wrong, pred[wrong]], kind="stable")]
    return [
        {"path": str(paths[i]), "true": str(genres[y[i]]), "predicted": str(genres[pred[i]]),
         "p_predicted": round(float(probs[i, pred[i]]), 4)}
        for i in wrong
    ]
