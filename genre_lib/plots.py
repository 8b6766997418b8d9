"""Figures of the series. Each ``plot_*`` function draws on the ``ax`` it is given (or a
new one) and returns it; :func:`saliency_figure` and :func:`flip_frame_figure` return a
new ``Figure`` pyplot does not hold, so they never pile up in a widget."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import PatchCollection
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle

from .changes import changed_mask
from .midi_io import DRUM, DURATION, FEATURES, PITCH, onsets

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .saliency import SaliencyMap

#: Drum notes are drawn in a lane below the pitched notes, one row per drum sound,
#: because a drum's "pitch" names a sound (36 = kick, 42 = hi-hat), not a height.
DRUM_LANE_GAP = 4
#: Colour of the changed notes in a flip's note map.
FLIP_COLOR = "tab:orange"
#: Figure size and resolution of one frame of a flip (:func:`flip_frame_figure`).
FLIP_FIGSIZE = (12, 5.4)
FLIP_DPI = 72


def _new_ax(ax, figsize=(10, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_piano_roll(table: np.ndarray, ax=None, values: np.ndarray | None = None, highlight: np.ndarray | None = None,
                    cmap: str = "coolwarm", title: str | None = None, vmax: float | None = None,
                    values_label: str | None = None):
    """A note table as a piano roll (drums in a lane below); ``values`` colour the notes
    (e.g. saliency, up to ``vmax``), ``highlight`` outlines notes in black."""
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
        # values that are never negative (|map|) get a scale from 0, not one centred on 0
        norm = plt.Normalize(0.0, limit) if values.min() >= 0 else plt.Normalize(-limit, limit)
        colors = plt.get_cmap(cmap)(norm(values))
        sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        ax.figure.colorbar(sm, ax=ax, fraction=0.03, pad=0.01, label=values_label or "value per note")
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
    ax.set_xlabel("time from the first note (s)")
    ax.set_ylabel("MIDI pitch (drums below ---)")
    if drum.any():
        ax.axhline(pitched_low - DRUM_LANE_GAP / 2, color="0.7", lw=0.8, ls="--")
        # the drum lane's rows are drum sounds, not pitches: one "drums" tick, no numbers
        pitch_ticks = [t for t in ax.get_yticks() if pitched_low - DRUM_LANE_GAP / 2 < t <= row.max() + 1]
        lane = pitched_low - DRUM_LANE_GAP - (len(drum_sounds) - 1) / 2
        ax.set_yticks(pitch_ticks + [lane], [f"{t:g}" for t in pitch_ticks] + ["drums"])
    if title:
        ax.set_title(title)
    return ax


#: what the x axis of a feature's distribution counts (plot_feature_distributions)
FEATURE_UNITS = {
    "pitch": "MIDI pitch (semitones; drum sound number for drums)",
    "step": "seconds since the previous onset (+0.001, log scale)",
    "duration": "seconds (+0.001, log scale)",
    "velocity": "MIDI velocity (1-127)",
    "drum": "drum hit (1) or pitched note (0)",
    "program": "General MIDI program (0-127)",
}


def plot_feature_distributions(X: np.ndarray, y: np.ndarray, genres, features=FEATURES, axes=None):
    """Each feature's distribution over all notes, per genre (times on a log scale)."""
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
        ax.set_xlabel(FEATURE_UNITS.get(name, name))
    for ax in axes[len(features):]:
        ax.set_visible(False)
    plt.tight_layout()
    return axes


def plot_flip(original: np.ndarray, modified: np.ndarray, axes=None, values: np.ndarray | None = None,
              titles: tuple[str, str] = ("original", "flipped"), vmax: float | None = None,
              values_label: str | None = None):
    """Note map of a flip: ``original`` above (changed notes outlined in orange, coloured by
    ``values``) and ``modified`` below (changed notes filled), on one time and pitch axis."""
    from matplotlib.patches import Patch

    original = np.asarray(original)
    modified = np.asarray(modified)
    stacked = axes is None
    if stacked:
        _, axes = plt.subplots(2, 1, figsize=(12, 6.5), sharex=True, sharey=True, layout="constrained")
    changed = changed_mask(original, modified)
    limits = []
    for ax, table, kwargs, title in (
        (axes[0], original, {"values": values, "vmax": vmax, "values_label": values_label}, titles[0]),
        (axes[1], modified, {}, f"{titles[1]} ({int(changed.sum())} note{'' if changed.sum() == 1 else 's'} changed)"),
    ):
        plot_piano_roll(table, ax=ax, highlight=changed, title=title, **kwargs)
        # read the limits now: with shared axes the second panel would overwrite them
        limits.append((*ax.get_xlim(), *ax.get_ylim()))
        notes = ax.collections[-1]
        edges = notes.get_edgecolors().copy()
        edges[changed] = to_rgba(FLIP_COLOR)
        notes.set_edgecolors(edges)
    faces = axes[1].collections[-1].get_facecolors().copy()
    faces[changed] = to_rgba(FLIP_COLOR, 0.9)
    axes[1].collections[-1].set_facecolors(faces)
    # one frame for both panels so a moved note is seen to move
    limits = np.array(limits)
    for ax in axes[:2]:
        ax.set_xlim(0, limits[:, 1].max())
        ax.set_ylim(limits[:, 2].min(), limits[:, 3].max())
    if stacked:
        axes[0].set_xlabel("")  # one time axis, labelled once below
    # one legend for both panels, below the time axis: it hides no note and no colour bar
    axes[1].legend(handles=[
        Patch(facecolor="none", edgecolor=FLIP_COLOR, lw=1.5, label="changed note as it was (original)"),
        Patch(facecolor=to_rgba(FLIP_COLOR, 0.9), edgecolor=FLIP_COLOR, label="changed note as flipped"),
        Patch(facecolor=(0.2, 0.4, 0.8, 0.8), label="unchanged pitched note"),
        Patch(facecolor=(0.25, 0.25, 0.25, 0.9), label="unchanged drum hit"),
    ], loc="upper center", bbox_to_anchor=(0.5, -0.26), ncols=4, fontsize=8, frameon=False)
    return axes


def plot_saliency_heatmap(attr: np.ndarray, features=FEATURES, ax=None, title: str | None = None,
                          vmax: float | None = None, cmap: str = "RdBu_r", unit: str | None = None):
    """Heat map of one comparable signed map ``(notes, features)``: red raises the
    output, blue lowers it, one colour limit ``vmax``."""
    ax = _new_ax(ax, figsize=(12, 2.8))
    attr = np.asarray(attr, dtype=float)
    limit = vmax or float(np.abs(attr).max()) or 1.0
    image = ax.imshow(attr.T, aspect="auto", cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
    ax.set_yticks(range(len(features)), list(features))
    ax.set_ylabel("feature")
    ax.set_xlabel("note position (0 = first of the notes read)")
    ax.figure.colorbar(image, ax=ax, fraction=0.03, pad=0.01, label=unit or "attribution")
    if title:
        ax.set_title(title)
    return ax


def plot_saliency_roll(table: np.ndarray, attr: np.ndarray, ax=None, signed: bool = False, title: str | None = None,
                       top: int = 0, vmax: float | None = None, unit: str | None = None):
    """A piano roll coloured by each note's importance in a map, the ``top`` notes outlined."""
    from matplotlib.patches import Patch

    from .saliency import note_importance

    values = note_importance(attr, signed)
    highlight = None
    if top:
        highlight = np.zeros(len(values), dtype=bool)
        highlight[np.argsort(-np.abs(values), kind="stable")[:top]] = True
    how = "sum over features" if signed else "sum of |map| over features"
    label = f"note importance, {how}" + (f"\n({unit})" if unit else "")
    ax = plot_piano_roll(
        np.asarray(table)[: len(values)], ax=ax, values=values, highlight=highlight,
        cmap="coolwarm" if signed else "Reds", title=title, vmax=vmax, values_label=label,
    )
    if top:
        ax.legend(handles=[Patch(facecolor="none", edgecolor="k", lw=1.5, label=f"the {top} most important notes")],
                  loc="upper left", bbox_to_anchor=(0.0, -0.1), fontsize=8, frameon=False)  # below: hides no note
    return ax


def _interval_bars(ax, labels: Sequence[str], series: list) -> None:
    # series: (name, {label: (value, low, high)}, colour of a label)
    height = 0.8 / len(series)
    for j, (name, got, color) in enumerate(series):
        rows = [i for i, label in enumerate(labels) if label in got]
        v = np.array([got[labels[i]] for i in rows], dtype=float).reshape(-1, 3)
        ax.barh(np.array(rows) + (j - (len(series) - 1) / 2) * height, v[:, 0], height, capsize=2, label=name,
                xerr=np.abs(v[:, 1:].T - v[:, 0]), color=[color(labels[i]) for i in rows])
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()


def plot_probes(results: "Sequence", axes=None, title: str | None = None):
    """What each probe costs a verdict with its 95 % interval, a panel per protocol."""
    rows = [r if isinstance(r, dict) else r.to_dict() for r in results]
    protocols = list(dict.fromkeys(r["protocol"] for r in rows))
    verdicts = list(dict.fromkeys(r["verdict"] for r in rows))
    probes = list(dict.fromkeys(r["probe"] for r in rows))
    if axes is None:
        _, axes = plt.subplots(1, len(protocols), figsize=(5.5 * len(protocols), 0.32 * len(probes) * len(verdicts) + 1.2),
                               sharey=True, squeeze=False, layout="constrained")
        axes = axes[0]
    colors = {"rnn": "tab:blue", "baseline": "tab:orange"}
    for ax, protocol in zip(axes, protocols):
        _interval_bars(ax, probes, [(v, {r["probe"]: (r["effect"], r["low"], r["high"]) for r in rows
                                         if r["protocol"] == protocol and r["verdict"] == v},
                                     lambda _, v=v: colors.get(v, "0.5")) for v in verdicts])
        ax.axvline(0, color="0.3", lw=0.8)
        ax.set(xlabel="accuracy lost (as is - probed), 95 % interval", title=f"{protocol}")
        ax.legend(fontsize=8)
    if title:
        axes[0].figure.suptitle(title)
    return axes


def plot_flip_trajectory(result, genres: Sequence[str] | None = None, axes=None):
    """A flip's genre probabilities and notes changed at every recorded frame."""
    from matplotlib.patches import Patch

    names = list(genres) if genres is not None else result.genre_names
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 3.4), layout="constrained")
    frames = np.arange(len(result.trajectory_steps))
    pruned = np.array(result.trajectory_phase) == "prune"
    changed = [int(changed_mask(result.base, t).sum()) for t in result.trajectory_tables]
    for g, name in enumerate(names):
        axes[0].plot(frames, result.trajectory_probs[:, g], label=name,
                     color=FLIP_COLOR if g == result.target else "tab:blue")
    axes[0].axhline(0.5, color="k", lw=0.5)
    axes[0].set(xlabel="recorded frame (optimizer steps, then pruning)", ylabel="probability", ylim=(0, 1),
                title=f"the target ({names[result.target]}, orange) overtakes the other genre")
    axes[1].plot(frames, changed, color="k")
    axes[1].set(xlabel="recorded frame (optimizer steps, then pruning)", ylabel="notes changed (of the notes read)",
                title="the change grows while optimizing, pruning puts notes back")
    for ax in axes:
        if pruned.any():
            ax.axvspan(frames[pruned][0] - 0.5, frames[-1] + 0.5, color="0.9", zorder=0)
    handles, labels = axes[0].get_legend_handles_labels()
    if pruned.any():
        handles.append(Patch(color="0.9", label="pruning"))
    axes[0].legend(handles=handles, fontsize=8, loc="center left")
    return axes


def plot_windows(table: np.ndarray, starts: np.ndarray, length: int = 100, ax=None, title: str | None = None):
    """Where windows of ``length`` notes starting at ``starts`` sit in a whole file, the
    first (the study's input) orange."""
    ax = _new_ax(ax, figsize=(12, 3))
    table = np.asarray(table)
    start = onsets(table)
    drum = table[:, DRUM] >= 0.5
    for k, s in enumerate(np.asarray(starts, dtype=int)):
        end = min(s + length, len(table)) - 1
        first = k == 0 and s == 0
        ax.axvspan(start[s], start[end] + table[end, DURATION], color=FLIP_COLOR if first else "tab:green",
                   alpha=0.35 if first else 0.18, lw=0, label="first 100 notes (the study's input)" if first else
                   ("other windows" if k == 1 else None))
    ax.scatter(start[~drum], table[~drum, PITCH], s=2, c="tab:blue", label="pitched notes")
    ax.scatter(start[drum], table[drum, PITCH], s=2, c="0.4", label="drum notes (pitch = drum sound)")
    ax.set(xlabel="time (s)", ylabel="MIDI pitch", xlim=(0, float((start + table[:, DURATION]).max()) * 1.01))
    ax.legend(loc="upper right", fontsize=8, markerscale=4, ncols=2)
    if title:
        ax.set_title(title)
    return ax


def saliency_figure(table: np.ndarray, smap: "SaliencyMap", genres: Sequence[str], name: str = "", top: int = 5) -> "Figure":
    """One file's map: the heat map above the piano roll, the ``top`` notes outlined."""
    from matplotlib.figure import Figure

    t = int(smap.target)
    fig = Figure(figsize=(12, 6.5), layout="constrained")
    top_ax, roll_ax = fig.subplots(2, 1, gridspec_kw={"height_ratios": [1, 2]})
    title = f"{smap.method} map for {genres[t]} (p={smap.probs[t]:.2f})"
    plot_saliency_heatmap(smap.values, smap.features, ax=top_ax, unit=smap.unit,
                          title=f"{name}: {title}" if name else title)
    plot_saliency_roll(table, smap.values, ax=roll_ax, top=top, unit=smap.unit,
                       title="the same map on the notes: darker red = the note matters more")
    return fig


def flip_frame_figure(base: np.ndarray, table: np.ndarray, probs: np.ndarray, probs_before: np.ndarray, target: int,
                      genres: Sequence[str], title: str, values: np.ndarray | None = None) -> "Figure":
    """One frame of a flip: the note map beside the genre probabilities at this frame
    and before (black ticks)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=FLIP_FIGSIZE, dpi=FLIP_DPI, layout="constrained")
    gs = fig.add_gridspec(2, 2, width_ratios=(8, 1.6))
    ax0 = fig.add_subplot(gs[0, 0])
    ax1 = fig.add_subplot(gs[1, 0], sharex=ax0, sharey=ax0)
    ax2 = fig.add_subplot(gs[:, 1])
    plot_flip(base, table, axes=[ax0, ax1], values=values, titles=("original", title))
    ax0.set_xlabel("")  # one time axis, labelled below
    colors = [FLIP_COLOR if i == target else "tab:gray" for i in range(len(genres))]
    ax2.bar(range(len(genres)), probs, color=colors)
    ax2.scatter(range(len(genres)), probs_before, marker="_", s=300, color="k", zorder=3)
    ax2.set_xticks(range(len(genres)), genres, rotation=30)
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("probability at this frame (bars)")
    ax2.set_title("black ticks:\nbefore the flip", fontsize=9)
    ax2.set_xlabel("genre (orange: target)")
    return fig


def plot_edit_table(table: dict, judges: Sequence[str] = ("rnn",), protocol: str = "file", ax=None):
    """The share of verdicts each edit changes (:func:`genre_lib.concept_study.edit_table`)
    per judge with its 95 % interval; horse tests grey, a dotted line per judge at the most
    one of its horse tests changes (the bar :func:`~genre_lib.concept_study.movers` sets)."""
    from matplotlib.patches import Patch

    from .concept_study import movers
    from .edits import HORSE

    rows = [r for r in table["rows"] if r["protocol"] == protocol and r["judge"] in judges]
    edits = list(dict.fromkeys(r["edit"] for r in rows))
    ax = _new_ax(ax, (9, 0.3 * len(edits) * len(judges) + 1.2))
    _interval_bars(ax, edits, [(judge, {r["edit"]: (r["flipped"], *r["flipped_interval"])
                                        for r in rows if r["judge"] == judge},
                                lambda e, j=j: "0.7" if e in HORSE else f"C{j}") for j, judge in enumerate(judges)])
    for j, judge in enumerate(judges):
        horse = movers(table, judge, protocol)[0]
        ax.axvline(horse, color=f"C{j}", ls=":", lw=1.2, label=f"{judge}: most a horse test changes ({horse:.1%})")
    handles, _ = ax.get_legend_handles_labels()
    ax.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set(xlabel=f"verdicts changed by the edit ({protocol}), 95 % interval")
    ax.legend(handles=handles + [Patch(color="0.7", label="horse tests (grey bars)")], fontsize=8, loc="lower right")
    return ax
