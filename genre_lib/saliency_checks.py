"""Is a saliency map about the model, and about the music? Weight randomization
(:func:`randomization_check`, Adebayo et al. 2018), agreement with occlusion
(:func:`agreement`), and every method's deletion against three chance levels with paired
intervals (:func:`check_methods`; stored by ``scripts/saliency_checks.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import saliency as S
from .inference import check_targets, n_genres, predict_proba
from .metrics import bootstrap_interval
from .saliency import Method, SaliencyError

#: notes compared in :func:`agreement`'s top-k overlap
TOP_K = 10


def _freeze(obj, **values) -> None:
    # every array field becomes a read-only copy: the caller's arrays stay as they were
    for name, value in values.items():
        object.__setattr__(obj, name, value)
    for name in obj.__dataclass_fields__:
        value = getattr(obj, name)
        if isinstance(value, np.ndarray):
            value = np.array(value)
            value.setflags(write=False)
            object.__setattr__(obj, name, value)


def _spearman_per_file(a: np.ndarray, b: np.ndarray, absolute: bool = True) -> np.ndarray:
    from scipy.stats import spearmanr

    out = np.empty(len(a))
    for i in range(len(a)):
        u, v = np.asarray(a[i], np.float64).ravel(), np.asarray(b[i], np.float64).ravel()
        if absolute:
            u, v = np.abs(u), np.abs(v)
        if np.ptp(u) == 0 or np.ptp(v) == 0:  # a constant map has no ranking
            out[i] = np.nan
        else:
            out[i] = spearmanr(u, v).statistic
    return out


# --- randomization ---


@dataclass(frozen=True, eq=False)
class RandomizationResult:
    """Spearman correlation of |map| between the trained model and copies with more
    and more layers re-initialized, ``(stages, files)``, and its means (``fully_randomized``: the
    last stage; a trustworthy method falls well below 0.5). ``mode``: ``"cascade"`` (the top k
    layers) or ``"independent"`` (layer k alone)."""

    method: str
    mode: str
    stages: tuple[tuple[str, ...], ...]
    spearman: np.ndarray
    spearman_signed: np.ndarray
    mean: np.ndarray = field(init=False)
    mean_signed: np.ndarray = field(init=False)
    fully_randomized: float = field(init=False)
    fully_randomized_signed: float = field(init=False)

    def __post_init__(self) -> None:
        mean, signed = np.nanmean(self.spearman, axis=1), np.nanmean(self.spearman_signed, axis=1)
        _freeze(self, stages=tuple(tuple(s) for s in self.stages), mean=mean, mean_signed=signed,
                fully_randomized=float(mean[-1]), fully_randomized_signed=float(signed[-1]))

    def summary(self) -> dict:
        """JSON-able figures: per stage, the layers and both mean correlations."""
        return {
            "method": self.method,
            "mode": self.mode,
            "stages": [
                {"randomized": list(s), "spearman_mean": round(float(m), 4), "spearman_signed_mean": round(float(ms), 4)}
                for s, m, ms in zip(self.stages, self.mean, self.mean_signed)
            ],
            "n": int(self.spearman.shape[1]),
        }


def randomization_check(method: Method, X: np.ndarray, target, layers: str = "cascade", seed: int = 0,
                        feature_scale: np.ndarray | None = None, scaled: bool = True, **options) -> RandomizationResult:
    """Model-parameter randomization: each file's map on a copy with learned layers
    re-initialized (from the top, or one at a time) against the trained model's, by the Spearman
    correlation of |attribution|; ``options`` go to ``attribute``."""
    from .model import clone_model, finalize_normalization, learned_layers, reinitialize_layer

    if layers not in ("cascade", "independent"):
        raise SaliencyError(f"layers must be 'cascade' or 'independent', got {layers!r}")
    X = np.asarray(X)
    if X.ndim == 2:
        X = X[None]
    scale = S.feature_std(method.model) if feature_scale is None else np.asarray(feature_scale)

    def comparable_map(m: Method) -> np.ndarray:
        a = m.attribute(X, target, **options)
        return m.shown(a, scale) if scaled else a

    reference = comparable_map(method)
    copy = clone_model(method.model)
    on_copy = method.for_model(copy)
    trained = copy.get_weights()
    learned = learned_layers(copy)
    if not learned:
        raise SaliencyError("the model has no trainable layers to randomize")
    rng = np.random.default_rng(seed)
    stages, rows, signed = [], [], []
    for k, layer in enumerate(learned):
        if layers == "independent":
            copy.set_weights(trained)
            finalize_normalization(copy)
            stages.append((layer.name,))
        else:
            stages.append(tuple(lay.name for lay in learned[: k + 1]))
        reinitialize_layer(layer, rng)
        randomized = comparable_map(on_copy)
        rows.append(_spearman_per_file(reference, randomized))
        signed.append(_spearman_per_file(reference, randomized, absolute=False))
    return RandomizationResult(method.name, layers, tuple(stages), np.array(rows), np.array(signed))


# --- deletion curves ---


def _auc(x: np.ndarray, curves: np.ndarray) -> np.ndarray:
    return ((curves[:, 1:] + curves[:, :-1]) / 2 * np.diff(x)).sum(axis=1)


def _chance_orders(n: int, n_notes: int, rng: np.random.Generator, n_random: int) -> tuple[list, np.ndarray]:
    random = [np.argsort(rng.random((n, n_notes)), axis=1) for _ in range(max(1, n_random))]
    return random, np.tile(np.arange(n_notes)[::-1], (n, 1))


def _deletion_probs(model, X: np.ndarray, t: np.ndarray, orders: np.ndarray, neutral: np.ndarray,
                    counts: np.ndarray) -> np.ndarray:
    # a replaced note takes the neutral note's row at its position
    n, n_notes, n_feat = X.shape
    rank = np.empty_like(orders)
    rank[np.arange(n)[:, None], orders] = np.arange(n_notes)[None]
    replaced = rank[:, None, :] < counts[None, :, None]  # (files, points, notes)
    tables = np.where(replaced[..., None], neutral[None, None], X[:, None])
    p = predict_proba(model, tables.reshape(-1, n_notes, n_feat)).reshape(n, len(counts), -1)
    return p[np.arange(n), :, t]


# --- agreement with a reference map (occlusion) ---


@dataclass(frozen=True, eq=False)
class AgreementResult:
    """Per file, the Spearman correlation of two maps' note importance and the share of
    the reference's top ``k`` notes among the map's (``chance``: ``k / notes``), and their means."""

    spearman: np.ndarray
    top_overlap: np.ndarray
    k: int
    chance: float
    mean_spearman: float = field(init=False)
    mean_top_overlap: float = field(init=False)

    def __post_init__(self) -> None:
        _freeze(self, mean_spearman=float(np.nanmean(self.spearman)),
                mean_top_overlap=float(np.mean(self.top_overlap)))


def agreement(attr: np.ndarray, reference: np.ndarray, k: int = TOP_K) -> AgreementResult:
    """Do two maps of the same files (columns may differ) rank the notes alike?"""
    a, r = S.note_importance(attr), S.note_importance(reference)
    if a.ndim == 1:
        a, r = a[None], r[None]
    if a.shape != r.shape:
        raise SaliencyError(f"maps of {a.shape} and {r.shape} notes cannot be compared")
    k = min(k, a.shape[1])
    top_a = np.argsort(-a, axis=1, kind="stable")[:, :k]
    top_r = np.argsort(-r, axis=1, kind="stable")[:, :k]
    overlap = np.array([len(np.intersect1d(u, v)) / k for u, v in zip(top_a, top_r)])
    return AgreementResult(_spearman_per_file(a, r), overlap, k, k / a.shape[1])


# --- every method on a set of files: per-file figures, paired intervals, a chance level that keeps
# the recency effect ---

#: the no-map rankings a map's deletion AUC is compared with, in the order reported:
#: random order, a position-matched random order (:func:`derangement`), last notes first
CHANCES: tuple[str, ...] = ("random", "position", "recency")
#: how each chance level is named for people (tables, printed lines, figures)
CHANCE_LABELS: dict[str, str] = {"random": "random order", "position": "position-matched",
                                 "recency": "last notes first"}


def derangement(groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A seeded permutation ``p`` with ``p[i] != i`` and ``groups[p[i]] == groups[i]``:
    each file paired with another of its group (SaliencyError: a group of one)."""
    groups = np.asarray(groups)
    out = np.empty(len(groups), dtype=int)
    for g in np.unique(groups):
        members = rng.permutation(np.flatnonzero(groups == g))
        if len(members) < 2:
            raise SaliencyError(f"group {g!r} has one file: a position-matched chance needs two per group")
        out[members] = np.roll(members, -1)
    return out


def _pairing_groups(groups: np.ndarray) -> np.ndarray:
    # a small sample can hold one file of a genre: pairing across genres beats no chance level
    groups = np.asarray(groups)
    if len(groups) < 2:
        raise SaliencyError("a position-matched chance needs at least two files")
    _, sizes = np.unique(groups, return_counts=True)
    return groups if sizes.min() >= 2 else np.zeros(len(groups), dtype=int)


def _nan_list(a: np.ndarray, digits: int = 6) -> list:
    return [None if not np.isfinite(v) else round(float(v), digits) for v in np.asarray(a, dtype=float)]


def _from_list(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@dataclass(frozen=True, eq=False)
class PairedDifference:
    """A method's per-file figure against a chance level's: both means, the mean
    difference with its 95 % paired bootstrap interval, the share of files the method does
    better on and ``n``."""

    method_mean: float
    chance_mean: float
    difference: float
    low: float
    high: float
    share_better: float
    lower_is_better: bool
    n: int

    @classmethod
    def of(cls, method: np.ndarray, chance: np.ndarray, lower_is_better: bool = True, seed: int = 0) -> "PairedDifference":
        """The comparison of two per-file arrays (NaN entries left out)."""
        a, b = np.asarray(method, dtype=float), np.asarray(chance, dtype=float)
        used = np.isfinite(a) & np.isfinite(b)
        a, b = a[used], b[used]
        if not len(a):
            nan = float("nan")
            return cls(nan, nan, nan, nan, nan, nan, lower_is_better, 0)
        diff = a - b
        low, high = bootstrap_interval(diff, seed=seed)
        better = (diff < 0) if lower_is_better else (diff > 0)
        return cls(float(a.mean()), float(b.mean()), float(diff.mean()), low, high, float(better.mean()),
                   lower_is_better, int(len(a)))

    @property
    def verdict(self) -> str:
        """``"beats"`` or ``"worse"`` (the whole interval on one side of 0), else
        ``"no difference"``."""
        if not self.n:
            return "no files"
        better_low, better_high = (-self.high, -self.low) if self.lower_is_better else (self.low, self.high)
        if better_low > 0:
            return "beats"
        if better_high < 0:
            return "worse"
        return "no difference"

    def summary(self) -> dict:
        """JSON-able figures, rounded."""
        return {"method": round(self.method_mean, 4), "chance": round(self.chance_mean, 4),
                "difference": round(self.difference, 4), "interval": [round(self.low, 4), round(self.high, 4)],
                "share_better": round(self.share_better, 4), "verdict": self.verdict, "n": self.n}


@dataclass(frozen=True, eq=False)
class MethodCheck:
    """One method's checks, arrays over files: deletion ``auc`` and the chance rankings'
    (random, ``position``: another file's map, recency), ``randomization``,
    ``occlusion_spearman``, the ``overlap`` of flipped notes with the top notes and its chance
    levels, IG's ``complete``; ``deletion`` and ``overlap_vs_position`` compare them."""

    method: str
    auc: np.ndarray
    auc_random: np.ndarray
    auc_position: np.ndarray
    auc_recency: np.ndarray
    randomization: np.ndarray
    occlusion_spearman: np.ndarray
    overlap: np.ndarray
    overlap_position: np.ndarray
    overlap_naive: np.ndarray
    complete: bool | None = None
    seed: int = 0
    deletion: dict = field(init=False)
    overlap_vs_position: PairedDifference = field(init=False)

    _ARRAYS = ("auc", "auc_random", "auc_position", "auc_recency", "randomization", "occlusion_spearman",
               "overlap", "overlap_position", "overlap_naive")

    def __post_init__(self) -> None:
        arrays = {k: np.asarray(getattr(self, k), dtype=float) for k in self._ARRAYS}
        sizes = {len(a) for a in arrays.values()}
        if len(sizes) != 1:
            raise SaliencyError(f"{self.method}: per-file arrays of different lengths {sorted(sizes)}")
        deletion = {c: PairedDifference.of(arrays["auc"], arrays[f"auc_{c}"], True, self.seed) for c in CHANCES}
        _freeze(self, **arrays, deletion=deletion,
                overlap_vs_position=PairedDifference.of(arrays["overlap"], arrays["overlap_position"], False, self.seed))

    @property
    def n(self) -> int:
        """Files checked."""
        return len(self.auc)

    @property
    def randomization_mean(self) -> float:
        """Mean randomization Spearman over files (a constant map has none)."""
        return float(np.nanmean(self.randomization)) if np.isfinite(self.randomization).any() else float("nan")

    def summary(self) -> dict:
        """JSON-able figures: means and the paired intervals against each chance level."""
        rho = self.randomization[np.isfinite(self.randomization)]
        occ = self.occlusion_spearman[np.isfinite(self.occlusion_spearman)]
        flipped = np.isfinite(self.overlap)
        return {
            "method": self.method, "n": self.n, "complete": self.complete,
            "deletion_auc": round(float(self.auc.mean()), 4),
            "deletion": {c: d.summary() for c, d in self.deletion.items()},
            "randomization_spearman": round(self.randomization_mean, 4),
            "randomization_interval": [round(v, 4) for v in bootstrap_interval(rho, seed=self.seed)],
            "occlusion_spearman": round(float(occ.mean()), 4) if len(occ) else None,
            "occlusion_spearman_interval": [round(v, 4) for v in bootstrap_interval(occ, seed=self.seed)],
            "overlap": self.overlap_vs_position.summary(),
            "overlap_naive_chance": round(float(self.overlap_naive[flipped].mean()), 4) if flipped.any() else None,
        }

    def to_dict(self) -> dict:
        """Every per-file array (6 digits, NaN as null) and :meth:`summary`."""
        return {"method": self.method, "complete": self.complete, "seed": self.seed,
                **{k: _nan_list(getattr(self, k)) for k in self._ARRAYS}, "summary": self.summary()}

    @classmethod
    def from_dict(cls, d: dict) -> "MethodCheck":
        """The inverse of :meth:`to_dict` (the summary recomputed)."""
        return cls(d["method"], **{k: _from_list(d[k]) for k in cls._ARRAYS}, complete=d["complete"], seed=d["seed"])


@dataclass(frozen=True, eq=False)
class MethodChecks:
    """Every method's checks on one set of files (:func:`check_methods`), the files'
    explained genres ``y``, the flips' targets (-1: none tried) and results, the settings and
    ``meta`` (what it was computed on)."""

    methods: tuple[MethodCheck, ...]
    files: tuple[str, ...]
    genres: tuple[str, ...]
    y: np.ndarray
    flip_target: np.ndarray
    flipped: np.ndarray
    notes_changed: np.ndarray
    n_steps: int
    n_random: int
    seed: int
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _freeze(self, methods=tuple(self.methods), files=tuple(self.files), genres=tuple(self.genres),
                y=np.asarray(self.y, dtype=int), flip_target=np.asarray(self.flip_target, dtype=int),
                flipped=np.asarray(self.flipped, dtype=bool), notes_changed=np.asarray(self.notes_changed, dtype=int))
        n = {len(self.y), len(self.flip_target), len(self.flipped), len(self.notes_changed),
             *(m.n for m in self.methods)} | ({len(self.files)} if self.files else set())
        if len(n) != 1:
            raise SaliencyError(f"per-file figures of different lengths {sorted(n)}")

    @property
    def n(self) -> int:
        """Files checked."""
        return len(self.y)

    def method(self, name: str) -> MethodCheck:
        """The checks of one method by name."""
        for m in self.methods:
            if m.method == name:
                return m
        raise SaliencyError(f"no checks of {name!r} here; there are {', '.join(m.method for m in self.methods)}")

    def summary(self) -> dict:
        """JSON-able figures of every method and of the flips."""
        tried = self.flip_target >= 0
        return {"n": self.n, "flips_tried": int(tried.sum()), "flipped": int(self.flipped.sum()),
                "notes_changed_median": float(np.median(self.notes_changed[self.flipped])) if self.flipped.any() else None,
                "methods": {m.method: m.summary() for m in self.methods}}

    def to_dict(self) -> dict:
        """JSON-able: ``meta``, the settings, every file's figures and :meth:`summary`."""
        return {"meta": dict(self.meta), "n_steps": self.n_steps, "n_random": self.n_random, "seed": self.seed,
                "genres": list(self.genres), "files": list(self.files), "y": self.y.tolist(),
                "flip_target": self.flip_target.tolist(), "flipped": self.flipped.tolist(),
                "notes_changed": self.notes_changed.tolist(), "summary": self.summary(),
                "methods": [m.to_dict() for m in self.methods]}

    @classmethod
    def from_dict(cls, d: dict) -> "MethodChecks":
        """The inverse of :meth:`to_dict` (summaries recomputed)."""
        return cls(tuple(MethodCheck.from_dict(m) for m in d["methods"]), tuple(d["files"]), tuple(d["genres"]),
                   np.array(d["y"]), np.array(d["flip_target"]), np.array(d["flipped"]), np.array(d["notes_changed"]),
                   d["n_steps"], d["n_random"], d["seed"], dict(d.get("meta", {})))

    def frame(self) -> "pandas.DataFrame":
        """The figures of :meth:`lines` as a ``pandas.DataFrame``, one row per method."""
        import pandas as pd

        def interval(d: PairedDifference) -> str:
            return f"{d.difference:+.3f} [{d.low:+.3f}, {d.high:+.3f}]"

        rows = []
        for m in self.methods:
            row = {"method": m.method, "files": m.n, "deletion AUC": m.auc.mean()}
            for c, label in CHANCE_LABELS.items():
                d = m.deletion[c]
                row.update({f"{label} AUC": d.chance_mean, f"map - {label} [95 %]": interval(d),
                            f"files below {label}": d.share_better})
            rows.append({**row, "randomization Spearman": m.randomization_mean,
                         "Spearman with occlusion": float(np.nanmean(m.occlusion_spearman)),
                         "overlap with flips": m.overlap_vs_position.method_mean,
                         "overlap - position-matched [95 %]": interval(m.overlap_vs_position),
                         "complete (IG)": m.complete})
        return pd.DataFrame(rows).set_index("method")

    def lines(self) -> list[str]:
        """The figures in plain text, one method per paragraph."""
        out = []
        for m in self.methods:
            out.append(f"{m.method} ({m.n} files" + ("" if m.complete is None else
                                                      f", completeness {'passes' if m.complete else 'FAILS'}") + ")")
            out.append(f"  deletion AUC {m.auc.mean():.4f}")
            for c, label in CHANCE_LABELS.items():
                d = m.deletion[c]
                out.append(f"  vs {label:17} AUC {d.chance_mean:.4f}: map - chance {d.difference:+.4f} "
                           f"[{d.low:+.4f}, {d.high:+.4f}], map lower for {d.share_better:.0%} of files: {d.verdict}")
            out.append(f"  randomization Spearman |map| {m.randomization_mean:.3f}; Spearman with occlusion "
                       f"{np.nanmean(m.occlusion_spearman):.3f}")
            o = m.overlap_vs_position
            if o.n:
                out.append(f"  overlap with flipped notes {o.method_mean:.3f} vs position-matched {o.chance_mean:.3f}: "
                           f"{o.difference:+.3f} [{o.low:+.3f}, {o.high:+.3f}] over {o.n} flipped files: {o.verdict} "
                           f"(uniform chance {np.nanmean(np.where(np.isfinite(m.overlap), m.overlap_naive, np.nan)):.3f})")
        return out


def _top_overlap(importance: np.ndarray, changed: list[np.ndarray]) -> np.ndarray:
    out = np.full(len(changed), np.nan)
    for i, notes in enumerate(changed):
        if len(notes):
            top = np.argsort(-importance[i], kind="stable")[: len(notes)]
            out[i] = np.isin(notes, top).mean()
    return out


def _flip_all(model, X: np.ndarray, genres: tuple[str, ...], seed: int, say) -> tuple:
    from .changes import changed_notes
    from .flip import FlipSettings, optimize_delta
    from .verdicts import RNNVerdict

    n = len(X)
    judge = RNNVerdict(model, genres, "first100")
    target = np.argsort(predict_proba(model, X), axis=1)[:, -2]
    flipped, notes_changed = np.zeros(n, dtype=bool), np.zeros(n, dtype=int)
    changed: list[np.ndarray] = [np.array([], dtype=int)] * n
    for i in range(n):
        r = optimize_delta(judge, X[i], int(target[i]), FlipSettings(seed=seed))
        flipped[i], notes_changed[i] = r.flipped, r.notes_changed
        if r.flipped:
            changed[i] = changed_notes(r.base, r.modified)  # the notes notes_changed counts
        if (i + 1) % 25 == 0 or i + 1 == n:
            say(f"flips: {i + 1} of {n} files, {flipped[: i + 1].sum()} flipped")
    return target, flipped, notes_changed, changed


def _checked(model, X: np.ndarray, y: np.ndarray, methods: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float32)
    y = check_targets(y, len(X), n_genres(model), SaliencyError)
    if X.ndim != 3:
        raise SaliencyError(f"check_methods needs files x notes x features, got shape {X.shape}")
    unknown = [m for m in methods if m not in S.METHODS]
    if unknown:
        raise SaliencyError(f"unknown saliency method(s) {unknown}; choose from {', '.join(S.METHODS)}")
    return X, y


def check_methods(model, X: np.ndarray, y: np.ndarray, *, ig_baseline: np.ndarray | None = None,
                  neutral: np.ndarray | None = None, feature_scale: np.ndarray | None = None,
                  methods: tuple[str, ...] = S.METHODS, output: str = S.DEFAULT_OUTPUT, files: tuple[str, ...] = (),
                  genres: tuple[str, ...] | None = None, n_steps: int = 20, n_random: int = 5, flips: bool = True,
                  seed: int = 0, log: Callable[[str], None] | None = None) -> MethodChecks:
    """Every method of ``methods`` on files ``X`` explained for their genres ``y``, per
    file with paired bootstrap intervals: deletion against three chance levels (random;
    position-matched, another file's map of its genre; last notes first), randomization,
    agreement with occlusion and, with ``flips``, the overlap of each file's flip to its
    runner-up genre with the map's top notes. IG starts from ``ig_baseline``, occlusion and
    deletion put in ``neutral`` (both default the model's mean note)."""
    say = log or (lambda _line: None)
    X, y = _checked(model, X, y, methods)
    n, n_notes, n_feat = X.shape
    names = tuple(genres) if genres is not None else tuple(str(g) for g in range(n_genres(model)))
    std = S.feature_std(model) if feature_scale is None else np.asarray(feature_scale, dtype=np.float64)
    neutral = S.model_baseline(model, n_notes) if neutral is None else \
        np.broadcast_to(np.asarray(neutral, dtype=np.float32), (n_notes, n_feat))
    x_axis = np.arange(n_steps + 1) / n_steps
    counts = np.round(x_axis * n_notes).astype(int)

    def aucs(orders: np.ndarray) -> np.ndarray:
        return _auc(x_axis, _deletion_probs(model, X, y, orders, neutral, counts))

    # the chance rankings that need no map, drawn once for every method
    rng = np.random.default_rng(seed)
    random, recency = _chance_orders(n, n_notes, rng, n_random)
    auc_random, auc_recency = np.mean([aucs(o) for o in random], axis=0), aucs(recency)
    partners = [derangement(_pairing_groups(y), rng) for _ in range(n_random)]
    say(f"chance levels: random {auc_random.mean():.4f}, last notes first {auc_recency.mean():.4f}")
    flip_target, flipped, notes_changed, changed = np.full(n, -1), np.zeros(n, bool), np.zeros(n, int), [[]] * n
    flip_partners = []
    if flips:
        flip_target, flipped, notes_changed, changed = _flip_all(model, X, names, seed, say)
        flip_partners = [derangement(_pairing_groups(flip_target), rng) for _ in range(n_random)]
    occlusion = S.Occlusion(model, output).explain(X, y, feature_scale=std, baseline=neutral)
    results = []
    for name in methods:
        method = S.method_named(name, model, output, seed=seed)
        options = {"baseline": neutral if name == "occlusion" else ig_baseline} if method.uses_baseline else {}
        shown = occlusion if name == "occlusion" else method.explain(X, y, feature_scale=std, **options)
        importance = S.note_importance(shown.values)
        ranked = [np.argsort(-i, axis=1, kind="stable") for i in (importance, *(importance[p] for p in partners))]
        auc, auc_position = aucs(ranked[0]), np.mean([aucs(r) for r in ranked[1:]], axis=0)
        rand = randomization_check(method, X, y, seed=seed, feature_scale=std, **options)
        overlap = overlap_position = overlap_naive = np.full(n, np.nan)
        if flips:
            # maps of the file as read, not of the flip's MIDI-projected base (they differ by sub-tick timing)
            to_target = S.note_importance(method.explain(X, flip_target, feature_scale=std, **options).values)
            overlap = _top_overlap(to_target, changed)
            overlap_position = np.mean([_top_overlap(to_target[p], changed) for p in flip_partners], axis=0)
            overlap_naive = np.where(np.isfinite(overlap), notes_changed / n_notes, np.nan)
        results.append(MethodCheck(name, auc, auc_random, auc_position, auc_recency, rand.spearman[-1],
                                   agreement(shown.values, occlusion.values).spearman, overlap, overlap_position,
                                   overlap_naive, shown.complete, seed))
        say(f"{name}: deletion AUC {auc.mean():.4f}, position-matched {auc_position.mean():.4f}, "
            f"randomization {np.nanmean(rand.spearman[-1]):.3f}")
    return MethodChecks(tuple(results), tuple(files), names, y, flip_target, flipped, notes_changed,
                        n_steps, n_random, seed)


def save_checks(checks: MethodChecks, path, overwrite: bool = False):
    """Write :meth:`MethodChecks.to_dict` as JSON; :func:`load_checks` reads it."""
    from .paths import write_json

    return write_json(path, checks.to_dict(), overwrite)


def with_meta(checks: MethodChecks, **meta) -> MethodChecks:
    """``checks`` with ``meta`` added (run, data, command)."""
    from dataclasses import replace

    return replace(checks, meta={**checks.meta, **meta})


def load_checks(path) -> MethodChecks:
    """A :class:`MethodChecks` stored by :func:`save_checks` (SaliencyError, naming the file)."""
    import json
    from pathlib import Path

    try:
        return MethodChecks.from_dict(json.loads(Path(path).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SaliencyError(f"{path}: not a stored saliency check ({type(e).__name__}: {e})") from None


def stored_for(checks: MethodChecks, run_path, collection_id: str, files) -> str:
    """Why stored checks are *not* the computation for this run folder, data collection
    and list of files (``""``: they are)."""
    from .paths import shown

    meta = checks.meta
    if meta.get("run") != shown(run_path):
        return f"computed for run {meta.get('run')!r}, not {shown(run_path)!r}"
    if meta.get("data", {}).get("collection") != collection_id:
        return f"computed on collection {meta.get('data', {}).get('collection')!r}, not {collection_id!r}"
    if list(checks.files) != list(files):
        return f"computed on {checks.n} other files"
    return ""
