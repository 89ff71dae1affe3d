"""Catalogue, fetching (real HTTP on loopback only), mirrors, the corpus CLI and the demo text."""

from __future__ import annotations

import csv
import hashlib
import http.server
import importlib.util
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from textkl import corpora
from textkl.cli import cli
from textkl.corpora import Book, CorpusError, catalogue, fetch, find

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "textkl" / "data"

BODY = (
    "The harbour master kept two clocks, one for the tide and one for the town, and he\n"
    "trusted neither.\n\n"
    "On the third night of the storm the town clock stopped, and nobody noticed until\n"
    "the bakers opened their doors an hour late.\n"
)
PG_FILE = (
    "\ufeffThe Project Gutenberg eBook of Two Clocks\r\n\r\n"
    "Title: Two Clocks\r\nAuthor: A. Tester\r\n\r\n"
    "*** START OF THE PROJECT GUTENBERG EBOOK TWO CLOCKS ***\r\n\r\n"
    + BODY.replace("\n", "\r\n")
    + "\r\n*** END OF THE PROJECT GUTENBERG EBOOK TWO CLOCKS ***\r\n\r\n"
    "Section 1. General Terms of Use and Redistributing Project Gutenberg works\r\n"
).encode("utf-8")
BODY_SHA = hashlib.sha256(BODY.encode("utf-8")).hexdigest()
ALICE = "en_novel_alice_in_wonderland"  # PG #11, served by the loopback server below


# ---------------------------------------------------------------------------- fixtures


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = self.routes.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        cut = self.path.startswith("/cut/")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body) + (10_000 if cut else 0)))
        self.end_headers()
        self.wfile.write(body)
        if cut:  # the server dies mid-body: fewer bytes than announced
            self.wfile.flush()
            self.close_connection = True

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    _Handler.routes = {
        "/11/pg11.txt": PG_FILE,
        "/cut/book.txt": PG_FILE,
        "/html/book.txt": b"<!DOCTYPE html><html><body>Sorry</body></html>",
        "/latin1/book.txt": "Caf\u00e9 au lait\n".encode("latin-1"),
        "/empty/book.txt": b"",
    }
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture()
def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEXTKL_CORPORA", raising=False)
    monkeypatch.delenv("TEXTKL_GUTENBERG_URL", raising=False)
    monkeypatch.setenv("TEXTKL_CACHE", str(tmp_path / "cache"))


@pytest.fixture()
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "corpora"


def _files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()] if directory.exists() else []


# ---------------------------------------------------------------------------- catalogue


def test_catalogue_entries_are_complete_and_unique() -> None:
    books = catalogue()
    assert len(books) >= 15
    assert len({b.name for b in books}) == len(books)
    assert {b.role for b in books} <= set(corpora.ROLES)
    for b in books:
        assert re.fullmatch(r"[a-z+-]+_[a-z]+_[a-z0-9_]+", b.name), b.name
        assert b.title and b.author and b.language
        assert b.pg_id is not None or b.mirror_sha256, f"{b.name}: no source"
        if b.pg_id is not None:
            assert b.url == f"https://www.gutenberg.org/ebooks/{b.pg_id}"
        for digest in (b.sha256, b.mirror_sha256):
            assert digest is None or re.fullmatch(r"[0-9a-f]{64}", digest)


def test_default_training_book_comes_first() -> None:
    first = catalogue()[0]
    assert (first.name, first.pg_id, first.role) == ("en_novel_moby_dick", 2701, "train")
    assert first.text_url() == "https://www.gutenberg.org/cache/epub/2701/pg2701.txt"


@pytest.mark.parametrize("key", ["en_novel_moby_dick", "en_novel_moby_dick.txt", "2701",
                                 "pg2701", "moby"])
def test_find_accepts_names_ids_and_unique_parts(key: str) -> None:
    assert find(key).name == "en_novel_moby_dick"


@pytest.mark.parametrize(("key", "message"), [("fr_novel", "ambiguous"),
                                              ("no_such_book", "no book")])
def test_find_rejects_unknown_and_ambiguous(key: str, message: str) -> None:
    with pytest.raises(CorpusError, match=message):
        find(key)


# ---------------------------------------------------------------------------- download


def test_fetch_downloads_verifies_and_strips(server: str, cache: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTKL_GUTENBERG_URL", server)
    lines: list[str] = []
    path = fetch(ALICE, sha256=BODY_SHA, log=lines.append)
    assert path == cache / f"{ALICE}.txt"
    assert path.read_text(encoding="utf-8") == BODY
    assert _files(cache) == [path]
    assert any(f"{server}/11/pg11.txt" in line for line in lines)


def test_fetch_without_checksum_reports_the_sha(server: str) -> None:
    lines: list[str] = []
    path = fetch(ALICE, url=f"{server}/11/pg11.txt", log=lines.append)
    assert path.read_text(encoding="utf-8") == BODY
    assert BODY_SHA in lines[-1] and "not verified" in lines[-1]


def test_cached_text_is_reused_without_network(server: str, closed_port_url: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    first = fetch(ALICE, url=f"{server}/11/pg11.txt")
    monkeypatch.setenv("TEXTKL_GUTENBERG_URL", closed_port_url)
    assert fetch(ALICE) == first
    assert corpora.local_status(find(ALICE)) == "cached"


def test_wrong_checksum_is_an_error_and_leaves_nothing(server: str, cache: Path) -> None:
    book = Book(name="xx_test_two_clocks", title="Two Clocks", author="A. Tester",
                language="en", role="in-distribution", pg_id=11, sha256="0" * 64)
    with pytest.raises(CorpusError, match="sha256 mismatch") as e:
        fetch(book, url=f"{server}/11/pg11.txt")
    assert "\n" not in str(e.value)
    assert _files(cache) == []


def test_unreachable_server_is_an_error_and_leaves_nothing(closed_port_url: str,
                                                           cache: Path) -> None:
    with pytest.raises(CorpusError, match="cannot reach") as e:
        fetch(ALICE, url=f"{closed_port_url}/11/pg11.txt", timeout=5)
    assert "\n" not in str(e.value)
    assert _files(cache) == []


@pytest.mark.parametrize(
    ("route", "message"),
    [
        pytest.param("/cut/book.txt", "incomplete|interrupted", id="cut-mid-body"),
        pytest.param("/missing/book.txt", "HTTP 404", id="http-404"),
        pytest.param("/html/book.txt", "HTML page", id="html-not-text"),
        pytest.param("/latin1/book.txt", "not valid UTF-8", id="not-utf8"),
        pytest.param("/empty/book.txt", "empty", id="empty"),
    ],
)
def test_bad_downloads_are_errors_and_leave_nothing(server: str, cache: Path, route: str,
                                                    message: str) -> None:
    with pytest.raises(CorpusError, match=message):
        fetch(ALICE, url=server + route, timeout=5)
    assert _files(cache) == []


def test_failed_refetch_keeps_no_partial_file(server: str, cache: Path) -> None:
    # a cached copy failing the checksum is downloaded again; a failed download then
    # leaves the old complete file, never a partial one
    first = fetch(ALICE, url=f"{server}/11/pg11.txt")
    with pytest.raises(CorpusError, match="sha256 mismatch"):
        fetch(ALICE, url=f"{server}/11/pg11.txt", sha256="f" * 64)
    assert _files(cache) == [first]
    assert first.read_text(encoding="utf-8") == BODY


# ---------------------------------------------------------------------------- mirror


def test_mirror_file_with_boilerplate_is_cleaned_into_cache(tmp_path: Path, cache: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "xx_test_two_clocks.txt").write_bytes(PG_FILE)
    book = Book(name="xx_test_two_clocks", title="Two Clocks", author="A. Tester",
                language="en", role="in-distribution", sha256=BODY_SHA)
    path = fetch(book, mirror=mirror)
    assert path == cache / "xx_test_two_clocks.txt"
    assert path.read_text(encoding="utf-8") == BODY


def test_clean_mirror_file_is_served_in_place(tmp_path: Path, cache: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / f"{ALICE}.txt").write_text(BODY, encoding="utf-8")
    monkeypatch.setenv("TEXTKL_CORPORA", str(mirror))
    # the catalogue's mirror checksum is for the real book, not this text
    with pytest.raises(CorpusError, match="sha256 mismatch"):
        fetch(ALICE)
    assert fetch(ALICE, verify=False) == mirror / f"{ALICE}.txt"
    assert fetch(ALICE, sha256=BODY_SHA) == mirror / f"{ALICE}.txt"
    assert _files(cache) == []


def test_mirror_of_raw_gutenberg_files_by_id(tmp_path: Path, cache: Path) -> None:
    (tmp_path / "pg11.txt").write_bytes(PG_FILE)  # as downloaded, boilerplate and all
    path = fetch(ALICE, mirror=tmp_path, sha256=BODY_SHA)
    assert path == cache / f"{ALICE}.txt"
    assert path.read_text(encoding="utf-8") == BODY


def test_mirror_without_the_book_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="not in mirror"):
        fetch(ALICE, mirror=tmp_path)


def test_mirror_only_book_needs_a_mirror() -> None:
    mirror_only = [b for b in catalogue() if b.pg_id is None]
    assert mirror_only, "expected at least one mirror-only book"
    with pytest.raises(CorpusError, match="no Project Gutenberg id"):
        fetch(mirror_only[0])


# ---------------------------------------------------------------------------- CLI


def test_cli_list_shows_every_book_and_local_state(server: str) -> None:
    fetch(ALICE, url=f"{server}/11/pg11.txt")
    result = CliRunner().invoke(cli, ["corpus", "list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:5] == ["NAME", "LANG", "ROLE", "PG", "LOCAL"]
    assert len(lines) == 1 + len(catalogue())
    by_name = {line.split()[0]: line.split() for line in lines[1:]}
    assert by_name[ALICE][4] == "cached"
    assert by_name["en_novel_moby_dick"][1:5] == ["en", "train", "2701", "-"]


def test_cli_fetch_prints_the_path(server: str, cache: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTKL_GUTENBERG_URL", server)
    result = CliRunner().invoke(cli, ["corpus", "fetch", ALICE, "--sha256", BODY_SHA])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(cache / f"{ALICE}.txt")
    assert "downloading" in result.stderr


def test_cli_fetch_from_mirror(tmp_path: Path) -> None:
    (tmp_path / f"{ALICE}.txt").write_text(BODY, encoding="utf-8")
    result = CliRunner().invoke(cli, ["corpus", "fetch", "pg11", "--mirror", str(tmp_path),
                                      "--no-verify", "-q"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{tmp_path / (ALICE + '.txt')}\n"
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["no_such_book"], "no book", id="unknown"),
        pytest.param([ALICE, "--sha256", "0" * 64], "sha256 mismatch", id="bad-checksum"),
    ],
)
def test_cli_fetch_errors_are_one_line(server: str, monkeypatch: pytest.MonkeyPatch,
                                       args: list[str], message: str) -> None:
    monkeypatch.setenv("TEXTKL_GUTENBERG_URL", server)
    result = CliRunner().invoke(cli, ["corpus", "fetch", "-q", *args])
    assert result.exit_code == 1
    assert result.stderr.startswith("textkl: error:") and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


# ---------------------------------------------------------------------------- demo text


def _demo_spans() -> list[tuple[int, int, str]]:
    with (DATA / "demo_spans.tsv").open(encoding="utf-8") as f:
        return [(int(r["start"]), int(r["end"]), r["kind"])
                for r in csv.DictReader(f, delimiter="\t")]


def test_demo_files_are_built_from_the_marked_source() -> None:
    spec = importlib.util.spec_from_file_location("make_demo", ROOT / "corpora" / "make_demo.py")
    assert spec and spec.loader
    make_demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_demo)
    text, spans = make_demo.build((ROOT / "corpora" / "demo_source.txt").read_text("utf-8"))
    assert (DATA / "demo.txt").read_text(encoding="utf-8") == text, "run corpora/make_demo.py"
    assert _demo_spans() == spans, "run corpora/make_demo.py"


def test_demo_text_has_french_narrative_and_every_kind_of_insert() -> None:
    text = (DATA / "demo.txt").read_text(encoding="utf-8")
    spans = _demo_spans()
    assert 3000 <= len(text) <= 5500
    assert "[[" not in text and "]]" not in text
    kinds = [k for _, _, k in spans]
    assert kinds.count("en") >= 2 and {"de", "dict", "code"} <= set(kinds)
    for (s1, e1, _), (s2, _, _) in zip(spans, spans[1:], strict=False):
        assert 0 <= s1 < e1 <= s2 <= len(text)
    for s, e, kind in spans:
        piece = text[s:e]
        assert piece == piece.strip(), (kind, piece[:30])
        if kind == "en":
            assert re.search(r"\b(the|and)\b", piece) and not re.search(r"[éèàç]", piece)
    french = "".join(text[a:b] for a, b in zip([0] + [e for _, e, _ in spans],
                                              [s for s, _, _ in spans] + [len(text)],
                                              strict=True))
    assert len(french) > len(text) / 2
    assert french.count(" la ") > 10 and "é" in french
