"""genre_lib.audio: note tables played with General MIDI instruments through the packaged SoundFont."""

from __future__ import annotations

import numpy as np
import pytest

from genre_lib.audio import PEAK, TAIL, audio_length, render_audio, soundfont_path
from genre_lib.midi_io import DRUM, PITCH, PROGRAM, notes_from_events, write_midi

FS = 16000


def melody(program: int = 0, drum: bool = False, n: int = 16) -> np.ndarray:
    """``n`` notes of a C major arpeggio, 0.25 s apart, each 0.2 s, on one program (or the drums)."""
    start = np.arange(n) * 0.25
    pitch = 60 + np.array([0, 4, 7, 12])[np.arange(n) % 4]
    return notes_from_events(start, start + 0.2, pitch, np.full(n, 100), np.full(n, float(drum)), np.full(n, program))


def spectrum(wave: np.ndarray) -> np.ndarray:
    """The mean magnitude spectrum of 1024-sample frames, normalised to sum 1."""
    frames = wave[: len(wave) // 1024 * 1024].reshape(-1, 1024)
    s = np.abs(np.fft.rfft(frames * np.hanning(1024), axis=1)).mean(axis=0)
    return s / s.sum()


def test_the_soundfont_ships_with_pretty_midi():
    assert soundfont_path().is_file() and soundfont_path().stat().st_size > 1_000_000


def test_two_programs_sound_different():
    piano, violin, guitar = (render_audio(melody(p), fs=FS) for p in (0, 40, 25))
    assert len(piano) == len(violin) == len(guitar)
    for other in (violin, guitar):
        # half the total variation between the two spectra: 0 the same sound, 1 nothing shared
        assert 0.5 * np.abs(spectrum(piano) - spectrum(other)).sum() > 0.2
    # the same program twice is the same sound
    assert 0.5 * np.abs(spectrum(piano) - spectrum(render_audio(melody(0), fs=FS))).sum() == 0


def test_drums_are_heard_as_drums():
    drums = render_audio(melody(drum=True), fs=FS)
    rms = np.sqrt(np.mean(drums**2))
    assert rms > 0.02 and np.abs(drums).max() == pytest.approx(PEAK)
    # keys 60-72 on channel 10 are percussion (bongos, congas, timbales), not pitched piano notes
    assert 0.5 * np.abs(spectrum(drums) - spectrum(render_audio(melody(0), fs=FS))).sum() > 0.2


def test_length_follows_the_table_and_seconds_cut_it():
    table = melody(24)
    end = 15 * 0.25 + 0.2
    wave = render_audio(table, fs=FS)
    assert len(wave) == audio_length(table, FS) == int(round((end + TAIL) * FS))
    assert wave.dtype == np.float32 and np.isfinite(wave).all()
    assert np.abs(wave[: int(0.2 * FS)]).max() > 0.05  # sound from the first note on
    assert len(render_audio(table, fs=FS, seconds=1.5)) == int(1.5 * FS)
    assert len(render_audio(table, fs=8000)) == audio_length(table, 8000)


def test_the_same_notes_give_the_same_samples(tmp_path):
    table = np.concatenate([melody(0), melody(33)])
    table[len(table) // 2, 1] = 0.1  # the second part starts 0.1 s after the first's last onset
    first = render_audio(table, fs=FS)
    render_audio(melody(drum=True), fs=FS)  # a render in between leaves nothing behind
    np.testing.assert_array_equal(render_audio(table, fs=FS), first)
    # a MIDI file of the notes sounds as the notes
    np.testing.assert_array_equal(render_audio(write_midi(table, tmp_path / "t.mid"), fs=FS), first)


def test_silence_and_programs_beyond_sixteen_channels():
    quiet = melody(0)
    quiet[:, PITCH] = 0  # the lowest key: very little sound, but a valid table
    assert np.isfinite(render_audio(quiet, fs=FS)).all()
    many = melody(0, n=40)
    many[:, PROGRAM] = np.arange(40)  # more programs than MIDI has channels
    many[::7, DRUM] = 1
    wave = render_audio(many, fs=FS)
    # every note sounds: each 0.25-s slot holds sound well above silence (a drum sets the peak)
    slots = wave[: 40 * FS // 4].reshape(40, -1)
    assert (np.abs(slots).max(axis=1) > 0.002).all()
