"""The mentor's report: one self-contained HTML folder under reports/.

    python scripts/make_report.py                       # demo data -> reports/demo/ (data/real -> reports/midi/)
    GENRE_DATA=../shared/midi python scripts/make_report.py   # real data -> reports/midi/
    python scripts/make_report.py --no-run              # the page again from the notebooks already run

The data folder follows :func:`genre_lib.data_source.resolve_data_dir` (``GENRE_DATA``,
else ``data/real`` from ``make data``, else the generated demo corpus); the report goes
to ``reports/<collection id>/`` (``midi`` for the real collection wherever it lies,
``demo`` for the demo corpus; see :func:`genre_lib.data_source.identify`).

Executes the notebooks in order (scripts/run_notebooks.py), then writes ``index.html``.
At the top, on one screen: the iterations table beside the study's reported figures,
the model notebooks 04 and 05 explain under both protocols (``first100`` and ``file``)
with its confusion matrix, one saliency map with its checks and one flip (the outputs
of the notebook cells tagged ``report``). Below it, the committed models of more genres
that go with the data (notebook 06), held-out and cross-validated, with each genre's
recall. Then: what is new since the previous report,
every run by the date it was trained, the run time of each notebook, the full
iterations table, the best run by validation and every ``report`` figure, with links
to the executed notebooks. Figures are embedded, so the folder can be copied or mailed.

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
import datetime as dt
import html
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run_notebooks, beside this script

import run_notebooks  # noqa: E402

from genre_lib import paths  # noqa: E402
from genre_lib.data_source import COMMITTED_RUNS, DataChoice, find_cv, record_collection, resolve_data_dir  # noqa: E402
from genre_lib.dataset import DataError  # noqa: E402
from genre_lib.paths import shown  # noqa: E402
from genre_lib.runs import RunError, best_by_validation, find_runs, iterations_table, read_metrics, read_run_meta  # noqa: E402
from genre_lib.study import ITERATIONS, STUDY_COLUMNS, STUDY_REPORTED, iterations_dir, study_run_dir  # noqa: E402

#: marks the files this script writes, so it never overwrites one it did not write
GENERATOR = "genre-rnn scripts/make_report.py"
PAGE, PREVIOUS = "index.html", "previous.json"
#: accuracies that differ by less than this are the same (metrics.json keeps full floats)
SAME = 5e-4

CSS = """
body { font-family: system-ui, sans-serif; max-width: 1250px; margin: 1em auto; color: #222; font-size: 14px; }
h1 { font-size: 1.4em; margin: 0.2em 0; } h2 { font-size: 1.15em; margin: 1.2em 0 0.4em; } h3 { font-size: 1em; margin: 0.6em 0 0.3em; }
table { border-collapse: collapse; font-size: 0.85em; } td, th { border: 1px solid #ccc; padding: 2px 6px; }
th { background: #f3f3f3; } td.num { text-align: right; } .new { background: #e4f6e4; } .changed { background: #fff1cc; }
.mark { font-weight: bold; color: #1a6b1a; } .changed .mark { color: #8a5a00; }
.note { background: #fff6d6; padding: 0.4em 0.8em; border-left: 4px solid #e0b000; margin: 0.4em 0; }
.glance { display: grid; grid-template-columns: 1.5fr 1fr; gap: 0.6em 1.4em; align-items: start; }
.glance figure { margin: 0; } figure { margin: 1em 0; } figcaption { color: #555; font-size: 0.85em; }
img { max-width: 100%; } .small { color: #555; font-size: 0.85em; } .glance pre { font-size: 0.75em; margin: 0.2em 0; white-space: pre-wrap; }
.glance td, .glance th { white-space: nowrap; font-size: 0.92em; } .glance > div { min-width: 0; } .glance h2 { margin-top: 0.3em; }
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
    found = find_runs(choice.runs_dir) if choice.runs_dir.is_dir() else []
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
    the caption is the heading of the section the cell stands in."""
    found = []
    for path in sorted(Path(out).glob("[0-9]*.ipynb")):
        nb = nbformat.read(path, as_version=4)
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


def glance_cv(run_dir: Path, results_dir: Path) -> str:
    """The committed cross-validation of the explained model's data folder and genres
    (``results/cv-*.json``, :func:`genre_lib.data_source.find_cv`), mean ± sd over the
    folds for the RNN, the baseline and the two combined under both protocols; "" when
    there is none (the demo corpus)."""
    try:
        meta = read_run_meta(run_dir)
    except RunError:
        return ""
    path = find_cv(record_collection(meta.get("data", {})), meta.get("genres", []), results_dir)
    try:
        cv = json.loads(path.read_text()) if path is not None else None
    except (OSError, json.JSONDecodeError):
        cv = None
    if cv is None:
        return ""
    S = cv["summary"]
    cell = lambda key: (f"<td class='num'>{S[key]['mean']:.3f} ± {S[key]['sd']:.3f}</td>" if key in S
                        else "<td class='num'>–</td>")
    rows = "".join(f"<tr><td>{name}</td>{cell(who + '_first100')}{cell(who + '_file')}</tr>"
                   for who, name in (("rnn", "RNN"), ("baseline", "baseline"), ("combined", "RNN + baseline")))
    return (f"<h3>Group {cv['folds_total']}-fold cross-validation ({cv['data']['files']} files)</h3>"
            f"<table><tr><th></th><th>first100</th><th>file</th></tr>{rows}</table>"
            f"<p class='small'>Mean ± sd over the folds, from <code>{_e(shown(path))}</code> "
            f"(made by <code>{_e(cv.get('command', '?'))}</code>).</p>")


def more_genres(run_dirs: list[Path], results_dir: Path) -> str:
    """The committed models of more genres than the study's (one row each): held-out
    test files under both protocols for the RNN, the baseline and the two combined, and
    their committed cross-validation (:func:`genre_lib.data_source.find_cv`), mean ± sd
    with the `file` recall of every genre; "" when there are none."""
    rows = []
    verdicts = (("rnn", "RNN"), ("baseline", "baseline"), ("combined", "RNN + baseline"))
    for run_dir in run_dirs:
        try:
            meta, metrics = read_run_meta(run_dir), read_metrics(run_dir)
        except (RunError, OSError, json.JSONDecodeError) as exc:
            rows.append(f"<tr><td><code>{_e(shown(run_dir))}</code></td><td colspan='5'>{_e(exc)}</td></tr>")
            continue
        path = find_cv(record_collection(meta.get("data", {})), meta.get("genres", []), results_dir)
        try:
            cv = json.loads(path.read_text()) if path is not None else {}
        except (OSError, json.JSONDecodeError):
            cv = {}
        S, R = cv.get("summary", {}), cv.get("recall", {})
        for k, (who, name) in enumerate(verdicts):
            held = metrics.get(who, {}).get("protocols", {})
            cells = "".join(f"<td class='num'>{_num(held.get(p, {}).get('accuracy'))}</td>" for p in ("first100", "file"))
            cells += "".join(f"<td class='num'>{S[f'{who}_{p}']['mean']:.3f} ± {S[f'{who}_{p}']['sd']:.3f}</td>"
                             if f"{who}_{p}" in S else "<td class='num'>–</td>" for p in ("first100", "file"))
            recall = R.get(f"{who}_file", {})
            cells += "<td>" + _e(", ".join(f"{g} {v['mean']:.3f}" for g, v in recall.items()) or "–") + "</td>"
            head = (f"<td rowspan='3'><code>{_e(shown(run_dir))}</code><br><span class='small'>"
                    f"{_e(', '.join(meta.get('genres', [])))}; {metrics.get('rnn', {}).get('n', '?')} held-out files"
                    + (f"; CV <code>{_e(shown(path))}</code>" if path is not None else "; no committed CV") + "</span></td>"
                    if k == 0 else "")
            rows.append(f"<tr>{head}<td>{name}</td>{cells}</tr>")
    if not rows:
        return ""
    return ("<h2>More genres: the committed models</h2><p class='small'>Notebook 06. Accuracy on each model's held-out "
            "test files, and group cross-validation (mean ± sd over the folds) with each genre's recall under "
            "<code>file</code>.</p><table><tr><th>model</th><th>verdict</th><th>held-out first100</th><th>held-out file</th>"
            "<th>CV first100</th><th>CV file</th><th>CV file recall</th></tr>" + "".join(rows) + "</table>")


def _figure_block(item: dict | None, what: str) -> str:
    if item is None or not item["png"]:
        return f"<p class='note'>No {what} (a notebook failed, or its cell tagged <code>report</code> made no figure).</p>"
    text = "".join(f"<pre>{_e(t.strip())}</pre>" for t in item["text"])
    tables = "".join(item["html"])
    return (f"<figure>{_img(item['png'][0], what)}<figcaption>{_e(what)}: {_e(item['caption'])} "
            f"(from {_e(item['notebook'])})</figcaption></figure>{text}{tables}")


def build_page(*, label: str, is_demo: bool, made: str, commit: str, status: int, runs_dir: Path,
               explained: Path, records: list[dict], previous: dict | None, timings: dict,
               cells: list[dict], more: list[Path] = ()) -> str:
    """The whole page, from what is on disk (the run folders) and what the notebooks made."""
    marks, gone = changes_since(records, previous)
    by_nb = {}
    for item in cells:
        by_nb.setdefault(item["notebook"][:2], []).append(item)
    saliency = next((i for i in by_nb.get("04", []) if i["png"]), None)
    checks = next((i for i in by_nb.get("04", []) if i["html"] and not i["png"]), None)
    flip = next((i for i in by_nb.get("05", []) if i["png"]), None)
    flip_text = [t for i in by_nb.get("05", []) if not i["png"] for t in i["text"]]

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
                 "classifies real files. Run <code>GENRE_DATA=../shared/midi make report</code> for real data.</p>")
    if status:
        p.append("<p class='note'><b>Some notebooks failed</b>; see the notebook table below.</p>")

    p.append("<div class='glance'>")
    p.append("<div><h2>Iterations, beside the study's</h2>" + glance_iterations(runs_dir, marks) + "</div>")
    p.append("<div>" + glance_model(explained, marks) + glance_cv(explained, paths.RESULTS_DIR) + "</div>")
    p.append("<div><h2>One saliency map</h2>" + _figure_block(saliency, "saliency map")
             + (f"<h3>Its checks</h3>{''.join(checks['html'])}<p class='small'>From {_e(checks['notebook'])}: "
                "randomization (Spearman of |map| with a randomized model; passes below 0.5) and deletion "
                "(AUC of the probability as the most salient notes are deleted; lower than random is better).</p>"
                if checks else "") + "</div>")
    p.append("<div><h2>One flip</h2>" + _figure_block(flip, "flip")
             + "".join(f"<pre>{_e(t.strip())}</pre>" for t in flip_text) + "</div>")
    p.append("</div>")
    p.append(more_genres(list(more), paths.RESULTS_DIR))

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

    # timings.json: {"notebooks": {name: seconds}, "wall_seconds": ..., "at_a_time": ...}; older
    # reports wrote the per-notebook seconds alone, one notebook at a time
    per_notebook = timings.get("notebooks", timings) if isinstance(timings.get("notebooks"), dict) else timings
    nb_rows = "".join(
        f"<tr><td><a href='{_e(Path(nb).with_suffix('.html').name)}'>{_e(nb)}</a></td><td class='num'>{sec:.0f} s</td></tr>"
        for nb, sec in per_notebook.items())
    wall = timings.get("wall_seconds", sum(per_notebook.values()))
    total = (f"<tr><th>wall clock ({timings.get('at_a_time', 1)} at a time)</th><th class='num'>{wall:.0f} s</th></tr>"
             if per_notebook else "")
    p.append(f"<h2>Notebooks</h2><table><tr><th>notebook</th><th>run time</th></tr>{nb_rows}{total}</table>")

    if runs_dir.is_dir():
        table = iterations_table(runs_dir)
        p.append(f"<h2>All settings of the iterations</h2><p class='small'>Every run in <code>{_e(shown(runs_dir))}</code>; "
                 "accuracy and loss on the held-out test files of each run's split (<code>file</code> protocol, then "
                 "<code>first100</code>).</p>")
        p.append(table.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep=""))
        best = best_by_validation(runs_dir)
        if best:
            metrics = read_metrics(best)
            t = metrics["rnn"]
            p.append(f"<h2>Best iteration by validation accuracy: {_e(best.relative_to(runs_dir))}</h2>"
                     f"<p>Test accuracy <b>{t['accuracy']:.3f}</b> (<code>file</code>), loss {t['loss']:.3f} on {t['n']} "
                     f"held-out files; baseline {metrics['baseline']['accuracy']:.3f}.</p>")
            p.append(_confusion_html(t) + "<p></p>" + _per_genre_html(t))

    figures = [(i, png) for i in cells for png in i["png"]]
    if figures:
        p.append("<h2>Figures</h2>")
        for item, png in figures:
            p.append(f"<figure>{_img(png, item['caption'])}<figcaption>{_e(item['caption'])} "
                     f"(from {_e(item['notebook'])})</figcaption></figure>")
    return (f"<!doctype html><meta charset='utf-8'><meta name='generator' content='{GENERATOR}'>"
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
            if choice.committed_run(genres) == path and path != explained and path.is_dir()]
    timings_file = out / "timings.json"
    page = build_page(
        label=choice.collection.id, is_demo=choice.is_demo, made=made, commit=commit, status=status,
        runs_dir=runs_dir or iterations_dir(choice, small(choice, quick)),
        explained=explained, records=records, previous=previous, cells=report_cells(out), more=more,
        timings=json.loads(timings_file.read_text()) if timings_file.exists() else {},
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
