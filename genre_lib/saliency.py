"""Saliency maps: which notes and features a genre decision rests on. One class per
method (Captum's arrangement): ``attribute`` gives the raw map, ``explain`` the map as
shown (:class:`SaliencyMap`). A map explains the target's logit minus the mean of the
others' by default (linear in the logits, so IG's completeness holds) and lists what its
method cannot see (``unattributed``: the one-hot categories, step functions no gradient
crosses). Gradient maps are shown times each feature's training std."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Sequence

import numpy as np

from .inference import (MAX_ROWS, as_batch, check_targets, gradient, input_dtype, logits, n_genres, objective_value,
                        predict_proba)
from .midi_io import FEATURES

#: What a map explains (see the module docstring); the first is the default.
OUTPUTS: tuple[str, ...] = ("logit_diff", "logit")
DEFAULT_OUTPUT: str = OUTPUTS[0]
#: The word each output's units use.
OUTPUT_WORDS: dict[str, str] = {"logit_diff": "logit difference", "logit": "logit"}

#: Names accepted by :func:`method_named` (the command line's and the widgets' choices).
METHODS: tuple[str, ...] = ("gradient", "gradxinput", "smoothgrad", "ig", "occlusion")

#: SmoothGrad's default: noisy copies averaged, and the noise as a fraction of each
#: feature's std (Smilkov et al. found 10-20% best).
N_SAMPLES: int = 25
NOISE: float = 0.15
#: IG's default number of Gauss-Legendre points along the path; README gives the
#: completeness it reaches on the committed model.
IG_STEPS: int = 256
#: IG passes completeness on a file when |sum - difference| <= COMPLETENESS_TOLERANCE x
#: |difference|, or <= COMPLETENESS_FLOOR (in output units) for a file whose difference
#: is near 0, where a relative error means nothing.
COMPLETENESS_TOLERANCE: float = 0.05
COMPLETENESS_FLOOR: float = 0.01

NEUTRAL_NOTE = "the training mean note (from the model's normalization layer)"


class SaliencyError(ValueError):
    """Saliency asked for what cannot be computed (shape, method, output or target)."""


def check_output(output: str) -> str:
    """``output`` if it is one of :data:`OUTPUTS`, else :class:`SaliencyError`."""
    if output not in OUTPUTS:
        raise SaliencyError(f"unknown explained output {output!r}; choose one of {', '.join(OUTPUTS)}")
    return output


def describe_output(output: str, genres: Sequence[str], target: int) -> str:
    """The explained output in words, e.g. "the jazz logit minus the electronic logit"."""
    check_output(output)
    name = genres[target]
    if output == "logit":
        return f"the {name} logit"
    others = [g for i, g in enumerate(genres) if i != target]
    if len(others) == 1:
        return f"the {name} logit minus the {others[0]} logit (the log odds of {name})"
    return f"the {name} logit minus the mean of the other genres' logits ({', '.join(others)})"


# --- reference statistics: feature scales and the neutral baseline ---


def _normalization_stats(model) -> tuple[np.ndarray, np.ndarray] | None:
    # None for a model without the project's normalization layer (feature_std then asks for data)
    from .model import raw_feature_stats

    try:
        return raw_feature_stats(model)
    except ValueError:  # keras: no layer of that name
        return None


def feature_std(source, eps: float = 1e-6) -> np.ndarray:
    """Each feature's std over the training notes, from a model's ``Normalization`` layer
    or a data array ``(files, notes, features)``; at least ``eps``."""
    if hasattr(source, "layers"):
        stats = _normalization_stats(source)
        if stats is None:
            raise SaliencyError("the model has no adapted Normalization layer to read feature scales from; "
                                "pass feature_std(X_train) computed from the training files")
        std = stats[1]
    else:
        X = np.asarray(source, dtype=np.float64)
        std = X.reshape(-1, X.shape[-1]).std(axis=0)
    return np.maximum(std, eps)


def mean_baseline(X: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """A genre-neutral table: each feature's mean at each note position over ``X``,
    the genres weighted equally when ``y`` is given."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3:
        raise SaliencyError(f"mean_baseline needs files x notes x features, got shape {X.shape}")
    if y is None:
        return X.mean(axis=0).astype(np.float32)
    y = np.asarray(y)
    return np.mean([X[y == g].mean(axis=0) for g in np.unique(y)], axis=0).astype(np.float32)


def model_baseline(model, n_notes: int) -> np.ndarray:
    """The model's training mean note (its ``Normalization`` layer) at each of ``n_notes`` positions."""
    stats = _normalization_stats(model)
    if stats is None:
        raise SaliencyError("the model has no Normalization layer; pass baseline=mean_baseline(X_train, y_train)")
    return np.tile(stats[0].astype(np.float32), (n_notes, 1))


# --- making maps comparable and summarising them per note ---


def scale_by_feature_std(attr: np.ndarray, feature_std: np.ndarray) -> np.ndarray:
    """A gradient map times each feature's training std: the output's change for a
    typical change of the feature."""
    a = np.asarray(attr)
    s = np.asarray(feature_std, dtype=np.float64).reshape(-1)
    if s.size != a.shape[-1]:
        raise SaliencyError(f"{s.size} feature stds for {a.shape[-1]} features")
    return (a * s).astype(a.dtype)


def note_importance(attr: np.ndarray, signed: bool = False) -> np.ndarray:
    """Per note, the sum over features of |attr| (``signed``: of attr) of a comparable map."""
    a = np.asarray(attr, dtype=np.float64)
    return a.sum(axis=-1) if signed else np.abs(a).sum(axis=-1)


def top_notes(attr: np.ndarray, k: int = 10, features: Sequence[str] = FEATURES) -> list[dict]:
    """The ``k`` most important notes of one map: position, |importance|, signed sum and
    the feature contributing most."""
    a = np.asarray(attr, dtype=np.float64)
    imp = note_importance(a)
    order = np.argsort(-imp, kind="stable")[:k]
    return [{"note": int(i), "importance": float(imp[i]), "signed": float(a[i].sum()),
             "feature": features[int(np.abs(a[i]).argmax())]} for i in order]


# --- completeness (Integrated Gradients) ---


@dataclass(frozen=True, eq=False)
class Completeness:
    """Whether attributions add up, per file: ``total``, ``difference`` (``output(x) -
    output(path start)``), ``gap``, ``relative`` and ``passes`` (``|gap| <= max(tolerance *
    |difference|, floor)``)."""

    total: np.ndarray
    difference: np.ndarray
    gap: np.ndarray
    relative: np.ndarray
    passes: np.ndarray
    tolerance: float
    floor: float

    @classmethod
    def of(cls, total: np.ndarray, difference: np.ndarray, tolerance: float = COMPLETENESS_TOLERANCE,
           floor: float = COMPLETENESS_FLOOR) -> "Completeness":
        """The figures of sums ``total`` against ``difference``."""
        total, difference = np.asarray(total, np.float64), np.asarray(difference, np.float64)
        gap = total - difference
        passes = np.abs(gap) <= np.maximum(tolerance * np.abs(difference), floor)
        return cls(total, difference, gap, np.abs(gap) / np.maximum(np.abs(difference), 1e-12), passes,
                   tolerance, floor)

    @property
    def complete(self) -> bool:
        """Every file passes."""
        return bool(self.passes.all())

    def summary(self) -> dict:
        """JSON-able figures over the files."""
        return {"complete_share": round(float(self.passes.mean()), 4),
                "gap_median": round(float(np.median(np.abs(self.gap))), 6),
                "gap_max": round(float(np.abs(self.gap).max()), 6),
                "relative_gap_median": round(float(np.median(self.relative)), 6),
                "tolerance": self.tolerance, "floor": self.floor, "n": int(len(self.gap))}


# --- the map as shown ---


@dataclass(frozen=True, eq=False)
class SaliencyMap:
    """One method's map of a file or batch as shown (``values`` in ``unit``) and raw
    (``raw`` in ``raw_unit``), with what it explains, the model's ``probs`` and IG's ``completeness``."""

    values: np.ndarray
    unit: str
    raw: np.ndarray
    raw_unit: str
    method: str
    output: str
    target: int | np.ndarray
    probs: np.ndarray
    feature_scale: np.ndarray
    features: tuple[str, ...] = FEATURES
    unattributed: tuple[str, ...] = ()
    reference: str | None = None
    completeness: Completeness | None = None

    @property
    def complete(self) -> bool | None:
        """IG: whether every file passes completeness; None for other methods."""
        return None if self.completeness is None else self.completeness.complete

    def importance(self, signed: bool = False) -> np.ndarray:
        """:func:`note_importance` of ``values``."""
        return note_importance(self.values, signed)

    def top_notes(self, k: int = 10) -> list[dict]:
        """:func:`top_notes` of a one-file map."""
        return top_notes(self.values, k, self.features)

    def to_dict(self, genres: Sequence[str]) -> dict:
        """A one-file map as JSON (what ``genre-lib saliency --json`` prints)."""
        if np.ndim(self.target) != 0:
            raise SaliencyError("to_dict describes one file's map; index the batch first")
        t, genres = int(self.target), [str(g) for g in genres]
        c = self.completeness
        return {
            "predicted": genres[int(np.argmax(self.probs))],
            "target": genres[t],
            "probabilities": {g: round(float(p), 6) for g, p in zip(genres, self.probs)},
            "method": self.method,
            "output": self.output,
            "explained": describe_output(self.output, genres, t),
            "features": list(self.features),
            "map": np.round(np.asarray(self.raw, np.float64), 6).tolist(),
            "map_units": self.raw_unit,
            "feature_std": [round(float(s), 6) for s in self.feature_scale],
            "map_scaled": np.round(np.asarray(self.values, np.float64), 6).tolist(),
            "map_scaled_units": self.unit,
            "unattributed": list(self.unattributed),
            "baseline": self.reference,
            "completeness": None if c is None else {
                "sum": round(float(c.total[0]), 6), "difference": round(float(c.difference[0]), 6),
                "gap": round(float(c.gap[0]), 6), "passes": bool(c.passes[0]),
                "tolerance": c.tolerance, "floor": c.floor},
        }


# --- methods ---


class Method:
    """One attribution method bound to a model and an explained output; subclasses
    implement :meth:`attribute`. ``local``: a gradient at the input, shown times the feature std."""

    name: ClassVar[str] = ""
    uses_baseline: ClassVar[bool] = False
    local: ClassVar[bool] = False

    def __init__(self, model, output: str = DEFAULT_OUTPUT) -> None:
        self.model = model
        self.output = check_output(output)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(output={self.output!r})"

    # -- what every method shares ------------------------------------------------------

    def for_model(self, model) -> "Method":
        """The same method and settings on another model (e.g. a randomized copy)."""
        return type(self)(model, self.output)

    @property
    def word(self) -> str:
        return OUTPUT_WORDS[self.output]

    @property
    def raw_unit(self) -> str:
        """The unit of :meth:`attribute`'s map."""
        return f"{self.word} per feature unit" if self.local else f"contribution to the {self.word}"

    @property
    def unit(self) -> str:
        """The unit of :meth:`shown`'s map."""
        return f"{self.word} change per 1-std change" if self.local else self.raw_unit

    @property
    def features(self) -> tuple[str, ...]:
        """The columns of the map."""
        return FEATURES

    @property
    def unattributed(self) -> tuple[str, ...]:
        """What gets no attribution: for a gradient, the model's one-hot categories."""
        from .model import categorical_encodings

        return tuple(f"{enc} (a step function of {col}: no gradient)" for col, enc in categorical_encodings(self.model))

    def shown(self, raw: np.ndarray, feature_scale: np.ndarray) -> np.ndarray:
        """The map comparable across features: gradients times each std, contributions unchanged."""
        return scale_by_feature_std(raw, feature_scale) if self.local else np.asarray(raw)

    def reference(self, baseline: np.ndarray | None) -> str | None:
        """What the file is compared with, in words (None for a local method)."""
        return None

    def completeness(self, x: np.ndarray, t: np.ndarray, raw: np.ndarray, **options) -> Completeness | None:
        """The completeness check of a method whose attributions add up (IG)."""
        return None

    def _batch(self, tables: np.ndarray, target) -> tuple[np.ndarray, np.ndarray, bool]:
        x, single = as_batch(tables, input_dtype(self.model), SaliencyError)
        return x, check_targets(target, len(x), n_genres(self.model), SaliencyError), single

    def _gradient(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        return gradient(self.model, x, t, self.output)[1]

    def _output(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        return objective_value(logits(self.model, x), t, self.output)

    # -- per method --------------------------------------------------------------------

    def attribute(self, tables: np.ndarray, target) -> np.ndarray:
        """Signed attribution of each file's output to its input entries, shaped like
        ``tables`` (raw MIDI units); ``target``: one genre for all files or one per file."""
        raise NotImplementedError

    def explain(self, tables: np.ndarray, target: int | np.ndarray | None = None, *,
                feature_scale: np.ndarray | None = None, baseline: np.ndarray | None = None,
                **options) -> SaliencyMap:
        """The map as shown of one table or a batch, for ``target`` (None: the predicted
        genre); ``baseline`` goes to a method that uses one."""
        x, single = as_batch(tables, input_dtype(self.model), SaliencyError)
        std = feature_std(self.model) if feature_scale is None else np.asarray(feature_scale, np.float64)
        probs = predict_proba(self.model, x)
        t = probs.argmax(axis=-1) if target is None else \
            check_targets(target, len(x), n_genres(self.model), SaliencyError)
        if self.uses_baseline:
            options["baseline"] = baseline
        raw = self.attribute(x, t, **options)
        values = self.shown(raw, std)
        completeness = self.completeness(x, t, raw, **options)
        pick = (lambda a: a[0]) if single else (lambda a: a)
        return SaliencyMap(pick(values), self.unit, pick(raw), self.raw_unit, self.name, self.output,
                           int(t[0]) if single else np.asarray(t), pick(probs), std, self.features,
                           self.unattributed, self.reference(baseline) if self.uses_baseline else None, completeness)


class Gradient(Method):
    """d output / d x: the output's local sensitivity to each entry."""

    name = "gradient"
    local = True

    def attribute(self, tables: np.ndarray, target) -> np.ndarray:
        """The gradient (see :meth:`Method.attribute`)."""
        x, t, single = self._batch(tables, target)
        g = self._gradient(x, t)
        return g[0] if single else g


class GradientTimesInput(Method):
    """gradient * input (the origin of raw MIDI units is arbitrary)."""

    name = "gradxinput"

    def attribute(self, tables: np.ndarray, target) -> np.ndarray:
        """The gradient times the input."""
        x, t, single = self._batch(tables, target)
        a = self._gradient(x, t) * x
        return a[0] if single else a


def _neutral(model, baseline: np.ndarray | None, x: np.ndarray) -> np.ndarray:
    b = model_baseline(model, x.shape[1]) if baseline is None else np.asarray(baseline)
    try:
        return np.array(np.broadcast_to(b.astype(x.dtype), x.shape))
    except ValueError:
        raise SaliencyError(f"a baseline of shape {b.shape} does not fit tables of shape {x.shape}") from None


class IntegratedGradients(Method):
    """Integrated Gradients from a neutral note, each note's own pitch and program kept."""

    name = "ig"
    uses_baseline = True

    @property
    def fixed_columns(self) -> tuple[str, ...]:
        """The columns the path keeps: those the model makes categories of."""
        from .model import categorical_encodings

        cols = {col for col, _ in categorical_encodings(self.model)}
        return tuple(f for f in FEATURES if f in cols)

    @property
    def unattributed(self) -> tuple[str, ...]:
        return tuple(f"{col} (kept at the file's value along the path, so that no category jumps)"
                     for col in self.fixed_columns)

    def reference(self, baseline: np.ndarray | None) -> str:
        kept = ", ".join(self.fixed_columns)
        start = NEUTRAL_NOTE if baseline is None else "the given baseline table"
        return start + (f", with each note's own {kept}" if kept else "")

    def path_start(self, baseline: np.ndarray | None, tables: np.ndarray) -> np.ndarray:
        """The neutral ``baseline`` with the :attr:`fixed_columns` of the file."""
        x = np.asarray(tables)
        b = _neutral(self.model, baseline, x)
        for col in self.fixed_columns:
            j = FEATURES.index(col)
            b[..., j] = x[..., j]
        return b

    def attribute(self, tables: np.ndarray, target, baseline: np.ndarray | None = None,
                  steps: int = IG_STEPS) -> np.ndarray:
        """IG from ``baseline`` (default :func:`model_baseline`), ``steps`` Gauss-Legendre points."""
        x, t, single = self._batch(tables, target)
        if steps < 1:
            raise SaliencyError("Integrated Gradients needs steps >= 1")
        n, n_notes, n_feat = x.shape
        b = self.path_start(baseline, x)
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        alphas, w = (nodes + 1) / 2, weights / 2  # on [0, 1]
        path = b[:, None] + alphas[None, :, None, None].astype(x.dtype) * (x - b)[:, None]
        g = self._gradient(path.reshape(n * steps, n_notes, n_feat), np.repeat(t, steps))
        avg = np.tensordot(w, g.reshape(n, steps, n_notes, n_feat).astype(np.float64), axes=([0], [1]))
        a = ((x - b) * avg).astype(x.dtype)
        return a[0] if single else a

    def completeness(self, x: np.ndarray, t: np.ndarray, raw: np.ndarray, baseline: np.ndarray | None = None,
                     **_) -> Completeness:
        """Do each file's attributions add up to ``output(x) - output(path start)``?"""
        x, t, _single = self._batch(x, t)
        a = np.asarray(raw, np.float64).reshape(x.shape)
        diff = self._output(x, t) - self._output(self.path_start(baseline, x), t)
        return Completeness.of(a.sum(axis=(1, 2)), diff)


class Occlusion(Method):
    """``output(x) - output(x with note i neutral)`` for every note: positive, the note
    supports the target."""

    name = "occlusion"
    uses_baseline = True

    @property
    def raw_unit(self) -> str:
        return f"drop of the {self.word} without the note"

    @property
    def features(self) -> tuple[str, ...]:
        return ("note",)

    @property
    def unattributed(self) -> tuple[str, ...]:
        return ()

    def reference(self, baseline: np.ndarray | None) -> str:
        return "each note replaced by " + (NEUTRAL_NOTE if baseline is None else "the given baseline's note")

    def attribute(self, tables: np.ndarray, target, baseline: np.ndarray | None = None) -> np.ndarray:
        """One column: each note's drop (``baseline`` default :func:`model_baseline`)."""
        x, t, single = self._batch(tables, target)
        n, n_notes, _ = x.shape
        neutral = _neutral(self.model, baseline, x)
        one = np.eye(n_notes, dtype=bool)[None, :, :, None]  # (1, occluded note, note, 1)
        drop = np.empty((n, n_notes, 1), dtype=x.dtype)
        per_block = max(1, MAX_ROWS // n_notes)
        for i in range(0, n, per_block):
            xs, ts = x[i : i + per_block], t[i : i + per_block]
            occluded = np.where(one, neutral[i : i + per_block, None], xs[:, None]).reshape(-1, *x.shape[1:])
            after = self._output(occluded, np.repeat(ts, n_notes)).reshape(len(xs), n_notes)
            drop[i : i + per_block, :, 0] = self._output(xs, ts)[:, None] - after
        return drop[0] if single else drop


class SmoothGrad(Method):
    """A method averaged over ``n`` noisy copies (noise ``sigma`` x each feature's std).
    One seeded draw is shared by all files, so a file's map does not depend on the batch."""

    def __init__(self, method: Method, n: int = N_SAMPLES, sigma: float = NOISE, seed: int = 0,
                 feature_scale: np.ndarray | None = None) -> None:
        if n < 1:
            raise SaliencyError("SmoothGrad needs n >= 1 noisy copies")
        super().__init__(method.model, method.output)
        self.method, self.n, self.sigma, self.seed = method, int(n), float(sigma), int(seed)
        self.feature_scale = None if feature_scale is None else np.asarray(feature_scale, np.float64)

    def __repr__(self) -> str:
        return f"SmoothGrad({self.method!r}, n={self.n}, sigma={self.sigma}, seed={self.seed})"

    @property
    def name(self) -> str:  # type: ignore[override]
        return "smoothgrad" if type(self.method) is Gradient else f"smoothgrad-{self.method.name}"

    def reference(self, baseline: np.ndarray | None) -> str | None:
        return self.method.reference(baseline)

    def shown(self, raw: np.ndarray, feature_scale: np.ndarray) -> np.ndarray:
        return self.method.shown(raw, feature_scale)

    def for_model(self, model) -> "SmoothGrad":
        return SmoothGrad(self.method.for_model(model), self.n, self.sigma, self.seed, self.feature_scale)

    def attribute(self, tables: np.ndarray, target, **options) -> np.ndarray:
        """The wrapped method's map averaged; ``options`` go to it (e.g. IG's ``steps``)."""
        x, t, single = self._batch(tables, target)
        n, n_notes, n_feat = x.shape
        scale = feature_std(self.model) if self.feature_scale is None else self.feature_scale
        eps = np.random.default_rng(self.seed).standard_normal((self.n, n_notes, n_feat))
        eps = (eps * self.sigma * scale).astype(x.dtype)
        noisy = (x[:, None] + eps[None]).reshape(n * self.n, n_notes, n_feat)
        a = self.method.attribute(noisy, np.repeat(t, self.n), **options)
        a = a.reshape(n, self.n, *a.shape[1:]).mean(axis=1).astype(x.dtype)
        return a[0] if single else a


# what a SmoothGrad map is, its units and what it cannot see: those of the method it averages
for _name in ("uses_baseline", "local", "raw_unit", "unit", "features", "unattributed"):
    setattr(SmoothGrad, _name, property(lambda self, _n=_name: getattr(self.method, _n)))


def method_named(name: str, model, output: str = DEFAULT_OUTPUT, seed: int = 0) -> Method:
    """The method a name of :data:`METHODS` stands for, with default settings."""
    if name == "smoothgrad":
        return SmoothGrad(Gradient(model, output), seed=seed)
    classes = {"gradient": Gradient, "gradxinput": GradientTimesInput, "ig": IntegratedGradients,
               "occlusion": Occlusion}
    if name not in classes:
        raise SaliencyError(f"unknown saliency method {name!r}; choose one of {', '.join(METHODS)}")
    return classes[name](model, output)
