"""Figures draw what they say: one rectangle per note, drums below, highlights outlined."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PatchCollection

from genre_lib.midi_io import DRUM, PITCH
from genre_lib.plots import plot_feature_distributions, plot_piano_roll

from .conftest import _table


def _patches(ax) -> PatchCollection:
    (collection,) = [c for c in ax.collections if isinstance(c, PatchCollection)]
    return collection


def test_piano_roll_draws_every_note_with_drums_below_pitched_notes():
    table = _table(100, seed=5)
    ax = plot_piano_roll(table)
    patches = _patches(ax)
    assert len(patches.get_paths()) == 100
    ys = np.array([(p.vertices[:, 1].min() + p.vertices[:, 1].max()) / 2 for p in patches.get_paths()])
    drum = table[:, DRUM] >= 0.5
    assert ys[drum].max() < table[~drum, PITCH].min()
    np.testing.assert_allclose(ys[~drum], table[~drum, PITCH], atol=1e-6)
    plt.close("all")


def test_piano_roll_colours_by_value_and_outlines_highlights():
    table = _table(50, seed=6)
    values = np.linspace(-1, 1, 50)
    highlight = np.zeros(50, bool)
    highlight[[3, 7]] = True
    ax = plot_piano_roll(table, values=values, highlight=highlight)
    patches = _patches(ax)
    widths = patches.get_linewidths()
    assert np.count_nonzero(widths) == 2
    faces = patches.get_facecolors()
    assert not np.allclose(faces[0], faces[-1])  # most negative and most positive differ
    plt.close("all")


def test_feature_distributions_one_panel_per_feature():
    X = np.stack([_table(100, seed=s) for s in range(6)])
    axes = plot_feature_distributions(X, np.array([0, 1] * 3), ("a", "b"))
    assert [ax.get_title().split(" ")[0] for ax in axes if ax.get_visible()] == [
        "pitch", "step", "duration", "velocity", "drum", "program"
    ]
    plt.close("all")


def test_windows_shade_the_time_each_window_covers():
    from genre_lib.midi_io import onsets
    from genre_lib.plots import plot_windows
    from genre_lib.windows import even_starts

    table = _table(400, seed=3)
    starts = even_starts(len(table), 4)
    ax = plot_windows(table, starts, title="t")
    bands = [p for p in ax.patches]
    assert len(bands) == 4
    t = onsets(table)
    for band, s in zip(bands, starts):
        assert band.get_x() == pytest.approx(t[s])
    # every note is a dot: pitched and drum notes together
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(table)
    assert ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "MIDI pitch" and ax.get_title() == "t"
    plt.close(ax.figure)
