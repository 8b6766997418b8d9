"""How plausible a (flipped) file is as a genre, with no network: described by the 48
statistics of the notes a protocol reads (quantile-normalised), is it nearer a run's real
training files of a genre than any other genre's? :meth:`Plausibility.score` is ``log(the
nearest other genre's distance / the genre's)`` (mean distance to the :data:`K` nearest);
:func:`validate` checks on held-out files that it tells a file's own genre."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .paths import write_atomic
from .protocols import FIRST_N, PROTOCOLS, check_protocol
from .verdicts import BaselineVerdict

#: neighbours a distance averages over (chosen on the committed run's validation files)
K = 20

#: the file of a run folder holding the fitted measures (see :func:`save`)
PLAUSIBILITY_FILE = "plausibility.npz"


class PlausibilityError(ValueError):
    """A plausibility measure that cannot be fitted or read."""


@dataclass(eq=False)
class Plausibility:
    """The measure under one ``protocol``, fitted on real training files: their
    statistics ``stats`` ``(files, 48)`` and genres ``y``."""

    classes_: tuple[str, ...]
    protocol: str = "file"
    k: int = K
    first_n: int = FIRST_N
    stats: np.ndarray | None = None
    y: np.ndarray | None = None
    _fitted: tuple | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        check_protocol(self.protocol)
        self.classes_ = tuple(self.classes_)

    def statistics(self, tables: Sequence[np.ndarray]) -> np.ndarray:
        """The statistics of the notes the protocol reads."""
        return BaselineVerdict(self.classes_, self.protocol, self.first_n).statistics(tables)

    def fit(self, tables: Sequence[np.ndarray], y: np.ndarray) -> "Plausibility":
        """The measure of real whole tables of genres ``y`` (a genre needs more than ``k`` files)."""
        y = np.asarray(y, dtype=int)
        counts = np.bincount(y, minlength=len(self.classes_))
        if len(counts) != len(self.classes_) or counts.min() <= self.k:
            raise PlausibilityError(f"each genre needs more than {self.k} files, got "
                                    + ", ".join(f"{g} {n}" for g, n in zip(self.classes_, counts)))
        self.stats, self.y, self._fitted = self.statistics(tables), y, None
        return self

    def _parts(self):
        if self._fitted is None:
            from sklearn.neighbors import NearestNeighbors
            from sklearn.preprocessing import QuantileTransformer

            transform = QuantileTransformer(n_quantiles=min(200, len(self.stats)), output_distribution="normal",
                                            random_state=0).fit(self.stats)
            Z = transform.transform(self.stats)
            searches, own = [], []
            for g in range(len(self.classes_)):
                search = NearestNeighbors(n_neighbors=self.k + 1).fit(Z[self.y == g])
                d, _ = search.kneighbors(Z[self.y == g])
                own.append(np.sort(d[:, 1:].mean(axis=1)))  # column 0: the file itself
                searches.append(search)
            self._fitted = (transform, searches, own)
        return self._fitted

    def distances(self, tables: Sequence[np.ndarray]) -> np.ndarray:
        """Mean distance ``(files, genres)`` to each genre's :attr:`k` nearest training files."""
        transform, searches, _ = self._parts()
        Z = transform.transform(self.statistics(tables))
        return np.stack([s.kneighbors(Z, n_neighbors=self.k)[0].mean(axis=1) for s in searches], axis=1)

    def score(self, tables: Sequence[np.ndarray]) -> np.ndarray:
        """``(files, genres)``: log of the nearest other genre's distance over this genre's."""
        return score_of(self.distances(tables))

    def typicality(self, tables: Sequence[np.ndarray]) -> np.ndarray:
        """``(files, genres)``: the share of a genre's training files at least as far from
        the rest of it as the file is from the genre."""
        _, _, own = self._parts()
        d = self.distances(tables)
        return np.stack([1.0 - np.searchsorted(own[g], d[:, g], side="left") / len(own[g])
                         for g in range(len(self.classes_))], axis=1)


def score_of(distances: np.ndarray) -> np.ndarray:
    """:meth:`Plausibility.score` from distances ``(files, genres)``."""
    d = np.maximum(np.asarray(distances, dtype=np.float64), 1e-12)
    out = np.empty_like(d)
    for g in range(d.shape[1]):
        out[:, g] = np.log(np.delete(d, g, axis=1).min(axis=1) / d[:, g])
    return out


def validate(measure: Plausibility, tables: Sequence[np.ndarray], y: np.ndarray) -> dict:
    """How well the measure tells held-out files' own genres: the AUC of the score over every
    (file, genre) pair, each genre's, and the share of files whose own genre scores highest."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, dtype=int)
    own = np.eye(len(measure.classes_), dtype=bool)[y]
    s = measure.score(tables)
    return {
        "auc": float(roc_auc_score(own.ravel(), s.ravel())),
        "per_genre": {g: float(roc_auc_score(own[:, i], s[:, i])) for i, g in enumerate(measure.classes_)},
        "own_genre_first": float(np.mean(s.argmax(axis=1) == y)),
        "n": int(len(y)),
    }


def fit_run(run, data) -> tuple[Plausibility, ...]:
    """A run's measures per protocol, fitted on its own training files among ``data``."""
    from .evaluate import align_labels

    train = run.split(data).train
    y = align_labels(data, run.genres)[train]
    tables = data.tables(train)
    return tuple(Plausibility(run.genres, p, first_n=run.max_notes).fit(tables, y) for p in PROTOCOLS)


def save(measures: Sequence[Plausibility], run_dir: str | Path, overwrite: bool = False) -> Path:
    """Write both protocols' measures to ``run_dir/``:data:`PLAUSIBILITY_FILE` as arrays."""
    first = measures[0]

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, y=first.y, genres=np.array(first.classes_), k=first.k, first_n=first.first_n,
                                **{f"stats_{m.protocol}": m.stats for m in measures})

    return write_atomic(Path(run_dir) / PLAUSIBILITY_FILE, write, overwrite)


def load(run_dir: str | Path) -> tuple[Plausibility, ...]:
    """The measures a run folder holds (:func:`save`), one per protocol."""
    path = Path(run_dir) / PLAUSIBILITY_FILE
    if not path.is_file():
        raise PlausibilityError(f"{path}: no plausibility measure in this run folder "
                                "(fit one with genre_lib.plausibility.fit_run and save it)")
    try:
        with np.load(path, allow_pickle=False) as z:
            genres, y, k, first_n = tuple(str(g) for g in z["genres"]), z["y"].astype(int), int(z["k"]), int(z["first_n"])
            return tuple(Plausibility(genres, p, k, first_n, z[f"stats_{p}"], y) for p in PROTOCOLS)
    except (KeyError, ValueError, OSError) as exc:
        raise PlausibilityError(f"{path}: not a plausibility measure ({type(exc).__name__}: {exc})") from None
