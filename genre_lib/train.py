"""Training: seeded, class-balanced, early-stopped, on windows of the training files drawn
afresh every epoch, judged under both protocols and written to a run folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .data_source import data_record
from .dataset import MAX_NOTES, Dataset, load_dataset
from .configs import ModelConfig
from .machine import describe as describe_machine
from .metrics import classification_metrics, misclassified
from .probes import KEPT_PROBES, probe_table
from .protocols import FILE_WINDOWS, PROTOCOLS
from .runs import Run, load_run, save_run
from .splits import Split, make_split
from .verdicts import BaselineVerdict, Combined, RNNVerdict, judge, metric_blocks

if TYPE_CHECKING:
    import keras

#: evenly spaced windows per validation file when a model trains on windows: the
#: validation loss (early stopping) is then a loss over whole validation files
VAL_WINDOWS = 4


def class_weights(y: np.ndarray, n_genres: int) -> dict[int, float]:
    """Balanced class weights ``n / (k * count)``: every genre weighs the same."""
    counts = np.bincount(np.asarray(y), minlength=n_genres).astype(float)
    return {g: float(len(y) / (n_genres * c)) if c else 0.0 for g, c in enumerate(counts)}


def training_windows(data: Dataset, index: np.ndarray, windows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One epoch's ``(X, y)``: each file's first 100 notes and, with ``windows > 1``,
    ``windows - 1`` seeded random windows more."""
    index = np.asarray(index, dtype=int)
    if windows == 1:
        return data.X[index], data.y[index]
    X, owner = data.random_windows(windows, seed, index)
    return X, data.y[owner]


def _validation_scores(model: "keras.Model", data: Dataset, val: np.ndarray, windows: int) -> tuple[float, float]:
    # judged as the model is used: first 100 notes, or a vote of VAL_WINDOWS even windows
    protocol = "first100" if windows == 1 else "file"
    probs = RNNVerdict(model, data.genres, protocol, VAL_WINDOWS).predict_proba(data.tables(val))
    m = classification_metrics(probs, data.y[val], data.genres)
    return m["accuracy"], m["loss"]


def fit(
    config: ModelConfig, data: Dataset, train: np.ndarray, val: np.ndarray, seed: int = 0, verbose: int = 0,
) -> "tuple[keras.Model, dict]":
    """Train a new model on the files ``train`` of ``data``, validating on ``val``: the best
    validation epoch kept, early stopping after ``config.patience`` (``config.cosine``: the last
    kept), new seeded windows each epoch. Returns ``(model, history)``."""
    import tensorflow as tf

    from .model import build_model

    tf.config.experimental.enable_op_determinism()
    train, val = np.asarray(train, dtype=int), np.asarray(val, dtype=int)
    weights = class_weights(data.y[train], len(data.genres))
    X, y = training_windows(data, train, config.windows, seed)
    model = build_model(config, X, len(data.genres), seed=seed)
    history: dict[str, list] = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    best, best_weights, waited = (-1.0, -np.inf), model.get_weights(), 0
    for epoch in range(config.epochs):
        if epoch and config.windows > 1:
            X, y = training_windows(data, train, config.windows, seed * 100_003 + epoch)
        if config.cosine:
            model.optimizer.learning_rate.assign(config.learning_rate * 0.5 * (1 + np.cos(np.pi * epoch / config.epochs)))
        hist = model.fit(X, y, initial_epoch=epoch, epochs=epoch + 1, batch_size=config.batch_size,
                         shuffle=True, class_weight=weights, verbose=verbose).history
        val_accuracy, val_loss = _validation_scores(model, data, val, config.windows)
        for key, value in (("loss", hist["loss"][-1]), ("accuracy", hist["accuracy"][-1]),
                           ("val_loss", val_loss), ("val_accuracy", val_accuracy)):
            history[key].append(round(float(value), 5))
        if config.cosine:  # every epoch, the last one kept
            continue
        if (val_accuracy, -val_loss) > best:
            best, best_weights, waited = (val_accuracy, -val_loss), model.get_weights(), 0
        else:
            waited += 1
            if waited >= config.patience:
                break
    if config.cosine:
        history["best_epoch"] = len(history["loss"])
    else:
        model.set_weights(best_weights)
        history["best_epoch"] = int(np.lexsort((history["val_loss"], -np.array(history["val_accuracy"])))[0]) + 1
    return model, history


def fold_verdicts(model: "keras.Model", data: Dataset, train: np.ndarray, seed: int = 0,
                  file_windows: int = FILE_WINDOWS) -> list:
    """One trained network's verdicts under both protocols: the RNN, the baseline fitted on
    ``train`` and the two combined."""
    train = np.asarray(train, dtype=int)
    out = []
    for p in PROTOCOLS:
        rnn = RNNVerdict(model, data.genres, p, file_windows)
        base = BaselineVerdict(data.genres, p, data.X.shape[1], seed).fit(data.tables(train), data.y[train])
        out += [rnn, base, Combined(rnn, base)]
    return out


def check_genres(data: Dataset) -> None:
    """Refuse a dataset of fewer than two genres (DataError), before TensorFlow loads."""
    from .dataset import DataError

    if len(set(data.y.tolist())) < 2:
        raise DataError(f"{data.root}: need files of at least two genres to train, got {list(data.genres)}")


def train_run(data: str | Path | Dataset, out: str | Path, genres: list[str] | None = None,
              config: ModelConfig | None = None, seed: int = 0, split: str = "group", split_seed: int | None = None,
              max_notes: int = MAX_NOTES, file_windows: int = FILE_WINDOWS, overwrite: bool = False,
              progress: bool = False, verbose: int = 0) -> Run:
    """Train on a data folder or :class:`Dataset`, judge the held-out files with every
    verdict, probe the RNN and write the run folder ``out``; returns the loaded run. ``seed``
    seeds the ``split`` too unless ``split_seed`` is given (a seed sibling).

    Raises:
        FileExistsError: ``out`` exists and ``overwrite`` is false."""
    config = config or ModelConfig()
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out}: run folder exists; not replaced")
    if not isinstance(data, Dataset):
        data = load_dataset(data, genres, max_notes=max_notes, progress=progress)
    check_genres(data)
    split_seed = seed if split_seed is None else int(split_seed)
    parts: Split = make_split(split, data.y, data.groups, seed=split_seed)

    start = time.perf_counter()
    model, history = fit(config, data, parts.train, parts.val, seed, verbose)
    seconds = time.perf_counter() - start

    verdicts = fold_verdicts(model, data, parts.train, seed, file_windows)
    tables, y_test = data.tables(parts.test), data.y[parts.test]
    probs = judge(verdicts, tables)
    rnns = [v for v in verdicts if v.name == "rnn"]
    paths = [data.paths[i] for i in parts.test]
    metrics = {
        **metric_blocks(probs, y_test, data.genres),
        "val": metric_blocks(judge(rnns, data.tables(parts.val)), data.y[parts.val], data.genres)["rnn"],
        "misclassified": misclassified(probs["file"]["rnn"], y_test, paths, data.genres),
        "probes": [r.to_dict() for r in probe_table(rnns, tables, y_test, KEPT_PROBES, repeats=1, seed=seed)],
    }
    meta = {
        "genres": list(data.genres),
        "features": list(data.features),
        "max_notes": int(data.X.shape[1]),
        "file_windows": int(file_windows),
        "config": config.to_dict(),
        "seed": seed,
        "split": {
            "kind": split, "seed": split_seed,
            "n_train": len(parts.train), "n_val": len(parts.val), "n_test": len(parts.test),
            "test_files": paths,
        },
        "data": data_record(data),
        "train_seconds": round(seconds, 1),
        "epochs_trained": len(history["loss"]),
        "trained_on": time.strftime("%Y-%m-%d"),
        # the same seed gives the same weights only on the same kind of CPU and libraries
        "machine": describe_machine(),
    }
    save_run(out, model, meta, history, metrics, overwrite=overwrite,
             baselines={v.protocol: v.model for v in verdicts if v.name == "baseline"})
    return load_run(out)
