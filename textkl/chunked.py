"""Segmenting a text too long to hold: chunk by chunk, with one labelling of regions.

``segment_file`` reads a file (or stdin) in chunks of about ``chunk_chars`` characters,
each cut at a paragraph start, and runs ``segment_text``'s steps on each chunk: score,
find spans, split the foreign ones (``regions.local_pieces``). A text that fits in one
chunk goes through ``segment_text`` itself, so its segments are the same.

For a longer text the regions are clustered once, over the whole text, from summaries of
bounded size (``_Pool``): each chunk's foreign pieces become at most
``RegionConfig.max_direct`` groups of near-identical pieces (a length-weighted mean
profile each; k-means above that many pieces, as ``ward_clusters`` pre-groups), and when
the pool holds more than four times that many groups k-means merges it back down.
At the end ``regions.cluster_pieces`` (Ward, then k-means refinement) labels the groups,
and every piece takes its group's label. The merge penalty's scale is the median
half-piece cost over all pieces, and the anchor is the book-like text of all chunks. What
differs from clustering every piece at once: refinement moves groups, not pieces; the
text is scored chunk by chunk (the first characters of a chunk have no context from the
one before, as at the start of any text), and the span finder's second pass
(``DecodeConfig.document_weight``) learns from the words of each chunk, not of the whole
text.

Memory: one chunk's text and scores, the pool (at most
``5 * max_direct`` profiles of ``profile_buckets`` floats), one record per segment and
two numbers per foreign piece (its length and a sample of the null cost);
the JSON's region terms come from a second pass over the file. Never the whole text.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .finders import SpanFinder, make_finder
from .io import iter_text
from .regions import (
    LocalPieces,
    ProfileMetric,
    RegionConfig,
    RegionTerms,
    TermCounter,
    cluster_pieces,
    group_centroids,
    local_pieces,
    number_regions,
    pregroup,
    single_region,
)
from .segment import Regions, paused_gc, region_config, segment_text, wants_features
from .spans import PARAGRAPH_START, Segment, merge_segments, to_segments

if TYPE_CHECKING:
    import torch

    from .pair import Pair

CHUNK_CHARS = 1_000_000  # characters per chunk; a text up to this long is segmented whole


def chunks(pieces: Iterable[str], size: int = CHUNK_CHARS) -> Iterator[str]:
    """Re-cut a stream of text into chunks of about ``size`` characters.

    A chunk ends at the last paragraph start (a blank line, then text) in its second
    half, else after its last newline, else after its last whitespace, else at ``size``.
    The chunks, joined, are the text.
    """
    buf = ""
    for piece in pieces:
        buf += piece
        while len(buf) >= size + size // 2:  # room to look for a break in [size/2, size)
            cut = _break(buf, size)
            yield buf[:cut]
            buf = buf[cut:]
    while len(buf) > size:
        cut = _break(buf, size)
        yield buf[:cut]
        buf = buf[cut:]
    if buf:
        yield buf


def _break(buf: str, size: int) -> int:
    lo = size // 2
    last = None
    for m in PARAGRAPH_START.finditer(buf, lo, size):
        last = m.end()
    if last is not None and lo < last <= size:
        return last
    for sep in ("\n", " ", "\t"):
        i = buf.rfind(sep, lo, size)
        if i >= 0:
            return i + 1
    return size


class _Pool:
    """Bounded summaries of the foreign pieces of a long text, chunk by chunk."""

    def __init__(self, cfg: RegionConfig) -> None:
        self.cfg = cfg
        self.metric: ProfileMetric | None = None  # the first chunk with foreign pieces sets it
        f = cfg.profile_buckets
        self.centroids = np.zeros((0, f))
        self.weights = np.zeros(0)
        self.owner = np.zeros(0, dtype=np.int64)  # group id (ever added) -> pool row
        self.null: list[np.ndarray] = []
        self.sizes: list[np.ndarray] = []  # piece lengths (8 bytes a piece)
        self.pieces = 0
        self.book_counts = np.zeros(f)
        self.book_ngrams = 0
        self.book_chars = 0

    @property
    def projected(self) -> bool | None:
        """Whether the pieces are compared along the learned language directions (None
        until a chunk with foreign pieces has decided)."""
        return None if self.metric is None else self.metric.projection is not None

    def add(self, local: LocalPieces) -> np.ndarray:
        """Take one chunk's pieces; returns the group id of each foreign piece."""
        self.book_chars += local.book_chars
        if local.book is not None:
            self.book_counts += local.book**2 * local.book_ngrams  # back to counts
            self.book_ngrams += local.book_ngrams
        n = len(local.foreign)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        if self.metric is None:
            self.metric = local.metric
            self.centroids = np.zeros((0, local.profiles.shape[1]))
        self.null.append(local.null)
        self.sizes.append(local.sizes)
        self.pieces += n
        cap = self.cfg.max_direct
        pre = pregroup(local.profiles, local.sizes, cap, self.cfg.seed) if n > cap \
            else np.arange(n)
        cent, w, pre = group_centroids(local.profiles, local.sizes, pre)
        first = len(self.owner)
        self.owner = np.concatenate([self.owner, len(self.weights) + np.arange(len(w))])
        self.centroids = np.vstack([self.centroids, cent])
        self.weights = np.concatenate([self.weights, w])
        if len(self.weights) > 4 * cap:
            groups = pregroup(self.centroids, self.weights, cap, self.cfg.seed)
            self.centroids, self.weights, groups = group_centroids(self.centroids,
                                                                   self.weights, groups)
            self.owner = groups[self.owner]
        return first + pre

    def cluster(self) -> np.ndarray:
        """The cluster (or -1: the anchor's region) of every group id."""
        cfg = self.cfg
        if self.pieces == 0:
            return np.zeros(len(self.owner), dtype=np.int64)
        anchor = None
        if self.book_ngrams and self.book_chars >= cfg.min_chars:
            book = np.sqrt(self.book_counts / self.book_ngrams)
            anchor = (self.metric.apply(book[None])[0], float(self.book_chars))
        null = np.concatenate(self.null)
        scale = float(np.median(null)) if len(null) else 1.0
        raw = cluster_pieces(self.centroids, self.weights, self.pieces, scale, anchor, cfg,
                             float(np.median(np.concatenate(self.sizes))), bool(self.projected))
        return np.asarray(raw)[self.owner]


def segment_chunks(pair: Pair, pieces: Iterable[str], *, finder: str | SpanFinder = "decode",
                   regions: Regions = "auto", seed: int = 0,
                   dtype: torch.dtype | None = None, chunk_chars: int = CHUNK_CHARS,
                   on_chunk=None) -> tuple[list[Segment], int, bool]:
    """Segment a text given as pieces (see the module docstring).

    Args:
        pair, finder, regions, seed: as for ``segment_text``.
        pieces: the text, in pieces of any size (``io.iter_text``).
        dtype: autocast dtype of the scorer (None: float32).
        chunk_chars: characters per chunk.
        on_chunk: called with each chunk once it is done (progress).

    Returns:
        The segments (whole-text offsets), the text's length, and whether it was
        segmented whole (one chunk).
    """
    from threadpoolctl import threadpool_limits

    config = region_config(regions, seed)
    it = chunks(pieces, chunk_chars)
    first = next(it, "")
    second = next(it, None)
    if second is None:  # one chunk: exactly what segment_text gives
        scores = pair.score(first, features=wants_features(config), dtype=dtype) \
            if first else None
        segs = segment_text(pair, first, finder=finder, regions=config, scores=scores)
        if on_chunk is not None:
            on_chunk(first)
        return segs, len(first), True
    settings = pair.defaults(finder) if isinstance(finder, str) else {}
    span_finder = make_finder(finder, **settings).fit(pair.calibration, pair.lexicon)
    pool = _Pool(config) if config is not None else None
    done: list[tuple[list[Segment], list[int], np.ndarray]] = []
    offset = 0
    for chunk in chain([first, second], it):
        scores = pair.score(chunk, features=wants_features(config), dtype=dtype)
        with paused_gc():
            spans = span_finder.predict(chunk, scores)
            if pool is None:
                segs = single_region(spans, scores)
                foreign: list[int] = []
                groups = np.zeros(0, dtype=np.int64)
            else:
                with threadpool_limits(1):  # as in regions.assign_regions: small matrices
                    local = local_pieces(chunk, spans, scores, config, always_book=True,
                                         project=pool.projected)
                    groups = pool.add(local)
                segs = to_segments(local.spans, [0] * len(local.spans), scores.kl)
                foreign = local.foreign
        done.append(([_shift(s, offset) for s in segs], foreign, groups))
        offset += len(chunk)
        if on_chunk is not None:
            on_chunk(chunk)
    out: list[Segment] = []
    if pool is None:
        for segs, _, _ in done:
            out.extend(segs)
        return merge_segments(out), offset, False
    with threadpool_limits(1):
        by_group = pool.cluster()
    order: dict[int, int] = {}
    for segs, foreign, groups in done:
        labels = number_regions(by_group[groups].tolist(), order)
        for i, lab in zip(foreign, labels, strict=True):
            s = segs[i]
            segs[i] = Segment(s.start, s.end, lab, s.in_distribution, s.mean_kl)
        out.extend(segs)
    return merge_segments(out), offset, False


def _shift(s: Segment, offset: int) -> Segment:
    return Segment(s.start + offset, s.end + offset, s.label, s.in_distribution, s.mean_kl)


def file_terms(path: str | Path, segments: list[Segment], chunk_chars: int = CHUNK_CHARS,
               top: int = 6) -> list[RegionTerms]:
    """``region_terms`` of a file read again chunk by chunk (the same chunks)."""
    labels = sorted({s.label for s in segments})
    counter = TermCounter()
    starts = np.array([s.start for s in segments], dtype=np.int64)
    offset = 0
    for chunk in chunks(iter_text(path), chunk_chars):
        lo = max(int(np.searchsorted(starts, offset, side="right")) - 1, 0)
        hi = int(np.searchsorted(starts, offset + len(chunk), side="left"))
        counter.add(chunk, segments[lo:hi], offset)
        offset += len(chunk)
    return counter.terms(labels, top) if labels else []


@contextmanager
def readable_twice(path: str | Path) -> Iterator[str | Path]:
    """``path`` itself, or for ``-`` a temporary copy of stdin (read twice, bounded memory)."""
    if str(path) != "-":
        yield path
        return
    with tempfile.NamedTemporaryFile(prefix="textkl-stdin-", suffix=".txt") as tmp:
        shutil.copyfileobj(sys.stdin.buffer, tmp, 1 << 24)
        tmp.flush()
        yield tmp.name
