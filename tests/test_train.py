"""Training: seeded and reproducible, windows of whole files, honest splits, run folders whose numbers check out."""

import os

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss
from sklearn.utils.class_weight import compute_class_weight

from genre_lib.dataset import DataError
from genre_lib.inference import predict_proba
from genre_lib.metrics import classification_metrics
from genre_lib.verdicts import BaselineVerdict, RNNVerdict
from genre_lib.windows import even_windows
from genre_lib.configs import ModelConfig
from genre_lib.runs import BASELINE_FILE, FORMAT_VERSION, RUN_FILES
from genre_lib.splits import make_split
from genre_lib.train import VAL_WINDOWS, class_weights, fit, train_run, training_windows

from .conftest import SHARED_MIDI, TINY_CONFIG, needs_shared

#: smaller still, for the tests that train their own models (a second or two each)
MICRO = ModelConfig(units=8, dense_units=8, epochs=2, patience=2)


@pytest.fixture(scope="module")
def small(demo_data):
    """60 training and 20 validation demo files, both genres on each side."""
    rng = np.random.default_rng(0)
    index = np.concatenate([rng.permutation(np.flatnonzero(demo_data.y == g))[:40] for g in (0, 1)])
    return index[np.arange(len(index)) % 4 != 0], index[np.arange(len(index)) % 4 == 0]


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


def test_training_windows_are_the_first_100_notes_or_windows_of_every_file(demo_data, small):
    train, _ = small
    X, y = training_windows(demo_data, train, 1, seed=0)
    assert np.array_equal(X, demo_data.X[train]) and np.array_equal(y, demo_data.y[train])
    X, y = training_windows(demo_data, train, 3, seed=0)
    assert X.shape == (3 * len(train), 100, 6)
    assert np.array_equal(y, np.repeat(demo_data.y[train], 3)), "every file gives the same number of windows"
    assert np.array_equal(X[::3], demo_data.X[train]), "each file's first window is the study's input"
    again, _ = training_windows(demo_data, train, 3, seed=0)
    other, _ = training_windows(demo_data, train, 3, seed=1)
    assert np.array_equal(X, again) and not np.array_equal(X, other)


@pytest.mark.slow
def test_same_seed_same_weights_other_seed_other_weights(demo_data, small):
    config = MICRO.replace(windows=3)

    def weights(seed):
        model, history = fit(config, demo_data, *small, seed=seed)
        return model.get_weights(), history

    a, ha = weights(5)
    b, hb = weights(5)
    c, _ = weights(6)
    assert len(a) == len(b) and all(np.array_equal(p, q) for p, q in zip(a, b))
    assert ha == hb
    assert not all(np.array_equal(p, q) for p, q in zip(a, c))


@pytest.mark.slow
def test_fit_keeps_the_best_epochs_weights(demo_data, small):
    train, val = small
    # reversed validation labels: the better the model learns, the worse its validation
    # accuracy, so the best epoch is an early one and training stops on patience
    flipped = demo_data.subset(np.arange(len(demo_data)))
    flipped.y[val] = 1 - flipped.y[val]
    config = ModelConfig(units=8, dense_units=8, epochs=8, patience=2, learning_rate=0.02, windows=2)
    model, history = fit(config, flipped, train, val, seed=0)
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy", "best_epoch"}
    assert len(history["loss"]) == len(history["val_loss"]) <= config.epochs
    best = history["best_epoch"]
    assert history["val_accuracy"][best - 1] == max(history["val_accuracy"])
    assert best < len(history["val_accuracy"])
    # the returned model is the best epoch's, not the last one's: its validation
    # accuracy (a vote of VAL_WINDOWS windows per file) is the best epoch's
    probs = RNNVerdict(model, flipped.genres, "file", VAL_WINDOWS).predict_proba(flipped.tables(val))
    assert accuracy_score(flipped.y[val], probs.argmax(1)) == pytest.approx(history["val_accuracy"][best - 1], abs=1e-4)


@pytest.mark.slow
def test_cosine_schedule_trains_every_epoch_and_keeps_the_last(demo_data, small):
    config = ModelConfig(units=8, dense_units=8, epochs=3, patience=1, windows=2, cosine=True)
    model, history = fit(config, demo_data, *small, seed=0)
    assert len(history["loss"]) == 3 == history["best_epoch"], "no early stopping with the cosine schedule"
    # the learning rate of the last epoch was the cosine's: lr * (1 + cos(2 pi / 3)) / 2
    assert float(model.optimizer.learning_rate) == pytest.approx(config.learning_rate * 0.25, rel=1e-5)


# --- the demo run (a real trained model, see conftest.demo_run) ---------------------------


def test_run_folder_holds_everything_described_in_run_json(demo_run, demo_data):
    assert all((demo_run.path / f).is_file() for f in RUN_FILES)
    meta = demo_run.meta
    assert meta["format_version"] == FORMAT_VERSION
    assert demo_run.genres == demo_data.genres == ("electronic", "jazz")
    assert demo_run.config == ModelConfig(**TINY_CONFIG)
    assert meta["data"] == {"folder": demo_data.root.name, "collection": "demo", "genres": ["electronic", "jazz"],
                            "files": len(demo_data), "files_skipped": 3, "groups": len(set(demo_data.groups))}
    assert meta["file_windows"] == 16 and meta["trained_on"].count("-") == 2
    import tensorflow as tf

    # the machine it was trained on, read independently of genre_lib.machine
    assert meta["machine"]["versions"]["tensorflow"] == tf.__version__
    assert meta["machine"]["cores"] == os.cpu_count()
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


def test_stored_metrics_recompute_from_the_model_under_both_protocols(demo_run, demo_data, demo_split):
    k = demo_run.meta["file_windows"]
    for side, block in (("test", "rnn"), ("val", "val")):
        index = getattr(demo_split, side)
        y = demo_data.y[index]
        stored = demo_run.metrics[block]
        W, _ = even_windows(demo_data.tables(index), k)
        window_probs = predict_proba(demo_run.model, W).reshape(len(index), k, -1)
        vote = np.exp(np.log(window_probs).mean(1))
        by_protocol = {"first100": predict_proba(demo_run.model, demo_data.X[index]),
                       "file": vote / vote.sum(1, keepdims=True)}
        for protocol, probs in by_protocol.items():
            m = stored["protocols"][protocol]
            assert m["n"] == len(index)
            assert m["accuracy"] == pytest.approx(accuracy_score(y, probs.argmax(1)))
            assert m["loss"] == pytest.approx(log_loss(y, probs / probs.sum(1, keepdims=True), labels=[0, 1]), abs=1e-4)
    # the history's validation accuracy of the epoch kept is the kept model's, recomputed
    # (the demo run trains on the first 100 notes, so it validates on them)
    best = demo_run.history["best_epoch"]
    val = accuracy_score(demo_data.y[demo_split.val], predict_proba(demo_run.model, demo_data.X[demo_split.val]).argmax(1))
    assert demo_run.history["val_accuracy"][best - 1] == pytest.approx(val, abs=1e-5)
    wrong = len(demo_split.test) - round(demo_run.metrics["rnn"]["accuracy"] * len(demo_split.test))
    assert len(demo_run.metrics["misclassified"]) == wrong


def test_stored_baseline_recomputes(demo_run, demo_data, demo_split):
    train = demo_data.tables(demo_split.train)
    tables, y = demo_data.tables(demo_split.test), demo_data.y[demo_split.test]
    stored = demo_run.metrics["baseline"]
    # the baseline saved in the run folder is the one that was scored, and a refit gives it again
    assert demo_run.baselines is not None and demo_run.baseline_problem == ""
    for protocol in ("first100", "file"):
        fitted = BaselineVerdict(demo_data.genres, protocol, seed=0).fit(train, demo_data.y[demo_split.train])
        probs = fitted.predict_proba(tables)
        np.testing.assert_array_equal(demo_run.verdict("baseline", protocol).predict_proba(tables), probs)
        assert classification_metrics(probs, y, demo_data.genres) == stored["protocols"][protocol]


def test_stored_combined_verdict_recomputes(demo_run, demo_data, demo_split):
    tables, y = demo_data.tables(demo_split.test), demo_data.y[demo_split.test]
    stored = demo_run.metrics["combined"]
    for protocol in ("first100", "file"):
        rnn, base, combined = (v.predict_proba(tables) for v in demo_run.verdicts(protocol))
        # independently: the normalised geometric mean of the two verdicts
        geo = np.sqrt(rnn * base)
        np.testing.assert_allclose(combined, geo / geo.sum(1, keepdims=True), rtol=1e-5, atol=1e-6)
        m = classification_metrics(combined, y, demo_data.genres)
        assert m["accuracy"] == stored["protocols"][protocol]["accuracy"]
        assert m["loss"] == pytest.approx(stored["protocols"][protocol]["loss"], rel=1e-5)


def test_stored_probes_recompute(demo_run, demo_data, demo_split):
    from genre_lib.probes import KEPT_PROBES, order_and_top_attribute, probe_verdict

    stored = demo_run.metrics["probes"]
    assert {(r["probe"], r["protocol"]) for r in stored} == {(p, q) for p in KEPT_PROBES for q in ("first100", "file")}
    again = probe_verdict(demo_run.verdict("rnn", "file"), demo_data.tables(demo_split.test),
                          demo_data.y[demo_split.test], ["shuffle"], repeats=1, seed=0)[0]
    mine = next(r for r in stored if (r["probe"], r["protocol"]) == ("shuffle", "file"))
    assert mine == again.to_dict()
    assert order_and_top_attribute(stored, "file")["order effect"] == again.effect


def test_the_demo_run_learned_something(demo_run):
    # the demo corpus has planted cues: a real model must find them; chance is 0.5
    for protocol in ("first100", "file"):
        assert demo_run.metrics["rnn"]["protocols"][protocol]["accuracy"] >= 0.8
    assert demo_run.history["loss"][-1] < demo_run.history["loss"][0]


# --- refusing to overwrite, and what overwrite does ---------------------------------------


def test_train_run_refuses_an_existing_folder(tmp_path, demo_data):
    out = tmp_path / "run"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="run folder exists"):
        train_run(demo_data, out, config=MICRO)
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


@pytest.mark.slow
def test_train_run_overwrite_replaces_the_folder_and_stratified_split(tmp_path, demo_data):
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.txt").write_text("old")
    run = train_run(demo_data, out, config=MICRO, split="stratified", seed=1, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(RUN_FILES + (BASELINE_FILE,))
    assert run.meta["split"]["kind"] == "stratified" and run.meta["seed"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary folder left behind"


def test_train_run_needs_two_genres(tmp_path, demo_data):
    one = demo_data.subset(np.flatnonzero(demo_data.y == 0))
    with pytest.raises(DataError, match="at least two genres"):
        train_run(one, tmp_path / "run", config=MICRO)
    assert not (tmp_path / "run").exists()


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
