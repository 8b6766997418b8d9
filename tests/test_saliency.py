"""Saliency: every method against an independent computation (weights of a linear model
by hand, finite differences, an explicit deletion loop, the noisy copies averaged by
hand), IG's completeness, what a gradient cannot see and occlusion can, the checks, and
the ``saliency`` / ``saliency-check`` commands. Real inputs throughout: demo-corpus
files, small seeded models, the committed model on its held-out files where
../shared/midi is present."""

from __future__ import annotations

import dataclasses
import json
import types
from pathlib import Path

import numpy as np
import pytest

from genre_lib import saliency as S
from genre_lib import saliency_checks as C
from genre_lib.inference import logits, objective_value, predict_proba
from genre_lib.midi_io import FEATURES
from genre_lib.model import clone_model, learned_layers
from genre_lib.splits import make_split

from .conftest import SHARED_MIDI, needs_shared

PITCH, PROGRAM = FEATURES.index("pitch"), FEATURES.index("program")


class Trained(types.SimpleNamespace):
    """model, genres, X_train, y_train, X (held-out files), y, run_dir (a run folder),
    files (held-out MIDI paths)."""


def _held_out(run, data, n_per_genre: int = 8) -> Trained:
    """A run's model with its training files and a few of the test files its split held
    out (``meta["split"]["test_files"]``)."""
    is_test = np.zeros(len(data), dtype=bool)
    is_test[run.held_out(data.paths)] = True
    assert is_test.sum() == len(run.meta["split"]["test_files"]), "some of the run's test files are missing from the data folder"
    # the training files (for the baseline and the feature scales) come from the same
    # seeded split; it must give back exactly the stored test files
    split = make_split(run.meta["split"]["kind"], data.y, data.groups, seed=run.meta["split"]["seed"])
    assert set(split.test.tolist()) == set(np.flatnonzero(is_test).tolist())
    test = np.concatenate([np.flatnonzero(is_test & (data.y == g))[:n_per_genre] for g in range(len(data.genres))])
    return Trained(model=run.model, genres=run.genres, X_train=data.X[split.train], y_train=data.y[split.train],
                   X=data.X[test], y=data.y[test], run_dir=run.path, files=[data.root / data.paths[i] for i in test])


@pytest.fixture(scope="session")
def trained(demo_run, demo_data) -> Trained:
    """The small GRU trained on the demo corpus, with its held-out files."""
    return _held_out(demo_run, demo_data)


@pytest.fixture(scope="session")
def real(real_run) -> Trained:
    """The committed real-data model with real files it never saw."""
    from genre_lib.dataset import load_dataset

    if not SHARED_MIDI.is_dir():
        pytest.skip(f"real data not found at {SHARED_MIDI}")
    return _held_out(real_run, load_dataset(SHARED_MIDI, list(real_run.genres), progress=False))


@pytest.fixture(scope="session")
def model64(trained):
    """The same model computing in float64, for finite differences without float32
    round-off."""
    return clone_model(trained.model, dtype="float64")


@pytest.fixture(scope="session")
def baseline(trained) -> np.ndarray:
    return S.mean_baseline(trained.X_train, trained.y_train)


def _linear_model(n_notes: int, n_genres: int, seed: int = 0):
    """logits = flatten(x) @ W + b, then a softmax: a model whose every map is known by
    hand (gradient = a column mix of W; IG and occlusion = (x - b) * gradient)."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((n_notes, len(FEATURES)))
    z = keras.layers.Dense(n_genres, name="logits")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Softmax(name="probabilities")(z))
    W = np.random.default_rng(seed).normal(0, 0.01, (n_notes * len(FEATURES), n_genres)).astype(np.float32)
    model.get_layer("logits").set_weights([W, np.arange(n_genres, dtype=np.float32)])
    return model, W.astype(np.float64)


def _by_hand_output_weights(W: np.ndarray, t: int, output: str, shape) -> np.ndarray:
    """d output / d x of the linear model, per entry."""
    w = W[:, t] - (np.delete(W, t, axis=1).mean(axis=1) if output == "logit_diff" else 0)
    return w.reshape(shape)


# ---------------------------------------------------------------------------------------
# What is explained
# ---------------------------------------------------------------------------------------


def test_objective_value_is_the_logit_difference_by_hand():
    z = np.array([[1.0, 4.0, -2.0], [0.5, 0.5, 3.0]])
    t = np.array([1, 0])
    np.testing.assert_allclose(objective_value(z, t, "logit_diff"), [4 - (1 - 2) / 2, 0.5 - (0.5 + 3) / 2])
    np.testing.assert_allclose(objective_value(z, t, "logit"), [4.0, 0.5])
    np.testing.assert_allclose(objective_value(z, t, "margin"), [3.0, -2.5])
    # with two genres the difference is the log odds
    two = np.array([[0.3, 2.0]])
    assert objective_value(two, 1, "logit_diff")[0] == pytest.approx(np.log(np.exp(2.0) / np.exp(0.3)))
    assert S.describe_output("logit_diff", ["jazz", "electronic"], 1) == \
        "the electronic logit minus the jazz logit (the log odds of electronic)"


@pytest.mark.parametrize("output", S.OUTPUTS)
def test_gradient_of_a_linear_model_is_its_weights(demo_data, output):
    model, W = _linear_model(100, 3)
    X, t = demo_data.X[:4], np.array([0, 1, 2, 1])
    g = S.Gradient(model, output).attribute(X, t)
    for i in range(4):
        np.testing.assert_allclose(g[i], _by_hand_output_weights(W, t[i], output, X.shape[1:]), rtol=1e-5, atol=1e-9)
    # no categories inside this model: nothing is beyond a gradient's reach
    assert S.Gradient(model).unattributed == ()


def test_gradient_equals_finite_difference_of_the_explained_output(trained, model64):
    _finite_difference_check(trained, model64)


@needs_shared
@pytest.mark.real_data
@pytest.mark.slow
def test_gradient_equals_finite_difference_on_the_committed_model(real):
    _finite_difference_check(real, clone_model(real.model, dtype="float64"))


def _finite_difference_check(trained, model64) -> None:
    x = trained.X[0].astype(np.float64)
    target = int(trained.y[0])
    grad = S.Gradient(model64).attribute(x, target)
    assert grad.shape == x.shape and grad.dtype == np.float64
    std = S.feature_std(trained.model)

    # The model is smooth except at a few kinks: the per-file max and min of each
    # column (NoteSummary; tied values share the gradient), a step or duration of
    # exactly 0 (clipped before log1p) and the steps of the categories (a pitch or
    # program moved by h stays in its class). Test entries away from those.
    def smooth(i: int, j: int) -> bool:
        col, margin = x[:, j], 10 * 1e-6 * std[j]  # well beyond the difference step h
        inside = col.min() + margin < x[i, j] < col.max() - margin
        return inside and not (FEATURES[j] in ("step", "duration") and x[i, j] <= margin)

    entries = [(len(x) - 1, j) for j in range(len(FEATURES)) if smooth(len(x) - 1, j) and grad[-1, j] != 0]
    for flat in np.argsort(-np.abs(grad).ravel()):
        i, j = (int(v) for v in np.unravel_index(flat, grad.shape))
        if len(entries) >= 10:
            break
        if smooth(i, j) and (i, j) not in entries:
            entries.append((i, j))
    assert len(entries) >= 6

    def out(table):
        return objective_value(logits(model64, table), target, "logit_diff")[0]

    for i, j in entries:
        # step h: a millionth of the feature's spread. In float64 the truncation error
        # (~h^2 f''') and the round-off (~1e-16 |output| / h) are both below 1e-8 of
        # the gradient, so 1e-5 relative (+ tiny absolute) tolerance is generous.
        h = 1e-6 * std[j]
        up, down = x.copy(), x.copy()
        up[i, j] += h
        down[i, j] -= h
        fd = (out(up) - out(down)) / (2 * h)
        assert fd == pytest.approx(grad[i, j], rel=1e-5, abs=1e-9 * np.abs(grad).max()), (i, FEATURES[j])


def test_float32_gradient_matches_float64(trained, model64):
    g32 = S.Gradient(trained.model).attribute(trained.X[:4], trained.y[:4])
    g64 = S.Gradient(model64).attribute(trained.X[:4].astype(np.float64), trained.y[:4])
    assert g32.dtype == np.float32
    # float32 keeps ~7 digits; through 100 recurrent steps a relative error of 1e-3 of
    # the map's scale is ample. A file's extreme values of a column share their
    # gradient among ties, and float32 rounding can change what ties: compare the
    # entries off the extremes.
    X = trained.X[:4].astype(np.float64)
    lo, hi = X.min(axis=1, keepdims=True), X.max(axis=1, keepdims=True)
    margin = 1e-4 * np.maximum(hi - lo, 1e-9)
    off = (X > lo + margin) & (X < hi - margin)
    assert off.mean() > 0.5
    np.testing.assert_allclose(g32[off], g64[off], rtol=0, atol=1e-3 * np.abs(g64).max())


@pytest.mark.parametrize("output", S.OUTPUTS)
def test_gradient_is_of_the_pre_softmax_output(trained, output):
    """An independent tape on the ``logits`` layer: the logit, or the logit minus the
    other genre's (two genres: the mean of the others is the other)."""
    import tensorflow as tf

    from genre_lib.model import logits_model

    x = tf.constant(trained.X[:3])
    t = trained.y[:3]
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = logits_model(trained.model)(x)
        chosen = tf.gather(z, t, axis=1, batch_dims=1)
        value = chosen - (tf.gather(z, 1 - t, axis=1, batch_dims=1) if output == "logit_diff" else 0.0)
        total = tf.reduce_sum(value)
    expected = tape.gradient(total, x).numpy()
    np.testing.assert_allclose(S.Gradient(trained.model, output).attribute(trained.X[:3], t), expected,
                               rtol=1e-5, atol=1e-9)


def test_gradxinput_is_gradient_times_input(trained):
    X, y = trained.X[:5], trained.y[:5]
    np.testing.assert_allclose(S.GradientTimesInput(trained.model).attribute(X, y),
                               S.Gradient(trained.model).attribute(X, y) * X, rtol=1e-6)


# ---------------------------------------------------------------------------------------
# Integrated Gradients
# ---------------------------------------------------------------------------------------


def test_ig_and_occlusion_of_a_linear_model_are_exact(demo_data):
    """For a linear output, IG is (x - b) * w whatever the number of steps, and deleting
    note i drops the output by sum over features of (x_i - b_i) * w_i."""
    model, W = _linear_model(100, 2)
    X, t = demo_data.X[:3], np.array([0, 1, 1])
    b = S.mean_baseline(demo_data.X, demo_data.y)
    ig = S.IntegratedGradients(model).attribute(X, t, baseline=b, steps=2)
    occ = S.Occlusion(model).attribute(X, t, baseline=b)
    for i in range(3):
        contribution = (X[i] - b) * _by_hand_output_weights(W, t[i], "logit_diff", X.shape[1:])
        np.testing.assert_allclose(ig[i], contribution, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(occ[i, :, 0], contribution.sum(axis=1), rtol=1e-3, atol=1e-5)


def test_integrated_gradients_completeness_on_the_demo_model(trained, baseline):
    X, y = trained.X[:6], trained.y[:6]
    ig = S.IntegratedGradients(trained.model)
    smap = ig.explain(X, y, baseline=baseline)
    # the path starts at the stated baseline with each note's own instrument: the demo
    # model turns the program into a family, a step function of it
    assert ig.fixed_columns == ("program",)
    b = ig.path_start(baseline, X)
    np.testing.assert_array_equal(b[..., PROGRAM], X[..., PROGRAM])
    np.testing.assert_array_equal(np.delete(b, PROGRAM, -1)[0], np.delete(baseline, PROGRAM, -1))
    # completeness by hand: the sums against the explained output's difference
    out = objective_value(logits(trained.model, X), y, "logit_diff") - objective_value(logits(trained.model, b), y, "logit_diff")
    np.testing.assert_allclose(smap.raw.sum(axis=(1, 2)), out, rtol=S.COMPLETENESS_TOLERANCE, atol=S.COMPLETENESS_FLOOR)
    np.testing.assert_allclose(smap.completeness.difference, out, rtol=1e-6)
    assert smap.complete and smap.completeness.passes.all()
    assert any("program" in item for item in smap.unattributed)


@needs_shared
@pytest.mark.real_data
@pytest.mark.slow
def test_ig_passes_completeness_on_the_committed_model_only_with_pitch_kept(real):
    """The committed model turns the pitch into a pitch class and a drum sound: a path
    along which the pitch moves jumps where no gradient sees it, so its sums miss the
    logit difference; with the file's own pitch and program on the path they add up."""
    ig = S.IntegratedGradients(real.model)
    assert ig.fixed_columns == ("pitch", "program")
    kept = ig.explain(real.X, real.y)
    assert kept.complete, kept.completeness.summary()

    class ProgramOnly(S.IntegratedGradients):  # the path the previous version took
        fixed_columns = ("program",)

    moved = ProgramOnly(real.model).explain(real.X, real.y)
    assert moved.completeness.passes.mean() < 0.5
    assert np.median(np.abs(moved.completeness.gap)) > 20 * np.median(np.abs(kept.completeness.gap))


def test_mean_baseline_is_genre_balanced_and_near_neutral(trained, baseline):
    assert baseline.shape == trained.X.shape[1:]
    p = predict_proba(trained.model, baseline)[0]
    # not a claim that the model is undecided there, only that it is no extreme file
    assert p.max() < 0.95


# ---------------------------------------------------------------------------------------
# Occlusion and what a gradient cannot see
# ---------------------------------------------------------------------------------------


def test_occlusion_equals_an_explicit_deletion_loop(trained, baseline):
    X, y = trained.X[:2], trained.y[:2]
    occ = S.Occlusion(trained.model).attribute(X, y, baseline=baseline)
    assert occ.shape == (2, X.shape[1], 1)
    for f in range(2):
        z = logits(trained.model, X[f])[0]
        before = z[y[f]] - z[1 - y[f]]
        for i in range(X.shape[1]):
            table = X[f].copy()
            table[i] = baseline[i]
            z = logits(trained.model, table)[0]
            assert occ[f, i, 0] == pytest.approx(before - (z[y[f]] - z[1 - y[f]]), abs=1e-5)


@pytest.fixture(scope="session")
def category_model(demo_data):
    """An untrained, seeded model that reads pitch and program only as categories (pitch
    class, drum sound, program family): the numeric pitch and program columns are left
    out of what its recurrent layer reads."""
    from genre_lib.configs import ModelConfig
    from genre_lib.model import build_model

    config = ModelConfig(columns=("step", "duration", "velocity", "drum"), pitch_classes=True, drum_sounds=True,
                         families=True, units=8, dense_units=8, augment=False)
    return build_model(config, demo_data.X, 2, seed=0)


@pytest.mark.slow
def test_occlusion_attributes_the_categories_a_gradient_cannot_see(category_model, demo_data):
    X = demo_data.X[:3]
    gradient = S.Gradient(category_model).explain(X, 0)
    # the pitch and the program reach this model only through step functions
    assert (gradient.raw[..., PITCH] == 0).all() and (gradient.raw[..., PROGRAM] == 0).all()
    assert np.abs(gradient.raw).sum() > 0
    assert {item.split(" (")[0] for item in gradient.unattributed} == {"program family", "pitch class", "drum sound"}
    # yet the pitch matters: a pitched note moved by a semitone changes the output ...
    f = 0
    pitched = np.flatnonzero(X[f, :, FEATURES.index("drum")] == 0)
    moved = X[f].copy()
    moved[pitched[-1], PITCH] += 1
    z0, z1 = logits(category_model, X[f])[0], logits(category_model, moved)[0]
    assert abs((z1[0] - z1[1]) - (z0[0] - z0[1])) > 1e-4
    # ... and occlusion, which replaces the whole note, scores the notes, and scores
    # two notes that differ only in their pitch class differently
    occlusion = S.Occlusion(category_model).explain(X, 0)
    assert occlusion.unattributed == () and occlusion.features == ("note",)
    assert (np.abs(occlusion.raw) > 1e-6).mean() > 0.5
    other = S.Occlusion(category_model).attribute(moved, 0)
    assert abs(other[pitched[-1], 0] - occlusion.raw[f, pitched[-1], 0]) > 1e-5


# ---------------------------------------------------------------------------------------
# SmoothGrad
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("inner", ["gradient", "ig", "occlusion"])
def test_smoothgrad_without_noise_is_the_wrapped_method(trained, baseline, inner):
    X, y = trained.X[:3], trained.y[:3]
    method = S.method_named(inner, trained.model)
    options = {"baseline": baseline} if method.uses_baseline else {}
    if inner == "ig":
        options["steps"] = 8
    smooth = S.SmoothGrad(method, n=3, sigma=0.0, seed=0)
    assert smooth.name == ("smoothgrad" if inner == "gradient" else f"smoothgrad-{inner}")
    expected = method.attribute(X, y, **options)
    # float32: occlusion differences two outputs computed in batches of other sizes
    np.testing.assert_allclose(smooth.attribute(X, y, **options), expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_smoothgrad_is_the_mean_over_seeded_noisy_copies(trained):
    X, y = trained.X[:2], trained.y[:2]
    gradient = S.Gradient(trained.model)
    smooth = S.SmoothGrad(gradient, n=4, sigma=0.2, seed=7)
    std = S.feature_std(trained.model)
    noise = np.random.default_rng(7).standard_normal((4, *X.shape[1:])) * 0.2 * std
    by_hand = np.mean([gradient.attribute(X + e.astype(np.float32), y) for e in noise], axis=0)
    np.testing.assert_allclose(smooth.attribute(X, y), by_hand, rtol=1e-4, atol=1e-6 * np.abs(by_hand).max())
    np.testing.assert_array_equal(smooth.attribute(X, y), S.SmoothGrad(gradient, n=4, sigma=0.2, seed=7).attribute(X, y))
    assert not np.allclose(smooth.attribute(X, y), S.SmoothGrad(gradient, n=4, sigma=0.2, seed=8).attribute(X, y))


# ---------------------------------------------------------------------------------------
# Every method
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", S.METHODS)
def test_batch_form_equals_single_file_form(trained, baseline, name):
    X, y = trained.X[:5], trained.y[:5]
    method = S.method_named(name, trained.model)
    options = {"baseline": baseline} if method.uses_baseline else {}
    if name == "ig":
        options["steps"] = 8
    if name == "smoothgrad":
        method = S.SmoothGrad(S.Gradient(trained.model), n=4)
    batch = method.attribute(X, y, **options)
    assert batch.shape == (5, X.shape[1], len(method.features))
    for i in (0, 3):
        single = method.attribute(X[i], int(y[i]), **options)
        assert single.shape == batch[i].shape
        # a different batch size may change float32 summation order, nothing more
        np.testing.assert_allclose(single, batch[i], rtol=1e-4, atol=1e-6 * np.abs(batch[i]).max())


def test_explain_gives_the_map_as_shown_with_what_it_explains(trained, baseline):
    x = trained.X[0]
    std = S.feature_std(trained.model)
    smap = S.Gradient(trained.model).explain(x)
    p = predict_proba(trained.model, x)[0]
    assert smap.target == int(p.argmax()) and smap.output == "logit_diff" and smap.complete is None
    np.testing.assert_allclose(smap.probs, p)
    np.testing.assert_allclose(smap.values, smap.raw * std.astype(np.float32), rtol=1e-6)
    assert smap.unit == "logit difference change per 1-std change"
    assert S.Gradient(trained.model, "logit").explain(x).unit == "logit change per 1-std change"
    ig = S.IntegratedGradients(trained.model).explain(x, 1, baseline=baseline, steps=16)
    np.testing.assert_array_equal(ig.values, ig.raw)  # contributions: shown as they are
    assert ig.reference.startswith("the given baseline table") and ig.complete is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        smap.method = "other"


@pytest.mark.parametrize("name", ["gradient", "ig", "occlusion"])
def test_to_dict_is_json_and_says_what_is_explained(trained, name):
    smap = S.method_named(name, trained.model).explain(trained.X[0], 0)
    d = json.loads(json.dumps(smap.to_dict(trained.genres)))
    assert d["method"] == name and d["target"] == trained.genres[0] and d["output"] == "logit_diff"
    assert d["explained"].startswith(f"the {trained.genres[0]} logit minus the {trained.genres[1]} logit")
    assert np.asarray(d["map"]).shape == (100, len(d["features"]))
    np.testing.assert_allclose(d["map_scaled"], smap.values, atol=1e-6)
    assert (d["completeness"] is not None) == (name == "ig")
    assert (d["baseline"] is None) == (name == "gradient")
    if name == "ig":
        assert d["completeness"]["passes"] == bool(smap.completeness.passes[0])
    with pytest.raises(S.SaliencyError, match="one file"):
        S.Gradient(trained.model).explain(trained.X[:2]).to_dict(trained.genres)


def test_bad_arguments_raise_clear_errors(trained):
    model, X = trained.model, trained.X
    with pytest.raises(S.SaliencyError, match="unknown saliency method 'lrp'"):
        S.method_named("lrp", model)
    with pytest.raises(S.SaliencyError, match="unknown explained output"):
        S.Gradient(model, output="probability")
    with pytest.raises(S.SaliencyError, match="targets"):
        S.Gradient(model).attribute(X[:3], [0, 1])
    with pytest.raises(S.SaliencyError, match="out of range"):
        S.Gradient(model).attribute(X[:1], 7)
    with pytest.raises(S.SaliencyError, match="steps"):
        S.IntegratedGradients(model).attribute(X[:1], 0, steps=0)
    with pytest.raises(S.SaliencyError, match="n >= 1"):
        S.SmoothGrad(S.Gradient(model), n=0)
    with pytest.raises(S.SaliencyError, match="does not fit"):
        S.Occlusion(model).attribute(X[:1], 0, baseline=np.zeros((7, 6)))


def test_scale_by_feature_std_and_note_importance(trained):
    std = S.feature_std(trained.model)
    # linear columns: the std of the training notes; step and duration (log1p inside
    # the model): the delta-method std at the mean of log1p(seconds)
    notes = trained.X_train.reshape(-1, trained.X_train.shape[-1]).astype(np.float64)
    expected = notes.std(axis=0)
    for j in (FEATURES.index("step"), FEATURES.index("duration")):
        logged = np.log1p(notes[:, j])
        expected[j] = logged.std() * np.exp(logged.mean())
    np.testing.assert_allclose(std, expected, rtol=1e-3)
    g = S.Gradient(trained.model).attribute(trained.X[:2], trained.y[:2])
    scaled = S.scale_by_feature_std(g, std)
    np.testing.assert_allclose(scaled, g * std.astype(np.float32), rtol=1e-6)
    imp = S.note_importance(scaled)
    assert imp.shape == (2, trained.X.shape[1])
    np.testing.assert_allclose(imp, np.abs(scaled).sum(-1), rtol=1e-6)


# ---------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------


def test_randomization_check_leaves_the_model_alone_and_decorrelates(trained):
    before = [w.copy() for w in trained.model.get_weights()]
    p_before = predict_proba(trained.model, trained.X[:4])
    result = C.randomization_check(S.Gradient(trained.model), trained.X[:8], trained.y[:8])
    for a, b in zip(before, trained.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(predict_proba(trained.model, trained.X[:4]), p_before)
    n_learned = len(learned_layers(trained.model))
    assert result.spearman.shape == (n_learned, 8)
    assert result.stages[0] == ("logits",) and len(result.stages[-1]) == n_learned
    # the correlation falls as layers are destroyed; the signed maps lose their pattern
    assert result.mean[-1] < result.mean[0]
    assert result.fully_randomized_signed < 0.5
    assert result.fully_randomized == pytest.approx(np.nanmean(result.spearman[-1]))


@pytest.mark.slow
def test_randomization_check_can_compare_raw_maps(trained):
    """``scaled=False`` compares the gradients in their own units, i.e. with every
    feature scale 1."""
    X, y = trained.X[:6], trained.y[:6]
    gradient = S.Gradient(trained.model)
    raw = C.randomization_check(gradient, X, y, seed=3, scaled=False)
    ones = C.randomization_check(gradient, X, y, seed=3, feature_scale=np.ones(X.shape[-1]))
    np.testing.assert_allclose(raw.spearman, ones.spearman, rtol=1e-6)
    shown = C.randomization_check(gradient, X, y, seed=3)
    assert not np.allclose(raw.spearman, shown.spearman)


def test_clone_model_copies_weights_and_normalization(trained):
    copy = clone_model(trained.model)
    np.testing.assert_allclose(logits(copy, trained.X[:3]), logits(trained.model, trained.X[:3]), rtol=1e-5)


def test_check_results_are_frozen_with_read_only_figures():
    rho = np.array([0.9, 0.6, np.nan])
    result = C.AgreementResult(rho, np.array([0.5, 0.25, 0.0]), 4, 0.04)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.mean_spearman = 0.0
    with pytest.raises(ValueError, match="read-only"):
        result.spearman[0] = 0.0
    rho[0] = 0.0  # the caller's array is the caller's: the result keeps its copy
    assert result.spearman[0] == 0.9 and result.mean_spearman == pytest.approx(0.75)
    rand = C.RandomizationResult("gradient", "cascade", (("logits",),), np.array([[0.2, 0.4]]), np.array([[0.1, np.nan]]))
    assert rand.fully_randomized == pytest.approx(0.3) and rand.fully_randomized_signed == pytest.approx(0.1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rand.method = "ig"


def test_agreement_is_rank_correlation_and_top_k_overlap_by_hand():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 20, 6))
    ref = rng.normal(size=(3, 20, 1))
    out = C.agreement(a, ref, k=5)
    ia, ir = np.abs(a).sum(-1), np.abs(ref).sum(-1)
    for f in range(3):
        assert out.spearman[f] == pytest.approx(spearmanr(ia[f], ir[f]).statistic)
        common = set(np.argsort(-ia[f])[:5]) & set(np.argsort(-ir[f])[:5])
        assert out.top_overlap[f] == pytest.approx(len(common) / 5)
    assert out.chance == 0.25
    assert C.agreement(ref, ref, k=5).mean_spearman == pytest.approx(1.0)


@needs_shared
@pytest.mark.real_data
@pytest.mark.slow
def test_real_model_maps_depend_on_its_weights(real):
    """The randomization bar on the committed model and real held-out files (a sample
    here; `genre-lib saliency-check models/jazz-electronic ../shared/midi --split test
    --max-files 0` runs all of them)."""
    std = S.feature_std(real.model)
    assert C.randomization_check(S.Gradient(real.model), real.X, real.y, feature_scale=std).fully_randomized < 0.5
    smooth = S.SmoothGrad(S.Gradient(real.model), n=8)
    assert C.randomization_check(smooth, real.X, real.y, feature_scale=std).fully_randomized < 0.5


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------


@pytest.fixture
def run_dir(trained) -> Path:
    """A run folder the ``saliency`` commands load (the demo run)."""
    return trained.run_dir


@pytest.mark.parametrize("name", ["gradient", "occlusion"])
def test_cli_saliency_json_is_the_maps_to_dict(trained, run_dir, capsys, name):
    from genre_lib.cli import main

    assert main(["saliency", str(run_dir), str(trained.files[0]), "--method", name, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    from genre_lib.dataset import load_file

    expected = S.method_named(name, trained.model).explain(load_file(trained.files[0])).to_dict(trained.genres)
    assert out["file"] == str(trained.files[0]) and out["out"] is None
    assert {k: v for k, v in out.items() if k not in ("file", "out")}.keys() == expected.keys()
    assert out["method"] == name and out["predicted"] == expected["predicted"] and out["explained"] == expected["explained"]
    np.testing.assert_allclose(out["map"], expected["map"], atol=1e-5)
    assert sum(out["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.slow
def test_cli_saliency_can_explain_one_logit(trained, run_dir, capsys):
    from genre_lib.cli import main

    assert main(["saliency", str(run_dir), str(trained.files[0]), "--output", "logit", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["output"] == "logit" and out["map_units"] == "logit per feature unit"
    assert main(["saliency", str(run_dir), str(trained.files[0]), "--method", "ig"]) == 0
    text = capsys.readouterr().out
    assert "completeness: the map sums to" in text and "gets no attribution: program" in text


def test_cli_saliency_out_refuses_to_overwrite(trained, run_dir, tmp_path, capsys):
    from genre_lib.cli import main

    png = tmp_path / "map.png"
    assert main(["saliency", str(run_dir), str(trained.files[0]), "--out", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    png.write_bytes(b"mine")
    capsys.readouterr()
    assert main(["saliency", str(run_dir), str(trained.files[0]), "--out", str(png)]) == 2
    assert "already exists" in capsys.readouterr().err and png.read_bytes() == b"mine"
    assert main(["saliency", str(run_dir), str(trained.files[0]), "--out", str(png), "--overwrite"]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_saliency_names_an_unusable_file(run_dir, tmp_path, capsys):
    from genre_lib.cli import main

    bad = tmp_path / "notes.mid"
    bad.write_text("not midi")
    assert main(["saliency", str(run_dir), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "notes.mid" in err and "not a MIDI file" in err


@pytest.mark.slow
def test_cli_saliency_check_json_keys(trained, run_dir, tmp_path, capsys):
    from genre_lib.cli import main

    data = tmp_path / "data"
    for path, label in zip(trained.files, trained.y):
        dest = data / trained.genres[label] / Path(path).name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(Path(path).read_bytes())
    assert main(["saliency-check", str(run_dir), str(data), "--max-files", "6", "--method", "ig", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ig = out["methods"]["ig"]
    assert out["n"] == 6 and list(out["methods"]) == ["ig"] and out["flips_tried"] == 0
    assert set(ig["deletion"]) == {"random", "position", "recency"} and ig["complete"] in (True, False)
    assert main(["saliency-check", str(run_dir), str(data), "--max-files", "6"]) == 0
    assert "Spearman with occlusion" in capsys.readouterr().out


@needs_shared
@pytest.mark.real_data
@pytest.mark.slow
def test_cli_saliency_check_on_the_real_runs_held_out_files(real_run, capsys):
    from genre_lib.cli import main

    from .conftest import REAL_RUN

    assert main(["saliency-check", str(REAL_RUN), str(SHARED_MIDI), "--split", "test", "--max-files", "6", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 6 and out["files"] == "test"
    gradient = out["methods"]["gradient"]
    assert 0 <= gradient["deletion_auc"] <= 1 and 0 <= gradient["deletion"]["random"]["chance"] <= 1


def test_cli_saliency_check_split_test_needs_the_runs_files(real_run, demo_dir, capsys):
    from genre_lib.cli import main

    from .conftest import REAL_RUN

    assert main(["saliency-check", str(REAL_RUN), str(demo_dir), "--split", "test", "--json"]) == 2
    assert "held-out test files" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------


def test_saliency_plots_draw(trained):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from genre_lib.plots import plot_saliency_heatmap, plot_saliency_roll

    attr = S.Gradient(trained.model).explain(trained.X, trained.y).values
    ax = plot_saliency_heatmap(attr[0], FEATURES)
    image = ax.get_images()[0]
    assert image.get_array().shape == (len(FEATURES), trained.X.shape[1])
    assert image.norm.vmin == -image.norm.vmax  # diverging, centred on 0
    ax = plot_saliency_roll(trained.X[0], attr[0], top=5)
    assert len(ax.collections[0].get_paths()) == trained.X.shape[1]
    plt.close("all")


def test_saliency_explorer_redraws_for_the_chosen_file_and_method(trained, baseline):
    from genre_lib.dataset import load_file
    from genre_lib.widgets import render_saliency, saliency_explorer

    box = saliency_explorer(trained.model, trained.files[:3], trained.genres, baseline)
    first_png, first_line = box.image.value, box.summary
    assert bytes(first_png[:4]) == b"\x89PNG" and first_line.startswith("gradient: predicted")
    assert list(box.method.options) == list(S.METHODS)
    box.method.value = "ig"
    assert box.summary.startswith("ig: predicted") and box.image.value != first_png
    _, expected = render_saliency(trained.model, load_file(trained.files[0]), "ig", trained.genres, baseline)
    assert box.summary == expected
    box.file.value = str(trained.files[2])
    _, expected = render_saliency(trained.model, load_file(trained.files[2]), "ig", trained.genres, baseline)
    assert box.summary == expected and box.summary in box.text.value
    box.method.value = "occlusion"
    assert box.summary.startswith("occlusion: predicted") and "(note)" not in box.summary


