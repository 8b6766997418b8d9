"""Folder of MIDI files -> Dataset: skip report, duplicates, cache, errors, groups."""

from pathlib import Path

import numpy as np
import pytest

from genre_lib.dataset import DataError, find_midi_files, group_of, load_dataset, load_file
from genre_lib.midi_io import FEATURES, MidiError, read_midi

from .conftest import BROKEN_REASONS, SHARED_MIDI, needs_shared


def test_broken_files_are_reported_file_by_file_and_do_not_stop_the_run(broken_folder: Path, tmp_path: Path):
    data = load_dataset(broken_folder, cache_dir=tmp_path / "cache", progress=False)
    assert data.genres == ("electronic", "jazz")
    assert len(data) == 4  # two good files per genre (one of them also has a byte copy)
    assert data.X.shape == (4, 100, len(FEATURES))
    assert data.found == 11
    reasons = {s.path: s.reason for s in data.skipped}
    # of two identical files the first in path order is kept: copy_of_good_0 < good_0
    assert set(reasons) == set(BROKEN_REASONS)
    for path, reason in BROKEN_REASONS.items():
        assert reason in reasons[path], (path, reasons[path])
    assert "copy_of_good_0.mid" in reasons["electronic/good_0_x1.mid"]
    report = data.report()
    assert report["found"] == 11 and report["used"] == 4 and report["skipped"] == 7
    assert report["used_per_genre"] == {"electronic": 2, "jazz": 2}
    assert sum(report["skip_reasons"].values()) == 7
    assert [f["path"] for f in report["skipped_files"]] == [s.path for s in data.skipped]


def test_arrays_are_the_first_100_notes_of_each_file(broken_folder: Path, tmp_path: Path):
    data = load_dataset(broken_folder, ["jazz"], cache_dir=tmp_path / "cache", progress=False)
    for x, rel in zip(data.X, data.paths):
        np.testing.assert_array_equal(x, read_midi(broken_folder / rel)[:100])
        np.testing.assert_array_equal(x, load_file(broken_folder / rel))


def test_second_run_reads_the_cache_and_gives_the_same_arrays(broken_folder: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    first = load_dataset(broken_folder, cache_dir=cache, progress=False)
    files = list(cache.glob("dataset-*.npz"))
    assert len(files) == 1 and not list(cache.glob("*.part"))
    second = load_dataset(broken_folder, cache_dir=cache, progress=False)
    np.testing.assert_array_equal(first.X, second.X)
    assert first.paths == second.paths and first.skipped == second.skipped
    assert first.report() == second.report()


def test_a_damaged_cache_is_rebuilt_not_read(broken_folder: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    first = load_dataset(broken_folder, cache_dir=cache, progress=False)
    (cache_file,) = cache.glob("dataset-*.npz")
    cache_file.write_bytes(cache_file.read_bytes()[:100])  # as if a write had been cut off
    again = load_dataset(broken_folder, cache_dir=cache, progress=False)
    np.testing.assert_array_equal(first.X, again.X)


def test_changing_a_file_changes_the_cache_key(broken_folder: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    load_dataset(broken_folder, cache_dir=cache, progress=False)
    (broken_folder / "Jazz" / "empty.mid").write_bytes((broken_folder / "Jazz" / "good_0_x0.mid").read_bytes())
    data = load_dataset(broken_folder, cache_dir=cache, progress=False)
    assert len(list(cache.glob("dataset-*.npz"))) == 2
    assert any("duplicate" in s.reason for s in data.skipped if s.path == "Jazz/good_0_x0.mid")


def test_genres_are_selected_case_insensitively(broken_folder: Path):
    assert list(find_midi_files(broken_folder, ["JAZZ"])) == ["jazz"]


def test_unknown_genre_and_missing_folder_are_clear_errors(broken_folder: Path, tmp_path: Path):
    with pytest.raises(DataError, match="no folder for genre.*rock.*available: electronic, jazz"):
        load_dataset(broken_folder, ["jazz", "rock"], use_cache=False, progress=False)
    with pytest.raises(DataError, match="data folder not found"):
        load_dataset(tmp_path / "missing", use_cache=False, progress=False)
    (tmp_path / "nomidi" / "jazz").mkdir(parents=True)
    with pytest.raises(DataError, match="no .mid or .midi files"):
        load_dataset(tmp_path / "nomidi", use_cache=False, progress=False)


def test_load_file_explains_an_unusable_file(broken_folder: Path):
    with pytest.raises(MidiError, match="drums only"):
        load_file(broken_folder / "Jazz" / "drums_only.mid")
    with pytest.raises(MidiError, match="too short"):
        load_file(broken_folder / "electronic" / "sub" / "twenty_notes.mid")


@pytest.mark.parametrize(
    "name, group",
    [
        ("Moby - Porcelain.mid", "moby"),
        ("2 Unlimited - No Limits (Remix).mid", "2 unlimited"),
        ("all_the_things_you_are_jh.mid", "_jh"),
        ("when_i_am_with_you-johnny_mathis-kar_rt.mid", "_rt"),
        ("plainname.mid", "plainname"),
    ],
)
def test_group_of_takes_the_artist_or_the_sequencer(name: str, group: str):
    assert group_of(name) == group


@needs_shared
@pytest.mark.slow
def test_real_collection_loads_with_a_skip_report(tmp_path: Path):
    data = load_dataset(SHARED_MIDI, ["jazz", "electronic"], cache_dir=tmp_path, progress=False)
    report = data.report()
    assert report["found"] == report["used"] + report["skipped"]
    assert report["used"] > 900
    assert all(s.reason for s in data.skipped)


def test_full_note_counts_and_lengths_are_kept(broken_folder: Path, tmp_path: Path):
    data = load_dataset(broken_folder, cache_dir=tmp_path / "cache", progress=False)
    for rel, n, sec in zip(data.paths, data.n_notes, data.seconds):
        table = read_midi(broken_folder / rel)
        assert n == len(table) == 150
        assert sec == pytest.approx(float(np.max(np.cumsum(table[:, 1]) + table[:, 2])), abs=1e-5)
    sub = data.subset([0, 2])
    assert list(sub.n_notes) == [data.n_notes[0], data.n_notes[2]] and sub.paths == [data.paths[0], data.paths[2]]
