"""bench_flip --judges --reuse: which rows of an earlier run are kept, and when it refuses."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from genre_lib.paths import PROJECT

from .conftest import SHARED_MIDI, needs_shared

sys.path.insert(0, str(PROJECT / "benchmarks"))
import bench_flip as B  # noqa: E402


def earlier(tmp_path: Path, settings: dict, files=("jazz/a.mid", "electronic/b.mid"), seed: int = 0) -> Path:
    """An earlier --judges JSON: its settings block and one row per file and setting."""
    path = tmp_path / "earlier.json"
    path.write_text(json.dumps({
        "run": "jazz-electronic", "files": len(files), "sample_seed": seed, "settings": settings,
        "rows": [{"file": f, "setting": s, "flipped": True} for f in files for s in settings],
    }))
    return path


def args_for(path: Path, seed: int = 0) -> argparse.Namespace:
    return argparse.Namespace(reuse=path, run=Path("models/jazz-electronic"), seed=seed)


def test_rows_of_settings_run_as_defined_are_reused_and_changed_ones_are_not(tmp_path):
    changed = B._setting_record("default-margin1")
    changed["params"] = {**changed["params"], "margin": 0.5}  # run with another margin than SETTINGS says
    old = earlier(tmp_path, {"default": B._setting_record("default"), "default-margin1": changed})
    rows = B.reusable_rows(args_for(old), ["default", "default-margin1", "default-margin2"], 2)
    assert set(rows) == {("jazz/a.mid", "default"), ("electronic/b.mid", "default")}
    assert all(r["setting"] == "default" for r in rows.values())


def test_a_run_of_another_sample_is_refused(tmp_path):
    old = earlier(tmp_path, {"default": B._setting_record("default")}, seed=1)
    with pytest.raises(SystemExit, match="made for run, files, seed"):
        B.reusable_rows(args_for(old, seed=0), ["default"], 2)
    with pytest.raises(SystemExit, match="cannot be read"):
        B.reusable_rows(args_for(tmp_path / "missing.json"), ["default"], 2)


def test_every_setting_is_measured_by_default_and_the_margins_are_as_named():
    assert B.JUDGES_DEFAULT == tuple(B.SETTINGS)
    for name, spec in B.SETTINGS.items():
        margin = spec["params"].get("margin")
        assert (margin is None) == ("margin" not in name)
        if margin is not None:
            assert name.endswith(f"margin{margin:g}")


@needs_shared
@pytest.mark.slow
@pytest.mark.real_data
def test_judges_on_a_folder_the_run_never_saw_flips_its_files(tmp_path, capsys):
    """A reviewer's folder of other artists' files: every file is held out, and the summary
    is the one the committed JSON holds, computed on them."""
    import shutil

    from genre_lib.runs import load_run

    run = load_run(PROJECT / "models" / "jazz-electronic")
    # two held-out test files stand for a reviewer's unseen ones (the run never trained on them)
    for rel in (next(p for p in run.meta["split"]["test_files"] if p.startswith(g)) for g in ("jazz/", "electronic/")):
        (tmp_path / "unseen" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHARED_MIDI / rel, tmp_path / "unseen" / rel)
    out = tmp_path / "judges.json"
    args = argparse.Namespace(run=run.path, data=tmp_path / "unseen", n=0, seed=0, settings=["default"], reuse=None,
                              json=out, ear=None)
    B.judges_main(args)
    result = json.loads(out.read_text())
    assert result["unseen_folder"] is True and result["files"] == 2 and result["n_test"] == 2
    assert {r["file"] for r in result["rows"]} == {p.relative_to(tmp_path / "unseen").as_posix()
                                                   for p in (tmp_path / "unseen").rglob("*.mid")}
    assert result["summary"]["default"]["n"] == 2
    assert "none seen in training" in capsys.readouterr().out
