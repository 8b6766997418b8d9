"""The readable pages of the committed results (scripts/results_pages.py): every JSON in
results/ has one, and the committed pages and generated blocks (results/*.md, README.md,
docs/*.md) are exactly what the committed JSON gives.

Reads JSON only (a few seconds); no data, no training.
"""

from __future__ import annotations

import json
import sys

import pytest

from genre_lib.paths import MODELS_DIR, PROJECT, RESULTS_DIR

sys.path.insert(0, str(PROJECT / "scripts"))

import results_pages  # noqa: E402


@pytest.fixture(scope="module")
def expected():
    return results_pages.expected_files()


def test_the_committed_pages_and_blocks_are_what_the_json_gives(expected):
    stale = [str(p.relative_to(PROJECT)) for p, text in expected.items()
             if not p.is_file() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"out of date (run `make results-pages` and commit): {stale}"


def test_every_result_has_a_page_in_the_index(expected):
    index = (RESULTS_DIR / "README.md").read_text(encoding="utf-8")
    for path in sorted(RESULTS_DIR.glob("*.json")):
        page = RESULTS_DIR / f"{path.stem}.md"
        assert page in expected and page.is_file(), f"{path.name} has no page"
        assert f"({path.stem}.md)" in index, f"{path.name}: not in results/README.md"
        text = page.read_text(encoding="utf-8")
        assert f"`results/{path.name}`" in text, "a page names the file it is generated from"
        record = json.loads(path.read_text())
        commands = record.get("commands") or [record.get("command") or record.get("meta", {}).get("command")]
        for command in filter(None, commands):
            assert command in text, f"{page.name}: the command that made it is not on the page"
        assert "## How it was made" in text


def test_a_cv_page_shows_the_figures_of_its_json():
    """The figures a reader checks first, recomputed here from the JSON by hand."""
    cv = json.loads((RESULTS_DIR / "cv-jazz-electronic.json").read_text())
    page = (RESULTS_DIR / "cv-jazz-electronic.md").read_text(encoding="utf-8")
    s = cv["summary"]["accuracy"]["rnn"]["file"]
    assert f"| RNN | {s['mean']:.3f} ± {s['sd']:.3f} |" in page
    genres = cv["data"]["genres"]
    wrong = [f for f in cv["files"] if genres[max(range(len(genres)), key=lambda i: f["probabilities"]["rnn"]["file"][i])] != f["true"]]
    by_genre = [sum(f["true"] == g for f in wrong) for g in genres]
    assert f"| RNN | `file` | {len(cv['files']) - len(wrong)} | {len(wrong)} | {by_genre[0]} | {by_genre[1]} |" in page


def test_the_models_page_lists_every_committed_model():
    page = (RESULTS_DIR / "models.md").read_text(encoding="utf-8")
    for metrics in sorted(MODELS_DIR.glob("*/metrics.json")):
        m = json.loads(metrics.read_text())
        assert f"`models/{metrics.parent.name}`" in page
        assert f"{m['rnn']['protocols']['file']['accuracy']:.3f}" in page


def test_the_committed_cv_of_a_model_has_its_settings():
    """Two CVs share data and genres (the committed network's and the order-using
    network's): each model gets the one made with its own settings."""
    for run, cv in (("jazz-electronic", "cv-jazz-electronic"), ("jazz-electronic-order", "cv-jazz-electronic-order"),
                    ("four-genres", "cv-four-genres"), ("jazz-electronic-rock", "cv-jazz-electronic-rock")):
        meta = json.loads((MODELS_DIR / run / "run.json").read_text())
        assert results_pages.committed_cv_path(meta).stem == cv
    assert results_pages.same_config({"a": 1, "conv": 0}, {"a": 1}) and not results_pages.same_config({"conv": 5}, {})
    assert results_pages.same_config({"columns": ["pitch"]}, {"columns": ("pitch",)})


def test_generated_blocks_are_filled_and_checked():
    text = "intro\n<!-- BEGIN generated: x#y -->\nold\n<!-- END generated: x#y -->\nafter\n"
    assert results_pages.fill_blocks(text, {"x#y": "new table"}) == (
        "intro\n<!-- BEGIN generated: x#y -->\nnew table\n<!-- END generated: x#y -->\nafter\n")
    with pytest.raises(KeyError, match="no generated block"):
        results_pages.fill_blocks(text, {})
    with pytest.raises(ValueError, match="has no"):
        results_pages.fill_blocks("<!-- BEGIN generated: x#y -->\nold\n", {"x#y": ""})


def test_check_mode_names_a_stale_page_and_writing_mends_it(tmp_path, capsys):
    """On a copy of the project's results, models' JSON, README and docs."""
    import shutil

    shutil.copytree(RESULTS_DIR, tmp_path / "results")
    for f in MODELS_DIR.glob("*/*.json"):
        (tmp_path / "models" / f.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(f, tmp_path / "models" / f.parent.name / f.name)
    shutil.copy(PROJECT / "README.md", tmp_path / "README.md")
    if (PROJECT / "docs").is_dir():
        shutil.copytree(PROJECT / "docs", tmp_path / "docs")
    assert results_pages.main(["--check"], project=tmp_path) == 0
    page = tmp_path / "results" / "flip-four-genres.md"
    page.write_text(page.read_text(encoding="utf-8") + "a typed line\n", encoding="utf-8")
    assert results_pages.main(["--check"], project=tmp_path) == 1
    assert "out of date: results/flip-four-genres.md" in capsys.readouterr().out
    assert results_pages.main([], project=tmp_path) == 0
    assert "a typed line" not in page.read_text(encoding="utf-8")
    assert results_pages.main(["--check"], project=tmp_path) == 0
