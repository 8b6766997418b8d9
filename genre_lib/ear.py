"""An ear: a judge that hears the notes played, trained on recordings, not on our files.
``musicnn`` 0.1.0 (ISC) ships its Million Song Dataset tagger in its wheel; four of its 50
tags are our genres. Its code is TensorFlow 1 (numpy < 1.17), so only its checkpoint is read,
into the same network in TensorFlow 2 ops (:func:`tag_patches`) behind its log-mel front
end in numpy (:func:`log_mel`); ``tests/test_ear.py`` checks both against the original."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

#: musicnn's front end: 16 kHz, 512-point frames every 256 samples, 96 mel bands, and
#: patches of 187 frames (3 s) that the network tags one by one
FS, N_FFT, HOP, N_MELS, PATCH = 16000, 512, 256, 96, 187

#: a clip's level: its loudest mel band's power, under the 6.55 where musicnn's float16
#: overflows. On 120 training files of models/four-genres (seed 0) the argmax of the genre
#: tags (file protocol) was right for 0.51 at peak 0.9 (overflowing), 0.59 at 0.3, 0.62 here.
LOUDEST = 6.0


def msd_tags() -> tuple[str, ...]:
    """The tagger's 50 tags in output order, from the installed musicnn (ImportError in one line)."""
    try:
        from musicnn.configuration import MSD_LABELS
    except ImportError:
        raise ImportError("musicnn is not installed: run `make install` (it installs musicnn==0.1.0 with "
                          "--no-deps, for its weights)") from None
    return tuple(MSD_LABELS)


@lru_cache(maxsize=1)
def weights() -> dict[str, np.ndarray]:
    """The tagger's variables by TensorFlow 1 name, from musicnn's checkpoint."""
    import musicnn
    import tensorflow as tf

    msd_tags()  # the one-line error where musicnn is missing; its files are MSD_musicnn/.index, ...
    reader = tf.compat.v1.train.NewCheckpointReader(str(Path(musicnn.__file__).parent / "MSD_musicnn") + "/")
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if "Adam" not in k and "power" not in k}


def _mel_filters() -> np.ndarray:
    # librosa's default mel filter bank (Slaney's scale and area), as musicnn's: (96, 257)
    step = np.log(6.4) / 27.0  # Slaney: linear below 1 kHz (200/3 Hz a mel), logarithmic above
    top = 15 + np.log(FS / 2 / 1000) / step  # the mel of FS / 2
    mels = np.linspace(0, top, N_MELS + 2)
    edges = np.where(mels >= 15, 1000 * np.exp(step * (mels - 15)), mels * 200 / 3)
    ramps = edges[:, None] - np.linspace(0, FS / 2, N_FFT // 2 + 1)[None, :]
    gaps = np.diff(edges)[:, None]
    tri = np.maximum(0, np.minimum(-ramps[:-2] / gaps[:-1], ramps[2:] / gaps[1:]))
    return (tri * (2.0 / (edges[2:] - edges[:-2]))[:, None]).astype(np.float32)


def log_mel(wave: np.ndarray, loudest: float | None = LOUDEST) -> np.ndarray:
    """musicnn's input of a 16 kHz waveform, ``(frames, 96)``: centred STFT, power, mel bands
    **rounded to float16**, ``log10(10000 x + 1)``. A band's power above 6.55 overflows
    musicnn's float16 and gives every clip the same tags, so the loudest band is first set to
    ``loudest`` (None: as musicnn) and what still overflows saturates."""
    y = np.pad(np.asarray(wave, dtype=np.float32), N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(y, N_FFT)[::HOP]
    hann = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    power = (np.abs(np.fft.rfft(frames * hann, axis=1)) ** 2).astype(np.float32)
    mel = power @ _mel_filters().T
    if loudest is not None and mel.max() > 0:
        mel *= np.float32(loudest / mel.max())
    mel = mel.astype(np.float16)
    with np.errstate(over="ignore"):
        scaled = np.minimum(np.float16(10000) * mel, np.finfo(np.float16).max)
    return np.log10(scaled + np.float16(1)).astype(np.float32)


def patches(mel: np.ndarray) -> np.ndarray:
    """musicnn's non-overlapping 3-s patches of a log-mel ``(patches, 187, 96)`` (a short one repeated)."""
    if len(mel) < PATCH:
        mel = np.tile(mel, (int(np.ceil(PATCH / max(len(mel), 1))), 1))
    n = len(mel) // PATCH
    return mel[: n * PATCH].reshape(n, PATCH, N_MELS)


def tag_patches(batch: np.ndarray) -> np.ndarray:
    """The tagger's 50 tag probabilities ``(patches, 50)`` of log-mel patches (inference mode)."""
    import tensorflow as tf

    w = weights()

    def bn(x, name):  # TensorFlow 1 batch normalisation in inference (epsilon 1e-3)
        scale = w[name + "/gamma"] / np.sqrt(w[name + "/moving_variance"] + 1e-3)
        return (x - w[name + "/moving_mean"]) * scale + w[name + "/beta"]

    def conv(x, name, padding="VALID"):
        return tf.nn.relu(tf.nn.conv2d(x, w[name + "/kernel"], 1, padding) + w[name + "/bias"])

    def pad_time(x):  # musicnn pads time only: 'same' in time, 'valid' across frequency
        return tf.pad(x, [[0, 0], [3, 3], [0, 0], [0, 0]])

    x = bn(tf.constant(batch, tf.float32)[..., None], "batch_normalization")
    # two timbral filters (7 frames x 38 and 67 bands), three temporal ones (128, 64, 32 frames
    # x 1 band), each max-pooled over frequency
    front = [tf.reduce_max(bn(conv(pad_time(x) if i < 2 else x, f"conv2d{f'_{i}' if i else ''}",
                                   "VALID" if i < 2 else "SAME"), f"batch_normalization_{i + 1}"), axis=2)
             for i in range(5)]
    layers = [tf.concat(front, axis=2)]  # (patches, time, 561)
    for i in (5, 6, 7):
        h = bn(conv(pad_time(layers[-1][..., None]), f"conv2d_{i}"), f"batch_normalization_{i + 1}")[:, :, 0, :]
        layers.append(h if i == 5 else h + layers[-1])  # residual from the second on
    mid = tf.concat(layers, axis=2)  # (patches, time, 753)
    # max and mean over time, interleaved per feature as musicnn's flatten lays them out
    pooled = tf.reshape(tf.stack([tf.reduce_max(mid, 1), tf.reduce_mean(mid, 1)], axis=2), [-1, 2 * mid.shape[2]])
    hidden = bn(tf.nn.relu(bn(pooled, "batch_normalization_9") @ w["dense/kernel"] + w["dense/bias"]),
                "batch_normalization_10")
    return tf.sigmoid(hidden @ w["dense_1/kernel"] + w["dense_1/bias"]).numpy()


#: seconds of a window rendered at most (a sparse window of 100 notes can last minutes)
WINDOW_SECONDS = 30.0
#: windows of 100 notes the ``file`` protocol hears: 4 evenly spaced ones, 4 of the 16 the
#: RNN's vote reads (even starts at thirds of the file), about 40 s of music
EAR_WINDOWS = 4


def window_tags(window: np.ndarray) -> np.ndarray:
    """The 50 tag probabilities of a note table played (:data:`WINDOW_SECONDS` at most),
    averaged over its patches; cached by the notes' bytes in ``ear/`` of the cache folder."""
    import hashlib
    from importlib.metadata import version

    from .audio import render_audio
    from .paths import cache_dir

    how = f"MSD_musicnn|tinysoundfont {version('tinysoundfont')}|{FS}|{WINDOW_SECONDS}|{LOUDEST}".encode()
    key = hashlib.sha1(how + np.ascontiguousarray(window, dtype=np.float32).tobytes()).hexdigest()
    path = cache_dir() / "ear" / f"{key}.npy"
    if path.is_file():
        return np.load(path)
    tags = tag_patches(patches(log_mel(render_audio(window, fs=FS, seconds=WINDOW_SECONDS)))).mean(axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp := path.with_name(f"{key}.{os.getpid()}.part"), "wb") as f:
        np.save(f, tags)
    tmp.replace(path)  # whole or absent: two processes may tag the same window
    return tags


@dataclass(eq=False)
class EarVerdict:
    """The audio judge as a verdict: of each whole table it hears what its protocol reads
    (the first 100 notes, or :data:`EAR_WINDOWS` even windows), played and tagged, the tags
    averaged. The tags ``rock``, ``electronic``, ``jazz`` and ``country`` stand for those genres
    (``tags="all"``: all 50); :meth:`fit` calibrates their logits with a logistic regression."""

    genres: tuple[str, ...]
    protocol: str = "file"
    file_windows: int = EAR_WINDOWS
    tags: str = "genres"
    C: float = 1.0
    name: str = "ear"
    params: dict = field(default_factory=dict)  # mean, scale, coef, intercept once fitted

    def __post_init__(self) -> None:
        from .protocols import check_protocol

        if check_protocol(self.protocol) and not {g.lower() for g in self.genres} <= {t.lower() for t in msd_tags()}:
            raise ValueError(f"the tagger has no tag for some of {self.genres}; its tags: {msd_tags()}")

    @property
    def classes_(self) -> tuple[str, ...]:
        """The genres of :meth:`predict_proba`'s columns."""
        return tuple(self.genres)

    def tag_scores(self, tables: Sequence[np.ndarray]) -> np.ndarray:
        """The 50 tag probabilities ``(files, 50)`` of whole tables under the protocol."""
        from .windows import even_windows

        def heard(t: np.ndarray) -> list:
            whole = self.protocol == "file" and len(t) > 100
            return list(even_windows([t], self.file_windows, 100)[0]) if whole else [t[:100]]

        return np.array([np.mean([window_tags(w) for w in heard(t)], axis=0) for t in tables])

    def features(self, scores: np.ndarray) -> np.ndarray:
        """The logits of the genres' tags (or all 50) of scores ``(files, 50)``."""
        lower = [t.lower() for t in msd_tags()]
        cols = range(len(lower)) if self.tags == "all" else [lower.index(g.lower()) for g in self.genres]
        p = np.clip(np.asarray(scores)[:, list(cols)], 1e-6, 1 - 1e-6)
        return np.log(p / (1 - p))

    def fit(self, tables: Sequence[np.ndarray], y: np.ndarray, scores: np.ndarray | None = None) -> "EarVerdict":
        """Calibrate on files labelled ``y`` (``scores``: their tag scores, if known)."""
        from sklearn.linear_model import LogisticRegression

        if sorted(set(np.asarray(y).tolist())) != list(range(len(self.genres))):
            raise ValueError(f"calibration needs files of every genre {self.genres}; got labels {sorted(set(y))}")
        x, y = self.features(self.tag_scores(tables) if scores is None else scores), np.asarray(y)
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-12
        lr = LogisticRegression(C=self.C, max_iter=2000).fit((x - mean) / scale, y)
        coef, intercept = lr.coef_, lr.intercept_
        if len(self.genres) == 2:  # sklearn keeps one row for two classes: the second's
            coef, intercept = np.vstack([0 * coef, coef]), np.r_[0.0, intercept]
        self.params = {k: np.asarray(v).tolist() for k, v in
                       {"mean": mean, "scale": scale, "coef": coef, "intercept": intercept}.items()}
        return self

    def predict_proba(self, tables: Sequence[np.ndarray], scores: np.ndarray | None = None) -> np.ndarray:
        """Genre probabilities ``(files, genres)`` (ValueError: not calibrated)."""
        from .inference import softmax

        if not self.params:
            raise ValueError("the ear is not calibrated: fit it on the run's training files first")
        x = self.features(self.tag_scores(tables) if scores is None else scores)
        p = {k: np.asarray(v) for k, v in self.params.items()}
        return softmax((x - p["mean"]) / p["scale"] @ p["coef"].T + p["intercept"])

    def predict(self, tables: Sequence[np.ndarray]) -> np.ndarray:
        """Each file's predicted genre, an index into :attr:`classes_`."""
        return self.predict_proba(tables).argmax(axis=1)


def load_ears(path: str | Path, genres: Sequence[str]) -> dict[str, EarVerdict]:
    """The calibrated ears of a results file's ``"calibration"`` (``scripts/ear_eval.py``);
    ValueError if they judge other genres than ``genres``."""
    import json

    stored = json.loads(Path(path).read_text())["calibration"]  # protocol: dataclasses.asdict
    if any(tuple(d["genres"]) != tuple(genres) for d in stored.values()):
        raise ValueError(f"its ears judge other genres than {list(genres)}")
    return {p: EarVerdict(**{**d, "genres": tuple(d["genres"])}) for p, d in stored.items()}


def agreement(before: np.ndarray, after: np.ndarray, targets: Sequence[int], groups: Sequence | None = None,
              n: int = 2000, seed: int = 0) -> dict:
    """How a judge moves with edits, from its probabilities before and after each and each
    edit's target: the shares whose argmax is the target after (``agrees``) and before, whose
    target probability ``rose``, its mean change ``p_change``, each with a 95 % bootstrap
    interval (``<key>_95``) over ``groups`` (default: every edit its own)."""
    from .metrics import bootstrap_interval

    before, after, t = np.asarray(before), np.asarray(after), np.asarray(targets, dtype=int)
    r = np.arange(len(t))  # edit by edit: agrees, agreed before, rose, change of p(target)
    rows = np.stack([after.argmax(1) == t, before.argmax(1) == t, after[r, t] > before[r, t],
                     after[r, t] - before[r, t]], axis=1).astype(float)
    g = np.unique(r if groups is None else np.asarray(groups), return_inverse=True)[1]
    by, out = [rows[g == k] for k in range(len(set(g.tolist())))], {"n": len(t)}
    out["groups"] = len(by)
    for j, key in enumerate(("agrees", "agreed_before", "rose", "p_change")):
        out[key] = float(rows[:, j].mean()) if len(t) else float("nan")
        # resampling whole groups (files), not edits: edits of one file are not independent
        out[key + "_95"] = bootstrap_interval(np.arange(len(by)), lambda draws, j=j: np.array(
            [np.concatenate([by[i] for i in d])[:, j].mean() for d in draws]), n=n, seed=seed)
    return out
