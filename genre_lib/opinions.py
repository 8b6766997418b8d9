"""Second opinions on a flip: does anyone besides the network it fooled agree? A *panel*
judges the flipped whole file: every verdict of the run under both protocols, networks of
other seeds, the plausibility measure and the length. A verdict *agrees* when it gives the
target the highest probability on the flipped file as written and read back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .midi_io import length_seconds, project_to_midi, read_back
from .protocols import PROTOCOLS
from .verdicts import RNNVerdict, judge

if TYPE_CHECKING:
    from .flip import FlipResult
    from .plausibility import Plausibility


class OpinionError(ValueError):
    """A flip that cannot be judged (its file does not survive the round trip, ...)."""


def other_rnns(run, others: Sequence, protocol: str, file_windows: int) -> list[RNNVerdict]:
    """The RNN verdicts of other runs under ``protocol``, named ``rnn-seed<N>`` (``rnn-<folder>``
    where seeds repeat); ValueError for other genres."""
    out, taken = [], {"rnn"}
    for other in others:
        if tuple(other.genres) != tuple(run.genres):
            raise ValueError(f"{other.path}: genres {other.genres} differ from {run.path}'s {run.genres}")
        name = f"rnn-seed{other.meta.get('seed')}"
        name = name if name not in taken else f"rnn-{other.path.name}"
        taken.add(name)
        out.append(RNNVerdict(other.model, run.genres, protocol, file_windows, name=name))
    return out


@dataclass(frozen=True, eq=False)
class Panel:
    """Who is asked about a flip: verdicts and plausibility measures (one per protocol, or none)."""

    verdicts: tuple
    genres: tuple[str, ...]
    plausibility: tuple = ()

    @classmethod
    def of_run(cls, run, others: Sequence = (), plausibility: "Sequence[Plausibility]" = (),
               file_windows: int | None = None, also: Sequence = ()) -> "Panel":
        """A run's verdicts, then the RNN of each of ``others``, under both protocols, every
        network voting with ``file_windows`` windows (default: the run's), then the verdicts
        of ``also`` (judges of another kind, e.g. :func:`genre_lib.ear.load_ears`' ears)."""
        windows = int(file_windows or run.meta["file_windows"])
        verdicts = [v for p in PROTOCOLS for v in (*run.verdicts(p, windows), *other_rnns(run, others, p, windows))]
        return cls((*verdicts, *also), tuple(run.genres), tuple(plausibility or ()))

    def judge(self, table: np.ndarray) -> dict:
        """Every verdict's probabilities of one whole table, ``{"verdicts": {name: {protocol:
        (genres,)}}}``, and the plausibility ``score`` and ``typicality`` when there are measures."""
        out: dict = {"verdicts": {}}
        for protocol, by_name in judge(self.verdicts, [table]).items():  # a combined verdict from its parts'
            for name, p in by_name.items():
                out["verdicts"].setdefault(name, {})[protocol] = p[0]
        if self.plausibility:
            out["score"] = {m.protocol: m.score([table])[0] for m in self.plausibility}
            out["typicality"] = {m.protocol: m.typicality([table])[0] for m in self.plausibility}
        return out


def whole_modified(whole: np.ndarray, result: "FlipResult") -> np.ndarray:
    """The whole file with a flip's first notes in place, projected to MIDI."""
    whole = np.asarray(whole, dtype=np.float32)
    n = len(result.modified)
    if len(whole) < n:
        raise OpinionError(f"the whole file has {len(whole)} notes, fewer than the flip's {n}")
    return project_to_midi(np.concatenate([result.modified, whole[n:]]))


@dataclass(frozen=True, eq=False)
class Opinions:
    """What a panel says about one flip (:func:`ask`): target and source genre, its judgement
    of the original and of the flipped whole file (``before``, ``after``) and their lengths."""

    target: int
    source: int
    before: dict
    after: dict
    seconds: dict
    genres: tuple[str, ...]

    def agrees(self, name: str, protocol: str, when: str = "after") -> bool:
        """Verdict ``name`` gives the target the highest probability after (or ``before``)."""
        judged = self.after if when == "after" else self.before
        return int(np.argmax(judged["verdicts"][name][protocol])) == self.target

    def plausible(self, protocol: str) -> bool | None:
        """The flipped file is nearer real files of the target than any other genre's."""
        if "score" not in self.after:
            return None
        return bool(self.after["score"][protocol][self.target] > 0)

    def to_dict(self) -> dict:
        """A JSON-able report: per verdict and protocol, before and after; plausibility; seconds."""

        def r(v) -> float:
            return round(float(v), 6)

        out = {
            "target": self.genres[self.target],
            "source": self.genres[self.source],
            "verdicts": {
                name: {p: {"p_target_before": r(self.before["verdicts"][name][p][self.target]),
                           "p_target_after": r(self.after["verdicts"][name][p][self.target]),
                           "agrees": self.agrees(name, p), "agreed_before": self.agrees(name, p, "before")}
                       for p in by}
                for name, by in self.after["verdicts"].items()
            },
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }
        if "score" in self.after:
            out["plausibility"] = {
                p: {"score_before": r(self.before["score"][p][self.target]),
                    "score_after": r(self.after["score"][p][self.target]),
                    "typicality_before": r(self.before["typicality"][p][self.target]),
                    "typicality_after": r(self.after["typicality"][p][self.target]),
                    "plausible": self.plausible(p)} for p in self.after["score"]
            }
            out["plausibility"]["measure"] = ("score: log(distance to the nearest other genre / distance to the target "
                                              "genre), above 0 nearer the target's real files; typicality: share of the "
                                              "target's real files at least as far from their genre")
        return out


def ask(panel: Panel, whole: np.ndarray, result: "FlipResult", before: dict | None = None) -> Opinions:
    """The panel's opinions of a flip of ``whole``: the flipped whole file written and read back,
    judged beside the original (OpinionError: fewer notes read back)."""
    reparsed, error = read_back(whole_modified(whole, result))
    if reparsed is None:
        raise OpinionError(f"the flipped file does not survive the round trip: {error}")
    seconds = {
        "file_before": length_seconds(project_to_midi(whole)), "file_after": length_seconds(reparsed),
        "excerpt_before": length_seconds(result.base), "excerpt_after": length_seconds(result.modified),
        "excerpt_notes": len(result.modified),
    }
    return Opinions(result.target, int(np.argmax(result.probs_before)), before if before is not None else panel.judge(whole),
                    panel.judge(reparsed), seconds, panel.genres)
