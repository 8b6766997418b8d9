"""The data rule: explicit folder or GENRE_DATA, else data/real, else the demo corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from genre_lib.data_source import shown, has_midi, resolve_data_dir
from genre_lib.dataset import DataError, find_midi_files
from genre_lib.midi_io import write_midi

from .conftest import _table


@pytest.fixture
def own_folder(tmp_path: Path) -> Path:
    """A folder of the user's own, <folder>/<genre>/*.mid, with one real (written) MIDI file."""
    write_midi(_table(120, seed=3), tmp_path / "mine" / "jazz" / "tune_ab.mid")
    return tmp_path / "mine"


def test_given_folder_and_genre_data_come_first(own_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("GENRE_DATA", str(own_folder))
    choice = resolve_data_dir(real_dir=tmp_path / "no-real")
    assert (choice.path, choice.kind) == (own_folder, "env")
    assert choice.banner == f"data: {shown(own_folder)} (from GENRE_DATA)"
    # no absolute path in what notebooks print: relative to the project folder
    assert not shown(own_folder).startswith("/") and shown(own_folder).endswith("/mine")
    assert shown(Path(__file__).resolve().parents[1] / "data" / "demo") == "data/demo"
    other = tmp_path / "other"
    other.mkdir()
    given = resolve_data_dir(other, real_dir=own_folder)  # an argument beats GENRE_DATA and data/real
    assert (given.path, given.kind, given.is_demo) == (other, "given", False)


def test_missing_chosen_folder_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("GENRE_DATA", str(tmp_path / "gone"))
    with pytest.raises(DataError, match=r"gone: data folder not found \(from GENRE_DATA; expected <folder>/<genre>/\*\.mid\)"):
        resolve_data_dir()


def test_downloaded_real_music_comes_next(own_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("GENRE_DATA", "")  # set but empty: not a choice (the notebooks' DATA_DIR = "")
    choice = resolve_data_dir("", real_dir=own_folder)
    assert (choice.path, choice.kind) == (own_folder, "real")
    assert "real MIDI files" in choice.banner and "jazz" in choice.banner
    assert list(find_midi_files(choice.path)) == ["jazz"]  # the loader agrees there is music


def test_demo_corpus_last_and_its_banner_says_so(demo_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("GENRE_DATA", raising=False)
    not_music = tmp_path / "real"
    (not_music / "jazz").mkdir(parents=True)
    (not_music / "jazz" / "notes.txt").write_text("no MIDI here\n")
    (not_music / "loose.mid").write_bytes(b"MThd")  # not under a genre folder: does not count
    assert not has_midi(not_music)
    choice = resolve_data_dir(real_dir=not_music)
    assert (choice.path, choice.kind, choice.is_demo) == (demo_dir, "demo", True)
    assert "generated" in choice.banner and "NOT real music" in choice.banner and "make data" in choice.banner
    assert "\n" not in choice.banner
