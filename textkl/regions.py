"""Regions: group foreign spans into languages and styles, without labels.

On top of ``textkl.spans``: a span finder (``textkl.finders``) cuts the text, and this
module splits, clusters and labels the foreign spans.

Three steps:

1. **Split.** A foreign span may hold several foreign languages back to back (a French
   paragraph then a German one): the KL is high on both, so the span finder sees one
   span. Each foreign span is cut at every paragraph start (blank line) and at change
   points of its block features (``numerics.linear_pelt``, ruptures' linear-kernel PELT:
   a change of mean, with the BIC-like penalty ``split_penalty * dims * log(blocks)``),
   snapped to a paragraph, sentence or word start. Every block of 32 characters (the
   blocks of ``Scores.feature_offsets``) has a vector of groups, each reduced by PCA
   (fitted on the foreign blocks) and put in units of its block-to-block noise, so that a
   change of region stands out: hashed character unigram and bigram frequencies of the
   block, its mean log-KL, surprisal, entropy, and with ``pca_dims`` > 0 the models'
   hidden states pooled over the block (``Scores.features``).
2. **Cluster.** Each foreign span is described by the n-gram profile of all its
   characters (square-root frequencies, so Euclidean distance is the Hellinger distance),
   each hashed bucket weighted by how well it tells languages apart rather than genres
   of one language (``ngram_weights``: learned once from 19 languages' development
   sources; ``ngram_weighting`` 0.75 blends it with the plain distance), with the span's
   coordinates along the 18 directions that best tell those languages apart appended
   (``ngram_projection``, linear discriminant analysis of the same paragraphs: half of the
   squared distance comes from them, ``ngram_projection`` 0.5; ``profile_metric``).
   Genre moves a span along the directions of the profile that vary within a language,
   which the projection leaves out, so a novel and a manual of one language lie much
   closer together than two languages. The projection only knows the languages it was
   learned from: text in others lies far from all of their means, and there it would
   merge languages it cannot tell apart, so it is used only where the foreign pieces lie
   near them (``known_language_distance`` within ``known_distance``, 1.5 times the
   learned spread, at the length-weighted median piece), with its own stop settings
   (``projected_merge_penalty`` 1.0, ``projected_min_distance`` 0.3); elsewhere the
   weighted profiles alone, with ``merge_penalty`` 0.5 and ``min_distance`` 0.045. Spans are
   merged bottom-up by Ward's criterion weighted by their lengths: merging
   clusters a and b costs ``n_a n_b / (n_a + n_b) * |mu_a - mu_b|^2``. With
   ``clusters=K`` merging stops at K clusters. With ``clusters="auto"`` it stops when the
   cheapest merge costs more than ``merge_penalty * (2 + log S) * null * (L / 300) **
   length_exponent`` for S spans of median length L, where ``null`` is the median cost
   of merging text that belongs together: two passages of length L of the book-like text
   far apart (``book_null_samples``), or where the book-like text is short, the two halves
   of one span (``null_cost``); the largest of S - 1 such merges grows like log S. Merges
   of different languages cost relatively more when spans are long, so the threshold
   rises slowly with L (exponent 0.25, chosen on the region benchmark's development
   documents). At most ``max_clusters`` are kept.
   On long texts the clusters grow, and with them the cost of merging two clusters that
   differ a little (a novel's dialogue and its narration, aphorisms and a manual in one
   language): the merge cost counts a cluster's weight up to ``penalty / min_distance``
   only, so that two large clusters whose profiles are closer than twice
   ``min_distance`` (squared Euclidean distance of the transformed profiles) always
   merge, however long they are. The projection's share, its two stop settings and
   ``known_distance`` were chosen on the region benchmark's development documents,
   ``known_distance`` also on the same documents with a projection learned without four
   of their languages (2026-12-04, docs/regions-benchmark.md). Merges
   into the anchor (below) and a given K keep Ward's costs. Short documents never reach
   that weight; on long ones it keeps one language one region. Last, a foreign cluster
   holding less than ``min_share`` (5 %) of the foreign text joins the cluster whose
   centroid is nearest (``absorb_small``): on long texts these are a genre's stray
   pieces (a table of contents, a manual's command lists). 5 % (3 % before 2026-12-03)
   was chosen on the region benchmark's development documents, short and long
   (docs/regions-benchmark.md).
   Also with ``auto``, the book-like text takes part in the merging as one fixed cluster
   (the "anchor"): foreign-flagged spans that merge into it (say English dialogue that a
   Moby-Dick pair finds unusual) join region 0 but keep ``in_distribution=False``.
3. **Refine.** With K fixed, k-means passes move spans to the nearest cluster centroid.

Design note: an earlier version clustered the mean block vectors above (hidden states
included) with a BIC-like stop in block-noise units; on the six-language benchmark it
reached an adjusted Rand index of 0.92 on 300-700-character paragraphs and 0.67 on
100-300-character ones, where whole-span profiles reach 0.98 and 0.97
(``scripts/bench_segment.py``). Until 2026-12-02 the hidden states also drove the split;
they add nothing there that the n-grams miss (six languages with no paragraph breaks, char
ARI 0.917 with them, 0.913 without), and pooling them cost a tenth of ``segment``'s time,
so the default leaves them out (``pca_dims=0``).

Book-like spans form region 0; foreign regions are numbered 1..K in order of first
appearance, and neighbouring spans of the same region (and the same ``in_distribution``)
are merged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .errors import ModelFileError, SettingError
from .numerics import block_index, diff_noise, linear_pelt_many, log_kl
from .spans import (
    PARAGRAPH_START,
    Segment,
    Span,
    merge_segments,
    snap_candidates,
    to_segments,
)

if TYPE_CHECKING:
    from .score import Scores

_WORD_START = re.compile(r"\s\S")  # a space, then the word's first character

WEIGHTED_BUCKETS = 2048  # the size of the learned n-gram weights (``ngram_weights``)
PROJECTION_DIMS = 18  # the learned language directions (``ngram_projection``)
PROJECTION_LANGUAGES = 19  # the languages they were learned from
KNOWN_DISTANCE = 1.5  # see ``RegionConfig.known_distance`` and ``known_language_distance``


@dataclass(frozen=True)
class RegionConfig:
    pca_dims: int = 0  # split step: PCA components of the pooled hidden states (0: none)
    ngram_dims: int = 16  # split step: PCA components of the block n-gram profiles
    min_blocks: int = 4  # fewest feature blocks (of 32 chars) between two split points
    split_penalty: float = 1.5  # change-point penalty factor (times dims * log(blocks))
    split_paragraphs: bool = True  # cut foreign spans at every paragraph start (blank line)
    min_chars: int = 40  # ... unless that leaves a piece shorter than this
    snap_radius: int = 64  # characters searched for a paragraph/sentence start at a split
    merge_penalty: float = 0.5  # "auto" stops above this x (2 + log spans) x the null cost
    length_exponent: float = 0.25  # ... x (median piece length / 300) ** this
    max_clusters: int = 8  # "auto" never keeps more foreign regions than this
    min_share: float = 0.05  # "auto": foreign clusters under this share join the nearest
    min_distance: float = 0.045  # "auto": large clusters closer than twice this always merge
    max_direct: int = 300  # Ward merges at most this many groups; more spans: k-means first
    book_anchor: bool = True  # "auto": foreign spans merging into the book-like text get region 0
    refine_iters: int = 10  # k-means passes on whole-span n-gram profiles after Ward (0: none)
    profile_buckets: int = 2048  # hashed n-gram buckets of the whole-span profiles (Ward, refine)
    ngram_weighting: float = 0.75  # profiles: 0 plain Hellinger .. 1 the learned bucket weights
    ngram_projection: float = 0.5  # share of the distance from the learned language directions
    known_distance: float = KNOWN_DISTANCE  # ... used where the pieces lie this near a language
    projected_merge_penalty: float = 1.0  # merge_penalty where the projection is used
    projected_min_distance: float = 0.3  # min_distance where the projection is used
    clusters: int | str = "auto"  # number K of foreign regions, or "auto"
    seed: int = 0  # seed of the k-means pre-grouping used when there are very many spans

    def __post_init__(self) -> None:
        c = self.clusters
        if c != "auto" and (isinstance(c, bool) or not isinstance(c, int) or c < 1):
            raise SettingError(f"clusters must be a positive int or 'auto', got {c!r}")
        if self.profile_buckets < 16 or self.profile_buckets % 2:
            raise SettingError(f"profile_buckets must be an even number >= 16, "
                               f"got {self.profile_buckets}")
        if self.max_direct < 2:
            raise SettingError(f"max_direct must be >= 2, got {self.max_direct}")
        for name in ("min_distance", "projected_min_distance", "known_distance"):
            if not getattr(self, name) >= 0:
                raise SettingError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.min_share < 1:
            raise SettingError(f"min_share must be in [0, 1), got {self.min_share}")
        if not 0 <= self.ngram_weighting <= 1:
            raise SettingError(f"ngram_weighting must be in [0, 1], got {self.ngram_weighting}")
        if not 0 <= self.ngram_projection <= 1:
            raise SettingError(f"ngram_projection must be in [0, 1], got {self.ngram_projection}")
        for name in ("ngram_weighting", "ngram_projection"):
            if getattr(self, name) and self.profile_buckets != WEIGHTED_BUCKETS:
                raise SettingError(f"{name} needs profile_buckets = {WEIGHTED_BUCKETS} (the "
                                   f"learned weights' size); set {name}=0 for "
                                   f"{self.profile_buckets}")


class SparseRows(NamedTuple):
    """A matrix by rows, only its nonzero values (compressed sparse rows): the block
    n-gram profiles, where a block of 32 characters fills about 40 of 512 buckets. What the
    split step needs of ``scipy.sparse``, without importing it (0.2-0.3 s per process).

    Attributes:
        data: float64 (nnz,) the values, row after row.
        indices: int (nnz,) the column of each value, increasing (so distinct) within a
            row.
        indptr: int64 (rows + 1,) where each row's values start in ``data``.
        shape: (rows, columns).
    """

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    shape: tuple[int, int]

    @property
    def nnz(self) -> int:
        return len(self.data)

    def row_of_values(self) -> np.ndarray:
        """int64 (nnz,): the row each value is in."""
        return np.repeat(np.arange(self.shape[0], dtype=np.int64), np.diff(self.indptr))

    def toarray(self) -> np.ndarray:
        out = np.zeros(self.shape)
        out[self.row_of_values(), self.indices] = self.data
        return out

    def take(self, rows: np.ndarray) -> SparseRows:
        """The rows ``rows`` (int, in any order, repeats allowed) as a new matrix."""
        rows = np.asarray(rows, dtype=np.int64)
        lens = np.diff(self.indptr)[rows]
        at = _ranges(self.indptr[rows], lens)
        indptr = np.concatenate(([0], np.cumsum(lens)))
        return SparseRows(self.data[at], self.indices[at], indptr, (len(rows), self.shape[1]))

    def dot(self, dense: np.ndarray, rows_at_once: int = 1024) -> np.ndarray:
        """float64 (rows, D): this matrix times ``dense`` (columns, D). A block of rows at a
        time is scattered into a dense buffer and multiplied there (a BLAS product, about
        five times faster than summing the (values, D) products per row), so memory stays
        at one (rows_at_once, columns) buffer."""
        out = np.zeros((self.shape[0], dense.shape[1]))
        buf = np.zeros((min(rows_at_once, self.shape[0]), self.shape[1]))
        rows = self.row_of_values()
        for r0 in range(0, self.shape[0], rows_at_once):
            r1 = min(r0 + rows_at_once, self.shape[0])
            a, b = self.indptr[r0], self.indptr[r1]
            if a == b:
                continue
            block, at = buf[: r1 - r0], (rows[a:b] - r0, self.indices[a:b])
            block[at] = self.data[a:b]  # columns are distinct within a row
            out[r0:r1] = block @ dense
            block[at] = 0.0  # the buffer zero again for the next block
        return out


def _reduce(features: np.ndarray | SparseRows, fit_rows: np.ndarray, dims: int
            ) -> np.ndarray:
    """PCA of ``features`` fitted on ``fit_rows``, each component in units of its noise.

    The noise of a component is estimated from differences of consecutive blocks (median
    absolute difference), which a few changes of region barely move; so a change of
    region stays large in these units while the noise is about 1 in every component.

    Returns:
        float64 (K, <= dims).
    """
    sparse = isinstance(features, SparseRows)
    x = features if sparse else np.asarray(features, dtype=np.float64)
    every = bool(fit_rows.all())  # then no copy of x for the fit
    rows = np.arange(x.shape[0]) if every or fit_rows.sum() < 2 else np.flatnonzero(fit_rows)
    rows = rows[:: max(1, len(rows) // 4000)]  # a few thousand blocks fix the components
    fit = x if len(rows) == x.shape[0] else (x.take(rows) if sparse else x[rows])
    # the principal axes from the scatter matrix: the same axes as an SVD of the (rows, D)
    # data, at a fraction of the cost when rows >> D. Columns that are zero in every fitted
    # row (hashed n-gram buckets no foreign block fills: about half of them) have zero
    # variance, so every axis with a positive variance is zero there: the scatter matrix of
    # the other columns alone gives the same axes, and its eigh costs a quarter.
    used, part = _used_columns(fit)
    mu_used = part.mean(0)
    centred = part - mu_used
    evals, evecs = np.linalg.eigh(centred.T @ centred)
    order = np.argsort(evals)[::-1]
    s = np.sqrt(np.maximum(evals[order], 0.0))  # singular values, largest first
    # components above rounding noise: relative to the largest, and absolutely (features
    # that do not vary, as in a text of one repeated character, have none: then a zero
    # column, in which no change point is found, instead of noise scaled up to unit size)
    floor = max(1e-6 * s[0], 1e-9 * np.sqrt(len(part)))
    d = int(min(dims, len(s), np.sum(s > floor)))
    if d == 0:
        return np.zeros((x.shape[0], 1))
    axes = np.zeros((fit.shape[1], d))
    axes[used] = evecs[:, order[:d]]
    mu = np.zeros(fit.shape[1])
    mu[used] = mu_used
    z = (x.dot(axes) if sparse else x @ axes) - mu @ axes  # (x - mu) @ axes, x kept sparse
    zf = z if every or fit_rows.sum() < 3 else z[fit_rows]
    if len(zf) < 3:
        return z
    noise = diff_noise(zf, axis=0)
    return z / np.maximum(noise, 1e-6 * max(float(noise.max()), 1e-12))


def _used_columns(fit: np.ndarray | SparseRows) -> tuple[np.ndarray, np.ndarray]:
    """The columns of ``fit`` with a nonzero value, and the dense (rows, used) matrix of
    them; all columns when none is used."""
    if isinstance(fit, SparseRows):
        value = fit.data != 0  # a stored zero does not make its column used
        used = np.flatnonzero(np.bincount(fit.indices[value], minlength=fit.shape[1]))
        if len(used) == 0:
            return np.arange(fit.shape[1]), fit.toarray()
        column = np.zeros(fit.shape[1], dtype=np.int64)
        column[used] = np.arange(len(used))
        out = np.zeros((fit.shape[0], len(used)))  # the values in their renumbered columns
        out[fit.row_of_values()[value], column[fit.indices[value]]] = fit.data[value]
        return used, out
    used = np.flatnonzero(fit.any(0))
    return (used, fit[:, used]) if len(used) else (np.arange(fit.shape[1]), fit)


def ngram_codes(text: str) -> np.ndarray:
    """int64 (N,): what ``char_profiles`` counts of each character of ``text``: its
    lower-cased code point if it is a letter, else 32 (one "non-letter" symbol).

    Compute it once per text and pass it to the profile functions (``codes=``): the region
    step profiles one text four times."""
    from .vocab import codepoints

    lower = text.lower()
    cp = codepoints(lower).astype(np.int64) if len(lower) == len(text) \
        else np.array([ord(c.lower()[0]) for c in text], dtype=np.int64)
    return np.where(_letters(text), cp, 32)


@lru_cache(maxsize=1)
def ngram_weights() -> np.ndarray:
    """float64 (2048,): how much each bucket of the whole-span profiles tells languages
    apart, learned by ``scripts/learn_ngram_weights.py`` (the ratio of its variance between
    languages to its variance within one, across genres; 19 languages, development sources
    only; record in ``data/ngram_weights.json``). Rescaled so that the weighted distance
    between pieces of one language is on the plain one's scale. Read-only."""
    from importlib import resources

    damaged = ModelFileError("textkl/data/ngram_weights.npy is missing or damaged; reinstall "
                             "textkl, or set RegionConfig(ngram_weighting=0)")
    try:
        with (resources.files("textkl") / "data" / "ngram_weights.npy").open("rb") as f:
            w = np.load(f, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise damaged from e
    if not isinstance(w, np.ndarray) or w.shape != (WEIGHTED_BUCKETS,) \
            or not np.all(np.isfinite(w)) or w.min() < 0:
        raise damaged
    w = w.astype(np.float64)
    w.flags.writeable = False
    return w


class Projection(NamedTuple):
    """The learned language directions of the whole-span profiles (``ngram_projection``)."""

    directions: np.ndarray  # float64 (F, D)
    means: np.ndarray  # float64 (languages, D): each learned language's mean paragraph
    spread: float  # mean squared distance of a paragraph from its language's mean


@lru_cache(maxsize=1)
def ngram_projection() -> Projection:
    """The directions of the whole-span profiles along which languages differ most for the
    spread of paragraphs within one language (linear discriminant analysis of the same
    paragraphs as ``ngram_weights``, by ``scripts/learn_ngram_weights.py``; 19 languages,
    18 directions), scaled so that two paragraphs of one language lie as far apart along
    them, on average, as in the default weighted profiles; with each language's mean
    paragraph along them. Read from ``data/ngram_projection.npz`` without pickles."""
    from importlib import resources

    damaged = ModelFileError("textkl/data/ngram_projection.npz is missing or damaged; "
                             "reinstall textkl, or set RegionConfig(ngram_projection=0)")
    try:
        with (resources.files("textkl") / "data" / "ngram_projection.npz").open("rb") as f:
            z = np.load(f, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):  # one array, not the archive
                raise ValueError("not an archive")
            with z:
                d, m, sp = (z[k].astype(np.float64) for k in ("directions", "means", "spread"))
    except (OSError, ValueError, KeyError) as e:
        raise damaged from e
    shapes = (d.shape, m.shape, sp.shape)
    if shapes != ((WEIGHTED_BUCKETS, PROJECTION_DIMS), (PROJECTION_LANGUAGES, PROJECTION_DIMS),
                  ()) or not all(np.all(np.isfinite(x)) for x in (d, m, sp)) or sp <= 0:
        raise damaged
    d.flags.writeable = m.flags.writeable = False
    return Projection(d, m, float(sp))


def known_language_distance(raw: np.ndarray, sizes: np.ndarray,
                            projection: Projection | None = None) -> float:
    """How near the pieces lie to the languages the projection was learned from: each
    piece's squared distance along the learned directions from the nearest language mean,
    in units of the learned ``spread``; the median over the pieces, weighted by length.

    About 1 for paragraphs in those languages; text in others lies far from every mean (a
    projection learned without Italian, Dutch, Portuguese and Latin put their paragraphs
    at 4-12 times the spread at the median, those of the 15 languages it learned at
    0.5-1.5), where the projection would merge languages it cannot tell apart. ``raw``:
    float (S, F) square-root profiles, as they are; ``sizes``: float (S,) their lengths.
    """
    p = ngram_projection() if projection is None else projection
    if not len(raw):
        return 0.0
    z = raw @ p.directions
    d2 = (((z[:, None, :] - p.means[None]) ** 2).sum(-1)).min(1) / p.spread
    order = np.argsort(d2)
    cum = np.cumsum(np.asarray(sizes, dtype=np.float64)[order])
    return float(d2[order][np.searchsorted(cum, cum[-1] / 2)])


class ProfileMetric(NamedTuple):
    """How whole-piece profiles are compared (``profile_metric``): each column of the
    square-root frequencies multiplied by ``scale``, then the piece's coordinates along the
    learned language directions (``projection``) appended. Squared Euclidean distances
    between transformed profiles are the distances the region step clusters by."""

    scale: np.ndarray | None  # float64 (F,), or None: 1
    projection: np.ndarray | None  # float64 (F, D), or None: nothing appended

    def apply(self, prof: np.ndarray) -> np.ndarray:
        """float64 (S, F) square-root frequencies -> (S, F [+ D])."""
        out = prof * self.scale if self.scale is not None else prof
        return out if self.projection is None else np.hstack([out, prof @ self.projection])

    def columns(self, buckets: int) -> int:
        return buckets + (0 if self.projection is None else self.projection.shape[1])


def profile_metric(cfg: RegionConfig, weights: np.ndarray | None = None,
                   projection: Projection | None = None, project: bool = True
                   ) -> ProfileMetric:
    """The comparison of ``cfg``: with ``a = cfg.ngram_weighting`` and ``b =
    cfg.ngram_projection`` (0 where ``project`` is False), squared distances count bucket j
    ``(1 - b) * ((1 - a) + a * w[j])`` times and the learned directions ``b`` times
    (``weights`` w and ``projection`` by default ``ngram_weights()`` and
    ``ngram_projection()``), so that pieces of one language stay as far apart as with the
    plain distance and languages move further."""
    a, b = cfg.ngram_weighting, cfg.ngram_projection if project else 0.0
    scale = None
    if a or b:
        w = (ngram_weights() if weights is None else weights) if a else 0.0
        scale = np.broadcast_to(np.sqrt((1.0 - b) * ((1.0 - a) + a * w)),
                                (cfg.profile_buckets,))
    proj = None
    if b:
        proj = np.sqrt(b) * (ngram_projection() if projection is None else projection).directions
    return ProfileMetric(scale, proj)


def _profile_matrix(cp: np.ndarray, lens: np.ndarray, buckets: int, sparse: bool
                    ) -> np.ndarray | SparseRows:
    """Profiles of consecutive blocks of ``cp`` (ngram codes) of lengths ``lens``."""
    k, half = len(lens), buckets // 2
    lens = np.asarray(lens, dtype=np.int64)
    base = np.repeat(np.arange(k, dtype=np.int64) * buckets, lens)  # each row's first key
    inside = base[1:] == base[:-1]  # bigrams inside a block
    bigram = cp[:-1] * 1_000_003 + cp[1:] * 7919  # codes are >= 0: so are these
    if half & (half - 1) == 0:  # a power of two: the remainder is a mask
        uni, bi = cp & (half - 1), bigram & (half - 1)
    else:
        uni, bi = cp % half, bigram % half
    keys = np.concatenate((base + uni, (base[1:] + bi + half)[inside]))
    # n-grams per row: its characters and the bigrams between them
    tot = np.maximum(lens + np.maximum(lens - 1, 0), 1).astype(np.float64)
    if not sparse:  # every cell: count by bucket, no sorting
        counts = np.bincount(keys, minlength=k * buckets).reshape(k, buckets) / tot[:, None]
        return np.sqrt(counts, out=counts)
    if len(keys) == 0:
        return _empty_rows(k, buckets)
    if k * buckets < 2**31:
        keys = keys.astype(np.int32)  # sorts twice as fast
    keys.sort()  # CSR in row order: each distinct key once, with its count
    first = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    distinct = keys[first]
    counts = np.diff(np.append(first, len(keys))) / tot[distinct // buckets]
    indptr = np.searchsorted(distinct, np.arange(k + 1, dtype=np.int64) * buckets)
    return SparseRows(np.sqrt(counts), distinct % buckets, indptr, (k, buckets))


def _empty_rows(k: int, columns: int) -> SparseRows:
    return SparseRows(np.zeros(0), np.zeros(0, dtype=np.int64),
                      np.zeros(k + 1, dtype=np.int64), (k, columns))


def _ranges(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """int64: ``concatenate([arange(s, s + n) for s, n in zip(starts, lens)])``."""
    total = int(lens.sum())
    shift = np.repeat(starts - (np.cumsum(lens) - lens), lens)
    return np.arange(total, dtype=np.int64) + shift


def char_profiles(text: str, offsets: np.ndarray, buckets: int = 512, sparse: bool = False,
                  ends: np.ndarray | None = None, codes: np.ndarray | None = None
                  ) -> np.ndarray | SparseRows:
    """Hashed character unigram and bigram frequencies of each feature block of ``text``.

    Block j covers ``text[offsets[j]:offsets[j+1]]`` (sorted offsets; the last block runs
    to the end), or ``text[offsets[j]:ends[j]]`` with ``ends`` (the text between blocks is
    not counted). Letters are lower-cased and other characters map to one "non-letter"
    symbol (``ngram_codes``; pass it as ``codes`` where one text is profiled several
    times), so punctuation and spacing count little. Only the blocks' characters are
    read.

    Returns:
        float64 (K, buckets): square roots of the frequencies (rows sum to 1 before the
        root); ``SparseRows`` with ``sparse`` (short blocks use few buckets).
    """
    k, n = len(offsets), len(text)
    if not text or k == 0:
        return _empty_rows(k, buckets) if sparse else np.zeros((k, buckets))
    starts = np.clip(np.asarray(offsets, dtype=np.int64), 0, n)
    if np.any(starts[1:] < starts[:-1]):
        raise ValueError("block starts must be sorted")
    stop = np.append(starts[1:], n)
    if ends is not None:
        stop = np.minimum(stop, np.asarray(ends, dtype=np.int64))
    lens = np.maximum(stop - starts, 0)
    cp = ngram_codes(text) if codes is None else codes
    return _profile_matrix(cp[_ranges(starts, lens)], lens, buckets, sparse)


@lru_cache(maxsize=1)
def _bmp_letters() -> np.ndarray:
    """``chr(i).isalpha()`` for every code point of the Basic Multilingual Plane."""
    return np.array([chr(i).isalpha() for i in range(0x10000)], dtype=bool)


def _letters(text: str) -> np.ndarray:
    """Bool (N,): ``text[i].isalpha()``, by table lookup (Python's test beyond the BMP)."""
    from .vocab import char_class

    return char_class(text, _bmp_letters(), str.isalpha)


def _snap_split(text: str, pos: int, lo: int, hi: int, radius: int,
                paragraphs: np.ndarray, sentences: np.ndarray, words: np.ndarray) -> int:
    """Nearest paragraph start, else sentence start, else word start to ``pos`` in (lo, hi)."""
    for cands in (paragraphs, sentences, words):
        c = cands[(cands > max(lo, pos - radius)) & (cands < min(hi, pos + radius))]
        if len(c):
            return int(c[np.argmin(np.abs(c - pos))])
    return pos


def split_foreign(text: str, spans: list[Span],
                  blocks: np.ndarray | Callable[[], np.ndarray], offsets: np.ndarray,
                  cfg: RegionConfig = RegionConfig()) -> list[Span]:
    """Cut each foreign span at paragraph starts and at change points of its block features.

    Args:
        text: the text the spans tile.
        spans: ``(start, end, foreign)`` tiling the text.
        blocks: float (K, D) reduced block features, or a function that computes them,
            called only if a piece is long enough (2 ``cfg.min_blocks`` blocks) to look
            for change points in; ``offsets`` int (K,) their starts.
        cfg: split settings.

    Returns:
        Spans that still tile the text; foreign spans may be cut into several.
    """
    words, sents = snap_candidates(text)
    paras = np.array([m.end() for m in PARAGRAPH_START.finditer(text)], dtype=np.int64)
    # (start, end, foreign, its blocks when long enough to look for change points in)
    pieces: list[tuple[int, int, bool, slice | None]] = []
    for s0, e0, foreign in spans:
        if not foreign:
            pieces.append((s0, e0, False, None))
            continue
        lo, hi = np.searchsorted(paras, [s0 + cfg.min_chars, e0 - cfg.min_chars + 1])
        inner = paras[lo:hi].tolist()
        edges = [s0, *inner, e0] if cfg.split_paragraphs else [s0, e0]
        first = np.searchsorted(offsets, edges, side="left").tolist()  # blocks starting inside
        for a, b, i0, i1 in zip(edges[:-1], edges[1:], first[:-1], first[1:]):
            pieces.append((a, b, True, slice(i0, i1) if i1 - i0 >= 2 * cfg.min_blocks else None))
    long = [sl for *_, sl in pieces if sl is not None]
    if long and callable(blocks):
        blocks = blocks()
    signals = [blocks[sl] for sl in long]
    change_points = iter(linear_pelt_many(
        signals, [cfg.split_penalty * x.shape[1] * np.log(len(x)) for x in signals],
        cfg.min_blocks))
    spans_out: list[Span] = []
    for s, e, foreign, sl in pieces:
        if sl is None:
            spans_out.append(Span(s, e, foreign))
            continue
        cuts = [_snap_split(text, int(offsets[sl.start + k]), s, e, cfg.snap_radius, paras,
                            sents, words) for k in next(change_points)[:-1]]
        edges = [s, *sorted(c for c in set(cuts) if s < c < e), e]
        spans_out.extend(Span(a, b, True) for a, b in zip(edges[:-1], edges[1:]))
    return spans_out


def block_features(text: str, scores: Scores, foreign_blocks: np.ndarray,
                   cfg: RegionConfig = RegionConfig(), codes: np.ndarray | None = None
                   ) -> np.ndarray:
    """Reduced, noise-scaled vectors of the foreign feature blocks (the only ones the
    split step reads): n-gram profile and KL/NLL/entropy, with ``cfg.pca_dims`` > 0 also
    the pooled hidden states (first).

    Args:
        foreign_blocks: bool (K,) over ``scores.feature_offsets``: the blocks to describe.
            The reductions are fitted on them.
        codes: ``ngram_codes(text)``, where the caller has it.

    Returns:
        float64 (F, D), one row per True of ``foreign_blocks``, with
        D <= ``cfg.pca_dims + cfg.ngram_dims + 3``.

    Raises:
        SettingError: ``cfg.pca_dims`` > 0 and scores without ``features``.
    """
    offsets = np.asarray(scores.feature_offsets, dtype=np.int64)
    stats = block_means([log_kl(scores.kl), scores.nll, scores.entropy],
                        block_index(offsets, len(text)), len(offsets))
    stats = np.where(np.isnan(stats), np.nanmean(stats, 0) if np.isfinite(stats).any() else 0,
                     stats)
    rows = np.flatnonzero(foreign_blocks)
    ends = np.append(offsets[1:], len(text))[rows]  # each block ends where the next starts
    fit = np.ones(len(rows), dtype=bool)
    groups = []
    if cfg.pca_dims > 0:
        if scores.features is None:
            raise SettingError("pca_dims > 0 needs scores computed with features=True")
        groups.append(_reduce(scores.features[rows], fit, cfg.pca_dims))
    groups += [_reduce(char_profiles(text, offsets[rows], sparse=True, ends=ends, codes=codes), fit,
                       cfg.ngram_dims),
               _reduce(stats[rows], fit, 3)]
    return np.concatenate(groups, axis=1)


def block_means(values: list[np.ndarray], block: np.ndarray, n_blocks: int) -> np.ndarray:
    """float64 (n_blocks, len(values)): the NaN-free mean of each of ``values`` (float (N,))
    over the positions of each block (``block``: int (N,), sorted, -1 before the first
    block); NaN for a block without a value. The sums run in position order, as
    ``np.bincount`` of the non-NaN values would give them."""
    first = int(np.searchsorted(block, 0))  # positions before the first block: none
    block = block[first:]
    per_block = np.bincount(block, minlength=n_blocks)
    out = np.zeros((n_blocks, len(values)))
    for j, arr in enumerate(values):
        a = np.asarray(arr, dtype=np.float64)[first:]
        nan = np.isnan(a)
        # a NaN counts as nothing: adding 0.0 leaves a running sum as it was
        cnt = per_block - np.bincount(block[nan], minlength=n_blocks)
        tot = np.bincount(block, weights=np.where(nan, 0.0, a), minlength=n_blocks)
        out[:, j] = np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)
    return out


def pregroup(mu: np.ndarray, counts: np.ndarray, groups: int, seed: int,
             dims: int = 64) -> np.ndarray:
    """k-means of span vectors into ``groups`` groups of near-identical spans: labels (S,).

    It runs on a seeded Gaussian projection to ``dims`` dimensions (distances kept to
    about ``1 / sqrt(dims)``): the groups only need to hold spans much closer to each
    other than to other regions, and k-means on all of a 2048-bucket profile costs 30
    times more.
    """
    x = np.asarray(mu, dtype=np.float64)
    if x.shape[1] > dims:
        proj = np.random.default_rng(seed).standard_normal((x.shape[1], dims))
        x = x @ (proj / np.sqrt(dims))
    return weighted_kmeans(x, groups, np.asarray(counts, dtype=np.float64), seed)


def weighted_kmeans(x: np.ndarray, k: int, weights: np.ndarray, seed: int,
                    max_iter: int = 100) -> np.ndarray:
    """Weighted k-means (Lloyd's passes from a greedy k-means++ start): labels (S,).

    The start: each new centre is the best, by the weighted squared distances it leaves,
    of ``2 + log k`` points drawn with probability proportional to weight times squared
    distance to the nearest centre so far (Arthur and Vassilvitskii 2007, greedy as in
    scikit-learn). Then each pass moves every point to its nearest centre and every
    centre to its points' weighted mean, until no label changes. Fewer than ``k`` groups
    where fewer points are distinct; a group never ends empty (its centre stays).

    Args:
        x: float (S, D); ``weights``: float (S,) > 0; ``seed``: the draws' seed.

    Returns:
        int (S,) labels in 0..k-1.
    """
    n = len(x)
    if k >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    w = np.asarray(weights, dtype=np.float64)
    sq = (x * x).sum(1)

    def dist2(rows: np.ndarray) -> np.ndarray:  # (len(rows), S) squared distances
        return np.maximum(sq[rows, None] + sq[None, :] - 2.0 * (x[rows] @ x.T), 0.0)

    first = int(rng.choice(n, p=w / w.sum()))
    centres, near = [first], dist2(np.array([first]))[0]
    trials = 2 + int(np.log(k))
    for _ in range(1, k):
        mass = np.cumsum(w * near)
        if mass[-1] <= 0.0:  # every point sits on a centre
            break
        cand = np.minimum(np.searchsorted(mass, rng.random(trials) * mass[-1]), n - 1)
        left = np.minimum(near[None, :], dist2(cand))
        best = int(np.argmin(left @ w))
        centres.append(int(cand[best]))
        near = left[best]
    c = x[centres]
    labels = np.full(n, -1)
    for _ in range(max_iter):
        new = ((c * c).sum(1)[None, :] - 2.0 * (x @ c.T)).argmin(1)
        if np.array_equal(new, labels):
            break
        labels = new
        mass = np.bincount(labels, w, len(c))
        sums = group_sums(x * w[:, None], labels, len(c))
        held = mass > 0
        c[held] = sums[held] / mass[held, None]
    return labels


def group_centroids(x: np.ndarray, weights: np.ndarray, groups: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted mean of the rows of ``x`` in each group: centroids (G, F), their weights
    (G,) and ``groups`` renumbered 0..G-1 over the groups that hold weight."""
    used, groups = np.unique(groups, return_inverse=True)
    w = np.bincount(groups, weights=weights, minlength=len(used))
    sums = group_sums(x * weights[:, None], groups, len(used))
    return sums / np.maximum(w, 1e-300)[:, None], w, groups


def group_sums(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """float64 (n_groups, F): the sum of the rows of ``values`` (S, F) in each group, in row
    order: ``np.add.at(zeros, groups, values)``'s values, without its cost per element
    (40 ms for 980 rows of 2,048 against 7)."""
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    out = np.zeros((n_groups, values.shape[1]))
    if not len(g):
        return out
    starts = np.flatnonzero(np.concatenate(([True], g[1:] != g[:-1])))
    rows = values[order]
    for s, e, k in zip(starts.tolist(), np.append(starts[1:], len(g)).tolist(),
                       g[starts].tolist()):
        np.add.reduce(rows[s:e], axis=0, out=out[k])  # row after row, as np.add.at adds
    return out


def ward_clusters(mu: np.ndarray, counts: np.ndarray, clusters: int | str, penalty: float,
                  seed: int = 0, max_direct: int = 300,
                  anchor: tuple[np.ndarray, float] | None = None,
                  max_clusters: int = 8, min_distance: float = 0.0) -> np.ndarray:
    """Labels 0..K-1 by weighted Ward merging of span vectors (see the module docstring).

    Args:
        mu: float (S, D) span vectors; ``counts`` float (S,) their weights (characters).
        clusters: K, or ``auto``: stop when the cheapest merge costs more than ``penalty``
            and at most ``max_clusters`` clusters are left.
        penalty: merge cost threshold for ``auto``.
        seed: seed of the k-means pre-grouping used when S > ``max_direct``.
        anchor: (mean, weight) of the book-like text. It takes part in the merging like
            a cluster that never disappears; spans merged into it get label -1.
        min_distance: > 0, with ``auto``: merge costs count each cluster's weight up to
            ``penalty / min_distance``, so that two large clusters closer than twice it
            merge. A given K keeps Ward's own costs (capped ones would merge two large,
            distinct clusters before a small outlier), and so do merges into the anchor
            (a large foreign cluster must not join the book-like text more easily).

    Returns:
        int (S,) labels 0..K-1, or -1 for spans merged into the anchor.
    """
    if clusters != "auto" and (isinstance(clusters, bool) or not isinstance(clusters, int)
                               or clusters < 1):
        raise SettingError(f"clusters must be a positive int or 'auto', got {clusters!r}")
    n = len(mu)
    if n == 0:
        return np.zeros(0, dtype=int)
    pre = np.arange(n)
    if n > max_direct:  # bound the O(S^2) merging: group near-identical spans first
        mu, counts, pre = group_centroids(mu, counts, pregroup(mu, counts, max_direct, seed))
    m, w = np.asarray(mu, dtype=np.float64), counts.astype(np.float64)  # w: a copy
    if anchor is not None:  # the last row; merges into it keep its index
        m = np.vstack([m, anchor[0][None, :]])
        w = np.append(w, max(float(anchor[1]), 1e-9))
    alive = w > 1e-9
    owner = np.arange(len(m))
    target = (1 if clusters == "auto" else int(clusters)) + (anchor is not None)
    sq = (m * m).sum(1)  # |m_i|^2: a merge cost needs one dot product per pair
    cap = penalty / min_distance if clusters == "auto" and min_distance > 0 else np.inf
    last = len(m) - 1 if anchor is not None else -1  # the anchor's row, or none

    def weights(a: int) -> np.ndarray:
        """w_a w_i / (w_a + w_i) for every i: each weight capped (see ``min_distance``),
        except in pairs with the anchor, whose merges keep Ward's own costs."""
        wa, wi = (w[a], w) if a == last else (min(w[a], cap), np.minimum(w, cap))
        with np.errstate(invalid="ignore"):  # 0 / 0 between emptied rows: set to inf below
            h = wa * wi / (wa + wi)
        h[np.isnan(h)] = 0.0  # two weights capped at 0 (``penalty`` 0): a merge costs 0
        if last >= 0 and a != last:
            h[last] = w[a] * w[last] / (w[a] + w[last])
        return h

    def costs(a: int) -> np.ndarray:
        c = weights(a) * np.maximum(sq[a] + sq - 2.0 * gram[a], 0.0)
        c[~alive] = np.inf
        c[a] = np.inf
        return c

    gram = m @ m.T  # dot products of the cluster means, updated merge by merge
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * gram, 0.0)
    cost = np.stack([weights(a) for a in range(len(m))]) * d2
    cost[~alive] = np.inf
    cost[:, ~alive] = np.inf
    np.fill_diagonal(cost, np.inf)
    while alive.sum() > target:
        a, b = np.unravel_index(np.argmin(cost), cost.shape)
        n_regions = alive.sum() - (anchor is not None)
        if not np.isfinite(cost[a, b]) or (clusters == "auto" and cost[a, b] > penalty
                                           and n_regions <= max_clusters):
            break
        if anchor is not None and b == len(m) - 1:
            a, b = b, a  # the anchor absorbs
        # the merged mean's dot products from the two rows, without its (F,) vector:
        # O(S) per merge instead of O(S F)
        row = (w[a] * gram[a] + w[b] * gram[b]) / (w[a] + w[b])
        sq[a] = row[a] = (w[a] * row[a] + w[b] * row[b]) / (w[a] + w[b])
        gram[a], gram[:, a] = row, row
        w[a] += w[b]
        alive[b] = False
        owner[owner == b] = a
        cost[b], cost[:, b] = np.inf, np.inf
        cost[a] = costs(a)
        cost[:, a] = cost[a]
    own = owner[pre]
    if anchor is None:
        return np.unique(own, return_inverse=True)[1]
    labels = np.full(len(own), -1)
    rest = own != len(m) - 1
    if rest.any():
        labels[rest] = np.unique(own[rest], return_inverse=True)[1]
    return labels


def span_profiles(text: str, spans: list[Span], pooled: bool = False, buckets: int = 512,
                  codes: np.ndarray | None = None, metric: ProfileMetric | None = None
                  ) -> np.ndarray:
    """Square-root character n-gram frequencies of whole spans (``char_profiles``).

    All spans are profiled in one pass over the text: each span is one block, and bigrams
    never cross a span's ends.

    ``codes``: ``ngram_codes(text)``, where the caller has it. ``metric``: the comparison
    the profiles are transformed for (``profile_metric``), or None: as they are.

    Returns:
        float64 (S, F), or (1, F) for all spans pooled into one profile: the profile of
        the spans joined by one space (``" ".join``).
    """
    prof = _span_profiles(text, spans, pooled, buckets, codes)
    return prof if metric is None else metric.apply(prof)


def _span_profiles(text: str, spans: list[Span], pooled: bool, buckets: int,
                   codes: np.ndarray | None) -> np.ndarray:
    starts = np.array([s for s, _, _ in spans], dtype=np.int64)
    ends = np.array([e for _, e, _ in spans], dtype=np.int64)
    in_order = np.all(ends >= starts) and np.all(starts[1:] >= ends[:-1])  # and apart
    if pooled and in_order and len(spans):  # the joined text's codes, without joining it
        lens = ends - starts
        cp = ngram_codes(text) if codes is None else codes
        joined = np.insert(cp[_ranges(starts, lens)], np.cumsum(lens)[:-1], 32)
        return _profile_matrix(joined, np.array([len(joined)]), buckets, False)
    if pooled:
        return char_profiles(" ".join(text[s:e] for s, e, _ in spans), np.zeros(1, np.int64),
                             buckets)
    if not spans:
        return np.zeros((0, buckets))
    if in_order:
        return char_profiles(text, starts, buckets, ends=ends, codes=codes)
    return np.concatenate([char_profiles(text[s:e], np.zeros(1, dtype=np.int64), buckets)
                           for s, e, _ in spans])


# fewest pairs of book-like passages for ``book_null_samples`` (else the halves of the pieces)
BOOK_NULL_MIN_PAIRS = 4

# halves profiled at once by ``null_samples``: 128 x 2048 float64 profiles (2 MiB) stay in
# cache and their memory is reused, where one matrix for a long text's 2,000 halves
# (64 MiB) is fresh pages: 63 -> 46 ms at 1M characters, the same values
NULL_CHUNK = 128


def null_samples(text: str, spans: list[Span], buckets: int = 512,
                 codes: np.ndarray | None = None, metric: ProfileMetric | None = None
                 ) -> np.ndarray:
    """The cost of merging each span's two halves (see ``null_cost``): float64 (<= S,)."""
    halves = []
    for s, e, _ in spans:
        mid = s + (e - s) // 2
        m = _WORD_START.search(text, mid, e)
        cut = m.start() + 1 if m else mid
        if cut - s >= 8 and e - cut >= 8:
            halves += [Span(s, cut, True), Span(cut, e, True)]
    if not halves:
        return np.zeros(0)
    left = np.array([h.end - h.start for h in halves[0::2]], dtype=np.float64)
    right = np.array([h.end - h.start for h in halves[1::2]], dtype=np.float64)
    dist = np.empty(len(left))
    for i in range(0, len(halves), NULL_CHUNK):  # small profile matrices, reused memory
        prof = span_profiles(text, halves[i:i + NULL_CHUNK], buckets=buckets, codes=codes,
                             metric=metric)
        dist[i // 2:(i + len(prof)) // 2] = ((prof[0::2] - prof[1::2]) ** 2).sum(1)
    return left * right / (left + right) * dist


def book_null_samples(text: str, book: list[Span], length: int, buckets: int = 512,
                      codes: np.ndarray | None = None, min_pairs: int | None = None,
                      max_pairs: int = 200, metric: ProfileMetric | None = None
                      ) -> np.ndarray | None:
    """The cost of merging two passages of one language, from the book-like text: chunks
    of ``length`` characters (at least 16) cut from the book-like spans, the first half of
    them paired with the second (passages far apart), about ``max_pairs`` pairs at most.

    The halves of one piece (``null_samples``) share their passage's words, so they
    underestimate what merging two passages of one language costs: where a language
    comes in many separate pieces (30 French sentences in an English novel), the merges
    between them cost about twice that, just over the stop rule's penalty, and the
    language was left in five or six regions. Pairs of book-like passages far apart
    measure that cost at the pieces' length, in the one language the text surely has
    many passages of.

    Returns:
        float64 (pairs,), or None with fewer than ``min_pairs`` pairs (default
        ``BOOK_NULL_MIN_PAIRS``).
    """
    min_pairs = BOOK_NULL_MIN_PAIRS if min_pairs is None else min_pairs
    length = max(int(length), 16)
    starts = [a for s, e, _ in book for a in range(s, e - length + 1, length)]
    half = len(starts) // 2
    if half < min_pairs:
        return None
    step = max(1, half // max_pairs)
    picked = starts[:half][::step] + starts[half:2 * half][::step]
    chunks = [Span(a, a + length, True) for a in picked]
    prof = span_profiles(text, chunks, buckets=buckets, codes=codes, metric=metric)
    k = len(chunks) // 2
    return length / 2.0 * ((prof[:k] - prof[k:]) ** 2).sum(1)


def null_cost(text: str, spans: list[Span], buckets: int = 512) -> float:
    """What merging two pieces of one region costs: the scale of Ward's merge costs.

    Each span's two halves (cut at the word start nearest its middle) are one sample of
    the cost of merging text that belongs together (weights: characters; distance: squared
    Hellinger between their n-gram profiles). The median over spans is robust to the few
    spans that hold two regions. Sampling noise sets this scale (about a quarter of the
    number of n-grams seen), so it is the unit of ``RegionConfig.merge_penalty``.
    """
    costs = null_samples(text, spans, buckets)
    return float(np.median(costs)) if len(costs) else 1.0


def refine_labels(profiles: np.ndarray, weights: np.ndarray, labels: np.ndarray,
                  iters: int) -> np.ndarray:
    """Move spans between the clusters Ward found: k-means started from Ward, K fixed.

    Ward's greedy merges never undo an early mistake; here each pass computes the weighted
    centroid of every cluster and moves each span to the nearest one (Euclidean on
    square-root frequencies, i.e. Hellinger distance). Spans with label -1 (merged into
    the book-like text) stay where they are.

    Args:
        profiles: float (S, F) square-root n-gram frequencies of each span.
        weights: float (S,) span lengths.
        labels: int (S,) Ward labels 0..K-1 or -1.
        iters: most passes.

    Returns:
        int (S,) labels; a cluster is never emptied.
    """
    lab = np.asarray(labels).copy()
    free = lab >= 0
    k = int(lab.max()) + 1 if free.any() else 0
    if k < 2:
        return lab
    x, w = profiles[free], weights[free]
    xw = x * w[:, None]  # the weighted rows every pass sums
    cur = lab[free]
    for _ in range(iters):
        cent = _weighted_centroids(xw, w, cur, k)
        new = ((cent * cent).sum(1)[None, :] - 2.0 * (x @ cent.T)).argmin(1)  # nearest
        if np.array_equal(new, cur) or len(np.unique(new)) < k:
            break
        cur = new
    lab[free] = cur
    return lab


def _weighted_centroids(xw: np.ndarray, w: np.ndarray, labels: np.ndarray, k: int
                        ) -> np.ndarray:
    """float64 (k, F): ``np.average(x[labels == c], 0, w[labels == c])`` for each c (none
    empty) from ``xw = x * w[:, None]``, in one pass over the rows sorted by label (the
    same sums, in the same order)."""
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], np.arange(k))
    ws = w[order]
    prod = xw[order]
    bounds = list(zip(starts.tolist(), [*starts[1:].tolist(), len(order)]))
    return np.stack([prod[a:b].sum(0) / ws[a:b].sum() for a, b in bounds])


def assign_regions(text: str, spans: list[Span], scores: Scores,
                   config: RegionConfig | None = None) -> list[Segment]:
    """Split and cluster the foreign spans; return labelled, merged segments.

    Args:
        text: the text the spans tile.
        spans: ``Span(start, end, foreign)`` from a span finder (``textkl.finders``).
        scores: scores of ``text`` from ``Pair.score`` (with ``features=True`` when
            ``config.pca_dims`` > 0).
        config: split and cluster settings, the number of regions (``clusters``) and the
            seed.

    Returns:
        Segments tiling the text: region 0 book-like, 1..K foreign, in order of appearance.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # small matrices: BLAS threads only add contention
        return _assign_regions(text, spans, scores, config or RegionConfig())


def single_region(spans: list[Span], scores: Scores) -> list[Segment]:
    """Segments without the region step: book-like spans region 0, foreign spans region 1."""
    return merge_segments(to_segments(spans, [int(f) for _, _, f in spans], scores.kl))


class LocalPieces(NamedTuple):
    """What the region step needs of one text, before clustering (``local_pieces``)."""

    spans: list[Span]  # the spans after the split step, tiling the text
    foreign: list[int]  # indices into ``spans`` of the foreign pieces
    profiles: np.ndarray  # float64 (S, F) whole-piece n-gram profiles of the foreign pieces
    sizes: np.ndarray  # float64 (S,) their lengths in characters
    null: np.ndarray  # samples of the cost of merging text that belongs together
    book: np.ndarray | None  # pooled square-root profile (F,) of the book-like spans, as it
    # is (the anchor is ``metric.apply`` of it)
    book_chars: int  # characters in the book-like spans
    book_ngrams: int  # unigrams and bigrams behind ``book`` (its squares sum to 1)
    metric: ProfileMetric  # how ``profiles`` were transformed

    @property
    def projected(self) -> bool:
        """Whether ``metric`` holds the learned language directions."""
        return self.metric.projection is not None


def _in_foreign(offsets: np.ndarray, spans: list[Span]) -> np.ndarray:
    """Bool (K,): whether each offset lies in a foreign span (spans in text order, not
    overlapping), by binary search: one test per offset, not per offset and span."""
    if not spans:
        return np.zeros(len(offsets), dtype=bool)
    starts, ends, foreign = (np.array(col) for col in zip(*spans))
    i = np.searchsorted(starts, offsets, side="right") - 1
    j = np.maximum(i, 0)
    return (i >= 0) & foreign[j].astype(bool) & (offsets < ends[j])


def local_pieces(text: str, spans: list[Span], scores: Scores, cfg: RegionConfig,
                 always_book: bool = False, project: bool | None = None) -> LocalPieces:
    """Split the foreign spans and describe each piece; the part of the region step that
    looks at one text only (``textkl.chunked`` runs it chunk by chunk). The book-like
    profile is computed when the anchor may be used and there are foreign pieces to
    cluster, or always with ``always_book``. The learned language directions are used
    when ``project`` says so, or (None) when ``cfg.ngram_projection`` is on and the foreign
    pieces lie within ``cfg.known_distance`` of the learned languages
    (``known_language_distance``)."""
    # what the four profiles below count; none of them runs on a text without foreign spans
    codes = ngram_codes(text) if always_book or any(f for _, _, f in spans) else None
    if scores.feature_offsets is not None \
            and len(scores.feature_offsets):  # else (a text of no scored character): no split
        offsets = np.asarray(scores.feature_offsets, dtype=np.int64)
        in_foreign = _in_foreign(offsets, spans)
        if in_foreign.any():  # a foreign piece is cut only at its own blocks
            # the block features only if a piece is long enough to search for change points
            spans = split_foreign(
                text, spans, lambda: block_features(text, scores, in_foreign, cfg, codes),
                offsets[in_foreign], cfg)
    idx = [i for i, (_, _, f) in enumerate(spans) if f]
    fspans = [spans[i] for i in idx]
    buckets = cfg.profile_buckets
    book = [sp for sp in spans if not sp[2]]
    n_book = sum(e - s for s, e, _ in book)
    pooled = None
    if (idx or always_book) and book and cfg.book_anchor and cfg.clusters == "auto":
        pooled = span_profiles(text, book, pooled=True, buckets=buckets, codes=codes)[0]
    joined = n_book + len(book) - 1  # the pooled profile joins the spans with a space
    sizes = np.array([e - s for s, e, _ in fspans], dtype=np.float64)
    raw = span_profiles(text, fspans, buckets=buckets, codes=codes)
    if project is None:
        project = bool(cfg.ngram_projection) and bool(idx) and \
            known_language_distance(raw, sizes) <= cfg.known_distance
    metric = profile_metric(cfg, project=project)
    null = np.zeros(0)
    if idx:
        null = book_null_samples(text, book, int(np.median(sizes)), buckets, codes,
                                 metric=metric)
        if null is None:  # too little book-like text: the halves of the pieces
            null = null_samples(text, fspans, buckets, codes, metric)
    return LocalPieces(spans, idx, metric.apply(raw), sizes, null, pooled, n_book,
                       max(2 * joined - 1, 0), metric)


# the least null cost: that of text with a single n-gram (about a quarter of the number of
# n-grams seen, ``null_cost``); repeated text gives 0, which would stop every merge
MIN_NULL = 0.25


def cluster_pieces(profiles: np.ndarray, sizes: np.ndarray, n_pieces: int, null: float,
                   anchor: tuple[np.ndarray, float] | None, cfg: RegionConfig,
                   piece_chars: float = 300.0, projected: bool = False) -> np.ndarray:
    """Ward (``ward_clusters``) then k-means refinement of piece (or group) profiles.

    ``n_pieces`` sets the penalty's ``log S`` (a group stands for several pieces); ``null``
    is ``null_cost``'s scale; ``piece_chars`` the median piece length; ``projected``:
    whether the profiles hold the learned language directions (their own
    ``projected_merge_penalty`` and ``projected_min_distance``). Returns int labels 0..K-1,
    or -1 for the anchor's region.
    """
    # the largest of S - 1 merges of pieces that belong together grows like log S
    null = max(null, MIN_NULL)
    merge_penalty, min_distance = ((cfg.projected_merge_penalty, cfg.projected_min_distance)
                                   if projected else (cfg.merge_penalty, cfg.min_distance))
    penalty = (merge_penalty * (2.0 + np.log(n_pieces)) * null
               * (max(piece_chars, 1.0) / 300.0) ** cfg.length_exponent)
    raw = ward_clusters(profiles, sizes, cfg.clusters, penalty, cfg.seed,
                        max_direct=cfg.max_direct, anchor=anchor, max_clusters=cfg.max_clusters,
                        min_distance=min_distance)
    if cfg.refine_iters:
        raw = refine_labels(profiles, sizes, raw, cfg.refine_iters)
    if cfg.clusters == "auto" and cfg.min_share > 0:
        raw = absorb_small(profiles, sizes, raw, cfg.min_share)
    return raw


def absorb_small(profiles: np.ndarray, weights: np.ndarray, labels: np.ndarray,
                 min_share: float) -> np.ndarray:
    """Move each foreign cluster holding less than ``min_share`` of the foreign weight
    into the cluster whose centroid is nearest, smallest first; labels renumbered 0..K-1
    (-1, the anchor's, untouched)."""
    lab = np.asarray(labels).copy()
    free = lab >= 0
    total = float(weights[free].sum())
    while True:
        ids = np.unique(lab[free])
        if len(ids) < 2:
            break
        cent, w, _ = group_centroids(profiles[free], weights[free], lab[free])
        small = int(np.argmin(w))
        if w[small] >= min_share * total:
            break
        d2 = ((cent - cent[small]) ** 2).sum(1)
        d2[small] = np.inf
        lab[lab == ids[small]] = ids[int(np.argmin(d2))]
    if free.any():
        lab[free] = np.unique(lab[free], return_inverse=True)[1]
    return lab


def number_regions(raw: Iterable[int], order: dict[int, int] | None = None) -> list[int]:
    """Cluster ids of the foreign pieces in text order -> region labels: -1 (the anchor)
    -> 0, the others 1..K in order of first appearance (``order`` carries on across calls)."""
    order = {} if order is None else order
    return [0 if r < 0 else order.setdefault(int(r), len(order) + 1) for r in raw]


def _assign_regions(text: str, spans: list[Span], scores: Scores, cfg: RegionConfig
                    ) -> list[Segment]:
    if scores.feature_offsets is None or len(scores.feature_offsets) == 0:
        if any(f for _, _, f in spans) and cfg.clusters not in ("auto", 1):
            raise SettingError("clustering needs scores from Pair.score (their block offsets)")
        return single_region(spans, scores)
    local = local_pieces(text, spans, scores, cfg)
    labels = [0] * len(local.spans)
    if local.foreign:
        anchor = None
        if local.book is not None and local.book_chars >= cfg.min_chars:
            anchor = (local.metric.apply(local.book[None])[0], float(local.book_chars))
        null = float(np.median(local.null)) if len(local.null) else 1.0
        raw = cluster_pieces(local.profiles, local.sizes, len(local.foreign), null, anchor, cfg,
                             float(np.median(local.sizes)), local.projected)
        for i, lab in zip(local.foreign, number_regions(raw)):
            labels[i] = lab
    return merge_segments(to_segments(local.spans, labels, scores.kl))


@dataclass(frozen=True)
class RegionTerms:
    """What sets a region apart from the rest of its document, found without labels.

    Attributes:
        label: region label (0 = book-like).
        words: its most distinctive words (case-folded), most distinctive first.
        ngrams: its most distinctive character trigrams inside words.
    """

    label: int
    words: tuple[str, ...]
    ngrams: tuple[str, ...]


def _distinctive(counts: np.ndarray, top: int, min_count: int = 2, alpha: float = 0.5
                 ) -> list[list[int]]:
    """Per label (row of ``counts``, float (labels, keys)), the column indices of the
    ``top`` keys most over-used in that label against all other labels: a smoothed log-odds
    ratio divided by its standard error (Monroe, Colaresi and Quinn 2008, flat prior)."""
    total = counts.sum(0)
    n_keys = counts.shape[1]
    out = []
    for r in range(counts.shape[0]):
        c_in, c_out = counts[r], total - counts[r]
        n_in, n_out = c_in.sum(), c_out.sum()
        if n_in == 0:
            out.append([])
            continue
        delta = (np.log((c_in + alpha) / (n_in + alpha * n_keys))
                 - np.log((c_out + alpha) / (n_out + alpha * n_keys)))
        z = delta / np.sqrt(1.0 / (c_in + alpha) + 1.0 / (c_out + alpha))
        z[c_in < min_count] = -np.inf
        best = np.argsort(-z, kind="stable")[:top]
        out.append([int(i) for i in best if np.isfinite(z[i])])
    return out


class TermCounter:
    """Word and letter-trigram counts per region label, added text by text (a long text
    chunk by chunk); ``terms`` picks each region's most distinctive ones."""

    def __init__(self) -> None:
        self.words: dict[tuple[int, str], int] = {}
        self.trigrams: dict[tuple[int, int], int] = {}

    def add(self, text: str, segments: list[Segment], offset: int = 0) -> None:
        """Count ``text``, whose characters ``[offset, offset + len(text))`` the
        ``segments`` (in whole-text offsets) label."""
        from .lexicon import distinct_tokens
        from .vocab import codepoints

        if not text or not segments:
            return
        char_label = np.zeros(len(text), dtype=np.int64)
        for sg in segments:
            char_label[max(sg.start - offset, 0) : max(sg.end - offset, 0)] = sg.label
        strings, ids, pos = distinct_tokens(text)
        folded = [s.casefold() for s in strings]
        n_words = max(len(strings), 1)
        pairs, n = np.unique(char_label[pos] * n_words + ids, return_counts=True)
        words = self.words
        for pair, c in zip(pairs.tolist(), n.tolist()):
            lab, i = divmod(pair, n_words)
            key = lab, folded[i]  # two spellings may fold to one word
            words[key] = words.get(key, 0) + c
        lower = text.lower()
        lower = lower if len(lower) == len(text) else text
        cp = codepoints(lower).astype(np.int64)
        letter = _letters(lower)
        tri = np.flatnonzero(letter[:-2] & letter[1:-1] & letter[2:]) if len(text) > 2 else \
            np.zeros(0, dtype=np.int64)
        keys = (cp[tri] << 42) | (cp[tri + 1] << 21) | cp[tri + 2]
        labs = char_label[tri]
        for lab in np.unique(labs).tolist():  # a few labels: one 1-D unique each
            uniq, n = np.unique(keys[labs == lab], return_counts=True)
            for key, c in zip(uniq.tolist(), n.tolist()):
                self.trigrams[lab, key] = self.trigrams.get((lab, key), 0) + c

    def terms(self, labels: list[int], top: int = 6) -> list[RegionTerms]:
        """``RegionTerms`` of each label in ``labels`` (sorted), against all the others."""
        index = {lab: i for i, lab in enumerate(labels)}
        picks = []
        for table in (self.words, self.trigrams):
            keys = sorted({k for _, k in table})
            col = {k: j for j, k in enumerate(keys)}
            counts = np.zeros((len(labels), len(keys)))
            for (lab, k), c in table.items():
                if lab in index:
                    counts[index[lab], col[k]] += c
            picks.append((keys, _distinctive(counts, top)))
        (words, top_words), (trigrams, top_tri) = picks
        out = []
        for i, lab in enumerate(labels):
            grams = tuple("".join(chr((int(trigrams[j]) >> s) & 0x1FFFFF) for s in (42, 21, 0))
                          for j in top_tri[i])
            out.append(RegionTerms(lab, tuple(words[j] for j in top_words[i]), grams))
        return out


def region_terms(text: str, segments: list[Segment], top: int = 6) -> list[RegionTerms]:
    """Each region's most distinctive words and character trigrams, in label order.

    Distinctive against the rest of the same document, so the terms describe the contrast
    a reader sees ("region 2: und, nicht, ich; sch, ich, ein"), with no language model.

    Args:
        text: the segmented text.
        segments: ``Segment``s tiling it.
        top: terms of each kind per region.
    """
    labels = sorted({s.label for s in segments})
    if not text or not labels:
        return []
    counter = TermCounter()
    counter.add(text, segments)
    return counter.terms(labels, top)
