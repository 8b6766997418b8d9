"""A run scored on a data folder (genre_lib.evaluate), and the committed model's stored
figures recomputed from its listed test files."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss

from genre_lib.dataset import load_file
from genre_lib.evaluate import evaluate_run
from genre_lib.inference import predict_proba
from genre_lib.note_statistics import note_statistics

from .conftest import SHARED_MIDI, needs_shared


def _by_hand(run, tables, X) -> dict:
    """Every verdict's probabilities under both protocols, computed without genre_lib's
    verdicts: the network on the first notes or on evenly spaced windows (a vote of their
    logits), the stored classifiers on statistics of the notes read, their geometric mean."""
    from genre_lib.inference import logits
    from genre_lib.windows import even_windows

    k = run.meta["file_windows"]
    W, _ = even_windows(tables, k)
    z = logits(run.model, W).reshape(len(tables), k, -1).mean(axis=1)
    rnn = {"first100": predict_proba(run.model, X), "file": np.exp(z) / np.exp(z).sum(1, keepdims=True)}
    out = {}
    for p, cut in (("first100", 100), ("file", None)):
        base = run.baselines[p].predict_proba(np.array([note_statistics(t[:cut]) for t in tables]))
        both = np.sqrt(rnn[p] * base)
        out[p] = {"rnn": rnn[p], "baseline": base, "combined": both / both.sum(1, keepdims=True)}
    return out


def test_evaluate_run_reports_every_verdict_as_computed_by_hand(demo_run, demo_data):
    report = evaluate_run(demo_run, demo_data, "first100")
    probs = _by_hand(demo_run, demo_data.tables(), demo_data.X)
    y = demo_data.y
    assert report["protocol"] == "first100" and report["protocols"]["file"]["windows"] == demo_run.meta["file_windows"]
    assert report["accuracy"] == pytest.approx(accuracy_score(y, probs["first100"]["rnn"].argmax(1)))
    for who in ("baseline", "combined"):
        for p in ("first100", "file"):
            assert report[who]["protocols"][p]["accuracy"] == pytest.approx(accuracy_score(y, probs[p][who].argmax(1)))
            assert report[who]["protocols"][p]["confusion"] == confusion_matrix(y, probs[p][who].argmax(1)).tolist()
    wrong = int((probs["first100"]["rnn"].argmax(1) != y).sum())
    assert len(report["misclassified"]) == wrong
    assert sorted(s["path"] for s in report["skipped"]) == sorted(s.path for s in demo_data.skipped)


def _vote(window_probs: np.ndarray) -> np.ndarray:
    g = np.exp(np.log(window_probs).mean(axis=1))
    return g / g.sum(axis=1, keepdims=True)


@pytest.mark.real_data
@needs_shared
@pytest.mark.slow
def test_committed_models_test_metrics_reproduce_from_its_listed_files(real_run):
    from genre_lib.midi_io import read_midi
    from genre_lib.windows import even_windows

    files = real_run.meta["split"]["test_files"]
    tables = [read_midi(SHARED_MIDI / f) for f in files]
    y = np.array([real_run.genres.index(f.split("/")[0].lower()) for f in files])
    k = real_run.meta["file_windows"]
    first = predict_proba(real_run.model, np.stack([load_file(SHARED_MIDI / f, real_run.max_notes) for f in files]))
    W, _ = even_windows(tables, k)
    whole = _vote(predict_proba(real_run.model, W).reshape(len(files), k, -1))
    stored = real_run.metrics["rnn"]["protocols"]
    for protocol, probs in (("first100", first), ("file", whole)):
        m = stored[protocol]
        assert m["n"] == len(files)
        assert m["accuracy"] == pytest.approx(accuracy_score(y, probs.argmax(1)), abs=1e-9)
        assert m["loss"] == pytest.approx(log_loss(y, probs / probs.sum(1, keepdims=True), labels=[0, 1]), abs=1e-4)
        assert m["confusion"] == confusion_matrix(y, probs.argmax(1), labels=[0, 1]).tolist()
    # the baseline and the combined verdict stored beside it, recomputed by hand from the reloaded baseline
    probs = _by_hand(real_run, tables, np.stack([t[:real_run.max_notes] for t in tables]))
    for who in ("baseline", "combined"):
        for protocol in ("first100", "file"):
            assert real_run.metrics[who]["protocols"][protocol]["accuracy"] == pytest.approx(
                accuracy_score(y, probs[protocol][who].argmax(1)), abs=1e-9)
