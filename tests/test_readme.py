"""The README and docs/: short, and no figure typed by hand that nothing checks.

* README.md stays at most 1,500 words (as ``wc -w`` counts them);
* its one results table is the committed models' and cross-validations' figures,
  checked here against ``models/*/metrics.json`` and ``results/cv-*.json`` directly;
* every decimal figure in README.md stands in a generated block;
* every decimal figure in docs/*.md prose (outside generated blocks, code and the
  paragraphs marked *not stored in `results/`*, which quote a measurement that left no
  file, with its command and date) is a figure of a results page.

Reads text and JSON only.
"""

from __future__ import annotations

import json
import re
import sys

import pytest

from genre_lib.paths import MODELS_DIR, PROJECT, RESULTS_DIR

sys.path.insert(0, str(PROJECT / "scripts"))

import results_pages  # noqa: E402

README = PROJECT / "README.md"
MAX_WORDS = 1500
#: a decimal figure: 0.878, 94.17, 3.1 (not a version like 3.10+, which follows "Python ")
FIGURE = re.compile(r"(?<![\w.])[-+−]?(\d+\.\d+)(?![\w.])")
BLOCK = re.compile(r"<!-- BEGIN generated: (\S+) -->\n.*?<!-- END generated: \1 -->\n", re.S)
NOT_STORED = "not stored in `results/`"


def _words(text: str) -> int:
    return len(text.split())  # wc -w: runs of characters between whitespace


def _outside_blocks(text: str) -> str:
    text = BLOCK.sub("", text)
    return re.sub(r"```.*?```", "", text, flags=re.S)


def test_the_readme_stays_short():
    words = _words(README.read_text(encoding="utf-8"))
    assert words <= MAX_WORDS, f"README.md has {words} words (wc -w), more than {MAX_WORDS}: move the detail to docs/"


def test_the_readme_says_what_a_reader_needs_first():
    text = README.read_text(encoding="utf-8")
    flat = " ".join(text.split())
    assert ("L. Stephen, *Investigating the Interpretability of Recurrent Neural Networks for Music Genre Classification*, "
            "research poster, Kennesaw State University (mentor: A. Choi)") in flat
    for command in ("make demo", "make test", "make data", "make lab", "make report"):
        assert command in text, command
    assert "\n## What does the network hear?\n" in text
    placeholder = text.split("\n## What does the network hear?\n", 1)[1].split("\n## ", 1)[0]
    assert "notebook 04" in placeholder
    for lab in ("results/README.md", "docs/results.md", "docs/reproducibility.md", "docs/ci-and-timing.md", "docs/design.md"):
        assert lab in text and (PROJECT / lab).is_file(), lab
    assert "<!-- BEGIN generated: readme#results -->" in text and "<!-- BEGIN generated: readme#timing -->" in text


def test_the_readme_types_no_figure():
    """Every decimal figure of the README stands in a block scripts/results_pages.py writes."""
    loose = FIGURE.findall(_outside_blocks(README.read_text(encoding="utf-8")).replace("Python 3.10", ""))
    assert not loose, f"figures typed in README.md outside a generated block: {loose}"


def _block(text: str, name: str) -> str:
    return text.split(f"<!-- BEGIN generated: {name} -->\n", 1)[1].split(f"<!-- END generated: {name} -->", 1)[0]


def test_the_readme_table_is_the_committed_figures():
    """Checked against the files themselves, not against the generator."""
    block = _block(README.read_text(encoding="utf-8"), "readme#results")
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in block.splitlines() if line.startswith("| ")][1:]
    labels = {"rnn": "**RNN**", "baseline": "baseline", "combined": "RNN + baseline"}
    for k, (run, cv_name) in enumerate((("jazz-electronic", "cv-jazz-electronic"), ("four-genres", "cv-four-genres"))):
        metrics = json.loads((MODELS_DIR / run / "metrics.json").read_text())
        cv = json.loads((RESULTS_DIR / f"{cv_name}.json").read_text())
        assert cv["iteration"] == "8-augment" and cv["data"]["genres"] and sorted(cv["data"]["genres"]) == sorted(
            json.loads((MODELS_DIR / run / "run.json").read_text())["genres"])
        for j, v in enumerate(("rnn", "baseline", "combined")):
            row = rows[3 * k + j]
            p = metrics[v]["protocols"]
            s = cv["summary"]["accuracy"][v]
            assert row[1:] == [labels[v], f"{p['file']['accuracy']:.3f}", f"{p['first100']['accuracy']:.3f}",
                               f"{s['file']['mean']:.3f} ± {s['file']['sd']:.3f}",
                               f"{s['first100']['mean']:.3f} ± {s['first100']['sd']:.3f}"], (run, v, row)
    assert len(rows) == 6


def test_the_readme_timing_is_the_recorded_measurement():
    block = _block(README.read_text(encoding="utf-8"), "readme#timing")
    record = json.loads((RESULTS_DIR / "timing-real-data.json").read_text())
    run = next(r for r in record["runs"] if r.get("readme"))
    assert f"{run['wall_seconds']:.0f} s of wall clock" in block and run["date"] in block
    for nb, seconds in run["notebooks"].items():
        assert f"{nb[:2]} {seconds:.0f} s" in block


@pytest.fixture(scope="module")
def page_figures() -> set[str]:
    """Every decimal figure on the generated results pages (the evidence docs may quote)."""
    text = "\n".join(p.text() for p in results_pages.all_pages().values())
    return set(FIGURE.findall(text))


@pytest.mark.parametrize("doc", sorted(p.name for p in (PROJECT / "docs").glob("*.md")))
def test_a_figure_in_the_docs_is_a_figure_of_a_results_page(doc, page_figures):
    text = _outside_blocks((PROJECT / "docs" / doc).read_text(encoding="utf-8"))
    unchecked = []
    for paragraph in re.split(r"\n\s*\n", text):
        if NOT_STORED in " ".join(paragraph.lower().split()):
            continue  # a measurement that left no file, said so in the paragraph
        unchecked += [f for f in FIGURE.findall(paragraph) if f not in page_figures]
    assert not unchecked, (f"docs/{doc}: figures that no results page shows (generate them, or mark the paragraph "
                           f"'{NOT_STORED}' with the command and date): {unchecked}")
