"""The study: its own iterations, ours after them, and where the series keeps its runs.

The iterations table starts with the study's three rows, on the study's input (pitch,
step and duration of each file's first 100 notes): the study reported 75.99 %, 83.49 %
and 94.17 % for them (:data:`STUDY_REPORTED`), on its own data and split. The study's
table names *nodes*, *layers* and *epochs*; we read nodes as the units of one LSTM
layer and of each dense layer after it, and layers as the number of dense layers, and
let early stopping end training within the study's epochs (the table shows the epochs
trained). Our rows then add one idea each to the row before, so the table tells what
each idea bought:

1. windows: many 100-note windows of every training file instead of its first 100
   notes (a GRU, cheaper than an LSTM on the many more sequences);
2. every column of the note table (loudness, drums, instrument), not only pitch,
   step and duration;
3. categories as one-hots: instrument family, pitch class, drum sound;
4. statistics of the window's notes beside the recurrent state;
5. tempo, key and loudness augmentation while training: the committed configuration;
6. the order (``9-order``, a second model beside the committed one): each note's
   interval and inter-onset time within its own part and their ratio
   (:class:`genre_lib.model.PartIntervals`), and a convolution over 5 notes in front of
   the GRU. The committed network decides as a bag of notes (shuffling the notes of
   every window costs it nothing, issue 19's probes); this one loses a few points of
   accuracy when the notes are shuffled (``scripts/order_search.py`` and
   ``results/order-search.json`` give the tries that led to it).

Every row is scored under both protocols (:mod:`genre_lib.evaluate`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from . import paths
from .data_source import COMMITTED_RUNS, DataChoice
from .dataset import Dataset
from .model import ModelConfig
from .runs import Run, RunError, load_run

if TYPE_CHECKING:
    import numpy as np

    from .saliency_checks import MethodChecks

#: the study's input columns
STUDY_COLUMNS: tuple[str, ...] = ("pitch", "step", "duration")

#: the study's reported accuracies (its own data and split, first 100 notes), by row
STUDY_REPORTED: dict[str, float] = {
    "study-1-50x1": 0.7599,
    "study-2-56x2": 0.8349,
    "study-3-168x2": 0.9417,
}


def _study_row(nodes: int, layers: int, epochs: int) -> ModelConfig:
    return ModelConfig(
        cell="lstm", units=nodes, layers=1, dense_layers=layers, dense_units=nodes, dropout=0.0,
        epochs=epochs, patience=15, families=False, summary=False, augment=False, columns=STUDY_COLUMNS,
    )


_WINDOWED = dict(cell="gru", units=64, dense_units=64, batch_size=128, epochs=20, windows=8, cosine=True)

#: The iterations in the order they were tried: what notebook 03 and
#: ``scripts/train_iterations.py`` train, so the table always has the same rows.
ITERATIONS: dict[str, ModelConfig] = {
    "study-1-50x1": _study_row(50, 1, 100),
    "study-2-56x2": _study_row(56, 2, 200),
    "study-3-168x2": _study_row(168, 2, 200),
    "4-windows": ModelConfig(**_WINDOWED, families=False, summary=False, augment=False, columns=STUDY_COLUMNS),
    "5-all-columns": ModelConfig(**_WINDOWED, families=False, summary=False, augment=False),
    "6-categories": ModelConfig(**_WINDOWED, families=True, pitch_classes=True, drum_sounds=True,
                                summary=False, augment=False),
    "7-summary": ModelConfig(**_WINDOWED, families=True, pitch_classes=True, drum_sounds=True,
                             summary=True, augment=False),
    "8-augment": ModelConfig(**_WINDOWED, families=True, pitch_classes=True, drum_sounds=True,
                             summary=True, augment=True),
    "9-order": ModelConfig(**_WINDOWED, families=True, pitch_classes=True, drum_sounds=True,
                           summary=True, augment=True, intervals=True, conv=5),
}

#: the configuration of the committed real-data model (models/jazz-electronic)
MAIN_ITERATION = "8-augment"
MAIN_CONFIG: ModelConfig = ITERATIONS[MAIN_ITERATION]

#: the configuration of the order-using model (models/jazz-electronic-order): the
#: committed one with per-part intervals and a convolution in front of the GRU
ORDER_ITERATION = "9-order"
ORDER_CONFIG: ModelConfig = ITERATIONS[ORDER_ITERATION]

#: the two genres of the study, in its words
STUDY_GENRES: tuple[str, ...] = ("jazz", "electronic")

#: the project folder (:data:`genre_lib.paths.PROJECT`), kept under this name for the notebooks
PROJECT_DIR = paths.PROJECT
#: the committed model trained on the real collection (see models/README.md)
REAL_RUN_DIR = COMMITTED_RUNS[frozenset(STUDY_GENRES)]
#: the committed order-using model (``ORDER_CONFIG`` on jazz and electronic, seed 0)
ORDER_RUN_DIR = paths.MODELS_DIR / "jazz-electronic-order"


def quick_config(config: ModelConfig) -> ModelConfig:
    """The quick-mode version of a configuration (CI, ``GENRE_QUICK=1``): few epochs
    and windows, still real training."""
    return config.replace(epochs=min(config.epochs, 4), patience=2, windows=min(config.windows, 2))


#: the generated demo corpus's training: epochs and windows per training file (below
#: quick mode's), so ``make demo`` fits a slower machine; the demo is a first look
DEMO_EPOCHS, DEMO_WINDOWS = 2, 1


def demo_config(config: ModelConfig) -> ModelConfig:
    """The version of a configuration the notebooks train on the generated demo corpus:
    quick mode's (:func:`quick_config`) with :data:`DEMO_EPOCHS` epochs and
    :data:`DEMO_WINDOWS` window per training file, still real training."""
    return quick_config(config).replace(epochs=min(config.epochs, DEMO_EPOCHS),
                                        windows=min(config.windows, DEMO_WINDOWS))


def notebook_config(config: ModelConfig, source: DataChoice, quick: bool = False) -> ModelConfig:
    """What the notebooks train of ``config`` on ``source``: :func:`demo_config` on the
    generated demo corpus, :func:`quick_config` in quick mode, ``config`` itself otherwise."""
    if source.is_demo:
        return demo_config(config)
    return quick_config(config) if quick else config


#: the iterations notebook 03 trains on the generated demo corpus and in quick mode (CI):
#: the study's first row, the first of ours (windows) and the committed configuration,
#: the one notebooks 04 and 05 explain. Every row teaches on real music in a full run; a
#: quick run checks that the notebook works, and each row costs a model's training
FEW_ITERATIONS: tuple[str, ...] = ("study-1-50x1", "4-windows", MAIN_ITERATION)


def notebook_iterations(source: DataChoice, quick: bool = False) -> dict[str, ModelConfig]:
    """The iterations notebook 03 trains on ``source``, in the order they were tried, each
    as :func:`notebook_config` gives it: every one of :data:`ITERATIONS` in a full run on
    real data, those of :data:`FEW_ITERATIONS` on the generated demo corpus or in quick mode."""
    few = source.is_demo or quick
    names = [n for n in ITERATIONS if n in FEW_ITERATIONS] if few else list(ITERATIONS)
    return {n: notebook_config(ITERATIONS[n], source, quick) for n in names}


def ensure_run(out: str | Path, data: str | Path | Dataset, config: ModelConfig | None = None, seed: int = 0,
               genres: list[str] | tuple[str, ...] | None = None) -> Run:
    """Load the run folder ``out`` if it holds a usable run, else train it on ``data``.

    A folder from an incompatible version, or trained with another configuration than
    ``config``, is not replaced silently: :class:`~genre_lib.runs.RunError` is raised so
    the user decides what to do with it.
    """
    from .train import train_run

    out = Path(out)
    if out.exists():
        run = load_run(out)
        if config is not None and run.config != config:
            differ = sorted(k for k, v in config.to_dict().items() if run.config.to_dict().get(k) != v)
            raise RunError(f"{out}: trained with another configuration ({', '.join(differ)} differ); "
                           "move the folder away or delete it to train this one here")
        return run
    try:
        return train_run(data, out, genres=list(genres) if genres else None, config=config, seed=seed)
    except (FileExistsError, OSError):
        # another process (a second notebook, a test) finished the same run first
        if (out / "run.json").is_file():
            return load_run(out)
        raise


def iterations_dir(source: DataChoice, quick: bool = False) -> Path:
    """Where notebook 03 keeps its iteration runs on ``source`` (each in
    ``<iteration>-seed<seed>``), under ``runs/<collection id>/``: ``iterations-demo`` on
    the generated demo corpus (:func:`demo_config`), ``iterations-quick`` for quick
    mode's configurations, ``iterations`` for the full ones."""
    if source.is_demo:
        return source.runs_dir / "iterations-demo"
    return source.runs_dir / ("iterations-quick" if quick else "iterations")


def study_run_dir(source: DataChoice, quick: bool = False) -> Path:
    """The folder of the model notebooks 04 and 05 explain on ``source``: the committed
    run that goes with the data and the study's genres (``models/jazz-electronic`` on the
    real collection), else notebook 03's run of the main configuration, seed 0 (its quick
    configuration when ``quick``)."""
    committed = source.committed_run(STUDY_GENRES)
    if committed is not None:
        return committed
    return iterations_dir(source, quick) / f"{MAIN_ITERATION}-seed0"


def study_run(source: DataChoice, quick: bool = False) -> Run:
    """The model notebooks 04 and 05 explain (:func:`study_run_dir`): the committed run
    loaded, or notebook 03's run, loaded if 03 made it and trained the same way on the
    study's genres otherwise, so one model goes through 03, 04 and 05."""
    folder = study_run_dir(source, quick)
    if source.committed_run(STUDY_GENRES) is not None:
        return load_run(folder)
    return ensure_run(folder, source.path, notebook_config(MAIN_CONFIG, source, quick), seed=0, genres=STUDY_GENRES)


def genres_run_dir(source: DataChoice, genres: Iterable[str]) -> Path:
    """The folder of the model notebook 06 reads for ``genres`` on ``source``: the
    committed run for them (:meth:`DataChoice.committed_run`; ``models/four-genres`` for
    the real collection and jazz, electronic, rock and country), else a run of the quick configuration
    of :data:`MAIN_CONFIG` (:func:`quick_config`) in
    ``runs/<collection id>/genres-quick/<genres, sorted>-seed0``."""
    committed = source.committed_run(genres)
    if committed is not None:
        return committed
    return source.runs_dir / "genres-quick" / ("-".join(sorted({g.lower() for g in genres})) + "-seed0")


def genres_run(source: DataChoice, genres: Iterable[str]) -> Run:
    """The model notebook 06 reads for ``genres`` (:func:`genres_run_dir`): the committed
    run loaded, else the quick configuration (:func:`notebook_config`) loaded if
    trained before, trained now otherwise (minutes on the real collection, not the
    committed configuration's figures: few epochs and windows)."""
    genres = sorted({g.lower() for g in genres})
    folder = genres_run_dir(source, genres)
    if source.committed_run(genres) is not None:
        return load_run(folder)
    return ensure_run(folder, source.path, notebook_config(MAIN_CONFIG, source, quick=True), seed=0, genres=genres)


def describe_run(run: Run) -> str:
    """One Markdown sentence naming a run the notebooks explain: its folder (relative to
    the project), its configuration (the study's :data:`MAIN_CONFIG`, its quick-mode
    or demo version, :data:`ORDER_CONFIG`, or another one) and its held-out test accuracy under
    both protocols, read from its ``metrics.json``; no absolute path, so it can be
    stored in a notebook."""
    path = Path(run.path).resolve()
    where = path.relative_to(paths.PROJECT) if path.is_relative_to(paths.PROJECT) else Path(path.name)
    config = run.config
    if config == MAIN_CONFIG:
        what = f"`MAIN_CONFIG` (iteration `{MAIN_ITERATION}`)"
    elif config == ORDER_CONFIG:
        what = f"`ORDER_CONFIG` (iteration `{ORDER_ITERATION}`: `MAIN_CONFIG` with per-part intervals and a convolution)"
    elif config == quick_config(MAIN_CONFIG):
        what = f"`MAIN_CONFIG` (iteration `{MAIN_ITERATION}`) in quick mode (fewer epochs and windows)"
    elif config == demo_config(MAIN_CONFIG):
        what = (f"`MAIN_CONFIG` (iteration `{MAIN_ITERATION}`) with the demo corpus's settings "
                "(fewer epochs and windows than quick mode)")
    else:
        changed = sorted(k for k, v in config.to_dict().items() if MAIN_CONFIG.to_dict().get(k) != v)
        what = f"`MAIN_CONFIG` changed in {', '.join(changed)}" if changed else "`MAIN_CONFIG`"
    protocols = run.metrics.get("rnn", {}).get("protocols", {})
    scores = [f"{protocols[p]['accuracy']:.3f} {label}" for p, label in
              (("first100", "on the first 100 notes"), ("file", f"by the vote of {run.meta.get('file_windows')} windows"))
              if p in protocols]
    n = protocols.get("first100", {}).get("n")
    accuracy = f"; accuracy on its {n} held-out test files: {' and '.join(scores)}" if scores else ""
    return f"The model: `{where.as_posix()}`, configuration {what}{accuracy}."


#: the saliency checks of the committed study model on all its held-out files, made by
#: ``scripts/saliency_checks.py``: what notebooks 04 and 05 show in a full run on the real
#: collection, instead of recomputing them for minutes
STORED_CHECKS = paths.RESULTS_DIR / "saliency-checks-jazz-electronic.json"

#: held-out files per genre notebooks 04 and 05 explain and check in quick mode and on
#: the demo corpus; a full run takes every held-out file
CHECKED_PER_GENRE = {"quick": 8, "demo": 3}


def explained_files(run: Run, data: Dataset, source: DataChoice, quick: bool = False) -> np.ndarray:
    """Indices in ``data`` of the held-out files notebooks 04 and 05 explain and check:
    every held-out test file of ``run`` in a full run, the first
    :data:`CHECKED_PER_GENRE` of each genre in quick mode and on the demo corpus."""
    import numpy as np

    held_out = run.held_out(data.paths)
    per_genre = (CHECKED_PER_GENRE["demo"] if source.is_demo else CHECKED_PER_GENRE["quick"] if quick
                 else len(held_out))
    return np.concatenate([held_out[data.y[held_out] == g][:per_genre] for g in range(len(data.genres))])


def notebook_checks(run: Run, data: Dataset, source: DataChoice, quick: bool = False) -> tuple[MethodChecks, str]:
    """The saliency checks notebooks 04 and 05 both show for ``run``, and one line that
    says what they are.

    :data:`STORED_CHECKS` (all held-out files, with flips) when it was made for this run,
    data and held-out files: on the real collection, in quick mode too, since reading it
    costs nothing and shows the real figures. Otherwise
    :func:`~genre_lib.saliency_checks.check_methods` on :func:`explained_files` (flips
    only in a full run), seed 0, IG from the mean of every file the model may have seen;
    the result is kept in the cache folder
    (:func:`~genre_lib.saliency_checks.notebook_checks_path`) so the other notebook reads
    it rather than computing it again. The computation is deterministic and both read it
    as stored, so the two notebooks show the same figures whichever of them computed it
    (they may run at the same time), and the line does not say which did.
    """
    import warnings

    import numpy as np

    from . import saliency as S
    from .saliency import SaliencyError
    from .saliency_checks import (MethodChecks, check_methods, load_checks, notebook_checks_path, save_checks, stored_for,
                                  with_meta)

    held_out = run.held_out(data.paths)
    stored = load_checks(STORED_CHECKS) if not source.is_demo and STORED_CHECKS.is_file() else None
    why = ("the demo corpus" if source.is_demo
           else f"{paths.shown(STORED_CHECKS)} is missing" if stored is None
           else stored_for(stored, run.path, source.collection.id, [data.paths[i] for i in held_out]))
    if not why:
        return stored, (f"read {paths.shown(STORED_CHECKS)}: all {stored.n} held-out test files, computed by "
                        f"`{stored.meta['command']}`")
    files = explained_files(run, data, source, quick)
    names = tuple(data.paths[i] for i in files)
    small = quick or source.is_demo
    which = (f"{len(files)} held-out files, the first {CHECKED_PER_GENRE['demo' if source.is_demo else 'quick']} "
             "of each genre" if small else f"all {len(files)} held-out files")
    line = f"check_methods on {which} ({why}), {'without' if small else 'with'} flips, seed 0"
    kept = notebook_checks_path(run.path)
    if kept.is_file():
        try:
            left = load_checks(kept)
        except SaliencyError:  # a damaged or foreign file is computed again, and replaced
            left = None
        if (left is not None and not stored_for(left, run.path, source.collection.id, names)
                and left.meta.get("flips") == (not small)):
            return left, line
    seen = np.setdiff1d(np.arange(len(data)), held_out)  # training and validation files
    checks = check_methods(run.model, data.X[files], data.y[files], ig_baseline=S.mean_baseline(data.X[seen], data.y[seen]),
                           files=names, genres=tuple(data.genres), flips=not small, seed=0)
    checks = with_meta(checks, run=paths.shown(run.path), data={"collection": source.collection.id},
                       flips=not small, computed_by=f"genre_lib.study.notebook_checks ({why})")
    # as stored (per-file values to 6 digits): the notebook that computes shows what the other reads
    checks = MethodChecks.from_dict(checks.to_dict())
    try:
        save_checks(checks, kept, overwrite=True)
    except OSError as exc:  # a read-only cache folder: the other notebook computes the same again
        warnings.warn(f"{kept}: could not keep the saliency checks ({exc})", stacklevel=2)
    return checks, line
