"""scripts/run_notebooks.py: notebooks side by side, each after those it uses."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest

from genre_lib.paths import NOTEBOOKS_DIR, PROJECT

sys.path.insert(0, str(PROJECT / "scripts"))

import run_notebooks  # noqa: E402


def test_the_chain_that_others_wait_for_starts_first_and_each_waits_for_what_it_uses():
    paths = sorted(NOTEBOOKS_DIR.glob("[0-9]*.ipynb"))
    order = run_notebooks.schedule(paths)
    names = [p.stem for p, _ in order]
    assert names[0] == "03_train_evaluate"  # 04 and 05 explain its run
    assert sorted(names) == [p.stem for p in paths]
    waits = {p.stem: [n.stem for n in needs] for p, needs in order}
    assert waits["04_saliency"] == waits["05_input_optimization"] == ["03_train_evaluate"]
    assert waits["01_preprocess"] == waits["02_build_rnn"] == waits["06_more_genres"] == []
    # a notebook not in the run waits for nothing it cannot get
    assert run_notebooks.schedule([NOTEBOOKS_DIR / "04_saliency.ipynb"])[0][1] == ()


def _stamp_notebook(path: Path, seconds: float) -> None:
    """A notebook that records when it ran, in seconds since the epoch, in ``<name>.json`` beside it."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import json, os, time\n"
        "start = time.time()\n"
        f"time.sleep({seconds})\n"
        f"json.dump([start, time.time(), os.environ.get('TF_NUM_INTRAOP_THREADS')], open({str(path.with_suffix('.json'))!r}, 'w'))\n"
        "print('done')")]
    nbformat.write(nb, path)


@pytest.mark.slow
def test_two_at_a_time_and_a_notebook_starts_after_what_it_uses(tmp_path: Path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    names = ["01_preprocess", "03_train_evaluate", "04_saliency"]
    for name in names:
        _stamp_notebook(folder / f"{name}.ipynb", 1)
    out = tmp_path / "out"
    assert run_notebooks.main(["--out", str(out), "--jobs", "2", *(str(folder / f"{n}.ipynb") for n in names)]) == 0
    ran = {n: json.loads((folder / f"{n}.json").read_text()) for n in names}
    assert ran["04_saliency"][0] >= ran["03_train_evaluate"][1]  # it waited for the run it explains
    assert ran["01_preprocess"][0] < ran["03_train_evaluate"][1]  # side by side with 03
    assert ran["03_train_evaluate"][0] < ran["01_preprocess"][1]
    # two kernels side by side share the cores rather than each taking all of them (unless the user set it)
    expected = os.environ.get("TF_NUM_INTRAOP_THREADS") or str(max(1, (os.cpu_count() or 1) // 2))
    assert {r[2] for r in ran.values()} == {expected}
    timings = json.loads((out / "timings.json").read_text())
    assert set(timings["notebooks"]) == {f"{n}.ipynb" for n in names} and timings["at_a_time"] == 2
    # the wall clock covers the chain 03 -> 04 (the overlap itself is checked by the notebooks' own clocks above)
    assert timings["wall_seconds"] >= timings["notebooks"]["03_train_evaluate.ipynb"] + timings["notebooks"]["04_saliency.ipynb"]
    for n in names:
        assert nbformat.read(out / f"{n}.ipynb", 4).cells[0].outputs[0]["text"] == "done\n"
    assert (out / "kernels.log").is_file() and not list(out.glob("kernel-*.log"))


@pytest.mark.slow
def test_a_failed_notebook_is_named_in_the_timings(tmp_path: Path):
    """The report reads which notebooks failed (and why) from timings.json: a failed notebook
    is not saved, so an executed copy of an earlier run must not pass for this run's."""
    folder = tmp_path / "nbs"
    folder.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise ValueError('on purpose')")])
    nbformat.write(nb, folder / "04_saliency.ipynb")
    out = tmp_path / "out"
    assert run_notebooks.main(["--out", str(out), "--jobs", "1", str(folder / "04_saliency.ipynb")]) == 1
    timings = json.loads((out / "timings.json").read_text())
    assert "on purpose" in timings["failed"]["04_saliency.ipynb"] and not (out / "04_saliency.ipynb").exists()
