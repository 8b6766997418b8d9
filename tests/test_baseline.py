"""The gradient-boosting baseline: per-file statistics by hand, no order, seeded fit."""

import numpy as np
import pytest

from genre_lib.baseline import baseline_proba, file_statistics, fit_baseline, statistic_names
from genre_lib.midi_io import DRUM, FEATURES, PROGRAM, STEP, VELOCITY
from genre_lib.splits import make_split


def _table():
    """Eight hand-made notes: two pianos, a bass, a synth lead, four drums."""
    rows = [
        # pitch step duration velocity drum program
        (60, 0.0, 0.5, 80, 0, 0),
        (64, 0.0, 0.5, 80, 0, 1),
        (36, 0.5, 1.0, 100, 0, 33),
        (72, 0.25, 0.25, 60, 0, 81),
        (36, 0.0, 0.1, 110, 1, 0),
        (42, 0.25, 0.1, 90, 1, 0),
        (42, 0.25, 0.1, 90, 1, 0),
        (38, 0.0, 0.1, 100, 1, 0),
    ]
    return np.array(rows, dtype=np.float32)


def test_names_describe_the_columns():
    names = statistic_names()
    X = np.stack([_table(), _table()[::-1]])
    assert file_statistics(X).shape == (2, len(names)) == (2, len(FEATURES) * 4 + 16 + 3)
    assert len(set(names)) == len(names)


def test_statistics_computed_by_hand():
    t = _table()
    stats = dict(zip(statistic_names(), file_statistics(t[None])[0]))
    for c, f in enumerate(FEATURES):
        assert stats[f"{f} mean"] == pytest.approx(t[:, c].mean())
        assert stats[f"{f} std"] == pytest.approx(t[:, c].std())
        assert stats[f"{f} p10"] == pytest.approx(np.percentile(t[:, c], 10))
        assert stats[f"{f} p90"] == pytest.approx(np.percentile(t[:, c], 90))
    # program families count pitched notes only (the drums' program 0 is not a piano)
    assert stats["share of program family 0"] == pytest.approx(2 / 8)  # pianos 0 and 1
    assert stats["share of program family 4"] == pytest.approx(1 / 8)  # bass 33
    assert stats["share of program family 10"] == pytest.approx(1 / 8)  # lead 81
    assert sum(stats[f"share of program family {k}"] for k in range(16)) == pytest.approx(4 / 8)
    assert stats["distinct programs"] == 4  # 0, 1, 33, 81
    assert stats["distinct velocities"] == 5  # 60, 80, 90, 100, 110
    assert stats["share of simultaneous onsets"] == pytest.approx(4 / 8)
    assert t[:, DRUM].sum() == 4 and t[:, PROGRAM].max() == 81 and t[:, VELOCITY].min() == 60 and t[:, STEP].max() == 0.5


def test_the_baseline_sees_no_order(demo_data):
    X = demo_data.X[:20]
    rng = np.random.default_rng(0)
    shuffled = np.stack([x[rng.permutation(len(x))] for x in X])
    np.testing.assert_allclose(file_statistics(shuffled), file_statistics(X), rtol=1e-9, atol=1e-9)


def test_baseline_is_seeded_and_finds_the_demo_cues(demo_data):
    split = make_split("group", demo_data.y, demo_data.groups, seed=0)
    train, test = split.train, split.test
    a = fit_baseline(demo_data.X[train], demo_data.y[train], seed=0)
    b = fit_baseline(demo_data.X[train], demo_data.y[train], seed=0)
    pa, pb = baseline_proba(a, demo_data.X[test]), baseline_proba(b, demo_data.X[test])
    assert pa.shape == (len(test), 2)
    np.testing.assert_allclose(pa.sum(1), 1.0)
    assert np.array_equal(pa, pb)
    # held-out groups, chance 0.5: the planted cues are in the per-file statistics
    assert (pa.argmax(1) == demo_data.y[test]).mean() >= 0.8


def test_balanced_weights_keep_a_small_genre_from_being_drowned_out():
    from sklearn.ensemble import HistGradientBoostingClassifier

    # one genre in ten, told apart by a noisy velocity offset: an unweighted model
    # mostly predicts the big genre, the balanced one finds more of the small one
    rng = np.random.default_rng(0)
    n = 600
    X = rng.normal(60, 5, (n, 100, len(FEATURES))).astype(np.float32)
    y = (rng.random(n) < 0.1).astype(int)
    X[:, :, VELOCITY] += rng.normal(0, 1.0, (n, 1)) + 2.0 * y[:, None]
    train, test = np.arange(400), np.arange(400, n)
    clf = fit_baseline(X[train], y[train], seed=0)
    assert clf.get_params()["class_weight"] == "balanced"
    balanced = baseline_proba(clf, X[test]).argmax(1)
    plain = HistGradientBoostingClassifier(random_state=0).fit(file_statistics(X[train]), y[train])
    unweighted = plain.predict(file_statistics(X[test]))
    small = y[test] == 1
    assert (balanced[small] == 1).mean() > (unweighted[small] == 1).mean()
    assert balanced.sum() > unweighted.sum()
