"""Probes (genre_lib.probes): order, attribute and branch probes, checked on cases whose
answer is known by hand, on the planted order cue of genre_lib.demo.make_order_corpus
(a GRU trained for real must hear it, a bag of notes must not) and through the CLI."""

import json
from pathlib import Path

import numpy as np
import pytest

from genre_lib import probes as P
from genre_lib.midi_io import DRUM, FEATURES, PITCH, STEP, VELOCITY
from genre_lib.protocols import PROTOCOLS
from genre_lib.verdicts import BaselineVerdict, RNNVerdict

from .conftest import _table
from .test_cli import run_cli

#: a tiny GRU that hears pitch only: it learns the planted order cue in a few seconds
ORDER_CONFIG = dict(units=16, dense_units=16, epochs=10, windows=16, augment=False, summary=False, families=False,
                    columns=("pitch",), cosine=True, batch_size=32, learning_rate=5e-3)


def _mean_pitch_model(threshold: float = 60.0):
    """A network that calls a window genre 1 when its mean pitch is above ``threshold``:
    a bag of notes (mean pooling), with a layer named "logits" as genre_lib expects."""
    import keras

    x = keras.Input((100, len(FEATURES)))
    z = keras.layers.Dense(2, name="logits")(keras.layers.GlobalAveragePooling1D()(x))
    model = keras.Model(x, keras.layers.Softmax(name="probabilities")(z))
    w = np.zeros((len(FEATURES), 2), np.float32)
    w[PITCH, 1] = 1.0
    model.get_layer("logits").set_weights([w, np.array([0.0, -threshold], np.float32)])
    return model


def _constant_pitch_tables(pitches, lengths, seed=0):
    tables = []
    for i, (p, n) in enumerate(zip(pitches, lengths)):
        t = _table(n, seed + i)
        t[:, PITCH], t[:, DRUM] = p, 0.0
        tables.append(t)
    return tables


# --- transforms --------------------------------------------------------------------------


def test_order_probes_move_whole_notes_and_keep_every_column_multiset():
    rng = np.random.default_rng(3)
    w = rng.random((6, 100, len(FEATURES))).astype(np.float32)
    w[:, 0, STEP] = 0.0
    for probe, span in P.ORDER_PROBES.items():
        order = P.order_indices(len(w), 100, probe, rng)
        out = P.reorder(w, order)
        # every column holds the same values, the first step is still 0
        assert np.array_equal(np.sort(out, axis=1), np.sort(w, axis=1)), probe
        assert (out[:, 0, STEP] == 0).all()
        # every column but the step moves with its note: row j is row order[j]
        rest = [c for c in range(len(FEATURES)) if c != STEP]
        assert np.array_equal(out[..., rest], w[np.arange(len(w))[:, None], order][..., rest])
        # every note keeps its own step except the two whose places the first-step rule swaps
        own = out[..., STEP] == w[np.arange(len(w))[:, None], order][..., STEP]
        assert ((~own).sum(axis=1) <= 2).all()
        if span == 0:
            assert np.array_equal(order[0], np.arange(100)[::-1])
        elif span:
            assert np.array_equal(order // span, np.broadcast_to(np.arange(100) // span, order.shape))
        assert not np.array_equal(order[0], np.arange(100))


def test_swap_columns_by_hand():
    a = np.arange(5 * 6, dtype=float).reshape(1, 5, 6)
    b = 100 + np.arange(3 * 6, dtype=float).reshape(1, 3, 6)
    out = P.swap_columns([a, b], ("pitch", "velocity"), np.array([1, 0]))
    # a takes b's pitch and velocity, b's 3 notes repeated from its start: rows 0 1 2 0 1
    expected = a.copy()
    for row, src in enumerate([0, 1, 2, 0, 1]):
        expected[0, row, [PITCH, VELOCITY]] = b[0, src, [PITCH, VELOCITY]]
    assert np.array_equal(out[0], expected)
    expected_b = b.copy()
    expected_b[0, :, [PITCH, VELOCITY]] = a[0, :3, [PITCH, VELOCITY]]
    assert np.array_equal(out[1], expected_b)
    donor = P.donor_files(50, np.random.default_rng(0))
    assert sorted(donor.tolist()) == list(range(50)) and (donor != np.arange(50)).all()


def test_attribute_probe_matches_a_hand_computation():
    # three files of constant pitch 50, 70, 72 and true genres 0, 1, 1; the judge says
    # genre 1 when the mean pitch is above 60, so it is right on all three. Any donor
    # permutation without a fixed point is a 3-cycle, and either cycle leaves exactly
    # one file right: probed accuracy 1/3 on every draw, effect 2/3. Velocity is not read.
    tables, y = _constant_pitch_tables([50, 70, 72], [120, 150, 200]), np.array([0, 1, 1])
    rnns = [RNNVerdict(_mean_pitch_model(), ("low", "high"), p) for p in PROTOCOLS]

    class MeanPitch:  # the baseline's "pitch mean" statistic (column 2), thresholded at 60
        def predict_proba(self, S):
            high = (S[:, 2] > 60).astype(float)
            return np.stack([1 - high, high], axis=1)

    bases = [BaselineVerdict(("low", "high"), p, model=MeanPitch()) for p in PROTOCOLS]
    results = P.probe_table([*rnns, *bases], tables, y, probes=["pitch", "played", "velocity"], repeats=4, seed=5)
    assert len(results) == 2 * 2 * 3
    for r in results:
        assert (r.accuracy, r.files, r.repeats) == (1.0, 3, 4)
        if r.probe == "velocity":
            assert r.effect == 0 and r.probed == 1.0
        else:
            assert r.probed == pytest.approx(1 / 3) and r.effect == pytest.approx(2 / 3), r


def test_bad_probe_protocol_or_verdict_is_a_clear_error():
    tables, y = _constant_pitch_tables([50, 70], [120, 120]), np.array([0, 1])
    rnn = RNNVerdict(_mean_pitch_model(), ("low", "high"))
    with pytest.raises(ValueError, match="unknown probe 'shufle'"):
        P.probe_verdict(rnn, tables, y, probes=["shufle"])
    with pytest.raises(ValueError, match="unknown protocol 'first10'"):
        RNNVerdict(_mean_pitch_model(), ("low", "high"), "first10")
    with pytest.raises(ValueError, match="does not apply"):
        P.probe_verdict(rnn, tables, y, probes=["recurrent-mean"])
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        P.probe_verdict(rnn, tables, y, repeats=0)
    with pytest.raises(ValueError, match="3 labels for 2 files"):
        P.probe_verdict(rnn, tables, np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="not an order probe"):
        P.order_indices(2, 100, "pitch", np.random.default_rng(0))
    # the default table leaves out what does not apply (no branches here)
    assert {r.probe for r in P.probe_verdict(rnn, tables, y, repeats=1)} == set(P.ORDER_PROBES) | set(P.ATTRIBUTE_GROUPS)


# --- branches of the committed network ---------------------------------------------------


@pytest.mark.slow
def test_branch_ablation_and_order_free_inputs_of_the_committed_model(real_run):
    import keras

    model = real_run.model
    parts = P.branch_slices(model)
    assert parts is not None and len(parts["recurrent"]) == model.get_layer("gru_1").units
    tables = [_table(n, seed) for seed, n in enumerate([150, 300, 220, 400, 180, 260])]
    verdict = RNNVerdict(model, real_run.genres, "file")
    reads = verdict.reads(tables)
    w = np.concatenate(reads)
    # order-free inputs, measured, are exactly the statistics part (176 of 240 for MAIN_CONFIG)
    inputs = P.dense_inputs(model, w, seed=0)
    n_stats = len(parts["statistics"])
    assert inputs["order_free"] == n_stats and inputs["order_free_are_statistics"]
    assert inputs["total"] == len(parts["recurrent"]) + n_stats
    # the ablation by hand: the branch outputs from their own layers, the mean put in,
    # then the dense layers' weights applied in numpy, the windows' logits averaged
    names = ["gru_1", "note_summary", "pitch_class_profile"]
    outs = keras.Model(model.inputs[0], [model.get_layer(n).output for n in names])(w, training=False)
    z = np.concatenate([np.asarray(o) for o in outs], axis=1)
    for part in ("recurrent", "statistics"):
        zz = z.copy()
        zz[:, parts[part]] = zz[:, parts[part]].mean(axis=0)
        w1, b1 = model.get_layer("dense_1").get_weights()
        w2, b2 = model.get_layer("logits").get_weights()
        logits = np.maximum(zz @ w1 + b1, 0) @ w2 + b2
        mean = logits.reshape(len(tables), -1, 2).mean(axis=1)
        expected = np.exp(mean) / np.exp(mean).sum(axis=1, keepdims=True)
        assert np.allclose(P.ablate_branch(verdict, reads, part), expected, atol=1e-5)
    with pytest.raises(ValueError, match="cannot replace part 'melody'"):
        P.ablate_branch(verdict, reads, "melody")


# --- the planted order cue ---------------------------------------------------------------


def test_order_corpus_pairs_hold_the_same_notes_in_another_order(tmp_path: Path):
    from genre_lib.note_statistics import note_statistics
    from .order_corpus import make_order_corpus, order_piece

    rising, falling = order_piece(np.random.default_rng(0))
    assert np.array_equal(np.sort(rising, axis=0), np.sort(falling, axis=0))
    assert not np.array_equal(rising, falling)
    assert np.allclose(note_statistics(rising), note_statistics(falling))
    # every 4-note phrase goes up in one, down in the other
    assert (np.diff(rising[:, PITCH].reshape(-1, 4), axis=1) > 0).all()
    assert (np.diff(falling[:, PITCH].reshape(-1, 4), axis=1) < 0).all()
    paths = make_order_corpus(tmp_path / "order", per_genre=3, seed=1)
    assert len(paths) == 6 and (tmp_path / "order" / "rising" / "order_002_g2.mid").is_file()
    with pytest.raises(FileExistsError, match="not empty"):
        make_order_corpus(tmp_path / "order", per_genre=3)


@pytest.fixture(scope="module")
def order_run(tmp_path_factory):
    """The planted-order corpus and a tiny GRU trained on it for real (a run folder)."""
    from genre_lib.dataset import load_dataset
    from .order_corpus import make_order_corpus
    from genre_lib.configs import ModelConfig
    from genre_lib.train import train_run

    root = tmp_path_factory.mktemp("order")
    make_order_corpus(root / "data", per_genre=40, seed=0)
    data = load_dataset(root / "data", cache_dir=root / "cache", progress=False)
    run = train_run(data, root / "run", config=ModelConfig(**ORDER_CONFIG), seed=0)
    index = run.held_out(data.paths)
    return run, data, index


@pytest.mark.slow
def test_a_gru_learns_the_planted_order_cue_and_the_probe_finds_it(order_run):
    run, data, index = order_run
    results = P.probe_table([v for p in PROTOCOLS for v in run.verdicts(p)[:2]], data.tables(index), data.y[index],
                            probes=["shuffle", "reverse", "shuffle-4"], seed=0)
    got = {(r.verdict, r.protocol, r.probe): r for r in results}
    for protocol in ("first100", "file"):
        shuffled = got["rnn", protocol, "shuffle"]
        assert shuffled.accuracy >= 0.9, shuffled
        assert shuffled.effect >= 0.3 and shuffled.low > 0, shuffled
        # reversed, every rising phrase falls: the verdicts turn round
        assert got["rnn", protocol, "reverse"].probed <= 0.1
        # a bag of notes cannot tell the genres apart: the baseline stays at chance
        base = got["baseline", protocol, "shuffle"]
        assert abs(base.accuracy - 0.5) <= 0.1 and base.effect == 0, base


@pytest.mark.slow
def test_a_model_that_cannot_see_order_has_an_order_effect_of_zero(order_run, demo_data):
    import keras
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline

    from genre_lib.model import logits_model

    # the trained GRU behind a layer that sorts every column of its window: it sees the
    # notes' values, never their order (and so cannot hear the cue any more)
    run, data, index = order_run
    x = keras.Input((run.max_notes, len(FEATURES)))
    z = keras.layers.Identity(name="logits")(logits_model(run.model)(keras.ops.sort(x, axis=1)))
    blind = keras.Model(x, keras.layers.Softmax(name="probabilities")(z))
    verdicts = [RNNVerdict(blind, run.genres, p, name="sorted-rnn") for p in PROTOCOLS]
    for r in P.probe_table(verdicts, data.tables(index), data.y[index], probes=list(P.ORDER_PROBES)):
        assert r.effect == 0 and r.low == r.high == 0, r

    # the baseline without its one statistic that reads order ("notes per second": when
    # the last note ends), on the demo corpus where it is far above chance
    keep = list(range(1, 48))  # column 0 is "notes per second"
    tables, y = demo_data.tables(), demo_data.y
    train, test = np.arange(0, len(y), 2), np.arange(1, len(y), 2)
    for protocol in PROTOCOLS:
        m = make_pipeline(ColumnTransformer([("order-free", "passthrough", keep)]),
                          HistGradientBoostingClassifier(random_state=0))
        base = BaselineVerdict(demo_data.genres, protocol, model=m, name="order-free baseline")
        m.fit(base.statistics([tables[i] for i in train]), y[train])
        for r in P.probe_verdict(base, [tables[i] for i in test], y[test], probes=list(P.ORDER_PROBES)):
            assert r.accuracy > 0.7 and r.effect == 0 and r.low == r.high == 0, r


@pytest.mark.slow
def test_cli_probe_json(order_run, tmp_path: Path):
    run, data, index = order_run
    result = run_cli("probe", str(run.path), str(data.root), "--json", "--split", "test", "--repeats", "2",
                     "--seed", "1", env_cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["files"], report["split"], report["repeats"], report["seed"]) == (len(index), "test", 2, 1)
    # every probe that applies x protocol x verdict; this network has no statistics branch
    expected = {(v, p, q) for v in ("rnn", "baseline") for p in ("first100", "file")
                for q in (*P.ORDER_PROBES, *P.ATTRIBUTE_GROUPS)}
    assert {(r["verdict"], r["protocol"], r["probe"]) for r in report["results"]} == expected
    assert report["dense_inputs"] is None
    # the same figures as in-process
    again = P.probe_report(run, data.tables(index), data.y[index], repeats=2, seed=1)
    assert report["results"] == json.loads(json.dumps(again["results"]))
    bad = run_cli("probe", str(run.path), str(data.root), "--probes", "shufle", env_cache=tmp_path / "cache")
    assert bad.returncode == 2 and "invalid choice: 'shufle'" in bad.stderr


@pytest.mark.slow
def test_cli_probe_text(order_run, capsys):
    from genre_lib.cli import main

    run, data, index = order_run
    assert main(["probe", str(run.path), str(data.root), "--split", "test", "--probes", "reverse", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert f"{len(index)} files (test; 0 skipped), 1 repeats" in out
    assert "rnn       reverse" in out and "baseline  reverse" in out


# --- a branch probe named for a run with a baseline --------------------------------------


@pytest.mark.slow
def test_a_named_branch_probe_runs_for_the_rnn_and_is_left_out_for_the_baseline(real_run, demo_dir, capsys, tmp_path):
    """``genre-lib probe RUN DATA --probes recurrent-mean`` on a run with a baseline: the
    baseline has no branches to ablate, so the probe is the RNN's alone, and said so."""
    from genre_lib.cli import main

    assert real_run.baselines is not None and P.branch_slices(real_run.model) is not None
    tables = [_table(n, seed) for seed, n in enumerate([150, 300, 220, 400])]
    y = np.array([0, 1, 0, 1])
    report = P.probe_report(real_run, tables, y, ["recurrent-mean"], repeats=1, seed=0)
    assert {(r["verdict"], r["protocol"], r["probe"]) for r in report["results"]} == {
        ("rnn", "first100", "recurrent-mean"), ("rnn", "file", "recurrent-mean")}
    assert report["not_applied"] == {"baseline": ["recurrent-mean"]}
    # the RNN's figure is the ablation itself, judged against the labels
    verdict = real_run.verdict("rnn", "file")
    reads = verdict.reads(tables)
    expected = (P.ablate_branch(verdict, reads, "recurrent").argmax(axis=1) == y).mean()
    assert next(r for r in report["results"] if r["protocol"] == "file")["probed"] == pytest.approx(expected)
    # the command, on a few demo files of each of the committed run's genres (what it
    # prints does not depend on how many files it judges; the whole corpus took seconds)
    data = tmp_path / "data"
    for genre in real_run.genres:
        (data / genre).mkdir(parents=True)
        for path in sorted((demo_dir / genre).glob("*.mid"))[:4]:
            (data / genre / path.name).write_bytes(path.read_bytes())
    assert main(["probe", str(real_run.path), str(data), "--probes", "recurrent-mean", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "rnn       recurrent-mean" in out and "baseline  recurrent-mean" not in out
    assert "not for the baseline: recurrent-mean" in out


def test_a_named_probe_that_applies_to_no_verdict_is_a_clear_error():
    tables, y = _constant_pitch_tables([50, 70], [120, 120]), np.array([0, 1])
    rnn = RNNVerdict(_mean_pitch_model(), ("low", "high"))  # no branches
    with pytest.raises(ValueError, match="'recurrent-mean' applies to none of the verdicts"):
        P.probe_table([rnn], tables, y, probes=["recurrent-mean"])
    assert P.not_applied([rnn], ["shuffle", "recurrent-mean"]) == {"rnn": ["recurrent-mean"]}
