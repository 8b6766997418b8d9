"""Training: seeded and reproducible, honest splits, run folders whose numbers check out."""

import json
import shutil

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss
from sklearn.utils.class_weight import compute_class_weight

from genre_lib.baseline import baseline_proba, fit_baseline
from genre_lib.evaluate import predict_proba
from genre_lib.model import ModelConfig
from genre_lib.runs import RUN_FILES, RunError
from genre_lib.splits import make_split
from genre_lib.train import (
    DEMO_RUNS_DIR,
    ITERATIONS,
    MAIN_CONFIG,
    PROJECT_DIR,
    class_weights,
    ensure_run,
    fit,
    study_runs_dir,
    train_run,
)

from .conftest import SHARED_MIDI, TINY_CONFIG, needs_shared

#: smaller still, for the tests that train their own models (a second or two each)
MICRO = ModelConfig(units=8, dense_units=8, epochs=2, patience=2)


@pytest.fixture(scope="module")
def small(demo_data):
    """60 training and 20 validation demo files, both genres on each side."""
    rng = np.random.default_rng(0)
    index = np.concatenate([rng.permutation(np.flatnonzero(demo_data.y == g))[:40] for g in (0, 1)])
    train, val = index[np.arange(len(index)) % 4 != 0], index[np.arange(len(index)) % 4 == 0]
    return demo_data.X[train], demo_data.y[train], demo_data.X[val], demo_data.y[val]


@pytest.fixture(scope="module")
def demo_split(demo_data):
    """The split train_run made for demo_run (group split, seed 0)."""
    return make_split("group", demo_data.y, demo_data.groups, seed=0)


def test_class_weights_match_sklearn_balanced():
    y = np.array([0] * 30 + [1] * 10 + [2] * 5)
    expected = compute_class_weight("balanced", classes=np.arange(3), y=y)
    assert class_weights(y, 3) == pytest.approx(dict(enumerate(expected)))
    # each genre then weighs the same in the loss
    assert len({round(class_weights(y, 3)[g] * (y == g).sum(), 9) for g in range(3)}) == 1
    assert class_weights(np.array([0, 0, 1]), 3)[2] == 0.0, "a genre with no files gets weight 0, not a crash"


def test_same_seed_same_weights_other_seed_other_weights(small):
    def weights(seed):
        model, history = fit(MICRO, *small, n_genres=2, seed=seed)
        return model.get_weights(), history

    a, ha = weights(5)
    b, hb = weights(5)
    c, _ = weights(6)
    assert len(a) == len(b) and all(np.array_equal(p, q) for p, q in zip(a, b))
    assert ha == hb
    assert not all(np.array_equal(p, q) for p, q in zip(a, c))


def test_fit_keeps_the_best_epochs_weights(small):
    X_train, y_train, X_val, y_val = small
    # reversed validation labels: the better the model learns, the worse its validation
    # loss, so the best epoch is an early one and training stops on patience
    y_val = 1 - y_val
    config = ModelConfig(units=8, dense_units=8, epochs=6, patience=2, learning_rate=0.02)
    model, history = fit(config, X_train, y_train, X_val, y_val, n_genres=2, seed=0)
    assert set(history) >= {"loss", "accuracy", "val_loss", "val_accuracy", "best_epoch"}
    assert len(history["loss"]) == len(history["val_loss"]) <= config.epochs
    best = history["best_epoch"]
    assert history["val_loss"][best - 1] == min(history["val_loss"])
    assert best < len(history["val_loss"]) and history["val_loss"][-1] > history["val_loss"][best - 1] + 0.01
    # the returned model is the best epoch's, not the last one's
    loss, _ = model.evaluate(X_val.astype(np.float32), y_val, verbose=0)
    assert loss == pytest.approx(history["val_loss"][best - 1], abs=2e-4)


# --- the demo run (a real trained model, see conftest.demo_run) ---------------------------


def test_run_folder_holds_everything_described_in_run_json(demo_run, demo_data):
    assert all((demo_run.path / f).is_file() for f in RUN_FILES)
    meta = demo_run.meta
    assert meta["format_version"] == 1
    assert demo_run.genres == demo_data.genres == ("electronic", "jazz")
    assert demo_run.config == ModelConfig(**TINY_CONFIG)
    assert meta["data"] == {"folder": demo_data.root.name, "files_used": len(demo_data), "files_skipped": 3}
    split = meta["split"]
    assert split["kind"] == "group" and split["seed"] == 0
    assert split["n_train"] + split["n_val"] + split["n_test"] == len(demo_data)
    assert meta["epochs_trained"] == len(demo_run.history["loss"]) <= TINY_CONFIG["epochs"]


def test_run_split_is_reproducible_and_keeps_groups_apart(demo_run, demo_data, demo_split):
    paths = np.asarray(demo_data.paths)
    assert demo_run.meta["split"]["test_files"] == paths[demo_split.test].tolist()
    groups = np.asarray(demo_data.groups)
    train, val, test = (set(groups[s]) for s in demo_split)
    assert not (train & test) and not (train & val) and not (val & test)
    assert len(demo_split.test) == demo_run.meta["split"]["n_test"]


def test_stored_test_and_val_metrics_recompute_from_the_model(demo_run, demo_data, demo_split):
    for side in ("test", "val"):
        index = getattr(demo_split, side)
        probs = predict_proba(demo_run.model, demo_data.X[index])
        probs_sklearn = probs / probs.sum(1, keepdims=True)  # float32 softmax: sums off by ~1e-7
        y = demo_data.y[index]
        stored = demo_run.metrics[side]
        assert stored["n"] == len(index)
        assert stored["accuracy"] == pytest.approx(accuracy_score(y, probs.argmax(1)))
        assert stored["loss"] == pytest.approx(log_loss(y, probs_sklearn, labels=[0, 1]), abs=1e-5)
    # Keras' own validation loss of the restored epoch agrees with ours
    best = demo_run.history["best_epoch"]
    assert demo_run.metrics["val"]["loss"] == pytest.approx(demo_run.history["val_loss"][best - 1], abs=2e-4)
    wrong = len(demo_split.test) - round(demo_run.metrics["test"]["accuracy"] * len(demo_split.test))
    assert len(demo_run.metrics["misclassified"]) == wrong


def test_stored_baseline_recomputes(demo_run, demo_data, demo_split):
    clf = fit_baseline(demo_data.X[demo_split.train], demo_data.y[demo_split.train], seed=0)
    probs = baseline_proba(clf, demo_data.X[demo_split.test])
    assert demo_run.metrics["baseline"]["accuracy"] == pytest.approx(
        accuracy_score(demo_data.y[demo_split.test], probs.argmax(1)))


def test_the_demo_run_learned_something(demo_run):
    # the demo corpus has planted cues: a real model must find them; chance is 0.5
    assert demo_run.metrics["test"]["accuracy"] >= 0.8
    assert demo_run.history["loss"][-1] < demo_run.history["loss"][0]


# --- refusing to overwrite, and what overwrite does ---------------------------------------


def test_train_run_refuses_an_existing_folder(tmp_path, demo_data):
    out = tmp_path / "run"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="run folder exists"):
        train_run(demo_data, out, config=MICRO)
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


def test_train_run_overwrite_replaces_the_folder_and_stratified_split(tmp_path, demo_data):
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.txt").write_text("old")
    run = train_run(demo_data, out, config=MICRO, split="stratified", seed=1, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(RUN_FILES)
    assert run.meta["split"]["kind"] == "stratified" and run.meta["seed"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary folder left behind"


def test_train_run_needs_two_genres(tmp_path, demo_data):
    one = demo_data.subset(np.flatnonzero(demo_data.y == 0))
    with pytest.raises(ValueError, match="at least two genres"):
        train_run(one, tmp_path / "run", config=MICRO)
    assert not (tmp_path / "run").exists()


# --- study helpers --------------------------------------------------------------------------


def test_ensure_run_loads_an_existing_run_without_training(demo_run, tmp_path):
    run = ensure_run(demo_run.path, data=None)  # no data: training would fail
    assert run.meta == demo_run.meta
    damaged = tmp_path / "damaged"
    shutil.copytree(demo_run.path, damaged)
    meta = json.loads((damaged / "run.json").read_text())
    (damaged / "run.json").write_text(json.dumps({**meta, "format_version": 0}))
    with pytest.raises(RunError, match="format version 0"):
        ensure_run(damaged, data=None)  # not silently retrained


def test_study_runs_dir_names_the_data_folder(demo_dir, tmp_path):
    assert study_runs_dir(None) == study_runs_dir("") == study_runs_dir(demo_dir) == DEMO_RUNS_DIR
    assert study_runs_dir(tmp_path / "midi") == PROJECT_DIR / "runs" / "midi"


def test_iterations_add_one_idea_at_a_time():
    configs = list(ITERATIONS.values())
    assert MAIN_CONFIG is ITERATIONS["4-gru32-augment"]
    assert [n.split("-")[0] for n in ITERATIONS] == [str(i) for i in range(1, len(ITERATIONS) + 1)]
    flags = ("families", "summary", "augment")
    for before, after in zip(configs[:3], configs[1:4]):
        changed = [f for f in flags if getattr(before, f) != getattr(after, f)]
        assert len(changed) == 1 and getattr(after, changed[0]), (before, after)


@needs_shared
def test_group_split_on_the_real_data_keeps_artists_and_sequencers_apart(real_run):
    from genre_lib.dataset import load_dataset

    data = load_dataset(SHARED_MIDI, list(real_run.genres), progress=False)
    split = make_split("group", data.y, data.groups, seed=0)
    groups = np.asarray(data.groups)
    train, val, test = (set(groups[s]) for s in split)
    assert not (train & test) and not (train & val) and not (val & test)
    # the committed model's held-out files are exactly this split's test files
    assert real_run.meta["split"]["test_files"] == [data.paths[i] for i in split.test]
    assert (len(split.train), len(split.val)) == (real_run.meta["split"]["n_train"], real_run.meta["split"]["n_val"])
