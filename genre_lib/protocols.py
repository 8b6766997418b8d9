"""How a file is judged: the two protocols, in one place.

A MIDI file becomes a whole note table (:mod:`genre_lib.dataset`); a *protocol* says
which of its notes a judge reads:

* ``first100``, the study's: the file's first :data:`FIRST_N` notes;
* ``file``: :data:`FILE_WINDOWS` evenly spaced windows of :data:`FIRST_N` notes over the
  whole file (:func:`genre_lib.windows.even_windows`). A network judges each window and
  the windows vote (:func:`vote`); the baseline reads statistics of all the file's
  notes instead (:func:`notes_read`).

Every judge (:mod:`genre_lib.verdicts`) answers under both, and every figure of the
series names its protocol.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .inference import softmax
from .windows import even_windows

#: the two ways of judging a file (see the module docstring)
PROTOCOLS: tuple[str, ...] = ("first100", "file")

#: notes a window holds, and notes the ``first100`` protocol reads (the study's)
FIRST_N = 100

#: windows per file of the ``file`` protocol (notebook 03 and the README show how the
#: accuracy grows with it and where it levels off)
FILE_WINDOWS = 16


def check_protocol(protocol: str) -> str:
    """``protocol`` itself if it is one of :data:`PROTOCOLS`.

    Raises:
        ValueError: any other name.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}: use one of {PROTOCOLS}")
    return protocol


def windows_per_file(protocol: str, k: int = FILE_WINDOWS) -> int:
    """How many windows a network judges per file under ``protocol``: 1 for
    ``first100`` (the window of the first notes), ``k`` for ``file``."""
    return 1 if check_protocol(protocol) == "first100" else int(k)


def protocol_windows(tables: Sequence[np.ndarray], protocol: str, k: int = FILE_WINDOWS,
                     length: int = FIRST_N) -> np.ndarray:
    """The windows a network reads of whole note tables under ``protocol``:
    ``(files * windows_per_file, length, features)``, file by file.

    Raises:
        ValueError: an unknown protocol, or a table shorter than one window.
    """
    windows, _ = even_windows(list(tables), windows_per_file(protocol, k), length)
    return windows


def vote(window_logits: np.ndarray, n_files: int) -> np.ndarray:
    """Genre probabilities ``(files, genres)`` from the logits of each file's windows
    (``(files * windows, genres)``, file by file): the logits are averaged before the
    softmax, so the probabilities are the normalised geometric mean of the windows' (a
    window's log-probabilities differ from its logits by one number per window). A
    window weighs in by its logit difference, so a very sure window outweighs several
    unsure ones: the vote is a sum of evidence, not a count of windows."""
    z = np.asarray(window_logits)  # averaged in the network's own precision, as a batch of windows is
    return softmax(z.reshape(n_files, -1, z.shape[-1]).mean(axis=1))


def notes_read(tables: Sequence[np.ndarray], protocol: str, first_n: int = FIRST_N) -> list[np.ndarray]:
    """The notes an order-free judge (the baseline's statistics) reads of each table:
    the first ``first_n`` under ``first100``, all of them under ``file``."""
    if check_protocol(protocol) == "first100":
        return [t[:first_n] for t in tables]
    return list(tables)
