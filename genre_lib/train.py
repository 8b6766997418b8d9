"""Training: seeded, class-balanced, early-stopped, and written to a run folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .baseline import baseline_proba, fit_baseline
from .dataset import MAX_NOTES, Dataset, load_dataset
from .evaluate import classification_metrics, misclassified, predict_proba
from .model import ModelConfig, build_model
from .runs import Run, load_run, save_run
from .splits import Split, make_split

if TYPE_CHECKING:
    import keras


def class_weights(y: np.ndarray, n_genres: int) -> dict[int, float]:
    """Balanced class weights ``n / (k * count)``: every genre weighs the same in the
    loss however many files it has."""
    counts = np.bincount(np.asarray(y), minlength=n_genres).astype(float)
    return {g: float(len(y) / (n_genres * c)) if c else 0.0 for g, c in enumerate(counts)}


def fit(
    config: ModelConfig, X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
    n_genres: int, seed: int = 0, verbose: int = 0,
) -> "tuple[keras.Model, dict]":
    """Train a new model; stop when the validation loss has not improved for
    ``config.patience`` epochs and keep the best epoch's weights.

    Same seed, same data, same machine: same weights (TensorFlow's deterministic ops are
    switched on).

    Returns:
        ``(model, history)`` with ``history`` a dict of per-epoch lists.
    """
    import keras
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    model = build_model(config, X_train, n_genres, seed=seed)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True)
    hist = model.fit(
        np.asarray(X_train, np.float32), np.asarray(y_train),
        validation_data=(np.asarray(X_val, np.float32), np.asarray(y_val)),
        epochs=config.epochs, batch_size=config.batch_size, shuffle=True,
        class_weight=class_weights(y_train, n_genres), callbacks=[stop], verbose=verbose,
    )
    history = {k: [round(float(v), 5) for v in vals] for k, vals in hist.history.items()}
    history["best_epoch"] = int(np.argmin(history["val_loss"])) + 1
    return model, history


def train_run(
    data: str | Path | Dataset,
    out: str | Path,
    genres: list[str] | None = None,
    config: ModelConfig | None = None,
    seed: int = 0,
    split: str = "group",
    max_notes: int = MAX_NOTES,
    overwrite: bool = False,
    progress: bool = False,
    verbose: int = 0,
) -> Run:
    """Train on a data folder (or a loaded :class:`Dataset`), score the held-out test
    files and the baseline, and write the run folder ``out``.

    Args:
        data: folder laid out as ``<root>/<genre>/*.mid``, or a loaded dataset.
        out: the run folder to create (refused if it exists, unless ``overwrite``).
        genres: genres to use (default: every genre folder).
        config: hyperparameters (default :class:`ModelConfig`).
        seed: seeds the split, the weights and the batch order.
        split: ``"group"`` (no artist or sequencer on two sides, the honest one) or
            ``"stratified"`` (random files).
        max_notes: notes per file.

    Returns:
        The loaded :class:`Run`.
    """
    config = config or ModelConfig()
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out}: run folder exists; choose another --out or pass --overwrite")
    if not isinstance(data, Dataset):
        data = load_dataset(data, genres, max_notes=max_notes, progress=progress)
    if len(set(data.y.tolist())) < 2:
        raise ValueError(f"{data.root}: need files of at least two genres to train, got {list(data.genres)}")
    parts: Split = make_split(split, data.y, data.groups, seed=seed)
    X, y = data.X, data.y

    start = time.perf_counter()
    model, history = fit(config, X[parts.train], y[parts.train], X[parts.val], y[parts.val], len(data.genres), seed, verbose)
    seconds = time.perf_counter() - start

    probs = predict_proba(model, X[parts.test])
    test = classification_metrics(probs, y[parts.test], data.genres)
    paths = [data.paths[i] for i in parts.test]
    clf = fit_baseline(X[parts.train], y[parts.train], seed=seed)
    baseline = classification_metrics(baseline_proba(clf, X[parts.test]), y[parts.test], data.genres)
    metrics = {
        "test": test,
        "val": classification_metrics(predict_proba(model, X[parts.val]), y[parts.val], data.genres),
        "baseline": {k: baseline[k] for k in ("accuracy", "loss", "n", "per_genre", "confusion")},
        "misclassified": misclassified(probs, y[parts.test], paths, data.genres),
    }
    meta = {
        "genres": list(data.genres),
        "features": list(data.features),
        "max_notes": int(X.shape[1]),
        "config": config.to_dict(),
        "seed": seed,
        "split": {
            "kind": split, "seed": seed,
            "n_train": len(parts.train), "n_val": len(parts.val), "n_test": len(parts.test),
            "test_files": paths,
        },
        "data": {"folder": Path(data.root).name, "files_used": len(data), "files_skipped": len(data.skipped)},
        "train_seconds": round(seconds, 1),
        "epochs_trained": len(history["loss"]),
    }
    save_run(out, model, meta, history, metrics, overwrite=overwrite)
    return load_run(out)


#: The iterations of the study, in the order they were tried: what notebook 03 and
#: ``scripts/train_iterations.py`` train, so the table always has the same rows. Each
#: step adds one idea to the one before (see genre_lib.model for what each flag does).
_PLAIN = dict(families=False, summary=False, augment=False)
ITERATIONS: dict[str, ModelConfig] = {
    "1-gru32-plain": ModelConfig(cell="gru", units=32, **_PLAIN),
    "2-gru32-families": ModelConfig(cell="gru", units=32, **{**_PLAIN, "families": True}),
    "3-gru32-summary": ModelConfig(cell="gru", units=32, families=True, summary=True, augment=False),
    "4-gru32-augment": ModelConfig(cell="gru", units=32),
    "5-lstm32-augment": ModelConfig(cell="lstm", units=32),
    "6-gru64x2-augment": ModelConfig(cell="gru", units=64, layers=2),
}

#: the configuration of the committed real-data model (models/jazz-electronic)
MAIN_CONFIG: ModelConfig = ITERATIONS["4-gru32-augment"]
PROJECT_DIR = Path(__file__).resolve().parents[1]
#: run folders the notebooks make on the demo corpus (not committed)
DEMO_RUNS_DIR = PROJECT_DIR / "runs" / "demo"
#: the committed model trained on ../shared/midi (see models/README.md)
REAL_RUN_DIR = PROJECT_DIR / "models" / "jazz-electronic"


def ensure_run(out: str | Path, data: str | Path | Dataset, config: ModelConfig | None = None, seed: int = 0) -> Run:
    """Load the run folder ``out`` if it holds a usable run, else train it on ``data``.

    A folder from an incompatible version is not replaced silently: the
    :class:`~genre_lib.runs.RunError` is raised so the user decides what to do with it.
    """
    out = Path(out)
    if out.exists():
        return load_run(out)
    try:
        return train_run(data, out, config=config, seed=seed)
    except (FileExistsError, OSError):
        # another process (a second notebook, a test) finished the same run first
        if (out / "run.json").is_file():
            return load_run(out)
        raise


def _is_demo(data_dir: str | Path | None) -> bool:
    """Whether ``data_dir`` means the demo corpus: unset, empty (the notebooks'
    ``DATA_DIR = ""``) or the demo folder itself."""
    from .demo import DEFAULT_DEMO_DIR

    return not data_dir or Path(data_dir).resolve() == DEFAULT_DEMO_DIR.resolve()


def study_runs_dir(data_dir: str | Path | None = None) -> Path:
    """Where notebook 03 keeps the run folders it trains on ``data_dir``:
    ``runs/demo`` for the demo corpus, ``runs/<folder name>`` for another folder."""
    if _is_demo(data_dir):
        return DEMO_RUNS_DIR
    return PROJECT_DIR / "runs" / Path(data_dir).resolve().name


def study_run(data_dir: str | Path | None = None, quick: bool = False) -> Run:
    """The model notebooks 04 and 05 explain.

    On the demo corpus (``data_dir`` unset, empty or the demo folder) a model with the main
    configuration trained on it (made once under ``runs/demo/``, a few seconds; fewer
    epochs when ``quick``); on any other folder the committed real-data model.
    """
    from .demo import ensure_demo_data

    if _is_demo(data_dir):
        demo = ensure_demo_data()
        config = MAIN_CONFIG if not quick else ModelConfig(**{**MAIN_CONFIG.to_dict(), "epochs": 8})
        return ensure_run(DEMO_RUNS_DIR / ("main-quick" if quick else "main"), demo, config, seed=0)
    return load_run(REAL_RUN_DIR)
