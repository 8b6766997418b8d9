"""Scoring a trained model: probabilities, accuracy, loss, per-genre metrics, confusion.

Pure numpy on top of the model's logits (:mod:`genre_lib.inference`), so the same
metrics serve the neural model and the baseline (:mod:`genre_lib.baseline`).

Two protocols judge a file, and both are always reported:

* ``first100``, the study's: one prediction from the file's first 100 notes;
* ``file``: ``k`` evenly spaced 100-note windows of the file
  (:func:`genre_lib.windows.even_windows`) vote: their logits are averaged before the
  softmax, so the probabilities are the normalised geometric mean of the windows' (a
  window's log-probabilities differ from its logits by one number per window), and one
  confident window cannot outvote the rest.

Under either protocol the RNN's verdict can be combined with the baseline's
(:mod:`genre_lib.baseline`) by the same rule: :func:`combine_proba` averages their
log-probabilities. The two read a file differently (notes in order against statistics
of all of them) and make different mistakes, so together they are right more often
than either (the README and notebook 03 give the figures).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from .dataset import Dataset
from .inference import logits, n_notes, predict_proba, softmax
from .windows import even_windows

if TYPE_CHECKING:
    import keras

    from .runs import Run


#: the two ways of judging a file (see the module docstring)
PROTOCOLS: tuple[str, ...] = ("first100", "file")

#: the verdicts a run gives (:func:`verdict_proba`): its RNN, its baseline, the two combined
VERDICTS: tuple[str, ...] = ("rnn", "baseline", "combined")

#: windows per file of the ``file`` protocol (notebook 03 and the README show how the
#: accuracy grows with it and where it levels off)
FILE_WINDOWS = 16


class GenreMismatchError(ValueError):
    """A data folder holds genres the model was not trained on."""


def protocol_proba(model: "keras.Model", tables: Sequence[np.ndarray], protocol: str, k: int = FILE_WINDOWS) -> np.ndarray:
    """Genre probabilities ``(files, genres)`` of whole note tables (one per file) under
    ``protocol`` (``"first100"`` or ``"file"``, see the module docstring).

    Args:
        model: a classifier of windows of ``model.inputs[0].shape[1]`` notes.
        tables: each file's whole note table (:meth:`genre_lib.dataset.Dataset.tables`).
        protocol: how a file is judged.
        k: windows per file of the ``file`` protocol.

    Raises:
        ValueError: an unknown protocol, or a table shorter than one window.
    """
    if protocol == "first100":
        windows, _ = even_windows(tables, 1, n_notes(model))
        return predict_proba(model, windows)
    if protocol == "file":
        windows, _ = even_windows(tables, k, n_notes(model))
        z = logits(model, windows)
        return softmax(z.reshape(len(tables), k, -1).mean(axis=1))
    raise ValueError(f"unknown protocol {protocol!r}: use one of {PROTOCOLS}")


def verdict_proba(run: "Run", tables: Sequence[np.ndarray], protocol: str, who: str = "rnn",
                  k: int | None = None) -> np.ndarray:
    """Genre probabilities ``(files, genres)`` of whole note tables under ``protocol``
    by one of a run's :data:`VERDICTS`: ``"rnn"`` (:func:`protocol_proba`),
    ``"baseline"`` (the run's baseline, :func:`genre_lib.baseline.baseline_proba`) or
    ``"combined"`` (:func:`combine_proba` of the two).

    Args:
        run: a loaded run folder (:func:`genre_lib.runs.load_run`).
        tables: each file's whole note table.
        protocol: ``"first100"`` or ``"file"``.
        who: the verdict.
        k: windows per file of the ``file`` protocol (default: the run's).

    Raises:
        ValueError: an unknown verdict, or a baseline verdict of a run without a
            usable baseline (the message says why).
    """
    from .baseline import baseline_proba

    if who not in VERDICTS:
        raise ValueError(f"unknown verdict {who!r}: use one of {VERDICTS}")
    k = k or int(run.meta["file_windows"])
    if who == "rnn":
        return protocol_proba(run.model, tables, protocol, k)
    if run.baselines is None:
        raise ValueError(f"no {who} verdict: {run.baseline_problem}")
    base = baseline_proba(run.baselines, tables, protocol, run.max_notes)
    return base if who == "baseline" else combine_proba(protocol_proba(run.model, tables, protocol, k), base)


def combine_proba(*probs: np.ndarray) -> np.ndarray:
    """The combined verdict of several models' probabilities ``(files, genres)`` each:
    the mean of their log-probabilities, normalised again (a normalised geometric
    mean), the rule the ``file`` protocol's windows vote by. A model that is sure
    cannot be outvoted by one that hesitates unless the hesitating one leans the other
    way."""
    if not probs:
        raise ValueError("combine_proba needs at least one array of probabilities")
    logs = [np.log(np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1.0)) for p in probs]
    if len({l.shape for l in logs}) != 1:
        raise ValueError(f"probabilities of different shapes: {[l.shape for l in logs]}")
    return softmax(np.mean(logs, axis=0))


def combined_metrics(rnn_probs: dict, baseline_probs: dict, y: np.ndarray,
                     genres: tuple[str, ...] | list[str]) -> dict[str, dict]:
    """:func:`classification_metrics` of the combined verdict (:func:`combine_proba`)
    under each protocol, from the RNN's and the baseline's probabilities keyed by
    protocol (as :func:`genre_lib.train.score_protocols` and
    :func:`genre_lib.baseline.baseline_scores` return them)."""
    return {p: classification_metrics(combine_proba(rnn_probs[p], baseline_probs[p]), y, genres) for p in PROTOCOLS}


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
    """The wrongly classified files, surest mistakes first: path, group (artist or
    sequencer, :func:`genre_lib.dataset.group_of`), true and predicted genre, the
    probability given to the prediction and the probability of every genre."""
    from .dataset import group_of

    probs = np.asarray(probs)
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != np.asarray(y))
    wrong = wrong[np.argsort(-probs[wrong, pred[wrong]], kind="stable")]
    return [
        {"path": str(paths[i]), "group": group_of(paths[i]), "true": str(genres[y[i]]),
         "predicted": str(genres[pred[i]]), "p_predicted": round(float(probs[i, pred[i]]), 4),
         "probabilities": {str(g): round(float(probs[i, j]), 4) for j, g in enumerate(genres)}}
        for i in wrong
    ]
