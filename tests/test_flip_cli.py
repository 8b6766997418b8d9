"""The ``flip`` command on the first 100 notes, against real run folders (the demo run and
its seed sibling), and the library call behind it (genre_lib.opinions.flip_file): the
JSON and the written file, never overwriting, one-line errors, the second opinions on
the rest of the file, and the command's report equal to the library call's. The
``--whole-file`` flip is in tests/test_flip_vote.py."""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest

from genre_lib.flip import FlipError, FlipSettings
from genre_lib.midi_io import FEATURES, project_to_midi, read_midi, write_midi

from .flip_helpers import (  # noqa: F401 (demo: a module fixture)
    check_cli_is_the_library_call,
    copy_of_first_file,
    demo,
    flip_cli,
    model_probs,
    one_line_error,
    pretty_midi_notes,
    table_notes,
)


@pytest.fixture
def demo_src(demo, tmp_path: Path) -> tuple[Path, str, str]:
    """A copy of a held-out demo file (so a bug could not damage the corpus), the genre
    the model gives it, and the other genre."""
    return copy_of_first_file(demo, tmp_path / "in")


@pytest.mark.slow
def test_cli_flip_json_and_the_written_file(demo, demo_src, tmp_path: Path):
    src, own, other = demo_src
    before = src.read_bytes()
    out = tmp_path / "out.mid"
    code, stdout, stderr = flip_cli(demo.run.path, src, "--target", other.upper(), "--out", out, "--json")
    assert code == 0, stderr
    report = json.loads(stdout)
    for key in ("before", "after_reparsed", "flipped", "steps", "l1", "l2", "notes_changed", "changes"):
        assert key in report
    assert report["flipped"] is True and report["target"] == other and report["out"] == str(out)
    assert set(report["before"]) == set(report["after_reparsed"]) == set(demo.genres)
    assert max(report["before"], key=report["before"].get) == own
    assert max(report["after_reparsed"], key=report["after_reparsed"].get) == other
    assert report["notes_changed"] == len({c["note"] for c in report["changes"]}) > 0
    assert src.read_bytes() == before
    # the written file, read independently, is the original plus exactly the reported changes
    from genre_lib.dataset import load_file

    expected = project_to_midi(load_file(src))
    for c in report["changes"]:
        expected[c["note"], FEATURES.index(c["feature"])] = c["after"]
    assert pretty_midi_notes(out) == table_notes(expected)
    probs = model_probs(demo.model, read_midi(out)[:100])
    np.testing.assert_allclose(probs, [report["after_reparsed"][g] for g in demo.genres], atol=1e-5)


@pytest.mark.slow
def test_cli_flip_never_overwrites(demo, demo_src, tmp_path: Path):
    src, own, other = demo_src
    before = src.read_bytes()
    out = tmp_path / "out.mid"
    out.write_bytes(b"mine")
    code, _, err = flip_cli(demo.run.path, src, "--target", other, "--out", out)
    one_line_error(code, err, "already exists", "--overwrite")
    assert out.read_bytes() == b"mine"
    for same in (src, src.parent / ".." / src.parent.name / src.name):
        code, _, err = flip_cli(demo.run.path, src, "--target", other, "--out", same, "--overwrite")
        one_line_error(code, err, "input")
    assert src.read_bytes() == before
    code, stdout, err = flip_cli(demo.run.path, src, "--target", other, "--out", out, "--overwrite")
    assert code == 0, err
    assert f"-> {other}" in stdout and out.read_bytes()[:4] == b"MThd"
    assert src.read_bytes() == before


def test_cli_flip_errors_are_one_clear_line(demo, demo_src, tmp_path: Path):
    src, own, other = demo_src
    out = tmp_path / "out.mid"
    bad = tmp_path / "notes.mid"
    bad.write_text("not a MIDI file\n")
    cases = [
        ((src, "--target", "polka", "--out", out), ["unknown target genre 'polka'", *demo.genres]),
        ((src, "--target", own, "--out", out), ["already classified as " + own, "nothing to flip"]),
        ((src, "--target", other, "--out", out, "--max-steps", "0"), [f"no flip to {other} within 0 steps", "nothing written"]),
        ((bad, "--target", other, "--out", out), ["notes.mid", "not a MIDI file"]),
    ]
    for args, words in cases:
        one_line_error(*flip_cli(demo.run.path, *args)[::2], *words)
        assert not out.exists()
    code, _, err = flip_cli(tmp_path / "no-run", src, "--target", other, "--out", out)
    one_line_error(code, err, "cannot load run")


# --- one flip convincing two networks: the command and the library call ------------------


@pytest.fixture(scope="module")
def convince_flip(demo, demo_seed1, tmp_path_factory) -> types.SimpleNamespace:
    """The first held-out demo file's first 100 notes flipped to the other genre so that
    the demo run and its seed sibling both agree, twice with the same settings:
    ``genre-lib flip --convince SEED1 --json`` (``report``, the notes written to ``out``)
    and the library call :func:`genre_lib.opinions.flip_file` (``mine``). The tests
    below check other facets of these two flips (each takes seconds)."""
    from genre_lib.flip import flip_file

    src, own, other = copy_of_first_file(demo, tmp_path_factory.mktemp("in"))
    target = demo.genres.index(other)
    out = tmp_path_factory.mktemp("out") / "first.mid"
    code, stdout, stderr = flip_cli(demo.run.path, src, "--target", other, "--out", out,
                                    "--convince", demo_seed1.path, "--json")
    assert code == 0, stderr
    mine = flip_file(demo.run, src, target, FlipSettings(), "first100", convince=[demo_seed1.path])
    return types.SimpleNamespace(src=src, target=target, out=out, report=json.loads(stdout), mine=mine)


@pytest.mark.slow
def test_cli_default_flip_asks_the_rest_of_the_file(demo, demo_seed1, convince_flip, tmp_path: Path):
    """Without --whole-file the first 100 notes are flipped and written, as before; the
    second opinions judge the whole file with those notes in place, checked directly."""
    src, out, report, target = convince_flip.src, convince_flip.out, convince_flip.report, convince_flip.target
    assert report["protocol"] == "first100" and report["notes"] == 100
    assert report["judges"] == ["rnn/first100", "rnn-seed1/first100"]
    first = read_midi(out)
    assert int(np.argmax(model_probs(demo.model, first))) == target == int(np.argmax(model_probs(demo_seed1.model, first)))
    # the whole file as the opinions saw it: the flipped notes, then the rest of the input
    whole = read_midi(src)
    # (read back, the flipped notes are in chord order; the rest follows the same last onset)
    rebuilt = read_midi(write_midi(project_to_midi(np.concatenate([first, whole[100:]])), tmp_path / "rebuilt.mid"))
    probs = model_probs(demo.model, rebuilt[:100])
    assert report["opinions"]["verdicts"]["rnn"]["first100"]["p_target_after"] == pytest.approx(probs[target], abs=1e-4)
    assert report["opinions"]["seconds"]["excerpt_notes"] == 100


@pytest.mark.slow
def test_cli_flip_json_is_the_library_calls_report(demo, convince_flip):
    """``genre-lib flip --json`` prints exactly :meth:`FileFlip.to_dict` of the library
    call with the same settings; asked without ``--ask``, the panel is the run's own
    verdicts (no seed siblings beside the tmp demo run)."""
    from genre_lib.flip import flip_file

    f = convince_flip
    check_cli_is_the_library_call(f.report, f.mine, f.src, f.out, "first100")
    # who is asked does not depend on the search: a budget of 0 steps (no flip, the file
    # as it was) is judged by the same panel, at no optimiser's cost
    alone = flip_file(demo.run, f.src, f.target, FlipSettings(max_steps=0), "first100")
    assert set(alone.to_dict()["opinions"]["verdicts"]) == {"rnn", "baseline", "combined"}


def test_flip_file_errors_name_the_file_not_a_flag(demo, demo_src, tmp_path: Path):
    from genre_lib.flip import flip_file
    from genre_lib.runs import RunError

    src, own, other = demo_src
    with pytest.raises(FlipError, match="already classified as " + own) as caught:
        flip_file(demo.run, src, demo.genres.index(own))
    assert str(src) in str(caught.value) and "--" not in str(caught.value)
    with pytest.raises(FlipError, match="the note table: already classified") as caught:
        flip_file(demo.run, read_midi(src), demo.genres.index(own))
    with pytest.raises(RunError, match="cannot load run") as caught:
        flip_file(demo.run, src, demo.genres.index(other), asked=[tmp_path / "no-run"])
    assert "--" not in str(caught.value)
    with pytest.raises(FlipError, match="unknown protocol"):
        flip_file(demo.run, src, demo.genres.index(other), protocol="last100")


def test_seed_siblings_are_the_run_folders_named_after_the_run(tmp_path: Path):
    from genre_lib.runs import seed_siblings

    for name, complete in [("m", True), ("m-seed1", True), ("m-seed2", True), ("m-seed3", False), ("mx-seed1", True),
                           ("m-order", True)]:
        (tmp_path / name).mkdir()
        if complete:
            (tmp_path / name / "run.json").write_text("{}")
    assert seed_siblings(tmp_path / "m") == [tmp_path / "m-seed1", tmp_path / "m-seed2"]
