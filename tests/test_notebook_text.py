"""Results are written by code, not typed (issue 11, item 1).

A typed markdown cell of a notebook may state constants of the method (100 notes, the
study's quoted figures, a threshold we chose) but not a measured result: a sentence that
states an accuracy or a share is written by the cell that computed it
(``display(Markdown(f"..."))``), or refers to the output above it ("the table above").
Otherwise the text drifts from the run the next time the notebooks are executed.

The test reads every ``notebooks/*.ipynb`` (a new notebook is covered as soon as it is
there) and fails on a typed markdown cell holding a *measured-looking figure*: a decimal
number (0.88, 83.49) or a percentage (58 %), unless it is part of one of the phrases of
:data:`QUOTED_CONSTANTS`. Markdown in the outputs of code cells is computed, so it is
not read. Code spans (`` `margin=1.0` ``) are code, not claims, and are not read either.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from genre_lib.paths import NOTEBOOKS_DIR as NOTEBOOKS

#: The one list of figures typed markdown may contain: each a phrase as it stands in a
#: notebook (whitespace-insensitive), with why it is a constant and not a measurement.
#: Extend it with the phrase, not the bare number, so the same number stated elsewhere
#: as a result is still caught.
QUOTED_CONSTANTS: dict[str, str] = {
    # the study's own figures (quoted, not reproduced: its data and split)
    "75.99 %": "the study's reported accuracy, row 1",
    "83.49 %": "the study's reported accuracy, row 2",
    "94.17 %": "the study's reported accuracy, row 3",
    "study's target of 90 %": "03: the study's own aim, quoted as the study's",
    "the study's 90 % for the whole-file vote": "03: the study's aim, which the project's issue 13 applies to whole files",
    # targets this project set (its issues), quoted with their origin
    "(whole-file accuracy ≥ 0.87 with every genre's recall ≥ 0.80)": "03: notebook 06's three-genre target, set by the project's issue 12",
    "jazz 1.00": "the study's flip: jazz probability before",
    "electronic 0.45": "the study's flip: electronic probability after",
    # thresholds and settings we chose
    "p ≥ 0.9": "05: the showcase file's minimum p(jazz)",
    "p ≥ 0.5": "05: the fallback when no file reaches p >= 0.9",
    "margin (0.3": "05: FlipSettings.margin, the default logit margin",
    "margin 0.3": "05: FlipSettings.margin, the default logit margin",
    "below 0.5": "04: the randomization check's threshold (Spearman of |map|)",
    "p below 0.05": "03: the usual significance convention for McNemar's p-value, a choice",
    "above 0.5": "04: the randomization check's threshold (Spearman of |map|)",
    "noise 15 %": "04: SmoothGrad's noise, a fraction of each feature's spread",
    "a 95 % *Wilson interval*": "03: the confidence level of the interval",
    "with a 95 % paired": "04: the confidence level of the probes' bootstrap intervals",
    "accuracy of at least 0.83": "06: issue 21's target for the RNN alone on four genres (CV, file)",
    "recall at least 0.75": "06: issue 21's target for every genre's recall on four genres",
    "targets were 0.87 and 0.80": "06: the three-genre issue's targets (CV file accuracy, every recall)",
    # arithmetic, not measurement
    "0.69 for a 50/50 guess": "02: ln 2, the cross-entropy of a 50/50 guess",
    "shrinks to 2.4": "02: log1p(10 s)",
    "at least 0.57": "05: sigmoid(0.3), the probability the default margin means",
    "p ≥ 0.73": "05: sigmoid(1.0), the probability margin 1.0 means",
    "chance is 10 %": "05: 10 of 100 notes",
    "with probability 1.00 sits": "04: an example probability in the explanation of logits",
    # made-up examples in the text (not results of a run)
    "at 1.5 s": "01: an example MIDI message",
    "at 2.0 s": "01: an example MIDI message",
    "a pitch of 60.4": "05: the made-up notes of the projection example",
    "a step of -0.02 s": "05: the made-up notes of the projection example",
    "cut to 0.25 s": "05: reads the projection example's output right above it (fixed input, no training)",
    "(0.9 rounds to 1": "05: the projection example's drum flag",
}

#: a decimal number (0.88, .5) or a percentage (58 %, 58%, 5.5 %), not part of a longer
#: number, a version or a word (x0.011 is a decimal too: ratios are results)
FIGURE = re.compile(r"(?<![\d.])(?:\d+(?:\.\d+)?\s?%|\d*\.\d+)(?![\d%]|\.\d)")
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)
_SPACE = re.compile(r"[\s\u00a0\u202f]+")


def typed_figures(markdown: str, allowed: dict[str, str] | None = None) -> list[str]:
    """The measured-looking figures of one typed markdown text that no allowed phrase
    covers, in order of appearance."""
    allowed = QUOTED_CONSTANTS if allowed is None else allowed
    text = _SPACE.sub(" ", _CODE.sub(" ", markdown))
    for phrase in allowed:
        text = text.replace(_SPACE.sub(" ", phrase), " ")
    return [m.group(0) for m in FIGURE.finditer(text)]


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_the_notebooks_are_found():
    assert notebook_paths(), f"no notebooks in {NOTEBOOKS}"


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.name)
def test_no_typed_measured_figures(path):
    nb = nbformat.read(path, as_version=4)
    found = [
        f"{path.name}, cell {i}: {figure!r}"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "markdown"
        for figure in typed_figures(cell.source)
    ]
    assert not found, (
        "typed markdown states measured-looking figures; write the sentence in the cell that computed it "
        "(display(Markdown(f'...'))), refer to the output above, or, for a constant of the method, add the "
        "phrase to QUOTED_CONSTANTS in tests/test_notebook_text.py:\n  " + "\n  ".join(found)
    )


@pytest.mark.parametrize("text, expected", [
    ("the RNN reaches 0.88 on the test files", ["0.88"]),
    ("**83.49** and 58 % of the changes, 12% last", ["83.49", "58 %", "12%"]),
    ("a step x0.011 and .5 of them", ["0.011", ".5"]),
    ("58\u202f% of the files", ["58 %"]),  # spaces normalised,
    ("the study reported 75.99 %, we chose p ≥ 0.9", []),
    ("the study's flip (jazz 1.00 to electronic 0.45)", []),
    ("`FlipSettings(margin=1.0)` and ```\nx = 0.25\n```", []),
    ("100 notes, 16 windows, 2026-11-26, 1/960 s", []),
    ("Python 3.11.2 and 1.2.3", []),
    ("at the end of a sentence, 0.88.", ["0.88"]),
    ("electronic 0.46 is not the study's figure", ["0.46"]),
])
def test_typed_figures_finds_measured_looking_figures(text, expected):
    assert typed_figures(text) == expected


def test_an_allowed_phrase_does_not_allow_its_number_elsewhere():
    assert typed_figures("we chose p ≥ 0.9, and 0.9 of the files flipped") == ["0.9"]
