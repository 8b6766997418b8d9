"""Where the series' runs and results live: the committed runs and cross-validations of a
data collection, the runs the notebooks train (``runs/<collection id>/``), and the model
each notebook explains."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from . import paths
from .configs import MAIN_CONFIG, MAIN_ITERATION, ORDER_CONFIG, ORDER_ITERATION, STUDY_GENRES, ModelConfig
from .configs import demo_config, notebook_config, quick_config
from .data_source import record_collection
from .paths import MODELS_DIR, RESULTS_DIR, RUNS_DIR
from .runs import Run, RunError, load_run

if TYPE_CHECKING:
    import numpy as np

    from .data_source import DataChoice
    from .dataset import Dataset

#: the committed runs trained on the real collection, by the genres they tell apart
COMMITTED_RUNS: dict[frozenset[str], Path] = {
    frozenset({"jazz", "electronic"}): MODELS_DIR / "jazz-electronic",
    frozenset({"jazz", "electronic", "rock"}): MODELS_DIR / "jazz-electronic-rock",
    frozenset({"jazz", "electronic", "rock", "country"}): MODELS_DIR / "four-genres",
}
#: the committed model trained on the real collection (see models/README.md)
REAL_RUN_DIR = COMMITTED_RUNS[frozenset(STUDY_GENRES)]
#: the saliency checks of the committed study model on all its held-out files
#: (``scripts/saliency_checks.py``), which notebooks 04 and 05 read instead of recomputing
STORED_CHECKS = RESULTS_DIR / "saliency-checks-jazz-electronic.json"
#: held-out files per genre notebooks 04 and 05 explain in quick mode and on the demo
CHECKED_PER_GENRE = {"quick": 8, "demo": 3}


def runs_dir(source: "DataChoice") -> Path:
    """Where the notebooks keep the runs they train on ``source``: ``runs/<collection id>``."""
    return RUNS_DIR / source.collection.id


def committed_run(source: "DataChoice", genres: Iterable[str]) -> Path | None:
    """The committed run trained on ``source`` for ``genres``, or None."""
    wanted = frozenset(g.lower() for g in genres)
    if not source.is_real or not wanted <= set(source.collection.genres):
        return None
    return COMMITTED_RUNS.get(wanted)


def committed_cv(source: "DataChoice", genres: Iterable[str], results_dir: str | Path = RESULTS_DIR) -> Path | None:
    """The committed cross-validation made on ``source`` for exactly ``genres``, or None."""
    if not {g.lower() for g in genres} <= set(source.collection.genres):
        return None
    return find_cv(source.collection.id, genres, results_dir)


def find_cv(collection_id: str, genres: Iterable[str], results_dir: str | Path = RESULTS_DIR) -> Path | None:
    """The first ``results_dir/cv-*.json`` (by name) made on ``collection_id`` for exactly
    ``genres``, or None (a file that is not JSON is passed over)."""
    wanted = {g.lower() for g in genres}
    for path in sorted(Path(results_dir).glob("cv-*.json")):
        try:
            record = json.loads(path.read_text()).get("data", {})
        except (OSError, json.JSONDecodeError, AttributeError):
            continue
        if record_collection(record) == collection_id and {str(g).lower() for g in record.get("genres", [])} == wanted:
            return path
    return None


def ensure_run(out: str | Path, data: "str | Path | Dataset", config: ModelConfig | None = None, seed: int = 0,
               genres: list[str] | tuple[str, ...] | None = None) -> Run:
    """The run folder ``out`` loaded, or trained on ``data`` if missing; one of another
    version or configuration is a :class:`~genre_lib.runs.RunError`, never replaced."""
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


def iterations_dir(source: "DataChoice", quick: bool = False) -> Path:
    """Where notebook 03 keeps its iteration runs on ``source``: ``iterations-demo``,
    ``iterations-quick`` or ``iterations`` under ``runs/<collection id>/``."""
    if source.is_demo:
        return runs_dir(source) / "iterations-demo"
    return runs_dir(source) / ("iterations-quick" if quick else "iterations")


def study_run_dir(source: "DataChoice", quick: bool = False) -> Path:
    """The model notebooks 04 and 05 explain: the committed run for the data and the
    study's genres, else notebook 03's run of the main configuration, seed 0."""
    committed = committed_run(source, STUDY_GENRES)
    if committed is not None:
        return committed
    return iterations_dir(source, quick) / f"{MAIN_ITERATION}-seed0"


def study_run(source: "DataChoice", quick: bool = False) -> Run:
    """That model (:func:`study_run_dir`) loaded, trained first where 03 did not, so one
    model goes through 03, 04 and 05."""
    folder = study_run_dir(source, quick)
    if committed_run(source, STUDY_GENRES) is not None:
        return load_run(folder)
    return ensure_run(folder, source.path, notebook_config(MAIN_CONFIG, source, quick), seed=0, genres=STUDY_GENRES)


def genres_run_dir(source: "DataChoice", genres: Iterable[str]) -> Path:
    """The model notebook 06 reads for ``genres``: the committed run, else for the study's
    genres notebook 03's quick run (the same configuration: one model, trained once), else
    ``runs/<id>/genres-quick/<genres>-seed0``."""
    committed = committed_run(source, genres)
    if committed is not None:
        return committed
    if {g.lower() for g in genres} == set(STUDY_GENRES):
        return study_run_dir(source, quick=True)
    return runs_dir(source) / "genres-quick" / ("-".join(sorted({g.lower() for g in genres})) + "-seed0")


def genres_run(source: "DataChoice", genres: Iterable[str]) -> Run:
    """That model (:func:`genres_run_dir`) loaded, trained first in its quick configuration
    if needed (minutes on the real collection)."""
    genres = sorted({g.lower() for g in genres})
    folder = genres_run_dir(source, genres)
    if committed_run(source, genres) is not None:
        return load_run(folder)
    return ensure_run(folder, source.path, notebook_config(MAIN_CONFIG, source, quick=True), seed=0, genres=genres)


def describe_run(run: Run) -> str:
    """One Markdown sentence naming a run: its folder, its configuration and its held-out
    accuracy under both protocols."""
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


def explained_files(run: Run, data: "Dataset", source: "DataChoice", quick: bool = False) -> np.ndarray:
    """The held-out files of ``run`` notebooks 04 and 05 explain: all in a full run, the
    first :data:`CHECKED_PER_GENRE` of each genre in quick mode and on the demo corpus."""
    import numpy as np

    held_out = run.held_out(data.paths)
    per_genre = (CHECKED_PER_GENRE["demo"] if source.is_demo else CHECKED_PER_GENRE["quick"] if quick
                 else len(held_out))
    return np.concatenate([held_out[data.y[held_out] == g][:per_genre] for g in range(len(data.genres))])
