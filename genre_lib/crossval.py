"""Group k-fold cross-validation: the accuracy figures the README and notebook 03 report.

Every file is a test file once; no sequencer or artist is on two sides of a fold, and
each fold's validation files are held out by group from its training files
(:func:`genre_lib.splits.group_folds`). In each fold the RNN and the baseline are
trained on the same training files and judged on the same test files under both
protocols (:mod:`genre_lib.evaluate`). The result keeps every file's probabilities,
so the errors can be read by group afterwards (:func:`errors_by_group`) without
training again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from .baseline import baseline_scores
from .data_source import identify
from .dataset import Dataset
from .evaluate import (FILE_WINDOWS, PROTOCOLS, VERDICTS, classification_metrics, combine_proba, combined_metrics,
                       protocol_proba)
from .model import ModelConfig
from .splits import group_folds

if TYPE_CHECKING:
    import pandas

#: numbers of windows the file protocol is also scored with, to see where it levels off
VOTE_SIZES: tuple[int, ...] = (1, 2, 4, 8, 16, 32)


def cross_validate(
    data: Dataset, config: ModelConfig, folds: int = 5, seed: int = 0, only_folds: list[int] | None = None,
    file_windows: int = FILE_WINDOWS, log: Callable[[str], None] = print,
) -> dict:
    """Group ``folds``-fold cross-validation of ``config`` and of the baseline on ``data``.

    Args:
        data: the files (their genres are the classes).
        config: the RNN's settings.
        folds: number of folds; fold ``k`` trains with seed ``seed + k``.
        seed: seeds the folds and the training.
        only_folds: run only these folds (a quick look; the summary then covers them only).
        file_windows: windows per file of the ``file`` protocol.
        log: where to write one line per fold.

    Returns:
        A JSON-able dict: ``folds`` (per fold: accuracies of the RNN and the baseline
        under both protocols, the file protocol's accuracy for each of
        :data:`VOTE_SIZES` windows, epochs, seconds), ``summary`` (mean and standard
        deviation over the folds) and ``files`` (every test file's fold, group, true
        genre and the RNN's probabilities under both protocols).
    """
    from .train import fit, score_protocols

    rows, files = [], []
    for k, part in enumerate(group_folds(data.y, data.groups, folds, seed=seed)):
        if only_folds and k not in only_folds:
            continue
        start = time.perf_counter()
        model, history = fit(config, data, part.train, part.val, seed=seed + k)
        seconds = time.perf_counter() - start
        tables, y = data.tables(part.test), data.y[part.test]
        rnn, probs = score_protocols(model, data, part.test, file_windows)
        # the vote of file_windows windows is the file protocol's, already scored
        by_windows = {n: probs["file"] if n == file_windows else protocol_proba(model, tables, "file", n) for n in VOTE_SIZES}
        base, base_probs, _ = baseline_scores(data, part.train, part.test, seed=seed + k)
        both = combined_metrics(probs, base_probs, y, data.genres)
        row = {"fold": k, "n_test": len(y), "epochs": len(history["loss"]), "train_seconds": round(seconds, 1)}
        for p in PROTOCOLS:
            for who, m in (("rnn", rnn), ("baseline", base), ("combined", both)):
                row[f"{who}_{p}"] = m[p]["accuracy"]
                row[f"{who}_{p}_loss"] = m[p]["loss"]
                row[f"{who}_{p}_recall"] = {g: v["recall"] for g, v in m[p]["per_genre"].items()}
        row["file_by_windows"] = {str(n): classification_metrics(v, y, data.genres)["accuracy"] for n, v in by_windows.items()}
        rows.append(row)
        for j, i in enumerate(part.test):
            files.append({"path": data.paths[i], "group": data.groups[i], "true": data.genres[data.y[i]], "fold": k,
                          **{p: [round(float(v), 4) for v in probs[p][j]] for p in PROTOCOLS},
                          **{f"baseline_{p}": [round(float(v), 4) for v in base_probs[p][j]] for p in PROTOCOLS}})
        log(f"fold {k}: {len(y):4d} test files, {row['epochs']} epochs, {seconds:.0f} s | "
            f"RNN first100 {row['rnn_first100']:.3f} file {row['rnn_file']:.3f} | "
            f"baseline first100 {row['baseline_first100']:.3f} file {row['baseline_file']:.3f} | "
            f"combined first100 {row['combined_first100']:.3f} file {row['combined_file']:.3f}")
    summary = {}
    for key in [f"{who}_{p}" for who in VERDICTS for p in PROTOCOLS] + ["train_seconds"]:
        v = np.array([r[key] for r in rows], dtype=float)
        summary[key] = {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0}
    return {
        "data": {"folder": Path(data.root).name, "collection": identify(data.root).id, "genres": list(data.genres),
                 "files": len(data), "groups": len(set(data.groups))},
        "config": config.to_dict(), "folds_total": folds, "seed": seed, "file_windows": file_windows,
        "folds": rows, "summary": summary, "recall": recall_summary(rows), "files": files,
    }


def recall_summary(folds: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """Each genre's recall, mean and standard deviation over the folds, for each of
    :data:`VERDICTS` the result holds, under both protocols: ``{"rnn_file": {"jazz": {"mean", "sd"}, ...}, ...}``.

    ``folds`` is the ``folds`` list of a :func:`cross_validate` result. With more than
    two genres one accuracy hides a genre the model rarely gets right, so the
    three-genre target asks for every genre's recall.
    """
    out: dict[str, dict[str, dict[str, float]]] = {}
    for who in VERDICTS:
        for p in PROTOCOLS:
            if f"{who}_{p}_recall" not in folds[0]:  # a result from before the combined verdict
                continue
            per = [r[f"{who}_{p}_recall"] for r in folds]
            out[f"{who}_{p}"] = {}
            for g in per[0]:
                v = np.array([f[g] for f in per], dtype=float)
                out[f"{who}_{p}"][g] = {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0}
    return out


def file_probabilities(result: dict, protocol: str = "file", who: str = "rnn") -> np.ndarray:
    """Every test file's probabilities ``(files, genres)`` under ``protocol`` from a
    :func:`cross_validate` result, of the verdict ``who`` (:data:`VERDICTS`; the
    combined one is recomputed from the stored RNN and baseline probabilities)."""
    files = result["files"]
    if who == "rnn":
        return np.array([f[protocol] for f in files], dtype=float)
    if who == "baseline":
        if f"baseline_{protocol}" not in files[0]:
            raise KeyError("this cross-validation result has no baseline probabilities per file; run it again")
        return np.array([f[f"baseline_{protocol}"] for f in files], dtype=float)
    if who == "combined":
        return combine_proba(file_probabilities(result, protocol, "rnn"), file_probabilities(result, protocol, "baseline"))
    raise ValueError(f"unknown verdict {who!r}: use one of {VERDICTS}")


def _probabilities(result: dict, protocol: str, who: str = "rnn") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """:func:`file_probabilities`, each file's true genre's index and the genre names."""
    genres = result["data"]["genres"]
    probs = file_probabilities(result, protocol, who)
    return probs, np.array([genres.index(f["true"]) for f in result["files"]]), genres


def pooled_metrics(result: dict, protocol: str = "file", who: str = "rnn") -> dict:
    """:func:`genre_lib.evaluate.classification_metrics` of every test file of a
    :func:`cross_validate` result at once (each file was tested once, by the model of its
    fold): one confusion matrix for the whole collection, of the verdict ``who``
    (:data:`VERDICTS`)."""
    probs, y, genres = _probabilities(result, protocol, who)
    return classification_metrics(probs, y, genres)


def pairwise_accuracy(result: dict, protocol: str = "file", who: str = "rnn") -> "pandas.DataFrame":
    """How well each pair of genres is told apart: for the files of two genres, the
    share the model gives the higher probability to the right one of the two (the
    other genres' probabilities ignored), and how many files of the pair's first genre
    the full decision gave to its second and the other way round. One row per pair
    (``"jazz / rock"``: first / second), the hardest pair first.

    With three genres this separates the pairs one accuracy mixes: for example whether
    rock and electronic, from one site, are harder to tell apart than jazz and
    electronic, from two sites. ``who`` picks the verdict (:data:`VERDICTS`).
    """
    import pandas as pd

    probs, y, genres = _probabilities(result, protocol, who)
    predicted = probs.argmax(1)
    rows = []
    for a in range(len(genres)):
        for b in range(a + 1, len(genres)):
            mask = (y == a) | (y == b)
            pair = probs[mask][:, [a, b]]
            right = np.where(y[mask] == a, pair[:, 0] > pair[:, 1], pair[:, 1] > pair[:, 0])
            rows.append({"pair": f"{genres[a]} / {genres[b]}", "files": int(mask.sum()),
                         "pair accuracy": float(right.mean()),
                         "first called second": int(((y == a) & (predicted == b)).sum()),
                         "second called first": int(((y == b) & (predicted == a)).sum())})
    return pd.DataFrame(rows).sort_values("pair accuracy").reset_index(drop=True)


def save_cv(result: dict, path: str | Path, overwrite: bool = False) -> Path:
    """Write a :func:`cross_validate` result as JSON (refusing to replace a file unless
    ``overwrite``), to be read back with :func:`load_cv`."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: exists; pass overwrite=True (--overwrite) to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    tmp.replace(path)
    return path


def load_cv(path: str | Path) -> dict:
    """A cross-validation result written by :func:`save_cv`."""
    return json.loads(Path(path).read_text())


def _predictions(result: dict, protocol: str) -> "pandas.DataFrame":
    """One row per file of a :func:`cross_validate` result with its predicted genre,
    the probability of that genre and the probability of each genre under ``protocol``."""
    import pandas as pd

    genres = result["data"]["genres"]
    df = pd.DataFrame(result["files"])
    probs = np.array(df[protocol].tolist())
    df["predicted"] = [genres[i] for i in probs.argmax(1)]
    df["p_predicted"] = probs.max(1)
    for j, g in enumerate(genres):
        df[f"p {g}"] = probs[:, j]
    return df.drop(columns=[c for c in df.columns if c in PROTOCOLS or c.startswith("baseline_")])


def errors_by_group(result: dict, protocol: str = "file") -> "pandas.DataFrame":
    """Where the model goes wrong, by artist or sequencer: one row per group with at
    least one misclassified file under ``protocol``, the groups with most errors first.

    Columns: group, genre (the group's true genre), files, wrong, share wrong, and the
    mean probability the model gave the genre it wrongly chose.
    """
    df = _predictions(result, protocol)
    df["wrong"] = df["predicted"] != df["true"]
    g = df.groupby(["group", "true"]).agg(files=("path", "size"), wrong=("wrong", "sum"))
    g["share wrong"] = g["wrong"] / g["files"]
    g["p wrong answer"] = df[df["wrong"]].groupby(["group", "true"])["p_predicted"].mean()
    g = g[g["wrong"] > 0].reset_index().rename(columns={"true": "genre"})
    return g.sort_values(["wrong", "share wrong"], ascending=False, kind="stable").reset_index(drop=True)


def misclassified_files(result: dict, protocol: str = "file") -> "pandas.DataFrame":
    """Every misclassified file under ``protocol``: path, group, fold, true and predicted
    genre and the probability of each genre, surest mistakes first."""
    df = _predictions(result, protocol)
    wrong = df[df["predicted"] != df["true"]]
    return wrong.sort_values("p_predicted", ascending=False, kind="stable").reset_index(drop=True)
