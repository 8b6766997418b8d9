"""More genres end to end on real files: nothing in training, evaluation, the baseline,
saliency, flips or the command line may assume two genres, for three (jazz, electronic,
rock) and four (with country).

For each list of genres, a seeded sample of 30 files per genre of ``../shared/midi``,
linked into a temporary folder, and a tiny model trained on it for real: accuracy is not
the point here (the README's figures come from cross-validation), the shapes, names and
bookkeeping of three and four classes are. The committed cross-validations are then
recomputed from their stored per-file probabilities.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import PROJECT, SHARED_MIDI, TINY_CONFIG, needs_shared

THREE = ("jazz", "electronic", "rock")
FOUR = ("jazz", "electronic", "rock", "country")
PER_GENRE = 30

#: the committed model and cross-validation of each list of genres
COMMITTED = {THREE: ("jazz-electronic-rock", "cv-jazz-electronic-rock.json"), FOUR: ("four-genres", "cv-four-genres.json")}


@pytest.fixture(scope="module", params=[THREE, FOUR], ids=["three", "four"])
def genres(request):
    return request.param


@pytest.fixture(scope="module")
def sample_dir(genres, tmp_path_factory):
    """A folder of symbolic links to a seeded sample of real files of each genre."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp(f"genres{len(genres)}") / "midi"
    for genre in genres:
        files = sorted((SHARED_MIDI / genre).glob("*.mid"))
        (root / genre).mkdir(parents=True)
        for f in rng.permutation(files)[:PER_GENRE]:
            (root / genre / f.name).symlink_to(f)
    return root


@pytest.fixture(scope="module")
def sample_run(genres, sample_dir, tmp_path_factory):
    from genre_lib.configs import ModelConfig
    from genre_lib.train import train_run

    out = tmp_path_factory.mktemp("runs") / f"genres{len(genres)}"
    return train_run(sample_dir, out, genres=list(genres), config=ModelConfig(**TINY_CONFIG, windows=2), seed=0)


@needs_shared
@pytest.mark.slow
@pytest.mark.real_data
def test_run_knows_its_genres_and_scores_both_protocols(genres, sample_run):
    k = len(genres)
    # the genres are kept in sorted order, whatever order they were asked for in
    assert tuple(sample_run.genres) == tuple(sorted(genres))
    assert sample_run.model.output_shape[-1] == k
    metrics = json.loads((sample_run.path / "metrics.json").read_text())
    for who in ("rnn", "baseline", "combined"):
        for protocol in ("first100", "file"):
            m = metrics[who]["protocols"][protocol]
            assert set(m["per_genre"]) == set(genres)
            confusion = np.array(m["confusion"])
            assert confusion.shape == (k, k) and confusion.sum() == m["n"]
            # accuracy and every recall recompute from the confusion matrix
            assert m["accuracy"] == pytest.approx(np.trace(confusion) / confusion.sum())
            for g, name in enumerate(sorted(genres)):
                assert m["per_genre"][name]["recall"] == pytest.approx(confusion[g, g] / confusion[g].sum())


@needs_shared
@pytest.mark.slow
@pytest.mark.real_data
def test_evaluate_command_reports_every_genre(genres, sample_run, sample_dir, capsys):
    from genre_lib.cli import main

    k = len(genres)
    assert main(["evaluate", str(sample_run.path), str(sample_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["protocols"]) == {"first100", "file"}
    assert np.array(out["protocols"]["first100"]["confusion"]).shape == (k, k)
    assert np.array(out["combined"]["protocols"]["file"]["confusion"]).shape == (k, k)


@needs_shared
@pytest.mark.slow
@pytest.mark.real_data
def test_saliency_map_per_target_genre_differs(genres, sample_run, sample_dir):
    from genre_lib.dataset import load_file
    from genre_lib.saliency import Gradient

    k = len(genres)
    table = load_file(sorted((sample_dir / genres[-1]).glob("*.mid"))[0])
    maps = [Gradient(sample_run.model).explain(table, target=t) for t in range(k)]
    # the explained output is the target's logit minus the mean of the others'
    assert maps[0].to_dict(sample_run.genres)["explained"].endswith(f"({', '.join(sample_run.genres[1:])})")
    assert [m.target for m in maps] == list(range(k))
    assert all(m.values.shape == table.shape for m in maps)
    # the notes that argue for one genre are not those that argue for another
    assert not any(np.allclose(maps[a].values, maps[b].values) for a in range(k) for b in range(a + 1, k))


@needs_shared
@pytest.mark.slow
@pytest.mark.real_data
def test_flip_to_each_other_genre_is_checked_after_the_round_trip(genres, sample_run, sample_dir):
    from genre_lib.changes import SCALES
    from genre_lib.dataset import load_file
    from genre_lib.flip import flip_summary, optimize_delta
    from genre_lib.inference import predict_proba
    from genre_lib.midi_io import FEATURES

    table = load_file(sorted((sample_dir / "electronic").glob("*.mid"))[0])
    names = tuple(sample_run.genres)
    targets = [t for t, g in enumerate(names) if g != "electronic"]
    assert len(targets) == len(genres) - 1
    results = [optimize_delta(sample_run.verdict("rnn", "first100"), table, t) for t in targets]
    for t, r in zip(targets, results):
        assert r.target == t and r.genre_names[r.target] == names[t]
        if r.flipped:
            # flipped means the file read back is the target: recompute it independently
            assert int(np.argmax(predict_proba(sample_run.model, r.reparsed)[0])) == t
    # the summary of the flips, against a direct computation
    summary = flip_summary(results)
    assert summary["n"] == len(targets)
    assert summary["flipped"] == pytest.approx(np.mean([r.flipped for r in results]))
    assert summary["median_notes_changed"] == np.median([r.notes_changed for r in results])
    moved = sum(np.abs((r.modified.astype(float) - r.base) / [SCALES[f] for f in FEATURES]).sum(0) for r in results)
    assert list(summary["share_of_change"]) == list(FEATURES)
    np.testing.assert_allclose(list(summary["share_of_change"].values()), moved / moved.sum(), atol=1e-3)


def test_committed_cross_validation_pairs_recall_and_combined_recompute(genres):
    """A committed CV (results/, no data needed): its pooled confusion, pair accuracies, errors by
    direction and per-genre recall recomputed from the stored per-file probabilities and
    per-fold rows, for the RNN, the baseline and the combined verdict."""
    from genre_lib.crossval import errors_by_direction, file_probabilities, load_cv, pairwise_accuracy, recall_summary
    from genre_lib.runs import read_run_meta

    k = len(genres)
    model_dir, cv_file = COMMITTED[genres]
    result = load_cv(PROJECT / "results" / cv_file)
    names = result["data"]["genres"]
    assert sorted(names) == sorted(genres) and len(result["files"]) == result["data"]["files"]
    assert all(len(f["probabilities"]["rnn"]["file"]) == k and len(f["probabilities"]["baseline"]["file"]) == k for f in result["files"])
    assert result["recall"] == recall_summary(result["folds"])
    # the committed model was trained on the group split with seed 0: its test files are fold 0
    held_out = set(read_run_meta(PROJECT / "models" / model_dir)["split"]["test_files"])
    assert held_out == {f["path"] for f in result["files"] if f["fold"] == 0}

    y = np.array([names.index(f["true"]) for f in result["files"]])
    for who in ("rnn", "baseline"):
        predicted = file_probabilities(result, "file", who).argmax(1)
        per_fold = np.mean([r["accuracy"][who]["file"] for r in result["folds"]])
        # pooled and per-fold mean accuracies differ only by the folds' sizes
        assert abs(np.mean(predicted == y) - per_fold) < 0.01
        confusion = np.zeros((k, k), dtype=int)
        np.add.at(confusion, (y, predicted), 1)
        pairs = pairwise_accuracy(result, "file", who)
        assert len(pairs) == k * (k - 1) // 2 and pairs["pair accuracy"].is_monotonic_increasing
        # one pair by hand, the last two genres asked for (rock / electronic, country / rock):
        # right when p(own) > p(the other of the pair)
        a, b = sorted(genres[-2:], key=names.index)
        ia, ib = names.index(a), names.index(b)
        probs = np.array([f["probabilities"][who]["file"] for f in result["files"]])
        mine = (y == ia) | (y == ib)
        hits = np.where(y[mine] == ia, probs[mine, ia] > probs[mine, ib], probs[mine, ib] > probs[mine, ia])
        row = pairs.set_index("pair").loc[f"{a} / {b}"]
        assert row["files"] == mine.sum() and row["pair accuracy"] == pytest.approx(hits.mean())
        assert row["first called second"] == confusion[ia, ib] and row["second called first"] == confusion[ib, ia]
        # every error in one direction is one group's: the groups add up to the confusion's off-diagonal cells
        directions = errors_by_direction(result, "file", who).groupby(["true", "predicted"])["wrong"].sum()
        off = {(names[i], names[j]): int(confusion[i, j]) for i in range(k) for j in range(k) if i != j and confusion[i, j]}
        assert directions.to_dict() == off
    # the combined verdict, recomputed by hand from the stored RNN and baseline probabilities
    fold_of = np.array([f["fold"] for f in result["files"]])
    rnn = np.log(np.clip([f["probabilities"]["rnn"]["file"] for f in result["files"]], 1e-7, 1))
    base = np.log(np.clip([f["probabilities"]["baseline"]["file"] for f in result["files"]], 1e-7, 1))
    predicted = (rnn + base).argmax(1)
    for fold in result["folds"]:
        mine = fold_of == fold["fold"]
        # stored probabilities are rounded to 4 decimals: a near tie may move, so within one file
        assert abs(np.mean(predicted[mine] == y[mine]) - fold["accuracy"]["combined"]["file"]) <= 1 / mine.sum() + 1e-9
        for g, name in enumerate(names):
            of_genre = mine & (y == g)
            recall = np.mean(predicted[of_genre] == g)
            assert abs(recall - fold["recall"]["combined"]["file"][name]) <= 1 / of_genre.sum() + 1e-9
