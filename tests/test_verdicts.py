"""Who judges and how: the verdict interface, the three verdicts and score(), each
against a computation by hand on real inputs (the demo corpus, a small trained model)."""

import numpy as np
import pytest

from genre_lib.inference import logits, predict_proba
from genre_lib.metrics import classification_metrics
from genre_lib.note_statistics import note_statistics
from genre_lib.protocols import PROTOCOLS, vote
from genre_lib.splits import make_split
from genre_lib.verdicts import (VERDICTS, BaselineVerdict, Combined, RNNVerdict, Verdict, combine_proba, predict_all,
                                score)
from genre_lib.windows import even_windows


def _vote(window_probs: np.ndarray) -> np.ndarray:
    """The file protocol by hand: normalised geometric mean of each file's windows."""
    g = np.exp(np.log(window_probs).mean(axis=1))
    return g / g.sum(axis=1, keepdims=True)


def _geometric_mean(*probs: np.ndarray) -> np.ndarray:
    g = np.exp(np.mean([np.log(p) for p in probs], axis=0))
    return g / g.sum(axis=1, keepdims=True)


def test_rnn_judges_the_first_100_notes_or_a_vote_of_windows(demo_run, demo_data):
    index = np.array([0, 4, 11, 150])
    tables = demo_data.tables(index)
    first = RNNVerdict(demo_run.model, demo_run.genres, "first100")
    np.testing.assert_allclose(first.predict_proba(tables), predict_proba(demo_run.model, demo_data.X[index]), atol=1e-6)
    rnn = RNNVerdict(demo_run.model, demo_run.genres, "file", 5)
    W, _ = even_windows(tables, 5)
    np.testing.assert_array_equal(rnn.windows(tables).reshape(W.shape), W)
    assert [list(rnn.starts(len(t))) for t in tables] == [list(np.rint(np.linspace(0, len(t) - 100, 5))) for t in tables]
    files = rnn.predict_proba(tables)
    np.testing.assert_allclose(files, _vote(predict_proba(demo_run.model, W).reshape(len(index), 5, -1)), atol=1e-5)
    np.testing.assert_allclose(files.sum(1), 1.0, atol=1e-6)
    assert (rnn.predict(tables) == files.argmax(1)).all() and rnn.fit(tables, demo_data.y[index]) is rnn
    # one window: the file protocol is the first-100 protocol
    np.testing.assert_allclose(RNNVerdict(demo_run.model, demo_run.genres, "file", 1).predict_proba(tables),
                               first.predict_proba(tables), atol=1e-5)
    with pytest.raises(ValueError, match="unknown protocol 'middle'"):
        RNNVerdict(demo_run.model, demo_run.genres, "middle")


def test_every_verdict_keeps_the_interface(demo_run):
    for protocol in PROTOCOLS:
        for v in demo_run.verdicts(protocol):
            assert isinstance(v, Verdict) and v.protocol == protocol and v.classes_ == tuple(demo_run.genres)


def test_vote_averages_logits_not_probabilities():
    z = np.log(np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5], [0.5, 0.5]]))
    np.testing.assert_allclose(vote(z, 2), _vote(np.exp(z).reshape(2, 2, 2)))


def test_baseline_reads_the_notes_its_protocol_names(demo_data):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    split = make_split("group", demo_data.y, demo_data.groups, seed=0)
    train, test = demo_data.tables(split.train), demo_data.tables(split.test)
    for protocol, cut in (("first100", 100), ("file", None)):
        base = BaselineVerdict(demo_data.genres, protocol, seed=0).fit(train, demo_data.y[split.train])
        assert [r.shape[1] for r in base.reads(test[:3])] == [len(t[:cut]) for t in test[:3]]
        S_train = np.array([note_statistics(t[:cut]) for t in train])
        with threadpool_limits(1, user_api="openmp"):  # beside TensorFlow's threads more only spin
            by_hand = HistGradientBoostingClassifier(random_state=0, class_weight="balanced").fit(S_train, demo_data.y[split.train])
        expected = by_hand.predict_proba(np.array([note_statistics(t[:cut]) for t in test]))
        np.testing.assert_allclose(base.predict_proba(test), expected)
    with pytest.raises(ValueError, match="not fitted"):
        BaselineVerdict(demo_data.genres).predict_proba(test)


def test_combined_is_the_normalised_geometric_mean(demo_run, demo_data):
    tables = demo_data.tables(np.arange(0, 300, 7))
    for protocol in PROTOCOLS:
        rnn = RNNVerdict(demo_run.model, demo_run.genres, protocol)
        p = rnn.predict_proba(tables)
        np.testing.assert_allclose(Combined(rnn, rnn, name="twice").predict_proba(tables), _geometric_mean(p, p), atol=1e-9)
    a, b = np.array([[0.9, 0.1], [0.3, 0.7]]), np.array([[0.6, 0.4], [0.8, 0.2]])
    np.testing.assert_allclose(combine_proba(a, b), _geometric_mean(a, b))
    with pytest.raises(ValueError, match="same genres and protocol"):
        Combined(rnn, RNNVerdict(demo_run.model, ("polka", "jazz"), protocol))
    with pytest.raises(ValueError, match="same genres and protocol"):
        Combined(rnn, RNNVerdict(demo_run.model, demo_run.genres, "first100"))


def test_score_gives_every_verdict_as_computed_by_hand(demo_run, demo_data):
    """The one scoring pass against metrics computed by hand for every verdict and protocol."""
    index = np.arange(1, len(demo_data), 5)
    tables, y = demo_data.tables(index), demo_data.y[index]
    k = demo_run.meta["file_windows"]
    for protocol, cut in (("first100", 100), ("file", None)):
        verdicts = demo_run.verdicts(protocol)
        assert [v.name for v in verdicts] == list(VERDICTS)
        scores, probs_of = score(verdicts, tables, y), predict_all(verdicts, tables)
        W, _ = even_windows(tables, 1 if protocol == "first100" else k)
        z = logits(demo_run.model, W).reshape(len(index), -1, len(demo_run.genres)).mean(axis=1)
        rnn = np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)
        baseline = verdicts[1].model.predict_proba(np.array([note_statistics(t[:cut]) for t in tables]))
        for who, probs in (("rnn", rnn), ("baseline", baseline), ("combined", _geometric_mean(rnn, baseline))):
            np.testing.assert_allclose(probs_of[who], probs, atol=1e-5)
            got = scores[who]
            assert got["accuracy"] == pytest.approx(float((probs.argmax(1) == y).mean()))
            assert got["confusion"] == classification_metrics(probs, y, demo_run.genres)["confusion"]
            assert got["n"] == len(index)
            loss = -np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-7, 1)))
            assert got["loss"] == pytest.approx(loss, abs=1e-4)
    with pytest.raises(ValueError, match="distinct names"):
        score([verdicts[0], verdicts[0]], tables, y)


def test_a_run_without_a_baseline_is_the_rnn_alone(demo_run, tmp_path):
    import dataclasses

    alone = dataclasses.replace(demo_run, baselines=None, baseline_problem="x: no baseline in this run folder")
    assert [v.name for v in alone.verdicts("file")] == ["rnn"]
    with pytest.raises(ValueError, match="no combined verdict: x: no baseline"):
        alone.verdict("combined", "file")
    with pytest.raises(ValueError, match="unknown verdict 'jury'"):
        alone.verdict("jury", "file")
