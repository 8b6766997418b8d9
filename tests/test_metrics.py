"""The figures (genre_lib.metrics) against scikit-learn's and scipy's, and label alignment."""

import dataclasses

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss, precision_score, recall_score

from genre_lib.dataset import load_file
from genre_lib.evaluate import GenreMismatchError, align_labels
from genre_lib.inference import predict_proba
from genre_lib.metrics import (bootstrap_interval, classification_metrics, mcnemar, mean_sd, misclassified, shared_mistakes,
                               pair_accuracy)


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


def test_mean_sd_is_the_sample_standard_deviation():
    assert mean_sd([0.8, 0.9, 1.0]) == pytest.approx({"mean": 0.9, "sd": 0.1})
    assert mean_sd([0.7]) == {"mean": 0.7, "sd": 0.0}


def test_pair_accuracy_by_hand():
    genres = ("a", "b", "c")
    probs = np.array([[0.5, 0.2, 0.3], [0.2, 0.3, 0.5], [0.1, 0.6, 0.3], [0.4, 0.35, 0.25], [0.1, 0.2, 0.7]])
    y = np.array([0, 0, 1, 1, 2])
    rows = {r["pair"]: r for r in pair_accuracy(probs, y, genres)}
    # a / b: file 0 (a wins of a, b), file 1 (b: 0.3 > 0.2, wrong), file 2 right, file 3 wrong (a 0.4 > b 0.35)
    assert rows["a / b"]["files"] == 4 and rows["a / b"]["pair accuracy"] == 0.5
    assert rows["a / b"]["first called second"] == 0 and rows["a / b"]["second called first"] == 1
    # b / c: file 2 right, file 3 (b 0.35 > c 0.25) right, file 4 right
    assert rows["b / c"]["pair accuracy"] == 1.0
    assert rows["a / c"]["pair accuracy"] == pytest.approx(2 / 3)  # file 1: c 0.5 > a 0.2, wrong


def test_bootstrap_interval_covers_the_mean_and_is_seeded():
    rng = np.random.default_rng(0)
    v = rng.normal(0.3, 1.0, 400)
    low, high = bootstrap_interval(v, seed=1)
    assert low < v.mean() < high
    # the normal approximation of the mean's 95 % interval, an independent computation
    half = 1.96 * v.std(ddof=1) / np.sqrt(len(v))
    assert high - low == pytest.approx(2 * half, rel=0.15)
    assert bootstrap_interval(v, seed=1) == (low, high) != bootstrap_interval(v, seed=2)
    assert all(np.isnan(bootstrap_interval(np.array([]))))
    # the same draws as one resample at a time, the loop the committed intervals were made with
    draw = np.random.default_rng(1)
    means = [v[draw.integers(0, len(v), len(v))].mean() for _ in range(2000)]
    assert (low, high) == tuple(np.quantile(means, [(1 - 0.95) / 2, 1 - (1 - 0.95) / 2]))


def test_mcnemar_is_the_exact_two_sided_binomial_test_by_hand():
    from math import comb

    a = np.array([1] * 30 + [0] * 12 + [1] * 50 + [0] * 8, dtype=bool)
    b = np.array([0] * 30 + [1] * 12 + [1] * 50 + [0] * 8, dtype=bool)
    m = mcnemar(a, b)
    assert (m["a_only"], m["b_only"]) == (30, 12)
    # twice the chance of 12 or fewer of 42 disagreements going b's way, a fair coin each
    assert m["p"] == pytest.approx(2 * sum(comb(42, i) for i in range(13)) / 2**42, rel=1e-12)
    assert mcnemar(a, a)["p"] == 1.0
    assert mcnemar(a[:2], b[:2])["p"] == 0.5  # 2 of 2 one way: twice the chance 1/4 of none the other way


def test_shared_mistakes_by_hand():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    a = np.array([1, 1, 0, 0, 0, 1, 1, 1])  # wrong on files 0, 1, 4
    b = np.array([1, 0, 2, 0, 2, 1, 1, 1])  # wrong on files 0, 2, 4
    r = shared_mistakes(a, b, y, n=200)
    # genre 0: 4 files x 2/4 x 2/4 = 1; genre 1: 4 x 1/4 x 1/4 = 0.25
    assert r["expected_both_wrong"] == pytest.approx(1.25)
    assert (r["a_wrong"], r["b_wrong"], r["both_wrong"], r["same_wrong_genre"]) == (3, 3, 2, 1)
    assert r["ratio"] == pytest.approx(2 / 1.25) and r["files"] == 8


def test_independent_mistakes_share_about_the_chance_level_and_identical_ones_far_more():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 3000)
    rate = np.array([0.1, 0.3, 0.2])[y]  # error rates that differ by genre, as real judges' do
    wrong_a, wrong_b = rng.random(3000) < rate, rng.random(3000) < rate
    a, b = np.where(wrong_a, (y + 1) % 3, y), np.where(wrong_b, (y + 2) % 3, y)
    r = shared_mistakes(a, b, y, n=300)
    assert r["low"] < 1 < r["high"] and r["same_wrong_genre"] == 0
    same = shared_mistakes(a, a, y, n=300)
    assert same["both_wrong"] == same["a_wrong"] == same["same_wrong_genre"] and same["low"] > 3


def test_histogram_overlap_against_counting_by_hand():
    from genre_lib.metrics import histogram_overlap

    a = np.array([0.0, 0.0, 1.0, 1.0])
    b = np.array([0.0, 1.0, 1.0, 1.0])
    # two bins (0 and 1): a has 1/2 and 1/2, b has 1/4 and 3/4; in common min(1/2, 1/4) + min(1/2, 3/4)
    assert histogram_overlap(a, b, bins=2) == pytest.approx(0.25 + 0.5)
    assert histogram_overlap(a, a) == pytest.approx(1.0)
    assert histogram_overlap(np.zeros(5), np.ones(5), bins=2) == 0.0
