"""The data rule: explicit folder or GENRE_DATA, else data/real, else the demo corpus; and
which collection a folder holds, by its files, with the runs that go with it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from genre_lib import paths
from genre_lib.data_source import has_midi, identify, midi_listing, record_collection, resolve_data_dir
from genre_lib.locations import COMMITTED_RUNS, committed_cv, committed_run, find_cv, runs_dir
from genre_lib.dataset import DataError, find_midi_files
from genre_lib.download import COLUMNS, read_manifest, sha1_of
from genre_lib.midi_io import write_midi
from genre_lib.paths import shown

from .conftest import SHARED_MIDI, _table, needs_shared


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
    assert shown(paths.DEMO_DIR) == "data/demo"
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


def _collection(root: Path, genres: dict[str, int]) -> Path:
    """A small collection of real (written) MIDI files, ``root/<genre>/<genre>_<i>_xy.mid``,
    and its list in the manifest's format beside it (``root.parent/list.csv``, with names
    in the repository that differ from the names in the collection)."""
    rows = []
    for g, (genre, n) in enumerate(genres.items()):
        for i in range(n):
            file = write_midi(_table(120, seed=10 * g + i), root / genre / f"{genre}_{i}_xy.mid")
            rows.append([genre, "someone/repo", "0" * 40, f"midi/{genre}/{i}.mid", sha1_of(file),
                         file.stat().st_size, file.name])
    manifest = root.parent / "list.csv"
    with manifest.open("w", newline="") as f:
        csv.writer(f).writerows([[*COLUMNS, "name"], *rows])
    return manifest


def test_the_collection_is_known_by_its_files_not_its_folder_name(tmp_path):
    manifest = _collection(tmp_path / "a" / "midi", {"jazz": 2, "electronic": 2, "rock": 1})
    real = identify(tmp_path / "a" / "midi", manifest)
    assert (real.kind, real.id, real.genres, real.note) == ("real", "list", ("electronic", "jazz", "rock"), "")
    # the same files under another name are the same collection, with the same runs
    (tmp_path / "a" / "midi").rename(tmp_path / "a" / "elsewhere")
    choice = resolve_data_dir(tmp_path / "a" / "elsewhere", manifest=manifest)
    assert choice.is_real and not choice.is_demo and choice.collection == real
    assert runs_dir(choice) == paths.RUNS_DIR / "list"
    assert committed_run(choice, ["Jazz", "electronic"]) == COMMITTED_RUNS[frozenset({"jazz", "electronic"})]
    assert committed_run(choice, ["jazz", "electronic", "rock"]) == paths.MODELS_DIR / "jazz-electronic-rock"
    assert committed_run(choice, ["jazz", "pop"]) is None
    assert choice.same_collection({"collection": "list", "folder": "whatever"})
    # a download of some genres only is still the collection, of those genres
    for f in (tmp_path / "a" / "elsewhere" / "rock").iterdir():
        f.unlink()
    some = identify(tmp_path / "a" / "elsewhere", manifest)
    assert (some.kind, some.genres) == ("real", ("electronic", "jazz"))


def test_a_folder_that_is_not_exactly_the_collection_says_how_in_one_line(tmp_path):
    manifest = _collection(tmp_path / "c" / "midi", {"jazz": 3, "electronic": 2})
    folder = tmp_path / "c" / "midi"
    (folder / "jazz" / "jazz_0_xy.mid").unlink()
    missing = resolve_data_dir(folder, manifest=manifest)
    assert missing.collection.kind == "other" and committed_run(missing, ["jazz", "electronic"]) is None
    assert missing.banner.endswith("list.csv: 1 difference(s), the first: jazz/jazz_0_xy.mid is listed but not here")
    assert "\n" not in missing.banner
    write_midi(_table(150, seed=77), folder / "jazz" / "jazz_0_xy.mid")  # same name, other bytes
    other_size = identify(folder, manifest)
    assert other_size.kind == "other" and other_size.note.endswith(
        f"jazz/jazz_0_xy.mid has {(folder / 'jazz' / 'jazz_0_xy.mid').stat().st_size} bytes, the list says "
        f"{next(e.size for e in read_manifest(manifest) if e.name == 'jazz_0_xy.mid')}")
    # the user's own folder: other, no note, runs of its own (by its file list, not only its name)
    own = tmp_path / "own" / "midi"
    write_midi(_table(120, seed=5), own / "jazz" / "mine.mid")
    mine = identify(own, manifest)
    assert (mine.kind, mine.note) == ("other", "") and mine.id.startswith("midi-") and mine.id != "midi"
    write_midi(_table(130, seed=6), own / "jazz" / "more.mid")
    assert identify(own, manifest).id != mine.id, "another file list, another id"


def test_an_unreadable_list_is_one_line_naming_it(own_folder, tmp_path):
    choice = resolve_data_dir(own_folder, manifest=tmp_path / "gone.csv")
    assert choice.collection.kind == "other"
    assert choice.collection.note.startswith("cannot tell whether this is the real collection: ")
    assert choice.collection.note.endswith("gone.csv: manifest not found") and "\n" not in choice.banner


def test_the_demo_corpus_is_known_wherever_it_is_chosen_from(demo_dir, monkeypatch):
    monkeypatch.setenv("GENRE_DATA", str(demo_dir))
    choice = resolve_data_dir()
    assert choice.kind == "env" and choice.is_demo and not choice.is_real
    assert runs_dir(choice) == paths.RUNS_DIR / "demo" and committed_run(choice, ["jazz", "electronic"]) is None


def test_a_cross_validation_is_found_by_its_collection_and_exact_genres(tmp_path):
    import json

    for name, record in (("cv-a.json", {"collection": "midi", "genres": ["jazz", "rock"]}),
                         ("cv-b.json", {"folder": "midi", "genres": ["jazz", "rock", "country"]}),
                         ("cv-c.json", {"collection": "other-1234", "genres": ["jazz", "electronic"]})):
        (tmp_path / name).write_text(json.dumps({"data": record}))
    (tmp_path / "cv-broken.json").write_text("{not json")
    assert find_cv("midi", ["Rock", "jazz"], tmp_path) == tmp_path / "cv-a.json"
    assert find_cv("midi", ["country", "rock", "jazz"], tmp_path) == tmp_path / "cv-b.json"  # an old record: its folder
    assert find_cv("midi", ["jazz"], tmp_path) is None, "a subset of a result's genres is not its genres"
    assert find_cv("midi", ["jazz", "electronic"], tmp_path) is None, "another collection's result"
    assert find_cv("other-1234", ["electronic", "jazz"], tmp_path) == tmp_path / "cv-c.json"


def test_records_written_before_the_collection_was_stored_name_their_folder():
    assert record_collection({"folder": "midi"}) == "midi"  # the committed models and CV results
    assert record_collection({"folder": "real", "collection": "midi"}) == "midi"


@needs_shared
@pytest.mark.real_data
def test_the_shared_collection_is_the_listed_one(tmp_path):
    choice = resolve_data_dir(SHARED_MIDI)
    assert choice.is_real and choice.collection.id == paths.MANIFEST.stem == "midi"
    assert committed_run(choice, ["jazz", "electronic"]) == paths.MODELS_DIR / "jazz-electronic"
    assert committed_run(choice, ["country", "jazz", "rock", "electronic"]) == paths.MODELS_DIR / "four-genres"
    # every committed run goes with a committed cross-validation of exactly its genres
    for genres, run in COMMITTED_RUNS.items():
        assert committed_run(choice, genres) == run and run.is_dir()
        cv = committed_cv(choice, sorted(genres, reverse=True))
        assert cv is not None and cv.parent == paths.RESULTS_DIR
    assert committed_cv(choice, ["rock", "country"]) is None
    assert runs_dir(choice) == paths.RUNS_DIR / "midi"
    # the same files in a folder of another name (links, as data/real after `make data`)
    copy = tmp_path / "real"
    copy.mkdir()
    for genre in choice.collection.genres:
        (copy / genre).symlink_to(SHARED_MIDI / genre)
    assert midi_listing(copy) == midi_listing(SHARED_MIDI)
    assert resolve_data_dir(copy).collection == choice.collection
