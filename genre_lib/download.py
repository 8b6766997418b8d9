"""Download the real MIDI collection listed in ``data/sources/midi.csv`` with pooch: each
row's file (genre, GitHub repository, commit, path, SHA-1, size, name) to
``<dest>/<genre>/<name>``, SHA-1 checked, resumable, never overwriting, a failed file
retried then reported; offline, one :class:`UnreachableError` line. **Licence**:
:data:`LICENCE_NOTE`."""

from __future__ import annotations

import csv
import re
import sys
import time
import urllib.parse
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Iterable

from tqdm.auto import tqdm

from .dataset import DataError
from .paths import MANIFEST, REAL_DIR

DEFAULT_BASE_URL = "https://raw.githubusercontent.com"
#: the columns every manifest has
COLUMNS = ("genre", "repository", "commit", "path", "sha1", "bytes")
#: the column naming a file in the collection when it differs from its name in the repository
NAME_COLUMN = "name"

LICENCE_NOTE = (
    "These MIDI files carry no licence: the songs belong to their authors. Use them for "
    "training and evaluation only; never commit or redistribute them."
)
OFFLINE_HINT = (
    "no network? set GENRE_DATA to a folder of your own (<folder>/<genre>/*.mid), or run "
    "without data: the notebooks fall back to the demo corpus"
)

#: files in a row failing with a connection error after which a run stops (the network is gone)
LOST_AFTER = 3

_SHA1 = re.compile(r"[0-9a-f]{40}")


class ManifestError(DataError):
    """A manifest that is missing, lacks columns, or has a row that cannot be used."""


class UnreachableError(ConnectionError):
    """The download host cannot be reached at all (no network, DNS failure, refused)."""


@dataclass(frozen=True)
class ManifestEntry:
    """One row of the manifest: where a file lives, its SHA-1 and size, and its name in
    the collection (empty: the last part of :attr:`path`)."""

    genre: str
    repository: str
    commit: str
    path: str
    sha1: str
    size: int
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.path.rsplit("/", 1)[-1])

    @property
    def target(self) -> str:
        """The local path relative to the destination, ``<genre>/<name>``."""
        return f"{self.genre}/{self.name}"

    def url(self, base_url: str = DEFAULT_BASE_URL) -> str:
        """The file's address: ``<base_url>/<repository>/<commit>/<path, URL-encoded>``."""
        return f"{base_url.rstrip('/')}/{self.repository}/{self.commit}/{urllib.parse.quote(self.path)}"


@dataclass(frozen=True)
class FileProblem:
    """A listed file that is not (or not the listed file) in the destination, and why."""

    file: str
    cause: str


@dataclass(frozen=True)
class DownloadReport:
    """What :func:`download` did, file by file: ``downloaded``, ``already_there``,
    ``failed``, ``conflicts`` (another SHA-1, never overwritten), ``skipped`` (a repeated
    name), ``not_tried`` and why it ``stopped`` early."""

    dest: Path
    listed: int
    downloaded: tuple[str, ...] = ()
    already_there: tuple[str, ...] = ()
    failed: tuple[FileProblem, ...] = ()
    conflicts: tuple[FileProblem, ...] = ()
    skipped: tuple[FileProblem, ...] = ()
    not_tried: int = 0
    stopped: str | None = None

    @property
    def ok(self) -> bool:
        """Every listed file (but skipped duplicate names) is now in place."""
        return not self.failed and not self.conflicts and self.stopped is None

    def summary(self) -> str:
        """A few lines for people: the counts, then each problem."""
        lines = [
            f"{self.dest}: {self.listed} files listed; downloaded {len(self.downloaded)}, "
            f"already there {len(self.already_there)}, failed {len(self.failed)}, "
            f"conflicts {len(self.conflicts)}"
            + (f", skipped {len(self.skipped)}" if self.skipped else "")
            + (f", not tried {self.not_tried}" if self.not_tried else "")
        ]
        lines += [f"  {kind} {p.file}: {p.cause}" for kind, problems in
                  (("failed", self.failed), ("conflict", self.conflicts), ("skipped", self.skipped)) for p in problems]
        return "\n".join(lines + ([f"  stopped: {self.stopped}"] if self.stopped else []))


def read_manifest(path: str | Path = MANIFEST) -> list[ManifestEntry]:
    """A manifest CSV's entries in order (ManifestError naming the file and line)."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    entries = []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ManifestError(
                    f"{path}: not a manifest: missing column(s) {', '.join(missing)} (expected {','.join(COLUMNS)})"
                )
            for row in reader:
                entries.append(_entry(row, f"{path}, line {reader.line_num}"))
    except UnicodeDecodeError:
        raise ManifestError(f"{path}: not a UTF-8 text file") from None
    except csv.Error as exc:
        raise ManifestError(f"{path}: unreadable CSV: {exc}") from None
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read manifest: {exc.strerror or exc}") from None
    if not entries:
        raise ManifestError(f"{path}: manifest lists no files")
    return entries


def _entry(row: dict, where: str) -> ManifestEntry:
    v = {c: (row.get(c) or "").strip() for c in (*COLUMNS, NAME_COLUMN)}
    empty = [c for c in COLUMNS if not v[c]]
    if empty:
        raise ManifestError(f"{where}: empty {', '.join(empty)}")
    genre, name, path = v["genre"], v[NAME_COLUMN], v["path"]
    # both become local path parts: refuse anything that could leave the genre folder
    for part, problem in ((genre, f"genre {genre!r} cannot be a folder name"),
                          (name, f"name {name!r} cannot be a file name") if name else
                          (path.rsplit("/", 1)[-1], f"path {path!r} does not end in a usable file name")):
        if part in (".", "..") or part.startswith(".") or any(c in part for c in "/\\\0"):
            raise ManifestError(f"{where}: {problem}")
    if not _SHA1.fullmatch(v["sha1"].lower()):
        raise ManifestError(f"{where}: sha1 {v['sha1']!r} is not 40 hexadecimal digits")
    if not v["bytes"].isdigit():
        raise ManifestError(f"{where}: bytes {v['bytes']!r} is not a whole number")
    return ManifestEntry(genre, v["repository"], v["commit"], path, v["sha1"].lower(), int(v["bytes"]), name)


def select_genres(entries: list[ManifestEntry], genres: Iterable[str] | None) -> list[ManifestEntry]:
    """The entries of the given genres (case-insensitive; None: all), in order."""
    if not genres:
        return list(entries)
    known = sorted({e.genre for e in entries})
    wanted = {g.lower() for g in genres}
    unknown = sorted(wanted - {g.lower() for g in known})
    if unknown:
        raise ManifestError(f"unknown genre(s) {', '.join(unknown)}; the manifest lists: {', '.join(known)}")
    return [e for e in entries if e.genre.lower() in wanted]


def sha1_of(path: str | Path) -> str:
    """A file's SHA-1, 40 lower-case hex digits (as pooch checks downloads)."""
    import pooch

    return pooch.file_hash(str(path), alg="sha1")


def download(entries: list[ManifestEntry], dest: str | Path = REAL_DIR, *, base_url: str = DEFAULT_BASE_URL,
             retries: int = 2, backoff: float = 0.5, timeout: float = 30.0, progress: bool = True) -> DownloadReport:
    """Fetch every entry into ``dest/<genre>/<name>``, verified, resumable, never
    overwriting: ``retries`` further attempts per file, ``backoff`` seconds before the first
    (doubled after), ``timeout`` seconds of silence per attempt.

    Raises:
        UnreachableError: the host cannot be reached at all (one line)."""
    if retries < 0 or backoff < 0 or timeout <= 0:
        raise ValueError(f"retries ({retries}) and backoff ({backoff}) must be >= 0, timeout ({timeout}) > 0")
    dest, host = Path(dest), _host_of(base_url)
    todo, skipped = _unique_names(entries)
    already, conflicts, need = [], [], []
    for e in todo:  # local checks first: a complete folder needs no network at all
        local = dest / e.genre / e.name
        if not local.exists():
            need.append(e)
        elif not local.is_file():
            conflicts.append(FileProblem(e.target, "something other than a file is in the way; left as it is"))
        elif (found := sha1_of(local)) == e.sha1:
            already.append(e.target)
        else:
            conflicts.append(FileProblem(
                e.target, f"exists with SHA-1 {found}, the manifest lists {e.sha1}; left as it is "
                          "(move it away and rerun to get the listed file)"))
    fetch = partial(_fetch, dest=dest, base_url=base_url, retries=retries, backoff=backoff, timeout=timeout)
    # the first file tells an unreachable host apart before anything is shown
    first = fetch(need[0]) if need else None
    if first is not None and first.unreachable:
        raise UnreachableError(f"cannot reach {host}: {first.cause} (fetching {need[0].target}); {OFFLINE_HINT}")
    downloaded, failed, stopped, in_a_row = [], [], None, 0
    with tqdm(total=len(todo), initial=len(todo) - len(need), desc="download", unit="file",
              disable=not progress or not need, file=sys.stderr) as bar:
        for i, e in enumerate(need):
            problem = first if i == 0 else fetch(e)
            bar.update(1)
            if problem is None:
                downloaded.append(e.target)
            else:
                failed.append(FileProblem(e.target, problem.cause))
            in_a_row = in_a_row + 1 if problem is not None and problem.connection else 0
            if in_a_row >= LOST_AFTER:
                stopped = f"lost the connection to {host} ({problem.cause}) for {in_a_row} files in a row; rerun to resume"
                break
    return DownloadReport(dest, len(entries), tuple(downloaded), tuple(already), tuple(failed), tuple(conflicts),
                          tuple(skipped), len(need) - i - 1 if stopped else 0, stopped)


def _unique_names(entries: list[ManifestEntry]) -> tuple[list[ManifestEntry], list[FileProblem]]:
    first: dict[tuple[str, str], ManifestEntry] = {}
    todo, skipped = [], []
    for e in entries:
        key = (e.genre.lower(), e.name.lower())
        if key in first:
            kept = first[key]
            skipped.append(FileProblem(
                e.target, f"{e.repository}/{e.path}: same file name as {kept.repository}/{kept.path} "
                          "(listed earlier, downloaded instead)"))
        else:
            first[key] = e
            todo.append(e)
    return todo, skipped


def _host_of(base_url: str) -> str:
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base URL {base_url!r} is not an http(s)://host address")
    return parts.netloc


@dataclass
class _Failure:
    # unreachable: no connection could be opened at all (the host, not this file, is the problem)

    cause: str
    connection: bool = False
    unreachable: bool = False


def _fetch(e: ManifestEntry, dest: Path, base_url: str, retries: int, backoff: float, timeout: float
           ) -> _Failure | None:
    # the failure is a value, not an exception: the caller decides to stop or go on
    import logging

    import pooch
    import requests
    from urllib3.exceptions import NewConnectionError

    pooch.get_logger().setLevel(logging.WARNING)
    for attempt in range(retries + 1):
        try:
            pooch.retrieve(e.url(base_url), known_hash=f"sha1:{e.sha1}", fname=e.name, path=dest / e.genre,
                           downloader=pooch.HTTPDownloader(timeout=timeout), progressbar=False)
            return None
        except requests.exceptions.HTTPError as exc:
            failure = _Failure(f"HTTP {exc.response.status_code} {exc.response.reason}")
        except requests.exceptions.ChunkedEncodingError as exc:
            got = re.search(r"IncompleteRead\((\d+) bytes read, (\d+) more expected", str(exc))
            failure = _Failure(f"the connection closed after {got[1]} of {int(got[1]) + int(got[2])} bytes" if got
                               else f"the connection closed early ({exc})")
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            reason = getattr(exc.args[0], "reason", exc) if exc.args else exc
            failure = _Failure(_reason(reason), connection=True, unreachable=isinstance(
                exc, requests.exceptions.ConnectTimeout) or isinstance(reason, NewConnectionError))
        except requests.exceptions.RequestException as exc:
            failure = _Failure(_reason(exc))
        except ValueError as exc:  # pooch: the SHA-1 of the downloaded bytes is not the listed one
            got = re.search(r"but got ([0-9a-f]{40})", str(exc))
            failure = _Failure(f"SHA-1 mismatch: got {got[1] if got else '?'}, the manifest lists {e.sha1}")
        if failure.unreachable and attempt >= 1:
            break  # refused twice: no network, not a passing hiccup
        if attempt < retries:
            time.sleep(backoff * 2**attempt)
    return failure


def _reason(exc: BaseException) -> str:
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\] ([^)'\]]+)", text)
    return found[1] if found else (getattr(exc, "strerror", None) or text or type(exc).__name__)
