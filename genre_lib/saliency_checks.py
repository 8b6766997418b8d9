"""Is a saliency map about the model, and about the music? The checks.

* :func:`randomization_check`: model-parameter randomization (Adebayo et al. 2018,
  "Sanity checks for saliency maps"). Re-initialize the weights layer by layer from the
  output down, in a *copy* of the model, and compare each map with the trained model's
  map by Spearman rank correlation of |attribution|. A method whose maps barely change
  when the weights are destroyed shows the input or the architecture, not what the
  model learned.
* :func:`deletion_curve`: faithfulness. Replace the notes the map calls most important,
  most important first, with a neutral note and follow the target genre's probability;
  compare with replacing notes in random order and with replacing the last notes first.
* :func:`agreement`: does a map rank the notes as occlusion does
  (:class:`genre_lib.saliency.Occlusion`, the measured drop of the output without each
  note), the faithfulness reference of a gradient map?
* :func:`planted_cue_share`: ground truth on the generated demo corpus, where the notes
  that carry a genre cue are known (:func:`genre_lib.demo.planted_cue_mask`).

:func:`check_report` runs them on a set of files and gives the report that
``genre-lib saliency-check`` prints (:func:`report_lines`) and a notebook can show.
Results are frozen dataclasses whose figures are all fields, their arrays read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import saliency as S
from .inference import check_targets, n_genres, predict_proba
from .metrics import bootstrap_interval
from .model import clone_model, finalize_normalization, learned_layers, reinitialize_layer
from .saliency import Method, SaliencyError

#: notes compared in :func:`agreement`'s top-k overlap
TOP_K = 10


def _freeze(obj, **values) -> None:
    """Set the computed fields of a frozen dataclass; every array field becomes a
    read-only copy (the caller's arrays stay as they were)."""
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


# ---------------------------------------------------------------------------------------
# Randomization
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RandomizationResult:
    """Spearman rank correlation of |map| between the trained model and copies with
    more and more layers re-initialized.

    Attributes:
        method: the saliency method's name.
        mode: ``"cascade"`` (stage k re-initializes the top k learned layers) or
            ``"independent"`` (stage k re-initializes layer k alone).
        stages: names of the layers re-initialized at each stage (cumulative for a
            cascade).
        spearman: (stages, files), rank correlation of |map| (the check).
        spearman_signed: the same without the absolute value (Adebayo et al. report
            both): whether the direction of each entry survives, not only its size.
        mean, mean_signed: (stages,) means over files (NaN-skipping: a constant map has
            no ranking).
        fully_randomized, fully_randomized_signed: the last stage's means (for a
            cascade: every learned layer re-initialized).
    """

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


def randomization_check(
    method: Method,
    X: np.ndarray,
    target,
    layers: str = "cascade",
    seed: int = 0,
    feature_scale: np.ndarray | None = None,
    scaled: bool = True,
    **options,
) -> RandomizationResult:
    """Model-parameter randomization test (Adebayo et al. 2018).

    A copy of the method's model (:func:`genre_lib.model.clone_model`; the original's
    weights are never changed) has its learned layers re-initialized one after another
    from the top (the ``logits`` Dense layer first), and at every stage the map of each
    file is compared with the trained model's map by the Spearman rank correlation of
    |attribution| over all entries of that file (``scipy.stats.spearmanr``).

    Maps are compared as they are shown (:meth:`~genre_lib.saliency.Method.shown`): a
    raw gradient's columns differ by the 1/std of the model's input normalization, which
    a random copy shares, so raw maps correlate through units alone (``scaled=False``
    shows how much).

    What else a random copy shares, and so what this check cannot see past: the
    position (a recurrent network's gradient fades with the distance from the last note,
    a random one's too; the signed correlation shows more), and the input (gradient x
    input and IG multiply by ``x`` or ``x - baseline``, a factor both models share, and
    entries that are exactly 0 in both tie).

    Args:
        method: the saliency method, on the trained model.
        X, target: files (files, notes, features) and the genre index to explain.
        layers: ``"cascade"`` or ``"independent"``.
        seed: seed of the re-initialization.
        feature_scale: per-feature std for :meth:`~genre_lib.saliency.Method.shown`
            (default: read from the model).
        scaled: compare the maps as shown (default); ``False`` compares the raw
            attributions.
        options: passed to the method's ``attribute`` (e.g. IG's ``baseline``).

    Returns:
        A :class:`RandomizationResult`; ``.fully_randomized`` is the mean correlation
        with every learned layer re-initialized (a trustworthy method falls well below
        0.5; 1 would mean the map ignores the weights).
    """
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


# ---------------------------------------------------------------------------------------
# Deletion curves
# ---------------------------------------------------------------------------------------


def _auc(x: np.ndarray, curves: np.ndarray) -> np.ndarray:
    return ((curves[:, 1:] + curves[:, :-1]) / 2 * np.diff(x)).sum(axis=1)


@dataclass(frozen=True, eq=False)
class DeletionResult:
    """Target-genre probability as notes are replaced by a neutral note.

    Attributes:
        x: fraction of notes replaced at each point, 0 to 1 (``n_steps + 1`` points).
        salient: (files, points) probability, most important notes replaced first.
        random: (files, points) probability, notes replaced in random order (mean over
            ``n_random`` seeded orders).
        recency: (files, points) probability, the *last* notes replaced first: a
            map-free ranking to beat, since a recurrent network's output depends most on
            the notes it read last.
        auc_salient, auc_random, auc_recency: (files,) area under each curve over x in
            [0, 1] (trapezoid rule); lower means the probability fell sooner.
        deletion_auc, random_deletion_auc, recency_deletion_auc: their means.
        salient_lower_share: share of files whose salient AUC is below the random one.
    """

    x: np.ndarray
    salient: np.ndarray
    random: np.ndarray
    recency: np.ndarray
    auc_salient: np.ndarray = field(init=False)
    auc_random: np.ndarray = field(init=False)
    auc_recency: np.ndarray = field(init=False)
    deletion_auc: float = field(init=False)
    random_deletion_auc: float = field(init=False)
    recency_deletion_auc: float = field(init=False)
    salient_lower_share: float = field(init=False)

    def __post_init__(self) -> None:
        aucs = {k: _auc(self.x, getattr(self, k)) for k in ("salient", "random", "recency")}
        _freeze(self, auc_salient=aucs["salient"], auc_random=aucs["random"], auc_recency=aucs["recency"],
                deletion_auc=float(aucs["salient"].mean()), random_deletion_auc=float(aucs["random"].mean()),
                recency_deletion_auc=float(aucs["recency"].mean()),
                salient_lower_share=float((aucs["salient"] < aucs["random"]).mean()))

    def summary(self) -> dict:
        """JSON-able figures over the files."""
        return {
            "deletion_auc": round(self.deletion_auc, 4),
            "random_deletion_auc": round(self.random_deletion_auc, 4),
            "salient_lower_share": round(self.salient_lower_share, 4),
            "recency_deletion_auc": round(self.recency_deletion_auc, 4),
            "n": int(len(self.auc_salient)),
        }


def _replace_in_order(X: np.ndarray, orders: np.ndarray, neutral: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Tables (files, points, notes, features): point j has the first counts[j] notes of
    each file's order replaced by the neutral row of that position."""
    n, n_notes, _ = X.shape
    rank = np.empty_like(orders)
    rank[np.arange(n)[:, None], orders] = np.arange(n_notes)[None]
    replaced = rank[:, None, :] < counts[None, :, None]  # (files, points, notes)
    return np.where(replaced[..., None], neutral[None, None], X[:, None])


def deletion_curve(
    model,
    X: np.ndarray,
    target,
    attr: np.ndarray,
    baseline_note: np.ndarray,
    n_steps: int = 20,
    seed: int = 0,
    n_random: int = 5,
) -> DeletionResult:
    """Deletion curve of a saliency map against random deletion and recency.

    Notes are ranked by :func:`~genre_lib.saliency.note_importance` of ``attr`` (sum of
    |attribution| over the map's columns; pass a comparable map). At point j = 0..n_steps
    the first round(j / n_steps * notes) notes of the ranking are replaced by the neutral
    note and the model's probability of the target genre is recorded. The same is done
    for ``n_random`` random orders per file (seeded) and for the last notes first.

    A replaced note keeps its place in the sequence but takes the neutral note's step,
    so later onsets move too: deleting a note from a sequence of relative times is never
    perfectly local. The neutral note (a dataset mean) is not a playable note (fractional
    drum flag and program); it is a point the model has no genre evidence for.

    Args:
        model: trained classifier.
        X: files (files, notes, features) or one table (notes, features).
        target: genre index per file (or one for all).
        attr: the maps of ``X`` (files, notes, columns), e.g. ``explain(...).values``.
        baseline_note: the neutral note (features,) or a per-position table (notes,
            features), e.g. :func:`~genre_lib.saliency.model_baseline`.
        n_steps: points after the unmodified one; the curves have ``n_steps + 1`` points.
        seed: seed of the random orders.
        n_random: random orders averaged per file.

    Returns:
        A :class:`DeletionResult`; its first point is the unmodified probability.
    """
    X = np.asarray(X, dtype=np.float32)
    attr = np.asarray(attr)
    if X.ndim == 2:
        X, attr = X[None], attr[None]
    if attr.shape[:2] != X.shape[:2]:
        raise SaliencyError(f"attr shape {attr.shape} does not match X shape {X.shape}")
    if n_steps < 1:
        raise SaliencyError("n_steps must be at least 1")
    n, n_notes, n_feat = X.shape
    t = check_targets(target, n, n_genres(model), SaliencyError)
    neutral = np.broadcast_to(np.asarray(baseline_note, dtype=np.float32), (n_notes, n_feat))
    x = np.arange(n_steps + 1) / n_steps
    counts = np.round(x * n_notes).astype(int)

    def curves(orders: np.ndarray) -> np.ndarray:
        tables = _replace_in_order(X, orders, neutral, counts)
        p = predict_proba(model, tables.reshape(-1, n_notes, n_feat)).reshape(n, n_steps + 1, -1)
        return p[np.arange(n), :, t]

    importance = S.note_importance(attr)
    salient = curves(np.argsort(-importance, axis=1, kind="stable"))
    rng = np.random.default_rng(seed)
    random = np.mean(
        [curves(np.argsort(rng.random((n, n_notes)), axis=1)) for _ in range(max(1, n_random))], axis=0
    )
    recency = curves(np.tile(np.arange(n_notes)[::-1], (n, 1)))
    return DeletionResult(x, salient, random, recency)


# ---------------------------------------------------------------------------------------
# Agreement with a reference map (occlusion)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AgreementResult:
    """How a map ranks the notes compared with a reference map's ranking.

    Attributes:
        spearman: (files,) Spearman correlation of the per-note importance
            (:func:`~genre_lib.saliency.note_importance`, |.| summed over columns).
        top_overlap: (files,) share of the reference's ``k`` most important notes that
            are among the map's ``k`` most important.
        k: the notes compared in ``top_overlap``.
        chance: ``top_overlap`` expected of a random ranking, ``k / notes``.
        mean_spearman, mean_top_overlap: their means over files (NaN-skipping).
    """

    spearman: np.ndarray
    top_overlap: np.ndarray
    k: int
    chance: float
    mean_spearman: float = field(init=False)
    mean_top_overlap: float = field(init=False)

    def __post_init__(self) -> None:
        _freeze(self, mean_spearman=float(np.nanmean(self.spearman)),
                mean_top_overlap=float(np.mean(self.top_overlap)))

    def summary(self) -> dict:
        """JSON-able means over files, each with its 95 % bootstrap interval over files."""
        rho = self.spearman[np.isfinite(self.spearman)]
        return {"spearman": round(self.mean_spearman, 4),
                "spearman_interval": [round(v, 4) for v in bootstrap_interval(rho)],
                f"top{self.k}_overlap": round(self.mean_top_overlap, 4),
                f"top{self.k}_overlap_interval": [round(v, 4) for v in bootstrap_interval(self.top_overlap)],
                "chance": round(self.chance, 4), "n": int(len(self.spearman))}


def agreement(attr: np.ndarray, reference: np.ndarray, k: int = TOP_K) -> AgreementResult:
    """Do two maps of the same files rank the notes alike?

    Args:
        attr, reference: maps (files, notes, columns) or (notes, columns); the columns
            may differ (a gradient map's six features against occlusion's one).
        k: notes compared in the top-k overlap.
    """
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


def recency_map(n_files: int, n_notes: int) -> np.ndarray:
    """A map with no model in it: each note's importance is its position (the last note
    read most important), the ranking a recurrent network's maps lean towards. Its
    :func:`agreement` with a reference is the chance level that keeps the recency effect."""
    return np.tile(np.arange(1, n_notes + 1, dtype=np.float64)[None, :, None], (n_files, 1, 1))


# ---------------------------------------------------------------------------------------
# Planted cues (demo corpus)
# ---------------------------------------------------------------------------------------


def planted_cue_share(attr: np.ndarray, tables: np.ndarray, mask_fn: Callable[[np.ndarray], np.ndarray]) -> dict:
    """Share of |attribution| on the notes that carry a planted genre cue.

    Args:
        attr: maps (files, notes, columns), comparable across columns.
        tables: the note tables the maps explain (files, notes, features).
        mask_fn: table -> boolean mask (notes,) of cue notes, e.g.
            :func:`genre_lib.demo.planted_cue_mask`.

    Returns:
        ``share``: per file, sum of |attr| on cue notes / sum of |attr|;
        ``chance``: per file, the fraction of notes that are cue notes (what a map
        spreading attribution evenly would score); ``mean_share``, ``mean_chance`` and
        ``lift`` (their ratio) over the files with at least one cue note; ``n``.
    """
    attr = np.asarray(attr)
    tables = np.asarray(tables)
    if attr.ndim == 2:
        attr, tables = attr[None], tables[None]
    imp = S.note_importance(attr)
    share, chance = [], []
    for a, table in zip(imp, tables):
        mask = np.asarray(mask_fn(table), dtype=bool)[: len(a)]
        if mask.shape != a.shape:
            raise SaliencyError(f"mask_fn returned {mask.shape} for a table of {len(a)} notes")
        total = a.sum()
        share.append(a[mask].sum() / total if total > 0 else np.nan)
        chance.append(mask.mean())
    share, chance = np.array(share), np.array(chance)
    used = (chance > 0) & np.isfinite(share)
    mean_share = float(share[used].mean()) if used.any() else float("nan")
    mean_chance = float(chance[used].mean()) if used.any() else float("nan")
    return {
        "share": share,
        "chance": chance,
        "mean_share": mean_share,
        "mean_chance": mean_chance,
        "lift": mean_share / mean_chance if used.any() and mean_chance > 0 else float("nan"),
        "n": int(used.sum()),
    }


# ---------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------


def check_report(
    method: Method,
    X: np.ndarray,
    y: np.ndarray,
    baseline: np.ndarray | None = None,
    n_steps: int = 20,
    seed: int = 0,
) -> dict:
    """Every check of one method on files ``X`` explained for their own genres ``y``,
    as one JSON-able dict.

    Args:
        method: the saliency method, on the trained model.
        X, y: files (files, notes, features) and their genre indices.
        baseline: the neutral table of IG, occlusion and deletion (default: the training
            mean note, :func:`~genre_lib.saliency.model_baseline`).
        n_steps, seed: see :func:`deletion_curve` (the seed also seeds the
            randomization).

    Returns:
        ``method``, ``output``, ``n``, ``accuracy``; ``randomization_spearman`` (|map|,
        every learned layer re-initialized), ``randomization_spearman_signed``,
        ``randomization_stages``; :meth:`DeletionResult.summary`'s keys;
        ``occlusion_agreement`` (:func:`agreement` with the occlusion map) and
        ``recency_agreement`` (the position-only map's, the chance level);
        ``completeness`` (IG's :meth:`~genre_lib.saliency.Completeness.summary`, else
        None); ``unattributed``.
    """
    X = np.asarray(X)
    model = method.model
    neutral = S.model_baseline(model, X.shape[1]) if baseline is None else baseline
    std = S.feature_std(model)
    options = {"baseline": neutral} if method.uses_baseline else {}
    shown = method.explain(X, y, feature_scale=std, baseline=neutral)
    rand = randomization_check(method, X, y, seed=seed, feature_scale=std, **options)
    deletion = deletion_curve(model, X, y, shown.values, neutral, n_steps=n_steps, seed=seed)
    occlusion = shown if method.name == "occlusion" else \
        S.Occlusion(model, method.output).explain(X, y, feature_scale=std, baseline=neutral)
    accuracy = float((predict_proba(model, X).argmax(-1) == np.asarray(y)).mean())
    return {
        "method": method.name,
        "output": method.output,
        "n": int(len(X)),
        "accuracy": round(accuracy, 4),
        "randomization_spearman": round(rand.fully_randomized, 4),
        "randomization_spearman_signed": round(rand.fully_randomized_signed, 4),
        "randomization_stages": rand.summary()["stages"],
        **deletion.summary(),
        "occlusion_agreement": agreement(shown.values, occlusion.values).summary(),
        "recency_agreement": agreement(recency_map(*X.shape[:2]), occlusion.values).summary(),
        "completeness": None if shown.completeness is None else shown.completeness.summary(),
        "unattributed": list(shown.unattributed),
    }


def report_lines(report: dict) -> list[str]:
    """The text form of :func:`check_report` (what ``genre-lib saliency-check`` prints
    after its first line)."""
    lines = [f"  randomized {' + '.join(stage['randomized'])}: Spearman vs trained |map| {stage['spearman_mean']:.3f}, "
             f"signed {stage['spearman_signed_mean']:.3f}" for stage in report["randomization_stages"]]
    lines.append(f"  deletion AUC: salient first {report['deletion_auc']:.3f}, random {report['random_deletion_auc']:.3f}, "
                 f"last notes first {report['recency_deletion_auc']:.3f} (lower = falls faster)")
    occ, rec = report["occlusion_agreement"], report["recency_agreement"]
    k = next(key for key in occ if key.startswith("top") and key.endswith("_overlap"))
    lines.append(f"  agreement with occlusion: Spearman {occ['spearman']:.3f}, {k.replace('_', ' ')} {occ[k]:.3f} "
                 f"(position alone: {rec['spearman']:.3f}, {rec[k]:.3f}; random {occ['chance']:.2f})")
    if report["completeness"] is not None:
        c = report["completeness"]
        lines.append(f"  completeness: {c['complete_share']:.0%} of files within {c['tolerance']:.0%} "
                     f"(median gap {c['gap_median']:.4f}, max {c['gap_max']:.4f})")
    if report["unattributed"]:
        lines.append("  gets no attribution: " + "; ".join(report["unattributed"]))
    return lines
