"""Windows: where they start, what they hold, and that a dataset cuts them from whole files."""

import numpy as np
import pytest

from genre_lib.midi_io import STEP, read_midi
from genre_lib.windows import cut_windows, even_starts, even_windows, random_starts, random_windows

from .conftest import _table


def test_even_starts_span_the_file_from_first_note_to_last_full_window():
    starts = even_starts(1000, 4)
    assert starts.tolist() == [0, 300, 600, 900]
    assert even_starts(100, 3).tolist() == [0, 0, 0], "a 100-note file has one window, repeated"
    assert even_starts(250, 1).tolist() == [0], "one window is the study's: the first 100 notes"
    assert np.all(np.diff(even_starts(5000, 16)) >= 0)


def test_random_starts_begin_with_the_files_start_are_seeded_and_fit():
    a = random_starts(500, 50, np.random.default_rng(3))
    b = random_starts(500, 50, np.random.default_rng(3))
    c = random_starts(500, 50, np.random.default_rng(4))
    assert a[0] == 0 and np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.min() >= 0 and a.max() <= 400 and len(np.unique(a)) > 20


@pytest.mark.parametrize("bad", [dict(n_notes=99, k=2), dict(n_notes=200, k=0)])
def test_too_short_or_no_window_is_an_error(bad):
    with pytest.raises(ValueError):
        even_starts(bad["n_notes"], bad["k"])


def test_a_window_is_the_notes_it_covers_with_a_first_step_of_zero():
    table = _table(300, seed=1)
    windows = cut_windows(table, np.array([0, 37, 200]))
    assert windows.shape == (3, 100, table.shape[1]) and windows.dtype == np.float32
    np.testing.assert_array_equal(windows[0], table[:100]), "the first window is the file's start, unchanged"
    for w, s in zip(windows, (0, 37, 200)):
        assert w[0, STEP] == 0
        np.testing.assert_array_equal(w[1:], table[s + 1:s + 100])
        np.testing.assert_array_equal(np.delete(w[0], STEP), np.delete(table[s], STEP))
    with pytest.raises(ValueError, match="do not fit"):
        cut_windows(table, np.array([201]))


def test_windows_of_many_tables_name_their_table():
    tables = [_table(150, seed=2), _table(400, seed=3)]
    W, owner = even_windows(tables, 5)
    assert W.shape == (10, 100, 6) and owner.tolist() == [0] * 5 + [1] * 5
    np.testing.assert_array_equal(W[9, 1:], tables[1][301:400])
    W, owner = random_windows(tables, 3, np.random.default_rng(0))
    assert W.shape == (6, 100, 6) and owner.tolist() == [0, 0, 0, 1, 1, 1]


def test_dataset_keeps_whole_files_and_cuts_windows_from_them(demo_data, demo_dir):
    i = 7
    table = demo_data.table(i)
    # an independent re-parse of the file gives the same whole table
    np.testing.assert_array_equal(table, read_midi(demo_dir / demo_data.paths[i]))
    assert len(table) == demo_data.n_notes[i] > 100
    np.testing.assert_array_equal(demo_data.X[i], table[:100])
    W, owner = even_windows([table, demo_data.table(3)], 4)
    assert owner.tolist() == [0] * 4 + [1] * 4
    np.testing.assert_array_equal(W[0], demo_data.X[i])
    np.testing.assert_array_equal(W[3, 1:], table[-99:])
    A, owner_a = demo_data.random_windows(6, seed=5, index=[i, 3])
    B, _ = demo_data.random_windows(6, seed=5, index=[i, 3])
    assert np.array_equal(A, B) and owner_a.tolist() == [i] * 6 + [3] * 6


def test_onto_table_adds_each_windows_map_back_where_it_was_cut():
    from genre_lib.windows import onto_table

    maps = np.ones((2, 4, 6))
    out = onto_table(maps, np.array([0, 3]), 8)
    expected = np.zeros((8, 6))
    expected[0:4] += 1
    expected[3:7] += 1
    expected[0, STEP] -= 1  # each window's first step is its own 0, not the table's
    expected[3, STEP] -= 1
    np.testing.assert_array_equal(out, expected)
