"""Figures of the series (matplotlib and seaborn). Each function draws on an ``ax`` it
is given (or a new one) and returns it, so notebooks can place figures side by side."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import PatchCollection
from matplotlib.patches import Rectangle

from .midi_io import DRUM, DURATION, FEATURES, PITCH, onsets

#: Drum notes are drawn in a lane below the pitched notes, one row per drum sound,
#: because a drum's "pitch" names a sound (36 = kick, 42 = hi-hat), not a height.
DRUM_LANE_GAP = 4


def _new_ax(ax, figsize=(10, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_piano_roll(
    table: np.ndarray,
    ax=None,
    values: np.ndarray | None = None,
    highlight: np.ndarray | None = None,
    cmap: str = "coolwarm",
    title: str | None = None,
    vmax: float | None = None,
):
    """Draw a note table as a piano roll: time across, pitch up, drums in a lane below.

    Args:
        table: note table (notes x features), e.g. the first 100 notes of a file.
        ax: axes to draw on (new figure if None).
        values: optional per-note numbers (e.g. saliency) that colour the notes,
            centred on 0 with a diverging colour map; without it pitched notes are blue
            and drums grey.
        highlight: optional boolean mask of notes to outline in black (e.g. changed notes).
        cmap: colour map for ``values``.
        title: axes title.
        vmax: colour scale limit for ``values`` (default: the largest |value|).

    Returns:
        The axes.
    """
    ax = _new_ax(ax)
    table = np.asarray(table)
    start = onsets(table)
    drum = table[:, DRUM] >= 0.5
    pitch = table[:, PITCH].astype(float)
    pitched_low = pitch[~drum].min() if (~drum).any() else 60.0
    drum_sounds = np.unique(pitch[drum])
    # drums: one row per drum sound, stacked below the lowest pitched note
    row = pitch.copy()
    for k, sound in enumerate(drum_sounds):
        row[drum & (pitch == sound)] = pitched_low - DRUM_LANE_GAP - k
    span = float((start + table[:, DURATION]).max()) if len(table) else 1.0
    # drum hits last a few milliseconds: give every note a visible minimum width
    min_width = 0.006 * span
    rects = [Rectangle((s, r - 0.4), max(d, min_width), 0.8) for s, r, d in zip(start, row, table[:, DURATION])]
    if values is not None:
        values = np.asarray(values, dtype=float)
        limit = vmax or float(np.abs(values).max()) or 1.0
        norm = plt.Normalize(-limit, limit)
        colors = plt.get_cmap(cmap)(norm(values))
        sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        ax.figure.colorbar(sm, ax=ax, fraction=0.03, pad=0.01)
    else:
        colors = np.where(drum[:, None], [[0.25, 0.25, 0.25, 0.9]], [[0.2, 0.4, 0.8, 0.8]])
    edge = np.zeros((len(table), 4))
    lw = np.full(len(table), 0.0)
    if highlight is not None:
        edge[np.asarray(highlight, dtype=bool)] = (0, 0, 0, 1)
        lw[np.asarray(highlight, dtype=bool)] = 1.5
    ax.add_collection(PatchCollection(rects, facecolors=colors, edgecolors=edge, linewidths=lw))
    ax.set_xlim(0, span * 1.02)
    ax.set_ylim(row.min() - 1, row.max() + 1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("pitch (drums below)")
    if drum.any():
        ax.axhline(pitched_low - DRUM_LANE_GAP / 2, color="0.7", lw=0.8, ls="--")
    if title:
        ax.set_title(title)
    return ax


def plot_feature_distributions(X: np.ndarray, y: np.ndarray, genres, features=FEATURES, axes=None):
    """One panel per feature: the distribution of its values over all notes, per genre.

    Steps and durations are drawn on a log scale because most are short and a few last
    seconds. Returns the array of axes."""
    import pandas as pd
    import seaborn as sns

    if axes is None:
        _, axes = plt.subplots(2, (len(features) + 1) // 2, figsize=(12, 6))
    axes = np.ravel(axes)
    notes = X.reshape(-1, X.shape[-1])
    genre_of_note = np.repeat(np.asarray(genres)[y], X.shape[1])
    for k, (name, ax) in enumerate(zip(features, axes)):
        frame = pd.DataFrame({name: notes[:, k], "genre": genre_of_note})
        log = name in ("step", "duration")
        if log:
            frame[name] = frame[name] + 1e-3  # a step of 0 (a chord) must stay on the plot
        discrete = name in ("drum",)
        sns.histplot(
            frame, x=name, hue="genre", stat="density", common_norm=False, element="step",
            log_scale=log, discrete=discrete, bins="auto" if discrete else 40, ax=ax,
        )
        ax.set_title(name + (" (s, log)" if log else ""))
    for ax in axes[len(features):]:
        ax.set_visible(False)
    plt.tight_layout()
    return axes
