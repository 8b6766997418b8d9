"""Who judges a file: the one interface every judge keeps (:class:`Verdict`, a
scikit-learn-style estimator over whole note tables, built with its protocol), and the
series' judges: :class:`RNNVerdict` (a network's windows voting), :class:`BaselineVerdict`
(gradient boosting on the 48 statistics of the notes read) and :class:`Combined`. What a
verdict reads is exposed once (:meth:`NoteVerdict.reads`), so flips, probes, opinions,
plausibility and scoring all take the same object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Sequence, runtime_checkable

import numpy as np

from .inference import logits, n_notes, softmax
from .metrics import EPS, classification_metrics
from .note_statistics import statistics
from .protocols import FILE_WINDOWS, FIRST_N, check_protocol, vote
from .windows import even_starts, windows_of

if TYPE_CHECKING:
    import keras

#: the names of the verdicts a run gives, in the order they are reported
VERDICTS: tuple[str, ...] = ("rnn", "baseline", "combined")

#: how each verdict is labelled for people (tables, figures, the README)
LABELS: dict[str, str] = {"rnn": "RNN", "baseline": "baseline", "combined": "RNN + baseline"}


@runtime_checkable
class Verdict(Protocol):
    """What every judge is: a ``name``, the ``protocol`` it reads files by, ``classes_``
    (genre names in output order), ``fit(tables, y) -> self`` and ``predict_proba(tables)``."""

    name: str
    protocol: str
    classes_: tuple[str, ...]

    def fit(self, tables: Sequence[np.ndarray], y: np.ndarray) -> "Verdict":
        """Learn from whole note tables and their genre indices; returns the verdict."""
        ...

    def predict_proba(self, tables: Sequence[np.ndarray]) -> np.ndarray:
        """Genre probabilities ``(files, genres)`` of whole note tables."""
        ...


class NoteVerdict:
    """A verdict that reads notes: subclasses give :meth:`reads` and :meth:`judge_reads`."""

    name: str
    protocol: str
    classes_: tuple[str, ...]

    def reads(self, tables: Sequence[np.ndarray]) -> list[np.ndarray]:
        """What the verdict reads of each file: one ``(k, notes, features)`` array per file."""
        raise NotImplementedError

    def judge_reads(self, reads: Sequence[np.ndarray]) -> np.ndarray:
        """Genre probabilities from reads (probed or not)."""
        raise NotImplementedError

    def predict_proba(self, tables: Sequence[np.ndarray]) -> np.ndarray:
        """Genre probabilities ``(files, genres)`` of whole note tables."""
        return self.judge_reads(self.reads(tables))

    def predict(self, tables: Sequence[np.ndarray]) -> np.ndarray:
        """Each file's predicted genre, an index into :attr:`classes_`."""
        return self.predict_proba(tables).argmax(axis=1)


@dataclass(eq=False)
class RNNVerdict(NoteVerdict):
    """A Keras classifier of windows judging files: the first window under ``first100``,
    ``file_windows`` evenly spaced windows voting under ``file``. Trained by
    :mod:`genre_lib.train`, so :meth:`fit` only returns it."""

    model: "keras.Model"
    classes_: tuple[str, ...]
    protocol: str = "file"
    file_windows: int = FILE_WINDOWS
    name: str = "rnn"

    def __post_init__(self) -> None:
        check_protocol(self.protocol)
        self.classes_ = tuple(self.classes_)

    @property
    def length(self) -> int:
        """Notes per window (the network's input length)."""
        return n_notes(self.model)

    def fit(self, tables: Sequence[np.ndarray], y: np.ndarray) -> "RNNVerdict":
        """The network is already trained: returns the verdict unchanged."""
        return self

    def starts(self, n: int) -> np.ndarray:
        """Where the windows read start in a table of ``n`` notes."""
        if self.protocol == "first100":
            return np.zeros(1, dtype=np.int64)
        return even_starts(n, self.file_windows, self.length)

    def windows(self, tables: Sequence[np.ndarray]) -> np.ndarray:
        """The windows read of each table, ``(files, windows, notes, features)``."""
        w, _ = windows_of(list(tables), self.starts, self.length)
        return w.reshape(len(tables), -1, *w.shape[1:])

    def reads(self, tables: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The windows of each file."""
        return list(self.windows(tables))

    def judge_reads(self, reads: Sequence[np.ndarray]) -> np.ndarray:
        """The vote of each file's windows."""
        return vote(logits(self.model, np.concatenate(list(reads))), len(reads))


@dataclass(eq=False)
class BaselineVerdict(NoteVerdict):
    """The non-neural baseline: a balanced ``HistGradientBoostingClassifier`` on the
    statistics of the notes its protocol reads; ``model`` is the fitted classifier."""

    classes_: tuple[str, ...]
    protocol: str = "file"
    first_n: int = FIRST_N
    seed: int = 0
    model: Any = None
    name: str = "baseline"

    def __post_init__(self) -> None:
        check_protocol(self.protocol)
        self.classes_ = tuple(self.classes_)

    def reads(self, tables: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The notes read of each file, as one read ``(1, notes, features)``."""
        return [(t[: self.first_n] if self.protocol == "first100" else t)[None] for t in tables]

    def statistics(self, tables: Sequence[np.ndarray]) -> np.ndarray:
        """The statistics ``(files, 48)`` of the notes read of each table."""
        return statistics([r[0] for r in self.reads(tables)])

    def fit(self, tables: Sequence[np.ndarray], y: np.ndarray) -> "BaselineVerdict":
        """Fit the classifier (seeded by :attr:`seed`) on the files' statistics."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        with _one_openmp_thread():
            clf = HistGradientBoostingClassifier(random_state=self.seed, class_weight="balanced")
            self.model = clf.fit(self.statistics(tables), np.asarray(y))
        return self

    def judge_reads(self, reads: Sequence[np.ndarray]) -> np.ndarray:
        """The classifier's probabilities of each read's statistics."""
        if self.model is None:
            raise ValueError("the baseline is not fitted: call fit(tables, y) first")
        with _one_openmp_thread():
            return self.model.predict_proba(statistics([r[0] for r in reads]))


def _one_openmp_thread():
    # once TensorFlow has started its thread pools in the same process, scikit-learn's
    # OpenMP threads spin against them and a fit takes 20x longer
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="openmp")


@dataclass(eq=False, init=False)
class Combined:
    """Verdicts of one protocol judging together (:func:`combine_proba`): ``Combined(rnn,
    baseline)`` is "RNN + baseline", whose gradients are not the RNN's."""

    parts: tuple
    name: str
    protocol: str
    classes_: tuple[str, ...] = field(default=())

    def __init__(self, *parts: Verdict, name: str = "combined") -> None:
        if not parts:
            raise ValueError("Combined needs at least one verdict")
        kinds = {(tuple(p.classes_), p.protocol) for p in parts}
        if len(kinds) != 1:
            raise ValueError(f"only verdicts of the same genres and protocol combine, got {sorted(kinds)}")
        self.parts, self.name = tuple(parts), name
        self.classes_, self.protocol = kinds.pop()

    def fit(self, tables: Sequence[np.ndarray], y: np.ndarray) -> "Combined":
        """Fit every part."""
        for p in self.parts:
            p.fit(tables, y)
        return self

    def predict_proba(self, tables: Sequence[np.ndarray]) -> np.ndarray:
        """The combination of the parts' probabilities."""
        return combine_proba(*(p.predict_proba(tables) for p in self.parts))

    def predict(self, tables: Sequence[np.ndarray]) -> np.ndarray:
        """Each file's predicted genre, an index into :attr:`classes_`."""
        return self.predict_proba(tables).argmax(axis=1)


def combine_proba(*probs: np.ndarray) -> np.ndarray:
    """The normalised geometric mean of several ``(files, genres)`` probabilities (the
    rule the ``file`` protocol's windows vote by)."""
    if not probs:
        raise ValueError("combine_proba needs at least one array of probabilities")
    logs = [np.log(np.clip(np.asarray(p, dtype=np.float64), EPS, 1.0)) for p in probs]
    if len({l.shape for l in logs}) != 1:
        raise ValueError(f"probabilities of different shapes: {[l.shape for l in logs]}")
    return softmax(np.mean(logs, axis=0))


def predict_all(verdicts: Sequence[Verdict], tables: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Every verdict's probabilities by name; a :class:`Combined` one from its parts' when
    they are among ``verdicts`` (ValueError: two verdicts share a name)."""
    names = [v.name for v in verdicts]
    if len(set(names)) != len(names):
        raise ValueError(f"verdicts need distinct names, got {names}")
    done: dict[int, np.ndarray] = {}

    def proba(v) -> np.ndarray:
        if id(v) not in done:
            done[id(v)] = (combine_proba(*map(proba, v.parts)) if isinstance(v, Combined)
                           else v.predict_proba(tables))
        return done[id(v)]

    return {v.name: proba(v) for v in verdicts}


def score(verdicts: Sequence[Verdict], tables: Sequence[np.ndarray], y: np.ndarray) -> dict[str, dict]:
    """Every verdict's :func:`genre_lib.metrics.classification_metrics` on the same files, by name."""
    return {name: classification_metrics(p, y, v.classes_)
            for (name, p), v in zip(predict_all(verdicts, tables).items(), verdicts)}


def judge(verdicts: Sequence[Verdict], tables: Sequence[np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """:func:`predict_all` per protocol: ``{protocol: {name: (files, genres)}}``."""
    return {p: predict_all([v for v in verdicts if v.protocol == p], tables)
            for p in dict.fromkeys(v.protocol for v in verdicts)}


def metric_blocks(probabilities: dict, y: np.ndarray, genres: Sequence[str]) -> dict:
    """``metrics.json``'s blocks: per verdict, the ``file`` protocol's figures at the top and
    every protocol's under ``protocols``."""
    names = dict.fromkeys(n for by in probabilities.values() for n in by)
    blocks = {n: {p: classification_metrics(by[n], y, genres) for p, by in probabilities.items()} for n in names}
    return {n: {**m["file"], "protocol": "file", "protocols": m} for n, m in blocks.items()}
