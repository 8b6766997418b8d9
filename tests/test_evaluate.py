"""Scoring: our metrics against scikit-learn's, label alignment, misclassified files."""

import dataclasses

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss, precision_score, recall_score

from genre_lib.dataset import load_file
from genre_lib.evaluate import (
    GenreMismatchError,
    align_labels,
    classification_metrics,
    misclassified,
    predict_proba,
    protocol_proba,
)

from .conftest import SHARED_MIDI, needs_shared


def _check_against_sklearn(probs, y, genres):
    m = classification_metrics(probs, y, genres)
    k = len(genres)
    pred = probs.argmax(1)
    assert m["n"] == len(y) and m["genres"] == list(genres)
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["loss"] == pytest.approx(log_loss(y, probs / probs.sum(1, keepdims=True), labels=list(range(k))), rel=1e-6)
    assert m["confusion"] == confusion_matrix(y, pred, labels=list(range(k))).tolist()
    precision = precision_score(y, pred, labels=list(range(k)), average=None, zero_division=np.nan)
    recall = recall_score(y, pred, labels=list(range(k)), average=None, zero_division=np.nan)
    for g, name in enumerate(genres):
        assert m["per_genre"][name]["n"] == int((y == g).sum())
        np.testing.assert_allclose(m["per_genre"][name]["precision"], precision[g])
        np.testing.assert_allclose(m["per_genre"][name]["recall"], recall[g])
    return m


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_sklearn_on_noisy_three_genre_predictions(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 200)
    probs = rng.dirichlet(np.ones(3), 200)
    probs[np.arange(100), y[:100]] += 1.0  # half the files confidently right
    probs /= probs.sum(1, keepdims=True)
    m = _check_against_sklearn(probs, y, ("electronic", "jazz", "polka"))
    assert 0.5 < m["accuracy"] < 1.0 and np.trace(m["confusion"]) < 200


def test_metrics_match_sklearn_on_the_trained_model(demo_run, demo_data):
    probs = predict_proba(demo_run.model, demo_data.X)
    m = _check_against_sklearn(probs, demo_data.y, demo_run.genres)
    assert sum(map(sum, m["confusion"])) == len(demo_data)


def test_metrics_edge_cases():
    # a genre never predicted has no precision; one with no files has no recall
    probs = np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.3, 0.7, 0.0]])
    m = classification_metrics(probs, np.array([0, 1, 1]), ("a", "b", "c"))
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert np.isnan(m["per_genre"]["c"]["precision"]) and np.isnan(m["per_genre"]["c"]["recall"])
    assert m["per_genre"]["b"] == {"n": 2, "precision": 1.0, "recall": 0.5}
    # a probability of exactly 0 for the true genre: a large but finite loss
    m = classification_metrics(np.array([[1.0, 0.0]]), np.array([1]), ("a", "b"))
    assert m["loss"] == pytest.approx(-np.log(1e-7))
    # nothing to score
    m = classification_metrics(np.zeros((0, 2)), np.zeros(0, dtype=int), ("a", "b"))
    assert m["n"] == 0 and np.isnan(m["accuracy"]) and np.isnan(m["loss"]) and m["confusion"] == [[0, 0], [0, 0]]


def test_predict_proba_shapes_and_sums(demo_run, demo_data, demo_dir):
    X = demo_data.X[:5]
    probs = predict_proba(demo_run.model, X)
    assert probs.shape == (5, 2) and probs.dtype == np.float64
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    np.testing.assert_allclose(probs, np.asarray(demo_run.model(X.astype(np.float32), training=False)), atol=1e-6)
    # one table, read from its file, is one row
    one = predict_proba(demo_run.model, load_file(demo_dir / demo_data.paths[0]))
    np.testing.assert_allclose(one, probs[:1], atol=1e-6)
    assert predict_proba(demo_run.model, np.zeros((0, 100, 6))).shape == (0, 2)


def test_align_labels_follows_the_models_order_case_insensitively(demo_data):
    assert demo_data.genres == ("electronic", "jazz")
    np.testing.assert_array_equal(align_labels(demo_data, ["electronic", "jazz"]), demo_data.y)
    np.testing.assert_array_equal(align_labels(demo_data, ["Jazz", "ELECTRONIC"]), 1 - demo_data.y)
    # a model that knows more genres than the folder holds is fine
    np.testing.assert_array_equal(align_labels(demo_data, ["polka", "jazz", "electronic"]), 2 - demo_data.y)


def test_align_labels_names_the_unknown_genre(demo_data):
    other = dataclasses.replace(demo_data, genres=("electronic", "polka"))
    with pytest.raises(GenreMismatchError, match=r"genre folder\(s\) \['polka'\] unknown to the model"):
        align_labels(other, ["electronic", "jazz"])


def test_misclassified_lists_the_surest_mistakes_first():
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.55, 0.45], [0.05, 0.95]])
    y = np.array([0, 0, 0, 1, 1])
    paths = ["x/Moby - A.mid", "b.mid", "jazz/c_jh.mid", "d.mid", "e.mid"]
    rows = misclassified(probs, y, paths, ("jazz", "electronic"))
    assert [r["path"] for r in rows] == ["jazz/c_jh.mid", "b.mid", "d.mid"]
    assert rows[0] == {"path": "jazz/c_jh.mid", "group": "_jh", "true": "jazz", "predicted": "electronic",
                       "p_predicted": 0.8, "probabilities": {"jazz": 0.2, "electronic": 0.8}}
    assert misclassified(probs[[0, 4]], y[[0, 4]], ["a", "e"], ("jazz", "electronic")) == []


def _vote(window_probs: np.ndarray) -> np.ndarray:
    """The file protocol by hand: normalised geometric mean of each file's windows."""
    g = np.exp(np.log(window_probs).mean(axis=1))
    return g / g.sum(axis=1, keepdims=True)


def test_protocols_judge_the_first_100_notes_or_a_vote_of_windows(demo_run, demo_data):
    index = np.array([0, 4, 11, 150])
    tables = demo_data.tables(index)
    first = protocol_proba(demo_run.model, tables, "first100")
    np.testing.assert_allclose(first, predict_proba(demo_run.model, demo_data.X[index]), atol=1e-6)
    W, owner = demo_data.even_windows(5, index)
    window_probs = predict_proba(demo_run.model, W).reshape(len(index), 5, -1)
    files = protocol_proba(demo_run.model, tables, "file", k=5)
    np.testing.assert_allclose(files, _vote(window_probs), atol=1e-5)
    np.testing.assert_allclose(files.sum(1), 1.0, atol=1e-6)
    # one window: the file protocol is the first-100 protocol
    np.testing.assert_allclose(protocol_proba(demo_run.model, tables, "file", k=1), first, atol=1e-5)
    with pytest.raises(ValueError, match="unknown protocol"):
        protocol_proba(demo_run.model, tables, "middle")


@needs_shared
def test_committed_models_test_metrics_reproduce_from_its_listed_files(real_run):
    from genre_lib.midi_io import read_midi

    files = real_run.meta["split"]["test_files"]
    tables = [read_midi(SHARED_MIDI / f) for f in files]
    y = np.array([real_run.genres.index(f.split("/")[0].lower()) for f in files])
    k = real_run.meta["file_windows"]
    first = predict_proba(real_run.model, np.stack([load_file(SHARED_MIDI / f, real_run.max_notes) for f in files]))
    from genre_lib.windows import even_windows

    W, _ = even_windows(tables, k)
    whole = _vote(predict_proba(real_run.model, W).reshape(len(files), k, -1))
    stored = real_run.metrics["test"]["protocols"]
    for protocol, probs in (("first100", first), ("file", whole)):
        m = stored[protocol]
        assert m["n"] == len(files)
        assert m["accuracy"] == pytest.approx(accuracy_score(y, probs.argmax(1)), abs=1e-9)
        assert m["loss"] == pytest.approx(log_loss(y, probs / probs.sum(1, keepdims=True), labels=[0, 1]), abs=1e-4)
        assert m["confusion"] == confusion_matrix(y, probs.argmax(1), labels=[0, 1]).tolist()
    assert real_run.metrics["test"]["accuracy"] == stored["file"]["accuracy"]
