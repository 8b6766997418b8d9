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


def _labels_of(ax) -> tuple[str, str]:
    return ax.get_xlabel(), ax.get_ylabel()


def _colorbar_labels(fig) -> list[str]:
    """The labels of a figure's colour bars (the axes a colorbar draws into)."""
    return [ax.get_ylabel() for ax in fig.axes if hasattr(ax, "_colorbar")]


def test_piano_roll_labels_its_axes_and_its_colour_bar():
    table = _table(30, seed=2)
    ax = plot_piano_roll(table, values=np.linspace(-1, 1, 30), values_label="saliency (logit)")
    assert _labels_of(ax) == ("time from the first note (s)", "MIDI pitch (drums below ---)")
    assert _colorbar_labels(ax.figure) == ["saliency (logit)"]
    plt.close("all")


def test_flip_note_map_shares_one_time_axis_and_has_a_legend_of_the_changed_notes():
    from matplotlib.colors import to_rgba

    from genre_lib.midi_io import STEP
    from genre_lib.plots import FLIP_COLOR, plot_flip

    original = _table(40, seed=4)
    modified = original.copy()
    modified[[5, 30], STEP] += 0.5  # two retimed notes: everything after them moves
    axes = plot_flip(original, modified, values=np.linspace(-1, 1, 40), values_label="saliency for jazz (logit)")
    top, bottom = axes
    # stacked on one time axis: same x limits, the top panel above the bottom one
    assert top.get_shared_x_axes().joined(top, bottom) and top.get_xlim() == bottom.get_xlim()
    assert top.get_position().y0 > bottom.get_position().y0
    assert bottom.get_xlabel() == "time from the first note (s)" and top.get_xlabel() == ""
    assert "2 notes changed" in bottom.get_title()
    legend = [t.get_text() for t in bottom.get_legend().get_texts()]
    assert legend == ["changed note as it was (original)", "changed note as flipped", "unchanged pitched note",
                      "unchanged drum hit"]
    assert top.get_legend() is None  # one legend for both panels
    outlined, filled = bottom.get_legend().legend_handles[:2]
    np.testing.assert_allclose(outlined.get_edgecolor()[:3], to_rgba(FLIP_COLOR)[:3])
    np.testing.assert_allclose(filled.get_facecolor()[:3], to_rgba(FLIP_COLOR)[:3])
    assert "saliency for jazz (logit)" in _colorbar_labels(top.figure)
    one = original.copy()
    one[7, PITCH] += 1
    assert "(1 note changed)" in plot_flip(original, one)[1].get_title()
    plt.close("all")


def test_drum_lane_has_one_drums_tick_and_no_pitch_numbers():
    import matplotlib.pyplot as plt
    import numpy as np

    from genre_lib.midi_io import notes_from_events
    from genre_lib.plots import plot_piano_roll

    start = np.arange(6) * 0.25
    table = notes_from_events(start, start + 0.2, np.array([60, 64, 36, 38, 42, 67]), np.full(6, 90),
                              np.array([0, 0, 1, 1, 1, 0], dtype=float), np.zeros(6))
    fig, ax = plt.subplots()
    plot_piano_roll(table, ax=ax)
    ticks = dict(zip([t.get_text() for t in ax.get_yticklabels()], ax.get_yticks()))
    assert "drums" in ticks and ticks["drums"] < 60 - 2
    # every other tick is a pitch, above the dashed line that starts the drum lane
    assert all(v >= 60 - 2 for k, v in ticks.items() if k != "drums")
    plt.close(fig)


def test_the_edit_table_draws_each_judges_horse_bar_at_its_own_horse_tests():
    """One dotted line per judge, at the largest share one of its own horse tests changes
    (the bar genre_lib.concept_study.movers sets), worked out by hand from the rows."""
    from genre_lib.plots import plot_edit_table

    def row(edit, judge, flipped):
        return {"edit": edit, "judge": judge, "protocol": "file", "flipped": flipped,
                "flipped_interval": [flipped / 2, flipped * 1.5]}

    table = {"rows": [row("drop drums", "rnn", 0.10), row("transpose +2", "rnn", 0.01), row("tempo -6%", "rnn", 0.02),
                      row("drop drums", "9-order", 0.08), row("transpose +2", "9-order", 0.04),
                      row("tempo -6%", "9-order", 0.03), row("drop drums", "baseline", 0.5)]}
    ax = plot_edit_table(table, judges=("rnn", "9-order"))
    lines = {ln.get_label(): ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_linestyle() == ":"}
    assert lines == {"rnn: most a horse test changes (2.0%)": 0.02, "9-order: most a horse test changes (4.0%)": 0.04}
    assert "horse tests (grey bars)" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(ax.figure)
