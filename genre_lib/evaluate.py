"""Scoring a run on a labelled data folder: the labels put in the run's genre order, and
the report ``genre-lib evaluate`` prints."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .metrics import misclassified
from .protocols import PROTOCOLS, check_protocol
from .verdicts import judge, metric_blocks

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


def run_data(run: "Run", root: str | Path, progress: bool = False) -> tuple["Dataset", np.ndarray]:
    """The files of ``run``'s genres under ``root``, cut as the run reads them (its
    ``max_notes``), and their labels in the run's genre order (:func:`align_labels`)."""
    from .dataset import load_dataset

    data = load_dataset(root, list(run.genres), max_notes=run.max_notes, progress=progress)
    return data, align_labels(data, run.genres)


def evaluate_run(run: "Run", data: "Dataset", protocol: str = "file", file_windows: int | None = None,
                 extra: Sequence = ()) -> dict:
    """Every verdict of ``run`` on every file of ``data`` under both protocols, as one
    JSON-able report: the RNN's figures under ``protocol`` at the top level (every protocol
    under ``protocols``), its ``misclassified`` files, the ``skipped`` files, and
    ``baseline`` and ``combined`` (or ``baseline_problem``); ``extra`` verdicts (e.g. the
    audio judges of :func:`genre_lib.ear.load_ears`, one per protocol) the same way.

    Raises:
        GenreMismatchError: ``data`` holds a genre the run does not know.
        ValueError: an unknown protocol.
    """
    check_protocol(protocol)
    y = align_labels(data, run.genres)
    verdicts = [v for p in PROTOCOLS for v in run.verdicts(p, file_windows)] + list(extra)
    probs = judge(verdicts, data.tables())
    blocks = metric_blocks(probs, y, run.genres)
    rnn = blocks["rnn"]["protocols"]
    rnn["file"]["windows"] = int(file_windows or run.meta["file_windows"])
    report = {**rnn[protocol], "protocol": protocol, "protocols": rnn}
    report["misclassified"] = misclassified(probs[protocol]["rnn"], y, data.paths, run.genres)
    report["skipped"] = [{"path": s.path, "reason": s.reason} for s in data.skipped]
    for name, block in list(blocks.items())[1:]:
        report[name] = {"accuracy": block["protocols"][protocol]["accuracy"], "protocols": block["protocols"]}
    if "baseline" not in blocks:
        report["baseline_problem"] = run.baseline_problem
    return report
