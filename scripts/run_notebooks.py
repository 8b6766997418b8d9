"""Execute the notebooks, headless, and save them with their outputs.

    python scripts/run_notebooks.py --out reports/demo   # executed copies + HTML
    python scripts/run_notebooks.py --in-place           # refresh the committed outputs

The data folder comes from the environment variable ``GENRE_DATA`` (default: the
generated demo corpus). Two notebooks run at a time (``--jobs``), each in its own kernel,
and a notebook starts only after those it uses (:data:`NEEDS`) have finished, so the
results are the same as one at a time. Prints how long each notebook took and the wall
clock of the whole run, on the demo corpus against :data:`DEMO_BUDGET`; with ``--out`` it
also writes ``timings.json`` (seconds per notebook, the wall clock, and the notebooks that
failed with their error: a failed notebook is not saved) and ``kernels.log``
(what the kernel processes wrote outside the cells, such as their start-up warnings).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import IO

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from genre_lib.machine import share_cores
from genre_lib.paths import NOTEBOOKS_DIR

NOTEBOOKS = NOTEBOOKS_DIR

#: seconds the whole series may take on the generated demo corpus (``make demo``) on
#: the maintainers' 2-core machine, so a laptop twice as slow stays under 3 minutes
DEMO_BUDGET = 90

#: what a notebook uses that an earlier one leaves behind: 04 and 05 explain the run 03
#: trains (when no committed run goes with the data). 04 and 05 show the same saliency
#: checks; whichever computes them first leaves them for the other, and the figures are
#: the same either way (``genre_lib.cache.notebook_checks``), so they may run side by side.
#: The others read only the data and the committed models.
NEEDS: dict[str, tuple[str, ...]] = {
    "04_saliency": ("03_train_evaluate",),
    "05_input_optimization": ("03_train_evaluate",),
}


# TensorFlow's C++ start-up lines (absl logging) carry timestamps and thread ids and
# ignore TF_CPP_MIN_LOG_LEVEL; they would churn in git and say nothing to a student.
_TF_LOG = re.compile(
    r"^([IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+\] .*"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: .*rebuild TensorFlow.*)$"
)


def scrub_tf_logs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop TensorFlow's timestamped C++ log lines from the stderr outputs."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                lines = [ln for ln in output["text"].splitlines(keepends=True) if not _TF_LOG.match(ln.rstrip("\n"))]
                if not "".join(lines).strip():
                    continue
                output["text"] = "".join(lines)
            kept.append(output)
        cell["outputs"] = kept
    return nb


def execute(path: Path, timeout: int = 1800, kernel_log: IO | None = None) -> nbformat.NotebookNode:
    """Run one notebook top to bottom in its own folder and return it with outputs.

    ``kernel_log``: an open file for what the kernel process itself writes to its
    stdout and stderr (not the cells' outputs, which stay in the notebook); by default
    the terminal.
    """
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,  # no per-cell timestamps: they would churn in git
        store_widget_state=True,  # widgets render on a static page too
        coalesce_streams=True,  # one output per stream, however the kernel split its messages
    )
    # the kernel's own start-up warnings (TCP transport, TensorFlow) repeat for every
    # notebook and say nothing about the series: they go to the log when there is one
    streams = {"stdout": kernel_log, "stderr": kernel_log} if kernel_log else {}
    client.execute(**streams)
    return scrub_tf_logs(nb)


def _run_one(path: Path, kernel_log: Path | None) -> tuple[nbformat.NotebookNode | None, float, str]:
    """Execute one notebook in this (worker) process: the notebook with its outputs or
    None, the seconds it took, and the error's last line if a cell failed."""
    start = time.perf_counter()
    log = open(kernel_log, "w", encoding="utf-8") if kernel_log else None
    try:
        return execute(path, kernel_log=log), time.perf_counter() - start, ""
    except CellExecutionError as exc:
        return None, time.perf_counter() - start, str(exc).strip().splitlines()[-1][:300]
    finally:
        if log:
            log.close()


def schedule(paths: list[Path]) -> list[tuple[Path, tuple[Path, ...]]]:
    """Each notebook with those of ``paths`` it must wait for (:data:`NEEDS`), those that
    others wait for first (the longest chain starts first), else in the order given."""
    names = {p.stem: p for p in paths}

    def waiting_on(name: str) -> int:  # how many notebooks wait for this one
        return sum(1 for other in names if name in NEEDS.get(other, ()))

    ordered = sorted(paths, key=lambda p: -waiting_on(p.stem))  # stable: ties keep their order
    return [(p, tuple(names[n] for n in NEEDS.get(p.stem, ()) if n in names)) for p in ordered]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, help="folder for the executed notebooks and their HTML")
    where.add_argument("--in-place", action="store_true", help="overwrite the notebooks with their new outputs")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks run at a time (default 2: one per core here)")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/[0-9]*.ipynb in order")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if os.environ.get("GENRE_DATA"):
        # the notebooks run in notebooks/: a path relative to where we were called would break
        os.environ["GENRE_DATA"] = str(Path(os.environ["GENRE_DATA"]).expanduser().resolve())
    paths = args.notebooks or sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
    jobs = max(1, args.jobs)
    if jobs > 1:
        share_cores(jobs)  # kernels side by side: each takes its share of the cores
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    print(f"data: {os.environ.get('GENRE_DATA') or 'generated demo corpus'}; {jobs} notebook(s) at a time")
    if not paths:
        print(f"error: no notebooks found in {NOTEBOOKS}", file=sys.stderr)
        return 1
    failed, timings, errors = [], {}, {}
    logs = {p: args.out / f"kernel-{p.stem}.log" for p in paths} if args.out else {}
    pending, running, done = schedule(paths), {}, set()
    start = time.perf_counter()
    # worker processes, started fresh (spawn): each notebook's kernel is a child of one
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        while pending or running:
            for item in [i for i in pending if all(n in done for n in i[1])][: jobs - len(running)]:
                pending.remove(item)
                running[pool.submit(_run_one, item[0], logs.get(item[0]))] = item[0]
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                path = running.pop(future)
                done.add(path)  # a failed notebook too: the later ones make what they need themselves
                nb, seconds, error = future.result()
                timings[path.name] = round(seconds, 1)
                if nb is None:
                    failed.append(path.name)
                    errors[path.name] = re.sub(r"\x1b\[[0-9;]*m", "", error)  # the traceback's colours
                    print(f"FAILED {path.name}: {error}", flush=True)
                    continue
                _save(nb, path, args.out)
                print(f"{seconds:7.1f} s  {path.name}", flush=True)
    wall = time.perf_counter() - start
    print(f"{wall:7.1f} s  wall clock ({sum(timings.values()):.1f} s of notebooks, {jobs} at a time)")
    if not os.environ.get("GENRE_DATA") and not args.notebooks:
        # the demo is budgeted: say where it stands, so a slow-down shows when it happens
        verdict = "within budget" if wall <= DEMO_BUDGET else "OVER BUDGET: see the slowest notebooks above"
        print(f"{wall:.0f} s of notebooks on the demo corpus (budget {DEMO_BUDGET} s on a 2-core machine: {verdict})")
    if args.out:
        with open(args.out / "kernels.log", "w", encoding="utf-8") as log:
            for path, part in logs.items():
                if part.is_file():
                    log.write(f"== {path.name}\n{part.read_text(encoding='utf-8')}")
                    part.unlink()
        (args.out / "timings.json").write_text(json.dumps(
            {"notebooks": {p.name: timings[p.name] for p in paths if p.name in timings},
             "wall_seconds": round(wall, 1), "at_a_time": jobs,
             "failed": {p.name: errors[p.name] for p in paths if p.name in errors}}, indent=2) + "\n")
        out = os.path.relpath(args.out)  # short: the terminal output is a summary
        print(f"seconds per notebook: {out}/timings.json; kernel messages: {out}/kernels.log")
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}")
        return 1
    return 0


def _save(nb: nbformat.NotebookNode, path: Path, out: Path | None) -> None:
    """Write an executed notebook in place (``out`` None) or to ``out`` with its HTML."""
    if out is None:
        nbformat.write(nb, path)
        return
    from nbconvert import HTMLExporter

    nbformat.write(nb, out / path.name)
    html, _ = HTMLExporter().from_notebook_node(nb)
    (out / path.with_suffix(".html").name).write_text(html, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
