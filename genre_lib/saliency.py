"""Saliency maps: which notes and which of their features a genre decision rests on.

Every method answers for one file and one genre with a **signed (notes x features)
map** of the same shape as the note table, and accepts a batch of files
``(files, notes, features)`` with one target genre per file:

>>> attr = attribute(model, X, target=y, method="gradient")          # (files, 100, 6)
>>> heat = scale_by_feature_std(attr, feature_std(model))           # comparable features

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
(:func:`logits_model`), not its probability. A confidently classified file has
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

from typing import Sequence

import numpy as np

from .midi_io import FEATURES, PROGRAM
from .model import CompiledCache, logits_model

METHODS: tuple[str, ...] = ("gradient", "gradxinput", "smoothgrad", "ig")
"""Names accepted by :func:`attribute`."""

#: Default settings of the methods. SmoothGrad: 25 samples at 15% of each feature's
#: std (Smilkov et al. found 10-20% best). IG: 32 Gauss-Legendre points along the
#: path, enough for completeness within about 1% on the project's GRU/LSTM models.
DEFAULTS: dict[str, float | int] = {"n_samples": 25, "noise": 0.15, "steps": 32}

#: Rows of model input per tape call; larger batches are split into chunks so that
#: IG or SmoothGrad on many files (files x steps rows) does not exhaust memory.
MAX_ROWS = 1024


class SaliencyError(ValueError):
    """Saliency asked for something that cannot be computed (bad shape, method or
    target, missing baseline)."""


# ---------------------------------------------------------------------------------------
# The model, cut before its softmax
# ---------------------------------------------------------------------------------------


class _Compiled:
    """The logits model of one Keras model with its compiled gradient and forward
    functions, built once per model (tracing costs about a second)."""

    # a notebook's model and the checks' copies
    _cache = CompiledCache(size=4)

    def __init__(self, model) -> None:
        import tensorflow as tf

        lm = logits_model(model)
        self.lm = lm
        shape = [None, *lm.inputs[0].shape[1:]]
        dtype = lm.inputs[0].dtype
        # any number of files, one trace per model (IG and SmoothGrad send other sizes)
        spec = [tf.TensorSpec(shape, dtype), tf.TensorSpec([None], tf.int32)]

        @tf.function(input_signature=spec)
        def grad(x, target):
            with tf.GradientTape() as tape:
                tape.watch(x)
                logits = lm(x, training=False)
                # each file's logit depends only on its own input (inference mode: no
                # batch statistics), so the gradient of the sum over files is every
                # file's own gradient, in one backward pass
                chosen = tf.gather(logits, target, axis=1, batch_dims=1)
                total = tf.reduce_sum(chosen)
            return tape.gradient(total, x)

        @tf.function(input_signature=spec[:1])
        def forward(x):
            return lm(x, training=False)

        self.grad = grad
        self.forward = forward

    @classmethod
    def get(cls, model) -> "_Compiled":
        return cls._cache.get(model, lambda: cls(model))


def _dtype_of(model) -> np.dtype:
    """Input dtype of the model's computation (float64 models get float64 inputs)."""
    try:
        return np.dtype(model.inputs[0].dtype)
    except Exception:  # pragma: no cover
        return np.dtype(np.float32)


def logits(model, X: np.ndarray) -> np.ndarray:
    """Pre-softmax genre scores of one table (notes, features) or a batch (files, notes,
    features): shape (genres,) or (files, genres)."""
    x, single = _as_batch(X, _dtype_of(model))
    fn = _Compiled.get(model).forward
    out = np.concatenate([np.asarray(fn(x[i : i + MAX_ROWS])) for i in range(0, len(x), MAX_ROWS)])
    return out[0] if single else out


def probabilities(model, X: np.ndarray) -> np.ndarray:
    """Genre probabilities (softmax of :func:`logits`), shape like :func:`logits`."""
    z = logits(model, X).astype(np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


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
    baseline. Check it is neutral with :func:`probabilities` (near 1/genres for a
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


def _as_batch(X, dtype=np.float32) -> tuple[np.ndarray, bool]:
    x = np.asarray(X)
    if x.ndim == 2:
        return x[None].astype(dtype), True
    if x.ndim == 3:
        return x.astype(dtype), False
    raise SaliencyError(f"expected a note table (notes, features) or a batch (files, notes, features), got {x.shape}")


def _targets(target, n: int, n_genres: int) -> np.ndarray:
    t = np.asarray(target)
    t = np.full(n, int(t)) if t.ndim == 0 else t.astype(np.int64).reshape(-1)
    if len(t) != n:
        raise SaliencyError(f"{len(t)} targets for {n} files (give one genre index per file, or one for all)")
    if (t < 0).any() or (t >= n_genres).any():
        raise SaliencyError(f"target genre index out of range 0..{n_genres - 1}: {sorted(set(t.tolist()))}")
    return t.astype(np.int32)


def _gradients(comp: _Compiled, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """d logit_t / d x for every row, in chunks of at most :data:`MAX_ROWS` rows."""
    import tensorflow as tf

    out = np.empty_like(x)
    for i in range(0, len(x), MAX_ROWS):
        xi = tf.constant(x[i : i + MAX_ROWS])
        out[i : i + MAX_ROWS] = comp.grad(xi, tf.constant(t[i : i + MAX_ROWS])).numpy()
    return out


def _n_genres(model) -> int:
    return int(_Compiled.get(model).lm.outputs[0].shape[-1])


def attribute(
    model,
    X: np.ndarray,
    target,
    method: str = "gradient",
    baseline: np.ndarray | None = None,
    n_samples: int = int(DEFAULTS["n_samples"]),
    noise: float = float(DEFAULTS["noise"]),
    steps: int = int(DEFAULTS["steps"]),
    seed: int = 0,
    feature_scale: np.ndarray | None = None,
) -> np.ndarray:
    """Signed attribution of the target genre's logit to every input entry.

    Args:
        model: a trained classifier taking raw note tables (files, notes, features) with
            a Dense layer named ``"logits"`` before its softmax (see
            :func:`logits_model`).
        X: one note table (notes, features) or a batch (files, notes, features), raw
            MIDI units as :func:`genre_lib.dataset.load_file` returns them.
        target: genre index to explain, one for all files or one per file (e.g. the
            true labels ``y``, or the predicted ``probabilities(model, X).argmax(-1)``).
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
    if method not in METHODS:
        raise SaliencyError(f"unknown saliency method {method!r}; choose one of {', '.join(METHODS)}")
    dtype = _dtype_of(model)
    x, single = _as_batch(X, dtype)
    n, n_notes, n_feat = x.shape
    t = _targets(target, n, _n_genres(model))
    comp = _Compiled.get(model)

    if method in ("gradient", "gradxinput"):
        g = _gradients(comp, x, t)
        attr = g if method == "gradient" else g * x
    elif method == "smoothgrad":
        if n_samples < 1:
            raise SaliencyError("smoothgrad needs n_samples >= 1")
        scale = feature_std(model) if feature_scale is None else np.asarray(feature_scale, np.float64)
        eps = np.random.default_rng(seed).standard_normal((n_samples, n_notes, n_feat))
        eps = (eps * noise * scale).astype(dtype)
        noisy = (x[:, None] + eps[None]).reshape(n * n_samples, n_notes, n_feat)
        g = _gradients(comp, noisy, np.repeat(t, n_samples))
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
        g = _gradients(comp, path.reshape(n * steps, n_notes, n_feat), np.repeat(t, steps))
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
    x, single = _as_batch(X, _dtype_of(model))
    a = np.asarray(attr, dtype=np.float64).reshape(x.shape)
    t = _targets(target, len(x), _n_genres(model))
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
    if method in ("gradient", "smoothgrad"):
        return scale_by_feature_std(attr, feature_std), "logit change per 1-std change"
    if method in ("gradxinput", "ig"):
        return np.asarray(attr), "contribution to the logit"
    raise SaliencyError(f"unknown saliency method {method!r}; choose one of {', '.join(METHODS)}")


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
