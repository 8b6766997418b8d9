"""The command line: in this process for speed (``run_cli``), and in a new process as a
user runs it where start-up matters (``run_cli_as_a_user``: one error line, no
TensorFlow log)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import BROKEN_REASONS


def run_cli(*args: str, env_cache: Path | None = None) -> subprocess.CompletedProcess:
    """``genre-lib ARGS`` run by :func:`genre_lib.cli.main` in this process, with its
    stdout, stderr and exit status (argparse's exit included) as a subprocess would give
    them; ``env_cache`` is the ``GENRE_CACHE`` it sees."""
    import contextlib
    import io
    import os

    from genre_lib.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = os.environ.get("GENRE_CACHE")
    if env_cache:
        os.environ["GENRE_CACHE"] = str(env_cache)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        if saved is None:
            os.environ.pop("GENRE_CACHE", None)
        else:
            os.environ["GENRE_CACHE"] = saved
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def test_preprocess_json_reports_every_bad_file(broken_folder: Path, tmp_path: Path):
    result = run_cli("preprocess", str(broken_folder), "--json", env_cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["found"], report["used"], report["skipped"]) == (11, 4, 7)
    reasons = {f["path"]: f["reason"] for f in report["skipped_files"]}
    for path, reason in BROKEN_REASONS.items():
        assert reason in reasons[path]


def test_preprocess_text_names_each_skipped_file(broken_folder: Path, tmp_path: Path):
    result = run_cli("preprocess", str(broken_folder), "--genres", "jazz", env_cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    assert "7 MIDI files found, 2 used, 5 skipped" in result.stdout
    assert "skipped Jazz/drums_only.mid: drums only" in result.stdout


def test_preprocess_errors_are_one_clear_line(broken_folder: Path, tmp_path: Path):
    result = run_cli("preprocess", str(broken_folder), "--genres", "polka", env_cache=tmp_path / "cache")
    assert result.returncode == 2
    assert "no folder for genre(s) polka" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("preprocess", str(tmp_path / "absent"), env_cache=tmp_path / "cache")
    assert result.returncode == 2 and "data folder not found" in result.stderr


# --- train / evaluate / predict / iterations ------------------------------------------------


def _one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    # stderr may also hold TensorFlow's start-up log and a progress bar; the error is one line
    lines = [line for line in result.stderr.splitlines() if line.startswith("genre-lib")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.mark.slow
def test_train_writes_a_run_folder_and_never_overwrites_it(demo_dir: Path, tmp_path: Path):
    out = tmp_path / "run"
    args = ("train", str(demo_dir), "--out", str(out), "--units", "8", "--dense-units", "8", "--epochs", "2",
            "--windows", "2", "--no-augment", "--seed", "3")
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    meta = json.loads((out / "run.json").read_text())
    from genre_lib.configs import MAIN_CONFIG

    # the committed configuration, with the flags given changed
    expected = MAIN_CONFIG.replace(units=8, dense_units=8, epochs=2, windows=2, augment=False)
    assert meta["config"] == expected.to_dict() and meta["seed"] == 3
    metrics = json.loads((out / "metrics.json").read_text())
    test = metrics["rnn"]["protocols"]
    assert f"group-split test files ({test['file']['n']})" in result.stdout
    for who, label in (("rnn", "RNN"), ("baseline", "baseline"), ("combined", "RNN + baseline")):
        acc = metrics[who]["protocols"]
        assert f"  {label:15} {acc['file']['accuracy']:.3f} / {acc['first100']['accuracy']:.3f}" in result.stdout
    before = (out / "model.keras").read_bytes()
    _one_line_error(run_cli(*args), str(out), "run folder exists", "--overwrite")
    assert (out / "model.keras").read_bytes() == before


def test_train_rejects_a_bad_setting_in_one_line(demo_dir: Path, tmp_path: Path):
    from genre_lib.cli import main

    with pytest.raises(SystemExit):  # argparse: not a number
        main(["train", str(demo_dir), "--out", str(tmp_path / "r"), "--units", "many"])
    assert main(["train", str(demo_dir), "--out", str(tmp_path / "r"), "--units", "0"]) == 2
    assert not (tmp_path / "r").exists()


def test_evaluate_json_matches_an_in_process_evaluation(demo_run, demo_dir: Path, demo_data):
    from sklearn.metrics import accuracy_score

    from genre_lib.inference import predict_proba

    result = run_cli("evaluate", str(demo_run.path), str(demo_dir), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"accuracy", "loss", "n", "per_genre", "confusion", "skipped", "misclassified", "protocols"} <= set(report)
    assert report["protocol"] == "file" and set(report["protocols"]) == {"first100", "file"}
    assert report["protocols"]["file"]["windows"] == demo_run.meta["file_windows"]
    assert report["n"] == len(demo_data) == sum(m["n"] for m in report["per_genre"].values())
    assert set(report["per_genre"]) == {"electronic", "jazz"}
    for m in report["per_genre"].values():
        assert set(m) == {"n", "precision", "recall"} and 0 <= m["precision"] <= 1 and 0 <= m["recall"] <= 1
    assert sum(map(sum, report["confusion"])) == report["n"]
    assert sorted(s["path"] for s in report["skipped"]) == sorted(s.path for s in demo_data.skipped)
    assert all(s["reason"] for s in report["skipped"]) and len(report["skipped"]) == 3
    probs = predict_proba(demo_run.model, demo_data.X)
    assert report["protocols"]["first100"]["accuracy"] == accuracy_score(demo_data.y, probs.argmax(1))
    assert len(report["misclassified"]) == report["n"] - sum(report["confusion"][g][g] for g in range(2))
    # the run's baseline and the two combined beside the RNN, by hand on the first 100 notes
    from genre_lib.note_statistics import note_statistics

    base = demo_run.baselines["first100"].predict_proba(np.array([note_statistics(x) for x in demo_data.X]))
    both = np.sqrt(base * probs)
    for who, p in (("baseline", base), ("combined", both / both.sum(1, keepdims=True))):
        assert set(report[who]["protocols"]) == {"first100", "file"}
        assert report[who]["protocols"]["first100"]["accuracy"] == pytest.approx(accuracy_score(demo_data.y, p.argmax(1)))


def test_evaluate_on_a_genre_the_model_does_not_know(demo_run, demo_dir: Path, demo_data, tmp_path: Path, monkeypatch, capsys):
    from genre_lib.cli import main

    data = tmp_path / "data"
    for genre, source in (("jazz", "jazz"), ("polka", "electronic")):
        (data / genre).mkdir(parents=True)
        for path in [p for p in demo_data.paths if p.startswith(source + "/")][:3]:
            shutil.copy(demo_dir / path, data / genre)
    result = run_cli("evaluate", str(demo_run.path), str(data), env_cache=tmp_path / "cache")
    _one_line_error(result, "['polka'] unknown to the model", "--genres")
    # choosing the genres the model knows works
    monkeypatch.setenv("GENRE_CACHE", str(tmp_path / "cache"))
    assert main(["evaluate", str(demo_run.path), str(data), "--genres", "jazz", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 3


@pytest.mark.slow  # renders and tags six files (TensorFlow)
def test_evaluate_reports_the_audio_judge_beside_the_others(demo_run, demo_dir: Path, demo_data, tmp_path: Path,
                                                             monkeypatch):
    import dataclasses

    from genre_lib.dataset import load_dataset
    from genre_lib.ear import EarVerdict

    data = tmp_path / "data"
    for genre in ("jazz", "electronic"):
        (data / genre).mkdir(parents=True)
        for path in [p for p in demo_data.paths if p.startswith(genre + "/")][:3]:
            shutil.copy(demo_dir / path, data / genre)
    monkeypatch.setenv("GENRE_CACHE", str(tmp_path / "cache"))
    six = load_dataset(data, progress=False)
    ears = {p: EarVerdict(tuple(demo_run.genres), p).fit(six.tables(), six.y) for p in ("first100", "file")}
    stored = tmp_path / "ear.json"
    stored.write_text(json.dumps({"calibration": {p: dataclasses.asdict(e) for p, e in ears.items()}}))
    result = run_cli("evaluate", str(demo_run.path), str(data), "--ear", str(stored), "--json",
                     env_cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for p, e in ears.items():
        right = (e.predict_proba(six.tables()).argmax(1) == six.y).mean()
        assert report["ear"]["protocols"][p]["accuracy"] == pytest.approx(right)
    assert set(report) >= {"baseline", "combined", "ear"}
    assert "  ear:" in run_cli("evaluate", str(demo_run.path), str(data), "--ear", str(stored),
                                     env_cache=tmp_path / "cache").stdout
    stored.write_text("{}")
    _one_line_error(run_cli("evaluate", str(demo_run.path), str(data), "--ear", str(stored),
                            env_cache=tmp_path / "cache"), "--ear", "calibration")


def test_evaluate_text_report(demo_run, demo_dir: Path, capsys):
    from genre_lib.cli import main

    assert main(["evaluate", str(demo_run.path), str(demo_dir)]) == 0
    out = capsys.readouterr().out
    assert f"{demo_run.meta['data']['files']} files (3 skipped)" in out
    assert "first100 (judged by the first 100 notes): RNN accuracy" in out
    assert f"file     (judged by a vote of {demo_run.meta['file_windows']} windows): RNN accuracy" in out
    assert "confusion (rows true, columns predicted)" in out
    assert "electronic" in out and "jazz" in out and "precision" in out and "recall" in out
    assert "baseline:        first100 accuracy" in out and "RNN + baseline:  first100 accuracy" in out


def test_predict_json_probabilities_and_a_skipped_file(demo_run, demo_dir: Path, demo_data, tmp_path: Path):
    from genre_lib.dataset import load_file
    from genre_lib.inference import predict_proba

    good = [demo_dir / demo_data.paths[0], demo_dir / demo_data.paths[-1]]
    fake = tmp_path / "not_midi.mid"
    fake.write_text("hello, not MIDI\n")
    result = run_cli("predict", str(demo_run.path), str(good[0]), str(fake), str(good[1]), "--json")
    assert result.returncode == 2, "a skipped file makes the exit status 2"
    assert "not_midi.mid: skipped" in result.stderr and "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["genres"] == ["electronic", "jazz"]
    assert [r["path"] for r in report["files"]] == [str(p) for p in good]
    for row, path in zip(report["files"], good):
        probs = row["probabilities"]
        assert abs(sum(probs.values()) - 1) < 2e-4
        assert row["predicted"] == max(probs, key=probs.get)
        expected = predict_proba(demo_run.model, load_file(path))[0]
        np.testing.assert_allclose([probs[g] for g in report["genres"]], expected, atol=1e-4)


def test_predict_whole_file_is_the_file_protocol(demo_run, demo_dir: Path, demo_data):
    from genre_lib.verdicts import RNNVerdict

    index = [2, len(demo_data) - 2]
    paths = [demo_dir / demo_data.paths[i] for i in index]
    result = run_cli("predict", str(demo_run.path), *map(str, paths), "--whole-file", "--file-windows", "5", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["protocol"] == "file" and report["verdict"] == "rnn"
    expected = RNNVerdict(demo_run.model, demo_run.genres, "file", 5).predict_proba(demo_data.tables(index))
    got = [[row["probabilities"][g] for g in report["genres"]] for row in report["files"]]
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_predict_combined_verdict(demo_run, demo_dir: Path, demo_data, tmp_path: Path):
    index = [1, len(demo_data) - 1]
    paths = [demo_dir / demo_data.paths[i] for i in index]
    result = run_cli("predict", str(demo_run.path), *map(str, paths), "--whole-file", "--verdict", "combined", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["protocol"], report["verdict"]) == ("file", "combined")
    expected = demo_run.verdict("combined", "file").predict_proba(demo_data.tables(index))
    got = [[row["probabilities"][g] for g in report["genres"]] for row in report["files"]]
    np.testing.assert_allclose(got, expected, atol=1e-4)
    # a run without its baseline: one clear line, no traceback
    bare = tmp_path / "bare"
    shutil.copytree(demo_run.path, bare)
    (bare / "baseline.skops").unlink()
    _one_line_error(run_cli("predict", str(bare), str(paths[0]), "--verdict", "baseline"),
                    "no baseline verdict", "baseline.skops: no baseline in this run folder")


def test_predict_and_evaluate_on_a_missing_or_broken_run(demo_dir: Path, tmp_path: Path, capsys):
    from genre_lib.cli import main

    assert main(["predict", str(tmp_path / "absent"), str(demo_dir / "jazz" / "x.mid")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "run.json").write_text("{}")
    assert main(["evaluate", str(tmp_path / "half"), str(demo_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a complete run folder" in err


def test_iterations_lists_a_damaged_run_with_its_note(demo_run, tmp_path: Path, capsys):
    from genre_lib.cli import main

    root = tmp_path / "runs"
    shutil.copytree(demo_run.path, root / "1-good")
    shutil.copytree(demo_run.path, root / "2-broken")
    (root / "2-broken" / "history.json").unlink()
    assert main(["iterations", str(root), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["runs"]
    assert [r["run"] for r in rows] == ["1-good", "2-broken"]
    # the JSON carries 10 decimals (pandas' to_json), so equal to the run's value up to that
    assert rows[0]["accuracy"] == pytest.approx(demo_run.metrics["rnn"]["accuracy"], abs=1e-10)
    assert rows[0]["note"] == ""
    assert "missing history.json" in rows[1]["note"] and rows[1]["accuracy"] is None
    assert main(["iterations", str(root)]) == 0
    text = capsys.readouterr().out
    assert "1-good" in text and "2-broken" in text and "missing history.json" in text
    (tmp_path / "none").mkdir()
    assert main(["iterations", str(tmp_path / "none")]) == 0
    assert "no run folders" in capsys.readouterr().out
    assert main(["iterations", str(tmp_path / "absent")]) == 2
    assert "no such folder" in capsys.readouterr().err


# --- every user error: one line on stderr, no TensorFlow log, a non-zero status --------------


def run_cli_as_a_user(*args: str, cache: Path) -> subprocess.CompletedProcess:
    """The command in a subprocess without the test session's ``TF_CPP_MIN_LOG_LEVEL``
    (the command must keep TensorFlow quiet itself); stderr is a pipe, not a terminal."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TQDM_DISABLE")}
    env["GENRE_CACHE"] = str(cache)
    return subprocess.run([sys.executable, "-m", "genre_lib", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def only_one_error_line(result: subprocess.CompletedProcess, command: str, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()  # also splits at a progress bar's "\r"
    assert len(lines) == 1 and lines[0].startswith(f"genre-lib {command}: error: "), result.stderr
    for w in words:
        assert w in lines[0], lines[0]


# The user errors below are found before TensorFlow is imported (a second, not TensorFlow's
# start-up); the last one comes after the model is loaded, with TensorFlow's start-up log
# kept off stderr.


@pytest.mark.slow
def test_user_error_one_genre_folder_only(demo_dir: Path, demo_data, tmp_path: Path):
    data = tmp_path / "data"
    (data / "jazz").mkdir(parents=True)
    for path in [p for p in demo_data.paths if p.startswith("jazz/")][:4]:
        shutil.copy(demo_dir / path, data / "jazz")
    result = run_cli_as_a_user("train", str(data), "--out", str(tmp_path / "run"), cache=tmp_path / "cache")
    only_one_error_line(result, "train", str(data), "at least two genres")
    assert not (tmp_path / "run").exists()


def test_user_error_a_missing_folder(demo_run, tmp_path: Path):
    result = run_cli_as_a_user("evaluate", str(demo_run.path), str(tmp_path / "absent"), cache=tmp_path / "cache")
    only_one_error_line(result, "evaluate", "absent", "data folder not found")


def test_user_error_a_missing_run(demo_dir: Path, demo_data, tmp_path: Path):
    result = run_cli_as_a_user("predict", str(tmp_path / "no-run"), str(demo_dir / demo_data.paths[0]),
                               cache=tmp_path / "cache")
    only_one_error_line(result, "predict", "no-run", "no such run folder")


def test_user_error_a_text_file_as_the_model(demo_run, demo_dir: Path, demo_data, tmp_path: Path):
    run = tmp_path / "run"
    shutil.copytree(demo_run.path, run)
    (run / "model.keras").write_text("not a model\n")
    result = run_cli_as_a_user("predict", str(run), str(demo_dir / demo_data.paths[0]), cache=tmp_path / "cache")
    only_one_error_line(result, "predict", "model.keras", "cannot load the model")


def test_user_error_an_unknown_target_genre(demo_run, demo_dir: Path, demo_data, tmp_path: Path):
    out = tmp_path / "out.mid"
    result = run_cli_as_a_user("flip", str(demo_run.path), str(demo_dir / demo_data.paths[0]), "--target", "polka",
                               "--out", str(out), cache=tmp_path / "cache")
    only_one_error_line(result, "flip", "unknown target genre 'polka'", "electronic", "jazz")
    assert not out.exists()


def test_user_error_a_text_file_as_midi(demo_run, tmp_path: Path):
    fake = tmp_path / "notes.mid"
    fake.write_text("a text file, not MIDI\n")
    result = run_cli_as_a_user("saliency", str(demo_run.path), str(fake), cache=tmp_path / "cache")
    only_one_error_line(result, "saliency", "notes.mid", "not a MIDI file")


@pytest.mark.slow
def test_user_error_after_tensorflow_is_loaded_is_still_one_line(demo_run, demo_dir: Path, demo_data, tmp_path: Path):
    """A flip that finds nothing within its budget is known only once the model has run:
    TensorFlow is imported by then, and its start-up log stays off stderr."""
    from genre_lib.dataset import load_file
    from genre_lib.inference import predict_proba

    src, out = demo_dir / demo_data.paths[0], tmp_path / "out.mid"
    other = demo_run.genres[1 - int(np.argmax(predict_proba(demo_run.model, load_file(src))[0]))]
    result = run_cli_as_a_user("flip", str(demo_run.path), str(src), "--target", other,
                               "--out", str(out), "--max-steps", "0", cache=tmp_path / "cache")
    only_one_error_line(result, "flip", "within 0 steps", "nothing written")
    assert not out.exists()
