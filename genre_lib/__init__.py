"""genre_lib: the code behind the genre-rnn notebook series.

Modules, one job each:

* :mod:`genre_lib.midi_io`: MIDI file <-> note table, and what MIDI can hold (note order, same-key overlaps, projection).
* :mod:`genre_lib.general_midi`: what program and drum numbers stand for (families, drum sounds).
* :mod:`genre_lib.dataset`: a folder of MIDI files -> whole note tables and first-100-note arrays, with a skip report and a cache.
* :mod:`genre_lib.windows`: 100-note windows of a note table (evenly spaced to judge a file, seeded random to train).
* :mod:`genre_lib.paths`: every project folder (``data/real``, ``data/demo``, ``data/cache``, ``models/``, ``runs/``, ``reports/``) and quick mode.
* :mod:`genre_lib.data_source`: which data folder the series reads (given, ``GENRE_DATA``, ``data/real``, the demo), which collection it holds (by its files) and the runs that go with it.
* :mod:`genre_lib.download`: fetching the real collections listed in ``data/sources/midi.csv``, hash-checked.
* :mod:`genre_lib.splits`: seeded stratified and group (artist/sequencer) splits.
* :mod:`genre_lib.demo`: the generated demo corpus (not real music).
* :mod:`genre_lib.model`: the classifier's layers and configuration, copies of a model and fresh weights, which inputs it turns into categories.
* :mod:`genre_lib.baseline`: the non-neural baseline (gradient boosting on 48 statistics), both protocols.
* :mod:`genre_lib.train`: fitting on windows and writing a run folder; :mod:`genre_lib.runs`: reading run folders, the iterations table.
* :mod:`genre_lib.study`: the study's iterations and ours, the committed model, the runs notebooks 03 to 05 train and explain.
* :mod:`genre_lib.crossval`: group k-fold cross-validation under both protocols, errors by group, mistakes two verdicts share.
* :mod:`genre_lib.inference`: running a model: one cache of compiled functions, logits, probabilities, gradients.
* :mod:`genre_lib.evaluate`: the two protocols (first 100 notes, a vote of windows) and accuracy, loss, per-genre metrics, confusion.
* :mod:`genre_lib.saliency`: attribution methods and the map as shown (one class per method, :class:`~genre_lib.saliency.SaliencyMap`).
* :mod:`genre_lib.saliency_checks`: randomization, deletion, agreement with occlusion and planted-cue checks, and their report.
* :mod:`genre_lib.flip`: the genre-flip optimiser (settings, judges, frozen result, pruning, round trip).
* :mod:`genre_lib.opinions`: second opinions on a flip (the file's vote, the baseline, other seeds, plausibility, seconds).
* :mod:`genre_lib.plausibility`: how near a file sits to real files of each genre (48 statistics, nearest neighbours), validated on held-out files.
* :mod:`genre_lib.changes`: what counts as a changed note, the size of a change to a note table and its description in words.
* :mod:`genre_lib.plots`: every figure.
* :mod:`genre_lib.widgets`, :mod:`genre_lib.audio`: the notebooks' interactive views and sound.
* :mod:`genre_lib.cli`: the ``genre-lib`` command line (parse, call, print; every error one line).
"""

__version__ = "0.1.0"
