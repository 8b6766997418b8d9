"""Download the real MIDI collections listed in ``data/sources/midi.csv``.

The manifest names, for each file, its genre, the public GitHub repository and commit
it lives in, its path there, its SHA-1, its size and (optional column ``name``) its file
name in the collection, which may differ from the name in the repository. :func:`download`
fetches every listed file from ``<base_url>/<repository>/<commit>/<path>`` (by default
``https://raw.githubusercontent.com``), checks its SHA-1 and writes it to
``<dest>/<genre>/<name>`` (without a ``name`` column: the last part of the path), one
file at a time, with the standard library only. The committed manifest lists exactly
the files of the real collection, so a complete download rebuilds it byte for byte.

**Licence.** :data:`LICENCE_NOTE`: the files carry no licence, the songs belong to their
authors; use them for training and evaluation only, never commit or redistribute them
(``data/real/`` is git-ignored).

Behaviour, in the order it matters to a user:

* resume: a file already there with the listed SHA-1 is skipped ("already there");
* nothing is overwritten: a file already there with another SHA-1 is a *conflict*,
  reported and left as it is;
* each file is written to a temporary file in its own folder and renamed into place
  only once its size and SHA-1 match, so an interrupted run leaves no partial file;
* a failed file is retried (``retries`` times, backoff doubling from ``backoff``
  seconds), then named in the report, and the run goes on with the others;
* offline (DNS failure, no route, connection refused) the run stops before the first
  file, within seconds, with one :class:`UnreachableError` line saying what to do; a
  connection lost mid-run stops it after :data:`LOST_AFTER` files in a row fail that way.

Two rows of one genre with the same local file name (compared case-insensitively,
since macOS and Windows file systems are) would land on one local file: the first row
is downloaded, every later one is reported as *skipped*. The committed manifest has no
such rows.
"""

from __future__ import annotations

import csv
import hashlib
import http.client
import os
import re
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
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

_CHUNK = 1 << 16
_SHA1 = re.compile(r"[0-9a-f]{40}")


class ManifestError(DataError):
    """A manifest that is missing, lacks columns, or has a row that cannot be used."""


class UnreachableError(ConnectionError):
    """The download host cannot be reached at all (no network, DNS failure, refused)."""


@dataclass(frozen=True)
class ManifestEntry:
    """One row of the manifest: where one MIDI file lives, what it must hash to, and
    its file name in the collection (:attr:`name`; empty means the last part of :attr:`path`)."""

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
        """The local path relative to the destination folder, ``<genre>/<name>``."""
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
    """What :func:`download` did, file by file (paths relative to ``dest``).

    Attributes:
        dest: the destination folder.
        listed: number of manifest entries given.
        downloaded: files fetched and verified in this run.
        already_there: files found with the listed SHA-1 and left alone.
        failed: files that could not be fetched after every retry, with the last cause.
        conflicts: local files with another SHA-1 than listed; never overwritten.
        skipped: rows whose file name an earlier row of the same genre already uses.
        not_tried: files not attempted because the run stopped (see ``stopped``).
        stopped: why the run stopped early, or None.
    """

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
        """True when every listed file (but skipped duplicate names) is now in place."""
        return not self.failed and not self.conflicts and self.stopped is None

    def summary(self) -> str:
        """A few lines for people: the counts, then each problem by file and cause."""
        lines = [
            f"{self.dest}: {self.listed} files listed; downloaded {len(self.downloaded)}, "
            f"already there {len(self.already_there)}, failed {len(self.failed)}, "
            f"conflicts {len(self.conflicts)}"
            + (f", skipped {len(self.skipped)}" if self.skipped else "")
            + (f", not tried {self.not_tried}" if self.not_tried else "")
        ]
        lines += [f"  failed {p.file}: {p.cause}" for p in self.failed]
        lines += [f"  conflict {p.file}: {p.cause}" for p in self.conflicts]
        lines += [f"  skipped {p.file}: {p.cause}" for p in self.skipped]
        if self.stopped:
            lines.append(f"  stopped: {self.stopped}")
        return "\n".join(lines)


def read_manifest(path: str | Path = MANIFEST) -> list[ManifestEntry]:
    """Read a manifest CSV (columns :data:`COLUMNS`, optionally :data:`NAME_COLUMN`) into
    entries, in file order.

    Raises:
        ManifestError: the file is missing or unreadable, lacks a column, has no rows,
            or a row has an unusable value (the message names the file and line).
    """
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
    values = {c: (row.get(c) or "").strip() for c in COLUMNS}
    empty = [c for c in COLUMNS if not values[c]]
    if empty:
        raise ManifestError(f"{where}: empty {', '.join(empty)}")
    genre, name = values["genre"], (row.get(NAME_COLUMN) or "").strip()
    # both become local path parts: refuse anything that could leave the genre folder
    if not _safe_part(genre):
        raise ManifestError(f"{where}: genre {genre!r} cannot be a folder name")
    if name and not _safe_part(name):
        raise ManifestError(f"{where}: name {name!r} cannot be a file name")
    if not name and not _safe_part(values["path"].rsplit("/", 1)[-1]):
        raise ManifestError(f"{where}: path {values['path']!r} does not end in a usable file name")
    sha1 = values["sha1"].lower()
    if not _SHA1.fullmatch(sha1):
        raise ManifestError(f"{where}: sha1 {values['sha1']!r} is not 40 hexadecimal digits")
    if not values["bytes"].isdigit():
        raise ManifestError(f"{where}: bytes {values['bytes']!r} is not a whole number")
    return ManifestEntry(genre, values["repository"], values["commit"], values["path"], sha1, int(values["bytes"]), name)


def _safe_part(part: str) -> bool:
    return part not in (".", "..") and not part.startswith(".") and not any(c in part for c in "/\\\0")


def manifest_genres(entries: Iterable[ManifestEntry]) -> list[str]:
    """The genres of the entries, sorted, each once."""
    return sorted({e.genre for e in entries})


def select_genres(entries: list[ManifestEntry], genres: Iterable[str] | None) -> list[ManifestEntry]:
    """The entries of the given genres (case-insensitive), in manifest order; None: all.

    Raises:
        ManifestError: a genre is not in the manifest (the message lists those that are).
    """
    if not genres:
        return list(entries)
    known = manifest_genres(entries)
    wanted = {g.lower() for g in genres}
    unknown = sorted(wanted - {g.lower() for g in known})
    if unknown:
        raise ManifestError(f"unknown genre(s) {', '.join(unknown)}; the manifest lists: {', '.join(known)}")
    return [e for e in entries if e.genre.lower() in wanted]


def sha1_of(path: str | Path) -> str:
    """The SHA-1 of a file's bytes, as 40 lower-case hexadecimal digits."""
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    entries: list[ManifestEntry],
    dest: str | Path = REAL_DIR,
    *,
    base_url: str = DEFAULT_BASE_URL,
    retries: int = 2,
    backoff: float = 0.5,
    timeout: float = 30.0,
    progress: bool = True,
) -> DownloadReport:
    """Fetch every entry into ``dest/<genre>/<name>``, verified, resumable, never overwriting.

    Args:
        entries: what to fetch (see :func:`read_manifest`, :func:`select_genres`).
        dest: destination folder, created if needed.
        base_url: ``http(s)://host[:port][/prefix]`` the repositories are served under.
        retries: further attempts after a file's first failed one.
        backoff: seconds before the first retry, doubled before each next one.
        timeout: seconds a connection may stay silent before the attempt fails.
        progress: show a progress bar (on stderr).

    Returns:
        The report; ``report.ok`` is False if any file failed or conflicted.

    Raises:
        UnreachableError: files are missing but the host cannot be reached at all.
        ValueError: ``base_url`` is not an http(s) address, or a negative retries/backoff.
        OSError: a file cannot be written in ``dest`` (permissions, disk full).
    """
    if retries < 0 or backoff < 0 or timeout <= 0:
        raise ValueError(f"retries ({retries}) and backoff ({backoff}) must be >= 0, timeout ({timeout}) > 0")
    dest = Path(dest)
    host = _host_of(base_url)
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
    downloaded, failed, stopped, not_tried = [], [], None, 0
    if need:
        _check_reachable(base_url, host, timeout=min(timeout, 5.0), attempts=min(retries + 1, 2), backoff=backoff)
        in_a_row = 0
        with tqdm(total=len(todo), initial=len(todo) - len(need), desc="download", unit="file",
                  disable=not progress, file=sys.stderr) as bar:
            for i, e in enumerate(need):
                problem = _fetch_with_retries(e, dest, base_url, retries, backoff, timeout)
                bar.update(1)
                if problem is None:
                    downloaded.append(e.target)
                    in_a_row = 0
                    continue
                cause, connection = problem
                failed.append(FileProblem(e.target, cause))
                bar.set_postfix(failed=len(failed))
                in_a_row = in_a_row + 1 if connection else 0
                if in_a_row >= LOST_AFTER:
                    not_tried = len(need) - i - 1
                    stopped = (f"lost the connection to {host} ({cause}) for {in_a_row} files in a row; "
                               "rerun to resume")
                    break
    return DownloadReport(
        dest=dest, listed=len(entries), downloaded=tuple(downloaded), already_there=tuple(already),
        failed=tuple(failed), conflicts=tuple(conflicts), skipped=tuple(skipped), not_tried=not_tried,
        stopped=stopped,
    )


def _unique_names(entries: list[ManifestEntry]) -> tuple[list[ManifestEntry], list[FileProblem]]:
    """Entries with distinct local files (first row wins), and the later rows it drops."""
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


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _check_reachable(base_url: str, host: str, timeout: float, attempts: int, backoff: float) -> None:
    """Open (and close) one TCP connection to the host, or to the proxy urllib would use.

    One cheap connection with a short timeout tells "offline" apart in seconds; without
    it every file would wait out its own timeouts and retries.
    """
    parts = urllib.parse.urlsplit(base_url)
    address = (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname):
        p = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        address = (p.hostname, p.port or 80)
    for attempt in range(attempts):
        try:
            socket.create_connection(address, timeout=timeout).close()
            return
        except OSError as exc:
            last = exc
            if attempt + 1 < attempts:
                time.sleep(backoff * 2**attempt)
    via = f" (via proxy {address[0]}:{address[1]})" if address[0] != parts.hostname else ""
    raise UnreachableError(f"cannot reach {host}{via}: {_reason(last)}; {OFFLINE_HINT}")


class _Failure(Exception):
    """One failed attempt: its cause, and whether it was the connection that failed."""

    def __init__(self, cause: str, connection: bool = False):
        super().__init__(cause)
        self.cause, self.connection = cause, connection


def _fetch_with_retries(
    e: ManifestEntry, dest: Path, base_url: str, retries: int, backoff: float, timeout: float
) -> tuple[str, bool] | None:
    """None when the file is in place; else the last attempt's cause and whether it was a connection failure."""
    for attempt in range(retries + 1):
        try:
            _fetch(e, dest / e.genre / e.name, e.url(base_url), timeout)
            return None
        except _Failure as exc:
            failure = exc
        if attempt < retries:
            time.sleep(backoff * 2**attempt)
    return failure.cause, failure.connection


def _fetch(e: ManifestEntry, final: Path, url: str, timeout: float) -> None:
    """Fetch one file into a temporary file beside ``final``; rename it into place once verified."""
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
    try:
        digest, size = hashlib.sha1(), 0
        with os.fdopen(fd, "wb") as out, _open(url, timeout) as response:
            announced = response.headers.get("Content-Length", "")
            while chunk := _read(response, size, e.size):
                size += len(chunk)
                if size > e.size:
                    raise _Failure(f"more than the {e.size} bytes the manifest lists")
                digest.update(chunk)
                out.write(chunk)
        # read(n) returns b"" rather than raising when the server hangs up early
        if announced.isdigit() and size < int(announced):
            raise _Failure(f"the connection closed after {size} of {announced} bytes")
        if size != e.size:
            raise _Failure(f"got {size} bytes, the manifest lists {e.size}")
        if digest.hexdigest() != e.sha1:
            raise _Failure(f"SHA-1 mismatch: got {digest.hexdigest()}, the manifest lists {e.sha1}")
        if final.exists():  # appeared while we fetched: still never overwrite
            raise _Failure("a file appeared at this path during the download; left as it is")
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _open(url: str, timeout: float):
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise _Failure(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _Failure(_reason(exc.reason), connection=isinstance(exc.reason, OSError)) from None
    except (ConnectionError, TimeoutError) as exc:
        raise _Failure(_reason(exc), connection=True) from None
    except (http.client.HTTPException, OSError) as exc:
        raise _Failure(_reason(exc)) from None


def _read(response, got: int, expected: int) -> bytes:
    try:
        return response.read(_CHUNK)
    except http.client.IncompleteRead as exc:
        raise _Failure(f"the connection closed after {got + len(exc.partial)} of {expected} bytes") from None
    except (ConnectionError, TimeoutError) as exc:
        raise _Failure(_reason(exc), connection=True) from None
    except (http.client.HTTPException, OSError) as exc:
        raise _Failure(_reason(exc)) from None
