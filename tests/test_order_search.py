"""scripts/order_search.py: the folds its longer-window and learning-curve screenings
keep, and its checks of kept networks (the ensemble, the pooled head) on two tiny
networks trained for real on fold 0 of the demo corpus."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from genre_lib.paths import PROJECT

from .conftest import TINY_CONFIG

sys.path.insert(0, str(PROJECT / "scripts"))

import order_search  # noqa: E402



@pytest.fixture(scope="module")
def kept(demo_data, tmp_path_factory):
    """Two tiny networks (weight seeds 0 and 1) on fold 0's training files, kept as
    order_search names them."""
    from genre_lib.configs import ModelConfig
    from genre_lib.splits import group_folds
    from genre_lib.train import fit

    models = tmp_path_factory.mktemp("kept")
    part = group_folds(demo_data.y, demo_data.groups, 5, seed=0)[0]
    for name, seed in (("a", 0), ("b", 1)):
        model, _ = fit(ModelConfig(**TINY_CONFIG, cosine=True), demo_data, part.train, part.val, seed=seed)
        model.save(models / f"{name}-fold0-seed0.keras")
    return models, part


def _window_log_probs(model, data, files) -> np.ndarray:
    """Each file's vote under ``file``, by hand: the windows' logits averaged, then log-softmax."""
    from genre_lib.protocols import FILE_WINDOWS
    from genre_lib.windows import even_windows

    z = model.predict(even_windows(data.tables(files), FILE_WINDOWS)[0], verbose=0)  # softmax outputs
    mean_logit = np.log(np.clip(z, 1e-12, 1)).reshape(len(files), FILE_WINDOWS, -1).mean(axis=1)
    return mean_logit - np.log(np.exp(mean_logit).sum(axis=1, keepdims=True))


@pytest.mark.slow  # trains two networks
def test_the_ensemble_is_the_mean_of_the_members_log_probabilities(kept, demo_data):
    import keras

    models, part = kept
    row = order_search.ensemble_row(["a", "b"], demo_data, 0, 0, models)
    y = demo_data.y[part.test]
    logs = {n: _window_log_probs(keras.models.load_model(models / f"{n}-fold0-seed0.keras"), demo_data, part.test)
            for n in ("a", "b")}
    for n, lp in logs.items():
        assert row["members"][n]["file"] == pytest.approx((lp.argmax(1) == y).mean())
    together = (logs["a"] + logs["b"]) / 2
    assert row["file"]["accuracy"] == pytest.approx((together.argmax(1) == y).mean())
    assert row["n_test"] == len(part.test) and row["candidate"] == "ensemble(a+b)"


@pytest.mark.slow  # trains two networks
def test_the_pooled_head_is_scored_beside_the_networks_own_vote(kept, demo_data):
    import keras

    models, part = kept
    row = order_search.pooled_head_row("a", demo_data, 0, 0, models, strengths=(0.1, 1.0))
    lp = _window_log_probs(keras.models.load_model(models / "a-fold0-seed0.keras"), demo_data, part.test)
    assert row["vote"] == pytest.approx((lp.argmax(1) == demo_data.y[part.test]).mean())
    assert set(row["heads"]) == {"0.1", "1.0"}
    # test accuracies are shares of the fold's test files; the row's figure is the best of them
    n = len(part.test)
    for h in row["heads"].values():
        assert round(h["test"] * n) == pytest.approx(h["test"] * n, abs=1e-9) and 0 <= h["train"] <= 1
    assert row["file"]["accuracy"] == max(h["test"] for h in row["heads"].values())


@pytest.mark.slow  # trains two networks
def test_a_check_of_a_network_that_was_not_kept_names_the_file(kept, demo_data):
    models, _ = kept
    with pytest.raises(SystemExit, match="c-fold0-seed0.keras: no kept network"):
        order_search.ensemble_row(["a", "c"], demo_data, 0, 0, models)


def test_longer_windows_keep_the_folds_files_that_are_long_enough(demo_dir, demo_data):
    from genre_lib.dataset import load_dataset
    from genre_lib.splits import group_folds

    lengths = np.array([len(t) for t in demo_data.tables(np.arange(len(demo_data)))])
    notes = int(np.percentile(lengths, 30))  # long enough to leave some files out
    longer = load_dataset(demo_dir, max_notes=notes, progress=False)
    part = group_folds(demo_data.y, demo_data.groups, 5, seed=0)[0]
    moved, test_here = order_search.same_files(part, demo_data, longer)
    for side, there in zip(part, moved):
        wanted = [demo_data.paths[i] for i in side if lengths[i] >= notes]
        assert [longer.paths[i] for i in there] == wanted and 0 < len(wanted) <= len(side)
    assert [demo_data.paths[i] for i in test_here] == [longer.paths[i] for i in moved.test]
    assert longer.X.shape[1] == notes and len(longer) < len(demo_data)


def test_a_learning_curve_point_keeps_a_seeded_share_of_the_training_groups_and_every_test_file(demo_data):
    from genre_lib.splits import group_folds

    groups = list(demo_data.groups)
    part = group_folds(demo_data.y, demo_data.groups, 5, seed=0)[0]
    half = order_search.fewer_groups(part, groups, 0.5, seed=0)
    assert half.test is part.test and half.val is part.val
    before, after = {groups[i] for i in part.train}, {groups[i] for i in half.train}
    assert after < before and len(after) == round(0.5 * len(before))
    # whole groups: every training file of a kept group stays
    assert sorted(half.train.tolist()) == sorted(i for i in part.train if groups[i] in after)
    assert np.array_equal(order_search.fewer_groups(part, groups, 0.5, seed=0).train, half.train)
    assert not np.array_equal(order_search.fewer_groups(part, groups, 0.5, seed=1).train, half.train)
