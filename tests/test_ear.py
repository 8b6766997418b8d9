"""genre_lib.ear: musicnn's MSD tagger ported to TensorFlow 2, and the audio judge built on it.

The port is checked against numbers musicnn 0.1.0's own code computed on the same clips
(``tests/data/musicnn_reference.json``, made by ``scripts/musicnn_reference.py`` in a
throwaway venv with tf-keras and librosa): its log-mel and its tags.
"""

from __future__ import annotations

import dataclasses
import json
import sys

import numpy as np
import pytest

from genre_lib import ear
from genre_lib.verdicts import Verdict, score
from tests.conftest import PROJECT, needs_shared

sys.path.insert(0, str(PROJECT / "scripts"))
from musicnn_reference import test_clip as reference_clip  # noqa: E402

REFERENCE = json.loads((PROJECT / "tests" / "data" / "musicnn_reference.json").read_text())


@pytest.mark.parametrize("seed", sorted(REFERENCE["clips"]))
def test_log_mel_matches_musicnn(seed):
    mel = ear.log_mel(reference_clip(int(seed)), loudest=None)  # the clip's own level, as musicnn
    band_means = np.array(REFERENCE["clips"][seed]["band_means"])
    assert mel.shape == (1 + len(reference_clip(int(seed))) // ear.HOP, ear.N_MELS)
    # float16 rounding of the mel power may land one step apart on a few bins (FFT precision)
    np.testing.assert_allclose(mel.mean(axis=0), band_means, atol=1e-4)


@pytest.mark.slow  # TensorFlow
@pytest.mark.parametrize("seed", sorted(REFERENCE["clips"]))
def test_tags_match_musicnn(seed):
    batch = ear.patches(ear.log_mel(reference_clip(int(seed)), loudest=None))
    taggram = np.array(REFERENCE["clips"][seed]["taggram"])
    tags = ear.tag_patches(batch)
    assert tags.shape == taggram.shape == (2, 50)
    np.testing.assert_allclose(tags, taggram, atol=1e-4)
    assert len(ear.msd_tags()) == 50 and {"rock", "electronic", "jazz", "country"} <= set(ear.msd_tags())


def test_level_and_overflow():
    loud = reference_clip(0, peak=0.9)  # musicnn's float16 would overflow here
    mel = ear.log_mel(loud, loudest=None)
    assert np.isfinite(mel).all() and mel.max() == pytest.approx(np.log10(65504.0), abs=1e-3)
    # the level is set before the log: any gain gives the same input (to a float16 step)
    np.testing.assert_allclose(ear.log_mel(loud), ear.log_mel(loud * 0.1), atol=2e-3)
    assert ear.log_mel(loud).max() == pytest.approx(np.log10(10000 * ear.LOUDEST + 1), abs=2e-3)


def test_patches_repeat_a_short_clip():
    mel = np.arange(100 * 96, dtype=np.float32).reshape(100, 96)
    assert ear.patches(mel).shape == (1, ear.PATCH, 96)
    np.testing.assert_array_equal(ear.patches(mel)[0, 100:], mel[:87])
    assert ear.patches(np.zeros((2 * ear.PATCH + 5, 96), np.float32)).shape == (2, ear.PATCH, 96)


def test_agreement_counts_by_hand():
    before = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.7, 0.3]])
    after = np.array([[0.4, 0.6], [0.7, 0.3], [0.1, 0.9], [0.7, 0.3]])
    a = ear.agreement(before, after, [1, 1, 1, 1], n=200)
    assert (a["n"], a["groups"]) == (4, 4)
    assert a["agrees"] == 0.5 and a["agreed_before"] == 0.25 and a["rose"] == 0.5
    assert a["p_change"] == pytest.approx((0.5 - 0.1 + 0.1 + 0) / 4)
    assert a["agrees_95"][0] <= 0.5 <= a["agrees_95"][1]
    # an unmoved judge never rises; edits of one file are resampled together
    same = ear.agreement(before, before, [1, 0, 1, 0], groups=["a", "a", "b", "b"], n=200)
    assert same["rose"] == 0 and same["p_change"] == 0 and same["groups"] == 2
    assert ear.agreement(before, after, [1, 1, 1, 1], n=200, seed=3) == ear.agreement(before, after, [1] * 4, n=200,
                                                                                        seed=3)


@pytest.mark.slow  # renders and tags a dozen tables (TensorFlow)
def test_the_ear_is_a_verdict(tmp_path, monkeypatch):
    from tests.conftest import _table

    monkeypatch.setenv("GENRE_CACHE", str(tmp_path))
    genres = ("electronic", "jazz")
    tables = [_table(160, seed=s) for s in range(6)]
    for t in tables[:3]:  # "electronic" here: fast, a fifth of the notes drums
        t[:, 1:3] *= 0.2
    for t in tables[3:]:  # "jazz" here: a piano part, no drums
        t[:, 4], t[:, 5], t[:, 1:3] = 0.0, 0.0, t[:, 1:3] * 0.4
    y = np.array([0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="no tag"):
        ear.EarVerdict(("jazz", "polka"))
    with pytest.raises(ValueError, match="not calibrated"):
        ear.EarVerdict(genres).predict_proba(tables[:1])
    ears = {p: ear.EarVerdict(genres, p, file_windows=2).fit(tables, y) for p in ("first100", "file")}
    with pytest.raises(ValueError, match="every genre"):
        ear.EarVerdict(genres).fit(tables[:3], y[:3])
    for p, e in ears.items():
        proba = e.predict_proba(tables)
        assert e.classes_ == genres and proba.shape == (6, 2)
        np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-9)
        assert (proba.argmax(1) == y).mean() >= 5 / 6  # fitted on these very files
    # the file protocol hears its windows, the first of them the first 100 notes
    assert len(list((tmp_path / "ear").glob("*.npy"))) == 6 * 2
    np.testing.assert_array_equal(ears["first100"].tag_scores(tables[:1])[0], ear.window_tags(tables[0][:100]))
    # stored and read back, it judges the same, and scores beside the others as a verdict
    path = tmp_path / "ear.json"
    path.write_text(json.dumps({"calibration": {p: dataclasses.asdict(e) for p, e in ears.items()}}))
    stored = ear.load_ears(path, genres)
    with pytest.raises(ValueError, match="other genres"):
        ear.load_ears(path, ("jazz", "electronic"))
    assert isinstance(stored["file"], Verdict) and stored["file"].protocol == "file"
    np.testing.assert_allclose(stored["file"].predict_proba(tables), ears["file"].predict_proba(tables))
    np.testing.assert_array_equal(stored["file"].predict(tables), ears["file"].predict_proba(tables).argmax(1))
    assert score([stored["file"]], tables, y)["ear"]["n"] == 6
    heard = ears["file"].predict_proba(tables)
    moved = ear.agreement(heard, heard, [1] * 6, n=100)
    assert moved["rose"] == 0 and moved["agrees"] == moved["agreed_before"]


@pytest.mark.parametrize("run", ["jazz-electronic", "four-genres"])
def test_the_committed_ear_results_hold_together(run):
    """results/ear-<run>.json (scripts/ear_eval.py): its ears load for the run's genres, its
    per-file probabilities are the run's test files and give the accuracy it reports."""
    from genre_lib.runs import read_run_meta

    meta = read_run_meta(PROJECT / "models" / run)
    result = json.loads((PROJECT / "results" / f"ear-{run}.json").read_text())
    ears = ear.load_ears(PROJECT / "results" / f"ear-{run}.json", meta["genres"])
    assert set(ears) == {"first100", "file"} and all(e.params for e in ears.values())
    assert sorted(result["test_files"]) == sorted(meta["split"]["test_files"])
    assert result["n_test"] == len(meta["split"]["test_files"])
    for p in ears:
        right = [meta["genres"][int(np.argmax(f[f"ear_{p}"]))] == f["true"] for f in result["test_files"].values()]
        assert np.mean(right) == pytest.approx(result["test"][p]["ear"]["accuracy"])
        assert result["test"][p]["ear"]["accuracy_95"][0] < np.mean(right) < result["test"][p]["ear"]["accuracy_95"][1]
    assert result["port_check"]["max_abs_tag_difference"] < 1e-4


def test_the_ear_evaluation_scores_pairs_like_mann_whitney(monkeypatch):
    """scripts/ear_eval.py's per-pair AUC (log p(a) - log p(b) over the pair's files) equals
    the Mann-Whitney U statistic over the product of the pair's sizes (scipy), and its
    bootstrap interval, each resample scored on its own, brackets it."""
    from scipy.stats import mannwhitneyu

    for k in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS", "TF_CPP_MIN_LOG_LEVEL"):
        monkeypatch.setenv(k, __import__("os").environ.get(k, "0"))  # the script's import sets defaults: not here
    import ear_eval

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 120)
    proba = rng.dirichlet(np.ones(3), 120) + np.eye(3)[y] * 0.3
    proba /= proba.sum(axis=1, keepdims=True)
    got = ear_eval.judged(proba, y, ("a", "b", "c"), seed=0)
    logp = np.log(proba)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        score = logp[:, i] - logp[:, j]
        u = mannwhitneyu(score[y == i], score[y == j]).statistic
        pair = got["pair_auc"][f"{'abc'[i]} vs {'abc'[j]}"]
        assert pair["auc"] == pytest.approx(u / ((y == i).sum() * (y == j).sum()))
        assert pair["auc_95"][0] < pair["auc"] < pair["auc_95"][1] and pair["auc_95"][1] - pair["auc_95"][0] < 0.5
    assert got["accuracy"] == pytest.approx(np.mean(proba.argmax(1) == y))


@pytest.mark.slow  # plays and tags 40 files' first notes (TensorFlow), reads the real collection
@needs_shared
def test_ear_edits_remakes_its_committed_result(tmp_path):
    """scripts/ear_edits.py run as results/ear-edits-jazz-electronic.json says it was made
    gives that file's figures again: the script runs on today's genre_lib."""
    import subprocess

    committed = json.loads((PROJECT / "results" / "ear-edits-jazz-electronic.json").read_text())
    out = tmp_path / "ear-edits.json"
    args = committed["command"].split()[2:]
    args[args.index("--json") + 1] = str(out)
    subprocess.run([sys.executable, str(PROJECT / "scripts" / "ear_edits.py"), *args], cwd=PROJECT, check=True,
                   capture_output=True)
    again = json.loads(out.read_text())
    assert again["edits"].keys() == committed["edits"].keys()
    for edit, block in committed["edits"].items():
        assert again["edits"][edit]["donors"] == block["donors"]
        for who, a in block["judges"].items():
            for key, value in a.items():
                assert again["edits"][edit]["judges"][who][key] == pytest.approx(value, abs=1e-9), (edit, who, key)
