"""How plausible a (flipped) file is as a genre: where it sits among real files.

A flip that convinces a network may still be music no one writes. This module asks the
question with no network at all: among the *real* training files of a run, described
by the 48 order-free statistics of :func:`genre_lib.baseline.statistics` (of the notes
a protocol reads: the first 100 under ``first100``, all of them under ``file``), is the
file nearer to the files of a genre than to those of any other genre?

* Each statistic is mapped through the training files' quantiles onto a normal scale
  (a ``QuantileTransformer``): the statistics mix counts, shares and seconds, and a
  few files with extreme values would otherwise set every distance.
* :meth:`Plausibility.distances`: the mean distance to the :data:`K` nearest training
  files of each genre.
* :meth:`Plausibility.score` (the measure): ``log(nearest other genre's distance /
  the genre's distance)``; above 0, the file sits nearer to real files of the genre
  than to those of any other genre.
* :meth:`Plausibility.typicality`: the share of the genre's own training files that
  sit at least as far from the rest of their genre (each left out of its own
  neighbours) as the file does from the genre; near 0, the file is farther from the
  genre than almost every real file of it.

**Validated on real files first** (:func:`validate`): on a run's held-out test files,
the score of each file for each genre must tell the file's own genre from the others,
an AUC over every (file, genre) pair. The distance to one genre alone does not: on the
jazz/electronic collection electronic files are so varied that jazz files sit nearer
to them than held-out electronic files do (an AUC below 0.5 for electronic), which is
why the score compares a genre's distance with the other genres'. The transform and
:data:`K` were chosen on the run's validation files, never its test files.

The fitted measure is the training files' statistics themselves (the quantile
transform and the neighbour search are refitted from them, deterministically):
:func:`save` writes them to a run folder as :data:`PLAUSIBILITY_FILE` (numbers only,
no pickle) and :func:`load` reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .baseline import statistics
from .protocols import FIRST_N, PROTOCOLS, check_protocol

#: neighbours a distance averages over (chosen on the committed run's validation files)
K = 20

#: the file of a run folder holding the fitted measure (see :func:`save`)
PLAUSIBILITY_FILE = "plausibility.npz"


class PlausibilityError(ValueError):
    """A plausibility measure that cannot be fitted or read (the message names the cause)."""


@dataclass(eq=False)
class Plausibility:
    """The measure fitted on real training files: their statistics under each protocol
    (``stats[protocol]``, ``(files, 48)``), their genres ``y`` and the genre names.

    Build it with :meth:`fit` (from note tables) or :func:`load` (from a run folder).
    """

    stats: dict
    y: np.ndarray
    genres: tuple[str, ...]
    k: int = K
    first_n: int = FIRST_N
    _fitted: dict = field(default_factory=dict, repr=False)

    @classmethod
    def fit(cls, tables: Sequence[np.ndarray], y: np.ndarray, genres: Sequence[str], k: int = K,
            first_n: int = FIRST_N) -> "Plausibility":
        """The measure of real files ``tables`` (whole note tables) of genres ``y``.

        Raises:
            PlausibilityError: a genre with no more than ``k`` files (its distances
                need ``k`` neighbours besides a file itself).
        """
        y = np.asarray(y, dtype=int)
        genres = tuple(genres)
        counts = np.bincount(y, minlength=len(genres))
        if len(counts) != len(genres) or counts.min() <= k:
            raise PlausibilityError(f"each genre needs more than {k} files, got "
                                    + ", ".join(f"{g} {n}" for g, n in zip(genres, counts)))
        stats = {p: statistics(tables, p, first_n) for p in PROTOCOLS}
        return cls(stats, y, genres, int(k), int(first_n))

    def _parts(self, protocol: str):
        """The fitted transform, each genre's neighbour search and each genre's own
        (leave-one-out) distances, built once per protocol."""
        check_protocol(protocol)
        if protocol not in self._fitted:
            from sklearn.neighbors import NearestNeighbors
            from sklearn.preprocessing import QuantileTransformer

            S = self.stats[protocol]
            transform = QuantileTransformer(n_quantiles=min(200, len(S)), output_distribution="normal",
                                            random_state=0).fit(S)
            Z = transform.transform(S)
            searches, own = [], []
            for g in range(len(self.genres)):
                search = NearestNeighbors(n_neighbors=self.k + 1).fit(Z[self.y == g])
                d, _ = search.kneighbors(Z[self.y == g])
                own.append(np.sort(d[:, 1:].mean(axis=1)))  # column 0: the file itself
                searches.append(search)
            self._fitted[protocol] = (transform, searches, own)
        return self._fitted[protocol]

    def distances(self, tables: Sequence[np.ndarray], protocol: str) -> np.ndarray:
        """Mean distance ``(files, genres)`` of each file to the :attr:`k` nearest
        training files of each genre, on the quantile-normal scale of the statistics of
        the notes ``protocol`` reads."""
        transform, searches, _ = self._parts(protocol)
        Z = transform.transform(statistics(tables, protocol, self.first_n))
        return np.stack([s.kneighbors(Z, n_neighbors=self.k)[0].mean(axis=1) for s in searches], axis=1)

    def score(self, tables: Sequence[np.ndarray], protocol: str) -> np.ndarray:
        """The measure ``(files, genres)``: for each genre, the log of the ratio of the
        nearest *other* genre's distance to this genre's. Above 0: the file sits nearer
        to real files of the genre than to real files of any other genre."""
        return score_of(self.distances(tables, protocol))

    def typicality(self, tables: Sequence[np.ndarray], protocol: str) -> np.ndarray:
        """``(files, genres)``: for each genre, the share of its training files whose
        distance to the rest of the genre is at least the file's distance to the genre
        (1: as close as the closest real file; near 0: farther than almost all)."""
        _, _, own = self._parts(protocol)
        d = self.distances(tables, protocol)
        return np.stack([1.0 - np.searchsorted(own[g], d[:, g], side="left") / len(own[g])
                         for g in range(len(self.genres))], axis=1)


def score_of(distances: np.ndarray) -> np.ndarray:
    """:meth:`Plausibility.score` from the distances ``(files, genres)``."""
    d = np.maximum(np.asarray(distances, dtype=np.float64), 1e-12)
    out = np.empty_like(d)
    for g in range(d.shape[1]):
        out[:, g] = np.log(np.delete(d, g, axis=1).min(axis=1) / d[:, g])
    return out


def validate(measure: Plausibility, tables: Sequence[np.ndarray], y: np.ndarray,
             protocols: Sequence[str] = PROTOCOLS) -> dict:
    """How well the measure tells real files' own genres from the others, per protocol:
    the AUC over every (file, genre) pair of the score, the pair positive when the
    genre is the file's own (``auc``), the same for each genre alone (``per_genre``:
    the genre's score over all files), and the share of files whose own genre scores
    highest (``own_genre_first``). Give files the measure was not fitted on (a run's
    held-out test files).
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, dtype=int)
    own = np.eye(len(measure.genres), dtype=bool)[y]
    out = {}
    for p in protocols:
        s = measure.score(tables, p)
        out[p] = {
            "auc": float(roc_auc_score(own.ravel(), s.ravel())),
            "per_genre": {g: float(roc_auc_score(own[:, i], s[:, i])) for i, g in enumerate(measure.genres)},
            "own_genre_first": float(np.mean(s.argmax(axis=1) == y)),
            "n": int(len(y)),
        }
    return out


def fit_run(run, data) -> Plausibility:
    """The measure of a run (:class:`genre_lib.runs.Run`), fitted on its own training
    files among ``data``, the data folder it was trained on (:meth:`Run.split`).

    Raises:
        RunError: ``data`` does not hold the run's split.
    """
    from .evaluate import align_labels

    train = run.split(data).train
    y = align_labels(data, run.genres)
    return Plausibility.fit(data.tables(train), y[train], run.genres, first_n=run.max_notes)


def save(measure: Plausibility, run_dir: str | Path, overwrite: bool = False) -> Path:
    """Write the measure to ``run_dir/``:data:`PLAUSIBILITY_FILE` (the training files'
    statistics, their genres and the settings; plain arrays).

    Raises:
        FileExistsError: the file exists and ``overwrite`` is false.
    """
    path = Path(run_dir) / PLAUSIBILITY_FILE
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists (pass overwrite=True to replace it)")
    tmp = path.with_name(path.name + ".part.npz")
    np.savez_compressed(tmp, y=measure.y, genres=np.array(measure.genres), k=measure.k, first_n=measure.first_n,
                        **{f"stats_{p}": measure.stats[p] for p in PROTOCOLS})
    tmp.replace(path)
    return path


def load(run_dir: str | Path) -> Plausibility:
    """The measure saved in a run folder by :func:`save`.

    Raises:
        PlausibilityError: no such file, or not one :func:`save` wrote.
    """
    path = Path(run_dir) / PLAUSIBILITY_FILE
    if not path.is_file():
        raise PlausibilityError(f"{path}: no plausibility measure in this run folder "
                                "(fit one with genre_lib.plausibility.fit_run and save it)")
    try:
        with np.load(path, allow_pickle=False) as z:
            stats = {p: z[f"stats_{p}"] for p in PROTOCOLS}
            return Plausibility(stats, z["y"].astype(int), tuple(str(g) for g in z["genres"]), int(z["k"]),
                                int(z["first_n"]))
    except (KeyError, ValueError, OSError) as exc:
        raise PlausibilityError(f"{path}: not a plausibility measure ({type(exc).__name__}: {exc})") from None
