"""General MIDI categories: what a program number or a drum note stands for (program 80
is not "more" than 79). The model's layers and the baseline's statistics read them
through the tables here, so the two see the same categories.
"""

from __future__ import annotations

import numpy as np

#: General MIDI's 16 program families, 8 programs each (program // 8).
FAMILIES: tuple[str, ...] = (
    "piano", "chromatic percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass",
    "reed", "pipe", "synth lead", "synth pad", "synth effects", "ethnic", "percussive", "sound effects",
)

#: Drum sounds grouped by what they do in a groove (General MIDI percussion key map).
DRUM_SOUNDS: dict[str, tuple[int, ...]] = {
    "kick": (35, 36),
    "snare": (37, 38, 40),
    "clap": (39,),
    "hi-hat": (42, 44, 46),
    "ride": (51, 53, 59),
    "crash": (49, 52, 55, 57),
    "tom": (41, 43, 45, 47, 48, 50),
}

#: ``DRUM_SOUND_OF_PITCH[p]`` is the index into ``DRUM_SOUNDS`` of drum pitch ``p``,
#: or -1 for the other percussion (cowbell, congas, shakers, ...).
DRUM_SOUND_OF_PITCH = np.full(128, -1, dtype=np.int64)
for _k, _pitches in enumerate(DRUM_SOUNDS.values()):
    DRUM_SOUND_OF_PITCH[list(_pitches)] = _k


def program_family(program: np.ndarray) -> np.ndarray:
    """Index into :data:`FAMILIES` of each program number (clipped to 0-127)."""
    return (np.clip(np.asarray(program), 0, 127) // 8).astype(np.int64)


def drum_sound(pitch: np.ndarray) -> np.ndarray:
    """Index into :data:`DRUM_SOUNDS` of each drum pitch, -1 for other percussion."""
    return DRUM_SOUND_OF_PITCH[np.clip(np.rint(np.asarray(pitch)).astype(np.int64), 0, 127)]
