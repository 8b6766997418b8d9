"""Computations the notebooks share, kept on disk: the saliency checks notebooks 04 and 05
both show, cached with ``joblib.Memory`` in the cache folder
(:func:`genre_lib.paths.cache_dir`), so whichever notebook gets there first computes
them and the other reads them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import paths
from .locations import CHECKED_PER_GENRE, STORED_CHECKS, explained_files

if TYPE_CHECKING:
    from .data_source import DataChoice
    from .dataset import Dataset
    from .runs import Run
    from .saliency_checks import MethodChecks


def memory():
    """The ``joblib.Memory`` of the cache folder (``<cache>/joblib``)."""
    from joblib import Memory

    return Memory(paths.cache_dir() / "joblib", verbose=0)


def _checks(model, run: str, model_sha1: str, data: dict, X: np.ndarray, y: np.ndarray, ig_baseline: np.ndarray,
            files: tuple, genres: tuple, flips: bool, why: str) -> "MethodChecks":
    from .saliency_checks import MethodChecks, check_methods, with_meta

    checks = check_methods(model, X, y, ig_baseline=ig_baseline, files=files, genres=genres, flips=flips, seed=0)
    checks = with_meta(checks, run=run, data=data, flips=flips,
                       computed_by=f"genre_lib.cache.notebook_checks ({why})")
    # as stored (per-file values to 6 digits), as the stored checks are
    return MethodChecks.from_dict(checks.to_dict())


def notebook_checks(run: "Run", data: "Dataset", source: "DataChoice", quick: bool = False) -> tuple["MethodChecks", str]:
    """The saliency checks notebooks 04 and 05 both show for ``run``, and one line that
    says what they are: :data:`~genre_lib.locations.STORED_CHECKS` when it was made for
    this run, data and held-out files (in quick mode too); otherwise
    :func:`~genre_lib.saliency_checks.check_methods` on
    :func:`~genre_lib.locations.explained_files` (flips only in a full run), seed 0, IG
    from the genre-balanced mean of every file the model may have seen, cached
    (:func:`memory`) by the run's model file, the data and the files."""
    import hashlib

    from . import saliency as S
    from .data_source import data_record
    from .saliency_checks import load_checks, stored_for

    held_out = run.held_out(data.paths)
    stored = load_checks(STORED_CHECKS) if not source.is_demo and STORED_CHECKS.is_file() else None
    why = ("the demo corpus" if source.is_demo
           else f"{paths.shown(STORED_CHECKS)} is missing" if stored is None
           else stored_for(stored, run.path, source.collection.id, [data.paths[i] for i in held_out]))
    if not why:
        return stored, (f"read {paths.shown(STORED_CHECKS)}: all {stored.n} held-out test files, computed by "
                        f"`{stored.meta['command']}`")
    files = explained_files(run, data, source, quick)
    small = quick or source.is_demo
    which = (f"{len(files)} held-out files, the first {CHECKED_PER_GENRE['demo' if source.is_demo else 'quick']} "
             "of each genre" if small else f"all {len(files)} held-out files")
    seen = np.setdiff1d(np.arange(len(data)), held_out)  # training and validation files
    sha1 = hashlib.sha1((run.path / "model.keras").read_bytes()).hexdigest()
    compute = memory().cache(_checks, ignore=["model"])
    checks = compute(run.model, paths.shown(run.path), sha1, data_record(data), data.X[files], data.y[files],
                     S.mean_baseline(data.X[seen], data.y[seen]), tuple(data.paths[i] for i in files),
                     tuple(data.genres), not small, why)
    return checks, f"check_methods on {which} ({why}), {'without' if small else 'with'} flips, seed 0"
