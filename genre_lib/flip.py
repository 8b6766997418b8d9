"""Flip a file's genre with the smallest valid change (a counterfactual note table).
:func:`optimize_delta` takes projected gradient steps (the target's logit margin in scaled
units, an L1 proximal step) until every judge gives the target, prunes, and proves the
result by writing and re-reading the file; :func:`flip_file` flips a run's file and asks
second opinions. Frozen features (:data:`FROZEN`) never change."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .changes import change_by_feature, change_size, changed_mask, changed_notes, describe_changes, scale_vector
from .changes import seconds_touched
from .inference import check_targets, gradient, logits, n_genres, softmax
from .midi_io import (FEATURES, MIDI_MAX, MIDI_MIN, STEP, canonical_order, length_seconds, project_to_midi, read_back,
                      read_back_order)
from .verdicts import RNNVerdict
from .windows import cut_windows, onto_table

if TYPE_CHECKING:
    from .opinions import Opinions

#: Features the optimiser leaves alone by default: the drum flag (turning a drum hit
#: into a pitched note rewrites the arrangement). Instruments may change: some files a
#: model is sure are electronic do not flip with their synthesizer sounds frozen.
FROZEN: tuple[str, ...] = ("drum",)

#: extra margin the descent aims for when pruning follows, so pruning has room to restore notes
PRUNE_SLACK = 0.5


class FlipError(ValueError):
    """A flip that cannot be attempted (unknown genre or feature, wrong table shape, ...)."""


@dataclass(frozen=True)
class FlipSettings:
    """How :func:`optimize_delta` searches: ``l1`` (relative to the largest gradient),
    ``l2``, ``lr`` (scaled units), ``max_steps``, ``margin`` (logits), ``frozen`` features,
    ``anneal`` (fade L1 over 3/4 of the budget), ``prune``, ``round_trip``, the trajectory's
    ``record_every`` / ``max_frames`` and ``seed`` (tie-break noise)."""

    l1: float = 0.3
    l2: float = 0.0
    lr: float = 1.0
    max_steps: int = 400
    margin: float = 0.3
    frozen: tuple[str, ...] = FROZEN
    anneal: bool = True
    prune: bool = True
    round_trip: bool = True
    record_every: int = 1
    max_frames: int = 400
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "frozen", tuple(self.frozen))  # e.g. a list from argparse
        unknown = [f for f in self.frozen if f not in FEATURES]
        if unknown:
            raise FlipError(f"unknown feature(s) {unknown}; known: {', '.join(FEATURES)}")

    def to_dict(self) -> dict:
        """The settings as a JSON-able dict."""
        return {**asdict(self), "frozen": list(self.frozen)}


# --- what a judge makes of a table -------------------------------------------------------


def _vote_logits(judge: RNNVerdict, tables: Sequence[np.ndarray], like: tuple | None = None) -> np.ndarray:
    # like: (windows, logits) of a table the others mostly equal (pruning's trials): only changed windows run
    w = judge.windows(tables)
    if like is None:
        z = logits(judge.model, w.reshape(-1, *w.shape[2:])).reshape(*w.shape[:2], -1)
    else:
        ref_w, ref_z = like
        differs = (w != ref_w[None]).any(axis=(2, 3))
        z = np.broadcast_to(ref_z, (*w.shape[:2], ref_z.shape[-1])).copy()
        if differs.any():
            z[differs] = logits(judge.model, w[differs])
    return z.mean(axis=1)


def _objective(judge: RNNVerdict, table: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    # the vote's logits and the gradient of the target's margin, each window's added back onto its notes
    starts = judge.starts(len(table))
    windows = cut_windows(table, starts, judge.length)
    k = n_genres(judge.model)
    if len(starts) == 1:  # one window: the vote is the window
        z, g = gradient(judge.model, windows, target, "margin")
        zbar = z[0]
    elif k == 2:  # the margin of the mean is the mean of the windows' margins
        z, g = gradient(judge.model, windows, target, "margin")
        zbar = z.mean(axis=0)
        g = g * (1.0 / len(starts))
    else:
        zbar = logits(judge.model, windows).mean(axis=0)
        w = np.zeros(k)
        w[target] = 1.0
        w[int(np.argmax(np.where(np.arange(k) == target, -np.inf, zbar)))] = -1.0
        used = np.flatnonzero(w)
        _, gs = gradient(judge.model, np.tile(windows, (len(used), 1, 1)), np.repeat(used, len(starts)), "logit")
        g = np.tensordot(w[used], gs.reshape(len(used), len(starts), *gs.shape[1:]), axes=1) / len(starts)
    return zbar, onto_table(g, starts, len(table))


@dataclass(frozen=True, eq=False)
class FlipResult:
    """Everything a flip produced: the ``original`` table, ``base`` (its MIDI projection,
    changes are measured from it), the MIDI-legal ``modified`` table, the first judge's
    probabilities before and after, the ``trajectory_*`` frames, the re-read table and every
    judge's probabilities of it (None without a round trip: ``round_trip_error`` says why)."""

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
        """The genre names, or the indices as text."""
        return list(self.genres) if self.genres is not None else [str(i) for i in range(len(self.probs_before))]

    @property
    def flipped(self) -> bool:
        """The re-read file is classified as the target genre by every judge."""
        if self.judge_probs_reparsed is not None:
            return all(int(np.argmax(p)) == self.target for p in self.judge_probs_reparsed)
        return self.probs_reparsed is not None and int(np.argmax(self.probs_reparsed)) == self.target

    @cached_property
    def _size(self) -> dict:
        return change_size(self.base, self.modified)

    @property
    def l1(self) -> float:
        """Size of ``modified - base``, scaled units (:func:`change_size`)."""
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
        """Seconds during which a changed note sounds."""
        return seconds_touched(self.base, self.modified)

    @property
    def seconds_before(self) -> float:
        """Length of the table before the flip, in seconds."""
        return length_seconds(self.base)

    @property
    def seconds_after(self) -> float:
        """Length of the flipped table, in seconds."""
        return length_seconds(self.modified)

    @cached_property
    def changes(self) -> list[dict]:
        """:func:`describe_changes` of ``base`` vs ``modified``."""
        return describe_changes(self.base, self.modified)

    def summary(self) -> dict:
        """A JSON-able summary (probabilities keyed by genre name)."""

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


# --- the optimiser ----------------------------------------------------------------------


def _gap(z: np.ndarray, target: int) -> np.ndarray:
    return z[..., target] - np.delete(z, target, axis=-1).max(axis=-1)


class _Frames:
    # past max_frames every other frame is dropped (first and last kept): memory stays bounded

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


def _descend(judges: tuple[RNNVerdict, ...], base: np.ndarray, target: int, s: FlipSettings, frames: _Frames
             ) -> tuple[int, np.ndarray, np.ndarray, bool]:
    n = len(base)
    scale = scale_vector()
    mask = np.tile([float(f not in s.frozen) for f in FEATURES], (n, 1))
    mask[0, STEP] = 0.0
    base64 = base.astype(np.float64)
    u = np.zeros((n, len(FEATURES)))  # delta / scale
    goal = s.margin + (PRUNE_SLACK if s.prune else 0.0)
    rng = np.random.default_rng(s.seed)
    step, proj, zs, success = 0, base, None, False
    for step in range(s.max_steps + 1):
        proj = project_to_midi(base64 + u * scale)
        order = canonical_order(proj)
        shown = read_back_order(proj)
        found = [_objective(j, shown, target) for j in judges]
        zs = np.stack([z for z, _ in found])
        gaps = _gap(zs, target)
        success = bool((gaps >= goal).all())
        if step % frames.every == 0 or success or step == s.max_steps:
            frames.add(step, proj, zs[0], "optimize")
        if success or step == s.max_steps:
            break
        # straight through the reordering: row k of the read-back table is row order[k].
        # Only the judges not yet past the goal pull, and with several, each pulls as hard
        # as the others whatever the size of its gradients (one judge's is used as is)
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


def _likes(judges: tuple[RNNVerdict, ...], current: np.ndarray) -> list:
    # a trial that differs from current runs only the windows it changed (one-window judge: None, run all)
    now = [read_back_order(current)]
    return [None if j.protocol == "first100" else (j.windows(now)[0], logits(j.model, j.windows(now)[0]))
            for j in judges]


def _trial_gaps(judges: tuple[RNNVerdict, ...], likes: list, trials: np.ndarray, target: int
                ) -> tuple[np.ndarray, np.ndarray]:
    shown = [read_back_order(t) for t in trials]
    z_trials = np.stack([_vote_logits(j, shown, l) for j, l in zip(judges, likes)], axis=1)
    return _gap(z_trials, target).min(axis=1), z_trials


def _restored(current: np.ndarray, base: np.ndarray, notes: np.ndarray) -> np.ndarray:
    # a restored step shifts later onsets, hence the projection
    trials = np.repeat(current[None], len(notes), axis=0)
    trials[np.arange(len(notes)), notes] = base[notes]
    return np.stack([project_to_midi(t) for t in trials])


def _n_changed(tables: np.ndarray, base: np.ndarray) -> np.ndarray:
    return changed_mask(base, tables).sum(axis=-1)


def _greedy_restore(judges: tuple[RNNVerdict, ...], base: np.ndarray, current: np.ndarray, target: int,
                    margin: float) -> tuple[np.ndarray, np.ndarray | None]:
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


def _prune(judges: tuple[RNNVerdict, ...], base: np.ndarray, modified: np.ndarray, target: int, margin: float,
           step: int, frames: _Frames) -> tuple[np.ndarray, np.ndarray]:
    # best-first; greedy passes where the trials would exceed BEST_FIRST_ROWS rows
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
        zs = np.stack([_vote_logits(j, shown)[0] for j in judges])
    return current, zs


def optimize_delta(judge: RNNVerdict, table: np.ndarray, target: int, settings: FlipSettings = FlipSettings(),
                   also: Sequence[RNNVerdict] = ()) -> FlipResult:
    """A small, MIDI-legal change to ``table`` that makes ``judge`` (an
    :class:`~genre_lib.verdicts.RNNVerdict`, reading by its protocol) and every verdict of
    ``also`` choose ``target``: gradient steps, pruning, the round trip."""
    t0 = time.perf_counter()
    original = np.asarray(table, dtype=np.float32)
    judges = (judge, *also)
    if original.ndim != 2 or original.shape[1] != len(FEATURES):
        raise FlipError(f"note table must have shape (notes, {len(FEATURES)}), got {original.shape}")
    if len(original) < max(j.length for j in judges):
        raise FlipError(f"a table of {len(original)} notes is shorter than a window of "
                        f"{max(j.length for j in judges)} notes")
    target = int(check_targets(target, 1, n_genres(judge.model), FlipError)[0])
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
            by_judge = tuple(j.predict_proba([reparsed])[0] for j in judges)
    return FlipResult(
        original=original, base=base, modified=modified, target=target, steps=int(steps), success=bool(success),
        probs_before=judge.predict_proba([original])[0], probs_after=softmax(zs[0]),
        trajectory_steps=np.asarray(frames.steps, dtype=int), trajectory_tables=np.stack(frames.tables),
        trajectory_probs=np.stack(frames.probs), trajectory_phase=tuple(frames.phase),
        reparsed=reparsed, probs_reparsed=None if by_judge is None else by_judge[0], round_trip_error=error,
        seconds=time.perf_counter() - t0, settings=settings, genres=tuple(judge.classes_),
        judges=tuple(f"{j.name}/{j.protocol}" for j in judges), judge_probs_reparsed=by_judge,
    )


def flip_summary(results: Sequence[FlipResult]) -> dict:
    """What a set of flips did: ``n``, the share flipped after and before the round
    trip, notes changed, median ``l1`` and each feature's ``share_of_change``."""
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


# --- one file flipped by a run, and asked about -------------------------------------------


@dataclass(frozen=True, eq=False)
class FileFlip:
    """A flip of one file by a run's network (:func:`flip_file`): the file's path and
    whole table, the notes optimised, the ``protocol``, the :class:`FlipResult` and the
    panel's :class:`~genre_lib.opinions.Opinions` (None when the flip did not survive)."""

    file: str | None
    whole: np.ndarray
    table: np.ndarray
    protocol: str
    result: FlipResult
    opinions: "Opinions | None"
    plausibility_problem: str | None = None

    @property
    def flipped(self) -> bool:
        """The flip holds after the MIDI round trip."""
        return self.result.flipped

    def to_dict(self, out: str | Path | None = None) -> dict:
        """A JSON-able report: the summary, the file, where the flipped file was written,
        seconds, protocol and the second opinions."""
        report = self.result.summary()
        report.update({"file": self.file, "out": str(out) if out is not None and self.flipped else None,
                       "seconds": round(self.result.seconds, 3), "protocol": self.protocol})
        if self.plausibility_problem is not None:
            report["plausibility_problem"] = self.plausibility_problem
        if self.opinions is not None:
            report["opinions"] = self.opinions.to_dict()
        return report


def _runs_once(run, convince: Sequence, asked: Sequence) -> tuple[list, int]:
    # each folder loaded once, never run itself; convince's first
    from .runs import Run, RunError, load_run

    others, seen, n_convince = [], {Path(run.path).resolve()}, 0
    for k, other in enumerate([*convince, *asked]):
        path = Path(other.path if isinstance(other, Run) else other)
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        n_convince += k < len(convince)
        if not isinstance(other, Run):
            try:
                other = load_run(path)
            except (RunError, OSError) as exc:
                raise RunError(f"{path}: cannot load run: {exc}") from exc
        if tuple(other.genres) != tuple(run.genres):
            raise RunError(f"{path}: genres {list(other.genres)} differ from the run's {list(run.genres)}")
        others.append(other)
    return others, n_convince


def flip_file(run, file: str | Path | np.ndarray, target: int, settings: FlipSettings = FlipSettings(),
              protocol: str = "first100", convince: Sequence = (), asked: Sequence | None = None,
              file_windows: int | None = None) -> FileFlip:
    """Flip one file (a path or a whole table) to ``target`` for ``run``'s network under
    ``protocol``, convincing the networks of ``convince`` too, then ask the panel
    (:meth:`genre_lib.opinions.Panel.of_run`) about the whole file with the flipped notes.

    Raises:
        RunError, MidiError, FlipError, OpinionError: another run, the file, the target, or
        the round trip of the flipped file."""
    from . import plausibility
    from .dataset import check_usable
    from .midi_io import read_midi
    from .opinions import Panel, ask, other_rnns
    from .protocols import check_protocol
    from .runs import seed_siblings

    try:
        check_protocol(protocol)
    except ValueError as exc:
        raise FlipError(str(exc)) from None
    others, n_convince = _runs_once(run, convince, seed_siblings(run.path) if asked is None else asked)
    if isinstance(file, np.ndarray):
        name, whole = None, np.asarray(file, dtype=np.float32)
    else:
        name, whole = str(file), read_midi(file)
    check_usable(whole, name or "the note table", run.max_notes)
    table = whole if protocol == "file" else whole[: run.max_notes]
    windows = int(file_windows or run.meta["file_windows"])
    judge = run.verdict("rnn", protocol, windows)
    target = int(check_targets(target, 1, len(run.genres), FlipError)[0])
    probs = judge.predict_proba([table])[0]
    if int(probs.argmax()) == target:
        how = "its vote of windows" if protocol == "file" else "its first notes"
        raise FlipError(f"{name or 'the note table'}: already classified as {run.genres[target]} by {how} "
                        f"(p={probs[target]:.2f}); nothing to flip")
    result = optimize_delta(judge, table, target, settings, other_rnns(run, others[:n_convince], protocol, windows))
    opinions, problem = None, None
    if result.reparsed is not None:
        try:
            measures = plausibility.load(run.path)
        except plausibility.PlausibilityError as exc:
            measures, problem = (), str(exc)
        opinions = ask(Panel.of_run(run, others, measures, windows), whole, result)
    return FileFlip(name, whole, table, protocol, result, opinions, problem)
