"""Saliency: real gradients of a real small trained model checked against finite
differences, the identities of each method, the sanity and faithfulness checks, and
the ``saliency`` / ``saliency-check`` commands."""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest

from genre_lib import saliency as S
from genre_lib import saliency_checks as C
from genre_lib.inference import logits, predict_proba
from genre_lib.midi_io import FEATURES
from genre_lib.splits import make_split

from .conftest import SHARED_MIDI, needs_shared

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
    return C.clone_model(trained.model, dtype="float64")


@pytest.fixture(scope="session")
def baseline(trained) -> np.ndarray:
    return S.mean_baseline(trained.X_train, trained.y_train)


# ---------------------------------------------------------------------------------------
# Methods
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session", params=["demo", "real"])
def fd_case(request):
    """(the model, its float64 copy) for the demo run and the committed real model."""
    case = request.getfixturevalue("trained" if request.param == "demo" else "real")
    return case, C.clone_model(case.model, dtype="float64")


def test_gradient_equals_finite_difference_of_the_target_logit(fd_case):
    trained, model64 = fd_case
    x = trained.X[0].astype(np.float64)
    target = int(trained.y[0])
    grad = S.attribute(model64, x, target, method="gradient")
    assert grad.shape == x.shape and grad.dtype == np.float64
    std = S.feature_std(trained.model)
    # The model is smooth except at a few kinks: the per-file max and min of each
    # column (NoteSummary; tied values share the gradient) and a step or duration of
    # exactly 0 (clipped before log1p). Test entries away from those, where a central
    # difference is the derivative: every smooth feature of the last note, plus the
    # largest smooth entries elsewhere.
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
    for i, j in entries:
        # step h: a millionth of the feature's spread. In float64 the truncation error
        # (~h^2 f''') and the round-off (~1e-16 |logit| / h) are then both below 1e-8
        # of the gradient, so 1e-5 relative (+ tiny absolute) tolerance is generous.
        h = 1e-6 * std[j]
        up, down = x.copy(), x.copy()
        up[i, j] += h
        down[i, j] -= h
        fd = (logits(model64, up)[0, target] - logits(model64, down)[0, target]) / (2 * h)
        assert fd == pytest.approx(grad[i, j], rel=1e-5, abs=1e-9 * np.abs(grad).max()), (i, FEATURES[j])


def test_float32_gradient_matches_float64(trained, model64):
    g32 = S.attribute(trained.model, trained.X[:4], trained.y[:4])
    g64 = S.attribute(model64, trained.X[:4].astype(np.float64), trained.y[:4])
    assert g32.dtype == np.float32
    # float32 keeps ~7 digits; through 100 recurrent steps a relative error of 1e-3 of
    # the map's scale is ample. A file's extreme values of a column (the per-file max and
    # min the model summarizes) share their gradient among ties, and float32 rounding
    # can change what ties: compare the entries off the extremes.
    X = trained.X[:4].astype(np.float64)
    lo, hi = X.min(axis=1, keepdims=True), X.max(axis=1, keepdims=True)
    margin = 1e-4 * np.maximum(hi - lo, 1e-9)
    off = (X > lo + margin) & (X < hi - margin)
    assert off.mean() > 0.5
    np.testing.assert_allclose(g32[off], g64[off], rtol=0, atol=1e-3 * np.abs(g64).max())


def test_gradient_is_of_the_logit_layer(trained):
    """The map is the gradient of the pre-softmax "logits" output (an independent tape),
    not of the saturating probability."""
    import tensorflow as tf

    from genre_lib.model import logits_model

    x = tf.constant(trained.X[:3])
    t = trained.y[:3]
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = logits_model(trained.model)(x)
        chosen = tf.reduce_sum(tf.gather(z, t, axis=1, batch_dims=1))
    expected = tape.gradient(chosen, x).numpy()
    np.testing.assert_allclose(S.attribute(trained.model, trained.X[:3], t), expected, rtol=1e-5, atol=1e-9)


def test_gradxinput_is_gradient_times_input(trained):
    X, y = trained.X[:5], trained.y[:5]
    np.testing.assert_allclose(
        S.attribute(trained.model, X, y, method="gradxinput"), S.attribute(trained.model, X, y) * X, rtol=1e-6
    )


def test_integrated_gradients_completeness(trained, baseline):
    X, y = trained.X[:6], trained.y[:6]
    # enough steps for the Riemann sum: on the demo model of corpus v2, 32 steps left
    # gaps of about 0.01 on logit differences of about 0.02 (the check is relative)
    attr = S.attribute(trained.model, X, y, method="ig", baseline=baseline, steps=128)
    gap = S.ig_completeness_gap(trained.model, X, y, attr, baseline)
    # the path starts at the stated baseline with each note's own instrument (ig_baseline)
    b = S.ig_baseline(baseline, X)
    np.testing.assert_array_equal(b[..., FEATURES.index("program")], X[..., FEATURES.index("program")])
    np.testing.assert_array_equal(np.delete(b, FEATURES.index("program"), -1)[0], np.delete(baseline, FEATURES.index("program"), -1))
    diff = logits(trained.model, X)[np.arange(6), y] - logits(trained.model, b)[np.arange(6), y]
    np.testing.assert_allclose(attr.sum(axis=(1, 2)), diff, rtol=0.03, atol=1e-3)
    assert np.abs(gap).max() < 0.03
    with pytest.raises(S.SaliencyError, match="baseline"):
        S.attribute(trained.model, X, y, method="ig")


def test_mean_baseline_is_genre_balanced_and_near_neutral(trained, baseline):
    assert baseline.shape == trained.X.shape[1:]
    p = predict_proba(trained.model, baseline)[0]
    # not a claim that the model is undecided there, only that it is no extreme file
    assert p.max() < 0.95


def test_smoothgrad_is_deterministic_per_seed(trained):
    X, y = trained.X[:3], trained.y[:3]
    a = S.attribute(trained.model, X, y, method="smoothgrad", n_samples=8, seed=1)
    b = S.attribute(trained.model, X, y, method="smoothgrad", n_samples=8, seed=1)
    c = S.attribute(trained.model, X, y, method="smoothgrad", n_samples=8, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # zero noise is the plain gradient
    np.testing.assert_allclose(
        S.attribute(trained.model, X, y, method="smoothgrad", n_samples=2, noise=0.0),
        S.attribute(trained.model, X, y), rtol=1e-5, atol=1e-9,
    )


@pytest.mark.parametrize("method", S.METHODS)
def test_batch_form_equals_single_file_form(trained, baseline, method):
    X, y = trained.X[:5], trained.y[:5]
    kwargs = {"baseline": baseline, "steps": 8} if method == "ig" else {"n_samples": 4} if method == "smoothgrad" else {}
    batch = S.attribute(trained.model, X, y, method=method, **kwargs)
    for i in (0, 3):
        single = S.attribute(trained.model, X[i], int(y[i]), method=method, **kwargs)
        assert single.shape == X[i].shape
        # a different batch size may change float32 summation order, nothing more
        np.testing.assert_allclose(single, batch[i], rtol=1e-4, atol=1e-6 * np.abs(batch[i]).max())


def test_bad_arguments_raise_clear_errors(trained):
    with pytest.raises(S.SaliencyError, match="unknown saliency method"):
        S.attribute(trained.model, trained.X[:1], 0, method="lrp")
    with pytest.raises(S.SaliencyError, match="targets"):
        S.attribute(trained.model, trained.X[:3], [0, 1])
    with pytest.raises(S.SaliencyError, match="out of range"):
        S.attribute(trained.model, trained.X[:1], 7)


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
    g = S.attribute(trained.model, trained.X[:2], trained.y[:2])
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
    result = C.randomization_check(trained.model, trained.X[:8], trained.y[:8], method="gradient")
    for a, b in zip(before, trained.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(predict_proba(trained.model, trained.X[:4]), p_before)
    n_learned = len(C._learned_layers(trained.model))
    assert result.spearman.shape == (n_learned, 8)
    assert result.stages[0] == ["logits"] and len(result.stages[-1]) == n_learned
    # the correlation falls as layers are destroyed; the signed maps lose their pattern
    # (the |map| keeps the recurrent network's fading-with-distance profile, which a
    # random GRU shares: see the module docs and the saliency-check report)
    assert result.mean[-1] < result.mean[0]
    assert np.nanmean(result.spearman_signed[-1]) < 0.5


def test_randomization_check_can_compare_raw_maps(trained):
    """``scaled=False`` compares the gradients in their own units, i.e. with every
    feature scale 1."""
    X, y = trained.X[:6], trained.y[:6]
    raw = C.randomization_check(trained.model, X, y, seed=3, scaled=False)
    ones = C.randomization_check(trained.model, X, y, seed=3, feature_scale=np.ones(X.shape[-1]))
    np.testing.assert_allclose(raw.spearman, ones.spearman, rtol=1e-6)
    shown = C.randomization_check(trained.model, X, y, seed=3)
    assert not np.allclose(raw.spearman, shown.spearman)


def test_clone_model_copies_weights_and_normalization(trained):
    copy = C.clone_model(trained.model)
    np.testing.assert_allclose(logits(copy, trained.X[:3]), logits(trained.model, trained.X[:3]), rtol=1e-5)


def test_deletion_curve_shape_and_first_point(trained, baseline):
    X, y = trained.X[:6], trained.y[:6]
    attr = S.scale_by_feature_std(S.attribute(trained.model, X, y), S.feature_std(trained.model))
    result = C.deletion_curve(trained.model, X, y, attr, baseline, n_steps=10, seed=0)
    assert result.salient.shape == result.random.shape == (6, 11)
    np.testing.assert_allclose(result.x, np.linspace(0, 1, 11))
    p0 = predict_proba(trained.model, X)[np.arange(6), y]
    np.testing.assert_allclose(result.salient[:, 0], p0, rtol=1e-5)
    np.testing.assert_allclose(result.random[:, 0], p0, rtol=1e-5)
    # everything replaced: both curves end at the neutral table's probability
    pb = predict_proba(trained.model, baseline)[0][y]
    np.testing.assert_allclose(result.salient[:, -1], pb, rtol=1e-5)
    np.testing.assert_allclose(result.random[:, -1], pb, rtol=1e-5)
    assert ((0 <= result.auc_salient) & (result.auc_salient <= 1)).all()
    again = C.deletion_curve(trained.model, X, y, attr, baseline, n_steps=10, seed=0)
    np.testing.assert_array_equal(again.random, result.random)


@needs_shared
def test_real_model_maps_depend_on_its_weights_and_find_deletable_notes(real):
    """The issue's bars on the committed model and real held-out files (a sample here;
    `genre-lib saliency-check models/jazz-electronic ../shared/midi --split test` runs
    all of them)."""
    std = S.feature_std(real.model)
    rand = C.randomization_check(real.model, real.X, real.y, seed=0, feature_scale=std)
    assert rand.fully_randomized < 0.5
    # SmoothGrad passes too; gradient x input and IG do not (about 0.8 and 0.7: the
    # input factor both models share, see randomization_check), so they are not asserted
    smooth = C.randomization_check(real.model, real.X, real.y, method="smoothgrad", seed=0, feature_scale=std, n_samples=8)
    assert smooth.fully_randomized < 0.5
    attr = S.comparable(S.attribute(real.model, real.X, real.y), "gradient", std)[0]
    curve = C.deletion_curve(real.model, real.X, real.y, attr, S.model_baseline(real.model, real.X.shape[1]), seed=0)
    summary = curve.summary()
    assert summary["deletion_auc"] < summary["random_deletion_auc"]


def test_planted_cue_share_against_chance():
    attr = np.zeros((2, 10, 6))
    attr[:, :2, 0] = 1.0  # all attribution on notes 0 and 1
    tables = np.zeros((2, 10, 6))
    out = C.planted_cue_share(attr, tables, lambda t: np.arange(len(t)) < 4)
    assert out["mean_share"] == pytest.approx(1.0)
    assert out["mean_chance"] == pytest.approx(0.4)
    assert out["lift"] == pytest.approx(2.5)


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------


@pytest.fixture
def run_dir(trained) -> Path:
    """A run folder the ``saliency`` commands load (the demo run)."""
    return trained.run_dir


def test_cli_saliency_json_keys(trained, run_dir, capsys):
    from genre_lib.cli import main

    assert main(["saliency", str(run_dir), str(trained.files[0]), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("file", "predicted", "probabilities", "method", "features", "map"):
        assert key in out
    assert out["method"] == "gradient" and out["predicted"] in trained.genres
    assert np.asarray(out["map"]).shape == (100, len(out["features"]))
    assert sum(out["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


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


def test_cli_saliency_check_json_keys(trained, run_dir, tmp_path, capsys):
    from genre_lib.cli import main

    data = tmp_path / "data"
    for path, label in zip(trained.files, trained.y):
        dest = data / trained.genres[label] / Path(path).name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(Path(path).read_bytes())
    assert main(["saliency-check", str(run_dir), str(data), "--max-files", "6", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("randomization_spearman", "deletion_auc", "random_deletion_auc", "n"):
        assert key in out
    assert out["n"] == 6


@needs_shared
def test_cli_saliency_check_on_the_real_runs_held_out_files(real_run, capsys):
    from genre_lib.cli import main

    from .conftest import REAL_RUN

    assert main(["saliency-check", str(REAL_RUN), str(SHARED_MIDI), "--split", "test", "--max-files", "6", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 6 and out["files"] == "test"
    assert 0 <= out["deletion_auc"] <= 1 and 0 <= out["random_deletion_auc"] <= 1
    assert [s["randomized"][-1] for s in out["randomization_stages"]] == [l.name for l in C._learned_layers(real_run.model)]


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

    from genre_lib.plots import plot_genre_saliency, plot_saliency_heatmap, plot_saliency_roll

    attr = S.comparable(S.attribute(trained.model, trained.X, trained.y), "gradient", S.feature_std(trained.model))[0]
    ax = plot_saliency_heatmap(attr[0], FEATURES)
    image = ax.get_images()[0]
    assert image.get_array().shape == (len(FEATURES), trained.X.shape[1])
    assert image.norm.vmin == -image.norm.vmax  # diverging, centred on 0
    ax = plot_saliency_roll(trained.X[0], attr[0], top=5)
    assert len(ax.collections[0].get_paths()) == trained.X.shape[1]
    axes = plot_genre_saliency(attr, trained.y, trained.genres)
    assert len(axes[1].get_lines()) == len(set(trained.y.tolist()))
    plt.close("all")


def test_planted_cues_get_more_than_their_share_on_the_demo_corpus(trained, demo_data):
    """On the generated corpus the genre cues are known: the model trained on it should
    put more |gradient| on the cue notes than their share of the notes."""
    from genre_lib.demo import planted_cue_mask

    X, y = demo_data.X, demo_data.y
    attr = S.scale_by_feature_std(S.attribute(trained.model, X, y), S.feature_std(trained.model))
    out = C.planted_cue_share(attr, X, planted_cue_mask)
    assert out["n"] > 0 and 0 < out["mean_chance"] < 1
    assert out["mean_share"] > out["mean_chance"]


def test_saliency_explorer_redraws_for_the_chosen_file_and_method(trained, baseline):
    from genre_lib.dataset import load_file
    from genre_lib.widgets import render_saliency, saliency_explorer

    box = saliency_explorer(trained.model, trained.files[:3], trained.genres, baseline)
    first_png, first_line = box.image.value, box.summary
    assert bytes(first_png[:4]) == b"\x89PNG" and first_line.startswith("gradient: predicted")
    box.method.value = "ig"
    assert box.summary.startswith("ig: predicted") and box.image.value != first_png
    _, expected = render_saliency(trained.model, load_file(trained.files[0]), "ig", trained.genres, baseline)
    assert box.summary == expected
    box.file.value = str(trained.files[2])
    _, expected = render_saliency(trained.model, load_file(trained.files[2]), "ig", trained.genres, baseline)
    assert box.summary == expected and box.summary in box.text.value
