"""Run folders: saved and reloaded models predict the same; broken folders are named."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from genre_lib.inference import predict_proba
from genre_lib.runs import (
    BASELINE_FILE,
    FORMAT_VERSION,
    RUN_FILES,
    RunError,
    find_runs,
    iterations_table,
    load_run,
    read_run_meta,
    save_run,
)


def _copy(run_dir: Path, to: Path) -> Path:
    shutil.copytree(run_dir, to)
    return to


def _edit_meta(run_dir: Path, **changes) -> None:
    meta = json.loads((run_dir / "run.json").read_text())
    meta.update(changes)
    (run_dir / "run.json").write_text(json.dumps(meta))


def test_saved_and_reloaded_model_predicts_identically(demo_run, demo_data, tmp_path):
    out = save_run(tmp_path / "copy", demo_run.model, demo_run.meta, demo_run.history, demo_run.metrics)
    again = load_run(out)
    before = predict_proba(demo_run.model, demo_data.X)
    after = predict_proba(again.model, demo_data.X)
    assert np.array_equal(before, after)
    assert all(np.array_equal(a, b) for a, b in zip(demo_run.model.get_weights(), again.model.get_weights()))
    assert (again.genres, again.features, again.max_notes) == (demo_run.genres, demo_run.features, demo_run.max_notes)
    assert again.history == demo_run.history and again.metrics == demo_run.metrics
    # inference is deterministic: dropout and augmentation are off outside training
    assert np.array_equal(after, predict_proba(again.model, demo_data.X))


def test_save_run_refuses_to_overwrite_unless_asked(demo_run, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="run folder exists"):
        save_run(out, demo_run.model, demo_run.meta, demo_run.history, demo_run.metrics)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    save_run(out, demo_run.model, demo_run.meta, demo_run.history, demo_run.metrics, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(RUN_FILES)
    assert read_run_meta(out)["format_version"] == FORMAT_VERSION


def test_a_failed_save_leaves_nothing_behind(demo_run, tmp_path):
    class Unsavable:
        def save(self, path):
            Path(path).write_bytes(b"half a model")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_run(tmp_path / "run", Unsavable(), demo_run.meta, {}, {})
    assert list(tmp_path.iterdir()) == [], "no half-written run folder, no temporary folder"


def test_missing_folder(tmp_path):
    with pytest.raises(RunError, match="no such run folder"):
        load_run(tmp_path / "absent")


@pytest.mark.parametrize("missing", ["model.keras", "history.json", "metrics.json", "run.json"])
def test_incomplete_folder_names_the_missing_file(demo_run, tmp_path, missing):
    run_dir = _copy(demo_run.path, tmp_path / "run")
    (run_dir / missing).unlink()
    with pytest.raises(RunError, match=f"not a complete run folder \\(missing {missing}\\)"):
        load_run(run_dir)


@pytest.mark.parametrize("version", [0, 1, 3, None, "2"])
def test_other_format_version(demo_run, tmp_path, version):
    run_dir = _copy(demo_run.path, tmp_path / "run")
    _edit_meta(run_dir, format_version=version)
    with pytest.raises(RunError, match=f"run format version {version!r}, this genre_lib reads version 2"):
        load_run(run_dir)


def test_damaged_model_file(demo_run, tmp_path):
    run_dir = _copy(demo_run.path, tmp_path / "run")
    data = (run_dir / "model.keras").read_bytes()
    (run_dir / "model.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(RunError, match="model.keras: cannot load the model"):
        load_run(run_dir)
    (run_dir / "model.keras").write_text("not a zip file")
    with pytest.raises(RunError, match="model.keras: cannot load the model"):
        load_run(run_dir)


def test_unreadable_or_incomplete_run_json(demo_run, tmp_path):
    run_dir = _copy(demo_run.path, tmp_path / "run")
    (run_dir / "run.json").write_text("{ not json")
    with pytest.raises(RunError, match="run.json: unreadable"):
        load_run(run_dir)
    run_dir = _copy(demo_run.path, tmp_path / "run2")
    meta = json.loads((run_dir / "run.json").read_text())
    del meta["genres"]
    (run_dir / "run.json").write_text(json.dumps(meta))
    with pytest.raises(RunError, match="missing 'genres'"):
        load_run(run_dir)


def test_model_that_disagrees_with_run_json(demo_run, tmp_path):
    run_dir = _copy(demo_run.path, tmp_path / "run")
    _edit_meta(run_dir, genres=["electronic", "jazz", "polka"])
    with pytest.raises(RunError, match="disagrees with run.json"):
        load_run(run_dir)
    run_dir = _copy(demo_run.path, tmp_path / "run2")
    _edit_meta(run_dir, max_notes=50)
    with pytest.raises(RunError, match="disagrees with run.json"):
        load_run(run_dir)


def test_find_runs_nested_sorted_without_temporary_folders(demo_run, tmp_path):
    root = tmp_path / "runs"
    _copy(demo_run.path, root / "b")
    _copy(demo_run.path, root / "a" / "seed0")
    _copy(demo_run.path, root / ".b.tmp123")  # a save in progress
    (root / "empty").mkdir()
    assert find_runs(root) == [root / "a" / "seed0", root / "b"]
    with pytest.raises(RunError, match="no such folder"):
        find_runs(tmp_path / "absent")


def test_iterations_table_lists_every_run_and_a_damaged_one_with_its_note(demo_run, tmp_path):
    root = tmp_path / "runs"
    _copy(demo_run.path, root / "1-tiny")
    damaged = _copy(demo_run.path, root / "2-damaged")
    (damaged / "metrics.json").unlink()
    old = _copy(demo_run.path, root / "3-old")
    _edit_meta(old, format_version=0)
    table = iterations_table(root)
    assert table["run"].tolist() == ["1-tiny", "2-damaged", "3-old"]
    good = table.iloc[0]
    cfg = demo_run.meta["config"]
    assert (good["model"], good["nodes"], good["layers"]) == ("GRU", cfg["units"], cfg["layers"])
    assert good["dense"] == f"{cfg['dense_layers']}x{cfg['dense_units']}"
    assert good["additions"] == "families, summary, augment"
    assert (good["inputs"], good["windows"], good["trained"]) == ("all", cfg["windows"], demo_run.meta["trained_on"])
    assert good["epochs"] == f"{len(demo_run.history['loss'])}/{cfg['epochs']}"
    protocols = demo_run.metrics["rnn"]["protocols"]
    assert good["accuracy"] == demo_run.metrics["rnn"]["accuracy"] == protocols["file"]["accuracy"]
    assert good["loss"] == protocols["file"]["loss"]
    assert good["first100 accuracy"] == protocols["first100"]["accuracy"]
    assert good["first100 loss"] == protocols["first100"]["loss"]
    base = demo_run.metrics["baseline"]["protocols"]
    assert good["baseline accuracy"] == base["file"]["accuracy"]
    assert good["baseline first100"] == base["first100"]["accuracy"]
    both = demo_run.metrics["combined"]["protocols"]
    assert good["combined accuracy"] == both["file"]["accuracy"]
    assert good["combined first100"] == both["first100"]["accuracy"]
    probes = {(r["probe"], r["protocol"]): r["effect"] for r in demo_run.metrics["probes"]}
    assert good["order effect"] == probes["shuffle", "file"]
    assert good["order effect first100"] == probes["shuffle", "first100"]
    columns = {p: e for (p, q), e in probes.items() if q == "file" and p not in ("shuffle", "reverse")}
    assert good["top attribute"] == max(columns, key=columns.get)
    assert (good["split"], good["test files"], good["seed"]) == ("group", demo_run.meta["split"]["n_test"], 0)
    assert good["note"] == ""
    assert "missing metrics.json" in table.iloc[1]["note"] and np.isnan(table.iloc[1]["accuracy"])
    assert "format version 0" in table.iloc[2]["note"]


def test_run_config_property(demo_run):
    from genre_lib.configs import ModelConfig

    assert demo_run.config == ModelConfig.from_dict(demo_run.meta["config"])


def test_best_by_validation_prefers_accuracy_then_loss(demo_run, tmp_path):
    import json
    import shutil

    from genre_lib.runs import best_by_validation

    for name, acc, loss in (("a", 0.9, 0.1), ("b", 1.0, 0.3), ("c", 1.0, 0.2)):
        shutil.copytree(demo_run.path, tmp_path / name)
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        metrics["val"].update(accuracy=acc, loss=loss)
        (tmp_path / name / "metrics.json").write_text(json.dumps(metrics))
    assert best_by_validation(tmp_path) == tmp_path / "c"
    assert best_by_validation(tmp_path / "a") == tmp_path / "a"
    (tmp_path / "empty").mkdir()
    assert best_by_validation(tmp_path / "empty") is None


def test_held_out_finds_the_runs_test_files_among_a_folders_paths(demo_run, demo_data):
    test = demo_run.held_out(demo_data.paths)
    assert [demo_data.paths[i] for i in test] == sorted(demo_run.meta["split"]["test_files"], key=demo_data.paths.index)
    assert len(test) == demo_run.meta["split"]["n_test"] and np.all(np.diff(test) > 0)
    assert len(demo_run.held_out(["no/such.mid"])) == 0


def test_a_run_without_a_usable_baseline_still_loads_and_says_why(demo_run, tmp_path, demo_data):
    tables = demo_data.tables([0, 1])
    # missing: an older run folder
    run_dir = _copy(demo_run.path, tmp_path / "none")
    (run_dir / BASELINE_FILE).unlink()
    run = load_run(run_dir)
    assert run.baselines is None and f"{run_dir / BASELINE_FILE}: no baseline" in run.baseline_problem
    assert [v.name for v in run.verdicts("file")] == ["rnn"]
    np.testing.assert_array_equal(run.verdict("rnn", "file").predict_proba(tables),
                                  demo_run.verdict("rnn", "file").predict_proba(tables))
    with pytest.raises(ValueError, match="no combined verdict: .*no baseline in this run folder"):
        run.verdict("combined", "file")
    # written by another scikit-learn: not used
    import zipfile

    import skops.io as sio

    run_dir = _copy(demo_run.path, tmp_path / "other")
    stored = sio.load(run_dir / BASELINE_FILE, trusted=sio.get_untrusted_types(file=run_dir / BASELINE_FILE))
    sio.dump({**stored, "sklearn": "0.1"}, run_dir / BASELINE_FILE, compression=zipfile.ZIP_DEFLATED)
    run = load_run(run_dir)
    assert run.baselines is None and "written by scikit-learn 0.1" in run.baseline_problem
    assert "retrain" in run.baseline_problem
    # damaged
    run_dir = _copy(demo_run.path, tmp_path / "damaged")
    (run_dir / BASELINE_FILE).write_bytes(b"not a zip file")
    run = load_run(run_dir)
    assert run.baselines is None and f"{run_dir / BASELINE_FILE}: cannot read the baseline" in run.baseline_problem


class _Runs:
    """Not a type a baseline holds: loading it would mean running this module's code."""


def test_a_baseline_file_holding_another_type_is_refused_not_run(demo_run, tmp_path):
    import zipfile

    import skops.io as sio

    run_dir = _copy(demo_run.path, tmp_path / "foreign")
    sio.dump({"sklearn": "1", "baselines": {"file": _Runs()}}, run_dir / BASELINE_FILE, compression=zipfile.ZIP_DEFLATED)
    run = load_run(run_dir)
    assert run.baselines is None and "holds types a baseline never has (tests.test_runs._Runs)" in run.baseline_problem


def test_files_to_judge_are_all_or_the_held_out_ones_sampled_by_seed(demo_run, demo_data):
    held = demo_run.held_out(demo_data.paths)
    np.testing.assert_array_equal(demo_run.files_to_judge(demo_data.paths), np.arange(len(demo_data)))
    np.testing.assert_array_equal(demo_run.files_to_judge(demo_data.paths, "test"), held)
    some = demo_run.files_to_judge(demo_data.paths, "test", max_files=7, seed=3)
    assert len(some) == 7 and set(some) <= set(held) and np.all(np.diff(some) > 0)
    np.testing.assert_array_equal(some, demo_run.files_to_judge(demo_data.paths, "test", max_files=7, seed=3))
    assert not np.array_equal(some, demo_run.files_to_judge(demo_data.paths, "test", max_files=7, seed=4))
    with pytest.raises(ValueError, match="none of the run's .* held-out test files is here"):
        demo_run.files_to_judge(["no/such.mid"], "test")
    with pytest.raises(ValueError, match="unknown split 'train'"):
        demo_run.files_to_judge(demo_data.paths, "train")
