"""Three genres end to end on real files: nothing in training, evaluation, the baseline,
saliency, flips or the command line may assume two genres.

A seeded sample of 30 files per genre of ``../shared/midi`` (jazz, electronic, rock),
linked into a temporary folder, and a tiny model trained on it for real: accuracy is not
the point here (the README's three-genre figures come from cross-validation), the shapes,
names and bookkeeping of three classes are.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import PROJECT, SHARED_MIDI, TINY_CONFIG, needs_shared

pytestmark = needs_shared

GENRES = ("jazz", "electronic", "rock")
PER_GENRE = 30


@pytest.fixture(scope="module")
def three_dir(tmp_path_factory):
    """A folder of symbolic links to a seeded sample of real files of three genres."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("three") / "midi"
    for genre in GENRES:
        files = sorted((SHARED_MIDI / genre).glob("*.mid"))
        (root / genre).mkdir(parents=True)
        for f in rng.permutation(files)[:PER_GENRE]:
            (root / genre / f.name).symlink_to(f)
    return root


@pytest.fixture(scope="module")
def three_run(three_dir, tmp_path_factory):
    from genre_lib.model import ModelConfig
    from genre_lib.train import train_run

    out = tmp_path_factory.mktemp("runs") / "three"
    return train_run(three_dir, out, genres=list(GENRES), config=ModelConfig(**TINY_CONFIG, windows=2), seed=0)


def test_run_knows_three_genres_and_scores_both_protocols(three_run):
    # the genres are kept in sorted order, whatever order they were asked for in
    assert tuple(three_run.genres) == tuple(sorted(GENRES))
    assert three_run.model.output_shape[-1] == 3
    metrics = json.loads((three_run.path / "metrics.json").read_text())
    for who in ("rnn", "baseline"):
        for protocol in ("first100", "file"):
            m = metrics[who]["protocols"][protocol]
            assert set(m["per_genre"]) == set(GENRES)
            confusion = np.array(m["confusion"])
            assert confusion.shape == (3, 3) and confusion.sum() == m["n"]
            # accuracy recomputes from the confusion matrix
            assert m["accuracy"] == pytest.approx(np.trace(confusion) / confusion.sum())


def test_evaluate_command_reports_three_genres(three_run, three_dir, capsys):
    from genre_lib.cli import main

    assert main(["evaluate", str(three_run.path), str(three_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["protocols"]) == {"first100", "file"}
    assert out["accuracy"] == out["protocols"]["file"]["accuracy"]
    assert np.array(out["protocols"]["first100"]["confusion"]).shape == (3, 3)


def test_saliency_map_per_target_genre_differs(three_run, three_dir):
    from genre_lib.dataset import load_file
    from genre_lib.saliency import saliency_map

    table = load_file(sorted((three_dir / "rock").glob("*.mid"))[0])
    maps = [saliency_map(three_run.model, table, target=t) for t in range(3)]
    assert [m.target for m in maps] == [0, 1, 2]
    assert all(m.values.shape == table.shape for m in maps)
    # the notes that argue for rock are not those that argue for jazz
    assert not np.allclose(maps[0].values, maps[2].values)


def test_flip_to_each_other_genre_is_checked_after_the_round_trip(three_run, three_dir):
    from genre_lib.dataset import load_file
    from genre_lib.flip import optimize_delta
    from genre_lib.inference import predict_proba

    table = load_file(sorted((three_dir / "electronic").glob("*.mid"))[0])
    genres = tuple(three_run.genres)
    for target in (genres.index("jazz"), genres.index("rock")):
        r = optimize_delta(three_run.model, table, target, genres=genres)
        assert r.genre_names[r.target] == genres[target]
        if r.flipped:
            # flipped means the file read back is the target: recompute it independently
            assert int(np.argmax(predict_proba(three_run.model, r.reparsed)[0])) == target


def test_committed_cross_validation_pairs_and_recall_recompute():
    """The committed three-genre CV (results/): its pooled confusion, pair accuracies and
    per-genre recall recomputed from the stored per-file probabilities and per-fold rows."""
    from genre_lib.crossval import load_cv, pairwise_accuracy, pooled_metrics, recall_summary

    result = load_cv(PROJECT / "results" / "cv-jazz-electronic-rock.json")
    genres = result["data"]["genres"]
    assert sorted(genres) == sorted(GENRES) and len(result["files"]) == result["data"]["files"]
    assert all(len(f["rnn_file"]) == 3 for f in result["files"])
    assert result["recall"] == recall_summary(result["folds"])

    pooled = pooled_metrics(result, "file")
    per_fold = np.mean([r["rnn_file"] for r in result["folds"]])
    # pooled and per-fold mean accuracies differ only by the folds' sizes
    assert abs(pooled["accuracy"] - per_fold) < 0.01
    pairs = pairwise_accuracy(result, "file")
    assert len(pairs) == 3 and pairs["pair accuracy"].is_monotonic_increasing
    # one pair by hand: electronic and rock files, right when p(own) > p(the other of the pair)
    e, r = genres.index("electronic"), genres.index("rock")
    hits = [f["rnn_file"][e] > f["rnn_file"][r] if f["true"] == "electronic" else f["rnn_file"][r] > f["rnn_file"][e]
            for f in result["files"] if f["true"] in ("electronic", "rock")]
    row = pairs.set_index("pair").loc["electronic / rock"]
    assert row["files"] == len(hits) and row["pair accuracy"] == pytest.approx(np.mean(hits))
    confusion = np.array(pooled["confusion"])
    assert row["first called second"] == confusion[e, r] and row["second called first"] == confusion[r, e]
    # the combined verdict, recomputed by hand from the stored RNN and baseline probabilities
    y = np.array([genres.index(f["true"]) for f in result["files"]])
    fold_of = np.array([f["fold"] for f in result["files"]])
    rnn = np.log(np.clip([f["rnn_file"] for f in result["files"]], 1e-7, 1))
    base = np.log(np.clip([f["baseline_file"] for f in result["files"]], 1e-7, 1))
    predicted = (rnn + base).argmax(1)
    for fold in result["folds"]:
        mine = fold_of == fold["fold"]
        # stored probabilities are rounded to 4 decimals: a near tie may move, so within one file
        assert abs(np.mean(predicted[mine] == y[mine]) - fold["combined_file"]) <= 1 / mine.sum() + 1e-9
        for g, name in enumerate(genres):
            of_genre = mine & (y == g)
            recall = np.mean(predicted[of_genre] == g)
            assert abs(recall - fold["combined_file_recall"][name]) <= 1 / of_genre.sum() + 1e-9
