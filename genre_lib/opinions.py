"""Second opinions on a flip: does anyone besides the network it fooled agree?

A flip (:mod:`genre_lib.flip`) is valid when the network it was optimised against
changes its mind on the file read back from MIDI. That is a fact about one network and
the notes it reads. This module asks a *panel* about the flipped file, the rest of the
file kept:

* every verdict of the run (:meth:`genre_lib.runs.Run.verdicts`: its RNN, its baseline,
  the two combined) and networks trained with other seeds on the same files, each
  under both protocols (the first 100 notes, the vote of windows over the whole file);
* the plausibility measure (:mod:`genre_lib.plausibility`): is the file nearer to real
  files of the target genre than to those of its own, before and after;
* its length in seconds, before and after (a flip that stretches a step lengthens
  everything after it).

A judge *agrees* with a flip when it gives the target genre the highest probability on
the flipped file as written and read back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from .flip import FlipError, FlipResult, FlipSettings, Judge, optimize_delta, read_back
from .inference import check_targets
from .midi_io import length_seconds, project_to_midi
from .plausibility import Plausibility
from .protocols import PROTOCOLS
from .verdicts import RNNVerdict


class OpinionError(ValueError):
    """A flip that cannot be judged (its file does not survive the round trip, ...)."""


@dataclass(frozen=True, eq=False)
class Panel:
    """Who is asked about a flip: verdicts with distinct names (each with
    ``predict_proba(tables, protocol)``, :mod:`genre_lib.verdicts`) and, optionally,
    a plausibility measure."""

    verdicts: tuple
    genres: tuple[str, ...]
    plausibility: Plausibility | None = None

    def __post_init__(self) -> None:
        names = [v.name for v in self.verdicts]
        if len(set(names)) != len(names):
            raise ValueError(f"a panel's verdicts need distinct names, got {names}")

    @classmethod
    def of_run(cls, run, others: Sequence = (), plausibility: Plausibility | None = None,
               file_windows: int | None = None) -> "Panel":
        """A run's verdicts, then the RNN of each run of ``others`` (named
        ``rnn-seed<N>`` by its seed, or by its folder where seeds repeat), every
        network voting with ``file_windows`` windows (default: the run's).

        Raises:
            ValueError: another run has other genres than ``run``.
        """
        windows = int(file_windows or run.meta["file_windows"])
        verdicts = list(run.verdicts(windows))
        taken = {v.name for v in verdicts}
        for other in others:
            if tuple(other.genres) != tuple(run.genres):
                raise ValueError(f"{other.path}: genres {other.genres} differ from {run.path}'s {run.genres}")
            name = f"rnn-seed{other.meta.get('seed')}"
            name = name if name not in taken else f"rnn-{other.path.name}"
            taken.add(name)
            verdicts.append(RNNVerdict(other.model, tuple(other.genres), windows, name=name))
        return cls(tuple(verdicts), tuple(run.genres), plausibility)

    def judge(self, table: np.ndarray) -> dict:
        """Every verdict's probabilities of one whole table under both protocols,
        ``{name: {protocol: (genres,)}}``, and the plausibility's ``score`` and
        ``typicality`` under both (``{protocol: (genres,)}``) when there is one."""
        out = {"verdicts": {v.name: {p: v.predict_proba([table], p)[0] for p in PROTOCOLS} for v in self.verdicts}}
        if self.plausibility is not None:
            out["score"] = {p: self.plausibility.score([table], p)[0] for p in PROTOCOLS}
            out["typicality"] = {p: self.plausibility.typicality([table], p)[0] for p in PROTOCOLS}
        return out


def whole_modified(whole: np.ndarray, result: FlipResult) -> np.ndarray:
    """The whole file with a flip's notes in place: the flipped rows (the first
    ``len(result.modified)`` notes) followed by the rest of ``whole``, projected to
    MIDI. The rest keeps its steps, so it follows the flipped notes as it followed
    the original ones (a stretched excerpt pushes it later)."""
    whole = np.asarray(whole, dtype=np.float32)
    n = len(result.modified)
    if len(whole) < n:
        raise OpinionError(f"the whole file has {len(whole)} notes, fewer than the flip's {n}")
    return project_to_midi(np.concatenate([result.modified, whole[n:]]))


@dataclass(frozen=True, eq=False)
class Opinions:
    """What a panel says about one flip (built by :func:`ask`).

    Attributes:
        target: the target genre's index.
        source: the genre the flipped network gave the file before.
        before, after: :meth:`Panel.judge` of the original whole file and of the
            flipped whole file as written and read back.
        seconds: the whole file's length before and after, and the flipped excerpt's
            (the notes the flip optimised) before and after.
        genres: the genre names.
    """

    target: int
    source: int
    before: dict
    after: dict
    seconds: dict
    genres: tuple[str, ...]

    def agrees(self, name: str, protocol: str, when: str = "after") -> bool:
        """Verdict ``name`` gives the target the highest probability on the flipped file
        (``when="before"``: on the original, where it already agreed)."""
        judged = self.after if when == "after" else self.before
        return int(np.argmax(judged["verdicts"][name][protocol])) == self.target

    def plausible(self, protocol: str) -> bool | None:
        """The flipped file sits nearer to real files of the target genre than to any
        other genre's (a score above 0); None without a plausibility measure."""
        if "score" not in self.after:
            return None
        return bool(self.after["score"][protocol][self.target] > 0)

    def to_dict(self) -> dict:
        """A JSON-able report: per verdict and protocol the target's probability
        before and after and whether it agrees; plausibility before and after for the
        target genre; seconds."""

        def r(v) -> float:
            return round(float(v), 6)

        out = {
            "target": self.genres[self.target],
            "source": self.genres[self.source],
            "verdicts": {
                name: {p: {"p_target_before": r(self.before["verdicts"][name][p][self.target]),
                           "p_target_after": r(self.after["verdicts"][name][p][self.target]),
                           "agrees": self.agrees(name, p), "agreed_before": self.agrees(name, p, "before")}
                    for p in PROTOCOLS}
                for name in self.after["verdicts"]
            },
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }
        if "score" in self.after:
            out["plausibility"] = {
                p: {"score_before": r(self.before["score"][p][self.target]),
                    "score_after": r(self.after["score"][p][self.target]),
                    "typicality_before": r(self.before["typicality"][p][self.target]),
                    "typicality_after": r(self.after["typicality"][p][self.target]),
                    "plausible": self.plausible(p)} for p in PROTOCOLS
            }
            out["plausibility"]["measure"] = ("score: log(distance to the nearest other genre / distance to the target "
                                              "genre), above 0 nearer the target's real files; typicality: share of the "
                                              "target's real files at least as far from their genre")
        return out


def ask(panel: Panel, whole: np.ndarray, result: FlipResult, before: dict | None = None) -> Opinions:
    """The panel's opinions of a flip of ``whole`` (the file's whole note table, as read).

    The flipped whole file (:func:`whole_modified`) is written to MIDI and read back;
    the panel judges the original and that reading.

    Args:
        before: :meth:`Panel.judge` of ``whole`` when already computed (several flips
            of one file).

    Raises:
        OpinionError: the flipped file reads back with fewer notes.
    """
    modified = whole_modified(whole, result)
    reparsed, error = read_back(modified)
    if reparsed is None:
        raise OpinionError(f"the flipped file does not survive the round trip: {error}")
    n = len(result.modified)
    base_whole = project_to_midi(whole)
    seconds = {
        "file_before": length_seconds(base_whole), "file_after": length_seconds(reparsed),
        "excerpt_before": length_seconds(result.base), "excerpt_after": length_seconds(result.modified),
        "excerpt_notes": n,
    }
    source = int(np.argmax(result.probs_before))
    return Opinions(result.target, source, before if before is not None else panel.judge(whole),
                    panel.judge(reparsed), seconds, panel.genres)


# ---------------------------------------------------------------------------------------
# One file flipped by a run, and asked about
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FileFlip:
    """A flip of one file by a run's network, with the second opinions on it (built by
    :func:`flip_file`).

    Attributes:
        file: the file's path as given, or None for a note table passed directly.
        whole: the file's whole note table, as read.
        table: the notes the flip optimised: the first notes (``first100``) or the whole
            table (``file``).
        protocol: what the flipped networks read of ``table``.
        result: the optimiser's :class:`~genre_lib.flip.FlipResult`.
        opinions: the panel's :class:`Opinions` of the flipped whole file, or None when
            the flip did not survive the MIDI round trip.
        plausibility_problem: why the panel has no plausibility measure (None when it
            has one, or when nobody was asked).
    """

    file: str | None
    whole: np.ndarray
    table: np.ndarray
    protocol: str
    result: FlipResult
    opinions: Opinions | None
    plausibility_problem: str | None = None

    @property
    def flipped(self) -> bool:
        """The flip holds after the MIDI round trip (:attr:`FlipResult.flipped`)."""
        return self.result.flipped

    def to_dict(self, out: str | Path | None = None) -> dict:
        """A JSON-able report: :meth:`FlipResult.summary`, the file, where the flipped
        file was written (``out``, kept only when the flip holds), the optimiser's
        seconds, the protocol, and the second opinions when there are any."""
        report = self.result.summary()
        report.update({"file": self.file, "out": str(out) if out is not None and self.flipped else None,
                       "seconds": round(self.result.seconds, 3), "protocol": self.protocol})
        if self.plausibility_problem is not None:
            report["plausibility_problem"] = self.plausibility_problem
        if self.opinions is not None:
            report["opinions"] = self.opinions.to_dict()
        return report


def _runs_once(run, convince: Sequence, asked: Sequence) -> tuple[list, int]:
    """The other runs of a flip, loaded, each folder once and never ``run`` itself: those
    of ``convince`` first (their count is the second value), then those of ``asked``.

    Raises:
        RunError: a run folder cannot be loaded, or a run has other genres than ``run``.
    """
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
    """Flip one file to genre ``target`` for ``run``'s network and ask the panel about it.

    The flip convinces ``run``'s RNN and the RNN of each run of ``convince``, reading
    the file under ``protocol``: its first ``run.max_notes`` notes (``first100``, the
    study's flip; the flipped notes replace the file's first ones) or the vote of
    windows over the whole file (``file``). When the flip survives the MIDI round trip,
    the panel (:meth:`Panel.of_run`: the run's verdicts, the networks of ``convince``
    and ``asked``, and the run's plausibility measure when it has one) judges the
    whole file with the flipped notes in place (:func:`ask`).

    Args:
        run: a loaded run (:func:`genre_lib.runs.load_run`).
        file: a MIDI file, or a whole note table in MIDI units.
        target: index of the target genre among ``run.genres``.
        settings: how the optimiser searches.
        protocol: ``"first100"`` or ``"file"``.
        convince: other runs (loaded, or run folders) whose network the flip must
            convince too.
        asked: other runs (loaded, or run folders) asked for a second opinion only;
            None: the run's seed siblings (:func:`genre_lib.runs.seed_siblings`).
            A run listed twice, or the run itself, is used once.
        file_windows: windows of the ``file`` vote (default: the run's).

    Raises:
        RunError: another run cannot be loaded, or has other genres than ``run``.
        MidiError: the file cannot be read, or is unusable (drums only, too short).
        FlipError: an unknown protocol, a target out of range, or a file the network
            already gives the target genre (nothing to flip).
        OpinionError: the flipped whole file does not survive the round trip.
    """
    from . import plausibility
    from .dataset import check_usable
    from .midi_io import read_midi
    from .runs import seed_siblings

    if protocol not in PROTOCOLS:
        raise FlipError(f"unknown protocol {protocol!r}: use one of {PROTOCOLS}")
    others, n_convince = _runs_once(run, convince, seed_siblings(run.path) if asked is None else asked)
    genres = [str(g) for g in run.genres]
    if isinstance(file, np.ndarray):
        name, whole = None, np.asarray(file, dtype=np.float32)
    else:
        name, whole = str(file), read_midi(file)
    check_usable(whole, name or "the note table", run.max_notes)
    table = whole if protocol == "file" else whole[: run.max_notes]
    windows = int(file_windows or run.meta["file_windows"])
    panel = Panel.of_run(run, others, None, windows)
    theirs = panel.verdicts[len(panel.verdicts) - len(others):][:n_convince]  # the RNNs of the runs to convince
    judges = [Judge(run.model, protocol, windows)] + [Judge(v.model, protocol, windows, v.name) for v in theirs]
    target = int(check_targets(target, 1, len(genres), FlipError)[0])
    probs = judges[0].proba([table])[0]
    if int(probs.argmax()) == target:
        how = "its vote of windows" if protocol == "file" else "its first notes"
        raise FlipError(f"{name or 'the note table'}: already classified as {genres[target]} by {how} "
                        f"(p={probs[target]:.2f}); nothing to flip")
    result = optimize_delta(judges[0], table, target, settings, genres=genres, also=judges[1:])
    opinions, problem = None, None
    if result.reparsed is not None:
        try:
            panel = replace(panel, plausibility=plausibility.load(run.path))
        except plausibility.PlausibilityError as exc:
            problem = str(exc)
        opinions = ask(panel, whole, result)
    return FileFlip(name, whole, table, protocol, result, opinions, problem)
