"""Flip a file's genre with the smallest valid change (a counterfactual note table).

The question a flip answers: *which few notes would have to change, and how, for the
classifier to call this file the other genre?* We optimise an additive ``delta`` on the
(100, 6) note table with TensorFlow's ``GradientTape``:

* **Loss**: a logit margin on the target genre (or cross-entropy), plus
  ``l1 * |delta / scale|_1 + l2 * |delta / scale|_2^2``. ``scale`` (:data:`SCALES`)
  makes the features comparable: 1 semitone of pitch, 1/16 note (0.125 s at 120 bpm) of
  step or duration, 8 steps of velocity, 8 programs (one General MIDI family) each
  count as one unit. Reported sizes (``l1``, ``l2``) are in these *scaled units*.
* **Sparsity**: the L1 term is applied as a proximal step (soft-thresholding), which
  sets small changes to exactly zero; afterwards a pruning pass restores every changed
  note whose change is not needed for the target to keep winning.
* **Valid music**: every forward pass classifies :func:`project_to_midi` of the table
  (integer pitches and velocities, times on the MIDI tick grid, ...), as
  :func:`genre_lib.midi_io.read_midi` would read it back (:func:`read_back_order`).
  Gradients pass straight through the rounding (straight-through estimator), so the
  optimiser "sees" the continuous delta while the stopping test sees the MIDI file.
* **Proof by round trip**: the result is written with :func:`~genre_lib.midi_io.write_midi`,
  read back with :func:`~genre_lib.midi_io.read_midi` (first 100 notes) and classified
  again; :attr:`FlipResult.flipped` is true only if *that* reading is the target genre.

Frozen features (by default ``drum`` and ``program``, which name instruments rather
than what is played) get zero delta, and so does the first note's step (a MIDI file
read back always starts its note table at step 0).

``project_to_midi`` lives here and only here: it is the one definition of "a note table
MIDI can hold".
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .midi_io import (
    DRUM,
    DURATION,
    FEATURES,
    PITCH,
    PROGRAM,
    STEP,
    TIME_RESOLUTION,
    VELOCITY,
    read_midi,
    write_midi,
)
from .model import CompiledCache, logits_model

#: Size of one "unit" of change per feature, so semitones and seconds are comparable:
#: a semitone, a 1/16 note at 120 bpm, 8 velocity steps (about half a dynamic level),
#: the drum flag itself, and one General MIDI family of 8 programs.
SCALES: dict[str, float] = {
    "pitch": 1.0,
    "step": 0.125,
    "duration": 0.125,
    "velocity": 8.0,
    "drum": 1.0,
    "program": 8.0,
}

#: Default hyperparameters, measured with ``benchmarks/bench_flip.py`` on the committed
#: model ``models/jazz-electronic`` and all 203 of its held-out test files (83
#: electronic, 120 jazz): 100% flipped after the MIDI round trip, median 2 of 100 notes
#: changed (max 76), median 0.21 s per flip (max 3.0 s) on 2 shared CPU cores. With
#: instruments frozen as well (``frozen=("drum", "program")``) 96.1% flip (electronic
#: 90.4%, jazz 100%), median 3 notes changed: some files the model is sure are
#: electronic do not flip without changing their synthesizer sounds.
DEFAULTS: dict[str, float | int | str] = {
    "l1": 0.3,
    "l2": 0.0,
    "lr": 1.0,
    "max_steps": 400,
    "margin": 0.3,
    "loss": "margin",
    "prune_slack": 0.5,
}

#: Features the optimizer leaves alone by default. The drum flag: turning a drum hit into
#: a pitched note (or back) rewrites the arrangement rather than the notes. Instruments
#: (program) may change by default: on the committed real model, 8 of its 83 held-out
#: electronic files do not flip with their synthesizer sounds frozen (see
#: benchmarks/bench_flip.py); pass ``frozen=("drum", "program")`` to keep them.
FROZEN: tuple[str, ...] = ("drum",)

_LOW = np.array([0.0, 0.0, TIME_RESOLUTION, 1.0, 0.0, 0.0])
_HIGH = np.array([127.0, np.inf, np.inf, 127.0, 1.0, 127.0])


class FlipError(ValueError):
    """A flip that cannot be attempted (unknown genre, wrong table shape, ...)."""


# ---------------------------------------------------------------------------------------
# Projection to what a MIDI file can hold
# ---------------------------------------------------------------------------------------


def project_to_midi(table: np.ndarray) -> np.ndarray:
    """Round and clip a note table to values a MIDI file written by
    :func:`~genre_lib.midi_io.write_midi` holds exactly, keeping the row order.

    * pitch, velocity, program: integers, pitch and program 0-127, velocity 1-127;
    * drum: 0 or 1 (threshold 0.5); drum notes get program 0, as when read back;
    * step: onsets (the running sum of steps) are rounded to the tick grid
      (:data:`~genre_lib.midi_io.TIME_RESOLUTION` s), steps below 0 become 0 and the
      first note's step is 0 (a file read back starts at its first note);
    * duration: rounded to the tick grid, at least one tick, and cut where the next
      note of the same key (instrument and pitch) starts: MIDI cannot hold two
      overlapping notes of one key unambiguously (see :func:`_no_same_key_overlap`).

    Rounding *onsets* rather than each step keeps the timing error below half a tick
    however long the file, exactly as writing the file does. The function is idempotent:
    ``project_to_midi(project_to_midi(t))`` equals ``project_to_midi(t)``.

    Returns:
        A new float32 table of the same shape.
    """
    t = np.array(table, dtype=np.float64, copy=True)
    if t.ndim != 2 or t.shape[1] != len(FEATURES):
        raise FlipError(f"note table must have shape (notes, {len(FEATURES)}), got {t.shape}")
    t[:, DRUM] = (t[:, DRUM] >= 0.5).astype(np.float64)
    for col in (PITCH, VELOCITY, PROGRAM):
        t[:, col] = np.clip(np.round(t[:, col]), _LOW[col], _HIGH[col])
    t[t[:, DRUM] == 1.0, PROGRAM] = 0.0
    step = np.maximum(t[:, STEP], 0.0)
    if len(step):
        step[0] = 0.0
    ticks = np.round(np.cumsum(step) / TIME_RESOLUTION)
    # np.round of a running sum is non-decreasing, so steps stay >= 0
    t[:, STEP] = np.diff(ticks, prepend=ticks[:1]) * TIME_RESOLUTION
    dur = np.maximum(np.round(t[:, DURATION] / TIME_RESOLUTION), 1.0)
    t[:, DURATION] = _no_same_key_overlap(ticks, dur, t[:, DRUM], t[:, PROGRAM], t[:, PITCH]) * TIME_RESOLUTION
    return t.astype(np.float32)


def _no_same_key_overlap(onset, dur, drum, program, pitch) -> np.ndarray:
    """Durations (ticks) cut so that no two notes of one key (same instrument, same
    pitch) overlap: a note ends at the latest where the next note of its key starts, and
    notes of one key starting together end together (at the earliest of their ends).

    MIDI pairs note-offs with note-ons by key alone, so overlapping notes of one key are
    ambiguous: readers pair them differently (pretty_midi ends every open note of the
    key at the first note-off, symusic the oldest one), and the flipped file would not
    hold the table the model was shown.
    """
    n = len(onset)
    if n < 2:
        return dur
    order = np.lexsort((onset, pitch, program, drum))
    o, d = onset[order], dur[order].copy()
    key = np.stack([drum[order], program[order], pitch[order]], axis=1)
    same_key = np.r_[False, (key[1:] == key[:-1]).all(axis=1)]
    new_cluster = ~(same_key & np.r_[False, o[1:] == o[:-1]])  # (key, onset) changes
    starts = np.nonzero(new_cluster)[0]
    cluster = np.cumsum(new_cluster) - 1
    # onset of the next cluster of the same key (inf where the key ends)
    nxt = np.full(len(starts), np.inf)
    follows = same_key[starts[1:]]
    nxt[:-1][follows] = o[starts[1:]][follows]
    d = np.minimum(d, nxt[cluster] - o)
    d = np.minimum.reduceat(d, starts)[cluster]
    out = np.empty_like(dur)
    out[order] = d
    return out


def canonical_order(table: np.ndarray) -> np.ndarray:
    """Row order in which :func:`~genre_lib.midi_io.read_midi` returns the notes of a
    (projected) table once written: by onset, then pitch, drum, program, duration,
    velocity. Notes only swap places inside chords (same onset).

    Returns:
        An index array; the rows of ``table[canonical_order(table)]`` are in the order
        read back (see :func:`read_back_order` for the steps).
    """
    t = np.asarray(table, dtype=np.float64)
    ticks = np.round(np.cumsum(np.maximum(t[:, STEP], 0.0)) / TIME_RESOLUTION)
    dur_ticks = np.round(t[:, DURATION] / TIME_RESOLUTION)
    return np.lexsort((t[:, VELOCITY], dur_ticks, t[:, PROGRAM], t[:, DRUM], t[:, PITCH], ticks))


def read_back_order(table: np.ndarray) -> np.ndarray:
    """The table as :func:`~genre_lib.midi_io.read_midi` returns it once written: rows in
    :func:`canonical_order`, steps recomputed from the onsets (a note moved inside a
    chord takes the chord's step). For a projected table this equals writing and
    reading the file, without touching the disk; it is what the model is shown.
    """
    t = np.asarray(table, dtype=np.float32)
    order = canonical_order(t)
    ticks = np.round(np.cumsum(np.maximum(t[:, STEP].astype(np.float64), 0.0)) / TIME_RESOLUTION)[order]
    out = t[order].copy()
    out[:, STEP] = (np.diff(ticks, prepend=ticks[:1]) * TIME_RESOLUTION).astype(np.float32)
    return out


def _is_midi_legal(table: np.ndarray) -> bool:
    """True when ``table`` already equals its projection (used by tests and checks)."""
    return bool(np.array_equal(project_to_midi(table), np.asarray(table, dtype=np.float32)))


# ---------------------------------------------------------------------------------------
# Describing a change
# ---------------------------------------------------------------------------------------


def _scale_vector(features: Sequence[str] = FEATURES) -> np.ndarray:
    return np.array([SCALES[f] for f in features], dtype=np.float64)


def change_size(original: np.ndarray, modified: np.ndarray) -> dict:
    """How big the change from ``original`` to ``modified`` is (full 6-column tables).

    Returns:
        ``l1``: sum of |change / scale| over all notes and features (scaled units, see
        :data:`SCALES`); ``l2``: the Euclidean norm of change / scale (not squared);
        ``notes_changed``: notes with at least one feature changed; ``units``: a
        reminder of the scales.
    """
    diff = (np.asarray(modified, np.float64) - np.asarray(original, np.float64)) / _scale_vector()
    diff[np.abs(diff) < 1e-6] = 0.0  # float32 storage noise is not a change
    return {
        "l1": float(np.abs(diff).sum()),
        "l2": float(np.sqrt((diff**2).sum())),
        "notes_changed": int((diff != 0).any(axis=1).sum()),
        "units": "scaled: " + ", ".join(f"{f}/{s:g}" for f, s in SCALES.items()),
    }


def _describe_one(feature: str, before: float, after: float) -> str:
    d = after - before
    if feature == "pitch":
        return f"pitch {d:+.0f} semitone{'s' if abs(d) != 1 else ''} ({before:.0f} -> {after:.0f})"
    if feature == "velocity":
        return f"velocity {d:+.0f} ({before:.0f} -> {after:.0f})"
    if feature in ("step", "duration"):
        ratio = f"x{after / before:.2g}, " if before > 0 else ""
        return f"{feature} {ratio}{d * 1000:+.0f} ms ({before:.3f} s -> {after:.3f} s)"
    if feature == "drum":
        return "moved to the drum track" if after >= 0.5 else "moved off the drum track"
    if feature == "program":
        import pretty_midi

        name = pretty_midi.program_to_instrument_name(int(after))
        return f"program {before:.0f} -> {after:.0f} ({name})"
    return f"{feature} {before:g} -> {after:g}"


def describe_changes(
    original: np.ndarray, modified: np.ndarray, features: Sequence[str] = FEATURES
) -> list[dict]:
    """Every (note, feature) whose value differs between two note tables of the same
    notes (rows matched by position), in note order.

    Args:
        original, modified: note tables with the same shape, columns ``features``.
        features: column names.

    Returns:
        One dict per change: ``note`` (row index), ``feature``, ``before``, ``after``,
        ``delta`` (after - before) and ``text``, e.g. ``"pitch +3 semitones (60 -> 63)"``
        or ``"duration x1.8, +100 ms (0.125 s -> 0.225 s)"``. ``pandas.DataFrame(...)``
        turns it into a table.
    """
    a = np.asarray(original, dtype=np.float64)
    b = np.asarray(modified, dtype=np.float64)
    if a.shape != b.shape:
        raise FlipError(f"tables differ in shape: {a.shape} vs {b.shape}")
    out = []
    for i, k in zip(*np.nonzero(np.abs(b - a) > 1e-6)):
        name = features[k]
        out.append(
            {
                "note": int(i),
                "feature": name,
                "before": float(np.float32(a[i, k])),
                "after": float(np.float32(b[i, k])),
                "delta": float(np.float32(b[i, k] - a[i, k])),
                "text": _describe_one(name, float(a[i, k]), float(b[i, k])),
            }
        )
    return out


# ---------------------------------------------------------------------------------------
# The optimiser
# ---------------------------------------------------------------------------------------


@dataclass
class FlipResult:
    """Everything a flip produced.

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
        reparsed: ``modified`` written to MIDI and read back (first 100 notes), or None
            if the round trip failed (see ``round_trip_error``).
        probs_reparsed: probabilities of ``reparsed``.
        flipped: the re-read file is classified as the target genre.
        trajectory_steps, trajectory_tables, trajectory_probs: the projected table and
            the genre probabilities at each recorded step (``model(read_back_order(table))``);
            frames after the last optimiser step come from pruning (``trajectory_phase``).
        l1, l2, notes_changed: size of ``modified - base`` (see :func:`change_size`).
        changes: :func:`describe_changes` of ``base`` vs ``modified``.
        seconds: wall time of the optimisation and round trip.
        params: hyperparameters used.
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
    trajectory_phase: list[str]
    l1: float
    l2: float
    notes_changed: int
    changes: list[dict]
    params: dict
    reparsed: np.ndarray | None = None
    probs_reparsed: np.ndarray | None = None
    flipped: bool = False
    round_trip_error: str | None = None
    seconds: float = 0.0
    genres: tuple[str, ...] | None = field(default=None)

    def summary(self) -> dict:
        """A JSON-able summary (probabilities keyed by genre name when known)."""

        def named(p):
            if p is None:
                return None
            names = self.genres or tuple(str(i) for i in range(len(p)))
            return {g: round(float(v), 6) for g, v in zip(names, p)}

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
            "size_units": change_size(self.base, self.modified)["units"],
            "notes_changed": int(self.notes_changed),
            "changes": [{k: c[k] for k in ("note", "feature", "before", "after", "text")} for c in self.changes],
            "round_trip_error": self.round_trip_error,
            "params": self.params,
        }


class _Scorer:
    """Compiled logits and gradients of one model, reused across flips of that model."""

    _cache = CompiledCache(size=4)

    def __init__(self, model, cols: np.ndarray, n_notes: int) -> None:
        import tensorflow as tf

        self.model = model
        self.lm = logits_model(model)
        self.cols = tf.constant(cols, dtype=tf.int32)
        n_feat = len(FEATURES)
        lm, cols_t = self.lm, self.cols

        @tf.function(
            input_signature=[
                tf.TensorSpec([n_notes, n_feat], tf.float32),
                tf.TensorSpec([n_notes, n_feat], tf.float32),
                tf.TensorSpec([n_notes], tf.int32),
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([], tf.float32),
                tf.TensorSpec([], tf.bool),
            ],
            reduce_retracing=True,
        )
        def grad(z, projected_sorted, order, target, kappa, use_ce):
            with tf.GradientTape() as tape:
                tape.watch(z)
                zs = tf.gather(z, order)
                # straight-through: the forward pass sees the projected table,
                # the gradient flows to the continuous one
                x = zs + tf.stop_gradient(projected_sorted - zs)
                logits = lm(tf.gather(x, cols_t, axis=1)[None], training=False)[0]
                other = tf.reduce_max(tf.tensor_scatter_nd_update(logits, [[target]], [-1e9]))
                gap = logits[target] - other
                ce = -tf.nn.log_softmax(logits)[target]
                loss = tf.where(use_ce, ce, tf.nn.relu(kappa - gap))
            return logits, tf.convert_to_tensor(tape.gradient(loss, z))

        @tf.function(reduce_retracing=True)
        def logits_batch(x):
            return lm(tf.gather(x, cols_t, axis=2), training=False)

        self.grad = grad
        self.logits_batch = logits_batch

    @classmethod
    def get(cls, model, cols: np.ndarray, n_notes: int) -> "_Scorer":
        return cls._cache.get(model, lambda: cls(model, cols, n_notes), tuple(cols), n_notes)

    def logits(self, tables: np.ndarray) -> np.ndarray:
        """Logits of full-column tables (n, notes, 6), rows taken as given."""
        return self.logits_batch(np.asarray(tables, np.float32)).numpy()


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _gap(logits: np.ndarray, target: int) -> np.ndarray:
    """Target logit minus the best other logit (positive: the target wins)."""
    other = np.delete(logits, target, axis=-1).max(axis=-1)
    return logits[..., target] - other


def classify(model, tables: np.ndarray, features: Sequence[str] = FEATURES) -> np.ndarray:
    """Genre probabilities of one table (notes, 6) or a batch (n, notes, 6), rows as given."""
    t = np.asarray(tables, np.float32)
    single = t.ndim == 2
    t = t[None] if single else t
    cols = np.array([FEATURES.index(f) for f in features])
    p = _softmax(_Scorer.get(model, cols, t.shape[1]).logits(t).astype(np.float64))
    return p[0] if single else p


def optimize_delta(
    model,
    table: np.ndarray,
    target: int,
    *,
    l1: float = DEFAULTS["l1"],
    l2: float = DEFAULTS["l2"],
    lr: float = DEFAULTS["lr"],
    max_steps: int = DEFAULTS["max_steps"],
    margin: float = DEFAULTS["margin"],
    loss: str = DEFAULTS["loss"],
    frozen: Sequence[str] = FROZEN,
    features: Sequence[str] = FEATURES,
    anneal: bool = True,
    prune: bool = True,
    prune_slack: float = DEFAULTS["prune_slack"],
    round_trip: bool = True,
    record_every: int = 1,
    max_frames: int = 400,
    genres: Sequence[str] | None = None,
    seed: int = 0,
) -> FlipResult:
    """Find a small, MIDI-legal change to ``table`` that makes ``model`` choose ``target``.

    Each step: project ``table + delta`` to MIDI (:func:`project_to_midi`, rows in
    read-back order), classify it, stop if the target logit beats every other by
    ``margin``; otherwise take a gradient step on the loss (straight through the
    rounding), normalised so the most sensitive coordinate moves ``lr`` scaled units,
    then soft-threshold ``delta / scale`` by ``lr * l1`` (the proximal step of the L1
    term: a coordinate only grows if its gradient exceeds ``l1`` times the largest one)
    and clip to legal ranges. After success, ``prune`` restores changed notes one at a
    time (least changed first) whenever the target still wins by ``margin`` without them.

    Args:
        model: Keras model taking raw note tables (batch, notes, len(features)) with a
            Dense layer named ``logits`` before its softmax.
        table: note table (notes, 6) in MIDI units, all six columns.
        target: index of the target genre.
        l1: L1 weight (relative gradient threshold, see above); larger = sparser,
            but more steps.
        l2: weight of |delta/scale|_2^2 in the smooth loss (0: off).
        lr: step size in scaled units (semitones, 1/16 notes, ...) per step.
        max_steps: step budget; without success the result has ``success=False``.
        margin: logit margin the target must win by, after projection. In a two-genre
            model, margin 1.0 means a target probability of at least 0.73, the default
            0.3 at least 0.57.
        loss: ``"margin"`` (hinge on the logit gap, stops pushing once past the margin)
            or ``"ce"`` (cross-entropy on the target).
        frozen: features that never change.
        features: the model's input columns (a subset of FEATURES, in order).
        prune: run the pruning pass after success.
        round_trip: write the result to MIDI, read it back and classify it (sets
            ``reparsed``, ``probs_reparsed``, ``flipped``).
        record_every: keep one trajectory frame every this many steps (first and last
            always kept); at most ``max_frames`` frames are kept (bounded memory).
        genres: genre names, only for :meth:`FlipResult.summary`.
        seed: seed of the tiny random tie-break noise added to the first step, so a
            coordinate with exactly zero gradient is still chosen reproducibly.

    Returns:
        A :class:`FlipResult`.
    """
    t0 = time.perf_counter()
    original = np.asarray(table, dtype=np.float32)
    if original.ndim != 2 or original.shape[1] != len(FEATURES):
        raise FlipError(f"note table must have shape (notes, {len(FEATURES)}), got {original.shape}")
    unknown = [f for f in list(frozen) + list(features) if f not in FEATURES]
    if unknown:
        raise FlipError(f"unknown feature(s) {unknown}; known: {', '.join(FEATURES)}")
    if loss not in ("margin", "ce"):
        raise FlipError(f"loss must be 'margin' or 'ce', got {loss!r}")
    n = len(original)
    cols = np.array([FEATURES.index(f) for f in features])
    scorer = _Scorer.get(model, cols, n)
    n_genres = int(scorer.logits(original[None]).shape[-1])
    if not 0 <= int(target) < n_genres:
        raise FlipError(f"target {target} out of range for {n_genres} genres")
    target = int(target)
    rng = np.random.default_rng(seed)

    scale = _scale_vector()
    mask = np.ones((n, len(FEATURES)))
    for f in frozen:
        mask[:, FEATURES.index(f)] = 0.0
    for k in range(len(FEATURES)):
        if k not in cols:  # the model cannot see it: changing it cannot help
            mask[:, k] = 0.0
    mask[0, STEP] = 0.0

    base = project_to_midi(original)
    base64 = base.astype(np.float64)
    u = np.zeros((n, len(FEATURES)))  # delta / scale
    # aim a little past the stopping point so rounding does not undo the last step
    kappa = np.float32(margin + (prune_slack if prune else 0.0) + 0.25)

    frames_steps: list[int] = []
    frames_tables: list[np.ndarray] = []
    frames_probs: list[np.ndarray] = []
    frames_phase: list[str] = []
    every = max(1, int(record_every))

    def record(step: int, tab: np.ndarray, logits: np.ndarray, phase: str) -> None:
        nonlocal every
        frames_steps.append(step)
        frames_tables.append(tab)
        frames_probs.append(_softmax(logits.astype(np.float64)))
        frames_phase.append(phase)
        if len(frames_steps) > max_frames:  # thin out: keep every other frame
            for lst in (frames_steps, frames_tables, frames_probs, frames_phase):
                del lst[1:-1:2]
            every *= 2

    success = False
    step = 0
    last = None
    for step in range(max_steps + 1):
        proj = project_to_midi(base64 + u * scale)
        order = canonical_order(proj)
        logits, g = scorer.grad(
            (base64 + u * scale).astype(np.float32), read_back_order(proj), order.astype(np.int32),
            np.int32(target), kappa, np.bool_(loss == "ce"),
        )
        logits = logits.numpy()
        success = bool(_gap(logits, target) >= margin + (prune_slack if prune else 0.0))
        last = (step, proj, logits)
        if step % every == 0 or success or step == max_steps:
            record(step, proj, logits, "optimize")
        if success or step == max_steps:
            break
        gu = g.numpy().astype(np.float64) * scale * mask  # gradient w.r.t. delta / scale
        if l2:
            gu = gu + 2.0 * l2 * u * mask
        if step == 0:
            gu = gu + 1e-9 * rng.standard_normal(gu.shape) * mask
        # coordinates pinned at a bound and pushed outwards cannot move: leaving them
        # out of the normalisation keeps them from stalling every other coordinate
        x = base64 + u * scale
        free = ~(((x <= _LOW) & (gu > 0)) | ((x >= _HIGH) & (gu < 0)))
        gu = gu * free
        top = np.abs(gu).max()
        if not np.isfinite(top) or top == 0:
            break  # flat: nothing to follow
        u = u - lr * gu / top
        # the L1 weight fades out over the first 3/4 of the budget: early steps stay
        # sparse, late ones may use any coordinate rather than fail (pruning cleans up)
        l1_now = l1 * max(0.0, 1.0 - step / (0.75 * max_steps)) if anneal else l1
        u = np.sign(u) * np.maximum(np.abs(u) - lr * l1_now, 0.0)
        u = (np.clip(base64 + u * scale, _LOW, _HIGH) - base64) / scale * mask
    steps_taken, modified, logits_mod = last

    if not success and prune and _gap(logits_mod, target) >= margin:
        success = True  # reached the margin, not the slack: still a success, prune what we can
    if success and prune:
        modified, logits_mod = _prune(scorer, base, modified, target, margin, steps_taken, record)

    probs_before = _softmax(scorer.logits(original[None])[0].astype(np.float64))
    size = change_size(base, modified)
    result = FlipResult(
        original=original,
        base=base,
        modified=modified,
        target=target,
        steps=int(steps_taken),
        success=bool(success),
        probs_before=probs_before,
        probs_after=_softmax(logits_mod.astype(np.float64)),
        trajectory_steps=np.asarray(frames_steps, dtype=int),
        trajectory_tables=np.stack(frames_tables),
        trajectory_probs=np.stack(frames_probs),
        trajectory_phase=frames_phase,
        l1=size["l1"],
        l2=size["l2"],
        notes_changed=size["notes_changed"],
        changes=describe_changes(base, modified),
        params={
            "l1": l1, "l2": l2, "lr": lr, "max_steps": max_steps, "margin": margin, "loss": loss,
            "frozen": list(frozen), "anneal": anneal, "prune": prune, "prune_slack": prune_slack, "seed": seed,
        },
        genres=tuple(genres) if genres is not None else None,
    )
    if round_trip:
        check_round_trip(model, result, features=features)
    result.seconds = time.perf_counter() - t0
    return result


def _prune(scorer, base, modified, target, margin, step, record):
    """Best-first pruning: repeatedly restore the changed note whose restoration costs
    the least target margin, while the target keeps winning by ``margin``."""
    current = modified.copy()
    cur_logits = None
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
        ordered = np.stack([read_back_order(t) for t in trials])
        lg = scorer.logits(ordered)
        gaps = np.where(fewer, _gap(lg, target), -np.inf)
        best = int(np.argmax(gaps))
        if gaps[best] < margin:
            break
        current, cur_logits = trials[best], lg[best]
        record(step, current, cur_logits, "prune")
    if cur_logits is None:
        cur_logits = scorer.logits(read_back_order(current)[None])[0]
    return current, cur_logits


def check_round_trip(model, result: FlipResult, features: Sequence[str] = FEATURES, path=None) -> FlipResult:
    """Write ``result.modified`` to MIDI, read it back (first notes, as many as the
    table has), classify it and set ``reparsed``, ``probs_reparsed`` and ``flipped``.

    Args:
        path: where to write (default: a temporary file, deleted afterwards).
    """
    n = len(result.modified)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(path) if path is not None else Path(tmp) / "flipped.mid"
        write_midi(result.modified, out, overwrite=path is None)
        table = read_midi(out)
    if len(table) < n:
        result.round_trip_error = f"read back {len(table)} notes < {n}"
        result.flipped = False
        return result
    result.reparsed = table[:n]
    result.probs_reparsed = classify(model, result.reparsed, features)
    result.flipped = bool(int(np.argmax(result.probs_reparsed)) == result.target)
    return result
