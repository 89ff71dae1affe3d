"""Corpora: the catalogue of known public-domain books, fetching, and Gutenberg cleaning.

The catalogue (``textkl/data/catalogue.tsv``, one row per book) names each book by the
stem of its file in a corpora mirror (``en_novel_moby_dick`` for ``en_novel_moby_dick.txt``).
``fetch`` finds a book's text in a local mirror directory (``mirror=`` or ``TEXTKL_CORPORA``)
or downloads it from Project Gutenberg into a cache, checks it, strips the licence header and
footer, and writes it atomically: a failed fetch never leaves a partial file in the cache.

Two checksums, because a mirror and Project Gutenberg serve different files:

- ``mirror_sha256``: of the raw ``<name>.txt`` bytes in the reference mirror (the project's
  shared corpora directory; its ``MANIFEST.tsv``). Checked whenever a mirror file is read.
- ``sha256``: of the cleaned text (UTF-8, after ``clean_text``) of the Gutenberg download.
  Checked after every download when known; when unknown a download is only checked to be
  non-empty UTF-8 plain text, and its sha256 is reported so that it can be pinned.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import http.client
import os
import re
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError
from .io import atomic_write
from .io import cache_dir as textkl_cache

CATALOGUE = Path(__file__).with_name("data") / "catalogue.tsv"  # the one source of truth
GUTENBERG_BASE = "https://www.gutenberg.org/cache/epub"  # + /<id>/pg<id>.txt
ROLES = ("train", "in-distribution", "other-language", "other-style", "mixed")
_MAX_BYTES = 64 << 20  # no book in the catalogue is within a factor 10 of this
_FIELDS = ("name", "language", "role", "pg_id", "url", "title", "author", "year", "license",
           "sha256", "mirror_sha256")


@dataclass(frozen=True)
class Book:
    """One catalogue entry."""

    name: str  # file stem in a mirror, e.g. "en_novel_moby_dick"
    title: str
    author: str
    language: str  # ISO 639-1, or en-emod / enm / ang / en+fr as in the corpora README
    role: str  # one of ROLES, relative to the default training book (Moby-Dick)
    pg_id: int | None = None  # Project Gutenberg ebook number; None: mirror only
    url: str = ""  # human-facing page of the book
    year: int | None = None  # first publication (negative: BCE)
    license: str = "public domain"
    sha256: str | None = None  # of the cleaned text of the Gutenberg download
    mirror_sha256: str | None = None  # of <name>.txt in the reference mirror

    def text_url(self, base: str | None = None) -> str:
        """URL of the plain text on Project Gutenberg (or under ``base``/$TEXTKL_GUTENBERG_URL)."""
        if self.pg_id is None:
            raise CorpusError(f"{self.name}: no Project Gutenberg id; only a mirror can provide it")
        base = (base or os.environ.get("TEXTKL_GUTENBERG_URL") or GUTENBERG_BASE).rstrip("/")
        return f"{base}/{self.pg_id}/pg{self.pg_id}.txt"


# ---------------------------------------------------------------------------- catalogue


@functools.lru_cache(maxsize=1)
def _load_catalogue() -> tuple[Book, ...]:
    rows = csv.DictReader(CATALOGUE.read_text(encoding="utf-8").splitlines(), delimiter="\t",
                          quoting=csv.QUOTE_NONE)
    if tuple(rows.fieldnames or ()) != _FIELDS:
        raise CorpusError(f"catalogue.tsv: expected columns {_FIELDS}, got {rows.fieldnames}")
    books = []
    for row in rows:
        books.append(Book(
            name=row["name"], title=row["title"], author=row["author"],
            language=row["language"], role=row["role"],
            pg_id=int(row["pg_id"]) if row["pg_id"] else None, url=row["url"],
            year=int(row["year"]) if row["year"] else None, license=row["license"],
            sha256=row["sha256"] or None, mirror_sha256=row["mirror_sha256"] or None,
        ))
    return tuple(books)


def catalogue() -> list[Book]:
    """The known books, in catalogue order (the default training book first)."""
    return list(_load_catalogue())


def find(name: str) -> Book:
    """The catalogue entry called ``name``.

    Also accepted: ``name.txt``, a Gutenberg id (``2701`` or ``pg2701``) and any part of a
    name that matches exactly one book (``moby``).

    Raises:
        CorpusError: no book, or several, match.
    """
    books = _load_catalogue()
    key = name.strip().lower().removesuffix(".txt")
    for book in books:
        if book.name == key or (key.removeprefix("pg").isdigit()
                                and book.pg_id == int(key.removeprefix("pg"))):
            return book
    hits = [b for b in books if key and key in b.name]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise CorpusError(f"{name!r} is ambiguous: {', '.join(b.name for b in hits)}")
    raise CorpusError(f"no book {name!r} in the catalogue; see `textkl corpus list`")


# ---------------------------------------------------------------------------- locations


def default_cache_dir() -> Path:
    """Where fetched texts go: ``$TEXTKL_CACHE/corpora``, else ``~/.cache/textkl/corpora``."""
    return textkl_cache("corpora")


def default_mirror() -> Path | None:
    """The local mirror directory named by ``$TEXTKL_CORPORA``, if set."""
    value = os.environ.get("TEXTKL_CORPORA")
    return Path(value).expanduser() if value else None


def mirror_file(book: Book, mirror: str | Path) -> Path | None:
    """``<name>.txt`` (or ``pg<id>.txt``) in ``mirror`` if it exists."""
    names = [f"{book.name}.txt"] + ([f"pg{book.pg_id}.txt"] if book.pg_id else [])
    return next((Path(mirror) / n for n in names if (Path(mirror) / n).is_file()), None)


def local_status(book: Book, cache_dir: str | Path | None = None,
                 mirror: str | Path | None = None) -> str:
    """``"cached"``, ``"mirror"`` (in the mirror only) or ``"-"``: where the text is now."""
    if (Path(cache_dir or default_cache_dir()) / f"{book.name}.txt").is_file():
        return "cached"
    mirror = mirror or default_mirror()
    return "mirror" if mirror and mirror_file(book, mirror) else "-"


# ---------------------------------------------------------------------------- cleaning

# New style (2010s on), also wrapped over two lines or with "THIS"/"ETEXT"/no spaces.
_START = re.compile(
    r"^[ \t]*\*{3}[ \t]*START OF (?:THE |THIS )?PROJECT GUTENBERG E-?(?:BOOK|TEXT)\b"
    r"[^*]{0,400}\*{3}[^\n]*\n",
    re.IGNORECASE | re.MULTILINE,
)
# 1990s style: the header ends with the end of "the small print".
_START_OLD = re.compile(r"^\*+ ?END\*? ?THE SMALL PRINT[^\n]*\n", re.IGNORECASE | re.MULTILINE)
# "*** END OF THE PROJECT GUTENBERG EBOOK ..." and the older "End of [the] Project
# Gutenberg['s] [Etext|EBook] of ...", which comes a few lines *before* the *** END line.
_END = re.compile(
    r"^[ \t]*(?:\*{3}[ \t]*END OF (?:THE |THIS )?PROJECT GUTENBERG E-?(?:BOOK|TEXT)\b"
    r"|End of (?:the |this )?Project Gutenberg\b)",
    re.IGNORECASE | re.MULTILINE,
)
# A production credit just after the start marker is boilerplate too.
_CREDIT = re.compile(
    r"\A(?:[ \t]*\r?\n)*[ \t]*(?:Produced by|E-?text prepared by|This e-?(?:book|text) was "
    r"(?:produced|prepared) by|Transcribed (?:from|by))[^\n]*\n(?:[^\n]*\S[^\n]*\n)*",
    re.IGNORECASE,
)
_LEADING_BLANK = re.compile(r"\A(?:[ \t]*\r?\n)+")


def strip_gutenberg(text: str) -> str:
    """Remove a Project Gutenberg header and licence footer; text without them is unchanged.

    Handles the current ``*** START OF THE PROJECT GUTENBERG EBOOK ... ***`` markers (also
    ``THIS``, ``ETEXT``, a title wrapped over two lines, CRLF line ends), the 1990s "small
    print" header, the ``End of [the] Project Gutenberg's ...`` footer line, and a
    "Produced by ..." credit paragraph right after the header. When something was removed,
    leading blank lines and trailing whitespace go too and the result ends with one newline.
    """
    start = _START.search(text) or _START_OLD.search(text)
    body = text[start.end():] if start else text
    end = _END.search(body)
    if not (start or end):
        return text
    if end:
        body = body[: end.start()]
    if start:
        body = _CREDIT.sub("", body, count=1)
    body = _LEADING_BLANK.sub("", body).rstrip()
    return body + "\n" if body else ""


def clean_text(text: str) -> str:
    """A book as textkl stores it: no BOM, LF line ends, NFC, no Gutenberg boilerplate."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return strip_gutenberg(unicodedata.normalize("NFC", text))


# ---------------------------------------------------------------------------- fetching


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _download(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "textkl (corpus fetch)"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            expected = response.headers.get("Content-Length")
            chunks, total = [], 0
            while chunk := response.read(1 << 16):
                total += len(chunk)
                if total > _MAX_BYTES:
                    raise CorpusError(f"{url}: more than {_MAX_BYTES >> 20} MiB, not a book")
                chunks.append(chunk)
    except urllib.error.HTTPError as e:
        raise CorpusError(f"{url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise CorpusError(f"cannot reach {url}: {e.reason}") from None
    except (http.client.HTTPException, OSError) as e:  # cut connection, timeout mid-body
        raise CorpusError(f"download of {url} interrupted: {type(e).__name__} {e}") from None
    if expected and expected.isdigit() and total != int(expected):
        raise CorpusError(f"download of {url} incomplete: {total} of {expected} bytes")
    return b"".join(chunks)


def _decode(data: bytes, where: str) -> str:
    if not data.strip():
        raise CorpusError(f"{where}: empty")
    if b"\x00" in data[:8192]:
        raise CorpusError(f"{where}: binary data (NUL bytes), not a text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(f"{where}: not valid UTF-8 (byte offset {e.start})") from None
    if text.lstrip("\ufeff \r\n\t")[:200].lower().startswith(("<!doctype", "<html")):
        raise CorpusError(f"{where}: an HTML page, not a plain text")
    return text


def _check(got: str, expected: str | None, where: str) -> None:
    if expected and got != expected.lower():
        raise CorpusError(
            f"{where}: sha256 mismatch (expected {expected[:12]}..., got {got[:12]}...)")


def _from_mirror(book: Book, mirror: Path, expected: str | None, verify: bool,
                 cache: Path) -> Path:
    path = mirror_file(book, mirror)
    if path is None:
        raise CorpusError(f"{book.name}: not in mirror {mirror} (expected {book.name}.txt)")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CorpusError(f"cannot read {path}: {e.strerror or e}") from None
    text = clean_text(_decode(data, str(path)))
    cleaned = text.encode("utf-8")
    if verify:
        raw_ok = book.mirror_sha256 and _sha256(data) == book.mirror_sha256
        if not raw_ok and (book.mirror_sha256 or expected):
            _check(_sha256(cleaned), expected or book.mirror_sha256, str(path))
    if not text.strip():
        raise CorpusError(f"{path}: nothing left after removing the Gutenberg boilerplate")
    if cleaned == data:
        return path  # already clean: no copy
    return _store(cleaned, cache / f"{book.name}.txt")


def _store(cleaned: bytes, target: Path) -> Path:
    try:
        with atomic_write(target, "wb") as f:
            f.write(cleaned)
    except OSError as e:
        raise CorpusError(f"cannot write {target}: {e.strerror or e}") from None
    return target


def fetch(
    name: str | Book,
    mirror: str | Path | None = None,
    cache_dir: str | Path | None = None,
    url: str | None = None,
    *,
    sha256: str | None = None,
    verify: bool = True,
    timeout: float = 60.0,
    log: Callable[[str], None] | None = None,
) -> Path:
    """The path of a book's clean text, fetched if needed.

    Order: a mirror directory (``mirror``, else ``$TEXTKL_CORPORA``; when one is set the
    network is not used), then the cache, then a download from ``url`` (default: the
    book's Project Gutenberg text, under ``$TEXTKL_GUTENBERG_URL`` if set).

    Args:
        name: a catalogue name (see ``find``) or a ``Book``.
        mirror: local directory holding ``<name>.txt`` files.
        cache_dir: where downloads go (default ``default_cache_dir()``).
        url: download this URL instead of the Gutenberg one.
        sha256: expected sha256 of the cleaned text; overrides the catalogue's.
        verify: check the checksums (a download is always checked to be UTF-8 text).
        timeout: seconds to wait for the server at each step.
        log: called with one line per action (e.g. ``click.echo`` to stderr).

    Returns:
        A UTF-8 file: LF line ends, NFC, no Gutenberg header or footer.

    Raises:
        CorpusError: unknown book, missing mirror file, unreachable server, HTTP error,
            interrupted download, not UTF-8 text, or a checksum mismatch. Nothing is then
            left in the cache.
    """
    book = name if isinstance(name, Book) else find(name)
    say = log or (lambda _msg: None)
    expected = sha256 or book.sha256
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    mirror = Path(mirror).expanduser() if mirror else default_mirror()
    if mirror is not None:
        say(f"{book.name}: reading mirror {mirror}")
        return _from_mirror(book, mirror, expected, verify, cache)
    target = cache / f"{book.name}.txt"
    if target.is_file():
        if not (verify and expected) or _sha256(target.read_bytes()) == expected.lower():
            say(f"{book.name}: cached")
            return target
        say(f"{book.name}: cached copy fails its checksum, downloading again")
    source = url or book.text_url()
    say(f"{book.name}: downloading {source}")
    text = clean_text(_decode(_download(source, timeout), source))
    if not text.strip():
        raise CorpusError(f"{source}: nothing left after removing the Gutenberg boilerplate")
    cleaned = text.encode("utf-8")
    got = _sha256(cleaned)
    if verify:
        _check(got, expected, source)
    path = _store(cleaned, target)
    say(f"{book.name}: {len(text):,} characters, sha256 {got}"
        + ("" if expected else " (no checksum in the catalogue; not verified)"))
    return path
