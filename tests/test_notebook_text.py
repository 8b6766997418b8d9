"""What the notebooks' text says is what their outputs show.

* **No figure typed by hand.** Every number a typed markdown cell quotes must appear in an
  output of the same notebook (as committed: a clean run on the real collection). A
  result is written by the cell that computed it (``display(Markdown(f"..."))``); a
  constant of the method (100 notes, 16 windows, a 95 % interval) is printed by code
  somewhere in the notebook, so the student can see where it comes from. Code spans,
  formulas, link targets and references to other notebooks are not claims and are not
  read.
* **Every exercise's expectation is asserted**: an exercise (a markdown cell with
  ``*Expect:*``) is followed by its solution, a collapsed code cell, and every solution
  checks the expectation with ``assert`` (nbval runs it in CI).
* **One question, one answer**: the first cell asks the notebook's question, the last
  cell prints its answer from the figures above it, in at most three sentences.

The tests read every ``notebooks/[0-9]*.ipynb``, so a new notebook is covered as soon as
it is there.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from genre_lib.paths import NOTEBOOKS_DIR as NOTEBOOKS

_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)
_MATH = re.compile(r"\$[^$\n]+\$")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_NOTEBOOK_REF = re.compile(r"\b(?:notebooks?|and|or|to|,)\s+0\d\b|^#\s*0\d\b|\b0\d_\w+", re.M | re.I)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])")
_TAGS = re.compile(r"<[^>]+>")


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))


def typed_numbers(markdown: str) -> list[str]:
    """The numbers a typed markdown text quotes, outside code, formulas, link targets and
    references to other notebooks, in order of appearance."""
    text = markdown
    for pattern in (_CODE, _MATH, _LINK_TARGET, _NOTEBOOK_REF):
        text = pattern.sub(" ", text)
    return _NUMBER.findall(text)


def output_text(nb: nbformat.NotebookNode) -> str:
    """Everything the notebook's outputs show as text: printed lines, plain, Markdown and
    HTML results (tables), without HTML tags."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out["text"])
            for kind in ("text/plain", "text/markdown", "text/html"):
                value = out.get("data", {}).get(kind)
                if isinstance(value, str) and "<audio" not in value:
                    parts.append(_TAGS.sub(" ", value) if kind == "text/html" else value)
    return "\n".join(parts)


def shown(number: str, outputs: str) -> bool:
    """The number stands in the outputs as a number of its own (not part of a longer one)."""
    return re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", outputs) is not None


def test_the_notebooks_are_found():
    assert len(notebook_paths()) == 6, [p.name for p in notebook_paths()]


@pytest.mark.parametrize("text, expected", [
    ("the RNN reaches 0.88 on 203 files", ["0.88", "203"]),
    ("`margin=1.0` and $\\log 2$ and ```\nx = 0.25\n```", []),
    ("see [a term](glossary.md#l1-and-l2-penalty) and notebook 03", []),
    ("notebooks 04 and 05, in `04_saliency`", []),
    ("an L1 penalty, log1p and C4", []),
    ("at the end of a sentence, 0.88.", ["0.88"]),
])
def test_typed_numbers_finds_the_numbers_of_a_claim(text, expected):
    assert typed_numbers(text) == expected


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.name)
def test_every_typed_number_is_shown_by_an_output(path):
    nb = nbformat.read(path, as_version=4)
    outputs = output_text(nb)
    assert outputs.strip(), f"{path.name} has no outputs: commit it executed (make notebooks)"
    missing = [f"cell {i}: {n!r}" for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown"
               for n in typed_numbers(cell.source) if not shown(n, outputs)]
    assert not missing, (f"{path.name}: typed markdown quotes numbers no output shows; print them from code "
                         "(display(Markdown(f'...'))) or drop them:\n  " + "\n  ".join(missing))


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.name)
def test_every_exercise_asserts_its_expectation(path):
    cells = nbformat.read(path, as_version=4).cells
    exercises = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and "*Expect:*" in c.source]
    assert exercises, f"{path.name} has no exercise"
    for i in exercises:
        after = cells[i + 1] if i + 1 < len(cells) else None
        assert after is not None and after.cell_type == "code" and after.metadata.get("jupyter", {}).get("source_hidden"), \
            f"{path.name}, cell {i}: an exercise is not followed by a collapsed solution cell"
        assert re.search(r"^\s*assert\b", after.source, re.M), f"{path.name}, cell {i + 1}: the solution asserts nothing"
    solutions = [i for i, c in enumerate(cells) if c.cell_type == "code" and c.metadata.get("jupyter", {}).get("source_hidden")]
    assert solutions == [i + 1 for i in exercises], f"{path.name}: a collapsed cell that solves no exercise"


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.name)
def test_one_question_first_and_its_answer_last(path):
    cells = nbformat.read(path, as_version=4).cells
    question = re.search(r"\*\*The question:\*\* \*(.+?)\*", cells[0].source)
    assert cells[0].cell_type == "markdown" and question and question.group(1).endswith("?"), \
        f"{path.name}: the first cell does not ask the notebook's question"
    last = cells[-1]
    answers = [o["data"]["text/markdown"] for o in last.get("outputs", []) if "text/markdown" in o.get("data", {})]
    assert last.cell_type == "code" and cells[-2].source.strip() == "## The answer" and len(answers) == 1, \
        f"{path.name}: the notebook does not end with its answer printed from code"
    sentences = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", answers[0].strip()) if s]
    assert 1 <= len(sentences) <= 3, f"{path.name}: the answer has {len(sentences)} sentences: {answers[0]!r}"
