"""genre_lib: the code behind the genre-rnn notebook series.

Read first: :mod:`~genre_lib.midi_io` (what a note table is), :mod:`~genre_lib.verdicts`
(the one judge interface every analysis takes) and :mod:`~genre_lib.flip` (the series'
question, asked of a verdict). The modules sit on the floors of :data:`FLOORS`, one job
each; a module imports only from its own floor or below (``tests/test_layers.py``):

0. foundations: ``paths`` (every folder, quick mode, atomic writes), ``machine``,
   ``general_midi`` (program families, drum sounds), ``splits``;
1. notes: ``midi_io``, ``changes`` (the size of a change), ``windows``,
   ``note_statistics`` (the 48 statistics), ``configs`` (model configurations), ``audio``
   (a note table played through a General MIDI SoundFont), ``concepts`` (musical concepts
   on a file's beat grid), ``edits`` (MIDI edits that take one out or put it in);
2. data: ``dataset``, ``download``, ``demo``, ``data_source`` (which folder, which
   collection), ``metrics``;
3. networks: ``model`` (layers, building), ``inference`` (logits, gradients),
   ``protocols`` (how a file is judged);
4. judges: ``verdicts``, ``evaluate``, ``probes``, ``saliency``, ``opinions``, ``plausibility``,
   ``ear`` (an audio judge trained on recordings);
5. runs: ``runs`` (run folders), ``train``, ``flip``, ``crossval``, ``saliency_checks``,
   ``concept_study`` (what edits do to verdicts), ``locations`` (where runs and results live);
6. views: ``cache`` (what notebooks share on disk), ``plots``, ``widgets``, ``cli``.
"""

__version__ = "0.1.0"

#: the floor of every module (see the package docstring); a new module gets one here
FLOORS: dict[str, int] = {
    **dict.fromkeys(("paths", "machine", "general_midi", "splits"), 0),
    **dict.fromkeys(("midi_io", "changes", "windows", "note_statistics", "configs", "audio", "concepts", "edits"), 1),
    **dict.fromkeys(("dataset", "download", "demo", "data_source", "metrics"), 2),
    **dict.fromkeys(("model", "inference", "protocols"), 3),
    **dict.fromkeys(("verdicts", "evaluate", "probes", "saliency", "opinions", "plausibility", "ear"), 4),
    **dict.fromkeys(("runs", "train", "flip", "crossval", "saliency_checks", "concept_study", "locations"), 5),
    **dict.fromkeys(("cache", "plots", "widgets", "cli", "__main__"), 6),
}
