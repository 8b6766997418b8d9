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
        commands = record.get("commands") or [record.get("command") or record.get("meta", {}).get("command")
                                               or record.get("how", {}).get("command")]
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


def _section(page: str, name: str) -> str:
    return page.split(f"<!-- section {name} -->", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("name", ["concepts-jazz-electronic", "concepts-four-genres"])
def test_a_concepts_page_shows_the_edit_tables_answers_data_and_probes(name):
    """Checked against the JSON by hand: every judge's edit table with its intervals and the
    horse tests marked, the answers (as the JSON stores them), the data table, the probes."""
    rec = json.loads((RESULTS_DIR / f"{name}.json").read_text())
    page = (RESULTS_DIR / f"{name}.md").read_text(encoding="utf-8")
    assert "## How it was made" in page and rec["how"]["command"] in page
    rows = rec["table"]["rows"]
    for judge in dict.fromkeys(r["judge"] for r in rows):
        section = _section(page, f"{name}#judge-{judge}")
        for p in {r["protocol"] for r in rows if r["judge"] == judge}:  # the ear: its protocols only
            assert rec["answers"][f"{judge} {p}"] in section, (judge, p)
            mine = [r for r in rows if r["judge"] == judge and r["protocol"] == p]
            level = max(r["flipped"] for r in mine if r["edit"] in rec["horse"])
            for r in mine:
                lo, hi = r["flipped_interval"]
                cell = f"{100 * r['flipped']:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}]"
                bold = r["edit"] not in rec["horse"] and lo > level
                line = next(ln for ln in section.splitlines() if ln.startswith(f"| {r['edit']} |")
                            or ln.startswith(f"| *{r['edit']} (horse test)* |"))
                assert (f"**{cell}**" if bold else f"| {cell} |") in line, (judge, p, r["edit"], line)
                assert f"{r['margin']:+.2f} [{r['margin_interval'][0]:+.2f}, {r['margin_interval'][1]:+.2f}]" in line
        assert all(f"| *{h} (horse test)* |" in section for h in rec["horse"])
    data = _section(page, f"{name}#data")
    for concept, d in rec["data"]["table"].items():
        line = next(ln for ln in data.splitlines() if ln.startswith(f"| `{concept}` |"))
        for pair, v in d["pairs"].items():
            assert f"{v['delta']:+.2f} ({v['auc']:.2f})" in line, (concept, pair)
    probes = _section(page, f"{name}#probes")
    for r in rec["probes"]["rows"]:
        if "selectivity" in r:
            lo, hi = r["selectivity_interval"]
            assert f"| `{r['concept']}` | {r['windows']} |" in probes
            assert f"{r['selectivity']:+.3f} [{lo:+.3f}, {hi:+.3f}]" in probes


@pytest.mark.parametrize("name, protocols", [("concepts-jazz-electronic", ("first100", "file")),
                                             ("concepts-four-genres", ("first100",))])
def test_a_concepts_page_sets_the_ear_beside_the_rnn(name, protocols):
    """Per protocol the ear judged: each edit's two shares of verdicts changed, and which
    edits each hears, checked against the JSON's rows by hand (a row's interval above the
    largest share a horse test of the same judge changes)."""
    rec = json.loads((RESULTS_DIR / f"{name}.json").read_text())
    page = (RESULTS_DIR / f"{name}.md").read_text(encoding="utf-8")
    for p in protocols:
        section = _section(page, f"{name}#ear-beside-rnn-{p}")
        rows = {(r["edit"], r["judge"]): r for r in rec["table"]["rows"] if r["protocol"] == p}
        heard = {}
        for j in ("rnn", "ear"):
            level = max(rows[h, j]["flipped"] for h in rec["horse"])
            heard[j] = [e for e in rec["edits"] if e not in rec["horse"] and rows[e, j]["flipped_interval"][0] > level]
        both = [e for e in heard["rnn"] if e in heard["ear"]]
        assert f"Heard by both (more verdicts changed than by any of the judge's horse tests): {', '.join(both) or 'none'};" in section
        assert f"by the ear only: {', '.join(e for e in heard['ear'] if e not in both) or 'none'}." in section
        for e in rec["edits"]:
            line = next(ln for ln in section.splitlines() if ln.startswith((f"| {e} |", f"| *{e} (horse test)* |")))
            cells = [f"{100 * rows[e, j]['flipped']:.1f} % [{100 * rows[e, j]['flipped_interval'][0]:.1f}, "
                     f"{100 * rows[e, j]['flipped_interval'][1]:.1f}]" for j in ("rnn", "ear")]
            assert f"| {cells[0]} | {cells[1]} |" in line, (p, e, line)


@pytest.mark.parametrize("name", ["ear-jazz-electronic", "ear-four-genres"])
def test_an_ear_page_shows_its_accuracy_beside_the_rnn_and_baseline_and_its_cost(name):
    rec = json.loads((RESULTS_DIR / f"{name}.json").read_text())
    page = (RESULTS_DIR / f"{name}.md").read_text(encoding="utf-8")
    accuracy = _section(page, f"{name}#accuracy")
    for who, label in (("rnn", "RNN"), ("baseline", "baseline"), ("ear", "**the ear**")):
        line = next(ln for ln in accuracy.splitlines() if ln.startswith(f"| {label} "))
        for p in ("first100", "file"):
            t = rec["test"][p][who]
            lo, hi = t["accuracy_95"]
            assert f"{100 * t['accuracy']:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}]" in line, (who, p)
    shared = _section(page, f"{name}#shared")
    for p in ("first100", "file"):
        s = rec["cv_shared_mistakes"][p]["shared_mistakes_ear_rnn"]
        assert f"{s['both_wrong']} / {s['expected_both_wrong']:.1f} = {s['ratio']:.1f} [{s['low']:.1f}, {s['high']:.1f}]" in shared
    cost = _section(page, f"{name}#cost")
    for p in ("first100", "file"):
        assert f"| `{p}` | {rec['cost_per_file'][p]['render']:.3f} | {rec['cost_per_file'][p]['tag']:.3f} | " \
               f"{rec['cost_per_file'][p]['total']:.3f} |" in cost


def test_the_flip_ear_page_gives_each_judges_agreement_with_its_interval():
    rec = json.loads((RESULTS_DIR / "flip-ear.json").read_text())
    page = (RESULTS_DIR / "flip-ear.md").read_text(encoding="utf-8")
    for setting, s in rec["summary"].items():
        section = _section(page, f"flip-ear#judges-{setting}")
        for judge in s["agrees"]:
            for p in ("first100", "file"):
                lo, hi = s["agrees_95"][judge][p]
                plo, phi = s["p_change_95"][judge][p]
                rlo, rhi = s["rose_95"][judge][p]
                assert (f"{100 * s['agrees'][judge][p]:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}] "
                        f"({100 * s['agreed_before'][judge][p]:.1f} %) | {100 * s['rose'][judge][p]:.1f} % "
                        f"[{100 * rlo:.1f}, {100 * rhi:.1f}] | {s['p_change'][judge][p]:+.3f} [{plo:+.3f}, {phi:+.3f}] |"
                        ) in section, (setting, judge, p)
    assert "flip-ear#ear" in page


def test_the_ear_edits_page_gives_the_control():
    rec = json.loads((RESULTS_DIR / "ear-edits-jazz-electronic.json").read_text())
    page = (RESULTS_DIR / "ear-edits-jazz-electronic.md").read_text(encoding="utf-8")
    for edit in rec["edits"].values():
        for a in edit["judges"].values():
            assert f"{a['p_change']:+.3f} [{a['p_change_95'][0]:+.3f}, {a['p_change_95'][1]:+.3f}]" in page


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
