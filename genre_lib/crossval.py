"""Group k-fold cross-validation: the accuracy figures the README and notebook 03 report.

Every file is a test file once; no sequencer or artist is on two sides of a fold, and
each fold's validation files are held out by group from its training files
(:func:`genre_lib.splits.group_folds`). In each fold the RNN and the baseline are
trained on the same training files and judged on the same test files under both
protocols (:mod:`genre_lib.protocols`). The result keeps every file's probabilities,
so the errors can be read by group afterwards (:func:`errors_by_group`) without
training again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from .data_source import identify
from .dataset import Dataset
from .metrics import classification_metrics, mean_sd, misclassified, pair_accuracy, shared_mistakes
from .model import ModelConfig
from .probes import KEPT_PROBES, order_and_top_attribute, probe_verdict
from .protocols import FILE_WINDOWS, PROTOCOLS
from .splits import group_folds
from .verdicts import VERDICTS, RNNVerdict, combine_proba

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
        :data:`VOTE_SIZES` windows, the RNN's probes on the fold's test files
        (:data:`genre_lib.probes.KEPT_PROBES`, one draw each, and the order effect
        under both protocols), epochs, seconds), ``summary`` (mean and standard
        deviation over the folds) and ``files`` (every test file's fold, group, true
        genre and the probabilities of the RNN and of the baseline under both
        protocols, keyed ``f"{verdict}_{protocol}"``; the combined verdict is computed
        from them, :func:`file_probabilities`).
    """
    from .train import fit, judge_fold

    rows, files = [], []
    for k, part in enumerate(group_folds(data.y, data.groups, folds, seed=seed)):
        if only_folds and k not in only_folds:
            continue
        start = time.perf_counter()
        model, history = fit(config, data, part.train, part.val, seed=seed + k)
        seconds = time.perf_counter() - start
        verdicts, scores = judge_fold(model, data, part.train, part.test, seed + k, file_windows)
        tables, y = data.tables(part.test), data.y[part.test]
        probs = scores.probabilities
        # the vote of file_windows windows is the file protocol's, already scored
        by_windows = {n: probs["rnn"]["file"] if n == file_windows else
                      RNNVerdict(model, data.genres, n).predict_proba(tables, "file") for n in VOTE_SIZES}
        row = {"fold": k, "n_test": len(y), "epochs": len(history["loss"]), "train_seconds": round(seconds, 1)}
        for p in PROTOCOLS:
            for who, m in scores.metrics.items():
                row[f"{who}_{p}"] = m[p]["accuracy"]
                row[f"{who}_{p}_loss"] = m[p]["loss"]
                row[f"{who}_{p}_recall"] = {g: v["recall"] for g, v in m[p]["per_genre"].items()}
        row["file_by_windows"] = {str(n): classification_metrics(v, y, data.genres)["accuracy"] for n, v in by_windows.items()}
        row["probes"] = [r.to_dict() for r in probe_verdict(verdicts[0], tables, y, KEPT_PROBES, repeats=1, seed=seed + k)]
        for p in PROTOCOLS:
            row[f"rnn_{p}_order_effect"] = order_and_top_attribute(row["probes"], p)["order effect"]
        rows.append(row)
        for j, i in enumerate(part.test):
            files.append({"path": data.paths[i], "group": data.groups[i], "true": data.genres[data.y[i]], "fold": k,
                          **{f"{who}_{p}": [round(float(v), 4) for v in probs[who][p][j]]
                             for who in ("rnn", "baseline") for p in PROTOCOLS}})
        log(f"fold {k}: {len(y):4d} test files, {row['epochs']} epochs, {seconds:.0f} s | "
            f"RNN first100 {row['rnn_first100']:.3f} file {row['rnn_file']:.3f} | "
            f"baseline first100 {row['baseline_first100']:.3f} file {row['baseline_file']:.3f} | "
            f"RNN + baseline first100 {row['combined_first100']:.3f} file {row['combined_file']:.3f} | "
            f"RNN order effect first100 {row['rnn_first100_order_effect']:+.3f} file {row['rnn_file_order_effect']:+.3f}")
    summary = {key: mean_sd([r[key] for r in rows])
               for key in [f"{who}_{p}" for who in VERDICTS for p in PROTOCOLS]
               + [f"rnn_{p}_order_effect" for p in PROTOCOLS] + ["train_seconds"]}
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
    targets for more genres ask for every genre's recall.
    """
    out: dict[str, dict[str, dict[str, float]]] = {}
    for who in VERDICTS:
        for p in PROTOCOLS:
            if f"{who}_{p}_recall" not in folds[0]:  # a result from before the combined verdict
                continue
            per = [r[f"{who}_{p}_recall"] for r in folds]
            out[f"{who}_{p}"] = {g: mean_sd([f[g] for f in per]) for g in per[0]}
    return out


def file_probabilities(result: dict, protocol: str = "file", who: str = "rnn") -> np.ndarray:
    """Every test file's probabilities ``(files, genres)`` under ``protocol`` from a
    :func:`cross_validate` result, of the verdict ``who`` (:data:`VERDICTS`; the
    combined one is recomputed from the stored RNN and baseline probabilities by the
    same rule, :func:`genre_lib.verdicts.combine_proba`)."""
    files = result["files"]
    if who == "combined":
        return combine_proba(file_probabilities(result, protocol, "rnn"), file_probabilities(result, protocol, "baseline"))
    if who not in VERDICTS:
        raise ValueError(f"unknown verdict {who!r}: use one of {VERDICTS}")
    key = f"{who}_{protocol}"
    if key not in files[0]:
        raise KeyError(f"this cross-validation result has no {key} probabilities per file; run it again")
    return np.array([f[key] for f in files], dtype=float)


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

    With more than two genres this separates the pairs one accuracy mixes: for example
    whether rock and electronic, from one site, are harder to tell apart than jazz and
    electronic, from two sites. ``who`` picks the verdict (:data:`VERDICTS`).
    """
    import pandas as pd

    probs, y, genres = _probabilities(result, protocol, who)
    return pd.DataFrame(pair_accuracy(probs, y, genres)).sort_values("pair accuracy").reset_index(drop=True)


def shared_errors(result: dict, protocol: str = "file", a: str = "rnn", b: str = "baseline") -> dict:
    """:func:`genre_lib.metrics.shared_mistakes` of two verdicts (:data:`VERDICTS`) over
    every test file of a :func:`cross_validate` result: how many files both get wrong,
    against how many they would if their mistakes were independent given the genre.
    Many more shared mistakes than that point at the files, not at either model."""
    pa, y, _ = _probabilities(result, protocol, a)
    pb, _, _ = _probabilities(result, protocol, b)
    return shared_mistakes(pa.argmax(1), pb.argmax(1), y)


def save_cv(result: dict, path: str | Path, overwrite: bool = False) -> Path:
    """Write a :func:`cross_validate` result as JSON (refusing to replace a file unless
    ``overwrite``), to be read back with :func:`load_cv`."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: exists; not replaced")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    tmp.replace(path)
    return path


#: the per-file keys of results written before the verdicts were named (the RNN's
#: probabilities were keyed by the protocol alone)
_OLD_FILE_KEYS = {"first100": "rnn_first100", "file": "rnn_file"}


def load_cv(path: str | Path) -> dict:
    """A cross-validation result written by :func:`save_cv`. A result written before
    the per-file probabilities were keyed by verdict (``"first100"`` for the RNN's)
    is read with the new keys (``"rnn_first100"``)."""
    result = json.loads(Path(path).read_text())
    for f in result.get("files", []):
        for old, new in _OLD_FILE_KEYS.items():
            if old in f and new not in f:
                f[new] = f.pop(old)
    return result


def _predictions(result: dict, protocol: str, who: str = "rnn") -> "pandas.DataFrame":
    """One row per file of a :func:`cross_validate` result with the predicted genre of
    the verdict ``who``, the probability of that genre and the probability of each genre
    under ``protocol``."""
    import pandas as pd

    genres = result["data"]["genres"]
    df = pd.DataFrame(result["files"])
    probs = file_probabilities(result, protocol, who)
    df["predicted"] = [genres[i] for i in probs.argmax(1)]
    df["p_predicted"] = probs.max(1)
    for j, g in enumerate(genres):
        df[f"p {g}"] = probs[:, j]
    return df.drop(columns=[c for c in df.columns if c.startswith(("rnn_", "baseline_"))])


def errors_by_group(result: dict, protocol: str = "file", who: str = "rnn") -> "pandas.DataFrame":
    """Where a verdict (``who``, :data:`VERDICTS`) goes wrong, by artist or sequencer:
    one row per group with at least one misclassified file under ``protocol``, the
    groups with most errors first.

    Columns: group, genre (the group's true genre), files, wrong, share wrong, and the
    mean probability the verdict gave the genre it wrongly chose.
    """
    df = _predictions(result, protocol, who)
    df["wrong"] = df["predicted"] != df["true"]
    g = df.groupby(["group", "true"]).agg(files=("path", "size"), wrong=("wrong", "sum"))
    g["share wrong"] = g["wrong"] / g["files"]
    g["p wrong answer"] = df[df["wrong"]].groupby(["group", "true"])["p_predicted"].mean()
    g = g[g["wrong"] > 0].reset_index().rename(columns={"true": "genre"})
    return g.sort_values(["wrong", "share wrong"], ascending=False, kind="stable").reset_index(drop=True)


def errors_by_direction(result: dict, protocol: str = "file", who: str = "rnn") -> "pandas.DataFrame":
    """The groups behind each direction of error: one row per (true genre, predicted
    genre, group) with at least one file of the group's genre called the other genre by
    the verdict ``who`` under ``protocol``.

    Columns: true, predicted, group, wrong (files called ``predicted``), files (the
    group's files of the true genre) and share (wrong / files); within each direction the groups with
    most such files first, directions with most errors first. With more than two genres
    "jazz files called country" and "country files called jazz" are separate rows, so
    the groups that sit on each side of a border can be read apart.
    """
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
    """The misclassified files of the verdict ``who`` (:data:`VERDICTS`) under
    ``protocol`` (:func:`genre_lib.metrics.misclassified`), with each file's fold and
    one column ``p <genre>`` per genre, surest mistakes first."""
    import pandas as pd

    probs, y, genres = _probabilities(result, protocol, who)
    files = result["files"]
    rows = misclassified(probs, y, [f["path"] for f in files], genres, groups=[f["group"] for f in files])
    fold = {f["path"]: f["fold"] for f in files}
    df = pd.DataFrame([{**{k: v for k, v in r.items() if k != "probabilities"}, "fold": fold[r["path"]],
                        **{f"p {g}": p for g, p in r["probabilities"].items()}} for r in rows],
                      columns=["path", "group", "true", "predicted", "p_predicted", "fold", *[f"p {g}" for g in genres]])
    return df
