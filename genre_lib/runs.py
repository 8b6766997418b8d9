"""Run folders: ``model.keras``, ``run.json`` (genres, input, settings, seed, split,
data, timing, machine), ``history.json``, ``metrics.json`` (every verdict's held-out
figures, validation, misclassified files, probes), optionally ``baseline.skops`` and
``plausibility.npz``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .paths import write_atomic

if TYPE_CHECKING:
    import numpy as np
    import pandas

    from .configs import ModelConfig
    from .splits import Split


#: bump when the run folder layout or the model's input contract changes
#: (2: both protocols in metrics.json, windows and new model settings)
FORMAT_VERSION = 2
RUN_FILES = ("model.keras", "run.json", "history.json", "metrics.json")
#: the optional file holding the run's baseline (see :func:`load_baselines`)
BASELINE_FILE = "baseline.skops"
#: the only types a baseline file may hold beyond what skops trusts by default
_TRUSTED_TYPES = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


class RunError(ValueError):
    """A run folder that cannot be used: missing, incomplete, or from another version."""


@dataclass
class Run:
    """A loaded run folder: ``path``, Keras ``model``, ``genres`` (output order), input
    ``features`` and ``max_notes``, ``meta`` (``run.json``), ``history``, ``metrics`` and the
    baseline classifier per protocol (None, ``baseline_problem`` saying why)."""

    path: Path
    model: object
    genres: tuple[str, ...]
    features: tuple[str, ...]
    max_notes: int
    meta: dict
    history: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    baselines: dict | None = None
    baseline_problem: str = ""

    def verdicts(self, protocol: str, file_windows: int | None = None) -> tuple:
        """The run's judges under ``protocol``: its RNN (a vote of ``file_windows``, default
        the run's) and, with a usable baseline, the baseline and the combined verdict."""
        from .verdicts import BaselineVerdict, Combined, RNNVerdict

        rnn = RNNVerdict(self.model, self.genres, protocol, int(file_windows or self.meta["file_windows"]))
        if self.baselines is None:
            return (rnn,)
        base = BaselineVerdict(self.genres, protocol, self.max_notes, model=self.baselines[protocol])
        return rnn, base, Combined(rnn, base)

    def verdict(self, name: str, protocol: str, file_windows: int | None = None):
        """One of :meth:`verdicts` by name (``"rnn"``, ``"baseline"``, ``"combined"``)."""
        from .verdicts import VERDICTS

        if name not in VERDICTS:
            raise ValueError(f"unknown verdict {name!r}: use one of {VERDICTS}")
        found = {v.name: v for v in self.verdicts(protocol, file_windows)}
        if name not in found:
            raise ValueError(f"no {name} verdict: {self.baseline_problem}")
        return found[name]

    def held_out(self, paths: list[str]) -> "np.ndarray":
        """Indices of the run's held-out test files among ``paths`` (relative to the data
        folder), in their order: the files to explain or flip without flattering."""
        import numpy as np

        test = set(self.meta["split"]["test_files"])
        return np.array([i for i, p in enumerate(paths) if p in test], dtype=int)

    def files_to_judge(self, paths: list[str], split: str = "all", max_files: int = 0, seed: int = 0) -> "np.ndarray":
        """Indices among ``paths`` of every file (``split="all"``) or of the held-out ones
        (``"test"``), a seeded sample of at most ``max_files`` (0: all), sorted."""
        import numpy as np

        if split not in ("all", "test"):
            raise ValueError(f"unknown split {split!r}: use 'all' or 'test'")
        index = np.arange(len(paths)) if split == "all" else self.held_out(paths)
        if not len(index):
            raise ValueError(f"none of the run's {len(self.meta['split']['test_files'])} held-out test files is here")
        if max_files and len(index) > max_files:
            index = np.sort(np.random.default_rng(seed).choice(index, max_files, replace=False))
        return index

    def split(self, data) -> "Split":
        """The run's train / validation / test split of a dataset of its data folder, recomputed
        and checked against its test files (RunError if it cannot be)."""
        from .splits import make_split

        split = self.meta["split"]
        try:
            parts = make_split(split["kind"], data.y, data.groups, seed=split["seed"])
        except ValueError as exc:  # too few files or groups to split as the run was: not its data
            raise RunError(f"{data.root}: cannot be split as {self.path} was ({exc}); use the data and genres it "
                           "was trained on") from None
        if [data.paths[i] for i in parts.test] != list(split["test_files"]):
            raise RunError(f"{data.root}: its {split['kind']} split with seed {split['seed']} does not give the "
                           f"{len(split['test_files'])} test files of {self.path}; use the data and genres it was trained on")
        return parts

    @property
    def config(self) -> "ModelConfig":
        """The run's :class:`genre_lib.configs.ModelConfig`."""
        from .configs import ModelConfig

        return ModelConfig.from_dict(self.meta["config"])


def save_run(out: str | Path, model, meta: dict, history: dict, metrics: dict, overwrite: bool = False,
             baselines: dict | None = None) -> Path:
    """Write a run folder; ``baselines`` (a fitted classifier per protocol) go to :data:`BASELINE_FILE`."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out}: run folder exists; not replaced")

    def write(tmp: Path) -> None:
        tmp.mkdir()
        model.save(tmp / "model.keras")
        for name, obj in (("run.json", {"format_version": FORMAT_VERSION, **meta}), ("history.json", history),
                          ("metrics.json", metrics)):
            (tmp / name).write_text(json.dumps(obj, indent=2, sort_keys=True, allow_nan=True) + "\n")
        if baselines is not None:
            _dump_baselines(baselines, tmp / BASELINE_FILE)

    return write_atomic(out, write, overwrite)


def read_metrics(run_dir: str | Path) -> dict:
    """``metrics.json`` of a run folder."""
    return json.loads((Path(run_dir) / "metrics.json").read_text())


def read_run_meta(run_dir: str | Path) -> dict:
    """``run.json`` of a run folder, checked for this version's format (RunError)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"{run_dir}: no such run folder")
    missing = [f for f in RUN_FILES if not (run_dir / f).is_file()]
    if missing:
        raise RunError(f"{run_dir}: not a complete run folder (missing {', '.join(missing)})")
    try:
        meta = json.loads((run_dir / "run.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RunError(f"{run_dir / 'run.json'}: unreadable ({exc})") from exc
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise RunError(
            f"{run_dir}: run format version {version!r}, this genre_lib reads version {FORMAT_VERSION}; "
            "retrain it with this version (genre-lib train)"
        )
    for key in ("genres", "features", "max_notes", "file_windows", "config"):
        if key not in meta:
            raise RunError(f"{run_dir / 'run.json'}: missing {key!r}")
    return meta


def _dump_baselines(baselines: dict, path: Path) -> None:
    import zipfile

    import sklearn
    import skops.io as sio

    stored = {"sklearn": sklearn.__version__, "baselines": baselines}
    sio.dump(stored, path, compression=zipfile.ZIP_DEFLATED)


def load_baselines(run_dir: str | Path) -> tuple[dict | None, str]:
    """``(classifier per protocol, "")`` from :data:`BASELINE_FILE`, or ``(None, why)``:
    skops trusting only gradient-boosting types, and only this scikit-learn version's."""
    import sklearn
    import skops.io as sio

    run_dir = Path(run_dir)
    path = run_dir / BASELINE_FILE
    if not path.is_file():
        return None, f"{path}: no baseline in this run folder (trained before runs kept one)"
    try:
        untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in _TRUSTED_TYPES]
        if untrusted:
            return None, f"{path}: holds types a baseline never has ({', '.join(untrusted)}); not loaded"
        stored = sio.load(path, trusted=_TRUSTED_TYPES)
        version, baselines = stored["sklearn"], stored["baselines"]
    except Exception as exc:  # a damaged or foreign file: skops and zipfile raise many types
        return None, f"{path}: cannot read the baseline ({type(exc).__name__}: {exc})"
    if version != sklearn.__version__:
        return None, (f"{path}: written by scikit-learn {version}, this is {sklearn.__version__}; "
                      "retrain the run (genre-lib train) to use its baseline")
    return baselines, ""


def load_run(run_dir: str | Path) -> Run:
    """Load a run folder written by :func:`genre_lib.train.train_run` (RunError)."""
    import keras

    from . import model  # noqa: F401  (registers the project's layers for loading)

    run_dir = Path(run_dir)
    meta = read_run_meta(run_dir)
    try:
        model = keras.models.load_model(run_dir / "model.keras")
    except Exception as exc:  # Keras raises many types for a foreign or damaged file
        raise RunError(f"{run_dir / 'model.keras'}: cannot load the model ({type(exc).__name__}: {exc})") from exc
    genres = tuple(meta["genres"])
    features = tuple(meta["features"])
    expected = (int(meta["max_notes"]), len(features))
    if tuple(model.inputs[0].shape[1:]) != expected or model.outputs[0].shape[-1] != len(genres):
        raise RunError(
            f"{run_dir}: model shape {tuple(model.inputs[0].shape[1:])} -> {model.outputs[0].shape[-1]} "
            f"disagrees with run.json ({expected} -> {len(genres)} genres)"
        )
    history = json.loads((run_dir / "history.json").read_text())
    metrics = read_metrics(run_dir)
    baselines, problem = load_baselines(run_dir)
    return Run(run_dir, model, genres, features, int(meta["max_notes"]), meta, history, metrics, baselines, problem)


def find_runs(runs_dir: str | Path) -> list[Path]:
    """Run folders (holding a ``run.json``) at or below ``runs_dir``, sorted."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise RunError(f"{runs_dir}: no such folder")
    return sorted(p.parent for p in runs_dir.rglob("run.json") if not p.parent.name.startswith("."))


def seed_siblings(run_dir: str | Path) -> list[Path]:
    """Run folders beside ``run_dir`` named ``<its name>-seed<N>``: the same model with
    other weight seeds on the same split."""
    run_dir = Path(run_dir)
    return sorted(p for p in run_dir.parent.glob(f"{run_dir.name}-seed*") if (p / "run.json").is_file())


def best_by_validation(runs_dir: str | Path) -> Path | None:
    """The run below ``runs_dir`` with the best validation accuracy (ties: lower loss;
    the test files never choose), or None."""
    scored = []
    for path in find_runs(runs_dir):
        try:
            val = json.loads((path / "metrics.json").read_text())["val"]
        except (OSError, json.JSONDecodeError, KeyError):
            continue
        scored.append((-val["accuracy"], val["loss"], str(path), path))
    return min(scored)[3] if scored else None


#: the optional parts of a model, in the order the iterations add them
_ADDITIONS = ("families", "pitch_classes", "drum_sounds", "summary", "augment", "cosine", "intervals", "conv")


#: the held-out figures of the iterations table: column -> (verdict, protocol, figure)
_SCORES = {"accuracy": ("rnn", "file", "accuracy"), "loss": ("rnn", "file", "loss"),
           "first100 accuracy": ("rnn", "first100", "accuracy"), "first100 loss": ("rnn", "first100", "loss"),
           **{f"{who} {name}": (who, p, "accuracy") for who in ("baseline", "combined")
              for name, p in (("accuracy", "file"), ("first100", "first100"))}}


def iterations_table(runs_dir: str | Path) -> "pandas.DataFrame":
    """One row per run folder below ``runs_dir``: configuration, every verdict's held-out
    accuracies, the RNN's order effect and top attribute, split and timing (or its problem)."""
    import pandas as pd

    from .probes import order_and_top_attribute

    rows = []
    for path in find_runs(runs_dir):
        name = str(path.relative_to(runs_dir)) if path != Path(runs_dir) else path.name
        try:
            meta = read_run_meta(path)
            metrics = read_metrics(path)
            history = json.loads((path / "history.json").read_text())
        except (RunError, OSError, json.JSONDecodeError) as exc:
            rows.append({"run": name, "note": str(exc)})
            continue
        cfg, inputs = meta["config"], meta["config"].get("columns", [])
        probed = {p: order_and_top_attribute([r for r in metrics.get("probes", []) if r["verdict"] == "rnn"], p)
                  for p in ("first100", "file")}
        rows.append({
            "run": name, "model": cfg["cell"].upper(), "nodes": cfg["units"], "layers": cfg["layers"],
            "dense": f"{cfg['dense_layers']}x{cfg['dense_units']}",
            "inputs": "all" if len(inputs) == 6 else "+".join(inputs),
            "additions": ", ".join(k for k in _ADDITIONS if cfg.get(k)) or "-",
            "windows": cfg.get("windows", 1), "epochs": f"{len(history.get('loss', []))}/{cfg['epochs']}",
            **{column: metrics.get(who, {}).get("protocols", {}).get(p, {}).get(key)
               for column, (who, p, key) in _SCORES.items()},
            "order effect": probed["file"]["order effect"],
            "order effect first100": probed["first100"]["order effect"],
            "top attribute": probed["file"]["top attribute"], "split": meta.get("split", {}).get("kind"),
            "test files": metrics.get("rnn", {}).get("protocols", {}).get("file", {}).get("n"),
            "seed": meta.get("seed"), "train s": meta.get("train_seconds"), "trained": meta.get("trained_on"),
            "note": "",
        })
    return pd.DataFrame(rows)
