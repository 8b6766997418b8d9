"""Saliency maps: which notes and which of their features a genre decision rests on.

Every method answers for one file and one genre with a **signed (notes x features)
map** of the same shape as the note table, and accepts a batch of files
``(files, notes, features)`` with one target genre per file:

>>> m = saliency_map(model, X, target=y, method="gradient")   # one call: the map as shown
>>> m.values, m.unit                                             # (files, 100, 6), its unit
>>> m.importance()                                               # one number per note

:func:`saliency_map` is :func:`attribute` (the signed map in the method's own units)
made comparable across features (:func:`comparable`), with the model's probabilities
and, unless given, the predicted genre as the target.

Methods (``method=``):

``"gradient"``
    d logit_target / d x: how fast the target logit moves per unit of each input
    entry. This is the map of the study.
``"gradxinput"``
    gradient * input. Its sum approximates the logit only if the model were linear
    and an all-zero table were "no music"; here the origin is arbitrary (pitch 0 is
    not silence, program 0 is a piano), so large raw values (pitch ~60, velocity ~90,
    program) dominate it whatever the model learned. Kept for comparison; read it as
    a warning about input-times-gradient methods on raw MIDI units.
``"smoothgrad"``
    the gradient averaged over ``n_samples`` noisy copies of the input (Smilkov et al.
    2017). The noise of each feature is ``noise`` times *that feature's* standard
    deviation (semitones for pitch, seconds for step, ...): one noise level for all
    columns would be a huge jitter of the step and nothing for the pitch.
``"ig"``
    Integrated Gradients (Sundararajan et al. 2017) from a stated ``baseline`` table:
    ``(x - baseline) * mean of the gradient along the straight path``. Its sum over all
    entries equals ``logit(x) - logit(baseline)`` (completeness; see
    :func:`ig_completeness_gap`). The baseline should be *genre-neutral music*, by
    default :func:`mean_baseline` of the training files (per position and feature, with
    both genres weighted equally), not all zeros: a zero table is pitch 0, zero step,
    zero duration and velocity, drum 0 and program 0, i.e. a burst of inaudible
    simultaneous notes far outside anything the model was trained on, so the path
    would start in a region where the model's output means nothing and the
    attributions would mostly explain "why is this not a zero table".

Why logits: every method differentiates the **pre-softmax logit** of the target genre
(:func:`genre_lib.model.logits_model`), not its probability. A confidently classified file has
p ≈ 1, where the softmax is flat and d p / d x ≈ p (1 - p) d logit / d x ≈ 0: the map
would shrink towards zero exactly for the files the model is surest about, and with
two genres the probability gradient is the logit-gap gradient times a per-file factor
that differs between files, so maps would not be comparable across files.

Units: the gradient is "logit per unit of the feature", and the units differ (a
semitone, a second, a velocity step, a program number). :func:`scale_by_feature_std`
multiplies each column by the feature's standard deviation over the training notes,
giving "change of the logit for a typical (one-std) change of this feature at this
note", to first order. That is what makes the columns comparable in a heat map.
Gradient x input and IG are already in logit units (they are contributions that add up
to a logit difference) and are shown as they are (:func:`comparable`).

Drum and program: the ``drum`` flag (0/1) and the ``program`` number (0-127) are
categories, but the model receives them as numbers, so their gradient is well defined:
it is how the logit would move if the flag were nudged towards "drum" or the program
number up by one (from, e.g., an acoustic to a bright piano, or from 32 to 33, acoustic
to fingered bass). Only its sign and size at the current value mean something; no
value between two programs exists as an instrument. They stay in the map so a model
that relies on instrumentation shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .inference import as_batch, check_targets, gradient, input_dtype, logits, n_genres, predict_proba
from .midi_io import FEATURES, PROGRAM

METHODS: tuple[str, ...] = ("gradient", "gradxinput", "smoothgrad", "ig")
"""Names accepted by :func:`attribute`."""

#: SmoothGrad's default: noisy copies averaged, and the noise as a fraction of each
#: feature's std (Smilkov et al. found 10-20% best).
N_SAMPLES: int = 25
NOISE: float = 0.15
#: IG's default: Gauss-Legendre points along the path, enough for completeness within
#: about 1% on the project's GRU/LSTM models.
IG_STEPS: int = 32

#: Units of :func:`attribute`'s maps and of :func:`comparable`'s, per method.
RAW_UNITS: dict[str, str] = {"gradient": "logit per feature unit", "smoothgrad": "logit per feature unit",
                             "gradxinput": "logit", "ig": "logit"}
SHOWN_UNITS: dict[str, str] = {"gradient": "logit change per 1-std change", "smoothgrad": "logit change per 1-std change",
                               "gradxinput": "contribution to the logit", "ig": "contribution to the logit"}


class SaliencyError(ValueError):
    """Saliency asked for something that cannot be computed (bad shape, method or
    target, missing baseline)."""


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise SaliencyError(f"unknown saliency method {method!r}; choose one of {', '.join(METHODS)}")


# ---------------------------------------------------------------------------------------
# Reference statistics: feature scales and the neutral baseline
# ---------------------------------------------------------------------------------------


def _normalization_stats(model) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean and std per input feature over the training notes, in MIDI units, as the
    model stores them (:func:`genre_lib.model.raw_feature_stats`); None for a model
    without the project's ``normalization`` layer."""
    from .model import raw_feature_stats

    try:
        return raw_feature_stats(model)
    except ValueError:  # keras: no layer of that name
        return None


def feature_std(source, eps: float = 1e-6) -> np.ndarray:
    """Standard deviation of each feature over all notes: of the training notes the
    model's ``Normalization`` layer was adapted to (``source`` a Keras model), or of a
    data array ``source`` (files, notes, features) — pass the *training* files.

    Constant features (std 0, e.g. no drums at all) get ``eps`` so nothing divides by 0.

    Raises:
        SaliencyError: a model without an adapted ``Normalization`` layer.
    """
    if hasattr(source, "layers"):
        stats = _normalization_stats(source)
        if stats is None:
            raise SaliencyError(
                "the model has no adapted Normalization layer to read feature scales from; "
                "pass feature_std(X_train) computed from the training files"
            )
        std = stats[1]
    else:
        X = np.asarray(source, dtype=np.float64)
        std = X.reshape(-1, X.shape[-1]).std(axis=0)
    return np.maximum(std, eps)


def mean_baseline(X: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """A genre-neutral note table for Integrated Gradients and deletion: the mean of
    each feature at each note position over the (training) files ``X``.

    With labels ``y`` the genres are weighted equally (mean of the per-genre means), so
    a corpus with more jazz than electronic files does not give a jazz-leaning
    baseline. Check it is neutral with :func:`genre_lib.inference.predict_proba` (near 1/genres for a
    balanced model). The drum column becomes a fraction and the program a mean number:
    not a playable file, a point *between* the genres, which is what the path needs.

    Returns:
        float32 array (notes, features).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3:
        raise SaliencyError(f"mean_baseline needs files x notes x features, got shape {X.shape}")
    if y is None:
        return X.mean(axis=0).astype(np.float32)
    y = np.asarray(y)
    return np.mean([X[y == g].mean(axis=0) for g in np.unique(y)], axis=0).astype(np.float32)


def model_baseline(model, n_notes: int) -> np.ndarray:
    """A neutral baseline available from the model alone: the mean note of the training
    data (read from the model's ``Normalization`` layer) at every position.

    Used when the training files are not at hand (the command line); it lacks the
    per-position structure of :func:`mean_baseline` (e.g. the first note's step is 0).
    """
    stats = _normalization_stats(model)
    if stats is None:
        raise SaliencyError("the model has no Normalization layer; pass baseline=mean_baseline(X_train, y_train)")
    return np.tile(stats[0].astype(np.float32), (n_notes, 1))


# ---------------------------------------------------------------------------------------
# Attribution
# ---------------------------------------------------------------------------------------


def _gradients(model, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """d logit_t / d x for every row."""
    return gradient(model, x, t, "logit")[1]


def attribute(
    model,
    X: np.ndarray,
    target,
    method: str = "gradient",
    baseline: np.ndarray | None = None,
    n_samples: int = N_SAMPLES,
    noise: float = NOISE,
    steps: int = IG_STEPS,
    seed: int = 0,
    feature_scale: np.ndarray | None = None,
) -> np.ndarray:
    """Signed attribution of the target genre's logit to every input entry.

    Args:
        model: a trained classifier taking raw note tables (files, notes, features) with
            a Dense layer named ``"logits"`` before its softmax (see
            :func:`genre_lib.model.logits_model`).
        X: one note table (notes, features) or a batch (files, notes, features), raw
            MIDI units as :func:`genre_lib.dataset.load_file` returns them.
        target: genre index to explain, one for all files or one per file (e.g. the
            true labels ``y``, or the predicted ``predict_proba(model, X).argmax(-1)``).
        method: ``"gradient"``, ``"gradxinput"``, ``"smoothgrad"`` or ``"ig"`` (see the
            module docstring).
        baseline: IG only, required: the reference table (notes, features), e.g.
            :func:`mean_baseline` of the training files; one table for all files, or one
            per file (files, notes, features).
        n_samples: SmoothGrad: noisy copies averaged.
        noise: SmoothGrad: noise std as a fraction of each feature's std.
        steps: IG: points along the path (Gauss-Legendre quadrature, which integrates
            smooth paths far more accurately than the same number of equal steps).
        seed: SmoothGrad: seed of the noise. One noise draw (n_samples, notes, features)
            is shared by all files, so a file's map does not depend on which other files
            are in the batch: the batch form equals the single-file form.
        feature_scale: SmoothGrad: per-feature std used to scale the noise; default
            :func:`feature_std` of the model.

    Returns:
        An array of X's shape (float32, float64 for a float64 model): the map for each
        file, in logit units per feature unit (gradient, smoothgrad) or logit units
        (gradxinput, ig).

    Raises:
        SaliencyError: unknown method, bad shape or target, IG without a baseline.
    """
    _check_method(method)
    dtype = input_dtype(model)
    x, single = as_batch(X, dtype, SaliencyError)
    n, n_notes, n_feat = x.shape
    t = check_targets(target, n, n_genres(model), SaliencyError)

    if method in ("gradient", "gradxinput"):
        g = _gradients(model, x, t)
        attr = g if method == "gradient" else g * x
    elif method == "smoothgrad":
        if n_samples < 1:
            raise SaliencyError("smoothgrad needs n_samples >= 1")
        scale = feature_std(model) if feature_scale is None else np.asarray(feature_scale, np.float64)
        eps = np.random.default_rng(seed).standard_normal((n_samples, n_notes, n_feat))
        eps = (eps * noise * scale).astype(dtype)
        noisy = (x[:, None] + eps[None]).reshape(n * n_samples, n_notes, n_feat)
        g = _gradients(model, noisy, np.repeat(t, n_samples))
        attr = g.reshape(n, n_samples, n_notes, n_feat).mean(axis=1)
    else:  # ig
        if baseline is None:
            raise SaliencyError(
                "Integrated Gradients needs a stated baseline: pass baseline=mean_baseline(X_train, y_train) "
                "(a genre-neutral table), or model_baseline(model, notes); an all-zero table is not music"
            )
        if steps < 1:
            raise SaliencyError("ig needs steps >= 1")
        b = ig_baseline(baseline, x).astype(dtype)
        # Gauss-Legendre nodes and weights on [0, 1]
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        alphas, w = (nodes + 1) / 2, weights / 2
        path = b[:, None] + alphas[None, :, None, None].astype(dtype) * (x - b)[:, None]
        g = _gradients(model, path.reshape(n * steps, n_notes, n_feat), np.repeat(t, steps))
        avg = np.tensordot(w, g.reshape(n, steps, n_notes, n_feat).astype(np.float64), axes=([0], [1]))
        attr = ((x - b) * avg).astype(dtype)
    return attr[0] if single else attr


def ig_baseline(baseline: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The per-file IG baseline actually used: ``baseline`` broadcast to ``X``'s shape,
    with each note's **program taken from the file itself**.

    The model reads the program as an instrument family (a one-hot, i.e. a step
    function of the number): a straight path from a mean program of ~21 to a file's
    program 0 would jump across families, where the gradient is zero and the logit
    jumps, and IG's sums would no longer add up to the logit difference. Keeping each
    note's instrument fixed keeps the path continuous; IG then attributes nothing to
    instruments (see the gradient and deletion views for those).
    """
    x = np.asarray(X)
    b = np.array(np.broadcast_to(np.asarray(baseline, dtype=x.dtype), x.shape))
    b[..., PROGRAM] = x[..., PROGRAM]
    return b


def ig_completeness_gap(model, X: np.ndarray, target, attr: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """How far IG attributions are from completeness, per file: the relative error
    ``(sum(attr) - (logit(x) - logit(baseline))) / |logit(x) - logit(baseline)|``.

    A few percent or less means enough ``steps`` were used; more means increase them.
    """
    x, single = as_batch(X, input_dtype(model), SaliencyError)
    a = np.asarray(attr, dtype=np.float64).reshape(x.shape)
    t = check_targets(target, len(x), n_genres(model), SaliencyError)
    b = ig_baseline(baseline, x).astype(x.dtype)
    zx, zb = logits(model, x)[np.arange(len(x)), t], logits(model, b)[np.arange(len(x)), t]
    diff = zx.astype(np.float64) - zb
    gap = (a.sum(axis=(1, 2)) - diff) / np.maximum(np.abs(diff), 1e-12)
    return gap[0] if single else gap


# ---------------------------------------------------------------------------------------
# Making maps comparable and summarising them per note
# ---------------------------------------------------------------------------------------


def scale_by_feature_std(attr: np.ndarray, feature_std: np.ndarray) -> np.ndarray:
    """Gradient x feature std: each column of a gradient map multiplied by the standard
    deviation of that feature over the training notes (:func:`feature_std`).

    A raw gradient says "logit per semitone" in one column and "logit per second" in
    another, so a step column looks huge only because a second is a long time. Times a
    std, every entry reads "change of the target logit if this feature of this note
    moved by a typical amount" (to first order), which *is* comparable across features.
    This equals the gradient with respect to the standardized input the network's
    ``Normalization`` layer computes.
    """
    a = np.asarray(attr)
    s = np.asarray(feature_std, dtype=np.float64).reshape(-1)
    if s.size != a.shape[-1]:
        raise SaliencyError(f"{s.size} feature stds for {a.shape[-1]} features")
    return (a * s).astype(a.dtype)


def comparable(attr: np.ndarray, method: str, feature_std: np.ndarray) -> tuple[np.ndarray, str]:
    """The map to show in a heat map, with its unit: gradient and SmoothGrad scaled by
    the feature std (:func:`scale_by_feature_std`); gradient x input and IG unchanged
    (already contributions in logit units)."""
    _check_method(method)
    if method in ("gradient", "smoothgrad"):
        return scale_by_feature_std(attr, feature_std), SHOWN_UNITS[method]
    return np.asarray(attr), SHOWN_UNITS[method]


def note_importance(attr: np.ndarray, signed: bool = False) -> np.ndarray:
    """One number per note: the sum over features of |attr| (how much the note matters,
    either way) or, with ``signed=True``, the plain sum (for or against the genre).

    Pass a comparable map (:func:`comparable`): summing raw gradients adds semitones to
    seconds. Shape: attr's shape without the last axis.
    """
    a = np.asarray(attr, dtype=np.float64)
    return a.sum(axis=-1) if signed else np.abs(a).sum(axis=-1)


def top_notes(attr: np.ndarray, k: int = 10, features: Sequence[str] = FEATURES) -> list[dict]:
    """The ``k`` most important notes of one comparable map (notes, features), each with
    its position, |importance|, signed sum and the feature that contributes most."""
    a = np.asarray(attr, dtype=np.float64)
    imp = note_importance(a)
    order = np.argsort(-imp, kind="stable")[:k]
    return [
        {
            "note": int(i),
            "importance": float(imp[i]),
            "signed": float(a[i].sum()),
            "feature": features[int(np.abs(a[i]).argmax())],
        }
        for i in order
    ]


# ---------------------------------------------------------------------------------------
# One call: the map as shown
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SaliencyMap:
    """One method's map of one file (or of each file of a batch), as shown.

    Attributes:
        values: the comparable map (:func:`comparable`), shaped like the input.
        unit: the unit of ``values``.
        raw: :func:`attribute`'s map, in ``raw_unit``.
        raw_unit: the unit of ``raw``.
        method: the saliency method.
        target: the genre index explained (one per file for a batch).
        probs: the model's genre probabilities, ``(genres,)`` or ``(files, genres)``.
        feature_scale: the per-feature std the map was scaled by.
    """

    values: np.ndarray
    unit: str
    raw: np.ndarray
    raw_unit: str
    method: str
    target: int | np.ndarray
    probs: np.ndarray
    feature_scale: np.ndarray

    def importance(self, signed: bool = False) -> np.ndarray:
        """One number per note (:func:`note_importance` of ``values``)."""
        return note_importance(self.values, signed)

    def top_notes(self, k: int = 10) -> list[dict]:
        """The ``k`` most important notes of a one-file map (:func:`top_notes`)."""
        return top_notes(self.values, k)


def saliency_map(
    model,
    X: np.ndarray,
    target: int | np.ndarray | None = None,
    method: str = "gradient",
    *,
    baseline: np.ndarray | None = None,
    feature_scale: np.ndarray | None = None,
    n_samples: int = N_SAMPLES,
    noise: float = NOISE,
    steps: int = IG_STEPS,
    seed: int = 0,
) -> SaliencyMap:
    """The map of one table or a batch, as a heat map shows it, with its unit.

    Args:
        model, X, method, baseline, n_samples, noise, steps, seed: see :func:`attribute`.
        target: genre index to explain, one for all files or one per file; None: the
            genre the model predicts for each file.
        feature_scale: per-feature std (default: :func:`feature_std` of the model).

    Returns:
        A :class:`SaliencyMap`.

    Raises:
        SaliencyError: see :func:`attribute`.
    """
    _check_method(method)
    x, single = as_batch(X, input_dtype(model), SaliencyError)
    std = feature_std(model) if feature_scale is None else np.asarray(feature_scale, np.float64)
    probs = predict_proba(model, x)
    t = probs.argmax(axis=-1) if target is None else check_targets(target, len(x), n_genres(model), SaliencyError)
    raw = attribute(model, x, t, method=method, baseline=baseline, n_samples=n_samples, noise=noise, steps=steps,
                    seed=seed, feature_scale=std)
    values, unit = comparable(raw, method, std)
    if single:
        return SaliencyMap(values[0], unit, raw[0], RAW_UNITS[method], method, int(t[0]), probs[0], std)
    return SaliencyMap(values, unit, raw, RAW_UNITS[method], method, np.asarray(t), probs, std)
