"""Which MIDI folder the series reads, which collection it holds, and the runs that go with it: the one rule.

:func:`resolve_data_dir` decides the folder, first match wins:

1. a folder given explicitly (an argument), or the environment variable ``GENRE_DATA``
   when it is set and not empty: read where it is;
2. ``<project>/data/real`` (written by ``make data``, see :mod:`genre_lib.download`)
   when it holds at least one ``.mid``/``.midi`` file under a genre folder;
3. the generated demo corpus (:func:`genre_lib.demo.ensure_demo_data`), which is *not
   real music*.

:func:`identify` then says which collection the folder holds, by its files and never by
its name:

* ``real``: every MIDI file under a genre folder is listed in ``data/sources/midi.csv``
  as ``<genre>/<name>`` with that size, and every listed file of each genre present is
  there (a download of some genres only is still the real collection, of those genres).
  So ``data/real`` after ``make data`` and ``../shared/midi`` are the same collection;
* ``demo``: the complete corpus written by :mod:`genre_lib.demo`;
* ``other``: anything else, such as a folder of the user's own.

The returned :class:`DataChoice` carries a one-line banner saying which data this is, to
print above any result, where the notebooks keep the runs they train on it
(:attr:`DataChoice.runs_dir`), the committed run that goes with it
(:meth:`DataChoice.committed_run`) and its committed cross-validation
(:meth:`DataChoice.committed_cv`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .dataset import DataError, midi_files
from .download import ManifestError, read_manifest
from .paths import MANIFEST, REAL_DIR, shown

#: the environment variable naming a data folder of the user's own
ENV_VAR = "GENRE_DATA"

#: the collections :func:`identify` tells apart
REAL, DEMO, OTHER = "real", "demo", "other"

#: the website each genre folder of the real collection was scraped from
#: (``../shared/midi/README.md``): a pair of genres from one site cannot be told apart
#: by where its files were sequenced, a pair from two sites can
SITES: dict[str, str] = {
    "jazz": "midkar.com",
    "electronic": "freemidi.org",
    "rock": "freemidi.org",
    "country": "freemidi.org",
}


@dataclass(frozen=True)
class Collection:
    """Which data a folder holds, judged by its files.

    Attributes:
        kind: :data:`REAL`, :data:`DEMO` or :data:`OTHER`.
        id: names the folders of this data, ``runs/<id>/`` and ``reports/<id>/``, and is
            stored in run and cross-validation records: the manifest's name (``midi``)
            for the real collection, ``demo`` for the demo corpus, else
            ``<folder name>-<8 hex digits of its file list>`` (another file list,
            another id).
        genres: the genre folders holding MIDI files, lower-case, sorted.
        note: for a folder holding files of the real collection that is not exactly
            it, the first difference, in one line; else ``""``.
    """

    kind: str
    id: str
    genres: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class DataChoice:
    """The data folder to read, where the choice came from, which collection it holds,
    and a line saying so.

    Attributes:
        path: the folder, laid out as ``<path>/<genre>/*.mid``.
        kind: where the choice came from: ``"given"`` (an argument), ``"env"``
            (``GENRE_DATA``), ``"real"`` (``data/real`` from ``make data``) or ``"demo"``
            (the generated corpus, the fallback).
        banner: one line for people saying which data this is.
        collection: what the folder holds (see :func:`identify`).
    """

    path: Path
    kind: str
    banner: str
    collection: Collection

    @property
    def is_demo(self) -> bool:
        """True for the generated demo corpus (its numbers say nothing about real music)."""
        return self.collection.kind == DEMO

    @property
    def is_real(self) -> bool:
        """True for the real collection of ``data/sources/midi.csv``, wherever it lies."""
        return self.collection.kind == REAL

    def same_collection(self, record: Mapping) -> bool:
        """Whether a run's or a cross-validation's ``data`` record was made on this collection."""
        return record_collection(record) == self.collection.id


def has_midi(folder: str | Path) -> bool:
    """True if ``folder/<genre>/`` (any depth) holds at least one .mid or .midi file."""
    return next(midi_files(folder), None) is not None


def midi_listing(folder: str | Path) -> dict[str, int]:
    """Every MIDI file the loader would read in ``folder``, ``<genre, lower-case>/<path
    under the genre folder>`` -> size in bytes."""
    return {f"{genre.name.lower()}/{p.relative_to(genre).as_posix()}": p.stat().st_size
            for genre, p in midi_files(folder)}


def identify(folder: str | Path, manifest: str | Path = MANIFEST) -> Collection:
    """Which collection ``folder`` holds, by its files (see the module docstring).

    An unreadable manifest does not stop anything: the folder is then ``other``, with a
    note naming the manifest and the cause.
    """
    from .demo import is_demo_corpus

    folder, manifest = Path(folder), Path(manifest)
    listing = midi_listing(folder)
    genres = tuple(sorted({key.split("/", 1)[0] for key in listing}))
    if is_demo_corpus(folder):
        return Collection(DEMO, DEMO, genres)
    try:
        entries = read_manifest(manifest)
    except ManifestError as exc:
        note = f"cannot tell whether this is the real collection: {str(exc).replace(str(manifest), shown(manifest))}"
        return Collection(OTHER, _other_id(folder, listing), genres, note)
    listed = {f"{e.genre.lower()}/{e.name}": e.size for e in entries}
    if not listed.keys() & listing.keys():
        return Collection(OTHER, _other_id(folder, listing), genres)
    differences = [f"{key} is not listed" for key in sorted(listing.keys() - listed.keys())]
    differences += [f"{key} has {listing[key]} bytes, the list says {listed[key]}"
                    for key in sorted(listing.keys() & listed.keys()) if listing[key] != listed[key]]
    differences += [f"{key} is listed but not here" for key in sorted(listed.keys() - listing.keys())
                    if key.split("/", 1)[0] in genres]
    if not differences:
        return Collection(REAL, manifest.stem, genres)
    note = (f"not the collection of {shown(manifest)}: {len(differences)} difference(s), the first: {differences[0]}"
            + (" (`make data` completes a download)" if folder.resolve() == REAL_DIR.resolve() else ""))
    return Collection(OTHER, _other_id(folder, listing), genres, note)


def _other_id(folder: Path, listing: dict[str, int]) -> str:
    # the file list, not the folder name alone: two folders called "midi" never share runs
    digest = hashlib.sha1("".join(f"{key}\t{size}\n" for key, size in sorted(listing.items())).encode()).hexdigest()
    return f"{folder.resolve().name}-{digest[:8]}"


def record_collection(record: Mapping) -> str:
    """The collection id a run's or a cross-validation's ``data`` record names: its
    ``collection``, else its ``folder`` (the committed records were made on
    ``../shared/midi``, whose folder name is the real collection's id)."""
    return str(record.get("collection") or record.get("folder") or "")


def resolve_data_dir(
    data_dir: str | Path | None = None, *, real_dir: str | Path = REAL_DIR, demo_dir: str | Path | None = None,
    manifest: str | Path = MANIFEST,
) -> DataChoice:
    """The data folder to use: explicit, else ``GENRE_DATA``, else ``data/real``, else the demo.

    Args:
        data_dir: a folder chosen by the caller; None or ``""`` means "not chosen" (the
            notebooks' ``DATA_DIR = ""``).
        real_dir: where ``make data`` writes the real music (default ``<project>/data/real``).
        demo_dir: the demo corpus folder (default :data:`genre_lib.paths.DEMO_DIR`);
            made if it is not there yet.
        manifest: the list of the real collection's files (default ``data/sources/midi.csv``).

    Raises:
        DataError: the given or ``GENRE_DATA`` folder does not exist.
        FileExistsError: the demo folder holds files the demo generator did not write.
    """
    if data_dir is not None and str(data_dir) != "":
        return _chosen(Path(data_dir).expanduser(), "given", "given explicitly", manifest)
    env = os.environ.get(ENV_VAR, "")
    if env.strip():
        return _chosen(Path(env).expanduser(), "env", f"from {ENV_VAR}", manifest)
    real = Path(real_dir)
    if has_midi(real):
        collection = identify(real, manifest)
        return DataChoice(real, "real", _with_note(
            f"data: real MIDI files in {shown(real)} ({', '.join(collection.genres)}; from `make data`)", collection),
            collection)
    from .demo import ensure_demo_data

    demo = ensure_demo_data(demo_dir)
    return DataChoice(
        demo, "demo",
        f"data: the demo corpus in {shown(demo)}, generated by genre_lib.demo: NOT real music, its accuracies say "
        f"nothing about real music; for the real music run `make data` (or set {ENV_VAR} to a folder "
        "<folder>/<genre>/*.mid)",
        identify(demo, manifest),
    )


def _chosen(path: Path, kind: str, source: str, manifest: str | Path) -> DataChoice:
    if not path.is_dir():
        raise DataError(f"{path}: data folder not found ({source}; expected <folder>/<genre>/*.mid)")
    collection = identify(path, manifest)
    return DataChoice(path, kind, _with_note(f"data: {shown(path)} ({source})", collection), collection)


def _with_note(banner: str, collection: Collection) -> str:
    return f"{banner}; {collection.note}" if collection.note else banner
