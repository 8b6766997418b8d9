"""Which MIDI folder the series reads, by one rule (:func:`resolve_data_dir`, first match
wins: a folder given or in ``GENRE_DATA``; ``data/real`` after ``make data``; the demo
corpus), and which collection it holds, by its files, never its name (:func:`identify`):
``real`` when the genre folders hold exactly files of ``data/sources/midi.csv``, ``demo``
for the demo corpus, ``other`` else."""

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


@dataclass(frozen=True)
class Collection:
    """Which data a folder holds: ``kind``, ``id`` (naming ``runs/<id>/``: ``midi`` for the
    real collection, ``demo``, else the folder's name and a hash of its files), ``genres`` and
    a ``note`` on the first difference from the real collection."""

    kind: str
    id: str
    genres: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class DataChoice:
    """The data folder to read, where the choice came from (``given``, ``env``, ``real`` or
    ``demo``), a one-line ``banner`` and its ``collection``."""

    path: Path
    kind: str
    banner: str
    collection: Collection

    @property
    def is_demo(self) -> bool:
        """True for the generated demo corpus."""
        return self.collection.kind == DEMO

    @property
    def is_real(self) -> bool:
        """True for the real collection of ``data/sources/midi.csv``, wherever it lies."""
        return self.collection.kind == REAL

    def same_collection(self, record: Mapping) -> bool:
        """Whether a run's or a cross-validation's ``data`` record is of this collection."""
        return record_collection(record) == self.collection.id


def has_midi(folder: str | Path) -> bool:
    """True if ``folder/<genre>/`` (any depth) holds a .mid or .midi file."""
    return next(midi_files(folder), None) is not None


def midi_listing(folder: str | Path) -> dict[str, int]:
    """Every MIDI file the loader would read, ``<genre>/<path>`` -> size in bytes."""
    return {f"{genre.name.lower()}/{p.relative_to(genre).as_posix()}": p.stat().st_size
            for genre, p in midi_files(folder)}


def identify(folder: str | Path, manifest: str | Path = MANIFEST) -> Collection:
    """Which collection ``folder`` holds, by its files; an unreadable manifest makes it
    ``other``, with a note."""
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


def data_record(data) -> dict:
    """What a run, a cross-validation or stored checks record of their data: the folder's
    name, its collection, genres, files used and skipped, groups."""
    return {"folder": Path(data.root).name, "collection": identify(data.root).id, "genres": list(data.genres),
            "files": len(data), "files_skipped": len(data.skipped), "groups": len(set(data.groups))}


def record_collection(record: Mapping) -> str:
    """The collection id a ``data`` record names: its ``collection``, else its ``folder``
    (the committed records' ``midi`` is the real collection's id)."""
    return str(record.get("collection") or record.get("folder") or "")


def resolve_data_dir(data_dir: str | Path | None = None, *, real_dir: str | Path = REAL_DIR,
                     demo_dir: str | Path | None = None, manifest: str | Path = MANIFEST) -> DataChoice:
    """The data folder to use: ``data_dir``, else ``GENRE_DATA``, else ``real_dir`` when it
    holds MIDI files, else the demo corpus (made in ``demo_dir`` if missing).

    Raises:
        DataError: the given or ``GENRE_DATA`` folder does not exist."""
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
