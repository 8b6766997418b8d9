"""Listen to a note table: render it to a waveform for ``IPython.display.Audio``.

Two synthesisers, chosen automatically:

* **FluidSynth** (real instrument sounds, drums included) when ``pyfluidsynth`` is
  installed and a General MIDI SoundFont is found (``sf2_path``, the ``GENRE_SF2``
  environment variable, or the usual system locations). Nothing is downloaded.
* Otherwise **pretty_midi's sine synthesiser**. It plays every pitched note as a sine
  tone (all programs sound alike) and *skips drum tracks*, so we add simple seeded
  noise clicks for drum notes: a low thump for kicks, a noise burst for snares and
  claps, a short high tick for hi-hats and cymbals. Enough to hear the rhythm the
  classifier heard, not to judge the sound.

Only the given table is rendered (the first 100 notes in this series): a few seconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .midi_io import DRUM, DURATION, PITCH, VELOCITY, onsets, project_to_midi, to_pretty_midi

#: Silence kept after the last note-off, seconds (room for a drum's decay).
TAIL = 0.25

_SF2_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)

_KICKS = {35, 36}
_SNARES = {37, 38, 39, 40}


def find_soundfont(sf2_path: str | Path | None = None) -> Path | None:
    """A usable SoundFont and FluidSynth binding, or None (then the sine synth is used)."""
    try:
        import fluidsynth  # noqa: F401  (pyfluidsynth)
    except ImportError:
        return None
    for cand in (sf2_path, os.environ.get("GENRE_SF2"), *_SF2_CANDIDATES):
        if cand and Path(cand).is_file():
            return Path(cand)
    return None


def audio_length(table: np.ndarray, fs: int = 16000) -> int:
    """Number of samples :func:`render_audio` returns for ``table``: from the first
    onset to the last note-off, plus :data:`TAIL` seconds."""
    table = np.asarray(table, dtype=np.float64)
    end = float((onsets(table) + np.maximum(table[:, DURATION], 0.0)).max()) if len(table) else 0.0
    return int(round((end + TAIL) * fs))


def _drum_hits(table: np.ndarray, fs: int, n: int, seed: int) -> np.ndarray:
    """Seeded noise clicks for the drum notes of ``table`` (sine synthesis skips drums)."""
    rng = np.random.default_rng(seed)
    out = np.zeros(n)
    start = onsets(table)
    for i in np.nonzero(table[:, DRUM] >= 0.5)[0]:
        pitch = int(round(table[i, PITCH]))
        gain = float(np.clip(table[i, VELOCITY], 1, 127)) / 127.0
        if pitch in _KICKS:
            length, t = int(0.15 * fs), np.arange(int(0.15 * fs)) / fs
            hit = np.sin(2 * np.pi * (60 + 80 * np.exp(-t * 30)) * t) * np.exp(-t * 25)
        elif pitch in _SNARES:
            length = int(0.12 * fs)
            hit = rng.standard_normal(length) * np.exp(-np.arange(length) / fs * 30) * 0.5
        else:  # hats, cymbals, percussion: short, bright (differenced noise is high-passed)
            length = int(0.05 * fs)
            hit = np.diff(rng.standard_normal(length + 1)) * np.exp(-np.arange(length) / fs * 80) * 0.25
        s = int(round(start[i] * fs))
        e = min(n, s + length)
        if s < n:
            out[s:e] += gain * hit[: e - s]
    return out


def render_audio(table: np.ndarray, fs: int = 16000, sf2_path: str | Path | None = None, seed: int = 0) -> np.ndarray:
    """Render a note table to a mono waveform.

    Args:
        table: note table (notes x 6), e.g. the first 100 notes of a file or a flip.
        fs: sample rate in Hz.
        sf2_path: a General MIDI SoundFont for FluidSynth (optional, see module docstring).
        seed: seed of the drum-click noise (sine synthesiser only).

    Returns:
        float32 array of :func:`audio_length` samples in [-1, 1], silent (zeros) if the
        table has no sound. Play it with ``IPython.display.Audio(wave, rate=fs)``.
    """
    table = project_to_midi(table)
    n = audio_length(table, fs)
    pm = to_pretty_midi(table)
    sf2 = find_soundfont(sf2_path)
    if sf2 is not None:
        wave = pm.fluidsynth(fs=fs, sf2_path=str(sf2))
    else:
        # pretty_midi's synthesize leaves drum instruments out; clicks stand in for them
        wave = pm.synthesize(fs=fs) if any(not i.is_drum for i in pm.instruments) else np.zeros(0)
        wave = np.asarray(wave, dtype=np.float64)
        clicks = _drum_hits(table, fs, n, seed)
        wave = np.pad(wave[:n], (0, max(0, n - len(wave))))
        wave = wave / (np.abs(wave).max() or 1.0) + clicks
    wave = np.asarray(wave, dtype=np.float64)[:n]
    wave = np.pad(wave, (0, n - len(wave)))
    peak = np.abs(wave).max()
    if peak > 0:
        wave = wave / peak * 0.9
    return wave.astype(np.float32)
