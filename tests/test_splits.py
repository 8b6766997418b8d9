"""Seeded splits: determinism, no group on two sides, genre balance."""

import numpy as np
import pytest

from genre_lib.splits import group_folds, group_split, make_split, stratified_split


def _labels_and_groups(n_groups: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 12, n_groups)
    groups = np.repeat([f"g{i}" for i in range(n_groups)], sizes)
    y = np.repeat(np.arange(n_groups) % 2, sizes)  # each artist plays one genre
    return y, groups


def test_group_split_keeps_each_group_on_one_side():
    y, groups = _labels_and_groups()
    split = group_split(y, groups, seed=3)
    sides = [set(groups[s]) for s in split]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    assert sorted(np.concatenate(split)) == list(range(len(y)))
    for s in split:
        assert set(y[s]) == {0, 1}, "both genres on every side"
    assert 0.1 < len(split.test) / len(y) < 0.35


def test_splits_are_deterministic_per_seed():
    y, groups = _labels_and_groups()
    for kind in ("group", "stratified"):
        a = make_split(kind, y, groups, seed=1)
        b = make_split(kind, y, groups, seed=1)
        c = make_split(kind, y, groups, seed=2)
        assert all(np.array_equal(p, q) for p, q in zip(a, b))
        assert not all(np.array_equal(p, q) for p, q in zip(a, c))


def test_stratified_split_keeps_genre_shares():
    y = np.array([0] * 300 + [1] * 100)
    split = stratified_split(y, test_size=0.2, val_size=0.1, seed=0)
    assert len(split.test) == 80 and len(split.val) == 40
    assert abs(y[split.test].mean() - 0.25) < 0.02


def test_unknown_split_kind():
    with pytest.raises(ValueError, match="unknown split kind 'random'"):
        make_split("random", np.zeros(4), ["a"] * 4)


def test_group_folds_test_every_file_once_and_keep_groups_apart():
    y, groups = _labels_and_groups()
    folds = group_folds(y, groups, n_folds=5, seed=0)
    assert len(folds) == 5
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested) == list(range(len(y))), "every file is a test file exactly once"
    for f in folds:
        sides = [set(groups[s]) for s in f]
        assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
        assert sorted(np.concatenate(f)) == list(range(len(y)))
        assert 0.04 < len(f.val) / len(y) < 0.2
    again = group_folds(y, groups, n_folds=5, seed=0)
    assert all(np.array_equal(a.test, b.test) and np.array_equal(a.val, b.val) for a, b in zip(folds, again))
