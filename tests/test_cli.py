"""The command line: preprocess and demo-data (subprocess, as a user runs it)."""

import json
import subprocess
import sys
from pathlib import Path

from .conftest import BROKEN_REASONS


def run_cli(*args: str, cwd: Path | None = None, env_cache: Path | None = None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ)
    if env_cache:
        env["GENRE_CACHE"] = str(env_cache)
    return subprocess.run(
        [sys.executable, "-m", "genre_lib", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


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
