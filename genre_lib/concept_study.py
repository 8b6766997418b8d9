"""What music a judge hears: concepts per genre (:func:`data_table`: AUC, Cliff's delta),
verdicts on edited files (:func:`edit_table`), probes of the RNN's state with a control
task (:func:`probe_table`, Hewitt & Liang 2019) and the answer (:func:`answer`). The edit
table explains each file's *margin* (log p(true genre) - max log p(other); for a network its
logits, as the protocol reads) and counts the verdicts that change, with 95 % intervals.
TCAV is left out: it follows a gradient along a concept direction, the edits change the music."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .concepts import NAMES, Piece, measure, read_piece, to_table
from .edits import EDITS, HORSE, edit
from .metrics import bootstrap_interval
from .midi_io import DRUM, MidiError
from .protocols import FIRST_N, PROTOCOLS

if TYPE_CHECKING:
    from .runs import Run
    from .verdicts import Verdict

BOOTSTRAP = 2000


def judges_for(run: "Run", protocol: str, others: dict | None = None) -> list["Verdict"]:
    """The verdicts of ``run`` under ``protocol`` (RNN and baseline) and the RNN of each run of
    ``others`` (``{name: run}``, same genres), named by its key."""
    judges = [run.verdict("rnn", protocol), run.verdict("baseline", protocol)]
    judges += [replace(r.verdict("rnn", protocol), name=name) for name, r in (others or {}).items()]
    if any(tuple(j.classes_) != tuple(run.genres) for j in judges):
        raise ValueError(f"the judges' genres differ: {[j.classes_ for j in judges]}")
    return judges


@dataclass
class Files:
    """Files read once: path, genre, group, piece, note table, each row's note; the skipped."""

    paths: list[str]
    y: np.ndarray
    groups: list[str]
    pieces: list[Piece]
    tables: list[np.ndarray]
    rows: list[np.ndarray]
    skipped: list[tuple[str, str]]


def load_files(root: str | Path, genres: Sequence[str], paths: Sequence[str] | None = None) -> Files:
    """Every ``<genre>/*.mid`` of ``root`` for ``genres`` (or only ``paths``), labelled by
    index; unreadable, drums-only and short files skipped."""
    from .dataset import check_usable, find_midi_files, group_of

    root = Path(root)
    if paths is None:  # the genres with a folder here (all of them named in the error if none has one)
        here = [g for g in genres if (root / g).is_dir()] or list(genres)
        paths = [p.relative_to(root).as_posix() for ps in find_midi_files(root, here).values() for p in ps]
    lower, kept, skipped = [g.lower() for g in genres], [], []
    for rel in paths:
        try:
            piece = read_piece(root / rel)
            table, rows = to_table(piece)
            check_usable(table, rel, FIRST_N)
            kept.append((rel, lower.index(rel.split("/")[0].lower()), group_of(rel), piece, table, rows))
        except MidiError as exc:
            skipped.append((rel, exc.reason))
    paths, y, groups, pieces, tables, rows = (list(c) for c in zip(*kept)) if kept else ([],) * 6
    return Files(paths, np.array(y, dtype=np.int64), groups, pieces, tables, rows, skipped)


def _margin(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    from .inference import objective_value

    return objective_value(np.log(np.maximum(p, 1e-300)), y, "margin")


def render(files: Files, edits: Sequence[str] = tuple(EDITS), shift: bool = True) -> dict:
    """Each edit of each file, rendered once: ``{edit: {"index", "tables", "before", "shift"}}``
    (tables None under 100 notes; ``before``: the changed files' concepts before the edit;
    ``shift=False``: concepts not measured)."""
    base, out = np.array([measure(p) if shift else np.full(len(NAMES), np.nan) for p in files.pieces]), {}
    for name in edits:
        done = [(i, q) for i, p in enumerate(files.pieces) for q in [edit(p, name)] if q is not p]
        index = np.array([i for i, _ in done], dtype=np.int64)
        after = np.array([measure(q) if shift else base[i] for i, q in done]).reshape(-1, len(NAMES))
        out[name] = {"index": index, "before": base[index], "shift": after - base[index], "tables": [
            t if len(t) >= FIRST_N and (t[:, DRUM] < 0.5).any() else None for t in (to_table(q)[0] for _, q in done)]}
    return out


def edit_table(files: Files, judges: dict[str, list["Verdict"]], rendered: dict | None = None, seed: int = 0) -> dict:
    """For every edit, judge (and RNN + baseline) and protocol on all ``files``: the margin's
    change and the share of verdicts changed, with 95 % bootstrap intervals over files (a file
    left alone counts as no change), per genre, and where changed verdicts go."""
    from .verdicts import combine_proba

    rendered = rendered or render(files)
    genres, rows = next(iter(judges.values()))[0].classes_, []
    for protocol, js in judges.items():
        probs = {j.name: {None: j.predict_proba(files.tables)} for j in js}
        for j in js:
            for name, r in rendered.items():
                ok = [k for k, t in enumerate(r["tables"]) if t is not None]
                p = probs[j.name][None].copy()
                p[r["index"]] = np.nan
                if ok:  # one call per edit: every file it changed at once
                    p[r["index"][ok]] = j.predict_proba([r["tables"][k] for k in ok])
                probs[j.name][name] = p
        if {"rnn", "baseline"} <= set(probs):
            probs["combined"] = {k: combine_proba(probs["rnn"][k], probs["baseline"][k]) for k in probs["rnn"]}
        for judge, by in probs.items():
            for name in rendered:
                ok = ~np.isnan(by[name]).any(1)
                (b, a), y = (by[k][ok] for k in (None, name)), files.y[ok]
                d, flip = _margin(a, y) - _margin(b, y), (a.argmax(1) != b.argmax(1)).astype(float)
                rows.append({"edit": name, "judge": judge, "protocol": protocol, "files": int(ok.sum()),
                             "margin": float(d.mean()), "margin_interval": bootstrap_interval(d, seed=seed),
                             "flipped": float(flip.mean()), "flipped_interval": bootstrap_interval(flip, seed=seed),
                             "accuracy": [float((b.argmax(1) == y).mean()), float((a.argmax(1) == y).mean())],
                             "per_genre": {g: {"files": int((y == k).sum()), "margin": float(d[y == k].mean()),
                                               "flipped": float(flip[y == k].mean())} for k, g in enumerate(genres)
                                           if (y == k).any()},
                             "to": {g: int((a.argmax(1)[flip > 0] == k).sum()) for k, g in enumerate(genres)}})
    edits = {name: {"text": EDITS[name].text, "moves": list(EDITS[name].moves), "changed": int(len(r["index"])),
                    "shift": dict(zip(NAMES, np.nanmean(r["shift"], 0).tolist() if np.isfinite(r["shift"]).any() else [np.nan] * len(NAMES)))}
             for name, r in rendered.items()}
    return {"files": len(files.y), "genres": list(genres), "seed": seed, "bootstrap": BOOTSTRAP, "edits": edits,
            "rows": rows, "margin": "log p(true genre) - max log p(other genre): for a network its logits' difference"}


def movers(table: dict, judge: str = "rnn", protocol: str = "file") -> tuple[float, list[dict], list[dict]]:
    """The edits a judge hears: the most a horse test changes (the level), the rows of the
    edits whose interval lies wholly above it (most first), and the other rows."""
    rows = [r for r in table["rows"] if r["judge"] == judge and r["protocol"] == protocol]
    level = max(r["flipped"] for r in rows if r["edit"] in HORSE)
    heard = sorted((r for r in rows if r["edit"] not in HORSE and r["flipped_interval"][0] > level), key=lambda r: -r["flipped"])
    return level, heard, [r for r in rows if r["edit"] not in HORSE and r not in heard]


def answer(table: dict, judge: str = "rnn", protocol: str = "file", what: str = "held-out") -> str:
    """The edit table's answer in two sentences for one judge and protocol (:func:`movers`)."""
    from .verdicts import LABELS

    horse, heard, rest = movers(table, judge, protocol)
    cite = "; ".join(f"{r['edit']} {r['flipped']:.1%} ({r['flipped_interval'][0]:.1%} to {r['flipped_interval'][1]:.1%}; "
                     f"margin {r['margin']:+.2f}, {r['margin_interval'][0]:+.2f} to {r['margin_interval'][1]:+.2f}; "
                     + ", ".join(f"{n} to {g}" for g, n in r["to"].items() if n) + ")" for r in heard)
    others = ", ".join(f"{r['edit']} ({r['flipped']:.1%})" for r in rest)
    return (f"Judged by the {LABELS.get(judge, judge)} ({protocol} protocol) on the {table['files']} {what} files, the edits "
            f"that change more verdicts than any horse test (at most {horse:.1%}: a whole tone up or down, 6 % faster or "
            f"slower) are {cite or 'none'}. The others cannot be told from a horse test (their interval reaches down to "
            f"it): {others or 'none'}.")


def data_table(values: np.ndarray, y: np.ndarray, genres: Sequence[str]) -> dict:
    """Each concept per genre (files, quartiles, undefined) and per pair ``"a / b"``: the AUC
    (a file of ``a`` has more of it than one of ``b``, ties half) and Cliff's delta."""
    from scipy.stats import mannwhitneyu

    out = {}
    for i, c in enumerate(NAMES):
        v = [x[~np.isnan(x)] for x in (values[y == k, i] for k in range(len(genres)))]
        per = {g: {"files": len(x), "undefined": int((y == k).sum() - len(x)), **dict(zip(
            ("q1", "median", "q3"), np.quantile(x, [0.25, 0.5, 0.75]).tolist() if len(x) else [np.nan] * 3))}
            for k, (g, x) in enumerate(zip(genres, v))}
        auc = {f"{genres[a]} / {genres[b]}": mannwhitneyu(v[a], v[b]).statistic / (len(v[a]) * len(v[b]))
               if len(v[a]) and len(v[b]) else np.nan for a in range(len(genres)) for b in range(a + 1, len(genres))}
        out[c] = {"genres": per, "pairs": {k: {"auc": float(x), "delta": float(2 * x - 1)} for k, x in auc.items()}}
    return out


def hidden_states(run: "Run", windows: np.ndarray, layer: str = "gru_1") -> np.ndarray:
    """The RNN's final recurrent state for each window ``(windows, units)``."""
    import keras

    m = keras.Model(run.model.inputs[0], run.model.get_layer(layer).output)
    return np.concatenate([np.asarray(m(windows[i:i + 1024], training=False)) for i in range(0, len(windows), 1024)])


def probe_table(states: np.ndarray, surface: np.ndarray, values: np.ndarray, groups: np.ndarray, files: np.ndarray,
                seed: int = 0, folds: int = 5) -> list[dict]:
    """Per concept, a logistic probe of ``states`` for "above the windows' median": its
    accuracy on held-out groups, the control task's (labels shuffled), selectivity with a 95 %
    interval over ``files``, and the same probe on ``surface`` (the 48 note statistics)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    out = []
    for i, c in enumerate(NAMES):
        ok = ~np.isnan(values[:, i])
        label = values[ok, i] > (np.median(values[ok, i]) if ok.any() else 0)
        if not 0.05 <= (label.mean() if ok.any() else 0) <= 0.95:
            out.append({"concept": c, "windows": int(ok.sum()), "note": "one label on 95 % of windows: not probed"})
            continue
        control = np.random.default_rng(seed).permutation(label)
        r, rc, rs = (cross_val_predict(probe, x[ok], lab, groups=groups[ok], cv=GroupKFold(folds)) == lab
                     for x, lab in ((states, label), (states, control), (surface, label)))
        f, count = files[ok], np.bincount(files[ok])
        per_file = (np.bincount(f, r) - np.bincount(f, rc))[count > 0] / count[count > 0]
        out.append({"concept": c, "windows": int(ok.sum()), "base_rate": float(label.mean()),
                    "accuracy": float(r.mean()), "control": float(rc.mean()), "selectivity": float(r.mean() - rc.mean()),
                    "selectivity_interval": bootstrap_interval(per_file, seed=seed), "surface": float(rs.mean())})
    return out


def probe_windows(run: "Run", files: Files) -> dict:
    """The ``file`` protocol's windows of every file: the RNN's states, statistics, concepts."""
    from .note_statistics import statistics
    from .windows import even_starts, even_windows

    k, n = int(run.meta["file_windows"]), run.max_notes
    windows, owner = even_windows(files.tables, k, n)
    values = np.array([measure(p, r[s:s + n]) for p, r in zip(files.pieces, files.rows) for s in even_starts(len(r), k, n)])
    return {"states": hidden_states(run, windows), "surface": statistics(windows),
            "values": values, "groups": np.array(files.groups)[owner], "files": owner}


def concept_report(run: "Run", root: str | Path, split: str = "all", others: dict | None = None, seed: int = 0) -> dict:
    """What ``genre-lib concepts`` prints: the edit table of ``run`` (and ``others``) on
    ``root``'s files (``split="test"``: the held-out ones) and its answers (DataError: no
    file to edit)."""
    from .dataset import DataError

    paths = [p for p in run.meta["split"]["test_files"] if (Path(root) / p).is_file()] if split == "test" else None
    if paths == []:
        raise DataError(f"{root}: none of the run's {len(run.meta['split']['test_files'])} held-out test files is here")
    files = load_files(root, run.genres, paths)  # a genre without its folder: a DataError naming it
    if not files.paths:
        raise DataError(f"{root}: no usable file of {', '.join(run.genres)} ({len(files.skipped)} skipped)")
    table = edit_table(files, {p: judges_for(run, p, others) for p in PROTOCOLS}, seed=seed)
    judges = dict.fromkeys(r["judge"] for r in table["rows"])
    return {"run": str(run.path), "data": str(root), "split": split, "skipped": [list(s) for s in files.skipped],
            "table": table, "answers": {f"{j} {p}": answer(table, j, p) for j in judges for p in PROTOCOLS}}


def text_table(table: dict) -> str:
    """The edit table for people: per edit, judge and protocol, verdicts changed and margin change."""
    cells: dict = {}
    for r in table["rows"]:
        cells.setdefault((r["edit"], r["judge"]), {})[r["protocol"]] = "{:5.1%} [{:5.1%}, {:5.1%}] {:+.2f} [{:+.2f}, {:+.2f}]".format(
            r["flipped"], *r["flipped_interval"], r["margin"], *r["margin_interval"])
    return "\n".join([f"{'edit':23} {'judge':9} " + "  ".join(f"{p + ': changed [95 %], margin [95 %]':46}" for p in PROTOCOLS)]
                     + [f"{e:23} {j:9} " + "  ".join(f"{by.get(p, '-'):46}" for p in PROTOCOLS) for (e, j), by in cells.items()])
