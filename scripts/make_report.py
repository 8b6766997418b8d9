"""The mentor's report: one self-contained HTML folder under reports/.

    python scripts/make_report.py                       # demo data -> reports/demo/ (data/real -> reports/real/)
    GENRE_DATA=../shared/midi python scripts/make_report.py   # real data -> reports/midi/

The data folder follows :func:`genre_lib.data_source.resolve_data_dir` (``GENRE_DATA``,
else ``data/real`` from ``make data``, else the generated demo corpus); the report goes
to ``reports/<data folder name>/``.

Executes the notebooks in order (scripts/run_notebooks.py), then writes ``index.html``:
the date and commit, the per-notebook run times, the iterations table of every run the
notebooks trained, the best run's accuracy and confusion matrix, and the figures of the
notebook cells tagged ``report`` (a saliency map, a flip, ...), with links to the
executed notebooks. Figures are embedded, so the folder can be copied or mailed.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import html
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "scripts"))

import run_notebooks  # noqa: E402

from genre_lib.data_source import resolve_data_dir  # noqa: E402
from genre_lib.dataset import DataError  # noqa: E402
from genre_lib.runs import best_by_validation, iterations_table, read_run_meta  # noqa: E402
from genre_lib.study import REAL_RUN_DIR, study_runs_dir  # noqa: E402

CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { border: 1px solid #ccc; padding: 3px 8px; }
th { background: #f3f3f3; } .note { background: #fff6d6; padding: 0.6em 1em; border-left: 4px solid #e0b000; }
figure { margin: 1.5em 0; } figcaption { color: #555; font-size: 0.9em; } img { max-width: 100%; }
"""


def _commit() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT, capture_output=True, text=True).stdout.strip()
        return rev + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def _figures(out: Path) -> list[tuple[str, str, str]]:
    """(notebook, caption, base64 PNG) of every cell tagged ``report``, in notebook order;
    the caption is the heading of the section the cell stands in."""
    found = []
    for path in sorted(out.glob("[0-9]*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        heading = path.stem
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                # the caption of a figure is the section heading above it
                titles = [ln.lstrip("#").strip() for ln in cell.source.splitlines() if ln.startswith("#")]
                heading = titles[-1] if titles else heading
                continue
            if cell.cell_type != "code" or "report" not in cell.metadata.get("tags", []):
                continue
            caption = heading
            for output in cell.get("outputs", []):
                png = output.get("data", {}).get("image/png")
                if png:
                    found.append((path.name, caption, png.replace("\n", "")))
    return found


def _confusion_html(metrics: dict) -> str:
    genres = metrics["genres"]
    head = "".join(f"<th>predicted {html.escape(g)}</th>" for g in genres)
    rows = "".join(
        f"<tr><th>true {html.escape(g)}</th>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>"
        for g, row in zip(genres, metrics["confusion"])
    )
    per = "".join(
        f"<tr><td>{html.escape(g)}</td><td>{m['n']}</td><td>{m['precision']:.3f}</td><td>{m['recall']:.3f}</td></tr>"
        for g, m in metrics["per_genre"].items()
    )
    return (f"<table><tr><th></th>{head}</tr>{rows}</table><p></p>"
            f"<table><tr><th>genre</th><th>n</th><th>precision</th><th>recall</th></tr>{per}</table>")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="report folder (default reports/<demo or data folder name>)")
    parser.add_argument("--no-run", action="store_true", help="reuse the executed notebooks already in --out")
    args = parser.parse_args(argv)

    # the one data rule (GENRE_DATA, else data/real, else the demo corpus; no download),
    # passed on to the notebooks so all of them read the folder named here
    try:
        choice = resolve_data_dir()
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    data_dir = None if choice.is_demo else choice.path
    if data_dir is not None:
        os.environ["GENRE_DATA"] = str(data_dir.resolve())
    label = choice.path.resolve().name
    out = args.out or PROJECT / "reports" / label
    status = 0
    if not args.no_run:
        status = run_notebooks.main(["--out", str(out)])
    # the iterations notebook 03 trained (quick mode keeps its runs apart)
    quick = os.environ.get("GENRE_QUICK") == "1" or bool(os.environ.get("CI"))
    runs_dir = study_runs_dir(data_dir) / ("iterations-quick" if quick else "iterations")

    parts = [f"<h1>genre-rnn report: {html.escape(label)} data</h1>"]
    parts.append(
        f"<p>Made {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC from commit <code>{html.escape(_commit())}</code>.</p>"
    )
    if not data_dir:
        parts.append('<p class="note">Demo data: a small <b>generated</b> corpus (not real music). '
                     "Its numbers show the pipeline works, not how well the model classifies real files. "
                     "Run <code>GENRE_DATA=../shared/midi make report</code> for real data.</p>")
    if status:
        parts.append('<p class="note"><b>Some notebooks failed</b>; see the run log and the list below.</p>')

    timings_file = out / "timings.json"
    timings = json.loads(timings_file.read_text()) if timings_file.exists() else {}
    rows = "".join(
        f"<tr><td><a href='{html.escape(Path(nb).with_suffix('.html').name)}'>{html.escape(nb)}</a></td><td>{sec:.0f} s</td></tr>"
        for nb, sec in timings.items()
    )
    parts.append(f"<h2>Notebooks</h2><table><tr><th>notebook</th><th>run time</th></tr>{rows}</table>")

    if runs_dir.is_dir():
        table = iterations_table(runs_dir)
        parts.append(f"<h2>Iterations</h2><p>Every run trained in <code>{html.escape(str(runs_dir.relative_to(PROJECT)))}</code>; "
                     "accuracy and loss on the held-out test files of each run's split.</p>")
        parts.append(table.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep=""))
        best = best_by_validation(runs_dir)
        if best:
            name, metrics = best.relative_to(runs_dir), json.loads((best / "metrics.json").read_text())
            t = metrics["test"]
            parts.append(f"<h2>Best run by validation accuracy: {html.escape(str(name))}</h2>"
                         f"<p>Test accuracy <b>{t['accuracy']:.3f}</b>, loss {t['loss']:.3f} on {t['n']} held-out files; "
                         f"baseline (gradient boosting on per-file statistics) {metrics['baseline']['accuracy']:.3f}.</p>")
            parts.append(_confusion_html(t))
    if data_dir and (REAL_RUN_DIR / "run.json").exists():
        meta = read_run_meta(REAL_RUN_DIR)
        metrics = json.loads((REAL_RUN_DIR / "metrics.json").read_text())
        parts.append(f"<h2>The committed model <code>models/{REAL_RUN_DIR.name}</code></h2>"
                     f"<p>{meta['split']['kind']} split, seed {meta['seed']}: test accuracy "
                     f"<b>{metrics['test']['accuracy']:.3f}</b> on {metrics['test']['n']} held-out files.</p>")
        parts.append(_confusion_html(metrics["test"]))

    figures = _figures(out)
    if figures:
        parts.append("<h2>Figures</h2>")
        for nb, caption, png in figures:
            parts.append(f"<figure><img src='data:image/png;base64,{png}'><figcaption>{html.escape(caption)} "
                         f"(from {html.escape(nb)})</figcaption></figure>")
    page = f"<!doctype html><meta charset='utf-8'><title>genre-rnn report</title><style>{CSS}</style>" + "\n".join(parts)
    (out / "index.html").write_text(page, encoding="utf-8")
    print(f"report: {out.relative_to(PROJECT) if out.is_relative_to(PROJECT) else out}/index.html")
    return status


if __name__ == "__main__":
    sys.exit(main())
