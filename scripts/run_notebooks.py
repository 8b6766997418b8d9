"""Execute the notebooks in order, headless, and save them with their outputs.

    python scripts/run_notebooks.py --out reports/demo   # executed copies + HTML
    python scripts/run_notebooks.py --in-place           # refresh the committed outputs

The data folder comes from the environment variable ``GENRE_DATA`` (default: the
generated demo corpus). Prints how long each notebook took, and on the demo corpus the
total against :data:`DEMO_BUDGET`; with ``--out`` it also
writes ``timings.json`` (seconds per notebook) and ``kernels.log`` (what the kernel
processes wrote outside the cells, such as their start-up warnings) in that folder.
"""

from __future__ import annotations

import argparse
import re
import json
import os
import sys
import time
from pathlib import Path
from typing import IO

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from genre_lib.paths import NOTEBOOKS_DIR

NOTEBOOKS = NOTEBOOKS_DIR

#: seconds the whole series may take on the generated demo corpus (``make demo``) on
#: the maintainers' 2-core machine, so a laptop twice as slow stays under 3 minutes
DEMO_BUDGET = 90


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
    )
    # the kernel's own start-up warnings (TCP transport, TensorFlow) repeat for every
    # notebook and say nothing about the series: they go to the log when there is one
    streams = {"stdout": kernel_log, "stderr": kernel_log} if kernel_log else {}
    client.execute(**streams)
    return scrub_tf_logs(nb)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, help="folder for the executed notebooks and their HTML")
    where.add_argument("--in-place", action="store_true", help="overwrite the notebooks with their new outputs")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/[0-9]*.ipynb in order")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if os.environ.get("GENRE_DATA"):
        # the notebooks run in notebooks/: a path relative to where we were called would break
        os.environ["GENRE_DATA"] = str(Path(os.environ["GENRE_DATA"]).expanduser().resolve())
    paths = args.notebooks or sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    print(f"data: {os.environ.get('GENRE_DATA') or 'generated demo corpus'}")
    if not paths:
        print(f"error: no notebooks found in {NOTEBOOKS}", file=sys.stderr)
        return 1
    total, failed, timings = 0.0, [], {}
    log = open(args.out / "kernels.log", "w", encoding="utf-8") if args.out else None
    for path in paths:
        start = time.perf_counter()
        try:
            nb = execute(path, kernel_log=log)
        except CellExecutionError as exc:
            # report and go on: the later notebooks make what they need themselves
            failed.append(path.name)
            print(f"FAILED {path.name}: {str(exc).strip().splitlines()[-1][:300]}", flush=True)
            continue
        finally:
            seconds = time.perf_counter() - start
            total += seconds
            timings[path.name] = round(seconds, 1)
        if args.in_place:
            nbformat.write(nb, path)
        else:
            from nbconvert import HTMLExporter

            nbformat.write(nb, args.out / path.name)
            html, _ = HTMLExporter().from_notebook_node(nb)
            (args.out / path.with_suffix(".html").name).write_text(html, encoding="utf-8")
        print(f"{seconds:7.1f} s  {path.name}", flush=True)
    print(f"{total:7.1f} s  total")
    if not os.environ.get("GENRE_DATA") and not args.notebooks:
        # the demo is budgeted: say where it stands, so a slow-down shows when it happens
        verdict = "within budget" if total <= DEMO_BUDGET else "OVER BUDGET: see the slowest notebooks above"
        print(f"{total:.0f} s of notebooks on the demo corpus (budget {DEMO_BUDGET} s on a 2-core machine: {verdict})")
    if args.out:
        log.close()
        (args.out / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
        out = os.path.relpath(args.out)  # short: the terminal output is a summary
        print(f"seconds per notebook: {out}/timings.json; kernel messages: {out}/kernels.log")
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
