"""Spans: the one span type, and the primitives every span finder and region step shares.

``Span(start, end, foreign)`` is what a span finder returns: half-open Python ``str``
offsets that tile the text, with neighbours that differ. ``Segment`` is the labelled result
(region, in/out of distribution, mean KL). Boundaries go to word starts, preferably
sentence starts (``snap_candidates``). A leaf module: numpy only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .numerics import log_kl

# a period after these is not a sentence end ("Mrs. Bennet", "M. Martin")
_SENTENCE_END = re.compile(r"(?:[.!?…][\"'”’»)\]]*\s+|\n\s*)(?=\S)")
_ABBREV = re.compile(r"(?<![^\W\d_])(?:Mr|Mrs|Ms|Dr|St|Mme|Mlle|M|Messrs)\.$")
# a blank line (spaces allowed), then the next character: a match ends where a paragraph
# starts (the region step cuts foreign spans there, ``textkl.chunked`` cuts chunks there)
PARAGRAPH_START = re.compile(r"\n[^\S\n]*\n\s*(?=\S)")


class Span(NamedTuple):
    """A half-open span ``text[start:end]`` found by a span finder, before regions."""

    start: int
    end: int
    foreign: bool  # True where the span does not look like the book


@dataclass(frozen=True)
class Segment:
    """A half-open span ``text[start:end]`` with its region.

    Attributes:
        start, end: Python ``str`` offsets, ``start < end``.
        label: region; 0 is the book-like region, 1..K the other regions.
        in_distribution: True where the span looks like the book.
        mean_kl: mean self-KL over the span's scored characters, in nats (NaN if none).
    """

    start: int
    end: int
    label: int
    in_distribution: bool
    mean_kl: float


def runs(mask: np.ndarray) -> list[tuple[int, int, bool]]:
    """Maximal runs of equal values of a boolean (N,) array as ``(start, end, value)``."""
    m = np.asarray(mask, dtype=bool)
    if len(m) == 0:
        return []
    cuts = np.flatnonzero(m[1:] != m[:-1]) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [len(m)]))
    return [(int(s), int(e), bool(m[s])) for s, e in zip(starts, ends)]


def hysteresis(signal: np.ndarray, high: float, low: float) -> np.ndarray:
    """Bool (N,): runs of ``signal > low`` that reach above ``high`` somewhere (NaN is low)."""
    s = np.nan_to_num(np.asarray(signal, dtype=np.float64), nan=-np.inf)
    above = s > low
    out = np.zeros(len(s), dtype=bool)
    for start, end, val in runs(above):
        if val and (s[start:end] > high).any():
            out[start:end] = True
    return out


def clean_mask(mask: np.ndarray, min_span: int, min_gap: int) -> np.ndarray:
    """Drop foreign (True) runs shorter than ``min_span``; fill gaps shorter than ``min_gap``."""
    m = np.asarray(mask, dtype=bool).copy()
    for start, end, val in runs(m):
        if val and end - start < min_span:
            m[start:end] = False
    for start, end, val in runs(m):
        inner = start > 0 and end < len(m)
        if not val and inner and end - start < min_gap:
            m[start:end] = True
    return m


def snap_candidates(text: str, space: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Offsets where a boundary may go: word starts, and the subset that start a sentence.

    A word start is a non-space character after whitespace; a sentence start is a word
    start after a newline or after ``.!?`` (possibly with closing quotes or brackets), but
    not after a title such as ``Mrs.``. ``space`` is ``space_mask(text)`` if the caller
    has it already.

    Returns:
        words, sentences: sorted int64 arrays, both including 0 and ``len(text)``.
    """
    sp = space_mask(text) if space is None else space
    words = np.flatnonzero(sp[:-1] & ~sp[1:]) + 1  # a non-space after a space
    return _with_ends(words, len(text)), sentence_starts(text)


_last_sentences: tuple[str | None, np.ndarray] = (None, np.zeros(0, dtype=np.int64))


def sentence_starts(text: str) -> np.ndarray:
    """Sentence starts of ``snap_candidates`` (read-only). The span finder and the region
    step both ask for those of one text in a row: the last text's are kept (one entry,
    found by identity, replaced in one assignment so that threads never see half of it)."""
    global _last_sentences
    last = _last_sentences
    if last[0] is text:
        return last[1]
    sents = [m.end() for m in _SENTENCE_END.finditer(text)  # a title ends with "."
             if text[m.start()] != "." or not _ABBREV.search(text, max(0, m.start() - 5),
                                                            m.start() + 1)]
    out = _with_ends(np.array(sents, dtype=np.int64), len(text))
    out.flags.writeable = False
    _last_sentences = (text, out)
    return out


def _with_ends(offsets: np.ndarray, n: int) -> np.ndarray:
    """Increasing int64 ``offsets`` in [0, n] with 0 and n added where missing."""
    head = [0] if len(offsets) == 0 or offsets[0] != 0 else []
    tail = [n] if (len(offsets) == 0 or offsets[-1] != n) and n != 0 else []
    return np.concatenate((np.array(head, np.int64), offsets.astype(np.int64),
                           np.array(tail, np.int64)))


def space_mask(text: str) -> np.ndarray:
    """Bool (N,): ``text[i].isspace()``, without a Python loop over characters."""
    from .vocab import codepoints, is_whitespace

    return is_whitespace(codepoints(text))


def _nearest(cands: np.ndarray, x: int, lo: int, hi: int) -> int | None:
    """The candidate nearest ``x`` inside the open interval (lo, hi), or None."""
    inside = cands[np.searchsorted(cands, lo, side="right") : np.searchsorted(cands, hi)]
    if len(inside) == 0:
        return None
    return int(inside[np.argmin(np.abs(inside - x))])


def _two_piece_cut(x: np.ndarray, lo: int, hi: int, cands: np.ndarray) -> int | None:
    """Candidate c in (lo, hi) minimising the squared error of a step fit to x[lo:hi]."""
    seg = x[lo:hi]
    ok = ~np.isnan(seg)
    cs = cands[np.searchsorted(cands, lo, side="right") : np.searchsorted(cands, hi)]
    if len(cs) == 0 or ok.sum() < 2:
        return None
    c1 = np.concatenate(([0.0], np.cumsum(np.where(ok, seg, 0.0))))
    c2 = np.concatenate(([0.0], np.cumsum(np.where(ok, seg * seg, 0.0))))
    cn = np.concatenate(([0], np.cumsum(ok)))
    k = cs - lo
    n_l, n_r = cn[k], cn[-1] - cn[k]
    s_l, s_r = c1[k], c1[-1] - c1[k]
    with np.errstate(invalid="ignore", divide="ignore"):
        sse = (c2[-1] - np.where(n_l > 0, s_l**2 / np.maximum(n_l, 1), 0.0)
               - np.where(n_r > 0, s_r**2 / np.maximum(n_r, 1), 0.0))
    return int(cs[np.argmin(sse)])


def place_boundaries(text: str, logkl: np.ndarray, cuts: list[int], refine_radius: int,
                     snap_radius: int) -> list[int]:
    """Refine rough cut offsets on the raw log-KL and snap them to sentence or word starts.

    Each cut moves at most ``refine_radius`` characters and never past its neighbours, so
    the order is kept; cuts that collapse onto each other are dropped.
    """
    words, sents = snap_candidates(text)
    out: list[int] = []
    bounds = [0, *cuts, len(text)]
    for i, c in enumerate(cuts, start=1):
        lo = max(bounds[i - 1] + (bounds[i] - bounds[i - 1]) // 2, c - refine_radius)
        hi = min(bounds[i] + (bounds[i + 1] - bounds[i]) // 2, c + refine_radius)
        lo, hi = max(lo, out[-1] if out else 0), max(hi, lo + 1)
        best = _two_piece_cut(logkl, lo, hi, words)
        best = c if best is None else best
        snapped = _nearest(sents, best, max(lo, best - snap_radius) - 1,
                           min(hi, best + snap_radius) + 1)
        if snapped is None:
            snapped = _nearest(words, best, lo - 1, hi + 1) or best
        if (not out or snapped > out[-1]) and 0 < snapped < len(text):
            out.append(snapped)
    return out


def finish_mask(text: str, kl: np.ndarray, mask: np.ndarray, refine_radius: int,
                snap_radius: int) -> list[Span]:
    """Refine and snap the cuts of a rough mask, then rebuild a tiling of alternating runs."""
    rough = runs(mask)
    cuts = place_boundaries(text, log_kl(kl), [e for _, e, _ in rough[:-1]],
                            refine_radius, snap_radius)
    edges = [0, *cuts, len(text)]
    spans: list[Span] = []
    for s, e in zip(edges[:-1], edges[1:]):
        mid = mask[s:e]
        foreign = bool(mid.mean() >= 0.5) if len(mid) else False
        if spans and spans[-1][2] == foreign:
            spans[-1] = Span(spans[-1][0], e, foreign)
        else:
            spans.append(Span(s, e, foreign))
    return spans


def to_segments(spans: list[Span], labels: list[int], kl: np.ndarray) -> list[Segment]:
    """Segments from ``(start, end, foreign)`` spans and one region label per span; each
    segment's mean KL over its non-NaN values (NaN where it has none)."""
    if len(spans) != len(labels):
        raise ValueError(f"{len(spans)} spans but {len(labels)} labels")
    if not spans:
        return []
    values = np.asarray(kl, dtype=np.float64)
    ok = ~np.isnan(values)
    # the sums of every span at once: reduceat over (start, end) pairs, a zero appended so
    # an end at len(kl) is a valid index; every other result is a span's own sum
    bounds = np.asarray([(s, e) for s, e, _ in spans], dtype=np.int64).ravel()
    sums = np.add.reduceat(np.append(np.where(ok, values, 0.0), 0.0), bounds)[::2]
    counts = np.add.reduceat(np.append(ok, False).astype(np.int64), bounds)[::2]
    counts[bounds[1::2] <= bounds[::2]] = 0  # an empty span (reduceat gives one value there)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan).tolist()
    return [Segment(s, e, int(lab), not foreign, mean)
            for (s, e, foreign), lab, mean in zip(spans, labels, means)]


def merge_segments(segs: list[Segment]) -> list[Segment]:
    """Merge neighbours of the same region; the mean KL is length-weighted (NaN-aware)."""
    out: list[Segment] = []
    for g in segs:
        if out and out[-1].label == g.label and out[-1].in_distribution == g.in_distribution:
            a = out[-1]
            wa, wb = a.end - a.start, g.end - g.start
            vals = [(m, w) for m, w in ((a.mean_kl, wa), (g.mean_kl, wb)) if m == m]
            mean = sum(m * w for m, w in vals) / sum(w for _, w in vals) if vals else float("nan")
            out[-1] = Segment(a.start, g.end, a.label, a.in_distribution, mean)
        else:
            out.append(g)
    return out
