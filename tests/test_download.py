"""genre_lib.download end to end, against a local HTTP server laid out like the repositories.

The server (stdlib ``http.server`` on 127.0.0.1, a free port) serves real files of
``../shared/midi``, read in place, under ``/<repository>/<commit>/<path>``; the test
writes the manifest with the files' real SHA-1. Nothing here touches the internet.
The committed manifest is checked against ``../shared/midi`` itself: it lists exactly
its files, and a download of all of it over the local server rebuilds it file for file.
"""

from __future__ import annotations

import csv
import filecmp
import hashlib
import os
import socket
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from genre_lib import cli, paths
from genre_lib.data_source import identify, resolve_data_dir
from genre_lib.locations import runs_dir
from genre_lib.download import (
    COLUMNS,
    LOST_AFTER,
    NAME_COLUMN,
    ManifestEntry,
    ManifestError,
    UnreachableError,
    download,
    read_manifest,
    select_genres,
    sha1_of,
)
from genre_lib.midi_io import read_midi

from .conftest import SHARED_MIDI, needs_shared

pytestmark = [needs_shared, pytest.mark.real_data]

REPOS = {"jazz": ("DeepSymphony/scrapers", "data/midkar"), "electronic": ("toxtli/freemidi-scraper", "genre-dance-eletric")}
COMMIT = "9074877f8236d1074dcdb99e1c9998f18ecb2b1f"
FAST = dict(retries=1, backoff=0.0, progress=False)  # retries still happen, without the waits


class Server:
    """What the test HTTP server serves and how, and what it was asked for."""

    def __init__(self) -> None:
        self.routes: dict[str, Path] = {}  # URL path (decoded) -> file read in place
        self.half: set[str] = set()  # send the headers and half the bytes, then hang up
        self.drop: bool = False  # hang up on every request without answering
        self.requests: Counter[str] = Counter()
        self.url = ""


def _handler(state: Server):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = urllib.parse.unquote(self.path)
            state.requests[path] += 1
            if state.drop:
                return
            file = state.routes.get(path)
            if file is None:
                self.send_error(404, "Not Found")
                return
            data = file.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            # HTTP/1.0: returning closes the connection, so a short body is a cut transfer
            self.wfile.write(data[: len(data) // 2] if path in state.half else data)

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture
def server():
    state = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    # a short poll interval: shutdown() waits for it at every teardown
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def _entry(file: Path, sha1: str | None = None) -> ManifestEntry:
    genre = file.parent.name
    repo, folder = REPOS[genre]
    data = file.read_bytes()
    return ManifestEntry(genre, repo, COMMIT, f"{folder}/{file.name}", sha1 or hashlib.sha1(data).hexdigest(), len(data))


@pytest.fixture
def entries(server: Server) -> list[ManifestEntry]:
    """Two jazz and two electronic files of ../shared/midi (names with spaces among them), served."""
    files = [f for g in ("jazz", "electronic") for f in sorted((SHARED_MIDI / g).glob("*.mid"))[:2]]
    out = [_entry(f) for f in files]
    for e, f in zip(out, files):
        server.routes[f"/{e.repository}/{e.commit}/{e.path}"] = f
    return out


def write_manifest(path: Path, entries: list[ManifestEntry], names: bool = False) -> Path:
    """The entries as a manifest CSV; with ``names``, with the ``name`` column."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*COLUMNS, NAME_COLUMN] if names else COLUMNS)
        for e in entries:
            w.writerow([e.genre, e.repository, e.commit, e.path, e.sha1, e.size, *([e.name] if names else [])])
    return path


def leftovers(dest: Path) -> list[str]:
    """Temporary files left in the destination (there must be none)."""
    return sorted(str(p.relative_to(dest)) for p in dest.rglob("*.part"))


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_all_files_downloaded_verified_and_readable(server, entries, tmp_path):
    assert any(" " in e.path for e in entries)  # URL-encoding is exercised
    report = download(entries, tmp_path / "real", base_url=server.url, **FAST)
    assert report.ok, report.summary()
    assert report.downloaded == tuple(e.target for e in entries)
    assert report.already_there == () and report.failed == () and report.conflicts == ()
    for e in entries:
        written = tmp_path / "real" / e.genre / e.name
        assert hashlib.sha1(written.read_bytes()).hexdigest() == e.sha1
        assert written.read_bytes() == (SHARED_MIDI / e.genre / e.name).read_bytes()
    table = read_midi(tmp_path / "real" / entries[0].target)  # a real MIDI file, parsed again
    assert len(table) > 100
    assert leftovers(tmp_path / "real") == []
    assert "downloaded 4, already there 0, failed 0, conflicts 0" in report.summary()


def test_second_run_downloads_nothing(server, entries, tmp_path):
    download(entries, tmp_path / "real", base_url=server.url, **FAST)
    asked = sum(server.requests.values())
    again = download(entries, tmp_path / "real", base_url=server.url, **FAST)
    assert again.ok
    assert again.downloaded == () and again.already_there == tuple(e.target for e in entries)
    assert sum(server.requests.values()) == asked  # not one request
    # a complete folder needs no network at all
    offline = download(entries, tmp_path / "real", base_url=f"http://127.0.0.1:{free_port()}", **FAST)
    assert offline.ok and len(offline.already_there) == 4
    assert "downloaded 0, already there 4" in again.summary()


def test_hash_mismatch_is_reported_and_leaves_no_file(server, entries, tmp_path, capsys):
    bad = entries[1]
    wrong = ManifestEntry(bad.genre, bad.repository, bad.commit, bad.path, "0" * 40, bad.size)
    listed = [entries[0], wrong, *entries[2:]]
    report = download(listed, tmp_path / "real", base_url=server.url, **FAST)
    assert not report.ok
    assert [p.file for p in report.failed] == [bad.target]
    assert "SHA-1 mismatch" in report.failed[0].cause and bad.sha1 in report.failed[0].cause
    assert not (tmp_path / "real" / bad.target).exists()
    assert leftovers(tmp_path / "real") == []
    assert len(report.downloaded) == 3
    assert server.requests[f"/{bad.repository}/{bad.commit}/{bad.path}"] == 2  # first attempt + 1 retry
    # the command line: the same failure named, and a non-zero exit
    manifest = write_manifest(tmp_path / "midi.csv", listed)
    code = cli.main(["download", "--manifest", str(manifest), "--dest", str(tmp_path / "real"),
                     "--base-url", server.url, "--backoff", "0"])
    out = capsys.readouterr().out
    assert code == 1 and f"  failed {bad.target}: SHA-1 mismatch: got {bad.sha1}, the manifest lists {'0' * 40}" in out
    assert not (tmp_path / "real" / bad.target).exists()


def test_missing_file_is_retried_named_and_the_run_goes_on(server, entries, tmp_path):
    missing = ManifestEntry("jazz", REPOS["jazz"][0], COMMIT, "data/midkar/not there_zz.mid", "1" * 40, 10)
    listed = [entries[0], missing, *entries[1:]]
    report = download(listed, tmp_path / "real", base_url=server.url, retries=2, backoff=0.0, progress=False)
    assert [(p.file, p.cause) for p in report.failed] == [("jazz/not there_zz.mid", "HTTP 404 Not Found")]
    assert server.requests[f"/{missing.repository}/{COMMIT}/{missing.path}"] == 3
    assert report.downloaded == tuple(e.target for e in entries)  # the ones after it too
    assert "  failed jazz/not there_zz.mid: HTTP 404 Not Found" in report.summary().splitlines()


def test_interrupted_transfer_leaves_no_partial_file_and_a_rerun_completes(server, entries, tmp_path):
    cut = entries[2]
    server.half.add(f"/{cut.repository}/{cut.commit}/{cut.path}")
    first = download(entries, tmp_path / "real", base_url=server.url, **FAST)
    assert [p.file for p in first.failed] == [cut.target]
    assert f"closed after {cut.size // 2} of {cut.size} bytes" in first.failed[0].cause
    assert not (tmp_path / "real" / cut.target).exists()
    assert leftovers(tmp_path / "real") == []
    server.half.clear()
    second = download(entries, tmp_path / "real", base_url=server.url, **FAST)
    assert second.ok
    assert second.downloaded == (cut.target,) and len(second.already_there) == 3
    assert hashlib.sha1((tmp_path / "real" / cut.target).read_bytes()).hexdigest() == cut.sha1


def test_local_file_with_another_hash_is_never_overwritten(server, entries, tmp_path):
    mine = tmp_path / "real" / entries[0].target
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"my own edit of this song")
    report = download(entries, tmp_path / "real", base_url=server.url, **FAST)
    assert mine.read_bytes() == b"my own edit of this song"
    assert [p.file for p in report.conflicts] == [entries[0].target]
    assert "left as it is" in report.conflicts[0].cause
    assert not report.ok and len(report.downloaded) == 3
    assert server.requests[f"/{entries[0].repository}/{COMMIT}/{entries[0].path}"] == 0


def test_offline_gives_up_within_seconds_with_one_line(entries, tmp_path):
    port = free_port()
    start = time.monotonic()
    with pytest.raises(UnreachableError) as info:
        download(entries, tmp_path / "real", base_url=f"http://127.0.0.1:{port}", progress=False)  # default retries
    seconds = time.monotonic() - start
    message = str(info.value)
    assert seconds < 5, f"took {seconds:.1f} s"
    assert "\n" not in message
    assert message.startswith(f"cannot reach 127.0.0.1:{port}: ")
    assert "GENRE_DATA" in message and "demo corpus" in message
    assert not (tmp_path / "real").exists() or leftovers(tmp_path / "real") == []


def test_a_connection_lost_mid_run_stops_the_run(server, entries, tmp_path):
    server.drop = True  # the server accepts connections but hangs up without an answer
    report = download(entries, tmp_path / "real", base_url=server.url, retries=0, backoff=0.0, progress=False)
    assert len(report.failed) == LOST_AFTER and report.not_tried == len(entries) - LOST_AFTER
    assert report.stopped and "rerun to resume" in report.stopped
    assert report.downloaded == () and leftovers(tmp_path / "real") == []


def test_duplicate_file_names_keep_the_first_row(server, entries, tmp_path):
    first = entries[0]
    twin = ManifestEntry(first.genre, "someone/else", COMMIT, f"other/{first.name.upper()}", "2" * 40, 1)
    report = download([first, twin], tmp_path / "real", base_url=server.url, **FAST)
    assert report.downloaded == (first.target,) and report.ok
    assert [p.file for p in report.skipped] == [twin.target]
    assert f"same file name as {first.repository}/{first.path}" in report.skipped[0].cause


def test_read_manifest_reads_the_committed_manifest():
    entries = read_manifest()
    assert Counter(e.genre for e in entries) == {"jazz": 601, "electronic": 425, "rock": 612, "country": 535}
    assert len({(e.genre, e.name.lower()) for e in entries}) == len(entries)  # no two land on one file
    assert all(e.url().startswith("https://raw.githubusercontent.com/") for e in entries)
    assert " " not in "".join(e.url() for e in entries)
    # country is named in the collection's "Artist - Title.mid" form, not the repository's "Artist_Title.mid"
    country = [e for e in entries if e.genre == "country"]
    assert all(" - " in e.name and e.name != e.path.rsplit("/", 1)[-1] for e in country)


def test_the_committed_list_is_exactly_the_shared_collection():
    """Every row's <genre>/<name> is in ../shared/midi with the listed SHA-1 and size, and
    nothing else is there: a complete download rebuilds the folder."""
    entries = read_manifest()
    listed = {e.target: e for e in entries}
    present = {p.relative_to(SHARED_MIDI).as_posix() for p in SHARED_MIDI.glob("*/**/*") if p.is_file()}
    assert present == set(listed), (sorted(present - set(listed))[:3], sorted(set(listed) - present)[:3])
    wrong = [t for t, e in listed.items()
             if (SHARED_MIDI / t).stat().st_size != e.size or sha1_of(SHARED_MIDI / t) != e.sha1]
    assert wrong == []


def _shared_entries(genre: str, n: int) -> list[ManifestEntry]:
    """The first ``n`` rows of one genre of the committed manifest."""
    return [e for e in read_manifest() if e.genre == genre][:n]


def test_the_name_column_names_the_file_in_the_collection(server, tmp_path):
    rows = _shared_entries("country", 3)
    assert all(e.name != e.path.rsplit("/", 1)[-1] for e in rows)  # the point: two names per file
    for e in rows:  # served where the repository has it, under its repository name
        server.routes[f"/{e.repository}/{e.commit}/{e.path}"] = SHARED_MIDI / e.target
    manifest = write_manifest(tmp_path / "named.csv", rows, names=True)
    assert read_manifest(manifest) == rows
    report = download(read_manifest(manifest), tmp_path / "real", base_url=server.url, **FAST)
    assert report.ok and report.downloaded == tuple(f"country/{e.name}" for e in rows)
    for e in rows:
        assert (tmp_path / "real" / "country" / e.name).read_bytes() == (SHARED_MIDI / e.target).read_bytes()
    # a list without the column keeps working: the repository's file name
    plain = read_manifest(write_manifest(tmp_path / "plain.csv", rows))
    assert [e.name for e in plain] == [e.path.rsplit("/", 1)[-1] for e in rows]
    again = download(plain, tmp_path / "plain", base_url=server.url, **FAST)
    assert again.ok and sorted(p.name for p in (tmp_path / "plain" / "country").iterdir()) == sorted(e.name for e in plain)


@pytest.mark.slow
def test_make_data_rebuilds_the_shared_collection_file_for_file(server, tmp_path, capsys):
    """`make data` (the download command's defaults: the committed list into a folder),
    against a local server laid out as the list's repositories over ../shared/midi."""
    for e in read_manifest():
        server.routes[f"/{e.repository}/{e.commit}/{e.path}"] = SHARED_MIDI / e.target
    dest = tmp_path / "real"
    start = time.monotonic()
    code = cli.main(["download", "--dest", str(dest), "--base-url", server.url, "--backoff", "0"])
    seconds = time.monotonic() - start
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2173 files listed; downloaded 2173, already there 0, failed 0, conflicts 0" in out
    ours = sorted(os.path.relpath(p, dest) for p in dest.rglob("*") if p.is_file())
    theirs = sorted(os.path.relpath(p, SHARED_MIDI) for p in SHARED_MIDI.glob("*/**/*") if p.is_file())
    assert ours == theirs
    match, mismatch, errors = filecmp.cmpfiles(dest, SHARED_MIDI, ours, shallow=False)
    assert (len(match), mismatch, errors) == (len(theirs), [], [])
    assert identify(dest) == identify(SHARED_MIDI) and identify(dest).kind == "real"
    assert runs_dir(resolve_data_dir(dest)) == runs_dir(resolve_data_dir(SHARED_MIDI)) == paths.RUNS_DIR / "midi"
    print(f"downloaded and compared {len(ours)} files in {seconds:.1f} s")


def test_bad_manifests_are_one_line_errors_naming_the_file(entries, tmp_path):
    with pytest.raises(ManifestError, match=r"nope\.csv: manifest not found"):
        read_manifest(tmp_path / "nope.csv")
    lacking = tmp_path / "lacking.csv"
    lacking.write_text("genre,repository,path\njazz,a/b,x.mid\n")
    with pytest.raises(ManifestError, match=r"lacking\.csv: not a manifest: missing column\(s\) commit, sha1, bytes"):
        read_manifest(lacking)
    bad_row = write_manifest(tmp_path / "bad.csv", entries)
    bad_row.write_text(bad_row.read_text() + "jazz,a/b,c,../../x.mid,abc,12\n")
    with pytest.raises(ManifestError, match=r"bad\.csv, line 6: sha1 'abc' is not 40 hexadecimal digits"):
        read_manifest(bad_row)
    escape = tmp_path / "escape.csv"
    escape.write_text(",".join(COLUMNS) + "\n../up,a/b,c,x.mid," + "0" * 40 + ",1\n")
    with pytest.raises(ManifestError, match=r"escape\.csv, line 2: genre '\.\./up' cannot be a folder name"):
        read_manifest(escape)
    named = tmp_path / "named.csv"
    named.write_text(",".join([*COLUMNS, NAME_COLUMN]) + "\njazz,a/b,c,x.mid," + "0" * 40 + ",1,../x.mid\n")
    with pytest.raises(ManifestError, match=r"named\.csv, line 2: name '\.\./x\.mid' cannot be a file name$"):
        read_manifest(named)
    with pytest.raises(ManifestError, match="unknown genre.*pop; the manifest lists: electronic, jazz$"):
        select_genres(entries, ["Jazz", "pop"])
    assert select_genres(entries, ["JAZZ"]) == entries[:2]


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_download(server, entries, tmp_path, capsys):
    manifest = write_manifest(tmp_path / "midi.csv", entries)
    dest = tmp_path / "real"
    args = ["download", "--manifest", str(manifest), "--dest", str(dest), "--base-url", server.url, "--backoff", "0"]

    code, out, err = run(args, capsys)
    assert code == 0, err
    assert out.splitlines()[0].startswith("Licence: These MIDI files carry no licence")
    assert f"{dest}: 4 files listed; downloaded 4, already there 0, failed 0, conflicts 0" in out
    assert sorted(p.name for p in dest.glob("*/*.mid")) == sorted(e.name for e in entries)

    code, out, err = run(args, capsys)
    assert code == 0 and "downloaded 0, already there 4" in out

    code, out, err = run([*args, "--genres", "jazz", "pop"], capsys)
    assert code == 2 and out == ""
    assert err == "genre-lib download: error: unknown genre(s) pop; the manifest lists: electronic, jazz\n"

    (dest / entries[3].target).unlink()
    server.routes.pop(f"/{entries[3].repository}/{COMMIT}/{entries[3].path}")
    code, out, err = run(args, capsys)
    assert code == 1
    assert "downloaded 0, already there 3, failed 1" in out
    assert f"  failed {entries[3].target}: HTTP 404 Not Found" in out.splitlines()

    offline = ["download", "--manifest", str(manifest), "--dest", str(tmp_path / "new"),
               "--base-url", f"http://127.0.0.1:{free_port()}"]
    code, out, err = run(offline, capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("genre-lib download: error: cannot reach 127.0.0.1:") and "GENRE_DATA" in err

    lacking = tmp_path / "lacking.csv"
    lacking.write_text("genre,path\n")
    code, out, err = run(["download", "--manifest", str(lacking), "--dest", str(dest)], capsys)
    assert code == 2 and err == f"genre-lib download: error: {lacking}: not a manifest: missing column(s) " \
                                "repository, commit, sha1, bytes (expected genre,repository,commit,path,sha1,bytes)\n"
