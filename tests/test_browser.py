"""The notebooks' widgets in a real browser: JupyterLab on localhost, driven by Playwright
with Debian's Chromium.

nbval proves a widget cell runs, not that the widget works (it ignores widget messages),
so these tests open copies of notebooks 04 and 05 in JupyterLab (each up to its last
widget), run all cells, move a slider / pick another dropdown entry, and check that what is
drawn changes. The mentor's report (scripts/make_report.py) is opened at 1366 px wide, on
the demo corpus and on the real collection, and checked for anything that runs off the
page or overlaps.

Needs the ``playwright`` Python package and a Chromium binary (``/usr/bin/chromium``;
``make test`` installs it where it can). Without them the tests are skipped with the
reason printed in the summary (``pytest -rs``).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from .conftest import PROJECT, needs_shared

CHROMIUM = os.environ.get("GENRE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
NOTEBOOKS = Path(os.environ.get("GENRE_BROWSER_NOTEBOOKS", PROJECT / "notebooks"))
#: running a notebook in quick mode takes a minute or two on 2 cores
RUN_ALL_TIMEOUT_MS = 420_000

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # starts JupyterLab and Chromium: tens of seconds

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"BROWSER TESTS SKIPPED: no Chromium at {CHROMIUM} (apt-get install chromium, or set GENRE_CHROMIUM)")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield b
        b.close()


WIDGET = "application/vnd.jupyter.widget-view+json"


def _copy_to_last_widget(source: Path, copy: Path) -> None:
    """``source`` cut after its last cell that shows a widget (by the committed outputs):
    the cells after it (the answer, the exercises' solutions) draw nothing a test here
    looks at and nbval runs them anyway, so the browser need not wait for them."""
    nb = nbformat.read(source, as_version=4)
    shows = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and any(WIDGET in o.get("data", {}) for o in c.get("outputs", []))]
    if shows:
        nb.cells = nb.cells[: shows[-1] + 1]
    nbformat.write(nb, copy)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, browser):
    """A JupyterLab server on a copy of the notebooks (the committed ones stay untouched)."""
    root = tmp_path_factory.mktemp("lab")
    for nb in NOTEBOOKS.glob("*.ipynb"):
        _copy_to_last_widget(nb, root / nb.name)
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "GENRE_QUICK": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "GENRE_DATA": ""}
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
           f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
           "--ServerApp.disable_check_xsrf=False"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(root / "lab.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"JupyterLab exited: {(root / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within 60 s")
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _open_and_run_all(browser, lab, name: str):
    url, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    # a workspace of its own per notebook, so Lab does not restore the other one's tabs
    workspace = Path(name).stem.replace("_", "-")
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/{name}?token={token}&reset")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    _accept_dialogs(page)
    page.locator(".jp-Notebook").first.click()
    page.keyboard.press("Escape")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    return page


def _accept_dialogs(page, wait_ms: int = 3000) -> None:
    """Accept the dialogs Lab may open on a first start (kernel choice and the like)."""
    end = time.time() + wait_ms / 1000
    while time.time() < end:
        button = page.locator(".jp-Dialog .jp-mod-accept")
        if button.count():
            button.first.click()
            end = time.time() + wait_ms / 1000
        page.wait_for_timeout(250)


def _wait_idle(page, timeout_ms: int = RUN_ALL_TIMEOUT_MS) -> None:
    """Wait until no cell is queued or running (execution prompt ``[*]``)."""
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-InputArea-prompt')].map(p => p.textContent);
            return prompts.length > 0 && !prompts.some(t => t.includes('*'))
                && prompts.some(t => /\\[\\d+\\]/.test(t));
        }""",
        timeout=timeout_ms,
    )


def _cell_of(locator):
    return locator.locator("xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' jp-Cell ')][1]")


def _drawn(cell) -> tuple[str, tuple[str, ...]]:
    """What a cell's outputs show: their text, and the images (by content)."""
    text = cell.locator(".jp-Cell-outputArea").first.inner_text()
    # only what is on screen: a Stack keeps its hidden pages' images in the page too
    srcs = cell.locator(".jp-Cell-outputArea img").evaluate_all(
        "els => els.filter(e => e.offsetParent !== null && e.offsetWidth > 0).map(e => e.src)")
    images = tuple(hashlib.sha1(src.encode()).hexdigest()[:12] for src in srcs)
    return text, images


def _wait_changed(cell, before, timeout_s: float = 60.0):
    """What the cell shows once its figures differ from ``before`` (or after the timeout)."""
    end = time.time() + timeout_s
    while time.time() < end:
        now = _drawn(cell)
        if now[1] and now[1] != before[1]:
            return now
        time.sleep(0.5)
    return _drawn(cell)


def _readout(readout) -> str:
    """The value a slider shows (an input element in some ipywidgets versions)."""
    return readout.evaluate("e => e.value !== undefined ? String(e.value) : e.textContent").strip()


def _no_errors(page) -> None:
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    tracebacks = [t for t in errors.all_inner_texts() if "Traceback" in t]
    assert not tracebacks, tracebacks[:1]


@pytest.mark.skipif(not (NOTEBOOKS / "05_input_optimization.ipynb").exists(), reason="notebook 05 not present")
def test_flip_slider_redraws_the_note_map(browser, lab):
    page = _open_and_run_all(browser, lab, "05_input_optimization.ipynb")
    _wait_idle(page)
    _no_errors(page)
    sliders = page.locator(".widget-slider")
    assert sliders.count() >= 1, "no slider rendered"
    for i in range(sliders.count()):
        slider = sliders.nth(i)
        slider.scroll_into_view_if_needed()
        cell = _cell_of(slider)
        before = _drawn(cell)
        assert before[1], "the widget shows no figure"
        readout = slider.locator(".widget-readout")
        value_before = _readout(readout)
        handle = slider.locator(".noUi-handle")
        handle.click()
        # go to the other end of the slider: the first step if it shows the last, else the last
        page.keyboard.press("Home" if value_before != "0" else "End")
        after = _wait_changed(cell, before)
        assert _readout(readout) != value_before, "the slider did not move"
        assert after[1] != before[1], f"slider {i}: the note map was not redrawn"
    page.close()


@pytest.mark.skipif(not (NOTEBOOKS / "04_saliency.ipynb").exists(), reason="notebook 04 not present")
def test_saliency_dropdown_redraws_the_map(browser, lab):
    page = _open_and_run_all(browser, lab, "04_saliency.ipynb")
    _wait_idle(page)
    _no_errors(page)
    selects = page.locator(".widget-dropdown select")
    assert selects.count() >= 1, "no dropdown rendered"
    # every dropdown shows a choice (a widget value of None would show an empty box)
    assert all(selects.nth(i).evaluate("s => s.selectedIndex") >= 0 for i in range(selects.count()))
    # the explorer's method dropdown (it also has a file and a genre dropdown)
    select = selects.filter(has=page.locator("option", has_text="smoothgrad")).last
    select.scroll_into_view_if_needed()
    cell = _cell_of(select)
    before = _drawn(cell)
    assert before[1], "the widget shows no figure"
    # the options' DOM text, not their rendered text: an option's innerText can be empty
    # while JupyterLab has not laid the cell out
    options = select.evaluate("s => Array.from(s.options).map(o => o.text)")
    assert "smoothgrad" in options, f"not the method dropdown: {options}"
    current = select.evaluate("s => s.options[s.selectedIndex].text")
    other = next(o for o in options if o != current)
    select.select_option(label=other)
    after = _wait_changed(cell, before)
    assert after[1] != before[1], f"choosing {other!r} did not redraw the map"
    page.close()


# ---------------------------------------------------------------------------- the mentor's report at 1366 px

#: the width of the screen the mentor reads the report on
REPORT_WIDTH = 1366

#: what overflows the page and which tables, figures, images and text blocks overlap
LAYOUT_JS = """() => {
  const W = document.documentElement.clientWidth;
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + (typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\\s+/).join('.') : '')
    + ' "' + ((e.textContent || e.getAttribute('alt') || '').trim().replace(/\\s+/g, ' ').slice(0, 60)) + '"';
  const over = [];
  for (const e of document.body.querySelectorAll('*')) {
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.right > W + 0.5 || r.left < -0.5) over.push(`${name(e)}: x ${Math.round(r.left)} to ${Math.round(r.right)}`);
  }
  const boxes = [...document.querySelectorAll('table, figure, img, pre')];
  const overlaps = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      if (a.contains(b) || b.contains(a)) continue;
      const p = a.getBoundingClientRect(), q = b.getBoundingClientRect();
      const w = Math.min(p.right, q.right) - Math.max(p.left, q.left);
      const h = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
      if (w > 1 && h > 1) overlaps.push(`${name(a)} and ${name(b)}: ${Math.round(w)} x ${Math.round(h)} px`);
    }
  }
  return {width: W, scrollWidth: document.documentElement.scrollWidth, over, overlaps, boxes: boxes.length};
}"""


def _layout(browser, page_file: Path) -> dict:
    page = browser.new_page(viewport={"width": REPORT_WIDTH, "height": 900})
    try:
        page.goto(page_file.as_uri())
        page.wait_for_load_state("load")
        return page.evaluate(LAYOUT_JS)
    finally:
        page.close()


def _assert_fits(layout: dict, what: str) -> None:
    assert layout["boxes"] > 10, f"{what}: the page has almost no tables or figures ({layout['boxes']})"
    assert not layout["over"], (f"{what}: {len(layout['over'])} element(s) run off the {layout['width']}-px page "
                                f"(scroll width {layout['scrollWidth']}): {layout['over'][:8]}")
    assert layout["scrollWidth"] <= layout["width"], f"{what}: the page scrolls sideways ({layout['scrollWidth']} px)"
    assert not layout["overlaps"], f"{what}: tables or figures overlap: {layout['overlaps'][:8]}"


def _committed_notebooks_executed(out: Path) -> None:
    """The committed notebooks (their stored outputs: a real-data run, the widest tables
    and the real figures) as if run_notebooks had just left them in the report folder."""
    out.mkdir(parents=True, exist_ok=True)
    for nb in sorted(NOTEBOOKS.glob("0[1-6]_*.ipynb")):
        shutil.copy(nb, out / nb.name)


@pytest.fixture(scope="module")
def report_module():
    sys.path.insert(0, str(PROJECT / "scripts"))
    import make_report

    return make_report


def test_the_demo_report_fits_a_1366_px_page(browser, report_module, demo_run, demo_dir, tmp_path):
    """The report on the demo corpus (its iterations: copies of the session's demo run),
    with the outputs of the committed notebooks: nothing runs off the page, nothing overlaps."""
    from genre_lib.data_source import resolve_data_dir
    from genre_lib.runs import find_runs

    iterations = tmp_path / "runs" / "iterations-demo"
    for name in ("study-1-50x1-seed0", "4-windows-seed0", "8-augment-seed0"):
        shutil.copytree(demo_run.path, iterations / name)
    out = tmp_path / "reports" / "demo"
    _committed_notebooks_executed(out)
    page = report_module.write_report(out, choice=resolve_data_dir(demo_dir), quick=True, commit="test",
                                      run_dirs=find_runs(iterations.parent), runs_dir=iterations,
                                      explained=iterations / "8-augment-seed0")
    _assert_fits(_layout(browser, page), "the demo report")


@needs_shared
def test_the_real_data_report_fits_a_1366_px_page(browser, report_module, tmp_path):
    """The report on the real collection, as ``GENRE_DATA=../shared/midi make report`` lays
    it out: the iterations notebook 03 trained (``runs/midi/iterations``; where it has not
    run yet, the committed models stand in for them, under the iterations' names), the
    committed models of more genres, their cross-validations, the outputs of the committed
    notebooks."""
    from genre_lib.data_source import resolve_data_dir
    from genre_lib.paths import MODELS_DIR, SHARED_MIDI
    from genre_lib.configs import ITERATIONS
    from genre_lib.locations import iterations_dir

    choice = resolve_data_dir(SHARED_MIDI)
    runs_dir = iterations_dir(choice, False)
    if not runs_dir.is_dir():
        runs_dir = tmp_path / "runs" / "iterations"
        models = sorted(p for p in MODELS_DIR.iterdir() if (p / "run.json").is_file())
        for k, name in enumerate(ITERATIONS):
            shutil.copytree(models[k % len(models)], runs_dir / f"{name}-seed0", ignore=shutil.ignore_patterns("*.npz"))
    out = tmp_path / "reports" / "midi"
    _committed_notebooks_executed(out)
    page = report_module.write_report(out, choice=choice, quick=False, commit="test", runs_dir=runs_dir,
                                      explained=MODELS_DIR / "jazz-electronic")
    html = page.read_text(encoding="utf-8")
    assert "Group 5-fold cross-validation" in html and "cv-jazz-electronic.md" in html
    _assert_fits(_layout(browser, page), "the real-data report")
