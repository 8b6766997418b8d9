"""A folder ``<root>/<genre>/**/*.mid`` as a :class:`Dataset`: every usable file's whole
note table, its first 100 notes, labels, paths, groups and every skipped file with why."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from . import paths as project_paths
from .midi_io import DRUM, FEATURES, MidiError, length_seconds, parse_midi_bytes, read_midi
from .windows import random_windows

#: Notes kept per file, as in the study: the first 100 notes; shorter files are dropped.
MAX_NOTES = 100

#: Bump when the note table or the cache layout changes, so old caches are not read.
CACHE_VERSION = 3

MIDI_SUFFIXES = (".mid", ".midi")


class DataError(ValueError):
    """A data folder or genre selection that cannot be used."""


@dataclass(frozen=True)
class Skipped:
    """A file that was left out, and why."""

    path: str
    reason: str


@dataclass
class Dataset:
    """The note tables of a folder: ``X`` (each file's first ``max_notes`` notes), ``y``
    (indices into the sorted ``genres``), ``paths`` relative to ``root``, ``groups``, the
    ``skipped`` files, and every whole table (:meth:`table`)."""

    X: np.ndarray
    y: np.ndarray
    genres: tuple[str, ...]
    paths: list[str]
    groups: list[str]
    root: Path
    features: tuple[str, ...] = FEATURES
    found: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    n_notes: np.ndarray | None = None
    seconds: np.ndarray | None = None
    notes: np.ndarray | None = None
    offsets: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.y)

    def table(self, i: int) -> np.ndarray:
        """File ``i``'s whole note table."""
        if self.notes is None or self.offsets is None:
            raise DataError(f"{self.root}: this dataset holds only the first {self.X.shape[1]} notes of each file")
        return self.notes[self.offsets[i]:self.offsets[i + 1]]

    def tables(self, index: np.ndarray | None = None) -> list[np.ndarray]:
        """The whole note tables of every file (or of those at ``index``)."""
        index = np.arange(len(self)) if index is None else np.asarray(index, dtype=int)
        return [self.table(i) for i in index]

    def random_windows(self, k: int, seed: int, index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(W, owner)``: ``k`` training windows of every file (or of those at
        ``index``): the first 100 notes and ``k - 1`` seeded random ones."""
        index = np.arange(len(self)) if index is None else np.asarray(index, dtype=int)
        W, owner = random_windows(self.tables(index), k, np.random.default_rng(seed), self.X.shape[1])
        return W, index[owner]

    def subset(self, index: np.ndarray) -> "Dataset":
        """The files at ``index``, as a new Dataset."""
        index = np.asarray(index, dtype=int)
        notes = offsets = None
        if self.notes is not None:
            tables = [self.table(i) for i in index]
            notes = np.concatenate(tables) if tables else self.notes[:0]
            offsets = np.concatenate([[0], np.cumsum([len(t) for t in tables], dtype=np.int64)])
        return replace(self, X=self.X[index], y=self.y[index], paths=[self.paths[i] for i in index],
                       groups=[self.groups[i] for i in index], found=len(index), skipped=[],
                       n_notes=None if self.n_notes is None else self.n_notes[index],
                       seconds=None if self.seconds is None else self.seconds[index], notes=notes, offsets=offsets)

    def report(self) -> dict:
        """Counts of files found, used and skipped (with reasons), JSON-able."""
        # group by the kind of problem, not its particulars ("drums only (57 drum notes)")
        reasons = Counter(re.split(r"[:(]", s.reason, maxsplit=1)[0].strip() for s in self.skipped)
        return {
            "root": str(self.root),
            "genres": list(self.genres),
            "max_notes": int(self.X.shape[1]),
            "found": self.found,
            "used": len(self),
            "skipped": len(self.skipped),
            "used_per_genre": {g: int((self.y == i).sum()) for i, g in enumerate(self.genres)},
            "skip_reasons": dict(sorted(reasons.items())),
            "skipped_files": [{"path": s.path, "reason": s.reason} for s in self.skipped],
        }


def group_of(path: str | Path) -> str:
    """The artist or sequencer of a file, lower-cased: ``Artist - Title`` -> ``artist``,
    ``title_xx`` -> ``_xx``, else the whole name."""
    stem = Path(path).stem
    if " - " in stem:
        return stem.split(" - ", 1)[0].strip().lower()
    match = re.search(r"_([A-Za-z0-9]+)$", stem)
    if match:
        return "_" + match.group(1).lower()
    return stem.lower()


def midi_files(root: str | Path, genres: Iterable[str] | None = None) -> Iterator[tuple[Path, Path]]:
    """``(genre folder, MIDI file)`` for every ``.mid``/``.midi`` under ``root``'s genre
    folders (any depth, hidden skipped; ``genres``: only those), sorted: the one walk of a data folder."""
    root = Path(root)
    if not root.is_dir():
        return
    wanted = None if genres is None else {g.lower() for g in genres}
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and not folder.name.startswith(".") and (wanted is None or folder.name.lower() in wanted):
            yield from ((folder, p) for p in sorted(folder.rglob("*")) if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())


def find_midi_files(root: str | Path, genres: list[str] | tuple[str, ...] | None = None) -> dict[str, list[Path]]:
    """Each genre's MIDI files under ``root/<genre>/``, sorted (DataError: none found)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: data folder not found (expected <root>/<genre>/*.mid)")
    folders = sorted(p.name.lower() for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [g for g in (genres or ()) if g.lower() not in folders]
    if unknown:
        raise DataError(f"{root}: no folder for genre(s) {', '.join(g.lower() for g in unknown)}; "
                        f"available: {', '.join(folders) or 'none'}")
    files: dict[str, list[Path]] = {g.lower(): [] for g in sorted(set(genres or ()), key=str.lower)}
    for folder, path in midi_files(root, genres):
        files.setdefault(folder.name.lower(), []).append(path)
    files = dict(sorted((g, sorted(f)) for g, f in files.items()))
    if not any(files.values()):
        raise DataError(f"{root}: no .mid or .midi files found under {', '.join(files) or 'any genre folder'}")
    return files


def check_usable(table: np.ndarray, path: str | Path, max_notes: int = MAX_NOTES) -> None:
    """Raise :class:`MidiError` for a table of drums only or of fewer than ``max_notes`` notes."""
    if len(table) and (table[:, DRUM] >= 0.5).all():
        raise MidiError(path, f"drums only ({len(table)} drum notes, no pitched instrument)")
    if len(table) < max_notes:
        raise MidiError(path, f"too short: {len(table)} notes < {max_notes}")


def load_file(path: str | Path, max_notes: int = MAX_NOTES) -> np.ndarray:
    """One file's first ``max_notes`` notes, as prediction and saliency read it (MidiError)."""
    table = read_midi(path)
    check_usable(table, path, max_notes)
    return table[:max_notes]


def _cache_key(entries: list[tuple[str, str, str]], max_notes: int) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"v": CACHE_VERSION, "max_notes": max_notes, "features": FEATURES}).encode())
    for entry in entries:
        h.update("\0".join(entry).encode())
        h.update(b"\n")
    return h.hexdigest()[:24]


def _read_cache(path: Path) -> dict | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception:  # a damaged or foreign cache file is simply rebuilt
        return None


def load_dataset(root: str | Path, genres: list[str] | tuple[str, ...] | None = None, max_notes: int = MAX_NOTES,
                 cache_dir: str | Path | None = None, use_cache: bool = True, progress: bool = True) -> Dataset:
    """Every MIDI file of the selected genres as a :class:`Dataset`; short, drum-only,
    empty, corrupt and duplicate files skipped with a reason. Cached in ``cache_dir`` by the
    files' paths and contents (DataError: no file usable)."""
    root = Path(root)
    by_genre = find_midi_files(root, genres)
    genre_names = tuple(sorted(by_genre))
    blobs: list[tuple[str, str, bytes | None, str]] = []  # genre, relpath, bytes, digest
    for genre in genre_names:
        for path in by_genre[genre]:
            rel = path.relative_to(root).as_posix()
            try:
                data = path.read_bytes()
            except OSError as exc:
                blobs.append((genre, rel, None, f"cannot read file: {exc.strerror or exc}"))
                continue
            blobs.append((genre, rel, data, hashlib.sha1(data).hexdigest()))
    key = _cache_key([(g, r, d) for g, r, _, d in blobs], max_notes)
    cache_path = Path(cache_dir or project_paths.cache_dir()) / f"dataset-{key}.npz"
    cached = _read_cache(cache_path) if use_cache else None
    if cached is not None:
        return _from_arrays(cached, root, genre_names, len(blobs), max_notes)

    arrays = _parse(blobs, genre_names, max_notes, progress)
    if not len(arrays["y"]):
        raise DataError(f"{root}: none of the {len(blobs)} MIDI files is usable ({len(arrays['skipped_paths'])} skipped)")
    if use_cache:
        try:
            # a reader sees the old file, none or the new one, never half a cache
            project_paths.write_atomic(cache_path, lambda tmp: np.savez(tmp, **arrays), overwrite=True)
        except OSError as exc:  # a read-only cache folder must not stop the run
            import warnings

            warnings.warn(f"{cache_path}: could not write cache ({exc})", stacklevel=2)
    return _from_arrays(arrays, root, genre_names, len(blobs), max_notes)


def _parse(blobs: list, genres: tuple[str, ...], max_notes: int, progress: bool) -> dict:
    tables, y, paths, skipped, seen = [], [], [], [], {}
    if progress:
        from tqdm.auto import tqdm

        blobs = tqdm(blobs, desc="reading MIDI", unit="file", leave=False)
    for genre, rel, data, digest in blobs:
        if data is None or digest in seen:
            skipped.append(Skipped(rel, digest if data is None else f"duplicate: same bytes as {seen[digest]}"))
            continue
        seen[digest] = rel
        try:
            table = parse_midi_bytes(data, rel)
            check_usable(table, rel, max_notes)
        except MidiError as exc:
            skipped.append(Skipped(rel, exc.reason))
            continue
        tables.append(table)
        y.append(genres.index(genre))
        paths.append(rel)
    n_notes = [len(t) for t in tables]
    return {
        "notes": np.concatenate(tables).astype(np.float32) if tables else np.zeros((0, len(FEATURES)), np.float32),
        "offsets": np.concatenate([[0], np.cumsum(n_notes)]).astype(np.int64),
        "y": np.asarray(y, dtype=np.int64),
        "paths": np.asarray(paths),
        "n_notes": np.asarray(n_notes, dtype=np.int64),
        "seconds": np.asarray([length_seconds(t) for t in tables], dtype=np.float64),
        "skipped_paths": np.asarray([s.path for s in skipped], dtype=str),
        "skipped_reasons": np.asarray([s.reason for s in skipped], dtype=str),
    }


def _from_arrays(arrays: dict, root: Path, genres: tuple[str, ...], found: int, max_notes: int) -> Dataset:
    paths = [str(p) for p in arrays["paths"]]
    notes, offsets = arrays["notes"], arrays["offsets"]
    skipped = [Skipped(str(p), str(r)) for p, r in zip(arrays["skipped_paths"], arrays["skipped_reasons"])]
    return Dataset(X=notes[offsets[:-1, None] + np.arange(max_notes)[None, :]], y=arrays["y"], genres=genres,
                   paths=paths, groups=[group_of(p) for p in paths], root=root, found=found, skipped=skipped,
                   n_notes=arrays["n_notes"], seconds=arrays["seconds"], notes=notes, offsets=offsets)
