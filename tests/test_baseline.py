"""The gradient-boosting baseline: 48 statistics by hand, no order, both protocols, seeded fit."""

import numpy as np
import pytest

from genre_lib.general_midi import DRUM_SOUNDS, FAMILIES
from genre_lib.metrics import classification_metrics
from genre_lib.note_statistics import note_statistics, statistics
from genre_lib.splits import make_split
from genre_lib.verdicts import BaselineVerdict, predict_all, score


def statistic_names() -> list[str]:
    """The 48 columns as the module's docstring names them, in order (written here, not read from it)."""
    basic = ["notes per second", "drum share", "pitch mean", "pitch std", "log step mean", "log step std",
             "log duration mean", "log duration std", "velocity mean", "velocity std",
             "share of simultaneous onsets", "distinct programs", "notes"]
    return (basic + [f"share of {f} notes" for f in FAMILIES] + [f"share of {d} hits" for d in DRUM_SOUNDS]
            + [f"pitch-class share, rank {r + 1}" for r in range(12)])


def fit_baseline(S, y, seed):
    """The baseline's classifier fitted by hand on statistics ``S`` (one OpenMP thread:
    beside TensorFlow's thread pools more only spin)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="openmp"):
        return HistGradientBoostingClassifier(random_state=seed, class_weight="balanced").fit(S, y)


def _table():
    """Eight hand-made notes over 2 seconds: two pianos, a bass, a synth lead, four drums."""
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


def test_names_describe_the_48_columns():
    names = statistic_names()
    assert len(names) == len(set(names)) == 48 == len(note_statistics(_table()))


def test_statistics_computed_by_hand():
    t = _table()
    s = dict(zip(statistic_names(), note_statistics(t)))
    # onsets 0, 0, .5, .75, .75, 1, 1.25, 1.25; the bass (onset .5, 1 s long) ends last, at 1.5 s
    assert s["notes per second"] == pytest.approx(8 / 1.5)
    assert s["drum share"] == pytest.approx(0.5)
    assert s["pitch mean"] == pytest.approx(np.mean([60, 64, 36, 72]))  # pitched notes only
    assert s["pitch std"] == pytest.approx(np.std([60, 64, 36, 72]))
    assert s["log step mean"] == pytest.approx(np.log1p(t[:, 1]).mean())
    assert s["log duration std"] == pytest.approx(np.log1p(t[:, 2]).std())
    assert s["velocity mean"] == pytest.approx(t[:, 3].mean())
    assert s["share of simultaneous onsets"] == pytest.approx(3 / 7)  # steps after the first note
    assert s["distinct programs"] == 4  # 0, 1, 33, 81 (the drums' program 0 is no piano)
    assert s["notes"] == 8
    assert s["share of piano notes"] == pytest.approx(2 / 8)
    assert s["share of bass notes"] == pytest.approx(1 / 8)
    assert s["share of synth lead notes"] == pytest.approx(1 / 8)
    assert s["share of kick hits"] == pytest.approx(1 / 8)
    assert s["share of hi-hat hits"] == pytest.approx(2 / 8)
    assert s["share of snare hits"] == pytest.approx(1 / 8)
    assert s["share of ride hits"] == 0
    # pitch classes of 60 (C), 64 (E), 36 (C), 72 (C): C 3/4, E 1/4, largest first
    profile = [s[f"pitch-class share, rank {r}"] for r in range(1, 13)]
    assert profile == pytest.approx([0.75, 0.25] + [0] * 10)


def test_the_pitch_class_profile_does_not_depend_on_the_key():
    t = _table()
    up = t.copy()
    up[up[:, 4] == 0, 0] += 5  # transpose the pitched notes, not the drums
    names = statistic_names()
    a, b = note_statistics(t), note_statistics(up)
    for k, name in enumerate(names):
        if name.startswith("pitch-class") or "hits" in name:
            assert a[k] == pytest.approx(b[k]), name


def test_the_baseline_sees_no_order(demo_data):
    rng = np.random.default_rng(0)
    for i in range(10):
        x = demo_data.X[i]
        shuffled = x[rng.permutation(len(x))]
        # simultaneous onsets and notes per second depend on the steps' order; the rest must not
        keep = [k for k, n in enumerate(statistic_names()) if n not in ("share of simultaneous onsets", "notes per second")]
        np.testing.assert_allclose(note_statistics(shuffled)[keep], note_statistics(x)[keep], rtol=1e-9, atol=1e-9)


def test_protocols_read_the_first_100_notes_or_the_whole_file(demo_data):
    index = np.array([0, 5, 9])
    tables = demo_data.tables(index)
    first = BaselineVerdict(demo_data.genres, "first100").statistics(tables)
    whole = BaselineVerdict(demo_data.genres, "file").statistics(tables)
    notes = statistic_names().index("notes")
    assert first[:, notes].tolist() == [100] * 3
    assert whole[:, notes].tolist() == demo_data.n_notes[index].tolist()
    np.testing.assert_allclose(whole[1], note_statistics(demo_data.table(5)))
    # the first protocol's statistics are those of the RNN's input, data.X
    np.testing.assert_allclose(first, statistics(list(demo_data.X[index])))
    with pytest.raises(ValueError, match="unknown protocol"):
        BaselineVerdict(demo_data.genres, "all")


def test_baseline_is_seeded_and_finds_the_demo_cues(demo_data):
    split = make_split("group", demo_data.y, demo_data.groups, seed=0)
    train, y_train = demo_data.tables(split.train), demo_data.y[split.train]
    tables, y = demo_data.tables(split.test), demo_data.y[split.test]
    for protocol, cut in (("first100", 100), ("file", None)):
        a = BaselineVerdict(demo_data.genres, protocol, seed=0).fit(train, y_train)
        b = BaselineVerdict(demo_data.genres, protocol, seed=0).fit(train, y_train)
        np.testing.assert_array_equal(a.predict_proba(tables), b.predict_proba(tables))
        m = score([a], tables, y)["baseline"]
        assert m["n"] == len(split.test)
        # held-out groups, chance 0.5: the planted cues are in the per-file statistics
        assert m["accuracy"] >= 0.8
        # the same figures, recomputed by hand
        clf = fit_baseline(np.array([note_statistics(t[:cut]) for t in train]), y_train, seed=0)
        probs = clf.predict_proba(np.array([note_statistics(t[:cut]) for t in tables]))
        assert classification_metrics(probs, y, demo_data.genres) == m
        np.testing.assert_array_equal(probs, predict_all([a], tables)["baseline"])
        assert (a.predict(tables) == probs.argmax(1)).all() and a.classes_ == tuple(demo_data.genres)


def test_balanced_weights_keep_a_small_genre_from_being_drowned_out():
    from sklearn.ensemble import HistGradientBoostingClassifier

    # one genre in ten, told apart by a noisy offset: an unweighted model mostly
    # predicts the big genre, the balanced one finds more of the small one
    rng = np.random.default_rng(0)
    n = 600
    S = rng.normal(0, 1, (n, 48))
    y = (rng.random(n) < 0.1).astype(int)
    S[:, 8] += 0.8 * y
    train, test = np.arange(400), np.arange(400, n)
    clf = BaselineVerdict(("a", "b")).fit([np.zeros((1, 6))] * 2, [0, 1]).model  # the baseline's own classifier
    assert clf.get_params()["class_weight"] == "balanced"
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="openmp"):  # beside TensorFlow's threads OpenMP's spin
        balanced = clf.fit(S[train], y[train]).predict(S[test])
        unweighted = HistGradientBoostingClassifier(random_state=0).fit(S[train], y[train]).predict(S[test])
    small = y[test] == 1
    assert (balanced[small] == 1).mean() > (unweighted[small] == 1).mean()
