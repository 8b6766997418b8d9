"""Flip a file's genre with the smallest valid change (a counterfactual note table).

The question a flip answers: *which few notes would have to change, and how, for the
classifier to call this file the other genre?* :func:`optimize_delta` optimises an
additive ``delta`` on the (100, 6) note table by projected gradient steps:

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
  read back (first notes) and classified again; :attr:`FlipResult.flipped` is true only
  if *that* reading is the target genre.

Frozen features (:data:`FROZEN` by default: the drum flag; pass
``FlipSettings(frozen=("drum", "program"))`` to keep instruments too) get zero delta,
and so does the first note's step (a MIDI file read back always starts its note table
at step 0). ``benchmarks/bench_flip.py`` measures the defaults on a run's held-out files.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .changes import change_by_feature, change_size, describe_changes, scale_vector
from .inference import check_targets, gradient, logits, n_genres, predict_proba, softmax
from .midi_io import (
    FEATURES,
    MIDI_MAX,
    MIDI_MIN,
    STEP,
    canonical_order,
    project_to_midi,
    read_back_order,
    read_midi,
    write_midi,
)

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
# The result
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FlipResult:
    """Everything a flip produced (built once, never changed).

    Attributes:
        original: the input table (as read, first 100 notes).
        base: ``project_to_midi(original)``: the input as a written MIDI file holds it;
            changes are measured from here (it differs from ``original`` by sub-tick
            timing, below 0.5 ms, and where notes of one key overlapped in the input,
            by the shortened durations).
        modified: the flipped table, MIDI-legal, rows matched to ``original``.
        target: index of the target genre.
        steps: optimiser steps taken (pruning not counted).
        success: the target won by ``margin`` on ``modified`` (before the round trip).
        probs_before: genre probabilities of ``original``.
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

    @property
    def genre_names(self) -> list[str]:
        """The genre names, or the genre indices as text when none were given."""
        return list(self.genres) if self.genres is not None else [str(i) for i in range(len(self.probs_before))]

    @property
    def flipped(self) -> bool:
        """The re-read file is classified as the target genre."""
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


def _descend(model, base: np.ndarray, target: int, s: FlipSettings, frames: _Frames) -> tuple[int, np.ndarray, np.ndarray, bool]:
    """Projected, soft-thresholded gradient steps from ``base`` until the target wins by
    the margin (plus the pruning slack) or the budget ends.

    Returns:
        ``(steps taken, last projected table, its logits, success)``.
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
    objective = "log_prob" if s.loss == "ce" else "margin"
    rng = np.random.default_rng(s.seed)
    step, proj, z, success = 0, base, None, False
    for step in range(s.max_steps + 1):
        proj = project_to_midi(base64 + u * scale)
        order = canonical_order(proj)
        zs, g_sorted = gradient(model, read_back_order(proj), target, objective)
        z = zs[0]
        success = bool(_gap(z, target) >= goal)
        if step % frames.every == 0 or success or step == s.max_steps:
            frames.add(step, proj, z, "optimize")
        if success or step == s.max_steps:
            break
        # straight through the reordering: row k of the read-back table is row order[k].
        # The loss (hinge on the gap, or cross-entropy) falls as the objective rises; the
        # hinge is active at every step taken, since the loop stops past the margin.
        g = np.empty((n, len(FEATURES)))
        g[order] = g_sorted[0]
        gu = -g * scale * mask  # gradient of the loss w.r.t. delta / scale
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
    return step, proj, z, success


def _prune(model, base: np.ndarray, modified: np.ndarray, target: int, margin: float, step: int,
           frames: _Frames) -> tuple[np.ndarray, np.ndarray]:
    """Best-first pruning: repeatedly restore the changed note whose restoration costs
    the least target margin, while the target keeps winning by ``margin``.

    Returns:
        ``(pruned table, its logits)``.
    """
    current, z = modified.copy(), None
    while True:
        changed = np.nonzero((np.abs(current - base) > 1e-6).any(axis=1))[0]
        if len(changed) == 0:
            break
        trials = np.repeat(current[None], len(changed), axis=0)
        trials[np.arange(len(changed)), changed] = base[changed]
        trials = np.stack([project_to_midi(t) for t in trials])  # restored steps shift onsets
        # a restored pitch or onset can shorten another note of its key (projection):
        # only trials with fewer changed notes count, so pruning always ends
        fewer = (np.abs(trials - base) > 1e-6).any(axis=2).sum(axis=1) < len(changed)
        zs = logits(model, np.stack([read_back_order(t) for t in trials]))
        gaps = np.where(fewer, _gap(zs, target), -np.inf)
        best = int(np.argmax(gaps))
        if gaps[best] < margin:
            break
        current, z = trials[best], zs[best]
        frames.add(step, current, z, "prune")
    if z is None:
        z = logits(model, read_back_order(current))[0]
    return current, z


def round_trip(model, table: np.ndarray, path: str | Path | None = None
               ) -> tuple[np.ndarray | None, np.ndarray | None, str | None]:
    """Write ``table`` to MIDI, read it back (as many first notes as it has) and
    classify it.

    Args:
        path: where to write (default: a temporary file, deleted afterwards).

    Returns:
        ``(table read back, its probabilities, None)``, or ``(None, None, why)`` when
        fewer notes come back.
    """
    n = len(table)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(path) if path is not None else Path(tmp) / "flipped.mid"
        write_midi(table, out, overwrite=path is None)
        reparsed = read_midi(out)
    if len(reparsed) < n:
        return None, None, f"read back {len(reparsed)} notes < {n}"
    return reparsed[:n], predict_proba(model, reparsed[:n])[0], None


def optimize_delta(model, table: np.ndarray, target: int, settings: FlipSettings = FlipSettings(),
                   genres: tuple[str, ...] | list[str] | None = None) -> FlipResult:
    """Find a small, MIDI-legal change to ``table`` that makes ``model`` choose ``target``.

    Each step: project ``table + delta`` to MIDI (rows in read-back order), classify it,
    stop if the target logit beats every other by ``margin``; otherwise take a gradient
    step on the loss (straight through the rounding), normalised so the most sensitive
    coordinate moves ``lr`` scaled units, then soft-threshold ``delta / scale`` by
    ``lr * l1`` (the proximal step of the L1 term) and clip to legal ranges. After
    success, pruning restores changed notes one at a time (least costly first) while
    the target still wins by ``margin`` without them. See :class:`FlipSettings`.

    Args:
        model: Keras model taking raw note tables (batch, notes, 6) with a Dense layer
            named ``logits`` before its softmax.
        table: note table (notes, 6) in MIDI units.
        target: index of the target genre.
        settings: how to search.
        genres: genre names, only for :meth:`FlipResult.summary`.

    Returns:
        A :class:`FlipResult`.

    Raises:
        FlipError: a table of the wrong shape or a target out of range.
    """
    t0 = time.perf_counter()
    original = np.asarray(table, dtype=np.float32)
    if original.ndim != 2 or original.shape[1] != len(FEATURES):
        raise FlipError(f"note table must have shape (notes, {len(FEATURES)}), got {original.shape}")
    target = int(check_targets(target, 1, n_genres(model), FlipError)[0])
    base = project_to_midi(original)
    frames = _Frames(settings.record_every, settings.max_frames)
    steps, modified, z, success = _descend(model, base, target, settings, frames)
    if not success and settings.prune and _gap(z, target) >= settings.margin:
        success = True  # reached the margin, not the slack: still a success, prune what we can
    if success and settings.prune:
        modified, z = _prune(model, base, modified, target, settings.margin, steps, frames)
    reparsed, probs_reparsed, error = round_trip(model, modified) if settings.round_trip else (None, None, None)
    return FlipResult(
        original=original,
        base=base,
        modified=modified,
        target=target,
        steps=int(steps),
        success=bool(success),
        probs_before=predict_proba(model, original)[0],
        probs_after=softmax(z),
        trajectory_steps=np.asarray(frames.steps, dtype=int),
        trajectory_tables=np.stack(frames.tables),
        trajectory_probs=np.stack(frames.probs),
        trajectory_phase=tuple(frames.phase),
        reparsed=reparsed,
        probs_reparsed=probs_reparsed,
        round_trip_error=error,
        seconds=time.perf_counter() - t0,
        settings=settings,
        genres=tuple(genres) if genres is not None else None,
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
