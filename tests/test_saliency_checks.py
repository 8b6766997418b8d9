"""Every method's checks on a set of files (genre_lib.saliency_checks.check_methods): the
position-matched chance keeps the positional profile, the paired interval is the
bootstrap of the per-file differences, the stored form round-trips, the check runs on a
small seeded model of the demo corpus, and a map that is exactly right beats the
position-matched chance on a planted model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genre_lib import saliency as S
from genre_lib import saliency_checks as C
from genre_lib.inference import predict_proba
from genre_lib.midi_io import FEATURES
from genre_lib.paths import PROJECT

VELOCITY = FEATURES.index("velocity")


# ---------------------------------------------------------------------------------------
# The position-matched chance
# ---------------------------------------------------------------------------------------


def test_derangement_pairs_every_file_with_another_of_its_group():
    groups = np.array([0, 1, 0, 1, 1, 0, 0, 2, 2])
    p = C.derangement(groups, np.random.default_rng(3))
    assert sorted(p.tolist()) == list(range(len(groups)))  # a permutation
    assert (p != np.arange(len(groups))).all()
    assert (groups[p] == groups).all()
    again = C.derangement(groups, np.random.default_rng(3))
    assert (p == again).all()  # seeded
    with pytest.raises(S.SaliencyError, match="one file"):
        C.derangement(np.array([0, 0, 1]), np.random.default_rng(0))


def test_position_matched_orders_keep_the_positional_profile_and_lose_the_file():
    """Maps that pile up on the last notes plus a file-specific peak: rankings by another
    file's map have, position by position, the same mean rank over files as the maps' own
    (counted here by a plain loop), unlike random orders; and they no longer find each
    file's own peak."""
    rng = np.random.default_rng(0)
    n, notes = 40, 30
    importance = np.tile(np.linspace(0, 1, notes), (n, 1)) + rng.normal(0, 0.05, (n, notes))
    peaks = rng.integers(0, notes, n)
    importance[np.arange(n), peaks] += 5  # the file's own evidence

    def mean_rank_by_position(imp: np.ndarray) -> np.ndarray:
        ranks = np.zeros(notes)
        for row in imp:
            order = sorted(range(notes), key=lambda j: -row[j])
            for r, j in enumerate(order):
                ranks[j] += r
        return ranks / len(imp)

    own = mean_rank_by_position(importance)
    p = C.derangement(np.zeros(n, dtype=int), np.random.default_rng(1))
    matched = mean_rank_by_position(importance[p])
    np.testing.assert_allclose(matched, own)
    assert own[-5:].mean() < own[:5].mean() - 10  # the profile is real: the last notes rank first
    random = mean_rank_by_position(rng.random((n, notes)))
    assert np.abs(random[-5:].mean() - random[:5].mean()) < 5  # random orders have no profile
    top_own = np.argsort(-importance, axis=1)[:, 0]
    top_matched = np.argsort(-importance[p], axis=1)[:, 0]
    assert (top_own == peaks).all() and (top_matched == peaks).mean() < 0.2


def test_pairing_falls_back_to_all_files_for_a_genre_of_one():
    assert (C._pairing_groups(np.array([0, 0, 1, 1])) == [0, 0, 1, 1]).all()
    assert (C._pairing_groups(np.array([0, 0, 0, 1])) == 0).all()


def test_top_overlap_by_hand():
    importance = np.array([[0.0, 5, 1, 4, 3], [9, 8, 7, 6, 5]])
    changed = [np.array([1, 2]), np.array([], dtype=int)]
    out = C._top_overlap(importance, changed)
    assert out[0] == 0.5  # top-2 are notes 1 and 3; of the changed 1 and 2, one is among them
    assert np.isnan(out[1])


# ---------------------------------------------------------------------------------------
# The paired interval
# ---------------------------------------------------------------------------------------


def test_paired_difference_is_the_bootstrap_of_per_file_differences_by_hand():
    method = np.array([0.50, 0.40, 0.70, 0.55, np.nan, 0.30])
    chance = np.array([0.60, 0.45, 0.65, 0.70, 0.50, 0.35])
    d = C.PairedDifference.of(method, chance, lower_is_better=True, seed=7)
    diff = np.array([-0.10, -0.05, 0.05, -0.15, -0.05])  # the NaN file is left out
    rng = np.random.default_rng(7)
    means = []
    for _ in range(2000):
        pick = rng.integers(0, 5, 5)
        means.append(sum(diff[k] for k in pick) / 5)
    means = sorted(means)
    assert d.n == 5
    assert d.difference == pytest.approx(-0.06)
    assert d.method_mean == pytest.approx(np.mean([0.5, 0.4, 0.7, 0.55, 0.3]))
    assert d.share_better == pytest.approx(4 / 5)
    assert d.low == pytest.approx(np.quantile(means, 0.025))
    assert d.high == pytest.approx(np.quantile(means, 0.975))
    assert d.verdict == ("beats" if d.high < 0 else "no difference")
    higher = C.PairedDifference.of(chance, method, lower_is_better=False, seed=7)
    assert higher.share_better == pytest.approx(4 / 5) and higher.verdict == d.verdict


def test_paired_difference_verdicts():
    rng = np.random.default_rng(0)
    base = rng.random(50)
    assert C.PairedDifference.of(base - 0.1, base).verdict == "beats"
    assert C.PairedDifference.of(base + 0.1, base).verdict == "worse"
    assert C.PairedDifference.of(base + rng.normal(0, 0.1, 50), base).verdict == "no difference"
    assert C.PairedDifference.of(base + 0.1, base, lower_is_better=False).verdict == "beats"
    assert C.PairedDifference.of(np.full(3, np.nan), base[:3]).verdict == "no files"


# ---------------------------------------------------------------------------------------
# The check on a small seeded model of the demo corpus
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_checks(demo_run, demo_data):
    test = demo_run.held_out(demo_data.paths)
    pick = np.concatenate([test[demo_data.y[test] == g][:4] for g in range(len(demo_run.genres))])
    seen = np.setdiff1d(np.arange(len(demo_data)), test)
    checks = C.check_methods(demo_run.model, demo_data.X[pick], demo_data.y[pick],
                             ig_baseline=S.mean_baseline(demo_data.X[seen], demo_data.y[seen]),
                             files=tuple(demo_data.paths[i] for i in pick), genres=tuple(demo_run.genres),
                             n_steps=5, n_random=2, seed=0)
    return checks, pick


@pytest.mark.slow
def test_check_methods_on_the_demo_model_gives_every_figure_per_file(demo_checks, demo_run, demo_data):
    checks, pick = demo_checks
    n = len(pick)
    assert checks.n == n and [m.method for m in checks.methods] == list(S.METHODS)
    for m in checks.methods:
        for name in C.MethodCheck._ARRAYS:
            assert getattr(m, name).shape == (n,), (m.method, name)
        assert set(m.deletion) == set(C.CHANCES)
        assert np.isfinite(m.auc).all() and ((0 <= m.auc) & (m.auc <= 1)).all()
        # the no-map chance levels are drawn once for every method
        np.testing.assert_array_equal(m.auc_random, checks.methods[0].auc_random)
        np.testing.assert_array_equal(m.auc_recency, checks.methods[0].auc_recency)
        flipped = checks.flipped
        assert np.isfinite(m.overlap[flipped]).all() and np.isnan(m.overlap[~flipped]).all()
        np.testing.assert_allclose(m.overlap_naive[flipped], checks.notes_changed[flipped] / 100)
    assert checks.method("occlusion").occlusion_spearman == pytest.approx(np.ones(n))
    # two genres: the runner-up is the genre the network (called directly) does not choose
    chosen = np.asarray(demo_run.model(demo_data.X[pick], training=False)).argmax(1)
    np.testing.assert_array_equal(checks.flip_target, 1 - chosen)
    assert checks.flipped.any()
    # the deletion AUCs of the gradient's ranking and of the last notes first, by hand: at 6 points the
    # first notes of the ranking replaced by the model's mean note, p(own genre), trapezoids
    g = checks.method("gradient")
    X, y = demo_data.X[pick], demo_data.y[pick]
    neutral = S.model_baseline(demo_run.model, 100)
    salient = np.argsort(-np.abs(S.Gradient(demo_run.model).explain(X, y).values).sum(-1), axis=1, kind="stable")
    x = np.linspace(0, 1, 6)
    for order, got in ((salient, g.auc), (np.tile(np.arange(100)[::-1], (n, 1)), g.auc_recency)):
        curve = []
        for count in np.round(x * 100).astype(int):
            T = X.copy()
            for i in range(n):
                T[i, order[i, :count]] = neutral[order[i, :count]]
            curve.append(predict_proba(demo_run.model, T)[np.arange(n), y])
        np.testing.assert_allclose(got, np.trapezoid(np.array(curve).T, x, axis=1), atol=1e-6)
    frame = checks.frame()
    assert list(frame.index) == list(S.METHODS) and "map - position-matched [95 %]" in frame
    assert any("position-matched" in line for line in checks.lines())


@pytest.mark.slow
def test_method_checks_round_trip_through_json(demo_checks, tmp_path):
    checks, _ = demo_checks
    checks = C.MethodChecks(**{**{k: getattr(checks, k) for k in checks.__dataclass_fields__},
                               "meta": {"run": "runs/x", "data": {"collection": "demo"}}})
    here = PROJECT / "runs" / "x"
    path = C.save_checks(checks, tmp_path / "checks.json")
    with pytest.raises(FileExistsError):
        C.save_checks(checks, path)
    back = C.load_checks(path)
    assert back.to_dict() == json.loads(path.read_text())
    for a, b in zip(checks.methods, back.methods):
        for name in C.MethodCheck._ARRAYS:
            np.testing.assert_allclose(getattr(b, name), getattr(a, name), atol=1e-6, equal_nan=True)
        assert b.deletion["position"].summary() == a.deletion["position"].summary()
    assert C.stored_for(back, here, "demo", back.files) == ""
    assert "run" in C.stored_for(back, PROJECT / "models" / "x", "demo", back.files)
    assert "collection" in C.stored_for(back, here, "midi", back.files)
    assert "other files" in C.stored_for(back, here, "demo", back.files[1:])
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(S.SaliencyError, match="bad.json"):
        C.load_checks(tmp_path / "bad.json")


# ---------------------------------------------------------------------------------------
# A planted case: a map that is exactly right
# ---------------------------------------------------------------------------------------


def _velocity_model(n_notes: int, weight: float):
    """Two genres, logit(1) - logit(0) = weight * sum over notes of (velocity - 64): a
    model whose exactly right map is each note's velocity above or below 64."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((n_notes, len(FEATURES)))
    z = keras.layers.Dense(2, name="logits")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Softmax(name="probabilities")(z))
    W = np.zeros((n_notes, len(FEATURES), 2), dtype=np.float32)
    W[:, VELOCITY, 1] = weight
    model.get_layer("logits").set_weights([W.reshape(-1, 2), np.array([0.0, -64 * weight * n_notes], np.float32)])
    return model


def test_an_exactly_right_map_beats_the_position_matched_chance():
    """Each file's evidence sits in 5 of its last 40 notes, which also carry weak evidence
    either way (so every map piles up on them, as a recurrent network's maps do on the
    last notes); occlusion of this linear model is exactly each note's contribution. Its deletion AUC must beat random order, the position-matched chance
    and the last notes first, each with a paired interval below 0."""
    rng = np.random.default_rng(0)
    n, notes = 30, 100
    X = np.zeros((n, notes, len(FEATURES)), dtype=np.float32)
    X[:, :, VELOCITY] = 64
    X[:, :, FEATURES.index("step")] = 0.25
    X[:, :, FEATURES.index("pitch")] = 60
    y = np.arange(n) % 2
    for i in range(n):
        # weak evidence either way on every one of the last 40 notes (a positional profile
        # every map shares), strong evidence of the file's genre on 5 of them
        X[i, 60:, VELOCITY] += rng.choice([-1, 1], 40)
        planted = rng.choice(np.arange(60, 100), 5, replace=False)
        X[i, planted, VELOCITY] = 127 if y[i] == 1 else 1
    neutral = X[0, 0].copy()  # a note with velocity 64: no evidence
    model = _velocity_model(notes, 0.012)
    checks = C.check_methods(model, X, y, neutral=neutral, feature_scale=np.ones(len(FEATURES)),
                             methods=("occlusion",), flips=False, n_steps=20, seed=0)
    occ = checks.method("occlusion")
    for chance in C.CHANCES:
        d = occ.deletion[chance]
        assert d.high < 0 and d.verdict == "beats", (chance, d.summary())
    # the planted positions pile up at the end: the position-matched chance does better than random
    assert occ.deletion["position"].chance_mean < occ.deletion["random"].chance_mean
    assert np.isnan(occ.overlap).all()


