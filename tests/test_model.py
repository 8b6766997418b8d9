"""The classifier's layers and model: encoding inside the model, checked against numpy."""

import numpy as np
import pytest

from genre_lib.midi_io import DRUM, DURATION, FEATURES, PITCH, PROGRAM, STEP, VELOCITY
from genre_lib import model as L
from genre_lib.configs import ModelConfig
from genre_lib.model import LOG_COLUMNS, build_model, encode_notes, logits_model, raw_feature_stats


def part_of(drum: np.ndarray, program: np.ndarray) -> np.ndarray:
    """Each note's part by hand: 0 drums, 1 the bass family (programs 32-39), 2 the rest."""
    return np.where(np.asarray(drum) > 0.5, 0, np.where((np.asarray(program) >= 32) & (np.asarray(program) < 40), 1, 2))


@pytest.fixture(scope="module")
def sample(demo_data):
    """40 demo files, both genres, as float32 note tables."""
    index = np.concatenate([np.flatnonzero(demo_data.y == g)[:20] for g in (0, 1)])
    return demo_data.X[index].astype(np.float32), demo_data.y[index]


@pytest.fixture(scope="module")
def untrained(sample):
    """The default model, normalization adapted to the sample, random weights (seed 0)."""
    return build_model(ModelConfig(), sample[0], n_genres=2, seed=0)


# --- ModelConfig -------------------------------------------------------------------------


@pytest.mark.parametrize("bad, message", [
    (dict(cell="rnn"), "cell must be 'gru' or 'lstm'"),
    (dict(units=0), "units must be at least 1"),
    (dict(layers=0), "layers must be at least 1"),
    (dict(epochs=0), "epochs must be at least 1"),
    (dict(dropout=1.0), "dropout must be in"),
    (dict(dropout=-0.1), "dropout must be in"),
])
def test_config_rejects_bad_settings(bad, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**bad)


def test_config_round_trips_and_rejects_unknown_keys():
    config = ModelConfig(cell="lstm", units=8, augment=False)
    assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match=r"unknown model settings \['unitz'\]"):
        ModelConfig.from_dict({**config.to_dict(), "unitz": 3})


# --- the encoding ------------------------------------------------------------------------


def test_encode_notes_logs_only_the_time_columns(demo_data):
    X = demo_data.X[:5].copy()
    before = X.copy()
    Z = encode_notes(X)
    assert np.array_equal(X, before), "the input is not modified"
    assert LOG_COLUMNS == (STEP, DURATION)
    for c in range(len(FEATURES)):
        expected = np.log1p(X[..., c]) if c in LOG_COLUMNS else X[..., c]
        np.testing.assert_allclose(Z[..., c], expected, rtol=1e-6)
    # a negative time (as an optimizer might produce) counts as zero
    X[0, 0, STEP] = -0.5
    assert encode_notes(X)[0, 0, STEP] == 0.0


def test_note_encoding_layer_matches_its_numpy_twin(demo_data):
    X = demo_data.X[:16].astype(np.float32)
    X[0, :5, STEP] = -1.0  # clipped in both
    layer = L.NoteEncoding()
    out = np.asarray(layer(X))
    np.testing.assert_allclose(out, encode_notes(X), rtol=1e-6, atol=1e-7)
    # and it survives serialization with its settings
    clone = type(layer).from_config(layer.get_config())
    assert clone.log_columns == LOG_COLUMNS and clone.n_features == len(FEATURES)


def test_normalization_is_adapted_to_the_encoded_training_notes(untrained, sample):
    X = sample[0]
    flat = encode_notes(X).reshape(-1, X.shape[-1]).astype(np.float64)
    norm = untrained.get_layer("normalization")
    np.testing.assert_allclose(np.ravel(norm.mean), flat.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.ravel(norm.variance), flat.var(0), rtol=1e-3, atol=1e-5)
    # raw_feature_stats undoes the log for step and duration, the rest are raw statistics
    mean, std = raw_feature_stats(untrained)
    raw = X.reshape(-1, X.shape[-1]).astype(np.float64)
    for c in (PITCH, VELOCITY, DRUM, PROGRAM):
        assert mean[c] == pytest.approx(raw[:, c].mean(), rel=1e-4, abs=1e-5)
        assert std[c] == pytest.approx(raw[:, c].std(), rel=1e-3, abs=1e-5)
    for c in LOG_COLUMNS:
        assert mean[c] == pytest.approx(np.expm1(flat[:, c].mean()), rel=1e-4)
        assert std[c] == pytest.approx(flat[:, c].std() * np.exp(flat[:, c].mean()), rel=1e-3)


def test_program_family_one_hot_and_silent_for_drums():
    layer = L.ProgramFamily()
    programs = np.array([0, 7, 8, 33, 81, 127, 40], dtype=np.float32)
    x = np.zeros((1, len(programs), len(FEATURES)), dtype=np.float32)
    x[0, :, PROGRAM] = programs
    x[0, -1, DRUM] = 1.0
    out = np.asarray(layer(x))[0]
    assert out.shape == (len(programs), 16)
    expected = np.eye(16)[(programs // 8).astype(int)]
    expected[-1] = 0.0
    np.testing.assert_array_equal(out, expected)


def test_note_summary_is_mean_std_max_min(demo_data):
    X = encode_notes(demo_data.X[:3])
    out = np.asarray(L.NoteSummary()(X))
    expected = np.concatenate([X.mean(1), X.std(1), X.max(1), X.min(1)], axis=-1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_augmentation_changes_tempo_key_and_velocity_only_while_training(demo_data):
    X = demo_data.X[:32].astype(np.float32)
    aug = L.MusicAugment(seed=1)
    assert np.array_equal(np.asarray(aug(X, training=False)), X)
    A = np.asarray(aug(X, training=True))
    np.testing.assert_array_equal(A[..., DRUM], X[..., DRUM])
    np.testing.assert_array_equal(A[..., PROGRAM], X[..., PROGRAM])
    drum = X[..., DRUM] > 0.5
    shift = A[..., PITCH] - X[..., PITCH]
    np.testing.assert_array_equal(shift[drum], 0.0)  # a drum "pitch" names a drum, not a key
    scales, shifts = [], []
    for f in range(len(X)):
        s = shift[f][~drum[f]]
        assert np.all(s == s[0]) and s[0] == np.round(s[0]) and abs(s[0]) <= 6, "one whole-semitone transposition per file"
        shifts.append(s[0])
        moving = X[f, :, STEP] > 0
        ratio = A[f, moving, STEP] / X[f, moving, STEP]
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-5)
        np.testing.assert_allclose(A[f, :, DURATION], X[f, :, DURATION] * ratio[0], rtol=1e-5)
        assert np.exp(-0.25) - 1e-6 <= ratio[0] <= np.exp(0.25) + 1e-6
        scales.append(ratio[0])
    assert A[..., VELOCITY].min() >= 1 and A[..., VELOCITY].max() <= 127
    assert len(set(np.round(scales, 5))) > 10 and len(set(shifts)) > 3, "a new draw for every file"


# --- the model ---------------------------------------------------------------------------


def test_model_outputs_probabilities_and_its_logits_model_shares_the_weights(untrained, sample):
    X = sample[0][:8]
    probs = np.asarray(untrained.predict(X, verbose=0))
    assert probs.shape == (8, 2)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    logits_net = logits_model(untrained)
    logits = np.asarray(logits_net.predict(X, verbose=0), dtype=np.float64)
    softmax = np.exp(logits - logits.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    np.testing.assert_allclose(softmax, probs, atol=1e-6)
    assert {id(v) for v in logits_net.weights} <= {id(v) for v in untrained.weights}, "no copy of the weights"


@pytest.mark.slow
def test_the_model_reads_raw_midi_units_with_real_gradients(untrained, sample):
    import tensorflow as tf

    X = sample[0][:3].copy()
    X[2, :, VELOCITY] = 90.0  # constant channels (one velocity, no drums, unused program
    X[2, :, DRUM] = 0.0       # families) have std 0, where sqrt's slope is infinite
    x = tf.constant(X)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logit = logits_model(untrained)(x)[:, 0]
    grad = tape.gradient(logit, x).numpy()
    assert np.all(np.isfinite(grad)), f"NaN gradient in {[FEATURES[c] for c in np.flatnonzero(~np.isfinite(grad).all((0, 1)))]}"
    for c in (PITCH, STEP, DURATION, VELOCITY, DRUM):
        assert np.abs(grad[:2, :, c]).max() > 0, f"no gradient reaches {FEATURES[c]}"


@pytest.mark.parametrize("config, present, absent", [
    (ModelConfig(families=False, summary=False, augment=False), ["gru_1"],
     ["program_family", "note_summary", "augment"]),
    (ModelConfig(), ["augment", "note_encoding", "program_family", "note_summary", "gru_1"], ["gru_2"]),
    (ModelConfig(cell="lstm", layers=2, units=8), ["lstm_1", "lstm_2"], ["gru_1"]),
    (ModelConfig(dropout=0.0, dense_layers=2), ["dense_1", "dense_2"], ["dropout_out", "dropout_1"]),
])
def test_config_switches_build_the_named_parts(config, present, absent, sample):
    model = build_model(config, sample[0], n_genres=3, seed=0)
    names = {layer.name for layer in model.layers}
    assert set(present) <= names and not (set(absent) & names)
    assert model.outputs[0].shape[-1] == 3
    recurrent = [layer for layer in model.layers if layer.name.startswith(config.cell)]
    assert len(recurrent) == config.layers and all(r.units == config.units for r in recurrent)
    # only the last recurrent layer returns its final state
    assert [r.return_sequences for r in recurrent] == [True] * (config.layers - 1) + [False]


def test_same_seed_same_initial_weights(sample):
    a = build_model(ModelConfig(units=8), sample[0], 2, seed=3).get_weights()
    b = build_model(ModelConfig(units=8), sample[0], 2, seed=3).get_weights()
    c = build_model(ModelConfig(units=8), sample[0], 2, seed=4).get_weights()
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not all(np.array_equal(p, q) for p, q in zip(a, c))


# --- categories, column choice and the file model ---------------------------------------------


def test_category_one_hots_match_general_midi_by_hand():
    from genre_lib.general_midi import DRUM_SOUNDS, drum_sound

    rows = np.array([
        # pitch step duration velocity drum program
        [60, 0, 0.5, 80, 0, 0],    # C, piano
        [73, 0.1, 0.5, 80, 0, 33],  # C#, bass
        [36, 0.1, 0.1, 100, 1, 0],  # kick
        [42, 0.1, 0.1, 90, 1, 0],   # closed hi-hat
        [62, 0.1, 0.1, 90, 1, 0],   # a conga: other percussion
    ], dtype=np.float32)[None]
    pc = np.asarray(L.PitchClass()(rows))[0]
    assert pc.shape == (5, 12)
    assert pc[0].argmax() == 0 and pc[1].argmax() == 1 and pc[:2].sum() == 2
    assert pc[2:].sum() == 0, "drum notes have no pitch class"
    ds = np.asarray(L.DrumSound()(rows))[0]
    names = list(DRUM_SOUNDS)
    assert ds.shape == (5, len(DRUM_SOUNDS)) and ds[:2].sum() == 0
    assert ds[2].argmax() == names.index("kick") and ds[3].argmax() == names.index("hi-hat")
    assert ds[4].sum() == 0 and drum_sound(np.array([62])).tolist() == [-1]
    profile = np.asarray(L.PitchClassProfile()(pc[None]))[0]
    np.testing.assert_allclose(profile, [0.5, 0.5] + [0] * 10)


def test_the_study_columns_get_no_weight_and_no_gradient(sample):
    import tensorflow as tf

    config = ModelConfig(units=8, families=False, summary=False, augment=False, columns=("pitch", "step", "duration"))
    model = build_model(config, sample[0], n_genres=2, seed=0)
    x = tf.constant(sample[0][:3])
    with tf.GradientTape() as tape:
        tape.watch(x)
        logit = logits_model(model)(x)[:, 0]
    grad = tape.gradient(logit, x).numpy()
    assert np.abs(grad[..., [PITCH, STEP, DURATION]]).max() > 0
    assert np.abs(grad[..., [VELOCITY, DRUM, PROGRAM]]).max() == 0, "columns the study did not read stay unread"
    with pytest.raises(ValueError, match="columns must be"):
        ModelConfig(columns=("pitch", "tempo"))


@pytest.mark.slow
def test_a_model_with_every_new_layer_round_trips_through_a_keras_file(sample, tmp_path):
    import keras

    config = ModelConfig(units=8, pitch_classes=True, drum_sounds=True, columns=("pitch", "step", "duration", "drum"))
    model = build_model(config, sample[0], n_genres=2, seed=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(sample[0][:5], verbose=0), model.predict(sample[0][:5], verbose=0), atol=1e-6)


def test_the_layers_are_importable_and_the_committed_models_load_by_their_registered_names():
    """Every project layer is a class of genre_lib.model, registered under ``genre_lib>``,
    and every committed model file names only layers that resolve to them."""
    import json
    import zipfile

    import keras

    from genre_lib.paths import MODELS_DIR

    for name in ("NoteEncoding", "ProgramFamily", "SelectColumns", "PitchClass", "DrumSound", "PitchClassProfile",
                 "NoteSummary", "MusicAugment", "PartIntervals"):
        cls = getattr(L, name)
        assert keras.saving.get_registered_object(f"genre_lib>{name}") is cls and cls.__doc__
    folders = sorted(p.parent for p in MODELS_DIR.glob("*/model.keras"))
    assert len(folders) >= 6
    for folder in folders:
        with zipfile.ZipFile(folder / "model.keras") as z:
            layers = json.loads(z.read("config.json"))["config"]["layers"]
        for layer in layers:
            if layer.get("registered_name", "") and layer["registered_name"].startswith("genre_lib>"):
                assert getattr(L, layer["class_name"]) is keras.saving.get_registered_object(layer["registered_name"])
        model = keras.models.load_model(folder / "model.keras")
        assert model.get_layer("logits") is not None


# --- order within each part: PartIntervals and the options that use it ------


def _intervals_by_loops(window: np.ndarray) -> np.ndarray:
    """PartIntervals of one window, written out note by note from its docstring."""
    from genre_lib.model import IOI_FLOOR, ONSET_TOLERANCE

    n = len(window)
    onset = np.cumsum(np.maximum(window[:, STEP], 0).astype(np.float64))
    part = part_of(window[:, DRUM], window[:, PROGRAM])
    prev_onset = [max([j for j in range(i) if part[j] == part[i] and onset[j] < onset[i] - ONSET_TOLERANCE],
                      default=-1) for i in range(n)]
    log_ioi = [np.log2(onset[i] - onset[k] + IOI_FLOOR) if k >= 0 else None for i, k in enumerate(prev_onset)]
    out = np.zeros((n, 8))
    first_channel = {0: 0, 1: 2, 2: 5}
    for i in range(n):
        before = [j for j in range(i) if part[j] == part[i]]
        k = prev_onset[i]
        timing = log_ioi[i] + 2 if k >= 0 else 0.0
        ratio = float(np.clip(log_ioi[i] - log_ioi[k], -3, 3)) if k >= 0 and log_ioi[k] is not None else 0.0
        values = [timing, ratio]
        if part[i] != 0:  # pitched: the interval comes first
            interval = np.clip(window[i, PITCH] - window[before[-1], PITCH], -24, 24) / 12 if before else 0.0
            values = [interval, *values]
        out[i, first_channel[part[i]]:first_channel[part[i]] + len(values)] = values
    return out


def test_part_intervals_follow_each_part_by_hand():
    from genre_lib.model import INTERVAL_CHANNELS

    rows = np.array([
        # pitch step duration velocity drum program
        [36, 0.0, 0.1, 100, 1, 0],   # kick at 0 s
        [40, 0.0, 0.5, 80, 0, 33],   # bass E at 0 s
        [64, 0.0, 0.5, 80, 0, 0],    # piano E at 0 s
        [42, 0.5, 0.1, 90, 1, 0],    # hi-hat at 0.5 s
        [43, 0.0, 0.5, 80, 0, 33],   # bass G at 0.5 s: up 3 semitones, 0.5 s after the E
        [36, 0.25, 0.1, 100, 1, 0],  # kick at 0.75 s: 0.25 s after the hi-hat, half the time before
        [47, 0.25, 0.5, 80, 0, 33],  # bass B at 1.0 s: up 4, 0.5 s after the G (ratio 1)
    ], dtype=np.float32)
    out = np.asarray(L.PartIntervals()(rows[None]))[0]
    c = {name: k for k, name in enumerate(INTERVAL_CHANNELS)}
    timing = lambda seconds: np.log2(seconds + 1 / 32) + 2  # noqa: E731
    np.testing.assert_allclose(out[:3], 0.0, atol=1e-6)  # each part's first note has no predecessor
    assert out[4, c["bass interval"]] == pytest.approx(3 / 12) and out[6, c["bass interval"]] == pytest.approx(4 / 12)
    assert out[4, c["bass ioi"]] == pytest.approx(timing(0.5), abs=1e-5)
    assert out[4, c["bass ratio"]] == 0.0, "the bass's first interval has no interval before it"
    assert out[6, c["bass ratio"]] == pytest.approx(0.0, abs=1e-5)
    assert out[5, c["drums ioi"]] == pytest.approx(timing(0.25), abs=1e-5)
    assert out[5, c["drums ratio"]] == pytest.approx(np.log2((0.25 + 1 / 32) / (0.5 + 1 / 32)), abs=1e-5)
    # every quantity sits in its own part's channels only
    assert np.all(out[[0, 3, 5]][:, 2:] == 0) and np.all(out[[1, 4, 6]][:, [0, 1, 5, 6, 7]] == 0)
    np.testing.assert_allclose(out, _intervals_by_loops(rows), atol=1e-5)


def test_part_intervals_match_a_note_by_note_computation(demo_data):
    W, _ = demo_data.random_windows(2, seed=0, index=np.arange(0, len(demo_data), 7))
    out = np.asarray(L.PartIntervals()(W))
    expected = np.stack([_intervals_by_loops(w) for w in W])
    np.testing.assert_allclose(out, expected, atol=2e-5)
    assert (np.abs(expected) > 0).mean() > 0.3, "the demo windows exercise the channels"


def test_part_intervals_ignore_key_and_see_order(demo_data):
    layer = L.PartIntervals()
    X = demo_data.X[:8].astype(np.float32)
    up = X.copy()
    up[..., PITCH] += 5.0 * (1.0 - X[..., DRUM])  # transposed, drums untouched
    np.testing.assert_allclose(np.asarray(layer(up)), np.asarray(layer(X)), atol=1e-5)
    shuffled = X[:, np.random.default_rng(0).permutation(X.shape[1])]
    assert np.abs(np.asarray(layer(shuffled)) - np.asarray(layer(X))).max() > 0.1


def test_order_options_are_checked_and_retired_settings_read_when_off():
    from genre_lib.configs import RETIRED

    with pytest.raises(ValueError, match="conv must be"):
        ModelConfig(conv=-1)
    old = {k: v for k, v in ModelConfig().to_dict().items() if k not in ("intervals", "conv")}
    assert ModelConfig.from_dict(old) == ModelConfig(), "a run.json from before these options loads unchanged"
    stored = {**ModelConfig().to_dict(), **dict.fromkeys(("interval_summary", "parts", "bidirectional"), False)}
    assert ModelConfig.from_dict(stored) == ModelConfig(), "a run.json from before they were retired loads unchanged"
    for key in RETIRED:
        with pytest.raises(ValueError, match=f"'{key}'.*no longer built"):
            ModelConfig.from_dict({**stored, key: True})
    with pytest.raises(ValueError, match="unknown model settings"):
        ModelConfig.from_dict({**stored, "bidirectionl": False})


def test_every_stored_config_reads_but_the_three_screened_with_retired_settings():
    """Every committed run's config and every configuration stored in results/ reads; the
    only ones refused are the three order-search rows that turned a retired setting on
    (docs/design.md, Compatibility)."""
    import json

    from genre_lib.paths import MODELS_DIR, RESULTS_DIR

    def configs(node):
        if isinstance(node, dict):
            if isinstance(node.get("config"), dict) and "cell" in node["config"]:
                yield node.get("candidate", ""), node["config"]
            for value in node.values():
                yield from configs(value)
        elif isinstance(node, list):
            for value in node:
                yield from configs(value)

    stored = [c for path in [*MODELS_DIR.glob("*/run.json"), *RESULTS_DIR.glob("*.json")]
              for c in configs(json.loads(path.read_text()))]
    refused = []
    for name, config in stored:
        try:
            ModelConfig.from_dict(config)
        except ValueError:
            refused.append(name)
    assert len(stored) > 20 and sorted(refused) == ["intervals+bi", "intervals+isum", "parts+intervals"]


@pytest.mark.slow
@pytest.mark.parametrize("config", [
    ModelConfig(units=8, intervals=True, summary=False),
    ModelConfig(units=8, intervals=True, conv=3),
])
def test_an_order_model_round_trips_and_has_finite_gradients(config, sample, tmp_path):
    import keras
    import tensorflow as tf

    model = build_model(config, sample[0], n_genres=2, seed=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(loaded(sample[0][:5])), np.asarray(model(sample[0][:5])), atol=1e-6)
    x = tf.constant(sample[0][:3])
    with tf.GradientTape() as tape:
        tape.watch(x)
        logit = logits_model(model)(x)[:, 0]
    grad = tape.gradient(logit, x).numpy()
    assert np.all(np.isfinite(grad)) and np.abs(grad[..., [PITCH, STEP]]).max() > 0
