"""Group k-fold cross-validation: the RNN and the baseline trained on the same files and
judged on the same test files under both protocols; a result keeps every fold's figures
(``[verdict][protocol]``) and every test file's probabilities, to read errors by group."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from .configs import ModelConfig
from .data_source import data_record
from .dataset import Dataset
from .metrics import classification_metrics, mean_sd, misclassified, pair_accuracy, shared_mistakes
from .paths import write_json
from .probes import KEPT_PROBES, order_and_top_attribute, probe_table
from .protocols import FILE_WINDOWS, PROTOCOLS
from .splits import group_folds
from .verdicts import VERDICTS, RNNVerdict, combine_proba, judge

if TYPE_CHECKING:
    import pandas

#: numbers of windows the file protocol is also scored with, to see where it levels off
VOTE_SIZES: tuple[int, ...] = (1, 2, 4, 8, 16, 32)

#: the verdicts whose per-file probabilities a result keeps (the combined one is computed from them)
STORED: tuple[str, ...] = ("rnn", "baseline")


def _fold_row(k: int, model, history: dict, seconds: float, data: Dataset, part, seed: int, file_windows: int
              ) -> tuple[dict, list[dict]]:
    from .train import fold_verdicts

    verdicts = fold_verdicts(model, data, part.train, seed, file_windows)
    tables, y = data.tables(part.test), data.y[part.test]
    probs = judge(verdicts, tables)
    metrics = {who: {p: classification_metrics(probs[p][who], y, data.genres) for p in PROTOCOLS} for who in probs["file"]}
    # the vote of file_windows windows is the file protocol's, already judged
    by_windows = {n: probs["file"]["rnn"] if n == file_windows else
                  RNNVerdict(model, data.genres, "file", n).predict_proba(tables) for n in VOTE_SIZES}
    probes = probe_table([v for v in verdicts if v.name == "rnn"], tables, y, KEPT_PROBES, repeats=1, seed=seed)
    row = {"fold": k, "n_test": len(y), "epochs": len(history["loss"]), "train_seconds": round(seconds, 1),
           **{key: {who: {p: m[p][key] for p in PROTOCOLS} for who, m in metrics.items()} for key in ("accuracy", "loss")},
           "recall": {who: {p: {g: v["recall"] for g, v in m[p]["per_genre"].items()} for p in PROTOCOLS}
                      for who, m in metrics.items()},
           "file_by_windows": {str(n): classification_metrics(v, y, data.genres)["accuracy"] for n, v in by_windows.items()},
           "probes": [r.to_dict() for r in probes]}
    row["order_effect"] = {p: order_and_top_attribute(row["probes"], p)["order effect"] for p in PROTOCOLS}
    files = [{"path": data.paths[i], "group": data.groups[i], "true": data.genres[data.y[i]], "fold": k,
              "probabilities": {who: {p: [round(float(v), 4) for v in probs[p][who][j]] for p in PROTOCOLS}
                                for who in STORED}}
             for j, i in enumerate(part.test)]
    return row, files


def cross_validate(data: Dataset, config: ModelConfig, folds: int = 5, seed: int = 0,
                   only_folds: list[int] | None = None, file_windows: int = FILE_WINDOWS,
                   log: Callable[[str], None] = print) -> dict:
    """Group ``folds``-fold cross-validation of ``config`` and the baseline on ``data``; fold
    ``k`` trains with seed ``seed + k``. A JSON-able dict: per fold the figures, the RNN's probes
    and vote sizes (``folds``), :func:`summarize`, :func:`recall_summary` and every test file's
    fold, group, genre and probabilities (``files``)."""
    from .train import fit

    rows, files = [], []
    for k, part in enumerate(group_folds(data.y, data.groups, folds, seed=seed)):
        if only_folds and k not in only_folds:
            continue
        start = time.perf_counter()
        model, history = fit(config, data, part.train, part.val, seed=seed + k)
        row, tested = _fold_row(k, model, history, time.perf_counter() - start, data, part, seed + k, file_windows)
        rows.append(row)
        files += tested
        a = row["accuracy"]
        log(f"fold {k}: {row['n_test']:4d} test files, {row['epochs']} epochs, {row['train_seconds']:.0f} s | "
            + " | ".join(f"{name} " + " ".join(f"{p} {a[who][p]:.3f}" for p in PROTOCOLS)
                         for who, name in (("rnn", "RNN"), ("baseline", "baseline"), ("combined", "RNN + baseline")))
            + " | RNN order effect " + " ".join(f"{p} {row['order_effect'][p]:+.3f}" for p in PROTOCOLS))
    return {
        "data": data_record(data),
        "config": config.to_dict(), "folds_total": folds, "seed": seed, "file_windows": file_windows,
        "folds": rows, "summary": summarize(rows), "recall": recall_summary(rows), "files": files,
    }


def summarize(folds: list[dict]) -> dict:
    """Mean and sd over the folds of accuracy, order effect and training time."""
    return {"accuracy": {who: {p: mean_sd([r["accuracy"][who][p] for r in folds]) for p in PROTOCOLS} for who in VERDICTS},
            "order_effect": {p: mean_sd([r["order_effect"][p] for r in folds]) for p in PROTOCOLS},
            "train_seconds": mean_sd([r["train_seconds"] for r in folds])}


def recall_summary(folds: list[dict]) -> dict:
    """Each genre's recall, mean and sd over the folds: with more genres one accuracy hides
    a genre rarely got right."""
    return {who: {p: {g: mean_sd([r["recall"][who][p][g] for r in folds]) for g in folds[0]["recall"][who][p]}
                  for p in PROTOCOLS} for who in VERDICTS}


def file_probabilities(result: dict, protocol: str = "file", who: str = "rnn") -> np.ndarray:
    """Every test file's probabilities under ``protocol`` of the verdict ``who``; the
    combined verdict's recomputed from the RNN's and the baseline's."""
    if who == "combined":
        return combine_proba(*(file_probabilities(result, protocol, w) for w in STORED))
    if who not in STORED:
        raise ValueError(f"unknown verdict {who!r}: use one of {VERDICTS}")
    return np.array([f["probabilities"][who][protocol] for f in result["files"]], dtype=float)


def _probabilities(result: dict, protocol: str, who: str = "rnn") -> tuple[np.ndarray, np.ndarray, list[str]]:
    genres = result["data"]["genres"]
    probs = file_probabilities(result, protocol, who)
    return probs, np.array([genres.index(f["true"]) for f in result["files"]]), genres


def pairwise_accuracy(result: dict, protocol: str = "file", who: str = "rnn") -> "pandas.DataFrame":
    """:func:`genre_lib.metrics.pair_accuracy` of ``who`` over every test file, hardest pair first."""
    import pandas as pd

    probs, y, genres = _probabilities(result, protocol, who)
    return pd.DataFrame(pair_accuracy(probs, y, genres)).sort_values("pair accuracy").reset_index(drop=True)


def shared_errors(result: dict, protocol: str = "file", a: str = "rnn", b: str = "baseline") -> dict:
    """How many files two verdicts both get wrong, against how many if their mistakes were
    independent given the genre (:func:`genre_lib.metrics.shared_mistakes`)."""
    pa, y, _ = _probabilities(result, protocol, a)
    pb, _, _ = _probabilities(result, protocol, b)
    return shared_mistakes(pa.argmax(1), pb.argmax(1), y)


def save_cv(result: dict, path: str | Path, overwrite: bool = False) -> Path:
    """Write a :func:`cross_validate` result as JSON (:func:`load_cv` reads it)."""
    return write_json(path, result, overwrite)


def load_cv(path: str | Path) -> dict:
    """A cross-validation result written by :func:`save_cv`."""
    return json.loads(Path(path).read_text())


def _predictions(result: dict, protocol: str, who: str = "rnn") -> "pandas.DataFrame":
    import pandas as pd

    genres = result["data"]["genres"]
    df = pd.DataFrame(result["files"])
    probs = file_probabilities(result, protocol, who)
    df["predicted"] = [genres[i] for i in probs.argmax(1)]
    df["p_predicted"] = probs.max(1)
    for j, g in enumerate(genres):
        df[f"p {g}"] = probs[:, j]
    return df.drop(columns="probabilities")


def errors_by_group(result: dict, protocol: str = "file", who: str = "rnn") -> "pandas.DataFrame":
    """Where ``who`` goes wrong, by artist or sequencer: per group with a misclassified file,
    its files, wrong, share and mean probability of the wrong answer; most first."""
    df = _predictions(result, protocol, who)
    df["wrong"] = df["predicted"] != df["true"]
    g = df.groupby(["group", "true"]).agg(files=("path", "size"), wrong=("wrong", "sum"))
    g["share wrong"] = g["wrong"] / g["files"]
    g["p wrong answer"] = df[df["wrong"]].groupby(["group", "true"])["p_predicted"].mean()
    g = g[g["wrong"] > 0].reset_index().rename(columns={"true": "genre"})
    return g.sort_values(["wrong", "share wrong"], ascending=False, kind="stable").reset_index(drop=True)


def errors_by_direction(result: dict, protocol: str = "file", who: str = "rnn") -> "pandas.DataFrame":
    """The groups behind each direction of error (true -> predicted genre) of ``who``,
    with their files called the other genre; most first."""
    df = _predictions(result, protocol, who)
    # an artist may have files in two genre folders: count the group's files of its true genre
    sizes = df.groupby(["group", "true"]).size()
    wrong = df[df["predicted"] != df["true"]]
    g = wrong.groupby(["true", "predicted", "group"]).size().rename("wrong").reset_index()
    g["files"] = [int(sizes[(group, true)]) for group, true in zip(g["group"], g["true"])]
    g["share"] = g["wrong"] / g["files"]
    g["direction total"] = g.groupby(["true", "predicted"])["wrong"].transform("sum")
    g = g.sort_values(["direction total", "true", "predicted", "wrong", "share", "group"],
                      ascending=[False, True, True, False, False, True], kind="stable")
    return g.drop(columns="direction total").reset_index(drop=True)


def misclassified_files(result: dict, protocol: str = "file", who: str = "rnn") -> "pandas.DataFrame":
    """The misclassified files of ``who`` under ``protocol``, with fold and ``p <genre>``
    columns, surest mistakes first."""
    import pandas as pd

    probs, y, genres = _probabilities(result, protocol, who)
    files = result["files"]
    rows = misclassified(probs, y, [f["path"] for f in files], genres, groups=[f["group"] for f in files])
    fold = {f["path"]: f["fold"] for f in files}
    df = pd.DataFrame([{**{k: v for k, v in r.items() if k != "probabilities"}, "fold": fold[r["path"]],
                        **{f"p {g}": p for g, p in r["probabilities"].items()}} for r in rows],
                      columns=["path", "group", "true", "predicted", "p_predicted", "fold", *[f"p {g}" for g in genres]])
    return df
