"""Second opinions on flips: the plausibility measure (validated on real held-out files,
its AUC recomputed by brute force and scikit-learn), the seconds a flip touches, and
the panel's opinions against verdicts computed directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genre_lib import plausibility as P
from genre_lib.changes import seconds_touched
from genre_lib.midi_io import DURATION, length_seconds, onsets, read_midi, write_midi

from .conftest import SHARED_MIDI


def brute_force_score(measure: P.Plausibility, tables) -> np.ndarray:
    """The measure recomputed without its neighbour search: every distance to every
    training file of each genre, the k smallest averaged, the log ratio to the other
    genre's (two genres)."""
    from sklearn.preprocessing import QuantileTransformer

    from genre_lib.note_statistics import note_statistics

    cut = 100 if measure.protocol == "first100" else None
    S = measure.stats
    q = QuantileTransformer(n_quantiles=min(200, len(S)), output_distribution="normal", random_state=0).fit(S)
    Z, X = q.transform(S), q.transform(np.array([note_statistics(t[:cut]) for t in tables]))
    d = np.stack([np.sort(np.linalg.norm(X[:, None] - Z[measure.y == g][None], axis=2), axis=1)[:, : measure.k].mean(axis=1)
                  for g in range(len(measure.classes_))], axis=1)
    return np.log(d[:, ::-1] / d)


def check_validation(measures, tables, y) -> dict:
    from sklearn.metrics import roc_auc_score

    report = {m.protocol: P.validate(m, tables, y) for m in measures}
    own = np.eye(2, dtype=bool)[y]
    for measure in measures:
        figures = report[measure.protocol]
        score = brute_force_score(measure, tables)
        np.testing.assert_allclose(measure.score(tables), score, rtol=1e-6, atol=1e-9)
        assert figures["auc"] == pytest.approx(roc_auc_score(own.ravel(), score.ravel()))
        assert figures["per_genre"][measure.classes_[1]] == pytest.approx(roc_auc_score(y == 1, score[:, 1]))
        assert figures["own_genre_first"] == pytest.approx(np.mean(score.argmax(axis=1) == y))
    return report


def test_plausibility_on_the_demo_run_matches_a_brute_force_computation(demo_run, demo_data, tmp_path: Path):
    measures = P.fit_run(demo_run, demo_data)
    assert [m.protocol for m in measures] == ["first100", "file"]
    test = demo_run.split(demo_data).test
    report = check_validation(measures, demo_data.tables(test), demo_data.y[test])
    assert report["first100"]["n"] == len(test)
    # saved and loaded: the same measures
    P.save(measures, tmp_path)
    with pytest.raises(FileExistsError):
        P.save(measures, tmp_path)
    for again, measure in zip(P.load(tmp_path), measures):
        np.testing.assert_array_equal(again.score(demo_data.tables(test)), measure.score(demo_data.tables(test)))
    # typicality: a training file sits among its own genre, far files get a small share
    t = measures[0].typicality(demo_data.tables(test))
    assert ((0 <= t) & (t <= 1)).all()


def test_plausibility_errors_name_the_cause(demo_data, tmp_path: Path):
    with pytest.raises(P.PlausibilityError, match="no plausibility measure"):
        P.load(tmp_path)
    (tmp_path / P.PLAUSIBILITY_FILE).write_bytes(b"not an npz")
    with pytest.raises(P.PlausibilityError, match="not a plausibility measure"):
        P.load(tmp_path)
    with pytest.raises(P.PlausibilityError, match="more than 20 files"):
        P.Plausibility(demo_data.genres).fit(demo_data.tables(np.arange(10)), demo_data.y[:10])


def test_run_split_refuses_another_data_folder(real_run, demo_data):
    from genre_lib.runs import RunError

    with pytest.raises(RunError, match="does not give the 203 test files"):
        real_run.split(demo_data)
    # too few files to split the run's way at all (e.g. a folder of a reviewer's few files)
    few = demo_data.subset([0, len(demo_data) - 1])
    with pytest.raises(RunError, match="cannot be split as"):
        real_run.split(few)


@pytest.mark.slow
@pytest.mark.real_data
def test_plausibility_tells_real_held_out_files_own_genre(real_run):
    """The committed model's measure (plausibility.npz, fitted on its training files)
    on its 203 held-out test files: AUC >= 0.8 under both protocols, recomputed."""
    from genre_lib.dataset import load_dataset
    from genre_lib.evaluate import align_labels

    if not SHARED_MIDI.is_dir():
        pytest.skip(f"real data not found at {SHARED_MIDI}")
    data = load_dataset(SHARED_MIDI, list(real_run.genres), progress=False)
    split = real_run.split(data)
    y = align_labels(data, real_run.genres)
    stored = P.load(real_run.path)
    fitted = P.fit_run(real_run, data)
    for a, b in zip(stored, fitted):
        np.testing.assert_array_equal(a.stats, b.stats)
    report = check_validation(stored, data.tables(split.test), y[split.test])
    assert min(r["auc"] for r in report.values()) >= 0.8


def test_seconds_touched_is_the_union_of_the_changed_notes_sounding():
    table = np.array([[60, 0, 1.0, 80, 0, 0], [62, 0.5, 1.0, 80, 0, 0], [64, 2.0, 0.5, 80, 0, 0],
                      [65, 1.0, 0.25, 80, 0, 0]], np.float32)
    modified = table.copy()
    modified[0, 0] = 61  # sounds 0-1
    modified[1, 3] = 90  # 0.5-1.5, overlapping the first
    modified[3, DURATION] = 0.5  # 3.5-4.0
    start = onsets(modified)
    grid = np.arange(0, 5, 1e-4)
    sounding = np.zeros_like(grid, bool)
    for i in (0, 1, 3):
        sounding |= (grid >= start[i]) & (grid < start[i] + modified[i, DURATION])
    assert seconds_touched(table, modified) == pytest.approx(sounding.mean() * 5, abs=1e-3) == pytest.approx(2.0)
    assert seconds_touched(table, table) == 0.0
    assert length_seconds(modified) == pytest.approx(4.0)


@pytest.mark.slow
def test_panel_opinions_equal_the_verdicts_on_the_written_whole_file(demo_run, demo_data, demo_dir, tmp_path: Path):
    """ask(): the whole file with the flipped notes in place, judged by each verdict under
    both protocols; recomputed here from a file written and read independently."""
    from genre_lib.flip import optimize_delta
    from genre_lib.inference import predict_proba
    from genre_lib.opinions import Panel, ask, whole_modified
    from genre_lib.protocols import PROTOCOLS

    i = int(demo_run.held_out(demo_data.paths)[0])
    whole = read_midi(demo_dir / demo_data.paths[i])
    target = 1 - int(np.argmax(predict_proba(demo_run.model, whole[:100])[0]))
    result = optimize_delta(demo_run.verdict("rnn", "first100"), whole[:100], target)
    panel = Panel.of_run(demo_run)
    opinions = ask(panel, whole, result)
    written = read_midi(write_midi(whole_modified(whole, result), tmp_path / "whole.mid"))
    assert len(written) == len(whole)
    alone = read_midi(write_midi(result.modified, tmp_path / "first.mid"))
    # in the whole file a flipped note can only be cut short by a later note of its key
    same = np.ones(written[:100].shape, bool)
    same[:, DURATION] = False
    np.testing.assert_allclose(written[:100][same], alone[same], atol=1e-5)
    assert (written[:100, DURATION] <= alone[:, DURATION] + 1e-5).all()
    for v in (v for p in PROTOCOLS for v in demo_run.verdicts(p)):
        np.testing.assert_allclose(opinions.after["verdicts"][v.name][v.protocol], v.predict_proba([written])[0], atol=1e-6)
        np.testing.assert_allclose(opinions.before["verdicts"][v.name][v.protocol], v.predict_proba([whole])[0], atol=1e-6)
    if np.allclose(written[:100], alone, atol=1e-5):
        assert opinions.agrees("rnn", "first100") == result.flipped
    report = opinions.to_dict()
    assert report["seconds"]["file_after"] == pytest.approx(length_seconds(written), abs=1e-3)
    # the rest of the file follows the flipped notes: it moves by what their last onset moved
    shift = onsets(result.modified)[-1] - onsets(result.base)[-1]
    assert report["seconds"]["file_after"] - report["seconds"]["file_before"] == pytest.approx(shift, abs=0.01)
    assert "plausibility" not in report and opinions.plausible("file") is None
