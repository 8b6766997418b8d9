"""The generated demo corpus: determinism, layout, planted cues, overlap, safety."""

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from genre_lib.dataset import group_of, load_dataset
from genre_lib.demo import (
    DEFAULT_DEMO_DIR,
    ELECTRONIC_BORROWS,
    JAZZ_BORROWS,
    MANIFEST,
    ensure_demo_data,
    make_demo_corpus,
    planted_cue_mask,
)
from genre_lib.midi_io import (
    DRUM,
    FEATURES,
    PITCH,
    PROGRAM,
    VELOCITY,
    notes_from_events,
    onsets,
    read_midi,
    read_midi_pretty,
)

PER_GENRE = 20


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo") / "corpus"
    make_demo_corpus(root, per_genre=PER_GENRE, seed=0)
    return root


@pytest.fixture(scope="module")
def pieces(corpus):
    """(manifest record, note table read back with read_midi) of every file."""
    records = json.loads((corpus / MANIFEST).read_text())["files"]
    return [(r, read_midi(corpus / r["path"])) for r in records]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _phase(table: np.ndarray, bpm: float) -> np.ndarray:
    """Position of each onset within its beat, 0 = on the beat."""
    return (onsets(table) * bpm / 60.0) % 1.0


def _offbeat_phase(table: np.ndarray, bpm: float) -> float:
    # the off-beat eighth: 0.5 when straight, ~0.67 when swung; 16ths (0.25, 0.75) excluded
    ph = _phase(table, bpm)
    return float(np.median(ph[(ph > 0.42) & (ph < 0.72)]))


def _kick_on_beat_share(table: np.ndarray, bpm: float) -> float:
    ph = _phase(table, bpm)
    kick = (table[:, DRUM] == 1) & (table[:, PITCH] == 36) & ((ph < 0.1) | (ph > 0.9))
    return float(kick.mean())


def _drum_notes(table, pitch):
    return table[(table[:, DRUM] == 1) & (table[:, PITCH] == pitch)]


def _n_levels(notes) -> int:
    """Distinct velocities of one drum sound (played at one level by the generator)."""
    return len(np.unique(notes[:, VELOCITY]))


def _programs(table) -> set[int]:
    return set(table[table[:, DRUM] == 0, PROGRAM].astype(int).tolist())


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(corpus, tmp_path):
    again = tmp_path / "again"
    make_demo_corpus(again, per_genre=PER_GENRE, seed=0)
    assert _snapshot(again) == _snapshot(corpus)
    other = tmp_path / "other"
    make_demo_corpus(other, per_genre=PER_GENRE, seed=1)
    a = {v for k, v in _snapshot(corpus).items() if k.endswith(".mid")}
    b = {v for k, v in _snapshot(other).items() if k.endswith(".mid")}
    assert not a & b, "a different seed must give different pieces"


def test_layout_counts_and_the_deliberately_broken_files(corpus, pieces):
    jazz = sorted((corpus / "jazz").glob("*.mid"))
    electronic = sorted((corpus / "electronic").glob("*.mid"))
    assert len(jazz) == PER_GENRE + 1 and len(electronic) == PER_GENRE + 2
    readme = (corpus / "README.md").read_text()
    assert "NOT real music" in readme and "seed 0" in readme and "drum 36" in readme
    manifest = json.loads((corpus / MANIFEST).read_text())
    assert (manifest["seed"], manifest["per_genre"], manifest["complete"]) == (0, PER_GENRE, True)

    normal = [(r, t) for r, t in pieces if r["kind"] == "piece"]
    assert Counter(r["genre"] for r, _ in normal) == {"jazz": PER_GENRE, "electronic": PER_GENRE}
    assert all(150 <= len(t) <= 300 and len(t) == r["n_notes"] for r, t in normal)
    assert all((t[:, DRUM] == 0).any() for _, t in normal)
    short = [(r, t) for r, t in pieces if len(t) < 100]
    assert sorted(r["genre"] for r, _ in short) == ["electronic", "jazz"]
    named_short = {p.relative_to(corpus).as_posix() for p in jazz + electronic if "short" in p.name.lower()}
    assert {r["path"] for r, _ in short} == named_short
    drums_only = [r["path"] for r, t in pieces if (t[:, DRUM] == 1).all()]
    assert len(drums_only) == 1
    assert drums_only[0].startswith("electronic/") and drums_only[0].endswith(" - Drums Only.mid")


def test_the_dataset_reader_uses_per_genre_files_and_reports_the_broken_ones(corpus, tmp_path):
    data = load_dataset(corpus, ["jazz", "electronic"], progress=False, cache_dir=tmp_path)
    report = data.report()
    assert report["used_per_genre"] == {"electronic": PER_GENRE, "jazz": PER_GENRE}
    assert Counter(s.reason.split(":")[0].split(" (")[0] for s in data.skipped) == {"too short": 2, "drums only": 1}


def test_every_file_reads_the_same_with_symusic_and_pretty_midi(corpus):
    for path in sorted(corpus.rglob("*.mid")):
        a, b = read_midi(path), read_midi_pretty(path)
        assert a.shape == b.shape, path
        np.testing.assert_allclose(a, b, atol=2e-3, err_msg=str(path))


def test_names_give_about_eight_balanced_groups_per_genre(pieces):
    for genre in ("jazz", "electronic"):
        paths = [r["path"] for r, _ in pieces if r["genre"] == genre]
        sizes = Counter(group_of(p) for p in paths)
        assert len(sizes) == 8 and max(sizes.values()) - min(sizes.values()) <= 1
        assert len({p.lower() for p in paths}) == len(paths)
    jazz_name = re.compile(r"^[a-z]+_[a-z]+_(\d{2,}|short)_[a-z]{2}\.mid$")
    electronic_name = re.compile(r"^Demo Artist [1-8] - [A-Z][A-Za-z ]+\.mid$")
    for r, _ in pieces:
        name = r["path"].split("/", 1)[1]
        assert (jazz_name if r["genre"] == "jazz" else electronic_name).match(name), name
        assert group_of(r["path"]) == ("_" + r["group"] if r["genre"] == "jazz" else r["group"].lower())


def test_planted_cues_are_in_the_files_and_differ_by_genre(pieces):
    plain = {g: [(r, t) for r, t in pieces if r["genre"] == g and r["kind"] == "piece" and not r["borrowed"]]
             for g in ("jazz", "electronic")}
    assert len(plain["jazz"]) >= 12 and len(plain["electronic"]) >= 12
    for r, t in plain["jazz"]:
        assert 100 <= r["bpm"] <= 200
        swing = _offbeat_phase(t, r["bpm"])
        assert 0.6 < swing < 0.73, (r["path"], swing)  # long-short about 2:1
        assert abs(swing - r["swing"]) < 0.04
        assert len(_drum_notes(t, 51)) and len(_drum_notes(t, 44)) and not len(_drum_notes(t, 36))
        assert _programs(t) <= {0, 4, 32, 33, 56, 65, 66} and _programs(t) & {32, 33}
        assert _n_levels(_drum_notes(t, 44)) > 5  # humanised: spread, not fixed levels
    for r, t in plain["electronic"]:
        assert 118 <= r["bpm"] <= 140
        assert abs(_offbeat_phase(t, r["bpm"]) - 0.5) < 0.02  # straight
        kicks = _drum_notes(t, 36)
        beats = np.diff(onsets(t)[(t[:, DRUM] == 1) & (t[:, PITCH] == 36)]) * r["bpm"] / 60
        assert len(kicks) >= 4 and np.allclose(beats, 1.0, atol=0.03)  # four on the floor
        assert len(_drum_notes(t, 42)) > 2 * len(kicks)  # sixteenth hats
        assert _programs(t) & {38, 39} and _programs(t) & set(range(80, 91))
        assert _n_levels(kicks) <= 5  # quantised: one level +-2
    kick_share = {g: np.mean([_kick_on_beat_share(t, r["bpm"]) for r, t in plain[g]]) for g in plain}
    assert kick_share["jazz"] == 0 and kick_share["electronic"] > 0.08
    cue_share = {g: np.mean([planted_cue_mask(t[:100]).mean() for _, t in plain[g]]) for g in plain}
    assert 0.2 < cue_share["jazz"] < cue_share["electronic"] < 1


BORROW_CHECKS = {
    "straight": lambda t, r: abs(_offbeat_phase(t, r["bpm"]) - 0.5) < 0.03,
    "four_on_the_floor": lambda t, r: _kick_on_beat_share(t, r["bpm"]) > 0.08,
    "synth_bass": lambda t, r: bool(_programs(t) & {38, 39}) and not _programs(t) & {32, 33},
    "synth_lead": lambda t, r: bool(_programs(t) & set(range(80, 88))),
    "steady_velocity": lambda t, r: _n_levels(_drum_notes(t, 44)) <= 5,
    "swing": lambda t, r: _offbeat_phase(t, r["bpm"]) > 0.58,
    "acoustic_piano": lambda t, r: 0 in _programs(t) and not _programs(t) & {88, 89, 90},
    "ride": lambda t, r: len(_drum_notes(t, 51)) > 0 and not len(_drum_notes(t, 42)),
    "sax_lead": lambda t, r: bool(_programs(t) & {65, 66}),
    "human_velocity": lambda t, r: _n_levels(_drum_notes(t, 36)) > 5,
}


def test_about_a_fifth_of_each_genre_borrows_cues_of_the_other(pieces):
    for genre, cues in (("jazz", JAZZ_BORROWS), ("electronic", ELECTRONIC_BORROWS)):
        borrowers = [(r, t) for r, t in pieces if r["genre"] == genre and r["borrowed"]]
        assert len(borrowers) == round(0.2 * PER_GENRE)
        assert all(r["kind"] == "piece" and set(r["borrowed"]) <= set(cues) for r, _ in borrowers)
        for r, t in borrowers:
            for cue in r["borrowed"]:
                assert BORROW_CHECKS[cue](t, r), (r["path"], cue)
    assert any("straight" in r["borrowed"] for r, _ in pieces), "some jazz files lack swing"
    assert any("swing" in r["borrowed"] for r, _ in pieces), "some electronic files swing"


def test_refuses_a_non_empty_folder_it_did_not_write_and_leaves_it_alone(tmp_path):
    mine = tmp_path / "my music"
    (mine / "jazz").mkdir(parents=True)
    (mine / "jazz" / "take_five_ab.mid").write_bytes(b"MThd user file")
    (mine / "notes.txt").write_text("mine\n")
    before = _snapshot(mine)
    for call in (lambda: make_demo_corpus(mine, per_genre=3),
                 lambda: make_demo_corpus(mine, per_genre=3, overwrite=True),
                 lambda: ensure_demo_data(mine, per_genre=3)):
        with pytest.raises(FileExistsError, match=re.escape(str(mine))):
            call()
    assert _snapshot(mine) == before


def test_reuses_a_matching_corpus_replaces_its_own_and_protects_added_files(tmp_path):
    root = tmp_path / "demo"
    first = make_demo_corpus(root, per_genre=4, seed=0)
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    assert make_demo_corpus(root, per_genre=4, seed=0) == first
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == stamps

    second = make_demo_corpus(root, per_genre=3, seed=5)  # our own corpus: replaced
    assert sorted(root.rglob("*.mid")) == second and len(second) == 3 + 1 + 3 + 2
    assert json.loads((root / MANIFEST).read_text())["seed"] == 5

    added = root / "jazz" / "my_own_ab.mid"
    added.write_bytes(b"user")
    with pytest.raises(FileExistsError, match="my_own_ab.mid"):
        make_demo_corpus(root, per_genre=4, seed=0)
    assert added.read_bytes() == b"user" and sorted(root.rglob("*.mid")) == sorted(second + [added])
    added.unlink()

    # an interrupted run leaves an incomplete manifest: the next call finishes the job
    manifest = json.loads((root / MANIFEST).read_text())
    (root / MANIFEST).write_text(json.dumps(manifest | {"complete": False}))
    second[0].unlink()
    assert make_demo_corpus(root, per_genre=3, seed=5) == second and second[0].is_file()


def test_ensure_demo_data_makes_the_corpus_once_and_returns_the_folder(tmp_path):
    assert DEFAULT_DEMO_DIR == Path(__file__).resolve().parents[1] / "data" / "demo"
    folder = ensure_demo_data(tmp_path / "d", per_genre=2, seed=3)
    assert folder == tmp_path / "d" and len(list(folder.rglob("*.mid"))) == 2 + 1 + 2 + 2
    assert ensure_demo_data(folder, per_genre=2, seed=3) == folder


def test_make_demo_corpus_rejects_bad_arguments(tmp_path):
    for kwargs in ({"per_genre": 0}, {"seed": -1}, {"per_genre": 2.5}):
        with pytest.raises(ValueError):
            make_demo_corpus(tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()


def test_planted_cue_mask_marks_exactly_the_documented_notes():
    # (pitch, drum, program, is a cue)
    rows = [
        (36, 1, 0, True),  # kick
        (38, 1, 0, False),  # snare
        (39, 1, 0, False),  # clap
        (42, 1, 0, True),  # closed hi-hat
        (44, 1, 0, True),  # pedal hi-hat
        (51, 1, 0, True),  # ride
        (36, 0, 0, False),  # piano C2: pitch 36 but not a drum
        (40, 0, 32, False),  # acoustic bass
        (40, 0, 38, True),  # synth bass 1
        (40, 0, 39, True),  # synth bass 2
        (72, 0, 65, False),  # alto sax
        (72, 0, 80, True),  # square lead
        (60, 0, 90, True),  # polysynth pad
        (60, 0, 91, False),  # just past the synth range
        (51, 0, 81, True),  # saw lead on pitch 51
    ]
    n = len(rows)
    start = np.arange(n, dtype=float)  # distinct onsets keep the rows in this order
    pitch, drum, program, expected = map(np.array, zip(*rows))
    table = notes_from_events(start, start + 0.5, pitch, np.full(n, 90), drum, program)
    mask = planted_cue_mask(table)
    assert mask.dtype == bool and mask.shape == (n,)
    np.testing.assert_array_equal(mask, expected)
    assert planted_cue_mask(table[:0]).shape == (0,)
    with pytest.raises(ValueError):
        planted_cue_mask(table[:, 0])
    assert table.shape[1] == len(FEATURES)
