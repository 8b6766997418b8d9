"""Model configurations: :class:`ModelConfig`, the study's iterations and ours
(:data:`ITERATIONS`: the study's three rows on its input, then one idea each: windows,
every column, one-hot categories, window statistics, augmentation: :data:`MAIN_CONFIG`;
per-part intervals and a convolution: :data:`ORDER_CONFIG`), and their quick and demo versions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

from .midi_io import FEATURES

if TYPE_CHECKING:
    from .data_source import DataChoice


#: settings of earlier versions that no committed model used, read from stored configs
#: (``run.json``, ``results/*.json``) when off: per-part masked GRUs, a bidirectional GRU,
#: statistics of the interval channels (``scripts/order_search.py`` screened them)
RETIRED: tuple[str, ...] = ("interval_summary", "parts", "bidirectional")


@dataclass(frozen=True)
class ModelConfig:
    """The named hyperparameters of one network (what the iterations table lists):
    the recurrent ``cell`` (GRU or LSTM), ``units``, ``layers``, the dense layers,
    ``dropout``, training (``epochs``, ``learning_rate``, ``batch_size``, ``patience``,
    ``windows`` per training file, ``cosine`` decay), the input's ``columns``, and the
    model's additions (one-hot ``families``, ``pitch_classes``, ``drum_sounds``; window
    statistics ``summary``; ``augment``; per-part ``intervals``; a ``conv`` width). See
    :mod:`genre_lib.model` for the layers each adds.
    """

    cell: str = "gru"
    units: int = 32
    layers: int = 1
    dense_layers: int = 1
    dense_units: int = 32
    dropout: float = 0.2
    epochs: int = 40
    learning_rate: float = 2e-3
    batch_size: int = 32
    patience: int = 8
    families: bool = True
    summary: bool = True
    augment: bool = True
    columns: tuple[str, ...] = FEATURES
    pitch_classes: bool = False
    drum_sounds: bool = False
    windows: int = 1
    cosine: bool = False
    intervals: bool = False
    conv: int = 0

    def __post_init__(self) -> None:
        if self.cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' or 'lstm', not {self.cell!r}")
        object.__setattr__(self, "columns", tuple(self.columns))  # JSON gives a list
        unknown = [c for c in self.columns if c not in FEATURES]
        if unknown or not self.columns:
            raise ValueError(f"columns must be a non-empty subset of {FEATURES}, not {self.columns}")
        for name in ("units", "layers", "epochs", "batch_size", "windows"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), not {self.dropout}")
        if self.conv < 0:
            raise ValueError(f"conv must be 0 (none) or a width in notes, not {self.conv}")

    def to_dict(self) -> dict:
        """The settings as a JSON-able dict."""
        return {**asdict(self), "columns": list(self.columns)}

    def replace(self, **changes) -> "ModelConfig":
        """A copy with some settings changed (e.g. fewer epochs for a quick run)."""
        return ModelConfig.from_dict({**self.to_dict(), **changes})

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        """Settings from :meth:`to_dict`. An unknown key is an error (a typo, or a newer
        version's setting this code would silently ignore); a :data:`RETIRED` one is dropped
        when off, and an error when on (this code cannot build it)."""
        on = [k for k in RETIRED if d.get(k)]
        if on:
            raise ValueError(f"model settings {on} are no longer built (commit f3261d8 builds them)")
        d = {k: v for k, v in d.items() if k not in RETIRED}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown model settings {unknown}; known: {sorted(known)}")
        return cls(**d)


#: the study's input columns
STUDY_COLUMNS: tuple[str, ...] = ("pitch", "step", "duration")

#: the study's reported accuracies (its own data and split, first 100 notes), by row
STUDY_REPORTED: dict[str, float] = {
    "study-1-50x1": 0.7599,
    "study-2-56x2": 0.8349,
    "study-3-168x2": 0.9417,
}


def _study_row(nodes: int, layers: int, epochs: int) -> ModelConfig:
    return ModelConfig(
        cell="lstm", units=nodes, layers=1, dense_layers=layers, dense_units=nodes, dropout=0.0,
        epochs=epochs, patience=15, families=False, summary=False, augment=False, columns=STUDY_COLUMNS,
    )


_WINDOWED = dict(cell="gru", units=64, dense_units=64, batch_size=128, epochs=20, windows=8, cosine=True)

#: The iterations in the order they were tried (notebook 03, ``scripts/train_iterations.py``).
ITERATIONS: dict[str, ModelConfig] = {
    "study-1-50x1": _study_row(50, 1, 100),
    "study-2-56x2": _study_row(56, 2, 200),
    "study-3-168x2": _study_row(168, 2, 200),
    "4-windows": ModelConfig(**_WINDOWED, families=False, summary=False, augment=False, columns=STUDY_COLUMNS),
    "5-all-columns": ModelConfig(**_WINDOWED, families=False, summary=False, augment=False),
    "6-categories": ModelConfig(**_WINDOWED, families=True, pitch_classes=True, drum_sounds=True,
                                summary=False, augment=False),
    "7-summary": ModelConfig(**_WINDOWED, families=True, pitch_classes=True, drum_sounds=True,
                             summary=True, augment=False),
    "8-augment": ModelConfig(**_WINDOWED, families=True, pitch_classes=True, drum_sounds=True,
                             summary=True, augment=True),
    "9-order": ModelConfig(**_WINDOWED, families=True, pitch_classes=True, drum_sounds=True,
                           summary=True, augment=True, intervals=True, conv=5),
}

#: the configuration of the committed real-data model (models/jazz-electronic)
MAIN_ITERATION = "8-augment"
MAIN_CONFIG: ModelConfig = ITERATIONS[MAIN_ITERATION]

#: the configuration of the order-using model (models/jazz-electronic-order): the
#: committed one with per-part intervals and a convolution in front of the GRU
ORDER_ITERATION = "9-order"
ORDER_CONFIG: ModelConfig = ITERATIONS[ORDER_ITERATION]

#: the two genres of the study, in its words
STUDY_GENRES: tuple[str, ...] = ("jazz", "electronic")


def quick_config(config: ModelConfig) -> ModelConfig:
    """The quick-mode version of a configuration (CI, ``GENRE_QUICK=1``): few epochs
    and windows, still real training."""
    return config.replace(epochs=min(config.epochs, 4), patience=2, windows=min(config.windows, 2))


#: the generated demo corpus's training: epochs and windows per training file (below
#: quick mode's), so ``make demo`` fits a slower machine; the demo is a first look
DEMO_EPOCHS, DEMO_WINDOWS = 2, 1


def demo_config(config: ModelConfig) -> ModelConfig:
    """The version of a configuration the notebooks train on the generated demo corpus:
    quick mode's (:func:`quick_config`) with :data:`DEMO_EPOCHS` epochs and
    :data:`DEMO_WINDOWS` window per training file, still real training."""
    return quick_config(config).replace(epochs=min(config.epochs, DEMO_EPOCHS),
                                        windows=min(config.windows, DEMO_WINDOWS))


def notebook_config(config: ModelConfig, source: "DataChoice", quick: bool = False) -> ModelConfig:
    """What the notebooks train of ``config`` on ``source``: :func:`demo_config` on the
    generated demo corpus, :func:`quick_config` in quick mode, ``config`` itself otherwise."""
    if source.is_demo:
        return demo_config(config)
    return quick_config(config) if quick else config


#: the iterations notebook 03 trains on the generated demo corpus and in quick mode (CI):
#: the study's first row, the first of ours (windows) and the committed configuration,
#: the one notebooks 04 and 05 explain. Every row teaches on real music in a full run; a
#: quick run checks that the notebook works, and each row costs a model's training
FEW_ITERATIONS: tuple[str, ...] = ("study-1-50x1", "4-windows", MAIN_ITERATION)


def notebook_iterations(source: "DataChoice", quick: bool = False) -> dict[str, ModelConfig]:
    """The iterations notebook 03 trains on ``source``, in the order they were tried, each
    as :func:`notebook_config` gives it: every one of :data:`ITERATIONS` in a full run on
    real data, those of :data:`FEW_ITERATIONS` on the generated demo corpus or in quick mode."""
    few = source.is_demo or quick
    names = [n for n in ITERATIONS if n in FEW_ITERATIONS] if few else list(ITERATIONS)
    return {n: notebook_config(ITERATIONS[n], source, quick) for n in names}
