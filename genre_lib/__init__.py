"""genre_lib: the code behind the genre-rnn notebook series.

Modules, one job each:

* :mod:`genre_lib.midi_io`: MIDI file <-> note table (pitch, step, duration, ...).
* :mod:`genre_lib.dataset`: a folder of MIDI files -> arrays, with a skip report and a cache.
* :mod:`genre_lib.splits`: seeded stratified and group (artist/sequencer) splits.
* :mod:`genre_lib.demo`: the generated demo corpus (not real music).
* :mod:`genre_lib.cli`: the ``genre-lib`` command line.
"""

__version__ = "0.1.0"
