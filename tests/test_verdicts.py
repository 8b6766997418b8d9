"""Who judges and how: protocols, the three verdicts and score(), each against a
computation by hand on real inputs (the demo corpus, a small trained model)."""

import numpy as np
import pytest

from genre_lib.baseline import fit_baseline, note_statistics
from genre_lib.inference import predict_proba
from genre_lib.metrics import classification_metrics
from genre_lib.protocols import PROTOCOLS, notes_read, protocol_windows, vote
from genre_lib.splits import make_split
from genre_lib.verdicts import VERDICTS, BaselineVerdict, Combined, RNNVerdict, combine_proba, score


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
    rnn = RNNVerdict(demo_run.model, demo_run.genres, 5)
    first = rnn.predict_proba(tables, "first100")
    np.testing.assert_allclose(first, predict_proba(demo_run.model, demo_data.X[index]), atol=1e-6)
    W, _ = demo_data.even_windows(5, index)
    np.testing.assert_array_equal(protocol_windows(tables, "file", 5), W)
    files = rnn.predict_proba(tables, "file")
    np.testing.assert_allclose(files, _vote(predict_proba(demo_run.model, W).reshape(len(index), 5, -1)), atol=1e-5)
    np.testing.assert_allclose(files.sum(1), 1.0, atol=1e-6)
    # one window: the file protocol is the first-100 protocol
    np.testing.assert_allclose(RNNVerdict(demo_run.model, demo_run.genres, 1).predict_proba(tables, "file"), first,
                               atol=1e-5)
    with pytest.raises(ValueError, match="unknown protocol 'middle'"):
        rnn.predict_proba(tables, "middle")


def test_vote_averages_logits_not_probabilities():
    z = np.log(np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5], [0.5, 0.5]]))
    np.testing.assert_allclose(vote(z, 2), _vote(np.exp(z).reshape(2, 2, 2)))


def test_baseline_reads_the_notes_its_protocol_names(demo_data):
    split = make_split("group", demo_data.y, demo_data.groups, seed=0)
    train, test = demo_data.tables(split.train), demo_data.tables(split.test)
    base = BaselineVerdict.fit(train, demo_data.y[split.train], demo_data.genres, seed=0)
    assert [len(t) for t in notes_read(test[:3], "first100")] == [100] * 3
    for protocol, cut in (("first100", 100), ("file", None)):
        S_train = np.array([note_statistics(t[:cut]) for t in train])
        by_hand = fit_baseline(S_train, demo_data.y[split.train], seed=0)
        expected = by_hand.predict_proba(np.array([note_statistics(t[:cut]) for t in test]))
        np.testing.assert_allclose(base.predict_proba(test, protocol), expected)


def test_combined_is_the_normalised_geometric_mean(demo_run, demo_data):
    tables = demo_data.tables(np.arange(0, 300, 7))
    rnn = RNNVerdict(demo_run.model, demo_run.genres)
    both = Combined(rnn, rnn, name="twice")
    for protocol in PROTOCOLS:
        p = rnn.predict_proba(tables, protocol)
        np.testing.assert_allclose(both.predict_proba(tables, protocol), _geometric_mean(p, p), atol=1e-9)
    a, b = np.array([[0.9, 0.1], [0.3, 0.7]]), np.array([[0.6, 0.4], [0.8, 0.2]])
    np.testing.assert_allclose(combine_proba(a, b), _geometric_mean(a, b))
    with pytest.raises(ValueError, match="different genres"):
        Combined(rnn, RNNVerdict(demo_run.model, ("polka", "jazz")))


def test_score_gives_every_verdict_and_protocol_as_computed_by_hand(demo_run, demo_data):
    """The one scoring pass against metrics computed by hand for every verdict x protocol."""
    index = np.arange(1, len(demo_data), 5)
    tables, y = demo_data.tables(index), demo_data.y[index]
    verdicts = demo_run.verdicts()
    assert [v.name for v in verdicts] == list(VERDICTS)
    scores = score(verdicts, tables, y, demo_run.genres)
    base = verdicts[1]
    for protocol in PROTOCOLS:
        W = protocol_windows(tables, protocol, demo_run.meta["file_windows"])
        rnn = _vote(predict_proba(demo_run.model, W).reshape(len(index), -1, len(demo_run.genres)))
        cut = 100 if protocol == "first100" else None
        baseline = base.models[protocol].predict_proba(np.array([note_statistics(t[:cut]) for t in tables]))
        for who, probs in (("rnn", rnn), ("baseline", baseline), ("combined", _geometric_mean(rnn, baseline))):
            np.testing.assert_allclose(scores.probabilities[who][protocol], probs, atol=1e-5)
            by_hand = classification_metrics(probs, y, demo_run.genres)
            got = scores.metrics[who][protocol]
            assert got["accuracy"] == pytest.approx(float((probs.argmax(1) == y).mean()))
            assert got["confusion"] == by_hand["confusion"] and got["n"] == len(index)
            assert got["loss"] == pytest.approx(by_hand["loss"], abs=1e-4)
    with pytest.raises(ValueError, match="distinct names"):
        score([verdicts[0], verdicts[0]], tables, y, demo_run.genres)


def test_a_run_without_a_baseline_is_the_rnn_alone(demo_run, tmp_path):
    import dataclasses

    alone = dataclasses.replace(demo_run, baselines=None, baseline_problem="x: no baseline in this run folder")
    assert [v.name for v in alone.verdicts()] == ["rnn"]
    with pytest.raises(ValueError, match="no combined verdict: x: no baseline"):
        alone.verdict("combined")
    with pytest.raises(ValueError, match="unknown verdict 'jury'"):
        alone.verdict("jury")
