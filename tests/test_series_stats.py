"""scripts/series_stats.py: the lesson within its limits (cells, words, new tools)."""

from __future__ import annotations

import re
import sys

import nbformat
import pytest

from genre_lib.paths import NOTEBOOKS_DIR, PROJECT

sys.path.insert(0, str(PROJECT / "scripts"))

import series_stats  # noqa: E402

GLOSSARY = NOTEBOOKS_DIR / "glossary.md"


def test_every_notebook_is_within_the_lessons_limits():
    stats = series_stats.series_stats()
    assert [s.name for s in stats] == [p.stem for p in sorted(NOTEBOOKS_DIR.glob("[0-9]*.ipynb"))]
    over = {s.name: s.over() for s in stats if s.over()}
    assert not over, over


def test_words_are_counted_as_wc_counts_them_and_tables_are_free(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A title\n\nfive words of prose here."),
        nbformat.v4.new_code_cell("x", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="three printed words\n"),
            nbformat.v4.new_output("display_data", data={"text/markdown": "two more", "text/plain": "<Markdown>"}),
            nbformat.v4.new_output("execute_result", data={"text/html": "<table>...</table>", "text/plain": "a b c d e f"},
                                   execution_count=1),
            nbformat.v4.new_output("execute_result", data={"text/plain": "one"}, execution_count=1),
        ]),
    ])
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    (s,) = series_stats.series_stats([path], glossary=GLOSSARY)
    assert (s.cells, s.prose_words, s.printed_words) == (2, 8 + 2, 3 + 1)


def test_a_tool_counts_where_it_is_first_linked(tmp_path):
    glossary = tmp_path / "glossary.md"
    glossary.write_text("# G\n\n## Statistical tools\n\n### Bootstrap interval\n\nWhy: because.\n\nMore.\n\n"
                        "### Group split\n\nWhy: also.\n\n## Terms\n\n### Logit\n\nA score.\n")
    paths = []
    for i, text in enumerate(["[a](glossary.md#bootstrap-interval) and [b](glossary.md#logit)",
                              "[a](glossary.md#bootstrap-interval) [c](glossary.md#group-split)"]):
        path = tmp_path / f"0{i + 1}_x.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)]), path)
        paths.append(path)
    stats = series_stats.series_stats(paths, glossary=glossary)
    assert [s.tools for s in stats] == [["bootstrap-interval"], ["group-split"]]
    assert series_stats.glossary_tools(glossary) == {"bootstrap-interval": "Why: because.", "group-split": "Why: also."}


def test_every_tool_has_its_one_line_why_and_every_glossary_link_resolves():
    tools = series_stats.glossary_tools()
    assert tools, "the glossary has no 'Statistical tools' section"
    for name, why in tools.items():
        assert why.startswith("Why: ") and "\n" not in why.strip(), f"{name}: the first line is not a one-line why: {why!r}"
    anchors = {series_stats.anchor(h) for h in re.findall(r"^### (.+)$", GLOSSARY.read_text(), re.M)}
    for path in sorted(NOTEBOOKS_DIR.glob("[0-9]*.ipynb")):
        text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
        broken = sorted(set(re.findall(r"glossary\.md#([a-z0-9-]+)", text)) - anchors)
        assert not broken, f"{path.name} links glossary entries that do not exist: {broken}"


def test_the_script_prints_the_table_and_fails_over_a_limit(capsys, monkeypatch):
    assert series_stats.main([]) == 0
    assert "limits" in capsys.readouterr().out
    monkeypatch.setitem(series_stats.LIMITS, "cells", 1)
    assert series_stats.main([]) == 1
    assert "over the limit" in capsys.readouterr().err


@pytest.mark.parametrize("heading, expected", [("Group k-fold cross-validation", "group-k-fold-cross-validation"),
                                               ("L1 and L2 penalty", "l1-and-l2-penalty")])
def test_anchor(heading, expected):
    assert series_stats.anchor(heading) == expected
