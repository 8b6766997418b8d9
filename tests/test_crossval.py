"""Group cross-validation on the demo corpus: every test file recorded, no group on two
sides, figures that recompute from the stored probabilities, errors read by group."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix

from genre_lib.crossval import (
    VOTE_SIZES, cross_validate, errors_by_direction, errors_by_group, file_probabilities, load_cv, misclassified_files,
    save_cv,
)
from genre_lib.metrics import classification_metrics
from genre_lib.configs import ModelConfig
from genre_lib.splits import group_folds
from genre_lib.verdicts import BaselineVerdict


# a fold of cross-validation is trained for these tests
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def result(demo_data):
    config = ModelConfig(units=8, dense_units=8, epochs=2, patience=2, windows=2)
    return cross_validate(demo_data, config, folds=5, seed=0, only_folds=[1], log=lambda line: None)


def test_one_fold_records_every_test_file_and_recomputes(result, demo_data):
    test = group_folds(demo_data.y, demo_data.groups, 5, seed=0)[1].test
    assert [f["path"] for f in result["files"]] == [demo_data.paths[i] for i in test]
    assert {f["fold"] for f in result["files"]} == {1} and len(result["folds"]) == 1
    row, genres = result["folds"][0], result["data"]["genres"]
    y = np.array([genres.index(f["true"]) for f in result["files"]])
    for protocol in ("first100", "file"):
        probs = np.array([f["probabilities"]["rnn"][protocol] for f in result["files"]])
        # stored probabilities are rounded to 4 decimals: the argmax, so the accuracy, survives
        assert row["accuracy"]["rnn"][protocol] == pytest.approx(classification_metrics(probs, y, genres)["accuracy"])
        assert 0 <= row["accuracy"]["baseline"][protocol] <= 1
    assert set(row["file_by_windows"]) == {str(n) for n in VOTE_SIZES}
    assert row["file_by_windows"]["1"] == pytest.approx(row["accuracy"]["rnn"]["first100"]), "one window is the first 100 notes"
    assert result["summary"]["accuracy"]["rnn"]["file"] == {"mean": row["accuracy"]["rnn"]["file"], "sd": 0.0}
    # the RNN's probes on the fold's files, and the order effect the summary reads
    shuffle = {r["protocol"]: r for r in row["probes"] if r["probe"] == "shuffle"}
    for protocol in ("first100", "file"):
        assert shuffle[protocol]["accuracy"] == pytest.approx(row["accuracy"]["rnn"][protocol])
        assert row["order_effect"][protocol] == shuffle[protocol]["effect"]
        assert result["summary"]["order_effect"][protocol]["mean"] == shuffle[protocol]["effect"]


def test_errors_by_group_add_up_to_the_misclassified_files(result):
    wrong = misclassified_files(result, "first100")
    groups = errors_by_group(result, "first100")
    assert int(groups["wrong"].sum()) == len(wrong)
    assert list(wrong["p_predicted"]) == sorted(wrong["p_predicted"], reverse=True)
    assert (wrong["predicted"] != wrong["true"]).all()
    if len(groups):
        assert (groups["wrong"] <= groups["files"]).all() and groups["wrong"].is_monotonic_decreasing


@pytest.mark.parametrize("who", ["rnn", "baseline", "combined"])
def test_errors_by_direction_are_each_verdicts_confusion_by_group(result, who):
    wrong = misclassified_files(result, "file", who)
    directions = errors_by_direction(result, "file", who)
    genres = result["data"]["genres"]
    y = [genres.index(f["true"]) for f in result["files"]]
    confusion = confusion_matrix(y, file_probabilities(result, "file", who).argmax(1), labels=range(len(genres)))
    # the groups of each direction add up to that cell of the verdict's confusion matrix
    for (true, predicted), n in directions.groupby(["true", "predicted"])["wrong"].sum().items():
        assert n == confusion[genres.index(true), genres.index(predicted)]
    assert int(directions["wrong"].sum()) == len(wrong) == int(errors_by_group(result, "file", who)["wrong"].sum())
    assert (directions["true"] != directions["predicted"]).all() and (directions["wrong"] <= directions["files"]).all()
    sizes = {(f["group"], f["true"]) for f in result["files"]}
    assert all((r.group, r.true) in sizes for r in directions.itertuples())


def test_save_refuses_to_overwrite_and_round_trips(result, tmp_path):
    path = save_cv(result, tmp_path / "cv.json")
    assert load_cv(path) == result
    with pytest.raises(FileExistsError, match="exists; not replaced"):
        save_cv(result, path)
    save_cv(result, path, overwrite=True)


def test_recall_summary_recomputes_from_the_stored_probabilities(result):
    genres = result["data"]["genres"]
    y = np.array([genres.index(f["true"]) for f in result["files"]])
    for protocol in ("first100", "file"):
        predicted = np.array([f["probabilities"]["rnn"][protocol] for f in result["files"]]).argmax(1)
        for g, genre in enumerate(genres):
            expected = float(np.mean(predicted[y == g] == g))
            assert result["recall"]["rnn"][protocol][genre] == {"mean": pytest.approx(expected), "sd": 0.0}
        assert set(result["recall"]["baseline"][protocol]) == set(genres)


def test_baseline_and_combined_verdicts_recompute(result, demo_data):
    part = group_folds(demo_data.y, demo_data.groups, 5, seed=0)[1]
    # the fold's baseline, trained again with the fold's seed (seed + fold)
    tables = demo_data.tables(part.test)
    row, genres = result["folds"][0], result["data"]["genres"]
    y = np.array([genres.index(f["true"]) for f in result["files"]])
    for protocol in ("first100", "file"):
        stored = file_probabilities(result, protocol, "baseline")
        fitted = BaselineVerdict(demo_data.genres, protocol, seed=1).fit(demo_data.tables(part.train), demo_data.y[part.train])
        np.testing.assert_allclose(stored, fitted.predict_proba(tables), atol=5e-5)
        combined = file_probabilities(result, protocol, "combined")
        # stored probabilities are rounded, so some are 0: the rule reads them as 1e-7
        geo = np.sqrt(np.clip(file_probabilities(result, protocol, "rnn"), 1e-7, 1) * np.clip(stored, 1e-7, 1))
        np.testing.assert_allclose(combined, geo / geo.sum(1, keepdims=True), atol=1e-6)
        # from rounded probabilities the accuracy is the fold's (one fold: pooled is the fold)
        assert accuracy_score(y, combined.argmax(1)) == pytest.approx(row["accuracy"]["combined"][protocol])
        assert accuracy_score(y, stored.argmax(1)) == pytest.approx(row["accuracy"]["baseline"][protocol])
        assert set(result["recall"]["combined"][protocol]) == set(genres)
    with pytest.raises(ValueError, match="unknown verdict"):
        file_probabilities(result, "file", "ensemble")


def test_shared_errors_of_the_committed_cv_count_its_files():
    from genre_lib.crossval import load_cv, shared_errors
    from genre_lib.paths import RESULTS_DIR

    cv = load_cv(RESULTS_DIR / "cv-four-genres.json")
    genres = cv["data"]["genres"]
    wrong = {who: [int(np.argmax(f["probabilities"][who]["file"])) != genres.index(f["true"]) for f in cv["files"]]
             for who in ("rnn", "baseline")}
    r = shared_errors(cv, "file")
    assert r["files"] == len(cv["files"]) == cv["data"]["files"]
    assert r["a_wrong"] == sum(wrong["rnn"]) and r["b_wrong"] == sum(wrong["baseline"])
    assert r["both_wrong"] == sum(x and z for x, z in zip(wrong["rnn"], wrong["baseline"]))
    assert r["low"] <= r["ratio"] <= r["high"]
