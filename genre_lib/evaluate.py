"""Scoring a run on a labelled data folder: the labels put in the run's genre order, and
the report ``genre-lib evaluate`` prints.

Who judges is :mod:`genre_lib.verdicts`, how a file is judged :mod:`genre_lib.protocols`,
the figures :mod:`genre_lib.metrics`; this module puts them together for one run and
one folder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from .metrics import misclassified
from .protocols import check_protocol
from .verdicts import score

if TYPE_CHECKING:
    from .dataset import Dataset
    from .runs import Run


class GenreMismatchError(ValueError):
    """A data folder holds genres the model was not trained on."""


def align_labels(data: "Dataset", model_genres: Sequence[str]) -> np.ndarray:
    """The dataset's labels re-indexed into the model's genre order.

    Raises:
        GenreMismatchError: the folder has a genre the model does not know.
    """
    model_genres = [g.lower() for g in model_genres]
    unknown = [g for g in data.genres if g.lower() not in model_genres]
    if unknown:
        raise GenreMismatchError(
            f"{data.root}: genre folder(s) {unknown} unknown to the model, which was trained on "
            f"{model_genres}; choose genres it knows"
        )
    order = np.array([model_genres.index(g.lower()) for g in data.genres], dtype=np.int64)
    return order[data.y]


def evaluate_run(run: "Run", data: "Dataset", protocol: str = "file", file_windows: int | None = None,
                 extra: Sequence = ()) -> dict:
    """Every verdict of ``run`` (:meth:`genre_lib.runs.Run.verdicts`) on every file of
    ``data`` under both protocols, as one JSON-able report.

    The RNN's figures come first and at the top level (``accuracy``, ``loss``, ``n``,
    ``per_genre``, ``confusion`` under ``protocol``; both protocols under ``protocols``),
    then ``misclassified`` (the RNN's, under ``protocol``) and ``skipped`` (files that
    could not be read, with the reason). The run's baseline and the RNN + baseline
    combined are under ``baseline`` and ``combined``, each ``{"accuracy", "protocols"}``;
    a run without a usable baseline has ``baseline_problem`` instead. ``extra`` verdicts
    (e.g. the audio judge, :func:`genre_lib.ear.todays_verdict`) are reported the same way.

    Raises:
        GenreMismatchError: ``data`` holds a genre the run does not know.
        ValueError: an unknown protocol.
    """
    check_protocol(protocol)
    y = align_labels(data, run.genres)
    verdicts = run.verdicts(file_windows)
    scores = score([*verdicts, *extra], data.tables(), y, run.genres)
    rnn = scores.metrics["rnn"]
    rnn["file"]["windows"] = verdicts[0].file_windows
    report = {**rnn[protocol], "protocol": protocol, "protocols": rnn}
    report["misclassified"] = misclassified(scores.probabilities["rnn"][protocol], y, data.paths, run.genres)
    report["skipped"] = [{"path": s.path, "reason": s.reason} for s in data.skipped]
    for v in [*verdicts[1:], *extra]:
        report[v.name] = {"accuracy": scores.metrics[v.name][protocol]["accuracy"], "protocols": scores.metrics[v.name]}
    if len(verdicts) == 1:
        report["baseline_problem"] = run.baseline_problem
    return report

