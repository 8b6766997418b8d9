"""Is a saliency map about the model, and about the music? Three checks.

* :func:`randomization_check` — model-parameter randomization (Adebayo et al. 2018,
  "Sanity checks for saliency maps"). Re-initialize the weights layer by layer from the
  output down, in a *copy* of the model, and compare each map with the trained model's
  map by Spearman rank correlation of |attribution|. A method whose maps barely change
  when the weights are destroyed shows the input or the architecture, not what the
  model learned.
* :func:`deletion_curve` — faithfulness. Replace the notes the map calls most important,
  most important first, with a neutral note and follow the target genre's probability;
  compare with replacing notes in random order. If the map is right, the probability
  falls faster than at random (a lower area under the curve).
* :func:`planted_cue_share` — ground truth on the generated demo corpus, where the notes
  that carry a genre cue are known (:func:`genre_lib.demo.planted_cue_mask`): the share
  of |attribution| that lands on them, next to the share of notes they are (chance).

:func:`check_report` runs the first two on a set of files and gives the report that
``genre-lib saliency-check`` prints (:func:`report_lines`) and a notebook can show.

Why one module of more than 450 lines: the checks and their report are one job (is a
map to be trusted?), and the report needs both checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import saliency as S
from .inference import check_targets, n_genres, predict_proba
from .saliency import SaliencyError

# ---------------------------------------------------------------------------------------
# Copies of a model
# ---------------------------------------------------------------------------------------


def _finalize(model) -> None:
    """Keras ``Normalization`` layers copy their adapted statistics into the tensors they
    use only in ``finalize_state``; after ``set_weights`` on a copy this must run, or
    the copy normalizes with mean 0 and variance 1."""
    stack = list(model.layers)
    while stack:
        layer = stack.pop()
        if hasattr(layer, "finalize_state"):
            layer.finalize_state()
        stack.extend(getattr(layer, "layers", []))


def clone_model(model, dtype: str | None = None):
    """An independent copy of a Keras model with the same weights (the original is never
    touched). With ``dtype="float64"`` every layer computes in float64, e.g. to check
    gradients against finite differences without float32 round-off."""
    import keras

    if dtype is None:
        copy = keras.models.clone_model(model)
    else:
        # every layer's dtype policy is stored as a string in the config
        config = json.loads(json.dumps(model.get_config()).replace('"float32"', json.dumps(dtype)))
        copy = model.__class__.from_config(config)
    copy.set_weights([np.asarray(w).astype(dtype) if dtype else w for w in model.get_weights()])
    _finalize(copy)
    return copy


def _learned_layers(model) -> list:
    """Layers with trainable weights, from the output back to the input (the order in
    which the cascade destroys them). Normalization statistics are not learned by
    gradient descent and are not randomized."""
    return [layer for layer in reversed(model.layers) if layer.trainable_weights]


def _reinitialize(layer, rng: np.random.Generator) -> None:
    """Fresh random weights for one layer, drawn with ``rng`` as Keras initializes a new
    layer by default: Glorot-uniform kernels, orthogonal recurrent kernels, zero biases
    and betas, unit gammas. Seeded with numpy so no global random state of
    Keras or TensorFlow is touched."""
    for var in layer.trainable_weights:
        shape = tuple(var.shape)
        name = var.path if hasattr(var, "path") else var.name
        leaf = name.rsplit("/", 1)[-1]
        if "gamma" in leaf:
            value = np.ones(shape)
        elif len(shape) < 2 or "bias" in leaf or "beta" in leaf:
            value = np.zeros(shape)
        elif "recurrent" in leaf:
            # Keras' default for recurrent kernels: orthogonal (norm-preserving), so the
            # random copy remembers as far back as a freshly built layer does
            rows, cols = int(np.prod(shape[:-1])), shape[-1]
            q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
            q = q * np.sign(np.diag(r))
            value = (q if rows >= cols else q.T).reshape(shape)
        else:
            fan_in, fan_out = int(np.prod(shape[:-1])), shape[-1]
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            value = rng.uniform(-limit, limit, shape)
        var.assign(value.astype(np.dtype(var.dtype)))


def _spearman_per_file(a: np.ndarray, b: np.ndarray, absolute: bool = True) -> np.ndarray:
    from scipy.stats import spearmanr

    out = np.empty(len(a))
    for i in range(len(a)):
        u, v = a[i].ravel(), b[i].ravel()
        if absolute:
            u, v = np.abs(u), np.abs(v)
        if np.ptp(u) == 0 or np.ptp(v) == 0:  # a constant map has no ranking
            out[i] = np.nan
        else:
            out[i] = spearmanr(u, v).statistic
    return out


@dataclass
class RandomizationResult:
    """Spearman rank correlation of |map| between the trained model and copies with
    more and more layers re-initialized.

    Attributes:
        method: the saliency method.
        mode: ``"cascade"`` (stage k re-initializes the top k learned layers) or
            ``"independent"`` (stage k re-initializes layer k alone).
        stages: names of the layers re-initialized at each stage (cumulative list for a
            cascade).
        spearman: array (stages, files), rank correlation of |map| (the check).
        spearman_signed: the same without the absolute value (Adebayo et al. report
            both): whether the direction of each entry survives, not only its size.
    """

    method: str
    mode: str
    stages: list[list[str]]
    spearman: np.ndarray
    spearman_signed: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """Mean correlation over files, per stage."""
        return np.nanmean(self.spearman, axis=1)

    @property
    def fully_randomized(self) -> float:
        """Mean correlation once every learned layer is re-initialized (cascade)."""
        return float(self.mean[-1])

    def summary(self) -> dict:
        return {
            "method": self.method,
            "mode": self.mode,
            "stages": [
                {"randomized": s, "spearman_mean": round(float(m), 4), "spearman_signed_mean": round(float(ms), 4)}
                for s, m, ms in zip(self.stages, self.mean, np.nanmean(self.spearman_signed, axis=1))
            ],
            "n": int(self.spearman.shape[1]),
        }


def randomization_check(
    model,
    X: np.ndarray,
    target,
    method: str = "gradient",
    layers: str = "cascade",
    seed: int = 0,
    feature_scale: np.ndarray | None = None,
    scaled: bool = True,
    **attribute_kwargs,
) -> RandomizationResult:
    """Model-parameter randomization test (Adebayo et al. 2018).

    A copy of the model (:func:`clone_model`; the original's weights are never changed)
    has its learned layers re-initialized one after another from the top (the ``logits``
    Dense layer first), and at every stage the map of each file is compared with the
    trained model's map by the Spearman rank correlation of |attribution| over all
    (note, feature) entries of that file (``scipy.stats.spearmanr``).

    Maps are compared as they are shown (:func:`genre_lib.saliency.comparable`): a raw
    gradient's columns differ by the 1/std of the model's input normalization, which a
    random copy shares, so raw maps correlate through units alone (``scaled=False``
    shows how much; notebook 04 measures it).

    What else a random copy shares, and so what this check cannot see past:

    * position: a plain GRU's gradient fades with the distance from the last note, and
      a random GRU's fades the same way. Without :class:`~genre_lib.model.NoteSummary`
      most of |map| sits on the last notes and the check stays near 1 whatever the
      weights; only the signed correlation (``spearman_signed``) falls.
    * the input: gradient x input and IG multiply the gradient by ``x`` or
      ``x - baseline``, a factor both models share, and entries that are exactly 0 in
      both (the drum flag of pitched notes; IG's program column, whose baseline is the
      file's own) tie, so these two methods can fail the check on a model whose
      gradients pass it (notebook 04 puts every method through it).

    Args:
        model: trained classifier (see :func:`genre_lib.saliency.attribute`).
        X, target: files (files, notes, features) and the genre index to explain.
        method: saliency method.
        layers: ``"cascade"`` or ``"independent"``.
        seed: seed of the re-initialization (and of SmoothGrad's noise).
        feature_scale: per-feature std for :func:`~genre_lib.saliency.comparable`
            (default: read from the model).
        scaled: compare the maps as shown (default); ``False`` compares the raw
            attributions (logit per feature unit for gradient and SmoothGrad), to see
            how much of the agreement is units.
        attribute_kwargs: passed to :func:`~genre_lib.saliency.attribute` (e.g. the IG
            ``baseline``).

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
    scale = S.feature_std(model) if feature_scale is None else np.asarray(feature_scale)

    def comparable_map(m):
        a = S.attribute(m, X, target, method=method, seed=seed, feature_scale=scale, **attribute_kwargs)
        return S.comparable(a, method, scale)[0] if scaled else a

    reference = comparable_map(model)
    copy = clone_model(model)
    trained = copy.get_weights()
    learned = _learned_layers(copy)
    if not learned:
        raise SaliencyError("the model has no trainable layers to randomize")
    rng = np.random.default_rng(seed)
    stages, rows, signed = [], [], []
    for k, layer in enumerate(learned):
        if layers == "independent":
            copy.set_weights(trained)
            _finalize(copy)
            stages.append([layer.name])
        else:
            stages.append([lay.name for lay in learned[: k + 1]])
        _reinitialize(layer, rng)
        randomized = comparable_map(copy)
        rows.append(_spearman_per_file(reference, randomized))
        signed.append(_spearman_per_file(reference, randomized, absolute=False))
    return RandomizationResult(method, layers, stages, np.array(rows), np.array(signed))


# ---------------------------------------------------------------------------------------
# Deletion curves
# ---------------------------------------------------------------------------------------


@dataclass
class DeletionResult:
    """Target-genre probability as notes are replaced by a neutral note.

    Attributes:
        x: fraction of notes replaced at each point, 0 to 1 (``n_steps + 1`` points).
        salient: (files, points) probability, most important notes replaced first.
        random: (files, points) probability, notes replaced in random order (mean over
            ``n_random`` seeded orders).
        auc_salient, auc_random: (files,) area under each curve over x in [0, 1]
            (trapezoid rule); lower means the probability fell sooner.
        extra: ``"recency"`` (files, points), the curve when the *last* notes are
            replaced first, and ``"auc_recency"``: a map-free ranking to beat, since a
            recurrent network's output depends most on the notes it read last.
    """

    x: np.ndarray
    salient: np.ndarray
    random: np.ndarray
    auc_salient: np.ndarray
    auc_random: np.ndarray
    extra: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "deletion_auc": round(float(self.auc_salient.mean()), 4),
            "random_deletion_auc": round(float(self.auc_random.mean()), 4),
            "salient_lower_share": round(float((self.auc_salient < self.auc_random).mean()), 4),
            **(
                {"recency_deletion_auc": round(float(self.extra["auc_recency"].mean()), 4)}
                if "auc_recency" in self.extra
                else {}
            ),
            "n": int(len(self.auc_salient)),
        }


def _auc(x: np.ndarray, curves: np.ndarray) -> np.ndarray:
    return ((curves[:, 1:] + curves[:, :-1]) / 2 * np.diff(x)).sum(axis=1)


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
    """Deletion curve of a saliency map against random deletion.

    Notes are ranked by :func:`~genre_lib.saliency.note_importance` of ``attr`` (sum of
    |attribution| over features; pass a comparable map). At point j = 0..n_steps the
    first round(j / n_steps * notes) notes of the ranking are replaced by the neutral
    note and the model's probability of the target genre is recorded. The same is done
    for ``n_random`` random orders per file (seeded).

    A replaced note keeps its place in the sequence but takes the neutral note's step,
    so later onsets move too: deleting a note from a sequence of relative times is never
    perfectly local. The neutral note (a dataset mean) is not a playable note (fractional
    drum flag and program); it is a point the model has no genre evidence for.

    Args:
        model: trained classifier.
        X: files (files, notes, features) or one table (notes, features).
        target: genre index per file (or one for all).
        attr: the maps of ``X`` (same shape), e.g. ``saliency_map(...).values``.
        baseline_note: the neutral note (features,) or a per-position table (notes,
            features), e.g. :func:`~genre_lib.saliency.mean_baseline`.
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
    if attr.shape != X.shape:
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
    # a map-free ranking a recurrent model makes hard to beat: the last notes first
    recency = curves(np.tile(np.arange(n_notes)[::-1], (n, 1)))
    extra = {"recency": recency, "auc_recency": _auc(x, recency)}
    return DeletionResult(x, salient, random, _auc(x, salient), _auc(x, random), extra)


# ---------------------------------------------------------------------------------------
# Planted cues (demo corpus)
# ---------------------------------------------------------------------------------------


def planted_cue_share(attr: np.ndarray, tables: np.ndarray, mask_fn: Callable[[np.ndarray], np.ndarray]) -> dict:
    """Share of |attribution| on the notes that carry a planted genre cue.

    Args:
        attr: maps (files, notes, features), comparable across features.
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
    model,
    X: np.ndarray,
    y: np.ndarray,
    method: str = "gradient",
    baseline: np.ndarray | None = None,
    n_steps: int = 20,
    seed: int = 0,
) -> dict:
    """Both checks of one method on files ``X`` explained for their own genres ``y``,
    as one JSON-able dict.

    Args:
        model: trained classifier.
        X, y: files (files, notes, features) and their genre indices.
        method: saliency method.
        baseline: the neutral table of IG and of deletion (default: the training mean
            note, :func:`~genre_lib.saliency.model_baseline`).
        n_steps, seed: see :func:`deletion_curve` (the seed also seeds the
            randomization and SmoothGrad's noise).

    Returns:
        ``method``, ``n``, ``accuracy``, ``randomization_spearman`` (|map|, every
        learned layer re-initialized), ``randomization_spearman_signed``,
        ``randomization_stages`` and :meth:`DeletionResult.summary`'s keys.
    """
    X = np.asarray(X)
    neutral = S.model_baseline(model, X.shape[1]) if baseline is None else baseline
    std = S.feature_std(model)
    kwargs = {"baseline": neutral} if method == "ig" else {}
    shown = S.saliency_map(model, X, y, method, feature_scale=std, seed=seed, **kwargs).values
    rand = randomization_check(model, X, y, method=method, seed=seed, feature_scale=std, **kwargs)
    deletion = deletion_curve(model, X, y, shown, neutral, n_steps=n_steps, seed=seed)
    accuracy = float((predict_proba(model, X).argmax(-1) == np.asarray(y)).mean())
    return {
        "method": method,
        "n": int(len(X)),
        "accuracy": round(accuracy, 4),
        "randomization_spearman": round(rand.fully_randomized, 4),
        "randomization_spearman_signed": round(float(np.nanmean(rand.spearman_signed[-1])), 4),
        "randomization_stages": rand.summary()["stages"],
        **deletion.summary(),
    }


def report_lines(report: dict) -> list[str]:
    """The text form of :func:`check_report` (what ``genre-lib saliency-check`` prints
    after its first line)."""
    lines = [f"  randomized {' + '.join(stage['randomized'])}: Spearman vs trained |map| {stage['spearman_mean']:.3f}, "
             f"signed {stage['spearman_signed_mean']:.3f}" for stage in report["randomization_stages"]]
    lines.append(f"  deletion AUC: salient first {report['deletion_auc']:.3f}, random {report['random_deletion_auc']:.3f}, "
                 f"last notes first {report.get('recency_deletion_auc', float('nan')):.3f} (lower = falls faster)")
    return lines
