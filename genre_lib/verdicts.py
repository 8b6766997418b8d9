"""Who judges a file: the RNN, the baseline, or the two combined, as objects.

Every judge is a *verdict*, the way scikit-learn treats anything that scores: it has a
``name``, the ``genres`` of its outputs, and one verb,
``predict_proba(tables, protocol) -> (files, genres)``, which reads whole note tables
(one per file, :meth:`genre_lib.dataset.Dataset.tables`) under a protocol of
:mod:`genre_lib.protocols`:

* :class:`RNNVerdict`: a Keras network on the protocol's windows, the windows voting;
* :class:`BaselineVerdict`: gradient boosting on 48 statistics of the notes the
  protocol reads (:mod:`genre_lib.baseline`), one fitted model per protocol;
* :class:`Combined`: several verdicts at once by the normalised geometric mean of their
  probabilities (:func:`combine_proba`), the rule the ``file`` protocol's windows vote by.

:func:`score` gives every verdict × protocol its metrics (:mod:`genre_lib.metrics`) in
one pass, computing a combined verdict from its parts' probabilities rather than
asking them twice. A run folder gives its verdicts with
:meth:`genre_lib.runs.Run.verdicts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Sequence

import numpy as np

from .baseline import fit_baseline, statistics
from .inference import logits, n_notes, softmax
from .metrics import EPS, classification_metrics
from .protocols import FILE_WINDOWS, FIRST_N, PROTOCOLS, check_protocol, protocol_windows, vote

if TYPE_CHECKING:
    import keras

#: the names of the verdicts a run gives, in the order they are reported
VERDICTS: tuple[str, ...] = ("rnn", "baseline", "combined")

#: how each verdict is labelled for people (tables, figures, the README)
LABELS: dict[str, str] = {"rnn": "RNN", "baseline": "baseline", "combined": "RNN + baseline"}


class Verdict(Protocol):
    """Anything that judges files: a name, its genres, and ``predict_proba``."""

    name: str
    genres: tuple[str, ...]

    def predict_proba(self, tables: Sequence[np.ndarray], protocol: str) -> np.ndarray:
        """Genre probabilities ``(files, genres)`` of whole note tables under ``protocol``."""
        ...


@dataclass(frozen=True, eq=False)
class RNNVerdict:
    """A Keras classifier of windows judging files: under ``first100`` it reads the
    first window, under ``file`` ``file_windows`` evenly spaced windows whose logits are
    averaged (:func:`genre_lib.protocols.vote`)."""

    model: "keras.Model"
    genres: tuple[str, ...]
    file_windows: int = FILE_WINDOWS
    name: str = "rnn"

    def window_logits(self, tables: Sequence[np.ndarray], protocol: str) -> np.ndarray:
        """The logits ``(files * windows, genres)`` of every window the protocol reads."""
        return logits(self.model, protocol_windows(tables, protocol, self.file_windows, n_notes(self.model)))

    def predict_proba(self, tables: Sequence[np.ndarray], protocol: str) -> np.ndarray:
        """Genre probabilities ``(files, genres)``: the vote of the files' windows."""
        return vote(self.window_logits(tables, protocol), len(tables))


@dataclass(frozen=True, eq=False)
class BaselineVerdict:
    """The non-neural baseline judging files: one fitted gradient-boosting model per
    protocol (:func:`genre_lib.baseline.fit_baseline`), each reading the statistics of
    the notes its protocol reads (:func:`genre_lib.baseline.statistics`)."""

    models: dict
    genres: tuple[str, ...]
    first_n: int = FIRST_N
    name: str = "baseline"

    @classmethod
    def fit(cls, tables: Sequence[np.ndarray], y: np.ndarray, genres: Sequence[str], seed: int = 0,
            first_n: int = FIRST_N) -> "BaselineVerdict":
        """One model per protocol, fitted on the training files' statistics under it."""
        models = {p: fit_baseline(statistics(tables, p, first_n), y, seed) for p in PROTOCOLS}
        return cls(models, tuple(genres), first_n)

    def predict_proba(self, tables: Sequence[np.ndarray], protocol: str) -> np.ndarray:
        """Genre probabilities ``(files, genres)`` from the model fitted for ``protocol``."""
        from threadpoolctl import threadpool_limits

        check_protocol(protocol)
        # one OpenMP thread: see genre_lib.baseline.fit_baseline
        with threadpool_limits(1, user_api="openmp"):
            return self.models[protocol].predict_proba(statistics(tables, protocol, self.first_n))


@dataclass(frozen=True, eq=False, init=False)
class Combined:
    """Several verdicts judging together (:func:`combine_proba` of their probabilities).

    ``Combined(rnn, baseline)`` is the series' "RNN + baseline"; its gradients are not
    the RNN's, so maps and flips of the RNN say nothing about the baseline's half.
    """

    parts: tuple
    name: str
    genres: tuple[str, ...]

    def __init__(self, *parts: Verdict, name: str = "combined") -> None:
        if not parts:
            raise ValueError("Combined needs at least one verdict")
        genres = {tuple(p.genres) for p in parts}
        if len(genres) != 1:
            raise ValueError(f"verdicts of different genres cannot be combined: {sorted(genres)}")
        object.__setattr__(self, "parts", tuple(parts))
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "genres", genres.pop())

    def predict_proba(self, tables: Sequence[np.ndarray], protocol: str) -> np.ndarray:
        """The combination of the parts' probabilities ``(files, genres)``."""
        return combine_proba(*(p.predict_proba(tables, protocol) for p in self.parts))


def combine_proba(*probs: np.ndarray) -> np.ndarray:
    """The combined verdict of several models' probabilities ``(files, genres)`` each:
    the mean of their log-probabilities, normalised again (a normalised geometric
    mean), the rule the ``file`` protocol's windows vote by. A model that is sure
    cannot be outvoted by one that hesitates unless the hesitating one leans the other
    way."""
    if not probs:
        raise ValueError("combine_proba needs at least one array of probabilities")
    logs = [np.log(np.clip(np.asarray(p, dtype=np.float64), EPS, 1.0)) for p in probs]
    if len({l.shape for l in logs}) != 1:
        raise ValueError(f"probabilities of different shapes: {[l.shape for l in logs]}")
    return softmax(np.mean(logs, axis=0))


@dataclass(frozen=True)
class Scores:
    """What :func:`score` computed: ``metrics[verdict][protocol]``
    (:func:`genre_lib.metrics.classification_metrics`) and the
    ``probabilities[verdict][protocol]`` ``(files, genres)`` they came from."""

    metrics: dict
    probabilities: dict


def score(verdicts: Sequence[Verdict], tables: Sequence[np.ndarray], y: np.ndarray, genres: Sequence[str],
          protocols: Sequence[str] = PROTOCOLS) -> Scores:
    """Every verdict's metrics under every protocol on the same files.

    A :class:`Combined` verdict is computed from its parts' probabilities, taken from
    this same pass when a part is among ``verdicts`` (the RNN's windows are not judged
    twice).

    Args:
        verdicts: the judges, each with a distinct ``name``.
        tables: each file's whole note table.
        y: each file's true genre, an index into ``genres``.
        genres: the genre names, in the verdicts' output order.
        protocols: the protocols to score under (default: both).

    Raises:
        ValueError: two verdicts share a name, or an unknown protocol.
    """
    names = [v.name for v in verdicts]
    if len(set(names)) != len(names):
        raise ValueError(f"verdicts need distinct names, got {names}")
    cache: dict = {}

    def proba(verdict, protocol: str) -> np.ndarray:
        key = (id(verdict), protocol)
        if key not in cache:
            if isinstance(verdict, Combined):
                cache[key] = combine_proba(*(proba(p, protocol) for p in verdict.parts))
            else:
                cache[key] = verdict.predict_proba(tables, protocol)
        return cache[key]

    probs = {v.name: {check_protocol(p): proba(v, p) for p in protocols} for v in verdicts}
    metrics = {name: {p: classification_metrics(pr, y, genres) for p, pr in by_p.items()} for name, by_p in probs.items()}
    return Scores(metrics, probs)
