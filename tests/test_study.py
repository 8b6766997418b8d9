"""The study's iterations and ours, quick mode, and where the series keeps its runs."""

import json
import shutil

import pytest

from genre_lib.midi_io import FEATURES
from genre_lib.runs import RunError
from genre_lib.study import (
    DEMO_RUNS_DIR,
    ITERATIONS,
    MAIN_CONFIG,
    MAIN_ITERATION,
    ORDER_CONFIG,
    ORDER_ITERATION,
    PROJECT_DIR,
    STUDY_COLUMNS,
    STUDY_REPORTED,
    ensure_run,
    quick_config,
    study_runs_dir,
)


def test_the_study_rows_are_the_studys_nodes_layers_and_epochs_on_its_input():
    rows = {name: ITERATIONS[name] for name in STUDY_REPORTED}
    assert [(c.units, c.dense_layers, c.epochs) for c in rows.values()] == [(50, 1, 100), (56, 2, 200), (168, 2, 200)]
    assert STUDY_REPORTED == {"study-1-50x1": 0.7599, "study-2-56x2": 0.8349, "study-3-168x2": 0.9417}
    for config in rows.values():
        assert config.columns == STUDY_COLUMNS == ("pitch", "step", "duration")
        assert config.windows == 1, "the study read each file's first 100 notes"
        assert not (config.families or config.summary or config.augment or config.pitch_classes)


def test_our_rows_add_one_idea_at_a_time():
    names = list(ITERATIONS)
    main = names.index(MAIN_ITERATION)
    assert names[:3] == list(STUDY_REPORTED) and MAIN_CONFIG is ITERATIONS[MAIN_ITERATION]
    assert names[main + 1:] == [ORDER_ITERATION], "after the committed configuration, only the order model"
    ours = [ITERATIONS[n] for n in names[3:main + 1]]
    assert ours[0].windows > 1 and ours[0].columns == STUDY_COLUMNS
    for before, after in zip(ours, ours[1:]):
        changed = {k for k, v in before.to_dict().items() if after.to_dict()[k] != v}
        # one idea: the columns, the category one-hots (together), the summary, or augmentation
        assert changed in ({"columns"}, {"families", "pitch_classes", "drum_sounds"}, {"summary"}, {"augment"}), changed
    assert ours[1].columns == FEATURES
    # the order model is the committed one with the order ideas added, nothing else
    changed = {k: v for k, v in ORDER_CONFIG.to_dict().items() if MAIN_CONFIG.to_dict()[k] != v}
    assert changed == {"intervals": True, "conv": 5}


def test_quick_mode_trains_for_real_but_briefly():
    q = quick_config(MAIN_CONFIG)
    assert 1 <= q.epochs <= 4 and q.windows <= 2
    assert q.replace(epochs=MAIN_CONFIG.epochs, windows=MAIN_CONFIG.windows, patience=MAIN_CONFIG.patience) == MAIN_CONFIG


def test_ensure_run_loads_an_existing_run_without_training(demo_run, tmp_path):
    run = ensure_run(demo_run.path, data=None)  # no data: training would fail
    assert run.meta == demo_run.meta
    damaged = tmp_path / "damaged"
    shutil.copytree(demo_run.path, damaged)
    meta = json.loads((damaged / "run.json").read_text())
    (damaged / "run.json").write_text(json.dumps({**meta, "format_version": 0}))
    with pytest.raises(RunError, match="format version 0"):
        ensure_run(damaged, data=None)  # not silently retrained


def test_study_runs_dir_names_the_data_folder(demo_dir, tmp_path):
    assert study_runs_dir(None) == study_runs_dir("") == study_runs_dir(demo_dir) == DEMO_RUNS_DIR
    assert study_runs_dir(tmp_path / "midi") == PROJECT_DIR / "runs" / "midi"


def test_describe_run_names_the_folder_the_configuration_and_both_accuracies(tmp_path):
    from genre_lib.runs import Run
    from genre_lib.study import describe_run

    metrics = {"test": {"protocols": {"first100": {"accuracy": 0.7681, "n": 203}, "file": {"accuracy": 0.8123, "n": 203}}}}

    def run(path, config):
        return Run(path, None, ("electronic", "jazz"), FEATURES, 100,
                   {"config": config.to_dict(), "file_windows": 16}, {}, metrics)

    text = describe_run(run(PROJECT_DIR / "models" / "jazz-electronic", MAIN_CONFIG))
    assert text == ("The model: `models/jazz-electronic`, configuration `MAIN_CONFIG` (iteration `8-augment`); accuracy on "
                    "its 203 held-out test files: 0.768 on the first 100 notes and 0.812 by the vote of 16 windows.")
    assert "in quick mode" in describe_run(run(DEMO_RUNS_DIR / "iterations-quick" / "8-augment-seed0", quick_config(MAIN_CONFIG)))
    other = describe_run(run(tmp_path / "mine", MAIN_CONFIG.replace(epochs=4)))
    assert "`mine`" in other and "changed in epochs" in other and str(tmp_path) not in other


def test_the_committed_order_model_is_the_order_configuration():
    from genre_lib.runs import load_run
    from genre_lib.study import ORDER_RUN_DIR, describe_run

    run = load_run(ORDER_RUN_DIR)
    assert run.config == ORDER_CONFIG and run.genres == ("electronic", "jazz")
    assert {"part_intervals", "conv", "note_summary"} <= {layer.name for layer in run.model.layers}
    assert describe_run(run).startswith("The model: `models/jazz-electronic-order`, configuration `ORDER_CONFIG`")
