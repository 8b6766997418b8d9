"""Screening configurations of the network on one fold: the search for a model whose
note order matters (issue 19, item 3) and for a better four-genre model (issue 21).

Every candidate is ``MAIN_CONFIG`` with a few settings changed (:data:`CANDIDATES`).
*Screening* trains a candidate on one fold of the group 5-fold split
(:func:`genre_lib.splits.group_folds`, seed 0, fold 0 by default: the committed model's
kind of split) and measures on that fold's test files, under both protocols: the
accuracy and the order probes of :mod:`genre_lib.probes` (``shuffle``: the notes of
every window shuffled; ``reverse``; ``shuffle-16`` and ``shuffle-4``). The *order
effect* is the accuracy as is minus the accuracy shuffled. ``--cv`` runs every fold
for one candidate, with the baseline trained on the same files, and keeps every test
file's probabilities as :mod:`genre_lib.crossval` does.

    python scripts/order_search.py ../shared/midi --genres jazz electronic \
        --screen 8-augment no-summary intervals --json results/order-search.json
    python scripts/order_search.py ../shared/midi --genres jazz electronic \
        --cv intervals --json results/cv-order-intervals.json

Two checks read kept networks (``--models``) without training: ``--ensemble`` averages
several candidates' networks (are their mistakes their own?), ``--pooled-head`` fits a
logistic head on a network's pooled window features (do the windows hold more than the
vote passes on?).

    python scripts/order_search.py ../shared/midi --genres jazz electronic rock country \
        --screen 8-augment wide long --models runs/search4 --json results/search-four-genres.json
    python scripts/order_search.py ../shared/midi --genres jazz electronic rock country \
        --ensemble 8-augment wide long --models runs/search4 --json results/search-four-genres.json

Rows are added to ``--json`` (a row of the same candidate, fold and seed is replaced),
so screenings can run one at a time. ``--models DIR`` keeps each trained network
(``<candidate>-fold<k>-seed<s>.keras``) and measures a kept one again without
training. Fold ``k`` trains with seed ``seed + k``, as cross-validation does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from genre_lib.data_source import data_record
from genre_lib.dataset import MAX_NOTES, Dataset, load_dataset
from genre_lib.metrics import classification_metrics, mean_sd
from genre_lib.configs import ITERATIONS, MAIN_CONFIG, MAIN_ITERATION, ModelConfig
from genre_lib.probes import ORDER_PROBES, probe_table
from genre_lib.protocols import PROTOCOLS
from genre_lib.splits import Split, group_folds

#: the candidates: what each changes in words, and its settings changed from MAIN_CONFIG
CANDIDATES: dict[str, tuple[str, dict]] = {
    MAIN_ITERATION: ("the committed configuration (reference)", {}),
    "no-summary": ("no window statistics (6-categories with augmentation)", {"summary": False}),
    "intervals": ("no window statistics; per-part intervals, inter-onset times and their ratios "
                  "(PartIntervals) as GRU inputs", {"summary": False, "intervals": True}),
    "intervals+conv": ("intervals, a convolution over 5 notes in front of the GRU",
                       {"summary": False, "intervals": True, "conv": 5}),
    "intervals+summary": ("intervals with the window statistics kept (MAIN_CONFIG + intervals)",
                          {"intervals": True}),
    "intervals+conv+summary": ("intervals and the 5-note convolution, with the window statistics kept",
                               {"intervals": True, "conv": 5}),
    # capacity and training length, screened for four genres (issue 21)
    "wide": ("twice the units: a 128-unit GRU and a 128-unit dense layer", {"units": 128, "dense_units": 128}),
    "long": ("twice the epochs (40, the cosine schedule stretched over them)", {"epochs": 40}),
    "wide+long": ("128 units and 40 epochs", {"units": 128, "dense_units": 128, "epochs": 40}),
    "windows16": ("twice the windows of every training file per epoch (16)", {"windows": 16}),
    "wide+dropout": ("128 units with dropout 0.4", {"units": 128, "dense_units": 128, "dropout": 0.4}),
    "two-layers": ("two stacked 64-unit GRU layers", {"layers": 2}),
}


def candidate_config(name: str) -> ModelConfig:
    """The configuration of candidate ``name`` (:data:`CANDIDATES`, or any iteration)."""
    if name in CANDIDATES:
        return MAIN_CONFIG.replace(**CANDIDATES[name][1])
    if name in ITERATIONS:
        return ITERATIONS[name]
    raise SystemExit(f"unknown candidate {name!r}: use one of {', '.join([*CANDIDATES, *ITERATIONS])}")


def kept_path(models: Path, name: str, fold: int, seed: int) -> Path:
    """Where ``--models`` keeps the network of candidate ``name`` trained on fold ``fold`` with ``seed``."""
    return models / f"{name}-fold{fold}-seed{seed}.keras"


def kept_network(models: Path | None, name: str, fold: int, seed: int):
    """The kept network of candidate ``name`` on fold ``fold`` (trained with ``seed``),
    for the checks that train nothing; a one-line exit when it was not kept."""
    import keras

    path = kept_path(models, name, fold, seed) if models is not None else None
    if path is None or not path.is_file():
        raise SystemExit(f"{path or name}: no kept network; screen {name} with --models DIR first")
    import genre_lib.model  # noqa: F401  (registers the project's layers before Keras reads the file)

    return keras.models.load_model(path)


def trained(name: str, config: ModelConfig, data: Dataset, part, fold: int, seed: int, models: Path | None):
    """The network of candidate ``name`` on one fold: loaded from ``models`` if kept
    there, else trained with :func:`genre_lib.train.fit` (and kept). Returns
    ``(model, seconds, epochs)``; both are None for a loaded network."""
    from genre_lib.train import fit

    path = kept_path(models, name, fold, seed) if models else None
    if path is not None and path.is_file():
        return kept_network(models, name, fold, seed), None, None
    start = time.perf_counter()
    model, history = fit(config, data, part.train, part.val, seed=seed)
    seconds = round(time.perf_counter() - start, 1)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)
    return model, seconds, len(history["loss"])


def accuracies(model, data: Dataset, test: np.ndarray) -> tuple[dict, dict]:
    """Accuracy and loss of ``model`` judging the files ``test`` under both protocols
    (:class:`genre_lib.verdicts.RNNVerdict`), and its ``(files, genres)`` probabilities."""
    from genre_lib.verdicts import RNNVerdict

    tables, y = data.tables(test), data.y[test]
    probs = {p: RNNVerdict(model, data.genres, p).predict_proba(tables) for p in PROTOCOLS}
    figures = {p: {k: classification_metrics(probs[p], y, data.genres)[k] for k in ("accuracy", "loss")} for p in PROTOCOLS}
    return figures, probs


def measure(model, data: Dataset, test: np.ndarray, repeats: int, seed: int) -> tuple[dict, dict]:
    """Accuracy and order probes of ``model`` on the files ``test`` under both protocols.

    Returns:
        ``(figures, probabilities)``: ``figures[protocol]`` holds ``accuracy``, ``loss``
        and, per order probe, ``{effect, low, high, probed}``; ``probabilities[protocol]``
        the ``(files, genres)`` probabilities as is.
    """
    from genre_lib.verdicts import RNNVerdict

    figures, probs = accuracies(model, data, test)
    tables, y = data.tables(test), data.y[test]
    verdicts = [RNNVerdict(model, data.genres, p) for p in PROTOCOLS]
    for r in probe_table(verdicts, tables, y, probes=list(ORDER_PROBES), repeats=repeats, seed=seed):
        assert abs(r.accuracy - figures[r.protocol]["accuracy"]) < 1e-9, "the probe judges as the verdict does"
        figures[r.protocol][r.probe] = {"effect": r.effect, "low": r.low, "high": r.high, "probed": r.probed}
    return figures, probs


def same_files(part: Split, data: Dataset, longer: Dataset) -> tuple[Split, np.ndarray]:
    """``part`` (positions in ``data``) as positions in ``longer``, the same collection
    read with longer windows, without the files too short for them.

    Returns:
        ``(the split in longer's positions, the kept test files' positions in data)``.
    """
    where = {path: i for i, path in enumerate(longer.paths)}
    kept = [np.array([i for i in side if data.paths[i] in where], dtype=int) for side in part]
    moved = Split(*(np.array([where[data.paths[i]] for i in side], dtype=int) for side in kept))
    return moved, kept[2]


def fewer_groups(part: Split, groups: list[str], share: float, seed: int) -> Split:
    """``part`` with a seeded ``share`` of its training groups (artists, sequencers) kept:
    a point of the learning curve, tested on the same files."""
    train_groups = sorted({groups[i] for i in part.train})
    rng = np.random.default_rng(seed)
    kept = set(rng.permutation(train_groups)[: max(1, round(share * len(train_groups)))].tolist())
    return part._replace(train=np.array([i for i in part.train if groups[i] in kept], dtype=int))


def screen_row(name: str, data: Dataset, fold: int, seed: int, repeats: int, models: Path | None,
               longer: Dataset | None = None, train_share: float = 1.0) -> dict:
    """One screening row: candidate ``name`` trained and measured on fold ``fold``.

    With ``longer`` (the collection read with windows of more than 100 notes), the
    network reads windows of that length: it trains and is tested on fold ``fold`` of
    ``data`` without the files too short for them, and the kept network of the committed
    configuration (``--models``) is measured again on the same test files as the
    row's ``reference``. Its ``first100`` then reads the first window of that length.
    With ``train_share`` below 1, it trains on that share of the fold's training groups
    (:func:`fewer_groups`, seeded by ``seed``) and is tested on the same files."""
    config = candidate_config(name)
    part = group_folds(data.y, data.groups, 5, seed=0)[fold]
    notes = MAX_NOTES if longer is None else int(longer.X.shape[1])
    row_extra: dict = {}
    if longer is not None:
        part, test_here = same_files(part, data, longer)
        # the committed configuration on the same files, to compare with
        ref_figures, _ = accuracies(kept_network(models, MAIN_ITERATION, fold, seed + fold), data, test_here)
        row_extra = {"notes": notes, "reference": {"candidate": MAIN_ITERATION, "notes": MAX_NOTES,
                                                   **{p: {"accuracy": ref_figures[p]["accuracy"]} for p in PROTOCOLS}}}
        data = longer
    label = name if longer is None else f"{name}-{notes}notes"
    if train_share < 1:
        part = fewer_groups(part, list(data.groups), train_share, seed)
        label += f"-train{round(100 * train_share)}"
        row_extra["train_share"] = train_share
    model, seconds, epochs = trained(label, config, data, part, fold, seed + fold, models)
    figures, _ = measure(model, data, part.test, repeats, seed)
    what = CANDIDATES.get(name, (f"iteration {name}", {}))
    return {"candidate": label, "what": what[0] + (f", windows of {notes} notes" if longer is not None else ""),
            "changes": what[1], "config": config.to_dict(), "fold": fold,
            "seed": seed + fold, "n_train": len(part.train), "n_test": len(part.test), "params": int(model.count_params()),
            "train_seconds": seconds, "epochs": epochs, **row_extra, **{p: figures[p] for p in PROTOCOLS}}


def ensemble_row(names: list[str], data: Dataset, fold: int, seed: int, models: Path) -> dict:
    """The kept networks of candidates ``names`` on fold ``fold``, each alone and all
    together (:class:`genre_lib.verdicts.Combined`: their log-probabilities averaged), on
    that fold's test files under both protocols. If the networks' mistakes were their
    own (the variance of one training), the ensemble would beat each of them."""
    from genre_lib.verdicts import Combined, RNNVerdict, score

    part = group_folds(data.y, data.groups, 5, seed=0)[fold]
    networks = {name: kept_network(models, name, fold, seed + fold) for name in names}
    acc: dict = {}
    for p in PROTOCOLS:
        verdicts = [RNNVerdict(m, data.genres, p, name=name) for name, m in networks.items()]
        scores = score([*verdicts, Combined(*verdicts, name="ensemble")], data.tables(part.test), data.y[part.test])
        for v, m in scores.items():
            acc.setdefault(v, {})[p] = m["accuracy"]
    return {"candidate": "ensemble(" + "+".join(names) + ")", "fold": fold, "seed": seed + fold,
            "what": "the networks' log-probabilities averaged (no training)", "n_test": len(part.test),
            "members": {n: acc[n] for n in names}, **{p: {"accuracy": acc["ensemble"][p]} for p in PROTOCOLS}}


def pooled_head_row(name: str, data: Dataset, fold: int, seed: int, models: Path,
                    strengths: tuple[float, ...] = (0.01, 0.1, 1.0)) -> dict:
    """A learned file-level head instead of the vote: the kept network of candidate
    ``name`` on fold ``fold`` gives the features its logits are computed from (the last
    hidden layer) for each of the ``file`` protocol's windows; their mean, maximum and
    standard deviation over a file's windows feed a logistic regression fitted on the
    network's own training files, one per inverse regularisation strength in
    ``strengths``, all reported on the fold's test files beside the vote. If the windows
    held more about the file than their averaged logits pass on, a head would beat the
    vote; choosing the best strength on the test files makes that an upper bound."""
    import keras
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from genre_lib.protocols import FILE_WINDOWS
    from genre_lib.verdicts import RNNVerdict

    part = group_folds(data.y, data.groups, 5, seed=0)[fold]
    model = kept_network(models, name, fold, seed + fold)
    hidden = keras.Model(model.input, model.get_layer("logits").input)

    def pooled(files: np.ndarray) -> np.ndarray:
        # the windows the file protocol's vote reads, each file's features pooled over them
        windows = RNNVerdict(model, data.genres, "file").windows(data.tables(files)).reshape(-1, *model.input_shape[1:])
        h = hidden.predict(windows, batch_size=512, verbose=0).reshape(len(files), FILE_WINDOWS, -1)
        return np.concatenate([h.mean(1), h.max(1), h.std(1)], axis=1)

    x_train, x_test = pooled(part.train), pooled(part.test)
    y_train, y_test = data.y[part.train], data.y[part.test]
    voted = accuracies(model, data, part.test)[0]["file"]["accuracy"]
    heads = {}
    for c in strengths:
        head = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000)).fit(x_train, y_train)
        heads[str(c)] = {"train": float(head.score(x_train, y_train)), "test": float(head.score(x_test, y_test))}
    return {"candidate": f"pooled-head({name})", "fold": fold, "seed": seed + fold, "n_test": len(part.test),
            "what": "logistic regression on the mean, max and sd of the last hidden layer over the file's windows",
            "vote": voted, "heads": heads, "file": {"accuracy": max(h["test"] for h in heads.values())}}


def cross_validate_order(name: str, data: Dataset, seed: int, repeats: int, models: Path | None,
                         folds: int = 5, log=print) -> dict:
    """Group ``folds``-fold cross-validation of candidate ``name`` and of the baseline on
    the same files, with the RNN's order probes in every fold and every test file's
    probabilities (the RNN's and the baseline's, under both protocols)."""
    from genre_lib.verdicts import BaselineVerdict

    config = candidate_config(name)
    rows, files = [], []
    for k, part in enumerate(group_folds(data.y, data.groups, folds, seed=seed)):
        model, seconds, epochs = trained(name, config, data, part, k, seed + k, models)
        figures, probs = measure(model, data, part.test, repeats, seed)
        tables, y = data.tables(part.test), data.y[part.test]
        base = {p: BaselineVerdict(data.genres, p, seed=seed + k).fit(data.tables(part.train), data.y[part.train])
                .predict_proba(tables) for p in PROTOCOLS}
        row = {"fold": k, "seed": seed + k, "n_test": len(y), "train_seconds": seconds, "epochs": epochs,
               **{p: figures[p] for p in PROTOCOLS},
               "baseline": {p: classification_metrics(base[p], y, data.genres)["accuracy"] for p in PROTOCOLS}}
        rows.append(row)
        for j, i in enumerate(part.test):
            files.append({"path": data.paths[i], "group": data.groups[i], "true": data.genres[data.y[i]], "fold": k,
                          **{p: [round(float(v), 4) for v in probs[p][j]] for p in PROTOCOLS},
                          **{f"baseline_{p}": [round(float(v), 4) for v in base[p][j]] for p in PROTOCOLS}})
        log(f"fold {k}: " + " | ".join(
            f"{p} {row[p]['accuracy']:.3f} order {row[p]['shuffle']['effect']:+.3f} "
            f"baseline {row['baseline'][p]:.3f}" for p in PROTOCOLS) + f" | {seconds} s")
    summary = {}
    for p in PROTOCOLS:
        for key, values in (("accuracy", [r[p]["accuracy"] for r in rows]),
                            *((f"order_{probe}", [r[p][probe]["effect"] for r in rows]) for probe in ORDER_PROBES),
                            ("baseline", [r["baseline"][p] for r in rows])):
            summary[f"{p}_{key}"] = mean_sd(values)
    return {"candidate": name, "what": CANDIDATES.get(name, (name, {}))[0], "config": config.to_dict(),
            "data": data_record(data),
            "folds_total": folds, "seed": seed, "repeats": repeats, "folds": rows, "summary": summary, "files": files}


def _add_rows(path: Path, rows: list[dict], command: str) -> None:
    """Merge ``rows`` into the screening file at ``path`` (same candidate, fold, seed: replaced)."""
    old = json.loads(path.read_text()) if path.is_file() else {"rows": []}
    key = lambda r: (r["candidate"], r["fold"], r["seed"])  # noqa: E731
    fresh = {key(r) for r in rows}
    old["rows"] = [r for r in old["rows"] if key(r) not in fresh] + rows
    old.setdefault("commands", []).append(command)
    path.write_text(json.dumps(old, indent=1) + "\n")


def _line(row: dict) -> str:
    return f"{row['candidate']:18s} fold {row['fold']}: " + " | ".join(
        f"{p} {row[p]['accuracy']:.3f} order {row[p]['shuffle']['effect']:+.3f} "
        f"[{row[p]['shuffle']['low']:+.3f}, {row[p]['shuffle']['high']:+.3f}] reverse {row[p]['reverse']['effect']:+.3f}"
        for p in PROTOCOLS) + f" | {row['train_seconds']} s" + (
        f" | on the same {row['n_test']} files, {row['reference']['candidate']}: " + ", ".join(
            f"{p} {row['reference'][p]['accuracy']:.3f}" for p in PROTOCOLS) if "reference" in row else "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--genres", nargs="+", required=True)
    ap.add_argument("--screen", nargs="+", default=[], metavar="CANDIDATE", help="candidates to screen on --fold")
    ap.add_argument("--fold", type=int, default=0, help="the fold screened (of 5, group folds seed 0)")
    ap.add_argument("--cv", metavar="CANDIDATE", help="cross-validate this candidate (every fold)")
    ap.add_argument("--seed", type=int, default=0, help="fold k trains with seed + k")
    ap.add_argument("--repeats", type=int, default=3, help="draws of each random order probe")
    ap.add_argument("--models", type=Path, help="keep trained networks here and reuse kept ones")
    ap.add_argument("--train-share", type=float, default=1.0,
                    help="train on this share of the fold's training groups (a learning curve; same test files)")
    ap.add_argument("--notes", type=int, default=MAX_NOTES,
                    help="notes per window the screened networks read (the folds stay those of 100-note windows)")
    ap.add_argument("--ensemble", nargs="+", default=[], metavar="CANDIDATE",
                    help="average the kept networks (--models) of these candidates on --fold")
    ap.add_argument("--pooled-head", metavar="CANDIDATE",
                    help="a logistic head on the kept network's pooled window features of --fold, against the vote")
    ap.add_argument("--json", type=Path, required=True, help="screening: rows added here; --cv: the result")
    args = ap.parse_args()
    if not (args.screen or args.cv or args.ensemble or args.pooled_head):
        ap.error("give --screen CANDIDATE..., --ensemble CANDIDATE..., --pooled-head CANDIDATE or --cv CANDIDATE")
    if (args.ensemble or args.pooled_head) and args.models is None:
        ap.error("--ensemble and --pooled-head read kept networks: give --models DIR")
    for name in [*args.screen, *args.ensemble, *([args.cv] if args.cv else []),
                 *([args.pooled_head] if args.pooled_head else [])]:
        candidate_config(name)
    data = load_dataset(args.data_dir, args.genres, progress=False)
    command = "python scripts/order_search.py " + " ".join(sys.argv[1:])
    if not 0 < args.train_share <= 1:
        ap.error(f"--train-share must be in (0, 1], not {args.train_share}")
    longer = None
    if args.notes != MAX_NOTES:
        if args.notes < MAX_NOTES or not args.screen:
            ap.error(f"--notes screens windows longer than {MAX_NOTES} notes: give it with --screen")
        longer = load_dataset(args.data_dir, args.genres, max_notes=args.notes, progress=False)
        print(f"windows of {args.notes} notes: {len(longer)} of the {len(data)} files are long enough", flush=True)
    for name in args.screen:
        row = screen_row(name, data, args.fold, args.seed, args.repeats, args.models, longer, args.train_share)
        print(_line(row), flush=True)
        _add_rows(args.json, [row], command)
    if args.ensemble:
        row = ensemble_row(args.ensemble, data, args.fold, args.seed, args.models)
        print(f"{row['candidate']} fold {row['fold']}: " + " | ".join(
            f"{p} {row[p]['accuracy']:.3f} (members " + ", ".join(f"{n} {a[p]:.3f}" for n, a in row["members"].items())
            + ")" for p in PROTOCOLS), flush=True)
        _add_rows(args.json, [row], command)
    if args.pooled_head:
        row = pooled_head_row(args.pooled_head, data, args.fold, args.seed, args.models)
        print(f"{row['candidate']} fold {row['fold']}: vote {row['vote']:.3f}; heads (test, train by C): " + ", ".join(
            f"C={c} {h['test']:.3f} ({h['train']:.3f})" for c, h in row["heads"].items()), flush=True)
        _add_rows(args.json, [row], command)
    if args.cv:
        result = cross_validate_order(args.cv, data, args.seed, args.repeats, args.models,
                                      log=lambda line: print(line, flush=True))
        result["command"] = command
        for key, v in result["summary"].items():
            print(f"{key}: {v['mean']:.3f} ± {v['sd']:.3f}")
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
