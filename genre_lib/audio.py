"""Listen to a note table: General MIDI instruments played through a SoundFont.

One synthesiser: TinySoundFont (the ``tinysoundfont`` wheel carries its C code) playing
``TimGM6mb.sf2``, the General MIDI SoundFont inside the ``pretty_midi`` wheel: no download,
no system package, the same sound on every machine. Each note sounds as its program's
instrument, drum notes (channel 10) as the kit's drums. It replaces pretty_midi's sine
tones (every program alike, drums skipped), which misled the ear about the instruments
the network reads, and FluidSynth, found on some machines only. Only the notes are
played, as the network reads them (a note table has no tempo map, pedal or pitch bend).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .midi_io import DRUM, DURATION, PITCH, PROGRAM, VELOCITY, onsets, project_to_midi, read_midi

#: Silence kept after the last note-off, seconds (room for a note's release).
TAIL = 0.25

#: Peak level of a rendered waveform: every render is scaled to it, so a quiet file and
#: a loud one are heard (and tagged, :mod:`genre_lib.ear`) at the same level.
PEAK = 0.9


def soundfont_path() -> Path:
    """The General MIDI SoundFont inside the installed ``pretty_midi`` package."""
    import pretty_midi

    return Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


def _synth(fs: int):
    # loaded afresh (0.03 s): a reused one still releases the last render's notes after reset
    try:
        from tinysoundfont import _tinysoundfont as tsf
    except ImportError:
        raise ImportError("tinysoundfont is not installed: run `make install` (it installs tinysoundfont==0.3.7 "
                          "with --no-deps)") from None
    synth = tsf.SoundFont(str(soundfont_path()))
    synth.set_output(tsf.OutputMode.Mono, fs, 0.0)
    synth.set_max_voices(256)
    return synth


def audio_length(table: np.ndarray, fs: int = 16000) -> int:
    """Number of samples :func:`render_audio` returns for ``table``: from the first
    onset to the last note-off, plus :data:`TAIL` seconds."""
    table = np.asarray(table, dtype=np.float64)
    end = float((onsets(table) + np.maximum(table[:, DURATION], 0.0)).max()) if len(table) else 0.0
    return int(round((end + TAIL) * fs))


def render_audio(source, fs: int = 16000, seconds: float | None = None) -> np.ndarray:
    """Render notes to a mono waveform with General MIDI instruments.

    Args:
        source: a note table (notes x 6; e.g. the first 100 notes of a file or a flip)
            or a MIDI file's path.
        fs: sample rate in Hz.
        seconds: render only the first ``seconds`` (default: the whole table).

    Returns:
        float32 array of :func:`audio_length` samples of the notes as a MIDI file holds them
        (:func:`~genre_lib.midi_io.project_to_midi`; at most ``seconds * fs``), its peak
        at :data:`PEAK`, silent (zeros) if the notes make no sound. The same notes give
        the same samples. Play it with ``IPython.display.Audio(wave, rate=fs)``.
    """
    table = project_to_midi(read_midi(source) if isinstance(source, (str, Path)) else source)
    n = min(audio_length(table, fs), int(round(seconds * fs)) if seconds is not None else np.inf)
    synth = _synth(int(fs))
    # one channel per program, the drums on a channel of their own (drum mode: bank 128)
    programs, channel = np.unique(np.where(table[:, DRUM] >= 0.5, -1, table[:, PROGRAM]).astype(int),
                                  return_inverse=True)
    for c, program in enumerate(programs):
        synth.channel_set_bank(c, 0)
        synth.channel_set_preset_number(c, max(int(program), 0), bool(program < 0))
    start = np.round(onsets(table) * fs).astype(np.int64)
    end = np.round((onsets(table) + table[:, DURATION]) * fs).astype(np.int64)
    keys, gains = table[:, PITCH].astype(int), table[:, VELOCITY] / 127.0
    # events by sample, note-offs before note-ons at the same sample (a repeated key sounds again)
    events = sorted([(int(e), 0, i) for i, e in enumerate(end)] + [(int(s), 1, i) for i, s in enumerate(start)])
    wave, done = np.zeros(n, np.float32), 0
    for at, on, i in events:
        at = min(at, n)
        if at > done:
            synth.render(memoryview(wave[done:at]).cast("B"))
            done = at
        if at >= n:
            break
        if on:
            synth.channel_note_on(int(channel[i]), int(keys[i]), float(gains[i]))
        else:
            synth.channel_note_off(int(channel[i]), int(keys[i]))
    if done < n:
        synth.render(memoryview(wave[done:]).cast("B"))
    peak = float(np.abs(wave).max()) if n else 0.0
    return wave * np.float32(PEAK / peak) if peak > 0 else wave


#: What a listen in a notebook plays: the first seconds at a rate that keeps drums and
#: cymbals recognisable and the stored notebook small (a WAV of 16-bit samples, in base64).
LISTEN_SECONDS, LISTEN_FS = 6.0, 11025


def listen(source, seconds: float | None = LISTEN_SECONDS, fs: int = LISTEN_FS):
    """An ``IPython.display.Audio`` player of the first ``seconds`` of notes (a note table
    or a MIDI file's path; None: all of them), rendered by :func:`render_audio`: every listen
    of the series."""
    from IPython.display import Audio

    return Audio(render_audio(source, fs=fs, seconds=seconds), rate=fs)
