"""The mentor's report: one self-contained HTML folder under reports/.

    python scripts/make_report.py                       # demo data -> reports/demo/ (data/real -> reports/midi/)
    GENRE_DATA=../shared/midi python scripts/make_report.py   # real data -> reports/midi/
    python scripts/make_report.py --no-run              # the page again from the notebooks already run

The data folder follows :func:`genre_lib.data_source.resolve_data_dir` (``GENRE_DATA``,
else ``data/real`` from ``make data``, else the generated demo corpus); the report goes
to ``reports/<collection id>/`` (``midi`` for the real collection wherever it lies,
``demo`` for the demo corpus; see :func:`genre_lib.data_source.identify`).

Executes the notebooks in order (scripts/run_notebooks.py), then writes ``index.html``.
At the top: the iterations table beside the study's reported figures; the model
notebooks 04 and 05 explain under both protocols (``first100`` and ``file``) with its
confusion matrices, beside the committed cross-validation made with its settings
(:func:`committed_cv`); one saliency map and one flip side by side, and the map's checks
(the outputs of the notebook cells tagged ``report``). Below it, the committed models of
more genres that go with the data (notebook 06), held-out and cross-validated, with each
genre's recall. Then, **for the mentor, each notebook's dated summary** (the prose of
``docs/mentor-notes.md``; the figures computed here from ``results/`` and ``models/``,
:func:`mentor_figures`), linked to the generated results pages (``results/*.md``). Then:
what is new since the previous report, every run by the date it was trained, the run
time of each notebook, every setting and result of the iterations, the best run by
validation and every ``report`` figure, with links to the executed notebooks. Figures are
embedded, so the page can be copied or mailed (the links to ``results/`` and the
notebooks' HTML are relative). Laid out for a 1366-px-wide screen: nothing runs off the
page or overlaps (``tests/test_browser.py`` checks it in headless Chromium).

**New since the previous report.** The mentor reads the page every two weeks. Each
report keeps what it showed in ``previous.json`` beside ``index.html`` (when it was
made; every run's id, date trained and accuracies); the next report in the same folder
marks a run that is not in it as *new since <date>*, one trained again or whose
accuracy changed as such, and lists the runs that are gone. Nothing the user made is
overwritten silently: an ``index.html`` or ``previous.json`` this script did not write
stops the report with a message (move it away or choose ``--out``).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import functools
import html
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run_notebooks, beside this script

import results_pages  # noqa: E402
import run_notebooks  # noqa: E402

# genre_lib, by stable high-level names only (the package is being refactored): the data
# rule, the run folders, the study's table, and the readers of committed results
from genre_lib import paths  # noqa: E402
from genre_lib.crossval import file_probabilities, load_cv, shared_errors  # noqa: E402
from genre_lib.concept_study import answer, movers  # noqa: E402
from genre_lib.configs import ITERATIONS, MAIN_ITERATION, STUDY_COLUMNS, STUDY_REPORTED  # noqa: E402
from genre_lib.data_source import DataChoice, resolve_data_dir  # noqa: E402
from genre_lib.dataset import DataError  # noqa: E402
from genre_lib.metrics import mcnemar  # noqa: E402
from genre_lib.paths import shown  # noqa: E402
from genre_lib.runs import RunError, best_by_validation, find_runs, iterations_table, read_metrics, read_run_meta  # noqa: E402
from genre_lib.saliency_checks import load_checks  # noqa: E402
from genre_lib.locations import COMMITTED_RUNS, STORED_CHECKS, committed_run, iterations_dir, study_run_dir  # noqa: E402
from genre_lib.locations import runs_dir as locations_runs_dir  # noqa: E402

#: marks the files this script writes, so it never overwrites one it did not write
GENERATOR = "genre-rnn scripts/make_report.py"
PAGE, PREVIOUS = "index.html", "previous.json"
#: accuracies that differ by less than this are the same (metrics.json keeps full floats)
SAME = 5e-4

CSS = """
* { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; max-width: 1250px; margin: 1em auto; padding: 0 12px; color: #222; font-size: 14px; }
p, li, td, th, caption, figcaption { overflow-wrap: break-word; }
h1 { font-size: 1.4em; margin: 0.2em 0; } h2 { font-size: 1.15em; margin: 1.2em 0 0.4em; } h3 { font-size: 1em; margin: 0.6em 0 0.3em; }
h4 { font-size: 0.95em; margin: 0.6em 0 0.2em; }
table { border-collapse: collapse; font-size: 0.85em; max-width: 100%; margin: 0.3em 0; }
td, th { border: 1px solid #ccc; padding: 2px 5px; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; white-space: nowrap; } .new { background: #e4f6e4; } .changed { background: #fff1cc; }
caption { text-align: left; font-size: 0.95em; color: #444; padding: 2px 0; }
.mark { font-weight: bold; color: #1a6b1a; } .changed .mark { color: #8a5a00; }
.note { background: #fff6d6; padding: 0.4em 0.8em; border-left: 4px solid #e0b000; margin: 0.4em 0; }
.row2 { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 0.6em 1.6em; align-items: start; }
.row2 > div { min-width: 0; } .row2 h2 { margin-top: 0.3em; }
figure { margin: 0.6em 0; } figcaption { color: #555; font-size: 0.85em; }
img { max-width: 100%; height: auto; display: block; } .small { color: #555; font-size: 0.85em; }
pre { font-size: 0.78em; margin: 0.3em 0; white-space: pre-wrap; overflow-wrap: anywhere; background: #f8f8f8; padding: 0.3em 0.5em; }
code { overflow-wrap: anywhere; }
.wide table, table.wide { font-size: 0.75em; } .wide td, .wide th { padding: 1px 3px; }
.tcap { margin: 0.5em 0 0.1em; } .toc { font-size: 0.9em; } .toc a { margin-right: 1em; }
section.mentor { border-top: 1px solid #ddd; margin-top: 1em; padding-top: 0.3em; }
section.mentor ul { margin: 0.2em 0 0.4em 1.2em; padding: 0; }
.md p, p.answer { font-size: 0.85em; color: #444; } th code { overflow-wrap: normal; }
"""


def _commit() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=paths.PROJECT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=paths.PROJECT, capture_output=True, text=True).stdout.strip()
        return rev + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def _e(value) -> str:
    return html.escape(str(value))


def _num(value, digits: int = 3) -> str:
    try:
        return "" if value is None or value != value else f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return _e(value)


# ---------------------------------------------------------------------------- runs


def small(choice: DataChoice, quick: bool) -> bool:
    """Whether the notebooks trained the quick configurations: in quick mode, and always
    on the demo corpus (notebooks 03 to 05: ``QUICK or DEMO``)."""
    return quick or choice.is_demo


def report_run_dirs(choice: DataChoice) -> list[Path]:
    """Every run the report lists: the run folders the notebooks made for this data
    (``runs/<collection id>/``) and the committed models in ``models/`` trained on the
    same collection."""
    runs = locations_runs_dir(choice)
    found = find_runs(runs) if runs.is_dir() else []
    models = paths.MODELS_DIR
    for path in find_runs(models) if models.is_dir() and not choice.is_demo else []:
        try:
            if choice.same_collection(read_run_meta(path).get("data", {})):
                found.append(path)
        except RunError:
            found.append(path)  # listed with its problem, not left out
    return found


def run_records(run_dirs: list[Path]) -> list[dict]:
    """One record per run folder (id, date trained, accuracies under both protocols,
    baseline, problem if unreadable), newest first; ties by id."""
    records = []
    for path in run_dirs:
        record = {"id": shown(path), "trained": None, "accuracy": None, "first100 accuracy": None,
                  "baseline accuracy": None, "baseline first100": None, "note": ""}
        try:
            meta = read_run_meta(path)
            metrics = read_metrics(path)
        except (RunError, OSError, json.JSONDecodeError) as exc:
            record["note"] = str(exc)
            records.append(record)
            continue
        test = metrics.get("rnn", {}).get("protocols", {})
        base = metrics.get("baseline", {}).get("protocols", {})
        record.update({
            "trained": meta.get("trained_on"),
            "accuracy": test.get("file", {}).get("accuracy"),
            "first100 accuracy": test.get("first100", {}).get("accuracy"),
            "baseline accuracy": base.get("file", {}).get("accuracy"),
            "baseline first100": base.get("first100", {}).get("accuracy"),
        })
        records.append(record)
    records.sort(key=lambda r: r["id"])
    records.sort(key=lambda r: r["trained"] or "", reverse=True)
    return records


def read_previous(out: Path) -> dict | None:
    """What the last report in ``out`` showed, or None if there was none.

    Raises:
        ValueError: ``previous.json`` is there but was not written by this script.
    """
    path = Path(out) / PREVIOUS
    if not path.exists():
        return None
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not written by {GENERATOR} (not readable: {exc}); move it away or choose another --out") from exc
    if not isinstance(previous, dict) or previous.get("generator") != GENERATOR or not isinstance(previous.get("runs"), dict):
        raise ValueError(f"{path}: not written by {GENERATOR}; move it away or choose another --out")
    return previous


def changes_since(records: list[dict], previous: dict | None) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """Marks for the runs that differ from the previous report, and the runs gone since.

    Returns:
        ``{run id: (kind, text)}`` with kind ``"new"`` (not in the previous report) or
        ``"changed"`` (trained again, or an accuracy moved), and the ids of the runs the
        previous report listed that are no longer there. Without a previous report:
        nothing is marked.
    """
    if previous is None:
        return {}, []
    since = previous.get("made", "?")[:10]
    seen = previous["runs"]
    marks = {}
    for r in records:
        before = seen.get(r["id"])
        if before is None:
            marks[r["id"]] = ("new", f"new since {since}")
            continue
        what = []
        if before.get("trained") != r["trained"]:
            what.append(f"trained again ({before.get('trained')} before)")
        for key, label in (("accuracy", "file"), ("first100 accuracy", "first100")):
            old, new = before.get(key), r[key]
            if (old is None) != (new is None) or (old is not None and abs(old - new) > SAME):
                what.append(f"{label} accuracy {_num(old)} → {_num(new)}")
        if what:
            marks[r["id"]] = ("changed", f"changed since {since}: " + "; ".join(what))
    ids = {r["id"] for r in records}
    return marks, sorted(i for i in seen if i not in ids)


def previous_record(records: list[dict], made: str, commit: str) -> dict:
    """What ``previous.json`` keeps of this report, for the next one."""
    keep = ("trained", "accuracy", "first100 accuracy")
    return {"generator": GENERATOR, "made": made, "commit": commit,
            "runs": {r["id"]: {k: r[k] for k in keep} for r in records}}


# ---------------------------------------------------------------------------- notebook outputs


def report_cells(out: Path) -> list[dict]:
    """The outputs of every cell tagged ``report`` in the executed notebooks in ``out``, in
    notebook order: ``{"notebook", "caption", "png": [...], "html": [...], "text": [...]}``;
    the caption is the heading of the section the cell stands in. A notebook that cannot be
    read gives one item with its ``"problem"`` and no outputs (the page says so)."""
    found = []
    for path in sorted(Path(out).glob("[0-9]*.ipynb")):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as exc:  # noqa: BLE001 - a broken notebook is reported, not fatal to the page
            found.append({"notebook": path.name, "caption": "", "png": [], "html": [], "text": [],
                          "problem": f"{type(exc).__name__}: {exc}"})
            continue
        heading = path.stem
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                titles = [ln.lstrip("#").strip() for ln in cell.source.splitlines() if ln.startswith("#")]
                heading = titles[-1] if titles else heading
                continue
            if cell.cell_type != "code" or "report" not in cell.metadata.get("tags", []):
                continue
            item = {"notebook": path.name, "caption": heading, "png": [], "html": [], "text": []}
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if "image/png" in data:
                    item["png"].append(data["image/png"].replace("\n", ""))
                elif "text/html" in data:
                    item["html"].append(data["text/html"])
                elif "text/markdown" in data:
                    item["text"].append(data["text/markdown"])
                elif output.get("output_type") == "stream" and output.get("name") == "stdout":
                    item["text"].append(output["text"])
            found.append(item)
    return found


def _img(png: str, alt: str) -> str:
    return f"<img alt='{_e(alt)}' src='data:image/png;base64,{png}'>"


# ---------------------------------------------------------------------------- the page


def _confusion_html(m: dict, title: str = "") -> str:
    genres = m["genres"]
    head = "".join(f"<th>{_e(g)}</th>" for g in genres)
    rows = "".join(f"<tr><th>{_e(g)}</th>" + "".join(f"<td class='num'>{v}</td>" for v in row) + "</tr>"
                   for g, row in zip(genres, m["confusion"]))
    caption = f"<caption class='small'>{_e(title)}</caption>" if title else ""
    return f"<table>{caption}<tr><th>true \\ predicted</th>{head}</tr>{rows}</table>"


def _per_genre_html(m: dict) -> str:
    per = "".join(f"<tr><td>{_e(g)}</td><td class='num'>{v['n']}</td><td class='num'>{_num(v['precision'])}</td>"
                  f"<td class='num'>{_num(v['recall'])}</td></tr>" for g, v in m["per_genre"].items())
    return f"<table><tr><th>genre</th><th>n</th><th>precision</th><th>recall</th></tr>{per}</table>"


def _row_class(mark) -> str:
    return f" class='{mark[0]}'" if mark else ""


def _mark_cell(mark) -> str:
    return f"<td class='mark'>{_e(mark[1])}</td>" if mark else "<td></td>"


def glance_iterations(runs_dir: Path, marks: dict) -> str:
    """The iterations table: the study's three rows (its reported figure, on its input
    columns) beside ours, in the order the iterations were tried, both protocols."""
    if not runs_dir.is_dir():
        return f"<p class='note'>No iterations in <code>{_e(shown(runs_dir))}</code> yet (notebook 03 trains them).</p>"
    table = iterations_table(runs_dir)
    if table.empty:
        return f"<p class='note'>No run folders in <code>{_e(shown(runs_dir))}</code>.</p>"
    names = table["run"].str.replace(r"-seed\d+$", "", regex=True)
    order = {name: k for k, name in enumerate(ITERATIONS)}
    table = table.assign(iteration=names, _order=names.map(lambda n: order.get(n, len(order)))).sort_values(
        ["_order", "run"], kind="stable")
    study_inputs = "+".join(STUDY_COLUMNS)
    records = table.to_dict("records")
    # one split for all runs (notebook 03's): the baseline is the same on every row, so one row says it
    bases = {(r.get("baseline first100"), r.get("baseline accuracy")) for r in records if not r.get("note")}
    one_base = len(bases) == 1
    any_mark = any(shown(runs_dir / r["run"]) in marks for r in records)
    head = ("<tr><th>iteration</th><th>model</th><th>inputs</th><th>study reported</th><th>first100</th><th>file</th>"
            "<th>combined</th>"
            + ("" if one_base else "<th>baseline first100</th><th>baseline file</th>")
            + "<th>trained</th>" + ("<th>since the previous report</th>" if any_mark else "") + "</tr>")
    width = 8 if one_base else 10
    rows = []
    for r in records:
        rid = shown(runs_dir / r["run"])
        mark = marks.get(rid)
        if r.get("note"):
            rows.append(f"<tr{_row_class(mark)}><td>{_e(r['iteration'])}</td><td colspan='{width - 1}'>{_e(r['note'])}</td>"
                        + (_mark_cell(mark) if any_mark else "") + "</tr>")
            continue
        reported = STUDY_REPORTED.get(r["iteration"])
        rows.append(
            f"<tr{_row_class(mark)}><td>{_e(r['iteration'])}</td><td>{_e(r['model'])} {_e(r['nodes'])}, dense {_e(r['dense'])}</td>"
            f"<td>{_e(r['inputs'])}</td><td class='num'>{_num(reported, 4)}</td>"
            f"<td class='num'>{_num(r['first100 accuracy'])}</td><td class='num'><b>{_num(r['accuracy'])}</b></td>"
            f"<td class='num'>{_num(r.get('combined accuracy'))}</td>"
            + ("" if one_base else f"<td class='num'>{_num(r['baseline first100'])}</td><td class='num'>{_num(r['baseline accuracy'])}</td>")
            + f"<td>{_e(r['trained'] or '')}</td>" + (_mark_cell(mark) if any_mark else "") + "</tr>")
    if one_base:
        b100, bfile = bases.pop()
        rows.append(f"<tr><td>baseline</td><td colspan='3'>gradient boosting, 48 statistics (same files)</td>"
                    f"<td class='num'>{_num(b100)}</td><td class='num'>{_num(bfile)}</td><td></td><td></td>"
                    + ("<td></td>" if any_mark else "") + "</tr>")
    return (f"<table>{head}{''.join(rows)}</table><p class='small'>Test accuracy of each run in "
            f"<code>{_e(shown(runs_dir))}</code> on its held-out files under both protocols "
            "(<code>first100</code>: the first 100 notes, the study's; <code>file</code>: a vote of windows over the "
            "whole file); <i>combined</i>: the RNN and the baseline together, <code>file</code> protocol (mean "
            f"log-probability). <i>study reported</i>: the study's own figure, on its data and split, input {_e(study_inputs)}, "
            "protocol first100: quoted, not reproduced.</p>")


def glance_model(run_dir: Path, marks: dict) -> str:
    """The model notebooks 04 and 05 explain, under both protocols, with its confusion matrices."""
    try:
        meta = read_run_meta(run_dir)
        metrics = read_metrics(run_dir)
    except (RunError, OSError, json.JSONDecodeError) as exc:
        return f"<p class='note'>The model the notebooks explain, <code>{_e(shown(run_dir))}</code>: {_e(exc)}</p>"
    test, base = metrics["rnn"]["protocols"], metrics.get("baseline", {}).get("protocols", {})
    both = metrics.get("combined", {}).get("protocols", {})
    mark = marks.get(shown(run_dir))
    rows = "".join(
        f"<tr><td>{p}</td><td class='num'><b>{_num(test[p]['accuracy'])}</b></td><td class='num'>{_num(test[p]['loss'])}</td>"
        f"<td class='num'>{_num(base.get(p, {}).get('accuracy'))}</td><td class='num'>{_num(both.get(p, {}).get('accuracy'))}</td>"
        f"<td class='num'>{test[p]['n']}</td></tr>"
        for p in ("first100", "file") if p in test)
    split = meta.get("split", {})
    return (f"<h3>The model notebooks 04 and 05 explain: <code>{_e(shown(run_dir))}</code></h3>"
            + (f"<p class='mark'>{_e(mark[1])}</p>" if mark else "")
            + f"<p class='small'>trained {_e(meta.get('trained_on'))} on '{_e(meta.get('data', {}).get('folder'))}', "
            f"{_e(split.get('kind'))} split seed {_e(split.get('seed'))}, {_e(meta.get('epochs_trained'))} epochs; "
            "held-out test files:</p>"
            "<table><tr><th>protocol</th><th>accuracy</th><th>loss</th><th>baseline</th><th>RNN + baseline</th><th>files</th></tr>"
            f"{rows}</table><p></p><div style='display:flex; gap:1em'>"
            + "".join(_confusion_html(test[p], f"{p}: confusion") for p in ("first100", "file") if p in test)
            + "</div>")


def committed_cv(run_dir: Path, results_dir: Path) -> Path | None:
    """The committed cross-validation of a run: ``results/cv-*.json`` made on the run's
    collection, for its genres, **with its network settings** (so the committed model
    ``models/jazz-electronic`` gets ``cv-jazz-electronic.json``, not the order-using
    network's ``cv-jazz-electronic-order.json`` of the same data and genres); None when
    there is none (the demo corpus) or the run cannot be read."""
    try:
        meta = read_run_meta(run_dir)
    except RunError:
        return None
    return results_pages.committed_cv_path(meta, results_dir)


def _ms_cell(cv: dict, who: str, protocol: str) -> str:
    """A cell "mean ± sd" of a cross-validation's accuracy (nested layout), "–" where it has none."""
    m = results_pages.cv_figure(cv, who, protocol)
    return f"<td class='num'>{m['mean']:.3f} ± {m['sd']:.3f}</td>" if m else "<td class='num'>–</td>"


def glance_cv(run_dir: Path, results_dir: Path, out: Path | None = None) -> str:
    """The committed cross-validation of the explained model (:func:`committed_cv`), mean
    ± sd over the folds for the RNN, the baseline and the two combined under both
    protocols; "" when there is none (the demo corpus)."""
    path = committed_cv(run_dir, results_dir)
    try:
        cv = json.loads(path.read_text()) if path is not None else None
    except (OSError, json.JSONDecodeError):
        cv = None
    if cv is None:
        return ""
    rows = "".join(f"<tr><td>{name}</td>{_ms_cell(cv, who, 'first100')}{_ms_cell(cv, who, 'file')}</tr>"
                   for who, name in (("rnn", "RNN"), ("baseline", "baseline"), ("combined", "RNN + baseline")))
    return (f"<h3>Group {cv['folds_total']}-fold cross-validation ({cv['data']['files']} files)</h3>"
            f"<table><tr><th></th><th>first100</th><th>file</th></tr>{rows}</table>"
            f"<p class='small'>Mean ± sd over the folds, from <code>{_e(shown(path))}</code> "
            f"(made by <code>{_e(cv.get('command', '?'))}</code>)"
            + (f"; every table of it: {_results_link(path.stem, out)}" if out is not None else "") + ".</p>")


def more_genres(run_dirs: list[Path], results_dir: Path, out: Path | None = None) -> str:
    """The committed models of more genres than the study's (one row each): held-out
    test files under both protocols for the RNN, the baseline and the two combined, and
    their committed cross-validation (:func:`committed_cv`), mean ± sd
    with the `file` recall of every genre; "" when there are none."""
    rows = []
    verdicts = (("rnn", "RNN"), ("baseline", "baseline"), ("combined", "RNN + baseline"))
    for run_dir in run_dirs:
        try:
            meta, metrics = read_run_meta(run_dir), read_metrics(run_dir)
        except (RunError, OSError, json.JSONDecodeError) as exc:
            rows.append(f"<tr><td><code>{_e(shown(run_dir))}</code></td><td colspan='5'>{_e(exc)}</td></tr>")
            continue
        path = committed_cv(run_dir, results_dir)
        try:
            cv = json.loads(path.read_text()) if path is not None else {}
        except (OSError, json.JSONDecodeError):
            cv = {}
        for k, (who, name) in enumerate(verdicts):
            held = metrics.get(who, {}).get("protocols", {})
            cells = "".join(f"<td class='num'>{_num(held.get(p, {}).get('accuracy'))}</td>" for p in ("first100", "file"))
            cells += "".join(_ms_cell(cv, who, p) for p in ("first100", "file"))
            recall = results_pages.cv_figure(cv, who, "file", "recall") or {}
            cells += "<td>" + _e(", ".join(f"{g} {v['mean']:.3f}" for g, v in recall.items()) or "–") + "</td>"
            head = (f"<td rowspan='3'><code>{_e(shown(run_dir))}</code><br><span class='small'>"
                    f"{_e(', '.join(meta.get('genres', [])))}; {metrics.get('rnn', {}).get('n', '?')} held-out files"
                    + ((f"; CV {_results_link(path.stem, out)}" if out is not None else f"; CV <code>{_e(shown(path))}</code>")
                       if path is not None else "; no committed CV") + "</span></td>"
                    if k == 0 else "")
            rows.append(f"<tr>{head}<td>{name}</td>{cells}</tr>")
    if not rows:
        return ""
    return ("<h2>More genres: the committed models</h2><p class='small'>Notebook 06. Accuracy on each model's held-out "
            "test files, and group cross-validation (mean ± sd over the folds) with each genre's recall under "
            "<code>file</code>.</p><table><tr><th>model</th><th>verdict</th><th>held-out first100</th><th>held-out file</th>"
            "<th>CV first100</th><th>CV file</th><th>CV file recall</th></tr>" + "".join(rows) + "</table>")


# ---------------------------------------------------------------------------- what the networks hear, and the ear


def _results_page(name: str, results_dir: Path):
    """The results page of ``results_dir/<name>.json`` (:mod:`results_pages`), or None when the
    file is missing or has no page of its kind."""
    path = Path(results_dir) / f"{name}.json"
    if not path.is_file():
        return None
    return results_pages.make_page(path)


def _section_html(page, sid: str, out: Path) -> str:
    """One section of a results page as HTML, its links to other results pages made relative to ``out``."""
    rel = Path(os.path.relpath(paths.RESULTS_DIR, Path(out).resolve())).as_posix()
    body = re.sub(r"\]\((?![a-z]+:|/|\.\./)([\w.+-]+\.md)\)", rf"]({rel}/\1)", page.section(sid))
    return f"<div class='md'>{_markdown(body, out)}</div>"


def _by_genres(paths_: list[Path]) -> list[Path]:
    """Result files in the order of their genres: the study's two first, then more (by name within)."""
    def genres(path: Path) -> int:
        try:
            rec = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return 99
        return len(rec.get("genres") or rec.get("table", {}).get("genres") or [])
    return sorted(paths_, key=lambda p: (genres(p), p.name))


def _inline(text: str) -> str:
    """Text with Markdown's `code` spans, as HTML."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", _e(text))


def _missing(what: str) -> str:
    return f"<p class='note'>{what}</p>"


def concepts_section(results_dir: Path, out: Path) -> str:
    """What edits move the verdicts (``results/concepts-*.json``): for each committed study, the
    answer of :func:`genre_lib.concept_study.answer` for the RNN under both protocols and the
    share of verdicts each edit changes for every judge under ``file``, with its interval;
    the horse tests in italics, the edits that change more verdicts than any horse test in bold."""
    found = _by_genres(list(Path(results_dir).glob("concepts-*.json")))
    if not found:
        return _missing(f"No <code>results/concepts-*.json</code> in <code>{_e(shown(results_dir))}</code>: "
                        "make them with <code>scripts/concept_tables.py ../shared/midi</code>.")
    parts = []
    for path in found:
        try:
            rec = json.loads(path.read_text())
            if not results_pages.is_concepts(rec):
                raise ValueError("not a concepts result")
            T, horse = rec["table"], set(rec["horse"])
            judges = list(dict.fromkeys(r["judge"] for r in T["rows"] if r["protocol"] == "file"))
            rows = {(r["edit"], r["judge"]): r for r in T["rows"] if r["protocol"] == "file"}
            heard = {j: {r["edit"] for r in movers(T, j, "file")[1]} for j in judges}
            answers = "".join(f"<p class='answer'><b>{who}{_e(p)}</b>: {_e(answer(T, j, p))}</p>"
                              for j, who in (("rnn", ""), ("ear", "the ear, ")) for p in results_pages.judge_protocols(T, j))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            parts.append(_missing(f"<code>{_e(shown(path))}</code> could not be read: {_e(exc)}"))
            continue
        head = "".join(f"<th>{_inline(results_pages.judge_label(j))}</th>" for j in judges)
        body = []
        for e in rec["edits"]:
            cells = []
            for j in judges:
                r = rows.get((e, j))
                if r is None:
                    cells.append("<td class='num'>–</td>")
                    continue
                text = _e(results_pages.share_interval(r["flipped"], r["flipped_interval"]))
                cells.append(f"<td class='num'>{'<b>' + text + '</b>' if e in heard[j] else text}</td>")
            name = f"<i>{_e(e)} (horse test)</i>" if e in horse else _e(e)
            body.append(f"<tr><td>{name}</td>{''.join(cells)}</tr>")
        parts.append(
            f"<h3><code>{_e(rec['how']['run'])}</code>: {T['files']} held-out test files, {_e(', '.join(T['genres']))}</h3>"
            f"<p class='small'>The answer (<code>genre_lib.concept_study.answer</code>):</p>{answers}"
            f"<table class='wide'><caption>Share of verdicts each edit changes under <code>file</code> [95 % interval], "
            f"per judge; <b>bold</b>: its interval's low end is above every horse test's share; every table, both "
            f"protocols, the margins, the concepts per genre and the probes: {_results_link(path.stem, out)}</caption>"
            f"<tr><th>edit</th>{head}</tr>{''.join(body)}</table>")
    return ("<h2 id='concepts'>What edits move the verdicts: musical concepts</h2><p class='small'>Each edit changes one "
            "musical concept (swing, backbeat, four-on-the-floor, sevenths, instruments, drums) in every held-out file "
            "of a committed model; each judge then judges the edited file. The horse tests (a whole tone up or down, "
            "6 % faster or slower) change nothing a genre is about: an edit that changes no more verdicts than they do "
            "cannot be told from them. Committed real-data results, whatever data this report ran on.</p>"
            + "".join(parts))


def _acc_cell(t: dict | None) -> str:
    if not t:
        return "<td class='num'>–</td>"
    return f"<td class='num'>{_e(results_pages.share_interval(t['accuracy'], t['accuracy_95']))}</td>"


def ear_section(results_dir: Path, out: Path) -> str:
    """The ear (``results/ear-*.json``): its accuracy on the held-out test files beside the RNN,
    the baseline and the two combined; what it says where the RNN and the baseline are both
    wrong; and whether it follows the flips (``results/flip-ear.json``) and a change of
    instruments (``results/ear-edits-*.json``)."""
    found = _by_genres([p for p in Path(results_dir).glob("ear-*.json") if not p.stem.startswith("ear-edits")])
    parts, cards = [], []
    for path in found:
        try:
            rec = json.loads(path.read_text())
            T = rec["test"]
            rows = "".join(f"<tr><td>{_e(results_pages.ear_label(who).replace('**', ''))}</td>"
                           + "".join(_acc_cell(T.get(p, {}).get(who)) for p in ("first100", "file")) + "</tr>"
                           for who in ("rnn", "baseline", "combined", "ear") if any(who in T.get(p, {}) for p in T))
            S = rec.get("cv_shared_mistakes", {}).get("file", {})
            both = S.get("ear_right_where_both_wrong")
            shared = S.get("shared_mistakes_ear_rnn")
            lines = []
            if both:
                lines.append(f"Of the {both['n']} cross-validation files the RNN and the baseline both get wrong "
                             f"(<code>file</code>), the ear gives the collection's genre to "
                             f"{_e(results_pages.share_interval(both['share'], both['share_95']))}.")
            if shared:
                lines.append(f"Its mistakes overlap the RNN's {shared['ratio']:.1f} times as often as independent "
                             f"mistakes would [{shared['low']:.1f}, {shared['high']:.1f}].")
            cost = rec.get("cost_per_file", {})
            if "file" in cost:
                lines.append(f"It costs {cost['file']['total']:.2f} CPU s a file under <code>file</code>, "
                             f"{cost['first100']['total']:.2f} s under <code>first100</code>.")
            cards.append(f"<div><h3><code>models/{_e(rec['run'])}</code>: {rec['n_test']} held-out files, "
                         f"{_e(', '.join(rec['genres']))}</h3><table><tr><th>verdict</th><th>first100 [95 %]</th>"
                         f"<th>file [95 %]</th></tr>{rows}</table><p class='small'>Chance "
                         f"{100 * rec['chance']:.0f} %. " + " ".join(lines) + f" Every table: {_results_link(path.stem, out)}.</p></div>")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            cards.append(f"<div>{_missing(f'<code>{_e(shown(path))}</code> could not be read: {_e(exc)}')}</div>")
    if not cards:
        parts.append(_missing(f"No <code>results/ear-*.json</code> in <code>{_e(shown(results_dir))}</code>: make them "
                              "with <code>scripts/ear_eval.py</code>."))
    for k in range(0, len(cards), 2):
        parts.append("<div class='row2'>" + "".join(cards[k:k + 2]) + "</div>")
    flip = _results_page("flip-ear", results_dir)
    if flip is not None and any(s == "ear" for s, _, _ in flip.sections):
        parts.append("<h3>Does the ear follow the flips?</h3>" + f"<div class='wide'>{_section_html(flip, 'ear', out)}</div>"
                     + f"<p class='small'>Every judge of the panel with its interval: {_results_link('flip-ear', out)}.</p>")
    else:
        parts.append(_missing("No <code>results/flip-ear.json</code> with the ear's agreement: make it with "
                              "<code>benchmarks/bench_flip.py --judges --ear results/ear-jazz-electronic.json</code>."))
    for path in sorted(Path(results_dir).glob("ear-edits-*.json")):
        try:
            rec = json.loads(path.read_text())
            edits = results_pages.make_page(path)
            for e in rec["edits"]:
                parts.append(f"<h4>The control: the first 100 notes played on the {_e(e)}</h4>"
                             f"<div class='wide'>{_section_html(edits, results_pages._slug(e), out)}</div>")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            parts.append(_missing(f"<code>{_e(shown(path))}</code> could not be read: {_e(exc)}"))
        parts.append(f"<p class='small'>Does the ear hear an edit it should? {_results_link(path.stem, out)}.</p>")
    return ("<h2 id='ear'>A second opinion that hears: the ear</h2><p class='small'>A pretrained music tagger hears each "
            "held-out file played as audio (<code>genre_lib.ear</code>); its genre tags, calibrated on the run's "
            "training files, are a judge that never read the note table. Committed real-data results.</p>"
            + "".join(parts))


# ---------------------------------------------------------------------------- the mentor's summaries

#: the notebooks' dated summaries for the mentor (prose); the figures are computed below
MENTOR_NOTES = paths.PROJECT / "docs" / "mentor-notes.md"
_MENTOR_HEADING = re.compile(r"^## (?P<nb>\d\d) · (?P<title>.+) · for the mentor · (?P<date>\S+)\s*$", re.M)


def read_mentor_notes(path: Path = MENTOR_NOTES) -> dict[str, dict]:
    """The sections of ``docs/mentor-notes.md``: ``{"01": {"title", "date", "figures",
    "changed", "questions"}}`` (Markdown), in file order; {} when the file is missing."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return {}
    heads = list(_MENTOR_HEADING.finditer(text))
    notes = {}
    for k, m in enumerate(heads):
        body = text[m.end(): heads[k + 1].start() if k + 1 < len(heads) else len(text)]
        parts = dict.fromkeys(("figures", "changed", "questions"), "")
        key = None
        for line in body.splitlines(keepends=True):
            title = line.strip().lower()
            if title.startswith("### "):
                key = ("figures" if "figures" in title else "changed" if "changed" in title
                       else "questions" if "question" in title else None)
                continue
            if key:
                parts[key] += line
        notes[m.group("nb")] = {"title": m.group("title"), "date": m.group("date"), **{k: v.strip() for k, v in parts.items()}}
    return notes


def _markdown(text: str, out: Path) -> str:
    """Markdown prose as HTML; links into the project (``../notebooks/...``, ``../results/...``,
    written from ``docs/``) are made relative to the report folder ``out``."""
    rel = Path(os.path.relpath(paths.PROJECT, Path(out).resolve())).as_posix()
    text = re.sub(r"\]\(\.\./", f"]({rel}/", text)
    try:
        import mistune  # nbconvert's Markdown renderer, installed with it
    except ImportError:
        return "<pre>" + _e(text) + "</pre>"
    return mistune.html(text)


def _results_link(name: str, out: Path) -> str:
    """A link from the report folder to ``results/<name>.md`` (a generated results page)."""
    page = paths.RESULTS_DIR / f"{name}.md"
    href = Path(os.path.relpath(page, Path(out).resolve())).as_posix()
    return f"<a href='{_e(href)}'><code>results/{_e(name)}.md</code></a>"


def _targets_against(m: dict, target: float) -> str:
    """How a cross-validated mean ± sd stands against a target, in words."""
    gap = m["mean"] - target
    words = "reached" if gap >= 0 else f"not reached, {-gap:.3f} short"
    return words + (" (by less than the folds' sd)" if abs(gap) < m["sd"] else "")


def _figures_01() -> tuple[list, list[str]]:
    """Files the collection's list names, and how many each committed CV used and skipped."""
    with open(paths.MANIFEST, newline="", encoding="utf-8") as f:
        listed = Counter(row["genre"] for row in csv.DictReader(f))
    lines = [f"{shown(paths.MANIFEST)}: {sum(listed.values())} files: " + ", ".join(f"{g} {n}" for g, n in sorted(listed.items()))]
    pages = []
    for cv_path in sorted(paths.RESULTS_DIR.glob("cv-*.json")):
        cv = json.loads(cv_path.read_text())
        used = Counter(f["true"] for f in cv["files"])
        lines.append(f"{shown(cv_path)}: " + ", ".join(f"{g} {used[g]} used, {listed[g] - used[g]} skipped" for g in cv["data"]["genres"]))
        pages.append(cv_path.stem)
    return [("text", lines)], pages


@functools.lru_cache(maxsize=4)
def _trainable_parameters(run_dir: Path, stamp: float) -> str:
    try:  # the one figure that needs the network itself (and so TensorFlow)
        from genre_lib.runs import load_run

        weights = load_run(run_dir).model.trainable_weights
        return str(sum(int(np.prod(w.shape)) for w in weights))
    except Exception as exc:  # noqa: BLE001 - the report shows what it could not read, and goes on
        return f"not counted ({type(exc).__name__}: {exc})"


def trainable_parameters(run_dir: Path) -> str:
    """The trainable parameters of a run's network (loaded once per model file)."""
    model = Path(run_dir) / "model.keras"
    return _trainable_parameters(Path(run_dir), model.stat().st_mtime if model.exists() else 0.0)


def _figures_02() -> tuple[list, list[str]]:
    """The committed two-genre network: its settings, size, training time and how it judges a file."""
    run_dir = paths.MODELS_DIR / "jazz-electronic"
    meta = read_run_meta(run_dir)
    cfg = meta["config"]
    main = results_pages.same_config(cfg, dataclasses.asdict(ITERATIONS[MAIN_ITERATION]))
    size = trainable_parameters(run_dir)
    lines = [f"{shown(run_dir)}: {'MAIN_CONFIG' if main else 'not MAIN_CONFIG'}: {cfg['cell'].upper()} of {cfg['units']} units, "
             f"{cfg['dense_layers']} dense layer of {cfg['dense_units']}, reading {', '.join(meta['features'])}",
             f"trainable parameters: {size}",
             f"trained {meta['epochs_trained']} of {cfg['epochs']} epochs in {meta['train_seconds']:.0f} s, "
             f"{cfg['windows']} windows of {meta['max_notes']} notes per training file and epoch",
             f"a file is judged by the first {meta['max_notes']} notes (first100) or by a vote of {meta['file_windows']} windows (file)"]
    return [("text", lines)], ["models"]


#: the accuracy each protocol is held to in group 5-fold CV, and where the target comes from
TARGETS_TWO = {"file": (0.90, "the study's target of 90 %, which this project applies to the whole-file vote"),
               "first100": (0.82, "set by this project for the study's protocol; not the study's")}
#: four genres: (file accuracy, every recall) for the RNN alone
TARGETS_FOUR = (0.83, 0.75)
_LABELS = results_pages.LABELS
_PROTOCOLS = results_pages.PROTOCOLS


def _figures_03() -> tuple[list, list[str]]:
    """The committed model held out, its order probe, the CV, McNemar between the verdicts, the targets."""
    run_dir = paths.MODELS_DIR / "jazz-electronic"
    held = read_metrics(run_dir)
    blocks = [("table", f"{shown(run_dir)}, its {held['rnn']['n']} held-out test files (group split, seed 0): accuracy",
               ["", *_PROTOCOLS], [[_LABELS[v]] + [f"{held[v]['protocols'][p]['accuracy']:.3f}" for p in _PROTOCOLS]
                                   for v in _LABELS])]
    lines = []
    for p in _PROTOCOLS:
        shuffle = next(r for r in held["probes"] if (r["verdict"], r["probe"], r["protocol"]) == ("rnn", "shuffle", p))
        lines.append(f"order probe, {p}: shuffling the notes of each window costs the RNN {shuffle['effect']:+.3f} accuracy "
                     f"(95 % interval {shuffle['low']:+.3f} to {shuffle['high']:+.3f})")
    blocks.append(("text", lines))
    cv_path = committed_cv(run_dir, paths.RESULTS_DIR)
    cv = load_cv(cv_path)
    S = cv["summary"]["accuracy"]
    blocks.append(("table", f"{shown(cv_path)}: group {cv['folds_total']}-fold CV, {cv['data']['files']} files: mean ± sd over the folds",
                   ["", *_PROTOCOLS], [[_LABELS[v]] + ["{mean:.3f} ± {sd:.3f}".format(**S[v][p]) for p in _PROTOCOLS]
                                       for v in _LABELS]))
    y = np.array([cv["data"]["genres"].index(f["true"]) for f in cv["files"]])
    lines = []
    for p in _PROTOCOLS:
        right = {v: file_probabilities(cv, p, v).argmax(1) == y for v in _LABELS}
        lines.append(f"McNemar, all files, {p}: " + "; ".join(
            f"{_LABELS[a]} vs {_LABELS[b]} p = {mcnemar(right[a], right[b])['p']:.2g}"
            for a, b in (("rnn", "baseline"), ("combined", "rnn"), ("combined", "baseline"))))
    for p, (target, origin) in TARGETS_TWO.items():
        lines.append(f"target {p} >= {target:.2f} ({origin}): " + "; ".join(
            f"{_LABELS[v]} {_targets_against(S[v][p], target)}" for v in ("rnn", "combined")))
    blocks.append(("text", lines))
    return blocks, ["models", cv_path.stem]


def _figures_04() -> tuple[list, list[str]]:
    """Every saliency method on every held-out file: deletion against three chances, randomization."""
    names = {"random": "random order", "position": "position-matched", "recency": "last notes first"}
    if not STORED_CHECKS.is_file():
        return [("text", [f"{shown(STORED_CHECKS)} is missing: make it with scripts/saliency_checks.py"])], []
    checks = load_checks(STORED_CHECKS)
    caption = (f"{shown(STORED_CHECKS)}: {checks.meta['run']}, {checks.n} held-out test files of the "
               f"'{checks.meta['data']['collection']}' collection: deletion AUC, the map's AUC minus each ranking "
               "without a map [95 % interval], randomization Spearman")
    rows = [[m.method, f"{m.auc.mean():.3f}"]
            + [f"{m.deletion[c].difference:+.3f} [{m.deletion[c].low:+.3f}, {m.deletion[c].high:+.3f}]" for c in names]
            + [f"{m.randomization_mean:.2f}" + ("" if m.complete is not False else " (IG fails completeness)")]
            for m in checks.methods]
    return [("table", caption, ["method", "deletion AUC", *(f"map - {w}" for w in names.values()), "randomization Spearman"],
             rows)], [STORED_CHECKS.stem]


def _figures_05() -> tuple[list, list[str]]:
    """The second-opinion benchmark of the flips: every setting, judged by the unseen seed-2 network."""
    path = paths.RESULTS_DIR / "flip-judges.json"
    if not path.is_file():
        return [("text", [f"{shown(path)}: not there; make it with benchmarks/bench_flip.py --judges"])], []
    judges = json.loads(path.read_text())
    seed2 = "rnn-seed2"
    reused = (f" ({judges['reused']['rows']} rows of unchanged settings reused from an earlier run of the same sample)"
              if judges.get("reused") else "")
    auc = judges["plausibility_validation"]
    lines = [f"{shown(path)}: models/{judges['run']}, {judges['files']} of its {judges['n_test']} held-out test files "
             f"(seeded sample, seed {judges['sample_seed']}); made by {judges['command']}{reused}",
             "plausibility AUC on all held-out test files: " + ", ".join(f"{p} {v['auc']:.3f} (n {v['n']})" for p, v in auc.items())]
    rows = []
    for name, s in judges["summary"].items():
        c = judges["compared_with_default"].get(name)
        rows.append([name, f"{s['flipped']:.0%}", f"{s['median_notes_changed']:.0f}", f"{s['agrees'][seed2]['first100']:.0%}",
                     f"{s['agrees'][seed2]['file']:.0%}",
                     f"{c['difference']:+.0%} ({c['interval_95'][0]:+.0%} to {c['interval_95'][1]:+.0%}, {c['judge']})" if c else ""])
    return [("text", lines), ("table", "every setting: the seed-2 network (never optimized against) judges the flipped file",
                              ["setting", "flipped", "median notes changed", "seed-2 network agrees (first100)",
                               "seed-2 network agrees (file)", "convinced minus the default's (95 % interval, judge)"], rows)], [path.stem]


def _figures_06() -> tuple[list, list[str]]:
    """Four genres: the committed model, its CV against the targets, the screening, shared mistakes, flips."""
    four = paths.MODELS_DIR / "four-genres"
    held = read_metrics(four)
    lines = []
    for who in _LABELS:
        p = held[who]["protocols"]
        lines.append(f"{shown(four)}, {_LABELS[who]:14}: {p['file']['accuracy']:.3f} (file), {p['first100']['accuracy']:.3f} "
                     f"(first100) on {p['file']['n']} held-out test files")
    cv_path = committed_cv(four, paths.RESULTS_DIR)
    cv = load_cv(cv_path)
    S, R = cv["summary"]["accuracy"], cv["recall"]
    lines.append("")
    lines.append(f"{shown(cv_path)}: {cv['data']['files']} files, {cv['data']['groups']} groups; made by {cv['command']}")
    for who in _LABELS:
        low = min(R[who]["file"].items(), key=lambda kv: kv[1]["mean"])
        lines.append(f"  {_LABELS[who]:14} file {S[who]['file']['mean']:.3f} ± {S[who]['file']['sd']:.3f}, first100 "
                     f"{S[who]['first100']['mean']:.3f} ± {S[who]['first100']['sd']:.3f}; lowest recall (file) {low[0]} {low[1]['mean']:.3f}")
    acc_target, recall_target = TARGETS_FOUR
    rnn_acc, base_acc = S["rnn"]["file"]["mean"], S["baseline"]["file"]["mean"]
    rnn_low = min(v["mean"] for v in R["rnn"]["file"].values())
    met = rnn_acc >= acc_target and rnn_acc >= base_acc and rnn_low >= recall_target
    lines.append(f"the four-genre targets for the RNN alone (file): accuracy >= {acc_target} and no lower than the baseline's, "
                 f"every recall >= {recall_target}: " + ("met" if met else "not met")
                 + f" ({rnn_acc:.3f} against the baseline's {base_acc:.3f}; lowest recall {rnn_low:.3f})")
    pages = ["models", cv_path.stem]
    search_path = paths.RESULTS_DIR / "search-four-genres.json"
    if search_path.is_file():
        screened = [r for r in json.loads(search_path.read_text())["rows"] if "train_seconds" in r and r["fold"] == 0]
        committed = next(r for r in screened if r["candidate"] == MAIN_ITERATION)
        others = [r for r in screened if r is not committed]
        gain = {r["candidate"]: r["file"]["accuracy"] - (r["reference"]["file"]["accuracy"] if "reference" in r
                                                         else committed["file"]["accuracy"]) for r in others}
        lines.append(f"{shown(search_path)}: {len(others)} other trainings on fold 0 ({committed['n_test']} test files), file "
                     "accuracy against the committed configuration's on the same files: "
                     + ", ".join(f"{k} {v:+.3f}" for k, v in gain.items()))
        pages.append(search_path.stem)
    shared = shared_errors(cv, "file")
    lines.append(f"files both the RNN and the baseline get wrong in the CV (file): {shared['both_wrong']}, "
                 f"{shared['ratio']:.1f} times the {shared['expected_both_wrong']:.0f} of independent mistakes")
    flips_path = paths.RESULTS_DIR / "flip-four-genres.json"
    if flips_path.is_file():
        flips = json.loads(flips_path.read_text())
        s4 = flips["summary"]
        lines.append("")
        lines.append(f"{shown(flips_path)}: {s4['n']} flips of {s4['files']} held-out files, "
                     f"{s4['success_after_round_trip']:.1%} after the round trip, median {s4['median_notes_changed']:g} "
                     f"notes changed of 100; made by {flips['command']}")
        pages.append(flips_path.stem)
    return [("text", lines)], pages


#: the figures of each notebook's summary, computed from committed files
MENTOR_FIGURES = {"01": _figures_01, "02": _figures_02, "03": _figures_03, "04": _figures_04, "05": _figures_05, "06": _figures_06}


def mentor_figures(nb: str) -> tuple[list, list[str]]:
    """The figures of notebook ``nb``'s summary as blocks (``("text", lines)`` or
    ``("table", caption, head, rows)``) and the results pages they come from; a
    figure that cannot be computed says why instead of stopping the report."""
    try:
        return MENTOR_FIGURES[nb]()
    except Exception as exc:  # noqa: BLE001 - one broken summary must not hide the others
        return [("text", [f"figures not computed: {type(exc).__name__}: {exc}"])], []


def _block_html(block) -> str:
    if block[0] == "text":
        return "<pre class='figures'>" + _e("\n".join(block[1]).strip("\n")) + "</pre>"
    _, caption, head, rows = block
    return ("<p class='small tcap'>" + _e(caption) + "</p><table class='figures'><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head)
            + "</tr>" + "".join("<tr>" + "".join(f"<td{' class=num' if k else ''}>{_e(v)}</td>" for k, v in enumerate(row))
                                + "</tr>" for row in rows) + "</table>")


def mentor_sections(out: Path, notes: dict[str, dict] | None = None) -> str:
    """One section per notebook: its dated summary for the mentor (``docs/mentor-notes.md``),
    the figures computed from ``results/`` and ``models/``, what changed and the open
    questions, with links to the results pages the figures come from."""
    notes = read_mentor_notes() if notes is None else notes
    if not notes:
        return ""
    parts = ["<h2 id='mentor'>For the mentor: each notebook's summary</h2><p class='small'>The dated summaries that "
             "stood at the top of each notebook: the prose from <code>docs/mentor-notes.md</code>, the figures computed "
             "here from the committed <code>results/</code> and <code>models/</code> (real data, whatever data this "
             "report ran on).</p>"]
    for nb, note in notes.items():
        blocks, pages = mentor_figures(nb)
        links = ", ".join(_results_link(p, out) for p in dict.fromkeys(pages))
        parts.append(
            f"<section class='mentor' id='mentor-{_e(nb)}'><h3>{_e(nb)} · {_e(note['title'])} "
            f"<span class='small'>· for the mentor · {_e(note['date'])}</span></h3>"
            + (f"<p class='small'>Results pages: {links}</p>" if links else "")
            + _markdown(note["figures"], out) + "".join(_block_html(b) for b in blocks)
            + ("<h4>What changed since the last committed run</h4>" + _markdown(note["changed"], out) if note["changed"] else "")
            + ("<h4>Open questions</h4>" + _markdown(note["questions"], out) if note["questions"] else "")
            + "</section>")
    return "\n".join(parts)


def executed(out: Path, nb: str) -> Path | None:
    """The executed notebook ``nb`` ("04") in the report folder ``out``, or None."""
    return next(iter(sorted(Path(out).glob(f"{nb}_*.ipynb"))), None) if out is not None else None


def why_missing(out: Path | None, nb: str, what: str, failed: dict | None = None) -> str:
    """Why the page shows no ``what`` from notebook ``nb``: it failed in this run (``failed``:
    ``{notebook: error}`` from ``timings.json``), was not run into ``out``, or has no cell
    tagged ``report``."""
    broken = next(((name, error) for name, error in (failed or {}).items() if name.startswith(f"{nb}_")), None)
    if broken:
        return f"No {what}: <code>{_e(broken[0])}</code> failed in this run ({_e(broken[1])})."
    path = executed(out, nb)
    if path is None:
        return (f"No {what}: notebook {nb} has not been run into this report's folder (<code>make report</code> runs "
                "the notebooks; <code>--no-run</code> reuses the ones already there).")
    return (f"No {what}: the executed <code>{_e(path.name)}</code> has no cell tagged <code>report</code> with one "
            "(the notebooks are short lessons now; a cell the report shows carries that tag).")


def _figure_block(item: dict | None, what: str, tables: bool = True, why: str = "") -> str:
    if item is None or not item["png"]:
        return f"<p class='note'>{why or f'No {what} (a notebook failed, or its cell tagged <code>report</code> made no figure).'}</p>"
    text = "".join(f"<pre>{_e(t.strip())}</pre>" for t in item["text"])
    return (f"<figure>{_img(item['png'][0], what)}<figcaption>{_e(what)}: {_e(item['caption'])} "
            f"(from {_e(item['notebook'])})</figcaption></figure>{text}" + ("".join(item["html"]) if tables else ""))


#: the columns of the iterations table that are results; the others are settings
RESULT_COLUMNS = ("accuracy", "loss", "first100 accuracy", "first100 loss", "baseline accuracy", "baseline first100",
                  "combined accuracy", "combined first100", "order effect", "order effect first100", "top attribute")


def iterations_settings(runs_dir: Path) -> str:
    """Every run of the iterations folder in two tables that fit the page: its settings,
    then its results (the same rows, by run)."""
    table = iterations_table(runs_dir)
    if table.empty:
        return ""
    results = ["run"] + [c for c in RESULT_COLUMNS if c in table.columns]
    settings = [c for c in table.columns if c not in RESULT_COLUMNS]
    fmt = dict(index=False, float_format=lambda v: f"{v:.3f}", na_rep="", classes="wide", border=0)
    return (f"<h3>Settings</h3>{table[settings].to_html(**fmt)}"
            f"<h3>Results</h3><p class='small'>Accuracy and loss on the held-out test files of each run's split "
            "(<code>file</code> protocol, then <code>first100</code>), the baseline and RNN + baseline on the same "
            "files, and what shuffling the notes of every window costs the RNN (order effect).</p>"
            f"{table[results].to_html(**fmt)}")


def build_page(*, label: str, is_demo: bool, made: str, commit: str, status: int, runs_dir: Path,
               explained: Path, records: list[dict], previous: dict | None, timings: dict,
               cells: list[dict], more: list[Path] = (), out: Path | None = None,
               mentor: dict[str, dict] | None = None) -> str:
    """The whole page, from what is on disk (the run folders, the committed results) and
    what the notebooks made. ``out``: the report folder the page is written to (for the
    links to the results pages); ``mentor``: the notebooks' summaries (default
    ``docs/mentor-notes.md``)."""
    out = Path(out) if out is not None else paths.REPORTS_DIR / label
    marks, gone = changes_since(records, previous)
    # a notebook that failed in this run is not saved: a copy from an earlier run may be there, not shown
    failed = timings.get("failed") if isinstance(timings.get("failed"), dict) else {}
    cells = [i for i in cells if i["notebook"] not in failed]
    by_nb = {}
    for item in cells:
        by_nb.setdefault(item["notebook"][:2], []).append(item)
    saliency = next((i for i in by_nb.get("04", []) if i["png"]), None)
    checks = next((i for i in by_nb.get("04", []) if i["html"] and not i["png"]), None)
    flip = next((i for i in by_nb.get("05", []) if i["png"]), None)
    flip_text = [t for i in by_nb.get("05", []) if not i["png"] for t in i["text"]]
    mentor_html = mentor_sections(out, mentor)
    more_html = more_genres(list(more), paths.RESULTS_DIR, out)
    concepts_html = concepts_section(paths.RESULTS_DIR, out)
    ear_html = ear_section(paths.RESULTS_DIR, out)
    # what the page cannot show, said once near the top (the notebooks change shape; the page does not break)
    missing = [f"<code>{_e(i['notebook'])}</code> could not be read ({_e(i['problem'])})" for i in cells if i.get("problem")]
    if saliency is None:
        missing.append(why_missing(out, "04", "saliency map", failed))
    if flip is None:
        missing.append(why_missing(out, "05", "flip figure", failed))
    if not runs_dir.is_dir():
        missing.append(f"No iterations in <code>{_e(shown(runs_dir))}</code> (notebook 03 trains them)"
                       + ("; the committed table stands in for them." if not is_demo else "."))

    p = [f"<h1>genre-rnn report: {_e(label)} data</h1>",
         f"<p class='small'>Made {_e(made)} from commit <code>{_e(commit)}</code>. "
         + (f"Previous report in this folder: {_e(previous['made'])}; "
            f"<b>{sum(k == 'new' for k, _ in marks.values())} run(s) new, "
            f"{sum(k == 'changed' for k, _ in marks.values())} changed, {len(gone)} gone</b> since then "
            "(<a href='#new'>list</a>)." if previous else
            "First report in this folder: the next one will mark the runs that are new or changed after it.") + "</p>"]
    if is_demo:
        p.append("<p class='note'>Demo data: a small <b>generated</b> corpus (not real music), run with the demo's "
                 "small workload (few epochs, few files). Its numbers show the pipeline works, not how well the model "
                 "classifies real files. Run <code>GENRE_DATA=../shared/midi make report</code> for real data. "
                 "The mentor's summaries below are computed from the committed real-data results either way.</p>")
    if status:
        p.append("<p class='note'><b>Some notebooks failed</b>; see the notebook table below.</p>")
    toc = [("glance", "At a glance"), ("saliency", "One saliency map"), ("flip", "One flip")]
    toc += [("more", "More genres")] if more_html else []
    toc += [("concepts", "Musical concepts"), ("ear", "The ear")]
    toc += [("mentor", "For the mentor: each notebook's summary")] if mentor_html else []
    toc += [("new", "Runs by date"), ("notebooks", "Notebooks"), ("settings", "All settings of the iterations"),
            ("figures", "Figures")]
    p.append("<p class='toc'>" + "".join(f"<a href='#{a}'>{_e(t)}</a>" for a, t in toc)
             + f" · the lab's results: {_results_link('README', out)}</p>")
    if missing:
        p.append("<div class='note'><b>Not on this page</b> (the rest is taken from <code>results/</code> and "
                 "<code>models/</code>):<ul>" + "".join(f"<li>{m}</li>" for m in missing) + "</ul></div>")

    committed_iterations = sorted(paths.RESULTS_DIR.glob("iterations-*.json")) if not is_demo else []
    stand_in = bool(committed_iterations) and not runs_dir.is_dir()
    p.append("<div id='glance'><h2>Iterations, beside the study's</h2>"
             + (glance_iterations(runs_dir, marks) if not stand_in else
                f"<p class='small'>Notebook 03 has not trained its iterations here (<code>{_e(shown(runs_dir))}</code>).</p>")
             + ("<p class='small'>The committed table of the real-data iterations: "
                + ", ".join(_results_link(c.stem, out) for c in committed_iterations) + ".</p>" if committed_iterations else "")
             + ("".join(f"<div class='wide'>{_section_html(results_pages.make_page(c), 'table', out)}</div>"
                        for c in committed_iterations) if stand_in else "")
             + "</div>")
    p.append("<div class='row2'><div>" + glance_model(explained, marks) + "</div><div>"
             + (glance_cv(explained, paths.RESULTS_DIR, out) or "<p class='small'>No committed cross-validation goes with "
                "this model (on the demo corpus there is none).</p>") + "</div></div>")
    p.append("<div class='row2'>")
    p.append("<div id='saliency'><h2>One saliency map</h2>"
             + _figure_block(saliency, "saliency map", tables=False, why=why_missing(out, "04", "saliency map", failed))
             + (f"<p class='small'>Every method's checks on every held-out file of the committed model: "
                f"{_results_link(STORED_CHECKS.stem, out)} (and the <a href='#mentor-04'>summary of 04</a>).</p>"
                if not checks else "") + "</div>")
    p.append("<div id='flip'><h2>One flip</h2>" + _figure_block(flip, "flip", why=why_missing(out, "05", "flip figure", failed))
             + "".join(f"<pre>{_e(t.strip())}</pre>" for t in flip_text)
             + f"<p class='small'>Every flip setting, judged by other networks: {_results_link('flip-judges', out)}; "
             f"and by the ear: {_results_link('flip-ear', out)}.</p></div>")
    p.append("</div>")
    if checks:
        p.append(f"<h3>The saliency map's checks</h3><div class='wide'>{''.join(checks['html'])}</div>"
                 f"<p class='small'>From {_e(checks['notebook'])}: randomization (Spearman of |map| with a randomized "
                 "model; passes below 0.5) and deletion (AUC of the probability as the most salient notes are deleted; "
                 "lower than a ranking without a map is better). Every method on every held-out file of the committed "
                 f"model, with the chance levels: {_results_link(STORED_CHECKS.stem, out)}.</p>")
    if more_html:
        p.append(f"<div id='more'>{more_html}</div>")
    p.append(concepts_html)
    p.append(ear_html)
    if mentor_html:
        p.append(mentor_html)

    # ---- details
    p.append("<h2 id='new'>Runs by the date they were trained</h2>")
    if previous:
        p.append(f"<p class='small'>Marked: the runs that differ from the previous report ({_e(previous['made'])}).</p>")
    rows = "".join(
        f"<tr{_row_class(marks.get(r['id']))}><td>{_e(r['trained'] or '?')}</td><td><code>{_e(r['id'])}</code></td>"
        f"<td class='num'>{_num(r['first100 accuracy'])}</td><td class='num'>{_num(r['accuracy'])}</td>"
        f"<td class='num'>{_num(r['baseline first100'])}</td><td class='num'>{_num(r['baseline accuracy'])}</td>"
        f"<td>{_e(r['note'])}</td>{_mark_cell(marks.get(r['id']))}</tr>" for r in records)
    p.append("<table><tr><th>trained</th><th>run</th><th>first100</th><th>file</th><th>baseline first100</th>"
             f"<th>baseline file</th><th>problem</th><th>since the previous report</th></tr>{rows}</table>")
    if gone:
        p.append("<p>Gone since the previous report: " + ", ".join(f"<code>{_e(g)}</code>" for g in gone) + "</p>")

    # timings.json: {"notebooks": {name: seconds}, "wall_seconds": ..., "at_a_time": ..., "failed": {name: error}};
    # older reports wrote the per-notebook seconds alone, one notebook at a time
    per_notebook = timings.get("notebooks", timings) if isinstance(timings.get("notebooks"), dict) else timings
    nb_rows = "".join(
        (f"<tr><td>{_e(nb)}</td><td class='num'>{sec:.0f} s</td><td>failed: {_e(failed[nb])}</td></tr>" if nb in failed else
         f"<tr><td><a href='{_e(Path(nb).with_suffix('.html').name)}'>{_e(nb)}</a></td><td class='num'>{sec:.0f} s</td>"
         "<td></td></tr>")
        for nb, sec in per_notebook.items())
    wall = timings.get("wall_seconds", sum(per_notebook.values()))
    total = (f"<tr><th>wall clock ({timings.get('at_a_time', 1)} at a time)</th><th class='num'>{wall:.0f} s</th><th></th></tr>"
             if per_notebook else "")
    p.append(f"<h2 id='notebooks'>Notebooks</h2><table><tr><th>notebook</th><th>run time</th><th></th></tr>"
             f"{nb_rows}{total}</table>")

    p.append("<h2 id='settings'>All settings of the iterations</h2>")
    if runs_dir.is_dir():
        p.append(f"<p class='small'>Every run in <code>{_e(shown(runs_dir))}</code>, one row each in both tables.</p>")
        p.append(iterations_settings(runs_dir))
        best = best_by_validation(runs_dir)
        if best:
            metrics = read_metrics(best)
            t = metrics["rnn"]
            p.append(f"<h2>Best iteration by validation accuracy: {_e(best.relative_to(runs_dir))}</h2>"
                     f"<p>Test accuracy <b>{t['accuracy']:.3f}</b> (<code>file</code>), loss {t['loss']:.3f} on {t['n']} "
                     f"held-out files; baseline {metrics['baseline']['accuracy']:.3f}.</p>")
            p.append(_confusion_html(t) + "<p></p>" + _per_genre_html(t))
    else:
        p.append(f"<p class='note'>No iterations in <code>{_e(shown(runs_dir))}</code> yet (notebook 03 trains them).</p>")

    figures = [(i, png) for i in cells for png in i["png"]]
    p.append("<h2 id='figures'>Figures</h2>")
    if not figures:
        p.append("<p class='small'>No figure: no executed notebook in this folder has a cell tagged <code>report</code> "
                 "that drew one.</p>")
    for item, png in figures:
        p.append(f"<figure>{_img(png, item['caption'])}<figcaption>{_e(item['caption'])} "
                 f"(from {_e(item['notebook'])})</figcaption></figure>")
    return (f"<!doctype html><meta charset='utf-8'><meta name='generator' content='{GENERATOR}'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>genre-rnn report: {_e(label)}</title><style>{CSS}</style>\n" + "\n".join(p) + "\n")


def check_writable(out: Path) -> None:
    """Raise ValueError if ``out`` holds an ``index.html`` or ``previous.json`` this script
    did not write (so a report never replaces the user's file silently)."""
    page = Path(out) / PAGE
    if page.exists() and f"content='{GENERATOR}'" not in page.read_text(encoding="utf-8", errors="replace")[:2000]:
        raise ValueError(f"{page}: not written by {GENERATOR}; move it away or choose another --out")
    read_previous(out)


def write_report(out: Path, *, choice: DataChoice, quick: bool, status: int = 0,
                 now: dt.datetime | None = None, commit: str | None = None,
                 run_dirs: list[Path] | None = None, runs_dir: Path | None = None,
                 explained: Path | None = None) -> Path:
    """Write ``out/index.html`` from the run folders and the executed notebooks in ``out``,
    then ``out/previous.json`` for the next report. Returns the page's path.

    ``run_dirs``, ``runs_dir`` (the iterations) and ``explained`` (the model notebooks 04
    and 05 explain) default to where the notebooks keep them for the data ``choice``.

    Raises:
        ValueError: see :func:`check_writable`.
    """
    out = Path(out)
    check_writable(out)
    previous = read_previous(out)
    made = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    commit = commit or _commit()
    records = run_records(report_run_dirs(choice) if run_dirs is None else run_dirs)
    explained = explained or study_run_dir(choice, small(choice, quick))
    # the committed models of more genres that go with this data (notebook 06)
    more = [path for genres, path in COMMITTED_RUNS.items()
            if committed_run(choice, genres) == path and path != explained and path.is_dir()]
    timings_file = out / "timings.json"
    page = build_page(
        label=choice.collection.id, is_demo=choice.is_demo, made=made, commit=commit, status=status,
        runs_dir=runs_dir or iterations_dir(choice, small(choice, quick)),
        explained=explained, records=records, previous=previous, cells=report_cells(out), more=more,
        timings=json.loads(timings_file.read_text()) if timings_file.exists() else {}, out=out,
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / PAGE).write_text(page, encoding="utf-8")
    (out / PREVIOUS).write_text(json.dumps(previous_record(records, made, commit), indent=2) + "\n", encoding="utf-8")
    return out / PAGE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="report folder (default reports/<collection id>: demo, midi, ...)")
    parser.add_argument("--no-run", action="store_true", help="reuse the executed notebooks already in --out")
    args = parser.parse_args(argv)

    # the one data rule (GENRE_DATA, else data/real, else the demo corpus; no download),
    # passed on to the notebooks so all of them read the folder named here
    try:
        choice = resolve_data_dir()
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if choice.kind != "demo":  # the notebooks resolve the same folder; the demo is their fallback anyway
        os.environ["GENRE_DATA"] = str(choice.path.resolve())
    out = args.out or paths.REPORTS_DIR / choice.collection.id
    try:
        check_writable(out)  # before the notebooks run, not after
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    status = 0
    if not args.no_run:
        status = run_notebooks.main(["--out", str(out)])
    try:
        page = write_report(out, choice=choice, quick=paths.quick_mode(), status=status)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"report: {shown(page)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
