"""The mentor's page (scripts/make_report.py): what is on it, and what it marks new.

Built from real run folders (the session's demo run, copied) and a small executed
notebook; no notebook is run and nothing is trained here beyond the shared fixture.
"""

from __future__ import annotations

import datetime as dt
import re
import json
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from genre_lib.data_source import resolve_data_dir
from genre_lib.paths import DEMO_DIR, PROJECT
from genre_lib.runs import find_runs

sys.path.insert(0, str(PROJECT / "scripts"))

import make_report  # noqa: E402

# a 1x1 PNG: the page embeds what the notebook stored
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def _when(day: int) -> dt.datetime:
    return dt.datetime(2026, 12, day, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def runs(demo_run, tmp_path):
    """A runs folder like notebook 03's: two iterations (copies of the demo run)."""
    iterations = tmp_path / "runs" / "iterations-quick"
    for name in ("study-1-50x1-seed0", "4-windows-seed0"):
        shutil.copytree(demo_run.path, iterations / name)
    return iterations


def _report(out, runs, day):
    return make_report.write_report(
        out, choice=resolve_data_dir(DEMO_DIR), quick=True, now=_when(day), commit="abc1234",
        run_dirs=find_runs(runs.parent), runs_dir=runs, explained=runs / "4-windows-seed0").read_text()


def _executed_notebooks(out: Path) -> None:
    """Notebooks 04 and 05 as run_notebooks leaves them: a report-tagged figure each,
    04's checks table and 05's flip summary."""
    def nb(cells):
        return nbformat.v4.new_notebook(cells=cells)

    def code(outputs, tags=("report",)):
        cell = nbformat.v4.new_code_cell("...", metadata={"tags": list(tags)})
        cell.outputs = outputs
        return cell

    fig = nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})
    out.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb([nbformat.v4.new_markdown_cell("## The study's map: the plain gradient"), code([fig]),
                       nbformat.v4.new_markdown_cell("### Every method through both checks"),
                       code([nbformat.v4.new_output("execute_result", data={"text/html": "<table id='checks'></table>"})])]),
                   out / "04_saliency.ipynb")
    nbformat.write(nb([nbformat.v4.new_markdown_cell("## The study's experiment"),
                       code([nbformat.v4.new_output("stream", name="stdout", text="after (re-read): electronic 0.57\n")]),
                       nbformat.v4.new_markdown_cell("## The note map"), code([fig]), code([fig], tags=())]),
                   out / "05_input_optimization.ipynb")


def test_the_top_shows_the_iterations_beside_the_study_the_model_and_the_figures(runs, demo_run, tmp_path):
    out = tmp_path / "report"
    _executed_notebooks(out)
    page = _report(out, runs, 1)
    glance = page.split("<h2 id='new'>")[0]  # what the mentor sees first
    assert "Iterations, beside the study's" in glance and "study-1-50x1" in glance and "4-windows" in glance
    assert "0.7599" in glance  # the study's reported figure on its row
    file_acc = demo_run.metrics["rnn"]["protocols"]["file"]["accuracy"]
    first100 = demo_run.metrics["rnn"]["protocols"]["first100"]["accuracy"]
    assert f"{file_acc:.3f}" in glance and f"{first100:.3f}" in glance
    combined = demo_run.metrics["combined"]["protocols"]["file"]["accuracy"]
    assert "<th>combined</th>" in glance and f"{combined:.3f}" in glance
    top = glance.split("<div id='glance'>")[1].split("<h2>One saliency map")[0]  # past the page's CSS
    assert "{" not in top, "an unformatted placeholder on the page"
    assert "first100: confusion" in glance and "file: confusion" in glance
    assert "saliency map: The study&#x27;s map" in glance and "<table id='checks'>" in glance
    assert "flip: The note map" in glance and "electronic 0.57" in glance
    assert glance.count(PNG) == 2  # one saliency map, one flip; the untagged cell stays out
    assert "First report in this folder" in page and "new since" not in page
    assert "<b>generated</b> corpus" in page


def test_a_second_report_marks_nothing_then_a_new_run_is_marked_new(runs, tmp_path):
    out = tmp_path / "report"
    _report(out, runs, 1)
    previous = json.loads((out / "previous.json").read_text())
    assert previous["made"] == "2026-12-01 09:00 UTC" and len(previous["runs"]) == 2

    again = _report(out, runs, 15)
    assert "class='mark'" not in again and "class='new'" not in again and "class='changed'" not in again
    assert "0 run(s) new, 0 changed, 0 gone" in again

    shutil.copytree(runs / "4-windows-seed0", runs / "5-all-columns-seed0")
    third = _report(out, runs, 29)
    assert third.count("new since 2026-12-15") == 2  # in the iterations table and in the list by date
    assert "1 run(s) new, 0 changed, 0 gone" in third
    new_rows = [row for row in third.split("<tr") if "new since" in row]
    assert new_rows and all("5-all-columns" in row for row in new_rows)


def test_a_changed_accuracy_a_retrained_run_and_a_gone_run_are_marked(runs, tmp_path):
    out = tmp_path / "report"
    _report(out, runs, 1)
    metrics_file = runs / "study-1-50x1-seed0" / "metrics.json"
    metrics = json.loads(metrics_file.read_text())
    old = metrics["rnn"]["protocols"]["file"]["accuracy"]
    metrics["rnn"]["protocols"]["file"]["accuracy"] = old - 0.1
    metrics_file.write_text(json.dumps(metrics))
    meta_file = runs / "4-windows-seed0" / "run.json"
    meta = json.loads(meta_file.read_text())
    meta["trained_on"] = "2026-12-10"
    meta_file.write_text(json.dumps(meta))
    page = _report(out, runs, 15)
    assert f"file accuracy {old:.3f} → {old - 0.1:.3f}" in page
    assert "trained again" in page and "0 run(s) new, 2 changed, 0 gone" in page

    shutil.rmtree(runs / "study-1-50x1-seed0")
    page = _report(out, runs, 29)
    assert "Gone since the previous report" in page and "study-1-50x1-seed0" in page.split("Gone since")[1]


def test_the_runs_are_listed_newest_first(runs, tmp_path):
    meta_file = runs / "study-1-50x1-seed0" / "run.json"
    meta = json.loads(meta_file.read_text())
    meta["trained_on"] = "2000-01-01"
    meta_file.write_text(json.dumps(meta))
    records = make_report.run_records(find_runs(runs))
    assert [r["id"].rsplit("/", 1)[-1] for r in records] == ["4-windows-seed0", "study-1-50x1-seed0"]
    assert records[-1]["trained"] == "2000-01-01"


@pytest.mark.parametrize("name", ["index.html", "previous.json"])
def test_a_file_the_user_made_is_not_overwritten(runs, tmp_path, name):
    out = tmp_path / "report"
    out.mkdir()
    (out / name).write_text("my notes\n")
    with pytest.raises(ValueError, match="not written by"):
        _report(out, runs, 1)
    assert (out / name).read_text() == "my notes\n"
    assert [p.name for p in out.iterdir()] == [name]


def test_main_without_running_the_notebooks(runs, tmp_path, monkeypatch, capsys, demo_dir):
    monkeypatch.setenv("GENRE_DATA", str(demo_dir))
    out = tmp_path / "report"
    assert make_report.main(["--no-run", "--out", str(out)]) == 0
    assert "report:" in capsys.readouterr().out
    assert (out / "index.html").exists() and (out / "previous.json").exists()
    (out / "index.html").write_text("mine")
    assert make_report.main(["--no-run", "--out", str(out)]) == 2  # stops before running anything
    assert (out / "index.html").read_text() == "mine"


def test_the_cross_validation_of_the_explained_models_folder_and_genres(demo_run, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    assert make_report.glance_cv(demo_run.path, results) == "", "no cross-validation: nothing shown"
    # a result for the demo run's folder and genres, and one for other genres that must not be shown
    means = dict(zip([(w, p) for w in ("rnn", "baseline", "combined") for p in ("first100", "file")],
                     (0.81, 0.88, 0.82, 0.89, 0.84, 0.91)))
    summary = {"accuracy": {w: {p: {"mean": m, "sd": 0.01} for (w2, p), m in means.items() if w2 == w}
                            for w in ("rnn", "baseline", "combined")}}
    other = {"accuracy": {w: {p: {"mean": 0.5, "sd": 0} for p in ("first100", "file")} for w in ("rnn", "baseline", "combined")}}
    genres, config = demo_run.meta["genres"], demo_run.meta["config"]
    # the right one; one for other genres; one for the same data and genres by another network
    # (sorted first, as cv-jazz-electronic-order.json is before cv-jazz-electronic.json): neither may be shown
    for name, g, c in (("cv-demo.json", genres[::-1], config), ("cv-other.json", genres + ["rock"], config),
                       ("cv-demo-order.json", genres, {**config, "conv": 5, "intervals": True})):
        cv = {"data": {"folder": demo_run.meta["data"]["folder"], "genres": g, "files": 300}, "folds_total": 5,
              "config": c, "summary": summary if name == "cv-demo.json" else other,
              "command": f"python scripts/cross_validate.py x --json {name}"}
        (results / name).write_text(json.dumps(cv))
    html = make_report.glance_cv(demo_run.path, results)
    assert "Group 5-fold cross-validation (300 files)" in html and "cv-demo.json" in html
    assert "RNN + baseline</td><td class='num'>0.840 ± 0.010</td><td class='num'>0.910 ± 0.010" in html
    assert "0.500" not in html


def test_the_committed_models_of_more_genres_with_their_cross_validation():
    """The page's "more genres" table, from the committed models and results (no data needed)."""
    from genre_lib.paths import MODELS_DIR, RESULTS_DIR

    run = MODELS_DIR / "jazz-electronic-rock"
    html = make_report.more_genres([run], RESULTS_DIR)
    metrics = json.loads((run / "metrics.json").read_text())
    cv = json.loads((RESULTS_DIR / "cv-jazz-electronic-rock.json").read_text())
    assert "More genres" in html and "cv-jazz-electronic-rock.json" in html
    for who in ("rnn", "baseline", "combined"):
        assert f"<td class='num'>{metrics[who]['protocols']['file']['accuracy']:.3f}</td>" in html
        s = cv["summary"]["accuracy"][who]["file"]
        assert f"{s['mean']:.3f} ± {s['sd']:.3f}" in html
        assert ", ".join(f"{g} {v['mean']:.3f}" for g, v in cv["recall"][who]["file"].items()) in html
    assert make_report.more_genres([], RESULTS_DIR) == ""


def test_the_committed_models_cv_is_the_one_made_with_its_settings():
    """The committed two-genre model's CV is cv-jazz-electronic.json, not the order-using
    network's cv-jazz-electronic-order.json of the same data and genres (which has no
    baseline or combined verdicts under these names: the page showed only dashes)."""
    from genre_lib.paths import MODELS_DIR, RESULTS_DIR

    assert make_report.committed_cv(MODELS_DIR / "jazz-electronic", RESULTS_DIR).name == "cv-jazz-electronic.json"
    assert make_report.committed_cv(MODELS_DIR / "jazz-electronic-order", RESULTS_DIR).name == "cv-jazz-electronic-order.json"
    html = make_report.glance_cv(MODELS_DIR / "jazz-electronic", RESULTS_DIR)
    cv = json.loads((RESULTS_DIR / "cv-jazz-electronic.json").read_text())
    assert "–" not in html
    for who in ("rnn", "baseline", "combined"):
        for p in ("first100", "file"):
            s = cv["summary"]["accuracy"][who][p]
            assert f"{s['mean']:.3f} ± {s['sd']:.3f}" in html


def _text(html: str) -> str:
    import html as html_lib
    import re

    return html_lib.unescape(re.sub(r"<[^>]+>", " ", html))


def test_each_notebooks_summary_for_the_mentor_is_a_section_with_its_results_pages(tmp_path):
    import re

    notes = make_report.read_mentor_notes()
    assert list(notes) == ["01", "02", "03", "04", "05", "06"]
    for nb, note in notes.items():
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", note["date"]) and note["figures"] and note["changed"] and note["questions"]
    out = tmp_path / "reports" / "demo"
    html = make_report.mentor_sections(out, notes)
    assert not re.search(r"issue \d", html, re.I), "an issue number in the mentor's sections"
    for nb, note in notes.items():
        section = html.split(f"id='mentor-{nb}'>")[1].split("</section>")[0]
        assert note["date"] in section and "What changed since the last committed run" in section and "Open questions" in section
        links = re.findall(r"href='([^']+\.md)'", section)
        assert links, f"{nb}: no link to a results page"
        for href in links:
            target = (out / href).resolve()
            assert target.is_file(), f"{nb}: {href} -> {target} does not exist"
        assert "figures not computed" not in section, section[:2000]


@pytest.mark.slow  # loads the committed network (TensorFlow) for notebook 02's parameter count
def test_the_mentor_figures_are_those_the_notebooks_printed(tmp_path):
    """Every figure the notebooks' mentor cells printed at ab002df (from the committed
    results then) is printed by the report's section of that notebook, while the
    committed results and models are those of ab002df."""
    import re
    import subprocess

    import nbformat

    git = lambda *a: subprocess.run(["git", *a], cwd=PROJECT, capture_output=True, text=True)
    if git("cat-file", "-e", "ab002df").returncode != 0:
        pytest.skip("commit ab002df is not in this clone (shallow?)")
    # a result, model or the manifest changed or gone since then (one added since changes no figure of then)
    changed = git("diff", "--name-only", "--diff-filter=MDR", "ab002df", "--", "models", "data/sources/midi.csv",
                  "results").stdout.split()
    sys.path.insert(0, str(PROJECT / "scripts"))
    from convert_cv_layout import convert

    def same_figures(path: str) -> bool:  # a cross-validation only converted to the nested layout, values kept
        then = git("show", f"ab002df:{path}")
        return path.startswith("results/cv-") and then.returncode == 0 and (PROJECT / path).is_file() and \
            convert(json.loads(then.stdout)) == json.loads((PROJECT / path).read_text())

    if [c for c in changed if not c.endswith(".md") and not same_figures(c)]:
        pytest.skip("the committed results or models changed since ab002df: the notebooks' figures of then do not apply")
    number = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?%?")
    html = make_report.mentor_sections(tmp_path / "out")
    for path in sorted((PROJECT / "notebooks").glob("0[1-6]_*.ipynb")):
        old = git("show", f"ab002df:notebooks/{path.name}")
        nb = nbformat.reads(old.stdout, as_version=4)
        cell = next(c for c in nb.cells[:4] if c.cell_type == "code")  # the mentor cell, after "For the mentor"
        printed = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
        printed = re.sub(r"issue \d+", "", printed)  # the project's issue numbers are left out on purpose
        section = _text(html.split(f"id='mentor-{path.name[:2]}'>")[1].split("</section>")[0])
        shown = {n.lstrip("+") for n in number.findall(section)}
        missing = [n for n in number.findall(printed) if n.lstrip("+") not in shown]
        assert not missing, f"{path.name}: figures printed at ab002df that the report does not show: {missing[:20]}"


def test_the_concepts_and_the_ear_from_the_committed_results(tmp_path):
    """The two sections read results/ only: the RNN's answer (genre_lib.concept_study.answer,
    as the JSON stores it), each judge's share of verdicts changed with its interval (bold
    when it clears every horse test), the ear's accuracy beside the RNN's and the baseline's,
    its agreement with the flips; each links to its results page."""
    from genre_lib.paths import RESULTS_DIR

    out = tmp_path / "reports" / "midi"
    html = make_report.concepts_section(RESULTS_DIR, out)
    for path in sorted(RESULTS_DIR.glob("concepts-*.json")):
        rec = json.loads(path.read_text())
        assert f"{path.stem}.md" in html
        import html as html_lib

        assert html_lib.escape(rec["answers"]["rnn file"]) in html
        rows = [r for r in rec["table"]["rows"] if r["protocol"] == "file" and r["judge"] == "rnn"]
        level = max(r["flipped"] for r in rows if r["edit"] in rec["horse"])
        for r in rows:
            lo, hi = r["flipped_interval"]
            cell = f"{100 * r['flipped']:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}]"
            assert (f"<b>{cell}</b>" if r["edit"] not in rec["horse"] and lo > level else cell) in html
    ear = make_report.ear_section(RESULTS_DIR, out)
    for name in ("ear-jazz-electronic", "ear-four-genres"):
        rec = json.loads((RESULTS_DIR / f"{name}.json").read_text())
        assert f"{name}.md" in ear
        for who in ("rnn", "baseline", "ear"):
            t = rec["test"]["file"][who]
            assert f"{100 * t['accuracy']:.1f} % [{100 * t['accuracy_95'][0]:.1f}, {100 * t['accuracy_95'][1]:.1f}]" in ear
    flips = json.loads((RESULTS_DIR / "flip-ear.json").read_text())["summary"]["default"]
    assert f"{flips['p_change']['ear']['first100']:+.3f}" in ear and "flip-ear.md" in ear
    for href in re.findall(r"href=['\"]([^'\"]+\.md)['\"]", html + ear):
        assert (out / href).resolve().is_file(), href


def test_missing_results_and_notebooks_are_said_not_fatal(runs, tmp_path, monkeypatch):
    """Notebooks rewritten without cells tagged ``report``, one that cannot be read, no
    results: the page is written and says what it could not show."""
    out = tmp_path / "report"
    out.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A short lesson"),
                                         nbformat.v4.new_code_cell("1 + 1")])
    nbformat.write(nb, out / "04_saliency.ipynb")
    (out / "05_input_optimization.ipynb").write_text("{not json")
    page = _report(out, runs, 1)
    assert "Not on this page" in page
    assert "the executed <code>04_saliency.ipynb</code> has no cell tagged <code>report</code>" in page
    assert "<code>05_input_optimization.ipynb</code> could not be read" in page
    empty = tmp_path / "no-results"
    empty.mkdir()
    assert "No <code>results/concepts-*.json</code>" in make_report.concepts_section(empty, out)
    assert "No <code>results/ear-*.json</code>" in make_report.ear_section(empty, out)


def test_a_notebook_that_failed_in_this_run_is_named_and_its_old_copy_not_shown(runs, tmp_path):
    """run_notebooks does not save a failed notebook; an executed copy from an earlier run may
    still be in the folder: its figures are not this run's, so they stay out."""
    out = tmp_path / "report"
    _executed_notebooks(out)
    (out / "timings.json").write_text(json.dumps({
        "notebooks": {"04_saliency.ipynb": 5.0, "05_input_optimization.ipynb": 6.0}, "wall_seconds": 11.0,
        "at_a_time": 1, "failed": {"04_saliency.ipynb": "ModuleNotFoundError: No module named 'x'"}}))
    page = _report(out, runs, 1)
    assert "<code>04_saliency.ipynb</code> failed in this run (ModuleNotFoundError: No module named &#x27;x&#x27;)" in page
    assert "<table id='checks'>" not in page  # 04's old checks table
    assert page.split("<h2 id='new'>")[0].count(PNG) == 1  # 05's flip only
    assert "failed: ModuleNotFoundError" in page and "href='04_saliency.html'" not in page
