"""Reference numbers of musicnn's own code, for tests/test_ear.py (run once, in a throwaway venv).

musicnn 0.1.0 is TensorFlow 1 code (it runs only with tf-keras and TF_USE_LEGACY_KERAS=1)
and computes its log-mel with librosa; neither belongs in the project's environment.
So its original runs in a venv of its own, made and thrown away by hand::

    uv venv /tmp/musicnn-ref --python 3.11
    uv pip install --python /tmp/musicnn-ref/bin/python tensorflow-cpu==2.21.0 tf-keras==2.21.0 librosa
    uv pip install --python /tmp/musicnn-ref/bin/python --no-deps musicnn==0.1.0
    TF_USE_LEGACY_KERAS=1 /tmp/musicnn-ref/bin/python scripts/musicnn_reference.py

It runs musicnn's ``extractor`` (model ``MSD_musicnn``, 3-s patches, no overlap) on
three seeded clips made here with numpy alone (tone bursts and noise hits, quiet enough
that musicnn's float16 log-mel does not overflow) and writes each clip's taggram
(patches x 50 tags) and the mean of each of its 96 log-mel bands to
``tests/data/musicnn_reference.json``. The test makes the same clips and compares
:mod:`genre_lib.ear`'s port with them.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "musicnn_reference.json"
SEEDS = (0, 1, 2)


def test_clip(seed: int, seconds: float = 6.0, peak: float = 0.25, fs: int = 16000) -> np.ndarray:
    """A seeded float32 test clip: 12 decaying harmonic tones and 10 noise hits, scaled to ``peak``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    x = np.zeros_like(t)
    for _ in range(12):
        f0, start, decay = rng.uniform(60, 900), rng.uniform(0, seconds - 0.5), rng.uniform(0.2, 1.5)
        env = np.clip((t - start) / 0.01, 0, 1) * np.exp(-np.clip(t - start, 0, None) / decay)
        x += env * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 5))
    for start in rng.uniform(0, seconds - 0.2, 10):
        i = int(start * fs)
        x[i:i + 1600] += rng.standard_normal(1600) * np.exp(-np.arange(1600) / 300)
    return (x / np.abs(x).max() * peak).astype(np.float32)


def main() -> None:
    import librosa
    import soundfile
    import tensorflow as tf
    from musicnn import extractor

    clips = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in SEEDS:
            wav = Path(tmp) / f"clip{seed}.wav"
            soundfile.write(wav, test_clip(seed), 16000, subtype="FLOAT")
            taggram, _ = extractor.extractor(str(wav), model="MSD_musicnn", input_length=3, input_overlap=False,
                                             extract_features=False)
            _, log_mel = extractor.batch_data(str(wav), 187, 187)
            clips[str(seed)] = {"taggram": np.round(taggram, 8).tolist(),
                                "band_means": np.round(log_mel.astype(np.float64).mean(axis=0), 8).tolist()}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "made_by": "TF_USE_LEGACY_KERAS=1 python scripts/musicnn_reference.py (see its docstring)",
        "versions": {"musicnn": "0.1.0", "tensorflow": tf.__version__, "librosa": librosa.__version__},
        "model": "MSD_musicnn", "clips": clips}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
