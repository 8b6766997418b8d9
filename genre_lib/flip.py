"""Flip a file's genre with the smallest valid change (a counterfactual note table).

The question a flip answers: *which few notes would have to change, and how, for the
classifier to call this file the other genre?* :func:`optimize_delta` optimises an
additive ``delta`` on a note table by projected gradient steps, until every *judge*
(:class:`Judge`: a network and the protocol it reads the table by) gives the target:

* the study's flip: one network reading the file's first 100 notes (``first100``);
* a flip of the file's verdict: one network's vote of 16 windows over the whole table
  (``protocol="file"``): the change may fall anywhere the windows read, and is reported
  as notes changed, their share of the file and the seconds of music they sound
  (:attr:`FlipResult.share_changed`, :attr:`FlipResult.seconds_touched`);
* a flip that must convince several networks at once (``also=``: e.g. the committed
  model and one trained with another seed), each pulling as hard as the others.

What other judges make of a flip (the file's vote with the rest of the file kept, the
baseline, networks never optimised against, the distance to real files of the target
genre) is :mod:`genre_lib.opinions`. The optimiser:

* **Objective**: a logit margin on the target genre (or its cross-entropy), with the
  change measured in *scaled units* (:data:`~genre_lib.changes.SCALES`): 1 semitone of pitch, 1/16 note
  (0.125 s at 120 bpm) of step or duration, 8 steps of velocity, 8 programs (one
  General MIDI family) each count as one unit. Reported sizes (``l1``, ``l2``) are in
  these units.
* **Sparsity**: an L1 weight applied as a proximal step (soft-thresholding), which sets
  small changes to exactly zero; afterwards a pruning pass restores every changed note
  whose change is not needed for the target to keep winning.
* **Valid music**: every step classifies :func:`~genre_lib.midi_io.project_to_midi` of
  the table in the order :func:`~genre_lib.midi_io.read_midi` would read it back
  (:func:`~genre_lib.midi_io.read_back_order`). Gradients pass straight through the
  rounding and the reordering (straight-through estimator), so the optimiser "sees" the
  continuous delta while the stopping test sees the MIDI file.
* **Proof by round trip**: the result is written with :func:`~genre_lib.midi_io.write_midi`,
  read back and classified again; :attr:`FlipResult.flipped` is true only if *that*
  reading is the target genre for every judge.

Frozen features (:data:`FROZEN` by default: the drum flag; pass
``FlipSettings(frozen=("drum", "program"))`` to keep instruments too) get zero delta,
and so does the first note's step (a MIDI file read back always starts its note table
at step 0). ``benchmarks/bench_flip.py`` measures the defaults on a run's held-out files.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .changes import (
    change_by_feature,
    change_size,
    changed_mask,
    changed_notes,
    describe_changes,
    scale_vector,
    seconds_touched,
)
from .inference import check_targets, gradient, logits, n_genres, n_notes, softmax
from .midi_io import (
    FEATURES,
    MIDI_MAX,
    MIDI_MIN,
    STEP,
    canonical_order,
    length_seconds,
    project_to_midi,
    read_back_order,
    write_read,
)
from .protocols import FILE_WINDOWS, PROTOCOLS, protocol_windows
from .windows import cut_windows, even_starts

if TYPE_CHECKING:
    import keras

#: Features the optimiser leaves alone by default: the drum flag, because turning a drum
#: hit into a pitched note (or back) rewrites the arrangement rather than the notes.
#: Instruments (program) may change by default: some files a model is sure are
#: electronic do not flip with their synthesizer sounds frozen.
FROZEN: tuple[str, ...] = ("drum",)


class FlipError(ValueError):
    """A flip that cannot be attempted (unknown genre or feature, wrong table shape, ...)."""


@dataclass(frozen=True)
class FlipSettings:
    """How :func:`optimize_delta` searches.

    Attributes:
        l1: L1 weight (a relative gradient threshold: a coordinate only grows if its
            gradient exceeds ``l1`` times the largest one); larger = sparser, but more
            steps.
        l2: weight of ``|delta/scale|_2^2`` added to the objective (0: off).
        lr: step size in scaled units: the most sensitive coordinate moves this much.
        max_steps: step budget; without success the result has ``success=False``.
        margin: logit margin the target must win by, after projection. With two genres,
            margin 1.0 means a target probability of at least 0.73, 0.3 at least 0.57.
        loss: ``"margin"`` (hinge on the logit gap: stops pushing once past the margin)
            or ``"ce"`` (cross-entropy on the target).
        frozen: features that never change.
        anneal: fade the L1 weight out over the first 3/4 of the budget.
        prune: after success, restore changed notes while the target keeps winning.
        prune_slack: extra margin the descent aims for when pruning follows, so pruning
            has room to restore notes.
        round_trip: write the result to MIDI, read it back and classify it.
        record_every: keep one trajectory frame every this many steps (first and last
            always kept).
        max_frames: at most this many frames are kept (bounded memory).
        seed: seed of the tiny random tie-break noise added to the first step, so a
            coordinate with exactly zero gradient is still chosen reproducibly.
    """

    l1: float = 0.3
    l2: float = 0.0
    lr: float = 1.0
    max_steps: int = 400
    margin: float = 0.3
    loss: str = "margin"
    frozen: tuple[str, ...] = FROZEN
    anneal: bool = True
    prune: bool = True
    prune_slack: float = 0.5
    round_trip: bool = True
    record_every: int = 1
    max_frames: int = 400
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "frozen", tuple(self.frozen))  # e.g. a list from argparse
        unknown = [f for f in self.frozen if f not in FEATURES]
        if unknown:
            raise FlipError(f"unknown feature(s) {unknown}; known: {', '.join(FEATURES)}")
        if self.loss not in ("margin", "ce"):
            raise FlipError(f"loss must be 'margin' or 'ce', got {self.loss!r}")

    def to_dict(self) -> dict:
        """The settings as a JSON-able dict."""
        return {**asdict(self), "frozen": list(self.frozen)}


# ---------------------------------------------------------------------------------------
# Who must be convinced
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Judge:
    """A network a flip must convince, and what it reads of the table under
    ``protocol`` (:mod:`genre_lib.protocols`): its first notes (``first100``), or
    ``file_windows`` evenly spaced windows whose logits are averaged (``file``, the
    vote :class:`genre_lib.verdicts.RNNVerdict` judges a file by).

    A flip of the ``file`` vote optimises the whole table: each window's gradient is
    added back onto the notes it was cut from (windows overlap only in short files,
    where a shared note gets both), and notes no window reads get none, so the change
    stays in the notes the vote reads.
    """

    model: "keras.Model"
    protocol: str = "first100"
    file_windows: int = FILE_WINDOWS
    name: str = "rnn"

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise FlipError(f"unknown protocol {self.protocol!r}: use one of {PROTOCOLS}")

    @property
    def length(self) -> int:
        """Notes per window (the network's input length)."""
        return n_notes(self.model)

    def starts(self, n: int) -> np.ndarray:
        """Where the windows this judge reads start in a table of ``n`` notes."""
        if self.protocol == "first100":
            return np.zeros(1, dtype=np.int64)
        return even_starts(n, self.file_windows, self.length)

    def windows(self, tables: Sequence[np.ndarray]) -> np.ndarray:
        """The windows this judge reads of each table, ``(files, windows, notes, features)``."""
        w = protocol_windows(tables, self.protocol, self.file_windows, self.length)
        return w.reshape(len(tables), -1, *w.shape[1:])

    def vote_logits(self, tables: Sequence[np.ndarray], like: tuple[np.ndarray, np.ndarray] | None = None
                    ) -> np.ndarray:
        """``(files, genres)``: each table's windows' logits, averaged (the vote before
        its softmax).

        Args:
            like: ``(windows, logits)`` of one table the others mostly equal (pruning's
                trials each restore one note): only windows that differ from it are
                run through the network.
        """
        w = self.windows(tables)
        if like is None:
            z = logits(self.model, w.reshape(-1, *w.shape[2:])).reshape(*w.shape[:2], -1)
        else:
            ref_w, ref_z = like
            differs = (w != ref_w[None]).any(axis=(2, 3))
            z = np.broadcast_to(ref_z, (*w.shape[:2], ref_z.shape[-1])).copy()
            if differs.any():
                z[differs] = logits(self.model, w[differs])
        return z.mean(axis=1)

    def proba(self, tables: Sequence[np.ndarray]) -> np.ndarray:
        """Genre probabilities ``(files, genres)`` of whole tables: equal to
        ``RNNVerdict(model, genres, file_windows).predict_proba(tables, protocol)``."""
        return softmax(self.vote_logits(tables))

    def objective(self, table: np.ndarray, target: int, loss: str) -> tuple[np.ndarray, np.ndarray]:
        """The vote's logits ``(genres,)`` of one table (rows as read back) and the
        gradient ``(notes, features)`` of the flip's objective on them with respect to
        the table: the target's margin over the best other genre (``loss="margin"``)
        or its log-probability (``"ce"``)."""
        starts = self.starts(len(table))
        windows = cut_windows(table, starts, self.length)
        if len(starts) == 1:  # one window: the vote is the window
            z, g = gradient(self.model, windows, target, "log_prob" if loss == "ce" else "margin")
            zbar = z[0]
        else:
            k = n_genres(self.model)
            if k != 2:
                zbar = logits(self.model, windows).mean(axis=0)
            if k == 2:
                # two genres: both objectives are a multiple of the margin z_t - z_other
                z, g = gradient(self.model, windows, target, "margin")
                zbar = z.mean(axis=0)
                weight = 1.0 if loss == "margin" else 1.0 - softmax(zbar)[target]
                g = g * (weight / len(starts))
            else:
                w = np.zeros(k)
                w[target] = 1.0
                if loss == "margin":
                    w[int(np.argmax(np.where(np.arange(k) == target, -np.inf, zbar)))] = -1.0
                else:
                    w = w - softmax(zbar)
                used = np.flatnonzero(w)
                _, gs = gradient(self.model, np.tile(windows, (len(used), 1, 1)),
                                 np.repeat(used, len(starts)), "logit")
                g = np.tensordot(w[used], gs.reshape(len(used), len(starts), *gs.shape[1:]), axes=1) / len(starts)
        g = np.array(g, dtype=np.float64)
        g[:, 0, STEP] = 0.0  # a window's first step is set to 0: it is not the note's step
        out = np.zeros(table.shape, dtype=np.float64)
        np.add.at(out, starts[:, None] + np.arange(self.length)[None, :], g)
        return zbar, out


def as_judges(model, protocol: str = "first100", also: Sequence = (), file_windows: int = FILE_WINDOWS
              ) -> tuple[Judge, ...]:
    """The judges of a flip: ``model`` under ``protocol``, then each of ``also`` (a
    :class:`Judge`, or a Keras model read under the same protocol, named ``rnn-2``,
    ``rnn-3``, ...)."""
    judges = [model if isinstance(model, Judge) else Judge(model, protocol, file_windows)]
    for i, m in enumerate(also):
        judges.append(m if isinstance(m, Judge) else Judge(m, protocol, file_windows, name=f"rnn-{i + 2}"))
    return tuple(judges)


# ---------------------------------------------------------------------------------------
# The result
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FlipResult:
    """Everything a flip produced (built once, never changed).

    Attributes:
        original: the input table (as read: the first 100 notes for a flip of the
            ``first100`` verdict, the whole file for a flip of the ``file`` vote).
        base: ``project_to_midi(original)``: the input as a written MIDI file holds it;
            changes are measured from here (it differs from ``original`` by sub-tick
            timing, below 0.5 ms, and where notes of one key overlapped in the input,
            by the shortened durations).
        modified: the flipped table, MIDI-legal, rows matched to ``original``.
        target: index of the target genre.
        steps: optimiser steps taken (pruning not counted).
        success: the target won by ``margin`` on ``modified`` with every judge (before
            the round trip).
        probs_before: genre probabilities of ``original`` (the first judge's, under its
            protocol; so are the other probabilities below).
        probs_after: probabilities of ``modified`` (rows in read-back order).
        trajectory_steps, trajectory_tables, trajectory_probs, trajectory_phase: the
            projected table and the genre probabilities at each recorded step
            (``model(read_back_order(table))``); frames after the last optimiser step
            come from pruning (phase ``"prune"``, else ``"optimize"``).
        reparsed: ``modified`` written to MIDI and read back (first notes), or None if
            there was no round trip or it failed (see ``round_trip_error``).
        probs_reparsed: probabilities of ``reparsed``.
        round_trip_error: why the round trip failed, or None.
        seconds: wall time of the optimisation and round trip.
        settings: the :class:`FlipSettings` used.
        genres: genre names, for :meth:`summary` (None: indices).
        judges: each judge's name and protocol, ``"name/protocol"``; the first is the
            one the probabilities above are of.
        judge_probs_reparsed: every judge's probabilities of ``reparsed``, in the order
            of ``judges`` (None without a round trip).
    """

    original: np.ndarray
    base: np.ndarray
    modified: np.ndarray
    target: int
    steps: int
    success: bool
    probs_before: np.ndarray
    probs_after: np.ndarray
    trajectory_steps: np.ndarray
    trajectory_tables: np.ndarray
    trajectory_probs: np.ndarray
    trajectory_phase: tuple[str, ...]
    reparsed: np.ndarray | None
    probs_reparsed: np.ndarray | None
    round_trip_error: str | None
    seconds: float
    settings: FlipSettings
    genres: tuple[str, ...] | None = None
    judges: tuple[str, ...] = ("rnn/first100",)
    judge_probs_reparsed: tuple[np.ndarray, ...] | None = None

    @property
    def genre_names(self) -> list[str]:
        """The genre names, or the genre indices as text when none were given."""
        return list(self.genres) if self.genres is not None else [str(i) for i in range(len(self.probs_before))]

    @property
    def flipped(self) -> bool:
        """The re-read file is classified as the target genre (by every judge)."""
        if self.judge_probs_reparsed is not None:
            return all(int(np.argmax(p)) == self.target for p in self.judge_probs_reparsed)
        return self.probs_reparsed is not None and int(np.argmax(self.probs_reparsed)) == self.target

    @cached_property
    def _size(self) -> dict:
        return change_size(self.base, self.modified)

    @property
    def l1(self) -> float:
        """Size of ``modified - base``, scaled units (see :func:`change_size`)."""
        return self._size["l1"]

    @property
    def l2(self) -> float:
        """Euclidean size of ``modified - base``, scaled units."""
        return self._size["l2"]

    @property
    def notes_changed(self) -> int:
        """Notes of ``modified`` that differ from ``base``."""
        return self._size["notes_changed"]

    @property
    def share_changed(self) -> float:
        """:attr:`notes_changed` as a share of the table's notes."""
        return self.notes_changed / len(self.modified)

    @property
    def seconds_touched(self) -> float:
        """Seconds of music during which a changed note sounds
        (:func:`genre_lib.changes.seconds_touched`)."""
        return seconds_touched(self.base, self.modified)

    @property
    def seconds_before(self) -> float:
        """Length of the table in seconds before the flip (first onset to last note-off)."""
        return length_seconds(self.base)

    @property
    def seconds_after(self) -> float:
        """Length of the flipped table in seconds."""
        return length_seconds(self.modified)

    @cached_property
    def changes(self) -> list[dict]:
        """:func:`describe_changes` of ``base`` vs ``modified``."""
        return describe_changes(self.base, self.modified)

    def summary(self) -> dict:
        """A JSON-able summary (probabilities keyed by genre name when known)."""

        def named(p):
            return None if p is None else {g: round(float(v), 6) for g, v in zip(self.genre_names, p)}

        return {
            "target": self.genres[self.target] if self.genres else self.target,
            "flipped": bool(self.flipped),
            "success_before_round_trip": bool(self.success),
            "steps": int(self.steps),
            "before": named(self.probs_before),
            "after": named(self.probs_after),
            "after_reparsed": named(self.probs_reparsed),
            "l1": round(self.l1, 6),
            "l2": round(self.l2, 6),
            "size_units": self._size["units"],
            "notes_changed": int(self.notes_changed),
            "notes": len(self.modified),
            "share_changed": round(self.share_changed, 6),
            "seconds_touched": round(self.seconds_touched, 3),
            "seconds_before": round(self.seconds_before, 3),
            "seconds_after": round(self.seconds_after, 3),
            "judges": list(self.judges),
            "after_reparsed_by_judge": None if self.judge_probs_reparsed is None else {
                j: named(p) for j, p in zip(self.judges, self.judge_probs_reparsed)},
            "changes": [{k: c[k] for k in ("note", "feature", "before", "after", "text")} for c in self.changes],
            "round_trip_error": self.round_trip_error,
            "params": self.settings.to_dict(),
        }


# ---------------------------------------------------------------------------------------
# The optimiser
# ---------------------------------------------------------------------------------------


def _gap(z: np.ndarray, target: int) -> np.ndarray:
    """Target logit minus the best other logit (positive: the target wins)."""
    return z[..., target] - np.delete(z, target, axis=-1).max(axis=-1)


class _Frames:
    """The recorded trajectory. Past ``max_frames`` every other frame is dropped (the
    first and last kept) and recording thins out, so memory stays bounded."""

    def __init__(self, record_every: int, max_frames: int) -> None:
        self.every, self.max_frames = max(1, int(record_every)), max_frames
        self.steps: list[int] = []
        self.tables: list[np.ndarray] = []
        self.probs: list[np.ndarray] = []
        self.phase: list[str] = []

    def add(self, step: int, table: np.ndarray, z: np.ndarray, phase: str) -> None:
        for lst, value in ((self.steps, step), (self.tables, table), (self.probs, softmax(z)), (self.phase, phase)):
            lst.append(value)
        if len(self.steps) > self.max_frames:
            for lst in (self.steps, self.tables, self.probs, self.phase):
                del lst[1:-1:2]
            self.every *= 2


def _descend(judges: tuple[Judge, ...], base: np.ndarray, target: int, s: FlipSettings, frames: _Frames
             ) -> tuple[int, np.ndarray, np.ndarray, bool]:
    """Projected, soft-thresholded gradient steps from ``base`` until the target wins by
    the margin (plus the pruning slack) with every judge, or the budget ends.

    Returns:
        ``(steps taken, last projected table, its vote logits per judge (judges,
        genres), success)``.
    """
    n = len(base)
    scale = scale_vector()
    mask = np.ones((n, len(FEATURES)))
    for f in s.frozen:
        mask[:, FEATURES.index(f)] = 0.0
    mask[0, STEP] = 0.0
    base64 = base.astype(np.float64)
    u = np.zeros((n, len(FEATURES)))  # delta / scale
    goal = s.margin + (s.prune_slack if s.prune else 0.0)
    rng = np.random.default_rng(s.seed)
    step, proj, zs, success = 0, base, None, False
    for step in range(s.max_steps + 1):
        proj = project_to_midi(base64 + u * scale)
        order = canonical_order(proj)
        shown = read_back_order(proj)
        found = [j.objective(shown, target, s.loss) for j in judges]
        zs = np.stack([z for z, _ in found])
        gaps = _gap(zs, target)
        success = bool((gaps >= goal).all())
        if step % frames.every == 0 or success or step == s.max_steps:
            frames.add(step, proj, zs[0], "optimize")
        if success or step == s.max_steps:
            break
        # straight through the reordering: row k of the read-back table is row order[k].
        # The loss (hinge on the gap, or cross-entropy) falls as the objective rises; only
        # the judges not yet past the goal pull, and with several, each pulls as hard as
        # the others whatever the size of its gradients (one judge's is used as is)
        pulls = []
        for (_, g_sorted), gap in zip(found, gaps):
            if gap >= goal:
                continue
            g = np.empty((n, len(FEATURES)))
            g[order] = g_sorted
            pulls.append(-g * scale * mask)  # gradient of the loss w.r.t. delta / scale
        if len(pulls) == 1:
            gu = pulls[0]
        else:
            gu = sum(p / (np.abs(p).max() or 1.0) for p in pulls)
        if s.l2:
            gu = gu + 2.0 * s.l2 * u * mask
        if step == 0:
            gu = gu + 1e-9 * rng.standard_normal(gu.shape) * mask
        # coordinates pinned at a bound and pushed outwards cannot move: leaving them
        # out of the normalisation keeps them from stalling every other coordinate
        x = base64 + u * scale
        gu = gu * ~(((x <= MIDI_MIN) & (gu > 0)) | ((x >= MIDI_MAX) & (gu < 0)))
        top = np.abs(gu).max()
        if not np.isfinite(top) or top == 0:
            break  # flat: nothing to follow
        u = u - s.lr * gu / top
        # the L1 weight fades out over the first 3/4 of the budget: early steps stay
        # sparse, late ones may use any coordinate rather than fail (pruning cleans up)
        l1_now = s.l1 * max(0.0, 1.0 - step / (0.75 * s.max_steps)) if s.anneal else s.l1
        u = np.sign(u) * np.maximum(np.abs(u) - s.lr * l1_now, 0.0)
        u = (np.clip(base64 + u * scale, MIDI_MIN, MIDI_MAX) - base64) / scale * mask
    return step, proj, zs, success


#: Best-first pruning tries restoring every changed note before each restoration: its
#: trials hold (changed notes x table length) rows. Above this many (a flip of the first
#: 100 notes never is: 100 x 100), pruning restores notes in greedy passes instead
#: (:func:`_greedy_restore`), as a whole file's vote may have hundreds of changed notes
#: among thousands.
BEST_FIRST_ROWS = 100 * 100

#: trial tables built and judged at once (bounded memory for long tables)
_CHUNK = 32


def _likes(judges: tuple[Judge, ...], current: np.ndarray) -> list:
    """Each judge's windows of ``current`` and their logits, so that a trial differing
    from it runs only the windows it changed (a judge of one window: None, run all)."""
    now = [read_back_order(current)]
    return [None if j.protocol == "first100" else (j.windows(now)[0], logits(j.model, j.windows(now)[0]))
            for j in judges]


def _trial_gaps(judges: tuple[Judge, ...], likes: list, trials: np.ndarray, target: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """The smallest target margin over the judges of each trial table, and the trials'
    vote logits ``(trials, judges, genres)``; ``likes``: :func:`_likes` of the table
    the trials were made from."""
    shown = [read_back_order(t) for t in trials]
    z_trials = np.stack([j.vote_logits(shown, l) for j, l in zip(judges, likes)], axis=1)
    return _gap(z_trials, target).min(axis=1), z_trials


def _restored(current: np.ndarray, base: np.ndarray, notes: np.ndarray) -> np.ndarray:
    """One projected trial per note of ``notes``: ``current`` with that note put back as
    in ``base`` (a restored step shifts later onsets, hence the projection)."""
    trials = np.repeat(current[None], len(notes), axis=0)
    trials[np.arange(len(notes)), notes] = base[notes]
    return np.stack([project_to_midi(t) for t in trials])


def _n_changed(tables: np.ndarray, base: np.ndarray) -> np.ndarray:
    return changed_mask(base, tables).sum(axis=-1)


def _greedy_restore(judges: tuple[Judge, ...], base: np.ndarray, current: np.ndarray, target: int,
                    margin: float) -> tuple[np.ndarray, np.ndarray | None]:
    """One pass over the changed notes: each note's restoration is tried once, in the
    order of what it costs the margin on its own (cheapest first), and kept when every
    judge still gives the target ``margin``.

    Returns:
        ``(table, its vote logits per judge, or None when nothing was restored)``.
    """
    changed = changed_notes(base, current)
    likes = _likes(judges, current)
    gaps = np.concatenate([_trial_gaps(judges, likes, _restored(current, base, changed[k : k + _CHUNK]), target)[0]
                           for k in range(0, len(changed), _CHUNK)])
    zs = None
    for note in changed[np.argsort(-gaps, kind="stable")]:
        if not changed_mask(base[note], current[note]):
            continue  # already restored by an earlier restoration's projection
        trial = _restored(current, base, np.array([note]))
        if _n_changed(trial, base)[0] >= _n_changed(current, base):
            continue
        gap, z = _trial_gaps(judges, likes, trial, target)
        if gap[0] >= margin:
            current, zs = trial[0], z[0]
            likes = _likes(judges, current)
    return current, zs


def _prune(judges: tuple[Judge, ...], base: np.ndarray, modified: np.ndarray, target: int, margin: float,
           step: int, frames: _Frames) -> tuple[np.ndarray, np.ndarray]:
    """Best-first pruning: repeatedly restore the changed note whose restoration costs
    the least target margin (the smallest over the judges), while the target keeps
    winning by ``margin`` with every judge. Where that is too costly (more than
    :data:`BEST_FIRST_ROWS` rows of trials), greedy passes (:func:`_greedy_restore`)
    until one restores nothing.

    Returns:
        ``(pruned table, its vote logits per judge)``.
    """
    current, zs = modified.copy(), None
    while _n_changed(current, base) * len(current) > BEST_FIRST_ROWS:
        current, z_pass = _greedy_restore(judges, base, current, target, margin)
        if z_pass is None:
            break
        zs = z_pass
        frames.add(step, current, zs[0], "prune")
    while _n_changed(current, base) * len(current) <= BEST_FIRST_ROWS:
        changed = changed_notes(base, current)
        if len(changed) == 0:
            break
        trials = _restored(current, base, changed)
        # a restored pitch or onset can shorten another note of its key (projection):
        # only trials with fewer changed notes count, so pruning always ends
        fewer = _n_changed(trials, base) < len(changed)
        gaps, z_trials = _trial_gaps(judges, _likes(judges, current), trials, target)
        gaps = np.where(fewer, gaps, -np.inf)
        best = int(np.argmax(gaps))
        if gaps[best] < margin:
            break
        current, zs = trials[best], z_trials[best]
        frames.add(step, current, zs[0], "prune")
    if zs is None:
        shown = [read_back_order(current)]
        zs = np.stack([j.vote_logits(shown)[0] for j in judges])
    return current, zs


def read_back(table: np.ndarray, path: str | Path | None = None) -> tuple[np.ndarray | None, str | None]:
    """``(table written to MIDI and read back, None)`` (as many first notes as it has),
    or ``(None, why)`` when fewer notes come back. See
    :func:`genre_lib.midi_io.write_read`."""
    reparsed = write_read(table, path)
    if len(reparsed) < len(table):
        return None, f"read back {len(reparsed)} notes < {len(table)}"
    return reparsed[: len(table)], None


def round_trip(model, table: np.ndarray, path: str | Path | None = None
               ) -> tuple[np.ndarray | None, np.ndarray | None, str | None]:
    """Write ``table`` to MIDI, read it back (as many first notes as it has) and
    classify it.

    Args:
        model: a Keras model (judging the first notes) or a :class:`Judge`.
        path: where to write (default: a temporary file, deleted afterwards).

    Returns:
        ``(table read back, its probabilities, None)``, or ``(None, None, why)`` when
        fewer notes come back.
    """
    judge = model if isinstance(model, Judge) else Judge(model)
    reparsed, error = read_back(table, path)
    if reparsed is None:
        return None, None, error
    return reparsed, judge.proba([reparsed])[0], None


def optimize_delta(model, table: np.ndarray, target: int, settings: FlipSettings = FlipSettings(),
                   genres: tuple[str, ...] | list[str] | None = None, protocol: str = "first100",
                   also: Sequence = (), file_windows: int = FILE_WINDOWS) -> FlipResult:
    """Find a small, MIDI-legal change to ``table`` that makes ``model`` choose ``target``
    (and every network of ``also``).

    Each step: project ``table + delta`` to MIDI (rows in read-back order), let each
    judge read it under its protocol, stop if the target logit beats every other by
    ``margin`` for all of them; otherwise take a gradient step on the loss (straight
    through the rounding), normalised so the most sensitive coordinate moves ``lr``
    scaled units, then soft-threshold ``delta / scale`` by ``lr * l1`` (the proximal
    step of the L1 term) and clip to legal ranges. After success, pruning restores
    changed notes one at a time (least costly first) while the target still wins by
    ``margin`` without them. See :class:`FlipSettings`.

    Args:
        model: Keras model taking raw note tables (batch, notes, 6) with a Dense layer
            named ``logits`` before its softmax (or a :class:`Judge`).
        table: note table (notes, 6) in MIDI units: the first 100 notes (the study's
            flip, ``protocol="first100"``), or the whole file for a flip of the file's
            vote (``protocol="file"``).
        target: index of the target genre.
        settings: how to search.
        genres: genre names, only for :meth:`FlipResult.summary`.
        protocol: what ``model`` (and every network of ``also``) reads of the table:
            the first notes, or the vote of ``file_windows`` windows over it.
        also: other networks (Keras models or :class:`Judge` objects) the flip must
            convince too: the flip is found, pruned and checked after the round trip
            against every one of them.
        file_windows: windows of the ``file`` vote.

    Returns:
        A :class:`FlipResult`.

    Raises:
        FlipError: a table of the wrong shape or shorter than a window, a target out of
            range, or an unknown protocol.
    """
    t0 = time.perf_counter()
    original = np.asarray(table, dtype=np.float32)
    judges = as_judges(model, protocol, also, file_windows)
    if original.ndim != 2 or original.shape[1] != len(FEATURES):
        raise FlipError(f"note table must have shape (notes, {len(FEATURES)}), got {original.shape}")
    if len(original) < max(j.length for j in judges):
        raise FlipError(f"a table of {len(original)} notes is shorter than a window of "
                        f"{max(j.length for j in judges)} notes")
    target = int(check_targets(target, 1, n_genres(judges[0].model), FlipError)[0])
    base = project_to_midi(original)
    frames = _Frames(settings.record_every, settings.max_frames)
    steps, modified, zs, success = _descend(judges, base, target, settings, frames)
    if not success and settings.prune and (_gap(zs, target) >= settings.margin).all():
        success = True  # reached the margin, not the slack: still a success, prune what we can
    if success and settings.prune:
        modified, zs = _prune(judges, base, modified, target, settings.margin, steps, frames)
    reparsed, error, by_judge = None, None, None
    if settings.round_trip:
        reparsed, error = read_back(modified)
        if reparsed is not None:
            by_judge = tuple(j.proba([reparsed])[0] for j in judges)
    return FlipResult(
        original=original,
        base=base,
        modified=modified,
        target=target,
        steps=int(steps),
        success=bool(success),
        probs_before=judges[0].proba([original])[0],
        probs_after=softmax(zs[0]),
        trajectory_steps=np.asarray(frames.steps, dtype=int),
        trajectory_tables=np.stack(frames.tables),
        trajectory_probs=np.stack(frames.probs),
        trajectory_phase=tuple(frames.phase),
        reparsed=reparsed,
        probs_reparsed=None if by_judge is None else by_judge[0],
        round_trip_error=error,
        seconds=time.perf_counter() - t0,
        settings=settings,
        genres=tuple(genres) if genres is not None else None,
        judges=tuple(f"{j.name}/{j.protocol}" for j in judges),
        judge_probs_reparsed=by_judge,
    )


def flip_summary(results: Sequence[FlipResult]) -> dict:
    """What a set of flips did, as a JSON-able dict.

    Returns:
        ``n`` (flips), ``flipped`` (share that flipped and survived writing the MIDI
        file and reading it back, :attr:`FlipResult.flipped`), ``success_before_round_trip``,
        ``median_notes_changed``, ``max_notes_changed``, ``median_l1`` (scaled units) and
        ``share_of_change``: each feature's share of all change, summed over the flips in
        scaled units (:func:`genre_lib.changes.change_by_feature`), in the order of
        :data:`~genre_lib.midi_io.FEATURES`. With no flips the figures are NaN and the
        shares 0.
    """
    results = list(results)
    moved = np.zeros(len(FEATURES))
    for r in results:
        moved += change_by_feature(r.base, r.modified)
    notes = np.array([r.notes_changed for r in results], dtype=float)
    nan = float("nan")
    return {
        "n": len(results),
        "flipped": float(np.mean([r.flipped for r in results])) if results else nan,
        "success_before_round_trip": float(np.mean([r.success for r in results])) if results else nan,
        "median_notes_changed": float(np.median(notes)) if results else nan,
        "max_notes_changed": int(notes.max()) if results else 0,
        "median_l1": float(np.median([r.l1 for r in results])) if results else nan,
        "share_of_change": dict(zip(FEATURES, (moved / (moved.sum() or 1)).round(3).tolist())),
    }
