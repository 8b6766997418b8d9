"""How heavy each notebook of the lesson is, against the limits a student can carry.

    python scripts/series_stats.py            # a table, and every limit a notebook exceeds
    python scripts/series_stats.py --json     # the same as JSON

Per notebook: its cells; its words of *prose* (typed markdown cells, and Markdown that
code cells render: a student reads both the same way); its words of *other printed
text* (printed lines and plain-text results; tables, figures, sound and widgets are not
counted); and the statistical tools it introduces: a tool is an entry of the glossary's
"Statistical tools" section, introduced by the first notebook that links to it
(``glossary.md#<anchor>``). :data:`LIMITS` holds the limits; the exit status is 1 when a
notebook exceeds one, and ``tests/test_series_stats.py`` holds the committed notebooks
to them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from genre_lib.paths import NOTEBOOKS_DIR as NOTEBOOKS

GLOSSARY = NOTEBOOKS / "glossary.md"

#: what one notebook of the lesson may hold
LIMITS = {"cells": 35, "prose words": 1500, "printed words": 600, "new tools": 3}

_TOOLS_HEADING = "## Statistical tools"
_LINK = re.compile(r"glossary\.md#([a-z0-9-]+)")
#: what nbformat stores for a table, a figure, a sound or a widget (free of the word limits)
_NOT_TEXT = ("text/html", "image/png", "image/svg+xml", "application/vnd.jupyter.widget-view+json")


def anchor(heading: str) -> str:
    """The anchor GitHub and JupyterLab give a markdown heading."""
    return re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")


def glossary_tools(path: Path = GLOSSARY) -> dict[str, str]:
    """The statistical tools of the glossary: anchor -> its first line (why it is used).

    They are the ``### `` entries under the ``## Statistical tools`` heading, each with a
    one-line *why* as its first paragraph.
    """
    text = path.read_text(encoding="utf-8")
    if _TOOLS_HEADING not in text:
        return {}
    section = text.split(_TOOLS_HEADING, 1)[1].split("\n## ", 1)[0]
    tools = {}
    for block in section.split("\n### ")[1:]:
        heading, _, body = block.partition("\n")
        tools[anchor(heading)] = body.strip().split("\n\n")[0].strip()
    return tools


def words(text: str) -> int:
    """Words of a text, as ``wc -w`` counts them."""
    return len(text.split())


def prose_and_printed(cell: nbformat.NotebookNode) -> tuple[str, str]:
    """The prose (rendered Markdown) and the other printed text of one code cell's outputs."""
    prose, printed = [], []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            printed.append(out.get("text", ""))
        elif out.get("output_type") == "error":
            printed.append("\n".join(out.get("traceback", [])))
        elif "data" in out:
            data = out["data"]
            if "text/markdown" in data:
                prose.append(data["text/markdown"])
            elif not any(kind in data for kind in _NOT_TEXT):
                printed.append(data.get("text/plain", ""))
    return "\n".join(prose), "\n".join(printed)


@dataclass
class NotebookStats:
    """What one notebook holds (see the module docstring)."""

    name: str
    cells: int
    prose_words: int
    printed_words: int
    tools: list[str]

    def over(self) -> list[str]:
        """Each limit this notebook exceeds, in words."""
        values = {"cells": self.cells, "prose words": self.prose_words, "printed words": self.printed_words,
                  "new tools": len(self.tools)}
        return [f"{k} {values[k]} > {LIMITS[k]}" for k in LIMITS if values[k] > LIMITS[k]]


def series_stats(paths: list[Path] | None = None, glossary: Path = GLOSSARY) -> list[NotebookStats]:
    """The stats of each notebook, in series order; a tool counts in the first notebook that links it."""
    paths = sorted(NOTEBOOKS.glob("[0-9]*.ipynb")) if paths is None else paths
    tools = glossary_tools(glossary)
    seen: set[str] = set()
    stats = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        prose, printed, links = [], [], []
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                prose.append(cell.source)
            elif cell.cell_type == "code":
                p, t = prose_and_printed(cell)
                prose.append(p)
                printed.append(t)
        for text in prose:
            links += [a for a in _LINK.findall(text) if a in tools]
        new = list(dict.fromkeys(a for a in links if a not in seen))
        seen.update(new)
        stats.append(NotebookStats(path.stem, len(nb.cells), words("\n".join(prose)), words("\n".join(printed)), new))
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/[0-9]*.ipynb")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    stats = series_stats(args.notebooks or None)
    if args.json:
        print(json.dumps({"limits": LIMITS, "notebooks": [asdict(s) for s in stats]}, indent=2))
    else:
        print(f"{'notebook':24} {'cells':>5} {'prose':>6} {'printed':>7}  tools introduced")
        for s in stats:
            print(f"{s.name:24} {s.cells:5} {s.prose_words:6} {s.printed_words:7}  {', '.join(s.tools) or '-'}")
        print(f"{'limits':24} {LIMITS['cells']:5} {LIMITS['prose words']:6} {LIMITS['printed words']:7}  "
              f"at most {LIMITS['new tools']} new")
    over = [f"{s.name}: {o}" for s in stats for o in s.over()]
    for line in over:
        print(f"over the limit: {line}", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
