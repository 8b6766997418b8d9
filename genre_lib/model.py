"""The RNN genre classifier: note tables in MIDI units in, genre probabilities out. Every
step from MIDI units to numbers is a layer (the classes below, registered with Keras under
``genre_lib>``), so a saved ``.keras`` file scores a file alone and gradients are taken
with respect to the MIDI values; :func:`build_model` shows their order. Imports Keras."""

from __future__ import annotations

import json

import keras
import numpy as np
from keras import ops

from .configs import ModelConfig
from .general_midi import DRUM_SOUND_OF_PITCH, DRUM_SOUNDS, FAMILIES
from .midi_io import DRUM, DURATION, FEATURES, PITCH, PROGRAM, STEP, VELOCITY

#: the columns NoteEncoding takes the logarithm of (seconds)
LOG_COLUMNS = (STEP, DURATION)

#: the channels :class:`PartIntervals` adds, part by part (see its docstring)
INTERVAL_CHANNELS: tuple[str, ...] = (
    "drums ioi", "drums ratio", "bass interval", "bass ioi", "bass ratio", "other interval", "other ioi", "other ratio",
)

#: seconds by which a note must start after another to count as a later onset
ONSET_TOLERANCE = 1e-4

#: seconds added to an inter-onset interval before its logarithm (a 32nd of a second)
IOI_FLOOR = 1.0 / 32.0

BASS_FAMILY = FAMILIES.index("bass")

register = keras.saving.register_keras_serializable(package="genre_lib")


@register
class NoteEncoding(keras.layers.Layer):
    """``log1p`` of the time columns (step, duration), the others unchanged; negative times
    are clipped to 0 first, as MIDI would hold them."""

    def __init__(self, log_columns=LOG_COLUMNS, n_features=len(FEATURES), **kwargs):
        super().__init__(**kwargs)
        self.log_columns, self.n_features = tuple(int(c) for c in log_columns), int(n_features)
        self._mask = np.isin(np.arange(self.n_features), self.log_columns).astype("float32")

    def call(self, x):
        mask = ops.convert_to_tensor(self._mask, dtype=x.dtype)
        return mask * ops.log1p(ops.maximum(x, 0.0)) + (1.0 - mask) * x

    def get_config(self):
        return {**super().get_config(), "log_columns": list(self.log_columns), "n_features": self.n_features}


@register
class ProgramFamily(keras.layers.Layer):
    """One-hot program family (16 of 8 programs) of every pitched note, zeros for drums: a
    program is a category (80 is not "more" than 79). A step function, without gradient."""

    def call(self, x):
        family = ops.cast(ops.clip(ops.floor(x[..., PROGRAM] / 8.0), 0, 15), "int32")
        pitched = 1.0 - ops.clip(x[..., DRUM:DRUM + 1], 0.0, 1.0)
        return ops.one_hot(family, 16, dtype=x.dtype) * pitched


@register
class SelectColumns(keras.layers.Layer):
    """The note-table columns a model reads, by index (the others get no weight and no gradient)."""

    def __init__(self, columns=tuple(range(len(FEATURES))), **kwargs):
        super().__init__(**kwargs)
        self.columns = tuple(int(c) for c in columns)

    def call(self, x):
        return ops.take(x, list(self.columns), axis=-1)

    def get_config(self):
        return {**super().get_config(), "columns": list(self.columns)}


@register
class PitchClass(keras.layers.Layer):
    """One-hot pitch class (pitch mod 12) of every pitched note, zeros for drums: two notes
    an octave apart share it. A step function, without gradient."""

    def call(self, x):
        pitch_class = ops.cast(ops.mod(ops.round(x[..., PITCH]), 12.0), "int32")
        pitched = 1.0 - ops.clip(x[..., DRUM:DRUM + 1], 0.0, 1.0)
        return ops.one_hot(pitch_class, 12, dtype=x.dtype) * pitched


@register
class DrumSound(keras.layers.Layer):
    """One-hot drum sound (:data:`genre_lib.general_midi.DRUM_SOUNDS`) of every drum note;
    zeros for pitched notes and other percussion."""

    def call(self, x):
        lookup = ops.convert_to_tensor(DRUM_SOUND_OF_PITCH.astype("int32"))
        key = ops.cast(ops.clip(ops.round(x[..., PITCH]), 0, 127), "int32")
        sound = ops.take(lookup, key)
        drum = ops.clip(x[..., DRUM:DRUM + 1], 0.0, 1.0)
        # one_hot of -1 (other percussion) is all zeros
        return ops.one_hot(sound, len(DRUM_SOUNDS), dtype=x.dtype) * drum


@register
class PitchClassProfile(keras.layers.Layer):
    """The pitched notes' shares of the 12 pitch classes, sorted from the most used: a
    key-free profile (a blues in F and one in B-flat give the same) of how many the music uses."""

    def call(self, pitch_classes):
        counts = ops.sum(pitch_classes, axis=1)
        shares = counts / ops.maximum(ops.sum(counts, axis=-1, keepdims=True), 1.0)
        return ops.flip(ops.sort(shares, axis=-1), axis=-1)


@register
class NoteSummary(keras.layers.Layer):
    """Mean, std, maximum and minimum of every channel over the notes, beside the recurrent
    state; the std of a constant channel has gradient 0, not the NaN of ``sqrt`` at 0."""

    def call(self, x):
        var = ops.var(x, 1)
        spread = var > 0
        std = ops.where(spread, ops.sqrt(ops.where(spread, var, ops.ones_like(var))), ops.zeros_like(var))
        return ops.concatenate([ops.mean(x, 1), std, ops.max(x, 1), ops.min(x, 1)], axis=-1)


@register
class MusicAugment(keras.layers.Layer):
    """Training-time augmentation, one draw per file: tempo scaled by up to ``exp(±tempo)``,
    pitched notes transposed by up to ``±transpose`` semitones, velocities shifted by up to
    ``±velocity``: changes that keep the genre, against one sequencer's habits."""

    def __init__(self, tempo=0.25, transpose=6, velocity=15.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.tempo, self.transpose, self.velocity, self.seed = float(tempo), int(transpose), float(velocity), int(seed)
        self._gen = keras.random.SeedGenerator(self.seed)

    def call(self, x, training=None):
        if not training:
            return x
        b = ops.shape(x)[0]
        scale = ops.exp(keras.random.uniform((b, 1), -self.tempo, self.tempo, seed=self._gen))
        shift = ops.round(keras.random.uniform((b, 1), -self.transpose, self.transpose, seed=self._gen))
        vel = keras.random.uniform((b, 1), -self.velocity, self.velocity, seed=self._gen)
        drum = x[..., DRUM]
        return ops.stack([
            x[..., PITCH] + shift * (1.0 - drum),
            x[..., STEP] * scale,
            x[..., DURATION] * scale,
            ops.clip(x[..., VELOCITY] + vel, 1.0, 127.0),
            drum,
            x[..., PROGRAM],
        ], axis=-1)

    def get_config(self):
        return {**super().get_config(), "tempo": self.tempo, "transpose": self.transpose,
                "velocity": self.velocity, "seed": self.seed}


def _part_index(x):
    # the part of every note, (batch, notes): 0 drums, 1 the bass family (programs 32-39), 2 the rest
    drum = x[..., DRUM] > 0.5
    family = ops.floor(ops.clip(x[..., PROGRAM], 0.0, 127.0) / 8.0)
    bass = ops.logical_and(ops.logical_not(drum), ops.equal(family, float(BASS_FAMILY)))
    return ops.where(drum, 0, ops.where(bass, 1, 2))


@register
class PartIntervals(keras.layers.Layer):
    """Where each note stands in its own part's line (drums, bass, the rest;
    :data:`INTERVAL_CHANNELS`): the pitch interval to the part's previous note in octaves
    (clipped to two; none for drums), ``log2`` of the time since the part's previous onset plus
    2, and ``log2`` of that over the previous one (clipped to ±3); 0 without a predecessor.
    Tempo and key changes leave them unchanged."""

    def call(self, x):
        n = ops.shape(x)[1]
        part = _part_index(x)
        step = ops.maximum(x[..., STEP], 0.0)
        onset = ops.cumsum(step, axis=1)
        rank = ops.cast(ops.arange(n), x.dtype)
        # earlier[i, j]: row j comes before row i
        earlier = ops.expand_dims(rank, 1) > ops.expand_dims(rank, 0)
        same = ops.logical_and(ops.equal(ops.expand_dims(part, 2), ops.expand_dims(part, 1)), earlier)
        sooner = ops.expand_dims(onset, 1) < ops.expand_dims(onset, 2) - ONSET_TOLERANCE
        position = rank + 1.0

        def last(candidates):
            # the last candidate row j < i of each row i, -1 if none
            return ops.cast(ops.max(ops.where(candidates, position, 0.0), axis=-1), "int32") - 1

        def at(values, index):
            return ops.take_along_axis(values, ops.maximum(index, 0), axis=1)

        prev_note = last(same)
        prev_onset = last(ops.logical_and(same, sooner))
        has_note, has_onset = prev_note >= 0, prev_onset >= 0
        zero = ops.zeros_like(onset)
        pitch = x[..., PITCH]
        interval = ops.where(has_note, ops.clip(pitch - at(pitch, prev_note), -24.0, 24.0) / 12.0, zero)
        ioi = ops.where(has_onset, onset - at(onset, prev_onset), zero)
        log_ioi = ops.log(ioi + IOI_FLOOR) / np.log(2.0)
        has_ratio = ops.logical_and(has_onset, at(ops.cast(has_onset, x.dtype), prev_onset) > 0.5)
        ratio = ops.where(has_ratio, ops.clip(log_ioi - at(log_ioi, prev_onset), -3.0, 3.0), zero)
        timing = ops.where(has_onset, log_ioi + 2.0, zero)
        of_part = [ops.cast(ops.equal(part, k), x.dtype) for k in range(3)]
        return ops.stack([
            timing * of_part[0], ratio * of_part[0],
            interval * of_part[1], timing * of_part[1], ratio * of_part[1],
            interval * of_part[2], timing * of_part[2], ratio * of_part[2],
        ], axis=-1)


def encode_notes(X: np.ndarray) -> np.ndarray:
    """The numpy twin of :class:`NoteEncoding` (what the Normalization layer is adapted to)."""
    Z = np.array(X, dtype=np.float32, copy=True)
    Z[..., list(LOG_COLUMNS)] = np.log1p(np.maximum(Z[..., list(LOG_COLUMNS)], 0.0))
    return Z


def build_model(config: ModelConfig, X_train: np.ndarray, n_genres: int, seed: int = 0) -> "keras.Model":
    """A compiled, untrained classifier of ``config`` with ``n_genres`` outputs, its
    normalization adapted to ``X_train`` (MIDI units); ``seed`` seeds the initialisation."""
    keras.utils.set_random_seed(seed)
    X_train = np.asarray(X_train, dtype=np.float32)
    n_notes, n_features = X_train.shape[1:]

    norm = keras.layers.Normalization(axis=-1, name="normalization")
    norm.adapt(encode_notes(X_train).reshape(-1, n_features))

    inputs = keras.Input((n_notes, n_features), name="notes")
    x = MusicAugment(seed=seed, name="augment")(inputs) if config.augment else inputs
    h = norm(NoteEncoding(n_features=n_features, name="note_encoding")(x))
    if tuple(config.columns) != FEATURES:
        h = SelectColumns([FEATURES.index(c) for c in config.columns], name="columns")(h)
    categories = {name: layer(name=name)(x) for name, layer, on in (
        ("program_family", ProgramFamily, config.families), ("pitch_class", PitchClass, config.pitch_classes),
        ("drum_sound", DrumSound, config.drum_sounds)) if on}
    if categories:
        h = keras.layers.Concatenate(name="with_categories")([h, *categories.values()])
    notes = h
    if config.intervals:
        intervals = PartIntervals(name="part_intervals")(x)
        h = keras.layers.Concatenate(name="with_intervals")([h, intervals])
    if config.conv:
        h = keras.layers.Conv1D(config.units, config.conv, padding="same", activation="relu", name="conv")(h)
    state = _recurrent(config, h)
    summaries = []
    if config.summary:
        summaries.append(NoteSummary(name="note_summary")(notes))
        if config.pitch_classes:
            summaries.append(PitchClassProfile(name="pitch_class_profile")(categories["pitch_class"]))
    # the recurrent state enters this layer directly: genre_lib.probes tells the branches
    # apart by the layer each input comes from
    h = keras.layers.Concatenate(name="state_and_summary")([state, *summaries]) if summaries else state
    for i in range(config.dense_layers):
        if config.dropout:
            h = keras.layers.Dropout(config.dropout, name=f"dropout_{i + 1}")(h)
        h = keras.layers.Dense(config.dense_units, activation="relu", name=f"dense_{i + 1}")(h)
    if config.dropout:
        h = keras.layers.Dropout(config.dropout, name="dropout_out")(h)
    logits = keras.layers.Dense(n_genres, name="logits")(h)
    probs = keras.layers.Softmax(name="probabilities")(logits)
    model = keras.Model(inputs, probs, name=f"{config.cell}_classifier")
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _recurrent(config: ModelConfig, h):
    # config.layers stacked recurrent layers over the note channels; the last returns its final state
    cell = keras.layers.GRU if config.cell == "gru" else keras.layers.LSTM
    for i in range(config.layers):
        h = cell(config.units, return_sequences=i < config.layers - 1, name=f"{config.cell}_{i + 1}")(h)
    return h


def logits_model(model: "keras.Model") -> "keras.Model":
    """The same network cut before its softmax (shared weights): what saliency and flips differentiate."""
    return keras.Model(model.inputs, model.get_layer("logits").output, name=f"{model.name}_logits")


def raw_feature_stats(model: "keras.Model") -> tuple[np.ndarray, np.ndarray]:
    """Each input feature's mean and std over the training notes in MIDI units, from the
    Normalization layer (the ``log1p`` times to first order: ``std ≈ std_log * exp(mean_log)``)."""
    norm = model.get_layer("normalization")
    mean = np.asarray(keras.ops.convert_to_numpy(norm.mean), dtype=np.float64).reshape(-1)
    std = np.sqrt(np.maximum(np.asarray(keras.ops.convert_to_numpy(norm.variance), dtype=np.float64).reshape(-1), 0))
    cols = list(LOG_COLUMNS)
    std[cols] = std[cols] * np.exp(mean[cols])
    mean[cols] = np.expm1(mean[cols])
    return mean, std


# ---------------------------------------------------------------------------------------
# Copies of a model, fresh weights, and the inputs a gradient cannot see
# ---------------------------------------------------------------------------------------

#: The layers that turn an input column into a one-hot category, by the name
#: :func:`build_model` gives them: ``layer name: (input column, what it encodes)``.
CATEGORICAL_LAYERS: dict[str, tuple[str, str]] = {
    "program_family": ("program", "program family"),
    "pitch_class": ("pitch", "pitch class"),
    "drum_sound": ("pitch", "drum sound"),
}


def categorical_encodings(model: "keras.Model") -> tuple[tuple[str, str], ...]:
    """The ``(column, encoding)`` pairs of the model's one-hot categories (no gradient crosses them)."""
    names = {layer.name for layer in model.layers}
    return tuple(pair for name, pair in CATEGORICAL_LAYERS.items() if name in names)


def finalize_normalization(model: "keras.Model") -> None:
    """Make every ``Normalization`` layer (nested too) use its stored statistics: after
    ``set_weights`` on a copy, or it normalizes with mean 0 and variance 1."""
    stack = list(model.layers)
    while stack:
        layer = stack.pop()
        if hasattr(layer, "finalize_state"):
            layer.finalize_state()
        stack.extend(getattr(layer, "layers", []))


def clone_model(model: "keras.Model", dtype: str | None = None) -> "keras.Model":
    """An independent copy with the same weights; ``dtype="float64"`` makes every layer
    compute in float64 (gradient checks without float32 round-off)."""
    if dtype is None:
        copy = keras.models.clone_model(model)
    else:
        # every layer's dtype policy is stored as a string in the config
        config = json.loads(json.dumps(model.get_config()).replace('"float32"', json.dumps(dtype)))
        copy = model.__class__.from_config(config)
    copy.set_weights([np.asarray(w).astype(dtype) if dtype else w for w in model.get_weights()])
    finalize_normalization(copy)
    return copy


def learned_layers(model: "keras.Model") -> list:
    """Layers with trainable weights, from the output back (not the normalization statistics)."""
    return [layer for layer in reversed(model.layers) if layer.trainable_weights]


def reinitialize_layer(layer, rng: np.random.Generator) -> None:
    """Fresh weights for one layer as Keras draws them by default (Glorot-uniform kernels,
    orthogonal recurrent kernels, zero biases, unit gammas), drawn with ``rng`` in numpy."""
    for var in layer.trainable_weights:
        shape = tuple(var.shape)
        name = var.path if hasattr(var, "path") else var.name
        leaf = name.rsplit("/", 1)[-1]
        if "gamma" in leaf:
            value = np.ones(shape)
        elif len(shape) < 2 or "bias" in leaf or "beta" in leaf:
            value = np.zeros(shape)
        elif "recurrent" in leaf:
            # orthogonal (norm-preserving), so the random copy remembers as far back as
            # a freshly built layer does
            rows, cols = int(np.prod(shape[:-1])), shape[-1]
            q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
            q = q * np.sign(np.diag(r))
            value = (q if rows >= cols else q.T).reshape(shape)
        else:
            fan_in, fan_out = int(np.prod(shape[:-1])), shape[-1]
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            value = rng.uniform(-limit, limit, shape)
        var.assign(value.astype(np.dtype(var.dtype)))
