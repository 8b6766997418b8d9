"""Keep the iterations table of a runs folder in results/, beside the study's figures.

    python scripts/export_iterations.py runs/midi/iterations --json results/iterations-jazz-electronic.json

Notebook 03 (or ``scripts/train_iterations.py ../shared/midi --out runs/midi/iterations``)
trains the iterations into ``runs/``, which is not committed. This writes what its table
shows (``genre_lib.runs.iterations_table``: every run's settings, its accuracy and loss
under both protocols, the baseline and RNN + baseline on the same files, the order
effect and the column the RNN leans on most), the study's own reported figures beside
the study's rows, and where and when it was made, so the table is kept with the other
results and gets a readable page (``scripts/results_pages.py``). Reads run folders only.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from genre_lib.paths import shown
from genre_lib.runs import iterations_table, read_run_meta
from genre_lib.configs import ITERATIONS, STUDY_COLUMNS, STUDY_REPORTED


def _plain(value):
    """A JSON value: NaN and missing as None, numpy numbers as Python numbers."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def export(runs_dir: Path, trained_by: str) -> dict:
    table = iterations_table(runs_dir)
    order = {name: k for k, name in enumerate(ITERATIONS)}
    rows = []
    for r in table.to_dict("records"):
        iteration = r["run"].rsplit("-seed", 1)[0]
        row = {k: _plain(v) for k, v in r.items()}
        row["iteration"] = iteration
        row["study reported"] = STUDY_REPORTED.get(iteration)
        rows.append(row)
    rows.sort(key=lambda r: (order.get(r["iteration"], len(order)), r["run"]))
    data = {}
    for r in rows:
        try:
            meta = read_run_meta(runs_dir / r["run"])
        except Exception:  # noqa: BLE001 - a folder that cannot be read is listed with its note
            continue
        d = meta.get("data", {})
        data = {"collection": d.get("collection") or d.get("folder"), "genres": list(meta.get("genres", [])),
                "files": d.get("files", d.get("files_used")), "files_skipped": d.get("files_skipped")}
        break
    return {
        "kind": "iterations",
        "what": ("The iterations of notebook 03, one idea at a time, each trained once on the same group split "
                 "(seed 0) and measured on its held-out test files under both protocols, with the baseline and "
                 "RNN + baseline on the same files and the order probe (one draw). 'study reported': the study's "
                 f"own figure for its three rows, on its data and split, input {'+'.join(STUDY_COLUMNS)}, protocol "
                 "first100: quoted, not reproduced."),
        "runs_dir": shown(runs_dir),
        "trained_by": trained_by,
        "command": f"python scripts/export_iterations.py {shown(runs_dir)} --json <this file>",
        "data": data,
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs_dir", type=Path)
    parser.add_argument("--json", type=Path, required=True, help="where to write (refuses to replace without --overwrite)")
    parser.add_argument("--trained-by", default="notebook 03 (scripts/run_notebooks.py, full mode)",
                        help="what trained the runs (recorded in the file)")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    if not args.runs_dir.is_dir():
        print(f"error: {args.runs_dir}: no such folder", file=sys.stderr)
        return 2
    if args.json.exists() and not args.overwrite:
        print(f"error: {args.json}: exists; not replaced (--overwrite)", file=sys.stderr)
        return 2
    record = export(args.runs_dir, args.trained_by)
    record["command"] = f"python scripts/export_iterations.py {shown(args.runs_dir)} --json {shown(args.json)}"
    args.json.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"{len(record['rows'])} runs -> {shown(args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
