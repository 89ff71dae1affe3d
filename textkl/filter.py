"""Corpus cleaning: score documents in batches, keep or reject them with a reason.

Per-document scores (all from ``Pair.score``; KL in nats):

- ``foreign_share``: share of the document's non-space characters that the span finder
  (``decode``, with the settings stored for the pair) puts in foreign spans: what
  ``textkl segment`` would mark. The default rule rejects a document when it is above
  ``DEFAULT_MAX_FOREIGN_SHARE`` (0.5): on ``scripts/bench_registers.py``'s development
  sources it keeps English of every register and rejects other languages as well as
  ``segment`` does, where the KL-only rule below had to give up one for the other.
- ``mean_kl``: mean KL over the document's scored characters (every character but the
  first, which has no context).
- ``ood_share``: share of the document's characters that are *out of distribution*. A
  character is out of distribution when the mean KL of the 30-character window centred on
  it (``[i - 15, i + 15)``, cut at the document's ends, unscored characters left out) is
  above the book's 99th percentile of 30-character means, ``Calibration.threshold(0.99, 30)``.
  A KL-only rule (``--max-ood-share``), off by default.
- ``percentile``: where ``mean_kl`` falls (0..100) among the book's held-out window means,
  for the largest calibrated window (1, 10, 30 or 100 characters) not longer than the
  number of scored characters.

The screen (``Rules.screen``; on by default for the pairs whose file stores its
thresholds, ``english`` and ``english-large``): a first pass by the book's words alone
(``Lexicon.known_share``) keeps or rejects the documents whose share of known words leaves
no doubt, and only the others are scored: ``known_words`` is the share of a document's word
tokens that the book uses. ``Rules(screen=None)`` (``--no-screen``) scores every document.

Documents are never concatenated (context would leak from one into the next): each one
is cut into windows on its own stride grid, exactly as ``Pair.score`` cuts it, and the
windows of many documents share forward passes (``score_many``). The steps after scoring
run once over a batch of documents (``doc_scores``), each document's values the same as
on its own. ``filter_jsonl`` streams JSONL (plain, ``.gz`` or ``.zst``) into a keep and a
reject file; every input line lands in exactly one of them.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import IO, TYPE_CHECKING, Any, Literal

import numpy as np

from .errors import ModelFileError, SettingError
from .finders import SpanFinder, make_finder, names_at
from .io import iter_lines, open_output
from .numerics import centred_mean, centred_means
from .segment import paused_gc
from .spans import Segment, Span, snap_candidates, space_mask, to_segments

if TYPE_CHECKING:
    from .score import Scores

OOD_WINDOW = 30  # characters in the smoothing window of the OOD rule
OOD_QUANTILE = 0.99  # book quantile of 30-char means above which a character is OOD
META_KEY = "textkl"  # field added to every output document
# Default --max-foreign-share: a document goes when most of it is foreign, as segment
# marks it (scripts/bench_registers.py, development sources; see docs/registers.md).
DEFAULT_MAX_FOREIGN_SHARE = 0.5
JUDGE_CHARS = 1_000_000  # characters of documents whose scores ``doc_scores`` judges at once
SCORE_CHARS = 500_000  # characters of documents ``score_documents`` scores at once
NAMES_MAX = 0.7  # names above this share of a text's non-space characters count after all
MISSING = object()  # stands for a document without the text field
AUTO = "auto"  # Rules.screen: the screen stored for the pair, where the rules allow one
PAIR = "pair"  # Rules.screen: the screen stored for the pair, else ``Screen()``


@dataclass(frozen=True)
class Screen:
    """A first pass by the book's words alone (``textkl filter``'s screen).

    A document of at least ``min_words`` word tokens is rejected (reason ``known_words``)
    when at most ``reject`` of them are words of the book (its ``Lexicon``); one of at least
    ``keep_min_words`` is kept when at least ``keep`` are; the pair scores the rest as
    usual. A few words are a noisy sample: a short sentence of a translated manual can be
    mostly English terms, so keeping takes more words than rejecting. The defaults were
    chosen for the ``english`` pair on development sources (``scripts/tune_screen.py``,
    ``docs/registers.md``): the setting that decides the most characters by words without
    more wrong decisions, nor more English lost, than the pair alone; that pair's file
    stores them (``for_pair``).
    """

    keep: float = 0.75  # share of known words at or above which a document is kept
    reject: float = 0.6  # share at or below which it is rejected
    min_words: int = 5  # fewer word tokens: always scored
    keep_min_words: int = 25  # fewer word tokens: never kept by words (may be rejected)

    def __post_init__(self) -> None:
        if not 0.0 <= self.reject < self.keep <= 1.0:
            raise SettingError(f"screen thresholds need 0 <= reject < keep <= 1, got "
                               f"reject={self.reject}, keep={self.keep}")
        if self.min_words < 1:
            raise SettingError(f"screen min_words must be >= 1, got {self.min_words}")
        if self.keep_min_words < self.min_words:
            raise SettingError(f"screen keep_min_words must be >= min_words ({self.min_words}),"
                               f" got {self.keep_min_words}")

    @classmethod
    def for_pair(cls, pair) -> Screen | None:
        """The thresholds chosen for ``pair`` and stored in its file
        (``Pair.defaults("screen")``; ``textkl models`` lists them), or None."""
        chosen = pair.defaults("screen")
        return cls(**chosen) if chosen else None

    def verdict(self, words: int, known: float) -> bool | None:
        """True (keep), False (reject) or None (score it) for a document of ``words`` word
        tokens of which a share ``known`` are the book's."""
        if words < self.min_words:
            return None
        if known <= self.reject:
            return False
        return True if known >= self.keep and words >= self.keep_min_words else None


@dataclass(frozen=True)
class Rules:
    """Keep/reject rules, in the score's own units. ``None`` switches a rule off.

    A document passes a rule when its value is at the threshold (``<=`` max, ``>=`` min).
    With a ``screen``, the documents its words decide skip the pair and the other rules.
    ``screen="auto"`` (the default) is the screen stored for the pair (``Screen.for_pair``)
    where there is one and no KL rule (``max_mean_kl``, ``max_ood_share``) or ``extract``
    is in use, else none; ``screen="pair"`` (``--screen``) is the stored one, else
    ``Screen()``. ``for_pair`` resolves both.
    """

    max_mean_kl: float | None = None  # nats
    max_ood_share: float | None = None  # 0..1, share of OOD characters (KL only)
    min_length: int = 0  # characters of the original text (with --extract: of each span)
    max_foreign_share: float | None = DEFAULT_MAX_FOREIGN_SHARE  # 0..1, as segment marks it
    screen: Screen | Literal["auto", "pair"] | None = AUTO  # decide by the book's words first

    def __post_init__(self) -> None:
        if not (self.screen in (None, AUTO, PAIR) or isinstance(self.screen, Screen)):
            raise SettingError(f"screen must be a Screen, 'auto', 'pair' or None, got "
                               f"{self.screen!r}")
        if self.screen not in (None, AUTO) and self.kl_rules:
            raise SettingError("the screen decides documents by their words, without KL "
                               "scores; it cannot be combined with max_mean_kl or max_ood_share")
        if self.max_mean_kl is not None and not self.max_mean_kl >= 0:
            raise SettingError(f"max_mean_kl must be >= 0 nats, got {self.max_mean_kl}")
        for name in ("max_ood_share", "max_foreign_share"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise SettingError(f"{name} must be in [0, 1], got {value}")
        if self.min_length < 0:
            raise SettingError(f"min_length must be >= 0, got {self.min_length}")

    @property
    def kl_rules(self) -> bool:
        """Whether a rule reads KL scores, which a screened document does not get."""
        return self.max_mean_kl is not None or self.max_ood_share is not None

    def for_pair(self, pair, extract: bool = False) -> Rules:
        """These rules with ``screen="auto"`` or ``"pair"`` resolved for ``pair`` (see the
        class)."""
        if self.screen == AUTO:
            return replace(self, screen=None if self.kl_rules or extract
                           else Screen.for_pair(pair))
        if self.screen == PAIR:
            return replace(self, screen=Screen.for_pair(pair) or Screen())
        return self


@dataclass(frozen=True)
class DocScore:
    """Scores of one document; NaN where nothing could be scored (or, for a document the
    screen decided, where nothing was scored)."""

    n_chars: int  # length of the text (Python str characters)
    mean_kl: float  # nats
    ood_share: float  # 0..1
    percentile: float  # 0..100 against the book
    foreign_share: float  # 0..1 of the non-space characters, in the finder's foreign spans
    known_words: float | None = None  # share of word tokens the book uses (with a screen)
    screened: bool = False  # decided by the screen, without the pair

    def to_dict(self) -> dict[str, Any]:
        d = {"n_chars": self.n_chars, "mean_kl": _num(self.mean_kl, 6),
             "ood_share": _num(self.ood_share, 4), "percentile": _num(self.percentile, 2),
             "foreign_share": _num(self.foreign_share, 4)}
        if self.known_words is not None:  # a run with a screen: on every document
            d["known_words"] = _num(self.known_words, 4)
            d["screened"] = self.screened
        return d


@dataclass(frozen=True)
class Summary:
    """What a filter run did."""

    total: int  # input lines (documents)
    kept: int
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> count
    chars: int = 0  # characters of the documents that were judged (scored or screened)
    seconds: float = 0.0
    screened: int = 0  # documents decided by the screen, without the pair

    def line(self) -> str:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items())) or "none"
        rate = self.total / self.seconds if self.seconds > 0 else float("nan")
        by_words = f", {self.screened} decided by words" if self.screened else ""
        return (f"{self.total} documents: kept {self.kept}, rejected "
                f"{sum(self.rejected.values())} ({reasons}{by_words}); {rate:.1f} docs/s, "
                f"{self.chars / max(self.seconds, 1e-9):,.0f} chars/s")


def _num(x: float, digits: int) -> float | None:
    return None if math.isnan(x) else round(float(x), digits)


# --------------------------------------------------------------------------- scoring


def ood_mask(pair, kl: np.ndarray) -> np.ndarray:
    """bool (N,): characters whose centred 30-char mean KL is above the book's q99 of them."""
    thr = _calibration(pair).threshold(OOD_QUANTILE, OOD_WINDOW)
    m = centred_mean(kl, OOD_WINDOW)
    return np.nan_to_num(m, nan=-np.inf) > thr


def span_finder(pair) -> SpanFinder:
    """The finder behind ``foreign_share`` and ``--extract``: ``decode`` with the settings
    stored for the pair, as ``textkl segment`` uses it."""
    return make_finder("decode", **pair.defaults("decode")).fit(_calibration(pair), pair.lexicon)


def foreign_share(text: str, spans: Iterable[Any], names: bool = False) -> float:
    """Share of the non-space characters of ``text`` that lie in foreign spans (NaN when
    ``text`` is all whitespace).

    With ``names``, the words that are names (capitalised, not starting a sentence: as the
    span finder sees them) count on neither side, so "Software in the Public Interest" does
    not make a French sentence English, nor a product name an English one foreign; unless
    names are more than ``NAMES_MAX`` of the non-space characters (a title, a list of
    names), when every character counts.
    """
    ns = ~space_mask(text)
    total = int(ns.sum())
    if total == 0:
        return math.nan
    if names:
        other = ns & ~name_mask(text, ~ns)
        if int(other.sum()) >= (1.0 - NAMES_MAX) * total:
            ns, total = other, int(other.sum())
    c = np.concatenate(([0], np.cumsum(ns)))
    return sum(int(c[s.end] - c[s.start]) for s in spans if s.foreign) / total


def name_mask(text: str, space: np.ndarray | None = None) -> np.ndarray:
    """bool (N,): the characters of the words (whitespace-delimited) that start with a
    capital letter and do not start a sentence: the span finder's names."""
    space = space_mask(text) if space is None else space
    words, sents = snap_candidates(text, space)
    return np.repeat(names_at(text, words[:-1], sents), np.diff(words)) & ~space


def doc_score(pair, text: str, scores: Scores, finder: SpanFinder | None = None) -> DocScore:
    """Summarise one document's scores (see the module docstring); ``finder`` defaults to
    ``span_finder(pair)`` (for many documents, ``doc_scores`` is faster)."""
    return doc_scores(pair, [text], [scores], finder)[0][0]


def doc_scores(pair, texts: Sequence[str], scores: Sequence[Scores],
               finder: SpanFinder | None = None) -> tuple[list[DocScore], list[list[Span]]]:
    """``doc_score`` of each text, and the spans ``finder`` (default ``span_finder(pair)``)
    finds in it; empty where nothing is scored.

    The span finder and the out-of-distribution windows run once over texts of up to
    ``JUDGE_CHARS`` characters together (``predict_many``, ``ood_shares``), with the same
    values as text by text: thousands of short documents cost as many numpy calls as one
    long one, and memory stays bounded whatever the batch.
    """
    finder = finder or span_finder(pair)
    cal = _calibration(pair)
    scored = [int(np.count_nonzero(~np.isnan(sc.kl))) for sc in scores]
    todo = [i for i, n in enumerate(scored) if n]
    spans_of: list[list[Span]] = []
    ood: list[float] = []
    foreign: list[float] = []
    for group in _groups(todo, [len(texts[i]) for i in todo], JUDGE_CHARS):
        found = predict_many(finder, [texts[i] for i in group], [scores[i] for i in group])
        spans_of += found
        ood += ood_shares(pair, [scores[i].kl for i in group])
        foreign += foreign_shares([texts[i] for i in group], found)
    means = np.array([np.nanmean(scores[i].kl) for i in todo], dtype=np.float64)
    windows = np.array([max((w for w in cal.quantiles if w <= scored[i]),
                            default=min(cal.quantiles)) for i in todo])
    pct = np.empty(len(todo))
    for w in np.unique(windows).tolist():  # one lookup per calibrated window
        pct[windows == w] = cal.percentile(means[windows == w], w)
    out = [DocScore(len(t), math.nan, math.nan, math.nan, math.nan) for t in texts]
    spans: list[list[Span]] = [[] for _ in texts]
    for k, i in enumerate(todo):
        out[i] = DocScore(len(texts[i]), float(means[k]), ood[k], float(pct[k]), foreign[k])
        spans[i] = spans_of[k]
    return out, spans


def foreign_shares(texts: Sequence[str], spans: Sequence[Sequence[Span]]) -> list[float]:
    """``foreign_share(text, spans)`` of each text and its spans, the same values, counted
    over all of them at once."""
    if not texts:
        return []
    off = np.concatenate(([0], np.cumsum([len(t) for t in texts]))).astype(np.int64)
    c = np.concatenate(([0], np.cumsum(~space_mask("".join(texts)))))
    doc, start, end = np.array([(i, sp.start, sp.end) for i, found in enumerate(spans)
                                for sp in found if sp.foreign], dtype=np.int64).reshape(-1, 3).T
    foreign = np.bincount(doc, c[off[doc] + end] - c[off[doc] + start], len(texts))
    total = (c[off[1:]] - c[off[:-1]]).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, foreign / total, np.nan).tolist()


def _groups(items: list[int], sizes: list[int], limit: int) -> Iterator[list[int]]:
    """Consecutive runs of ``items`` whose ``sizes`` add up to at most ``limit`` (one item
    alone where it is larger)."""
    group: list[int] = []
    total = 0
    for item, size in zip(items, sizes, strict=True):
        if group and total + size > limit:
            yield group
            group, total = [], 0
        group.append(item)
        total += size
    if group:
        yield group


def predict_many(finder: SpanFinder, texts: Sequence[str], scores: Sequence[Scores]
                 ) -> list[list[Span]]:
    """``finder.predict`` of each text; at once where the finder can (``decode``)."""
    many = getattr(finder, "predict_many", None)
    if many is not None:
        return many(texts, scores)
    return [finder.predict(t, sc) for t, sc in zip(texts, scores, strict=True)]


def ood_shares(pair, kls: Sequence[np.ndarray]) -> list[float]:
    """``ood_mask(pair, kl).mean()`` of each array of ``kls`` (NaN for an empty one), the
    same values, computed over all of them at once (``centred_means``)."""
    thr = _calibration(pair).threshold(OOD_QUANTILE, OOD_WINDOW)
    if not kls:
        return []
    lengths = np.array([len(k) for k in kls], dtype=np.float64)
    off = np.concatenate(([0], np.cumsum(lengths).astype(np.int64)))
    m = centred_means(kls, OOD_WINDOW)
    over = np.concatenate(([0], np.cumsum(np.nan_to_num(m, nan=-np.inf) > thr)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((over[off[1:]] - over[off[:-1]]) / lengths).tolist()


def _calibration(pair):
    if pair.calibration is None:
        raise ModelFileError("the model has no calibration; filtering needs one "
                             "(train it with textkl train)")
    return pair.calibration


def precheck(text: Any, rules: Rules, extract: bool = False) -> str | None:
    """The reason to reject a value before scoring it, or None."""
    if text is MISSING:
        return "missing_field"
    if not isinstance(text, str):
        return "not_a_string"
    if not text.strip():
        return "empty_text"
    if not extract and len(text) < rules.min_length:
        return "too_short"
    return None


def decide(score: DocScore, rules: Rules) -> str | None:
    """The first rule ``score`` breaks (``unscored``, ``mean_kl``, ``ood_share``,
    ``foreign_share``), or None."""
    if math.isnan(score.mean_kl):
        return "unscored"
    if rules.max_mean_kl is not None and score.mean_kl > rules.max_mean_kl:
        return "mean_kl"
    if rules.max_ood_share is not None and score.ood_share > rules.max_ood_share:
        return "ood_share"
    if (rules.max_foreign_share is not None and not math.isnan(score.foreign_share)
            and score.foreign_share > rules.max_foreign_share):
        return "foreign_share"
    return None


_NO_RULES = Rules(max_foreign_share=None)


def score_documents(pair, texts: Sequence[Any], rules: Rules | None = None, *,
                    batch_size: int | None = None, extract: bool = False, dtype: Any = None,
                    ) -> list[tuple[DocScore | None, str | None, list[Segment] | None]]:
    """Score and judge documents: ``(score or None, reject reason or None, spans)`` each.

    ``rules`` defaults to ``Rules()``. Values that are not usable text are
    rejected without scoring. ``spans`` is None unless ``extract``, when it lists the
    book-like spans (as ``segment`` finds them) that pass the rules. The documents left to
    score are scored ``SCORE_CHARS`` characters at a time, so memory stays bounded whatever
    the number of texts, and the fewer the screen leaves, the fuller the forward passes.
    """
    rules = (Rules() if rules is None else rules).for_pair(pair, extract)
    reasons = [precheck(t, rules, extract) for t in texts]
    todo = [i for i, r in enumerate(reasons) if r is None]
    out: list[tuple[DocScore | None, str | None, list[Segment] | None]] = [
        (None, r, None) for r in reasons]
    known: dict[int, float] = {}
    if rules.screen is not None:
        if extract:
            raise SettingError("the screen decides whole documents; it cannot be combined "
                               "with extract")
        todo = _screen(pair, texts, todo, rules.screen, out, known)
    for group in _groups(todo, [len(texts[i]) for i in todo], SCORE_CHARS):
        scores = pair.score_many([texts[i] for i in group], batch_size=batch_size, dtype=dtype)
        with paused_gc():
            judged, found = doc_scores(pair, [texts[i] for i in group], scores)
            for i, sc, ds, sp in zip(group, scores, judged, found, strict=True):
                if i in known:
                    ds = replace(ds, known_words=known[i])
                if extract:
                    spans = [sp for sp in in_distribution_spans(pair, texts[i], sc, spans=sp)
                             if sp.end - sp.start >= rules.min_length
                             and (rules.max_mean_kl is None or sp.mean_kl <= rules.max_mean_kl)]
                    reason = decide(ds, _NO_RULES)
                    reason = reason or (None if spans else "no_in_distribution_span")
                    out[i] = (ds, reason, spans)
                else:
                    out[i] = (ds, decide(ds, rules), None)
    return out


def _screen(pair, texts: Sequence[Any], todo: list[int], screen: Screen,
            out: list, known: dict[int, float]) -> list[int]:
    """Decide the documents of ``todo`` that ``screen`` can (into ``out``); record every
    document's known-word share in ``known``; return those left to score."""
    lexicon = pair.lexicon
    if lexicon is None or len(lexicon) == 0:
        raise ModelFileError("the model has no word list; --screen needs one "
                             "(train it with textkl train)")
    left = []
    for i in todo:
        words, share = lexicon.known_share(texts[i])
        known[i] = share
        verdict = screen.verdict(words, share)
        if verdict is None:
            left.append(i)
            continue
        ds = DocScore(len(texts[i]), math.nan, math.nan, math.nan, math.nan, share, True)
        out[i] = (ds, None if verdict else "known_words", None)
    return left


def in_distribution_spans(pair, text: str, scores: Scores, finder: SpanFinder | None = None,
                          spans: Sequence[Span] | None = None) -> list[Segment]:
    """Book-like spans of ``text`` as half-open offsets, from its already computed scores.

    The spans are those ``finder`` (default ``span_finder(pair)``: what ``segment`` uses)
    finds book-like (or those of ``spans``, where the finder has run), as region-0
    ``Segment``s, trimmed of surrounding whitespace; spans of whitespace only are left out.
    """
    found = (finder or span_finder(pair)).predict(text, scores) if spans is None else spans
    kept = []
    for sp in found:
        piece = text[sp.start : sp.end]
        if sp.foreign or not piece.strip():
            continue
        start = sp.start + len(piece) - len(piece.lstrip())
        kept.append(Span(start, sp.start + len(piece.rstrip()), False))
    return to_segments(kept, [0] * len(kept), scores.kl)


# --------------------------------------------------------------------------- JSONL


@dataclass(frozen=True)
class _Line:
    number: int  # 1-based input line number
    raw: bytes
    doc: dict | None = None  # parsed object
    reason: str | None = None  # why it cannot be a document
    detail: str = ""


def _parse(number: int, raw: bytes) -> _Line:
    body = raw.rstrip(b"\r\n")
    if not body.strip():
        return _Line(number, raw, reason="blank_line")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        return _Line(number, raw, reason="invalid_utf8", detail=str(e)[:200])
    try:
        obj = json.loads(text)
    except ValueError as e:
        return _Line(number, raw, reason="malformed_json", detail=str(e)[:200])
    if not isinstance(obj, dict):
        return _Line(number, raw, reason="not_an_object", detail=type(obj).__name__)
    return _Line(number, raw, doc=obj)


def _dump(obj: dict) -> bytes:
    try:
        return (json.dumps(obj, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    except (UnicodeEncodeError, ValueError):  # lone surrogates or NaN: fall back to escapes
        return (json.dumps(obj, ensure_ascii=True) + "\n").encode("ascii")


def _bad_line_record(line: _Line, meta_key: str) -> dict:
    body = line.raw[:-1] if line.raw.endswith(b"\n") else line.raw  # the line, byte for byte
    raw = body.decode("utf-8", "surrogateescape")
    meta = {"reason": line.reason, "line": line.number}
    if line.detail:
        meta["detail"] = line.detail
    return {meta_key: meta, "raw": raw}


def _chunks(lines: Iterable[bytes], docs: int, chars: int) -> Iterator[list[_Line]]:
    chunk: list[_Line] = []
    size = 0
    for number, raw in enumerate(lines, start=1):
        chunk.append(_parse(number, raw))
        size += len(raw)
        if len(chunk) >= docs or size >= chars:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def filter_lines(pair, lines: Iterable[bytes], keep: IO[bytes], reject: IO[bytes], *,
                 field: str = "text", rules: Rules | None = None, extract: bool = False,
                 meta_key: str = META_KEY, batch_size: int | None = None, dtype: Any = None,
                 chunk_docs: int = 8192, chunk_chars: int = 8_000_000,
                 progress: bool = False) -> Summary:
    """Filter JSONL lines into the ``keep`` and ``reject`` byte streams; every line lands once.

    Kept documents gain ``doc[meta_key] = {n_chars, mean_kl, ood_share, percentile,
    foreign_share}``
    (with ``spans: [{start, end, mean_kl, text}]`` under ``extract``, and ``known_words``,
    ``screened`` with ``rules.screen``: the scores are null where the screen decided);
    rejected ones also carry ``reason``. A line that is not a JSON object goes to ``reject`` as
    ``{meta_key: {reason, line, detail}, "raw": line}``.
    """
    from tqdm import tqdm

    _calibration(pair)
    rules = (Rules() if rules is None else rules).for_pair(pair, extract)
    t0 = time.perf_counter()
    reasons: Counter[str] = Counter()
    total = kept = chars = screened = 0
    bar = tqdm(unit="doc", disable=not progress, dynamic_ncols=True, smoothing=0.1)
    for chunk in _chunks(lines, chunk_docs, chunk_chars):
        values = [ln.doc.get(field, MISSING) if ln.doc is not None else MISSING for ln in chunk]
        good = [i for i, ln in enumerate(chunk) if ln.doc is not None]
        judged = dict(zip(good, score_documents(pair, [values[i] for i in good], rules,
                                                batch_size=batch_size, extract=extract,
                                                dtype=dtype),
                          strict=True))
        for i, ln in enumerate(chunk):
            total += 1
            if ln.doc is None:
                reasons[ln.reason or "?"] += 1
                reject.write(_dump(_bad_line_record(ln, meta_key)))
                continue
            score, reason, spans = judged[i]
            meta = score.to_dict() if score else {"n_chars": _len(values[i])}
            chars += score.n_chars if score else 0
            screened += bool(score and score.screened)
            if spans is not None:
                meta["spans"] = [{"start": sp.start, "end": sp.end, "mean_kl": _num(sp.mean_kl, 6),
                                  "text": values[i][sp.start : sp.end]} for sp in spans]
            if reason is not None:
                meta["reason"] = reason
                reasons[reason] += 1
            else:
                kept += 1
            (reject if reason else keep).write(_dump({**ln.doc, meta_key: meta}))
        bar.update(len(chunk))
        bar.set_postfix(kept=kept, chars_s=f"{chars / (time.perf_counter() - t0):,.0f}")
    bar.close()
    return Summary(total, kept, dict(reasons), chars, time.perf_counter() - t0, screened)


def _len(v: Any) -> int | None:
    return len(v) if isinstance(v, str) else None


def filter_jsonl(pair, src: str, keep: str, reject: str, **kwargs: Any) -> Summary:
    """Filter the JSONL file ``src`` (or ``-``) into ``keep`` and ``reject`` (see ``filter_lines``).

    Both outputs are written atomically: on any error neither appears.

    Raises:
        InputError: missing or undecodable input, or .zst without zstandard.
    """
    if str(keep) == str(reject):
        raise SettingError(f"--keep and --reject must differ, both are {keep}")
    with open_output(keep) as k, open_output(reject) as r:
        return filter_lines(pair, iter_lines(src), k, r, **kwargs)
