"""Where the project keeps things, and whether it runs in quick mode: the one place
that knows. Every folder is computed from the project root, never the working
directory; nothing here creates or reads a folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

#: the project root: the folder holding ``genre_lib/``
PROJECT: Path = Path(__file__).resolve().parents[1]

DATA: Path = PROJECT / "data"
#: the real MIDI files after ``make data`` (git-ignored; the files carry no licence)
REAL_DIR: Path = DATA / "real"
#: the generated demo corpus (git-ignored; made on first use)
DEMO_DIR: Path = DATA / "demo"
#: the list of the real collection's files: genre, repository, commit, path, SHA-1, size, name
MANIFEST: Path = DATA / "sources" / "midi.csv"

#: committed run folders (the models the notebooks explain without training)
MODELS_DIR: Path = PROJECT / "models"
#: run folders the notebooks train, ``runs/<collection id>/`` (git-ignored)
RUNS_DIR: Path = PROJECT / "runs"
#: the mentor's reports, ``reports/<collection id>/`` (git-ignored)
REPORTS_DIR: Path = PROJECT / "reports"
#: committed results (cross-validation JSON)
RESULTS_DIR: Path = PROJECT / "results"
NOTEBOOKS_DIR: Path = PROJECT / "notebooks"

#: the real collection beside the project, where the maintainers keep it
SHARED_MIDI: Path = PROJECT.parent / "shared" / "midi"

#: set to ``1`` for quick mode
QUICK_ENV = "GENRE_QUICK"
#: a folder for the preprocessing cache instead of ``data/cache``
CACHE_ENV = "GENRE_CACHE"


def quick_mode(environ: Mapping[str, str] | None = None) -> bool:
    """Whether to run in quick mode: ``GENRE_QUICK=1``, or any non-empty ``CI`` (CI
    services set it), in ``environ`` (default: this process's environment)."""
    env = os.environ if environ is None else environ
    return env.get(QUICK_ENV) == "1" or bool(env.get("CI"))


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where preprocessed arrays are cached: ``$GENRE_CACHE`` if set and not empty, else ``data/cache``."""
    env = os.environ if environ is None else environ
    return Path(env[CACHE_ENV]) if env.get(CACHE_ENV) else DATA / "cache"


def shown(path: str | Path) -> str:
    """``path`` as printed in banners and notebook outputs: relative to the project
    (``../shared/midi``, ``data/demo``), so no output carries a machine's absolute paths."""
    try:
        return Path(os.path.relpath(Path(path).resolve(), PROJECT)).as_posix()
    except ValueError:  # another drive (Windows): no relative path exists
        return Path(path).name


def write_atomic(path: str | Path, write: Callable[[Path], object], overwrite: bool = False) -> Path:
    """Write a file or a folder by ``write(temporary path)`` beside ``path``, renamed into
    place when done, so a reader never sees half of it and a crash leaves nothing that
    looks complete; what is there already is replaced only with ``overwrite``. Returns ``path``.

    Raises:
        FileExistsError: ``path`` exists (or appeared while writing) and ``overwrite`` is false.
    """
    import shutil
    import tempfile

    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists; not replaced (pass overwrite=True to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)) / path.name
    try:
        write(tmp)
        if path.exists():
            if not overwrite:  # another process finished first
                raise FileExistsError(f"{path}: appeared while writing; not replaced")
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        tmp.replace(path)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)
    return path


def write_json(path: str | Path, obj: object, overwrite: bool = False, **dumps) -> Path:
    """``obj`` as indented JSON (``json.dumps(obj, indent=1, **dumps)`` and a newline) at
    ``path`` by :func:`write_atomic`: whole or absent, refused if there unless ``overwrite``."""
    import json

    text = json.dumps(obj, **{"indent": 1, **dumps}) + "\n"
    return write_atomic(path, lambda tmp: tmp.write_text(text), overwrite)
