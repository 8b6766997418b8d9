"""The study's iterations and ours, quick mode, and where the series keeps its runs."""

import json
import shutil

import pytest

from genre_lib import paths
from genre_lib.data_source import resolve_data_dir
from genre_lib.midi_io import FEATURES, write_midi
from genre_lib.runs import RunError
from genre_lib.configs import (FEW_ITERATIONS, ITERATIONS, MAIN_CONFIG, MAIN_ITERATION, ORDER_CONFIG, ORDER_ITERATION,
                               STUDY_COLUMNS, STUDY_REPORTED, demo_config, notebook_config, notebook_iterations,
                               quick_config)
from genre_lib.locations import REAL_RUN_DIR, committed_run, ensure_run, iterations_dir, runs_dir, study_run, study_run_dir
from genre_lib.paths import PROJECT as PROJECT_DIR

from .conftest import SHARED_MIDI, _table, needs_shared


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


def test_the_demo_trains_less_than_quick_mode_and_only_on_the_demo_corpus(demo_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("GENRE_DATA", raising=False)
    for config in ITERATIONS.values():
        d, q = demo_config(config), quick_config(config)
        assert 1 <= d.epochs <= q.epochs and 1 <= d.windows <= q.windows and d.patience == q.patience
        assert d.replace(epochs=q.epochs, windows=q.windows) == q  # nothing else changes
    assert demo_config(MAIN_CONFIG).epochs < quick_config(MAIN_CONFIG).epochs
    demo = resolve_data_dir(demo_dir)
    own = tmp_path / "midi"
    for g, genre in enumerate(("jazz", "electronic")):
        write_midi(_table(120, seed=g), own / genre / f"tune_{g}_ab.mid")
    other = resolve_data_dir(own)
    assert demo.is_demo and not other.is_demo
    assert notebook_config(MAIN_CONFIG, demo) == notebook_config(MAIN_CONFIG, demo, quick=True) == demo_config(MAIN_CONFIG)
    assert notebook_config(MAIN_CONFIG, other, quick=True) == quick_config(MAIN_CONFIG)
    assert notebook_config(MAIN_CONFIG, other) == MAIN_CONFIG
    # the demo and quick mode train a few iterations, in the order tried, among them the model 04 and
    # 05 explain and every row notebook 03's cells name on any data (the study's first, 4-windows)
    assert list(notebook_iterations(demo)) == [n for n in ITERATIONS if n in FEW_ITERATIONS]
    assert {"study-1-50x1", "4-windows", MAIN_ITERATION} <= set(FEW_ITERATIONS) < set(ITERATIONS)
    assert notebook_iterations(demo)[MAIN_ITERATION] == demo_config(MAIN_CONFIG)
    few = [n for n in ITERATIONS if n in FEW_ITERATIONS]
    assert notebook_iterations(other, quick=True) == {n: quick_config(ITERATIONS[n]) for n in few}
    assert notebook_iterations(other) == ITERATIONS


def test_ensure_run_loads_an_existing_run_without_training(demo_run, tmp_path):
    run = ensure_run(demo_run.path, data=None)  # no data: training would fail
    assert run.meta == demo_run.meta
    damaged = tmp_path / "damaged"
    shutil.copytree(demo_run.path, damaged)
    meta = json.loads((damaged / "run.json").read_text())
    (damaged / "run.json").write_text(json.dumps({**meta, "format_version": 0}))
    with pytest.raises(RunError, match="format version 0"):
        ensure_run(damaged, data=None)  # not silently retrained
    # a run of another configuration is not taken for this one, nor retrained over
    other = demo_run.config.replace(epochs=demo_run.config.epochs + 1)
    with pytest.raises(RunError, match=r"another configuration \(epochs differ\)"):
        ensure_run(demo_run.path, data=None, config=other)
    assert ensure_run(demo_run.path, data=None, config=demo_run.config).meta == demo_run.meta


def test_the_runs_of_the_demo_corpus_are_notebook_03s_demo_runs(demo_dir, demo_run, monkeypatch):
    monkeypatch.delenv("GENRE_DATA", raising=False)
    for source in (resolve_data_dir(demo_dir), resolve_data_dir(real_dir=demo_dir.parent / "no-real")):
        assert source.is_demo
        # their own folder: the demo's settings are not quick mode's
        assert iterations_dir(source, quick=True) == paths.RUNS_DIR / "demo" / "iterations-demo"
        assert study_run_dir(source, quick=True) == paths.RUNS_DIR / "demo" / "iterations-demo" / f"{MAIN_ITERATION}-seed0"


def test_on_a_folder_of_ones_own_the_explained_model_is_notebook_03s_run_on_it(tmp_path, demo_run, monkeypatch):
    monkeypatch.setattr("genre_lib.locations.RUNS_DIR", tmp_path / "runs")  # not the project's runs/
    own = tmp_path / "midi"  # named like the real collection's folder, and still not it
    for g, genre in enumerate(("jazz", "electronic")):
        write_midi(_table(120, seed=g), own / genre / f"tune_{g}_ab.mid")
    source = resolve_data_dir(own)
    assert not source.is_real and not source.is_demo and committed_run(source, ["jazz", "electronic"]) is None
    assert runs_dir(source).parent == tmp_path / "runs" and runs_dir(source).name.startswith("midi-")
    folder = study_run_dir(source, quick=False)
    assert folder == runs_dir(source) / "iterations" / f"{MAIN_ITERATION}-seed0"
    # a run of another configuration in its place is refused, not loaded or retrained over
    shutil.copytree(demo_run.path, folder)
    with pytest.raises(RunError, match="trained with another configuration"):
        study_run(source)
    # study_run loads notebook 03's run when it is there (here: the demo run, labelled as MAIN_CONFIG's)
    meta = json.loads((folder / "run.json").read_text())
    (folder / "run.json").write_text(json.dumps({**meta, "config": MAIN_CONFIG.to_dict()}))
    assert study_run(source).meta["split"] == demo_run.meta["split"]


@needs_shared
@pytest.mark.real_data
def test_on_the_real_collection_the_explained_model_is_the_committed_one():
    source = resolve_data_dir(SHARED_MIDI)
    assert study_run_dir(source, quick=True) == study_run_dir(source) == REAL_RUN_DIR == paths.MODELS_DIR / "jazz-electronic"
    assert iterations_dir(source) == paths.RUNS_DIR / "midi" / "iterations"


def test_describe_run_names_the_folder_the_configuration_and_both_accuracies(tmp_path):
    from genre_lib.runs import Run
    from genre_lib.locations import describe_run

    metrics = {"rnn": {"protocols": {"first100": {"accuracy": 0.7681, "n": 203}, "file": {"accuracy": 0.8123, "n": 203}}}}

    def run(path, config):
        return Run(path, None, ("electronic", "jazz"), FEATURES, 100,
                   {"config": config.to_dict(), "file_windows": 16}, {}, metrics)

    text = describe_run(run(paths.MODELS_DIR / "jazz-electronic", MAIN_CONFIG))
    assert text == ("The model: `models/jazz-electronic`, configuration `MAIN_CONFIG` (iteration `8-augment`); accuracy on "
                    "its 203 held-out test files: 0.768 on the first 100 notes and 0.812 by the vote of 16 windows.")
    assert "in quick mode" in describe_run(run(paths.RUNS_DIR / "demo" / "iterations-quick" / "8-augment-seed0",
                                               quick_config(MAIN_CONFIG)))
    assert "the demo corpus's settings" in describe_run(run(paths.RUNS_DIR / "demo" / "iterations-demo" / "8-augment-seed0",
                                                          demo_config(MAIN_CONFIG)))
    other = describe_run(run(tmp_path / "mine", MAIN_CONFIG.replace(epochs=4)))
    assert "`mine`" in other and "changed in epochs" in other and str(tmp_path) not in other


def test_the_committed_order_model_is_the_order_configuration():
    from genre_lib.runs import load_run
    from genre_lib.locations import describe_run

    run = load_run(PROJECT_DIR / "models" / "jazz-electronic-order")
    assert run.config == ORDER_CONFIG and run.genres == ("electronic", "jazz")
    assert {"part_intervals", "conv", "note_summary"} <= {layer.name for layer in run.model.layers}
    assert describe_run(run).startswith("The model: `models/jazz-electronic-order`, configuration `ORDER_CONFIG`")


def test_explained_files_are_a_few_held_out_files_per_genre_on_the_demo(demo_run, demo_data, demo_dir):
    from genre_lib.locations import CHECKED_PER_GENRE, explained_files

    source = resolve_data_dir(demo_dir)
    files = explained_files(demo_run, demo_data, source)
    held_out = set(demo_run.held_out(demo_data.paths).tolist())
    assert set(files.tolist()) <= held_out
    for g in range(len(demo_data.genres)):
        of_genre = [i for i in sorted(held_out) if demo_data.y[i] == g]
        # the first of each genre in the order of the data, as many as the demo allows
        assert [i for i in files if demo_data.y[i] == g] == of_genre[: CHECKED_PER_GENRE["demo"]]


@pytest.mark.slow
def test_notebook_checks_are_check_methods_once_then_read_by_the_other_notebook(demo_run, demo_data, demo_dir,
                                                                                tmp_path, monkeypatch):
    import numpy as np

    from genre_lib import saliency as S
    from genre_lib import cache, locations
    from genre_lib.saliency_checks import check_methods

    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "cache"))
    source = resolve_data_dir(demo_dir)
    first, said = cache.notebook_checks(demo_run, demo_data, source)
    k = locations.CHECKED_PER_GENRE["demo"]
    assert said.startswith(f"check_methods on {first.n} held-out files, the first {k} of each genre")
    assert "the demo corpus" in said and first.n == len(locations.explained_files(demo_run, demo_data, source)) and "without flips" in said
    # the independent computation: the same function called by hand on the files and baseline the notebooks use
    files = locations.explained_files(demo_run, demo_data, source)
    seen = np.setdiff1d(np.arange(len(demo_data)), demo_run.held_out(demo_data.paths))
    # (IG, the method that takes the baseline, and the plain gradient: each method is checked on its own)
    direct = check_methods(demo_run.model, demo_data.X[files], demo_data.y[files], methods=("gradient", "ig"),
                           ig_baseline=S.mean_baseline(demo_data.X[seen], demo_data.y[seen]), flips=False, seed=0)
    for d in direct.methods:  # the notebooks show it as stored: to 6 digits
        m = first.method(d.method)
        assert np.allclose(m.auc, d.auc, rtol=0, atol=5e-7)
        assert m.deletion["position"].difference == pytest.approx(d.deletion["position"].difference, abs=1e-6)
        assert m.randomization_mean == pytest.approx(d.randomization_mean, abs=1e-4)
    # the other notebook reads what the first left instead of computing again (no model is needed to read it)
    import genre_lib.saliency_checks as checks_module

    monkeypatch.setattr(checks_module, "check_methods", lambda *a, **k: pytest.fail("computed a second time"))
    second, said_again = cache.notebook_checks(demo_run, demo_data, source)
    assert said_again == said and second.files == first.files
    assert [m.auc.tolist() for m in second.methods] == [m.auc.tolist() for m in first.methods]
