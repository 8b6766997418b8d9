"""How a file is judged, in one place: ``first100`` (the study's) reads its first
:data:`FIRST_N` notes; ``file`` reads :data:`FILE_WINDOWS` evenly spaced windows, whose
judgements vote (:func:`vote`), or every note for an order-free judge.
"""

from __future__ import annotations

import numpy as np

from .inference import softmax

#: the two ways of judging a file
PROTOCOLS: tuple[str, ...] = ("first100", "file")

#: notes a window holds, and notes the ``first100`` protocol reads (the study's)
FIRST_N = 100

#: windows per file of the ``file`` protocol (the accuracy levels off at 8 to 16)
FILE_WINDOWS = 16


def check_protocol(protocol: str) -> str:
    """``protocol`` itself if it is one of :data:`PROTOCOLS`.

    Raises:
        ValueError: any other name.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}: use one of {PROTOCOLS}")
    return protocol


def vote(window_logits: np.ndarray, n_files: int) -> np.ndarray:
    """Genre probabilities ``(files, genres)`` from the logits of each file's windows
    (``(files * windows, genres)``, file by file): the logits are averaged before the
    softmax (a normalised geometric mean of the windows' probabilities), so a very sure
    window outweighs several unsure ones."""
    z = np.asarray(window_logits)  # averaged in the network's own precision, as a batch of windows is
    return softmax(z.reshape(n_files, -1, z.shape[-1]).mean(axis=1))
