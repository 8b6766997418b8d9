"""Probes: what a verdict's accuracy loses when part of what it reads is destroyed, judged
again as it judges. **Order** probes re-arrange the notes of every read (``shuffle``,
``reverse``, within spans of 16 or 4); **attribute** probes give every read a column, or a
group (:data:`ATTRIBUTE_GROUPS`), of another file's; **branch** probes replace a network's
recurrent or statistics part by its mean. A :class:`ProbeResult` holds the effect and its
95 % paired bootstrap interval over files."""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .metrics import bootstrap_interval
from .midi_io import FEATURES, STEP
from .protocols import PROTOCOLS, vote

if TYPE_CHECKING:
    import keras
    import pandas

    from .verdicts import NoteVerdict, RNNVerdict

#: order probes and the span each shuffles within (None: the whole read; 0: reversed)
ORDER_PROBES: dict[str, int | None] = {"shuffle": None, "reverse": 0, "shuffle-16": 16, "shuffle-4": 4}

#: attribute probes: the note-table columns each takes from another file. A group takes
#: columns that only mean something together: ``instrument`` (the drum flag and the
#: program: what plays the note), ``timing`` (step and duration), ``played`` (pitch,
#: drum flag and program: which sound, the derived drum sound, pitch class and
#: instrument family included)
ATTRIBUTE_GROUPS: dict[str, tuple[str, ...]] = {
    **{c: (c,) for c in FEATURES},
    "instrument": ("drum", "program"),
    "timing": ("step", "duration"),
    "played": ("pitch", "drum", "program"),
}

#: branch probes: the part of a two-branch network whose output is replaced by its mean
BRANCH_PROBES: dict[str, str] = {"recurrent-mean": "recurrent", "statistics-mean": "statistics"}

#: every probe, in the order tables list them
PROBES: tuple[str, ...] = (*ORDER_PROBES, *ATTRIBUTE_GROUPS, *BRANCH_PROBES)

#: the layer that puts the recurrent state and the window statistics side by side
#: (:func:`genre_lib.model.build_model` with ``summary``)
BRANCH_LAYER = "state_and_summary"

#: repeats of a probe drawn at random (the accuracy probed is their mean per file)
REPEATS = 3

#: the probes every run folder and every cross-validation fold keeps of its RNN
#: (:func:`genre_lib.train.train_run`, :func:`genre_lib.crossval.cross_validate`): does
#: it use note order, and which single column does it lean on most
KEPT_PROBES: tuple[str, ...] = ("shuffle", "reverse", *FEATURES)


def probe_kind(probe: str) -> str:
    """``"order"``, ``"attribute"`` or ``"branch"`` (ValueError: an unknown probe)."""
    if probe in ORDER_PROBES:
        return "order"
    if probe in ATTRIBUTE_GROUPS:
        return "attribute"
    if probe in BRANCH_PROBES:
        return "branch"
    raise ValueError(f"unknown probe {probe!r}: use one of {', '.join(PROBES)}")


@dataclass(frozen=True)
class ProbeResult:
    """One probe of one verdict under its protocol: the accuracy as is, ``probed`` (mean
    over ``repeats`` draws) and ``effect`` = accuracy - probed with its 95 % interval over files."""

    verdict: str
    protocol: str
    probe: str
    kind: str
    files: int
    repeats: int
    accuracy: float
    probed: float
    effect: float
    low: float
    high: float
    seed: int

    def to_dict(self) -> dict:
        """The result as a JSON-able dict."""
        return asdict(self)


# --- transforms ------------------------------------------------------------------------


def order_indices(n: int, length: int, probe: str, rng: np.random.Generator) -> np.ndarray:
    """The new row order ``(n, length)`` of ``n`` reads under an order probe."""
    if probe not in ORDER_PROBES:
        raise ValueError(f"{probe!r} is not an order probe: use one of {', '.join(ORDER_PROBES)}")
    span = ORDER_PROBES[probe]
    if span == 0:
        return np.broadcast_to(np.arange(length)[::-1], (n, length)).copy()
    keys = rng.random((n, length))
    if span is not None:
        # a span's notes sort among themselves only: its index dominates the key
        keys = keys + (np.arange(length) // span)[None, :]
    return np.argsort(keys, axis=1, kind="stable")


def reorder(reads: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Reads with their rows in ``order``, every note whole; the first row keeps the
    read's first step, so every column keeps its values and a probe costs by the order alone."""
    reads = np.asarray(reads)
    n = len(reads)
    rows = np.arange(n)
    out = reads[rows[:, None], order]
    moved_to = np.argmax(order == 0, axis=1)  # where the old first row went
    out[rows, moved_to, STEP] = out[:, 0, STEP]
    out[:, 0, STEP] = reads[:, 0, STEP]
    return out


def donor_files(n: int, rng: np.random.Generator) -> np.ndarray:
    """For each of ``n`` files another to take columns from: one seeded cycle."""
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    cycle = rng.permutation(n)
    donor = np.empty(n, dtype=np.int64)
    donor[cycle] = np.roll(cycle, -1)
    return donor


def swap_columns(reads: Sequence[np.ndarray], columns: Sequence[str], donor: np.ndarray) -> list[np.ndarray]:
    """Every file's reads with ``columns`` from the same read of file ``donor[i]`` at
    the same position (a shorter donor repeated); the first row keeps its own step."""
    cols = [FEATURES.index(c) for c in columns]
    out = []
    for i, read in enumerate(reads):
        new = np.array(read, copy=True)
        give = np.asarray(reads[donor[i]])
        positions = np.arange(new.shape[1]) % give.shape[1]
        new[..., cols] = give[:, positions][..., cols]
        new[:, 0, STEP] = read[:, 0, STEP]
        out.append(new)
    return out


def probe_reads(reads: Sequence[np.ndarray], probe: str, rng: np.random.Generator) -> list[np.ndarray]:
    """Every file's reads ``(k, notes, features)`` after an order or attribute probe."""
    kind = probe_kind(probe)
    if kind == "order":
        return [reorder(r, order_indices(r.shape[0], r.shape[1], probe, rng)) for r in reads]
    if kind == "attribute":
        return swap_columns(reads, ATTRIBUTE_GROUPS[probe], donor_files(len(reads), rng))
    raise ValueError(f"{probe!r} is a branch probe: it changes the network, not its input")


# --- branches --------------------------------------------------------------------------


def branch_slices(model: "keras.Model") -> dict[str, np.ndarray] | None:
    """The indices of the dense layers' inputs (:data:`BRANCH_LAYER`'s output) from the
    recurrent state and from the window statistics; None without the two branches."""
    try:
        layer = model.get_layer(BRANCH_LAYER)
    except ValueError:
        return None
    recurrent, statistics, start = [], [], 0
    for tensor in layer.input:
        width = int(tensor.shape[-1])
        # Keras has no public way to ask which layer made a tensor; its history says
        source = tensor._keras_history.operation
        part = recurrent if type(source).__name__ in ("GRU", "LSTM", "SimpleRNN", "Bidirectional") else statistics
        part.extend(range(start, start + width))
        start += width
    return {"recurrent": np.array(recurrent, dtype=int), "statistics": np.array(statistics, dtype=int)}


def _branch_models(model: "keras.Model") -> tuple["keras.Model", "keras.Model"]:
    import keras

    joined = model.get_layer(BRANCH_LAYER).output
    return keras.Model(model.inputs[0], joined), keras.Model(joined, model.get_layer("logits").output)


def _predict(model: "keras.Model", x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    return np.concatenate([np.asarray(model(x[i:i + batch_size], training=False))
                           for i in range(0, len(x), batch_size)]) if len(x) else np.zeros((0,))


def order_free_inputs(model: "keras.Model", windows: np.ndarray, seed: int = 0, tol: float = 1e-4) -> np.ndarray:
    """Which inputs of the dense layers do not change when every window's notes are
    permuted (within ``tol`` of each input's spread), on ``windows``."""
    if branch_slices(model) is None:
        raise ValueError(f"model {model.name!r} has no layer {BRANCH_LAYER!r}: no branches to compare")
    features, _ = _branch_models(model)
    w = np.asarray(windows, dtype=np.float32)
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random(w.shape[:2]), axis=1)
    before = _predict(features, w)
    after = _predict(features, w[np.arange(len(w))[:, None], order])
    scale = np.maximum(before.std(axis=0), 1e-6)
    return (np.abs(after - before) / scale).max(axis=0) <= tol


def dense_inputs(model: "keras.Model", windows: np.ndarray, seed: int = 0) -> dict:
    """How the dense layers' inputs divide: their number, how many come from each
    branch (:func:`branch_slices`) and how many are order-free (:func:`order_free_inputs`)."""
    free = order_free_inputs(model, windows, seed)
    parts = branch_slices(model)
    statistics = np.zeros(len(free), dtype=bool)
    statistics[parts["statistics"]] = True
    return {"total": int(len(free)), "recurrent": int(len(parts["recurrent"])),
            "statistics": int(len(parts["statistics"])), "order_free": int(free.sum()),
            "order_free_are_statistics": bool((free == statistics).all()), "windows": int(len(windows))}


def ablate_branch(verdict: "RNNVerdict", reads: Sequence[np.ndarray], part: str) -> np.ndarray:
    """Probabilities of an RNN verdict from its reads with the ``part`` branch's outputs
    replaced by their mean over every window read."""
    parts = branch_slices(verdict.model)
    if parts is None or part not in parts:
        raise ValueError(f"cannot replace part {part!r} of model {verdict.model.name!r}: "
                         f"its parts are {sorted(parts) if parts else 'none (no ' + BRANCH_LAYER + ' layer)'}")
    features, head = _branch_models(verdict.model)
    w = np.concatenate(list(reads)).astype(np.float32)
    z = _predict(features, w)
    cols = parts[part]
    z[:, cols] = z[:, cols].mean(axis=0)
    return vote(_predict(head, z), len(reads))


def applies(verdict: "NoteVerdict", probe: str) -> bool:
    """Whether ``probe`` means something for ``verdict``: order and attribute probes for
    one that reads notes, branch probes for a network with both branches."""
    if probe_kind(probe) == "branch":
        model = getattr(verdict, "model", None)
        return hasattr(model, "get_layer") and branch_slices(model) is not None
    return hasattr(verdict, "reads")


# --- probing ---------------------------------------------------------------------------


def _rng(seed: int, *names: str | int) -> np.random.Generator:
    # the same seed, probe, protocol and repeat give the same draw in any order of work (CRC, not the salted hash)
    keys = [zlib.crc32(str(n).encode()) for n in names]
    return np.random.default_rng([int(seed), *keys])


def _result(verdict_name: str, protocol: str, probe: str, right: np.ndarray, right_probed: np.ndarray,
            repeats: int, seed: int) -> ProbeResult:
    diff = right.astype(float) - right_probed
    low, high = bootstrap_interval(diff, seed=seed)
    return ProbeResult(verdict_name, protocol, probe, probe_kind(probe), len(right), repeats,
                       float(right.mean()), float(right_probed.mean()), float(diff.mean()), low, high, int(seed))


def probe_verdict(verdict: "NoteVerdict", tables: Sequence[np.ndarray], y: np.ndarray,
                  probes: Sequence[str] | None = None, repeats: int = REPEATS, seed: int = 0) -> list[ProbeResult]:
    """Every probe of ``probes`` (default: all that apply) of a verdict that reads notes,
    on ``tables`` of genres ``y``; random probes drawn ``repeats`` times, all seeded by ``seed``."""
    y = np.asarray(y)
    if len(y) != len(tables):
        raise ValueError(f"{len(y)} labels for {len(tables)} files")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, not {repeats}")
    names = list(PROBES if probes is None else probes)
    for p in names:
        probe_kind(p)
        if probes is not None and not applies(verdict, p):
            raise ValueError(f"probe {p!r} does not apply to verdict {verdict.name!r} (no recurrent and statistics branches)")
    names = [p for p in names if applies(verdict, p)]
    protocol, results = verdict.protocol, []
    reads = verdict.reads(tables)
    right = verdict.judge_reads(reads).argmax(axis=1) == y
    for p in names:
        kind = probe_kind(p)
        draws = 1 if kind == "branch" or ORDER_PROBES.get(p) == 0 else repeats
        probed = np.zeros(len(y))
        for r in range(draws):
            if kind == "branch":
                proba = ablate_branch(verdict, reads, BRANCH_PROBES[p])
            else:
                proba = verdict.judge_reads(probe_reads(reads, p, _rng(seed, p, protocol, r)))
            probed += proba.argmax(axis=1) == y
        results.append(_result(verdict.name, protocol, p, right, probed / draws, draws, seed))
    return results


def order_and_top_attribute(results: Sequence[ProbeResult | dict], protocol: str) -> dict:
    """What one verdict's probe results say under ``protocol``: the order effect
    (``shuffle``'s) and the column whose permutation costs most, with its effect (None without)."""
    rows = [r if isinstance(r, dict) else r.to_dict() for r in results]
    rows = [r for r in rows if r["protocol"] == protocol]
    order = next((r["effect"] for r in rows if r["probe"] == "shuffle"), None)
    columns = [r for r in rows if r["probe"] in FEATURES]
    top = max(columns, key=lambda r: r["effect"]) if columns else None
    return {"order effect": order, "top attribute": top["probe"] if top else None,
            "top attribute effect": top["effect"] if top else None}


def probe_table(verdicts: Sequence, tables: Sequence[np.ndarray], y: np.ndarray, probes: Sequence[str] | None = None,
                repeats: int = REPEATS, seed: int = 0) -> list[ProbeResult]:
    """:func:`probe_verdict` of every verdict, the same seed for each; a named probe runs
    for the verdicts it applies to (ValueError if none)."""
    if probes is not None:
        for p in probes:
            if not any(applies(v, p) for v in verdicts):
                raise ValueError(f"probe {p!r} applies to none of the verdicts {[v.name for v in verdicts]}"
                                 + (" (no network with recurrent and statistics branches)"
                                    if probe_kind(p) == "branch" else ""))
    return [r for v in verdicts
            for r in probe_verdict(v, tables, y, None if probes is None else [p for p in probes if applies(v, p)],
                                   repeats, seed)]


def not_applied(verdicts: Sequence, probes: Sequence[str] | None = None) -> dict[str, list[str]]:
    """``{verdict name: [probes]}`` of ``probes`` (default: all) that mean nothing for the
    verdict; verdicts missing nothing are not listed."""
    names = list(PROBES if probes is None else probes)
    out = {v.name: [p for p in names if not applies(v, p)] for v in verdicts}
    return {k: v for k, v in out.items() if v}


def probe_report(run, tables: Sequence[np.ndarray], y: np.ndarray, probes: Sequence[str] | None = None,
                 repeats: int = REPEATS, seed: int = 0) -> dict:
    """What ``genre-lib probe`` prints: :func:`probe_table` of the run's RNN and baseline
    under both protocols, ``dense_inputs``, the settings and ``not_applied``."""
    # the combined verdict is left out: its probes would mix the two it is made of
    verdicts = [run.verdicts(p)[k] for k in range(min(2, len(run.verdicts("file")))) for p in PROTOCOLS]
    results = probe_table(verdicts, tables, y, probes, repeats, seed)
    inputs = None
    if branch_slices(run.model) is not None:
        windows = run.verdict("rnn", "file").windows(tables)
        inputs = dense_inputs(run.model, windows.reshape(-1, *windows.shape[2:]), seed)
    return {"files": len(tables), "repeats": repeats, "seed": seed, "results": [r.to_dict() for r in results],
            "dense_inputs": inputs, "baseline_problem": run.baseline_problem,
            "not_applied": not_applied(verdicts, probes)}


def text_table(results: Sequence[ProbeResult | dict]) -> str:
    """One line per verdict and probe: per protocol the accuracy, probed, and the effect."""
    rows = [r.to_dict() if isinstance(r, ProbeResult) else r for r in results]
    protocols = list(dict.fromkeys(r["protocol"] for r in rows))
    cells: dict = {}
    for r in rows:
        cells.setdefault((r["verdict"], r["probe"]), {})[r["protocol"]] = (
            f"{r['accuracy']:.3f} -> {r['probed']:.3f}  {r['effect']:+.3f} [{r['low']:+.3f}, {r['high']:+.3f}]")
    width = max((len(c) for by in cells.values() for c in by.values()), default=10)
    lines = [f"{'verdict':9} {'probe':16} " + "  ".join(f"{p:{width}}" for p in protocols)]
    lines += [f"{v:9} {p:16} " + "  ".join(f"{by.get(q, '-'):{width}}" for q in protocols)
              for (v, p), by in cells.items()]
    return "\n".join(lines)


def results_frame(results: Sequence[ProbeResult]) -> "pandas.DataFrame":
    """The results as a ``pandas.DataFrame``, one row each."""
    import pandas as pd

    return pd.DataFrame([r.to_dict() for r in results])
