"""Asking a trained classifier for logits, probabilities and gradients of note tables in
MIDI units (one table or a batch); each model's traced functions built once."""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    import keras

#: Rows of model input per compiled call; larger batches are split into chunks so that
#: IG or SmoothGrad on many files (files x steps rows) does not exhaust memory.
MAX_ROWS = 1024

#: What :func:`gradient` differentiates, for each file's target genre: ``"logit"`` its
#: logit; ``"margin"`` its logit minus the best other genre's (a flip's objective);
#: ``"logit_diff"`` its logit minus the mean of the other genres' (what saliency explains).
OBJECTIVES: tuple[str, ...] = ("logit", "margin", "logit_diff")


class CompiledCache:
    """The traced functions of the last few models, least recently used dropped: tracing is
    slow, and the functions hold their model, so a small bound (not weak keys) frees it."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._items: OrderedDict = OrderedDict()

    def get(self, model: object, make: Callable[[], object], *key: object) -> object:
        """``make()``'s result for this ``model`` (and ``key``), built on first use."""
        k = (id(model), *key)
        hit = self._items.get(k)
        if hit is None or hit[0] is not model:  # an id can be reused by a new model
            hit = self._items[k] = (model, make())
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        self._items.move_to_end(k)
        return hit[1]


class _Compiled:
    # each function traced twice: for one file (a static batch of one runs a third faster) and for any batch

    def __init__(self, model: "keras.Model") -> None:
        import tensorflow as tf

        from .model import logits_model

        lm = logits_model(model)
        k = int(lm.outputs[0].shape[-1])

        def forward(x):
            return lm(x, training=False)

        def grad(x, target, objective):
            with tf.GradientTape() as tape:
                tape.watch(x)
                z = lm(x, training=False)
                chosen = tf.gather(z, target, axis=1, batch_dims=1)
                is_target = tf.cast(tf.one_hot(target, k), tf.bool)
                other = tf.reduce_max(tf.where(is_target, tf.fill(tf.shape(z), z.dtype.min), z), axis=1)
                mean_other = (tf.reduce_sum(z, axis=1) - chosen) / max(k - 1, 1)
                value = tf.where(objective == 0, chosen, tf.where(objective == 1, chosen - other, chosen - mean_other))
                # each file's value depends only on its own input (inference mode: no
                # batch statistics), so the gradient of the sum over files is every
                # file's own gradient, in one backward pass
                total = tf.reduce_sum(value)
            return z, tape.gradient(total, x)

        self._forward, self._grad = {}, {}
        for single, batch in ((True, 1), (False, None)):  # traced on first use
            table = tf.TensorSpec([batch, *lm.inputs[0].shape[1:]], lm.inputs[0].dtype)
            self._forward[single] = tf.function(forward, input_signature=[table])
            self._grad[single] = tf.function(
                grad, input_signature=[table, tf.TensorSpec([batch], tf.int32), tf.TensorSpec([], tf.int32)])

    @classmethod
    def of(cls, model: "keras.Model") -> "_Compiled":
        return _CACHE.get(model, lambda: cls(model))

    def forward(self, x: np.ndarray):
        return self._forward[len(x) == 1](x)

    def grad(self, x: np.ndarray, target: np.ndarray, objective: np.int32):
        return self._grad[len(x) == 1](x, target, objective)


# a notebook's model, a run loaded by the CLI and the saliency checks' copies
_CACHE = CompiledCache(size=4)


def n_genres(model: "keras.Model") -> int:
    """Number of genres the model scores."""
    return int(model.outputs[0].shape[-1])


def n_notes(model: "keras.Model") -> int:
    """Notes per file the model reads."""
    return int(model.inputs[0].shape[1])


def input_dtype(model: "keras.Model") -> np.dtype:
    """The dtype the model computes in."""
    return np.dtype(model.inputs[0].dtype)


def as_batch(X: np.ndarray, dtype: np.dtype = np.dtype(np.float32), error: type[Exception] = ValueError
             ) -> tuple[np.ndarray, bool]:
    """``(X as (files, notes, features), whether it was one table)``; ``error`` else."""
    x = np.asarray(X)
    if x.ndim not in (2, 3):
        raise error(f"expected a note table (notes, features) or a batch (files, notes, features), got {x.shape}")
    return (x[None] if x.ndim == 2 else x).astype(dtype), x.ndim == 2


def check_targets(target: int | np.ndarray, n: int, n_genres: int, error: type[Exception] = ValueError) -> np.ndarray:
    """One genre index per file, ``target`` broadcast to ``n`` files and checked (``error``)."""
    t = np.asarray(target)
    t = np.full(n, int(t)) if t.ndim == 0 else t.astype(np.int64).reshape(-1)
    if len(t) != n:
        raise error(f"{len(t)} targets for {n} files (give one genre index per file, or one for all)")
    if (t < 0).any() or (t >= n_genres).any():
        raise error(f"target genre index out of range for {n_genres} genres (0..{n_genres - 1}): "
                    f"{sorted(set(t.tolist()))}")
    return t.astype(np.int32)


def softmax(z: np.ndarray) -> np.ndarray:
    """Probabilities from logits along the last axis, in float64."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def objective_value(z: np.ndarray, target: int | np.ndarray, objective: str) -> np.ndarray:
    """Per file, the value :func:`gradient` differentiates, from logits ``z`` and targets."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    z = np.asarray(z, dtype=np.float64)
    t = check_targets(target, len(z), z.shape[-1])
    rows = np.arange(len(z))
    chosen = z[rows, t]
    if objective == "logit":
        return chosen
    others = np.where(np.eye(z.shape[-1], dtype=bool)[t], np.nan, z)
    if objective == "margin":
        return chosen - np.nanmax(others, axis=1)
    return chosen - np.nanmean(others, axis=1)


def logits(model: "keras.Model", X: np.ndarray, batch_size: int = MAX_ROWS) -> np.ndarray:
    """Pre-softmax genre scores ``(files, genres)`` of one table or a batch."""
    x, _ = as_batch(X, input_dtype(model))
    if len(x) == 0:
        return np.zeros((0, n_genres(model)), dtype=x.dtype)
    fn = _Compiled.of(model).forward
    return np.concatenate([np.asarray(fn(x[i : i + batch_size])) for i in range(0, len(x), batch_size)])


def predict_proba(model: "keras.Model", X: np.ndarray, batch_size: int = MAX_ROWS) -> np.ndarray:
    """Genre probabilities ``(files, genres)``, float64 (one table is one row)."""
    return softmax(logits(model, X, batch_size))


def gradient(model: "keras.Model", X: np.ndarray, target: int | np.ndarray, objective: str = "logit",
             batch_size: int = MAX_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """The logits of ``X`` and the gradient ``(files, notes, features)`` of each file's
    ``objective`` (:data:`OBJECTIVES`) for its ``target``."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    x, _ = as_batch(X, input_dtype(model))
    t = check_targets(target, len(x), n_genres(model))
    fn = _Compiled.of(model).grad
    which = np.int32(OBJECTIVES.index(objective))
    z, g = np.zeros((len(x), n_genres(model)), dtype=x.dtype), np.empty_like(x)
    for i in range(0, len(x), batch_size):
        zi, gi = fn(x[i : i + batch_size], t[i : i + batch_size], which)
        z[i : i + batch_size], g[i : i + batch_size] = zi.numpy(), gi.numpy()
    return z, g
