"""A run scored on a data folder (genre_lib.evaluate), and the committed model's stored
figures recomputed from its listed test files."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss

from genre_lib.dataset import load_file
from genre_lib.evaluate import evaluate_run
from genre_lib.inference import predict_proba
from genre_lib.metrics import classification_metrics
from genre_lib.verdicts import score

from .conftest import SHARED_MIDI, needs_shared


def test_evaluate_run_reports_every_verdict_as_score_does(demo_run, demo_data):
    report = evaluate_run(demo_run, demo_data, "first100")
    scores = score(demo_run.verdicts(), demo_data.tables(), demo_data.y, demo_run.genres)
    assert report["protocol"] == "first100" and report["protocols"]["file"]["windows"] == demo_run.meta["file_windows"]
    assert report["accuracy"] == scores.metrics["rnn"]["first100"]["accuracy"]
    for who in ("baseline", "combined"):
        assert report[who]["protocols"] == scores.metrics[who]
    wrong = int(round((1 - report["accuracy"]) * report["n"]))
    assert len(report["misclassified"]) == wrong
    assert sorted(s["path"] for s in report["skipped"]) == sorted(s.path for s in demo_data.skipped)


def _vote(window_probs: np.ndarray) -> np.ndarray:
    g = np.exp(np.log(window_probs).mean(axis=1))
    return g / g.sum(axis=1, keepdims=True)


@pytest.mark.real_data
@needs_shared
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
    assert real_run.metrics["rnn"]["accuracy"] == stored["file"]["accuracy"]
    # the baseline and the combined verdict stored beside it, recomputed from the reloaded baseline
    scores = score(real_run.verdicts(), tables, y, real_run.genres)
    for who in ("baseline", "combined"):
        for protocol in ("first100", "file"):
            assert real_run.metrics[who]["protocols"][protocol]["accuracy"] == pytest.approx(
                classification_metrics(scores.probabilities[who][protocol], y, real_run.genres)["accuracy"], abs=1e-9)
