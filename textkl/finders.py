"""Span finders: from per-character scores to spans that look like the book or do not.

Every finder has one protocol, in the manner of ruptures' estimators: ``fit`` takes what
the pair knows about its book (the calibration, and the book's word counts), ``predict``
takes a text and its scores and returns ``Span(start, end, foreign)`` tuples that tile
the text. Each finder has its own frozen config; ``make_finder`` builds one by name from
the registry ``FINDERS``.

- ``decode`` (default, ``DecodeFinder``): each character's KL is turned into its book
  percentile; with the excess surprisal (NLL minus entropy, relative to the book; at
  whitespace, how unlikely a word is to end there) it gives per-character evidence for
  "foreign", discounted in names; each word adds how rarely the book uses it
  (``textkl.lexicon``); a two-state dynamic program labels whole words book-like or
  foreign, maximising the evidence of the foreign words minus a cost per switch (lower at
  sentence starts); optionally once more, with the words the text itself uses in its
  foreign spans counted as foreign evidence (``document_weight``). Works on sentence-sized
  and phrase-sized spans. The defaults were tuned on a Moby-Dick LSTM pair with validation
  loss 1.53 nats/char; a weaker pair (whose KL rises less on foreign text) needs a lower
  ``level``.
- ``hysteresis`` (``HysteresisFinder``): a centred window mean of the KL; a span is foreign
  where the mean rises above the book's ``q_high`` quantile of ``window``-character means
  and lasts while it stays above the ``q_low`` quantile; short runs are dropped, short
  gaps merged, and each boundary is refined by a local two-piece fit on the raw log-KL
  and snapped to a sentence or word start.
- ``changepoint`` (``ChangepointFinder``): exact penalised change points (PELT, as
  ruptures' linear-kernel ``KernelCPD``) on block means of the log-KL; each piece is
  labelled by its mean against the book's ``q`` quantile for its length.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol

import numpy as np

from .errors import ModelFileError, SettingError
from .lexicon import distinct_tokens
from .numerics import (
    SURPRISE_CLIP,
    block_index,
    centred_mean,
    diff_noise,
    linear_pelt,
    log_kl,
    running_sums,
)
from .spans import (
    Span,
    clean_mask,
    finish_mask,
    hysteresis,
    sentence_starts,
    space_mask,
)

if TYPE_CHECKING:
    from typing import Self

    from .calibrate import Calibration
    from .lexicon import Lexicon
    from .score import Scores


class SpanFinder(Protocol):
    """What every span finder does."""

    name: ClassVar[str]

    def fit(self, calibration: Calibration | None, lexicon: Lexicon | None = None) -> Self:
        """Take the book's statistics (thresholds, percentiles, word counts)."""
        ...

    def predict(self, text: str, scores: Scores) -> list[Span]:
        """Spans tiling ``text``; neighbours differ in ``foreign``."""
        ...


def _need(calibration: Calibration | None) -> Calibration:
    if calibration is None:
        raise ModelFileError("this pair has no calibration; finding spans needs its thresholds")
    return calibration


def _check_length(text: str, values: np.ndarray) -> None:
    if len(values) != len(text):
        raise SettingError(f"scores have {len(values)} values for {len(text)} characters")


def _at_least(cfg: Any, names: tuple[str, ...], low: float) -> None:
    for name in names:
        if getattr(cfg, name) < low:
            raise SettingError(f"{name} must be >= {low:g}, got {getattr(cfg, name)}")


# --------------------------------------------------------------------------- decode


@dataclass(frozen=True)
class DecodeConfig:
    level: float = 0.93  # book KL percentile (0..1) where a character's evidence is 0
    switch_word: float = 3.0  # cost of a switch at a word start (evidence units)
    switch_sentence: float = 1.0  # cost of a switch at a sentence start
    surprise_weight: float = 0.3  # weight of the excess surprisal (nats, clipped at 3)
    space_weight: float = 1.0  # weight of the (positive) excess surprisal at whitespace
    name_weight: float = 0.0  # share kept of a capitalised mid-sentence word's evidence
    name_weight_against: float = 1.0  # the same for its evidence against "foreign"
    lexicon_weight: float = 0.35  # weight of a word's rarity in the book (0: off)
    lexicon_level: float = 1.5  # log(count + alpha) where a word's evidence is 0
    lexicon_alpha: float = 0.05  # added to a word's count in the book before the log
    unit_clip: float = float("inf")  # most evidence for "foreign" one word may bring
    document_weight: float = 0.0  # x the share of a word's other uses that are foreign

    def __post_init__(self) -> None:
        if not 0.0 <= self.level <= 1.0:
            raise SettingError(f"level must be in [0, 1], got {self.level}")
        _at_least(self, ("switch_word", "switch_sentence", "surprise_weight", "space_weight",
                         "name_weight", "name_weight_against", "lexicon_weight",
                         "unit_clip", "document_weight"), 0.0)
        if self.lexicon_alpha <= 0:
            raise SettingError(f"lexicon_alpha must be > 0, got {self.lexicon_alpha}")


class DecodeFinder:
    """Two-state (book-like / foreign) decoding of a text, word by word.

    Each character brings evidence for "foreign": ``pct[i] - level``, where ``pct`` is the
    book percentile (0..1) of its KL (uniform on the book's own text, higher where the
    models disagree more than they do on the book), plus ``surprise_weight`` times its
    excess surprisal (NLL minus the models' entropy, minus the same on the book; clipped
    to +-3 nats). The second term catches foreign text that both models get wrong *in the
    same way* (right after a switch into a foreign language, while their state still
    predicts the book's language), where the KL alone stays low. Whitespace brings only
    ``space_weight`` times its excess surprisal where that is positive: how unlikely the
    book finds a word to end there, which tells short foreign words ("de", "la", "sur")
    from English ones better than their letters do. (The negative part is left out: it
    would count the many expected word ends of code or a dictionary as book-like, whose
    tokens are short.) A capitalised word inside a sentence is most likely a name, new to
    any book in any language: it keeps ``name_weight`` of its evidence for "foreign" and
    ``name_weight_against`` of its evidence against (``english`` stores 0.5: names that
    read as English then pull fewer of the foreign words around them to the book). On
    300 development documents per task (not the benchmark's), these two terms, with
    ``level`` raised from 0.86 to 0.93, took the phrase task's F1 from 0.81 to 0.90 and
    the sentence task's from 0.973 to 0.992.

    With a lexicon (the book's word counts, stored with the pair), each word unit that is
    not a name also brings ``lexicon_weight * (lexicon_level - log(count +
    lexicon_alpha))``, averaged over its words: a word the book never uses brings +1.6
    with the defaults, one it uses 100 times -1.1. The letters of *de*, *la*, *dans* look
    English to a character model; the book's vocabulary knows they are not its words. On
    the same development documents: phrase F1 0.903 -> 0.961, sentence 0.992 -> 0.990.

    A dynamic program (Viterbi) finds the labelling of whole words that maximises the
    evidence of the foreign words minus a cost per switch, ``switch_word`` at a word start
    and ``switch_sentence`` at a sentence or line start: exact penalised change-point
    detection with cuts restricted to word starts.

    ``unit_clip`` caps what one word may bring for "foreign" (its evidence against is not
    capped). Without it, one odd word at the end of an English sentence before a foreign
    one ("core.quotePath", "priestesses!", a mail's signature) outweighs the cheaper
    switch at the next sentence start, and the English sentence loses its tail: most of
    the English missed inside French on development documents was such tails. ``english``
    stores 4, its ``switch_word``, chosen on development documents (docs/registers.md).

    ``document_weight`` adds a second pass: where the first labels a text partly foreign,
    each word brings ``document_weight`` times the share of foreign units among the
    text's other uses of it (``document_evidence``), and the program labels the text
    again. The text teaches its own host language: French *un*, *pour*, *plus* that the
    book uses too and that the first pass gave to an English phrase at its edge. Texts
    with one label, English or foreign throughout, do not change. ``english`` stores 3
    (with ``level`` 0.75): phrase F1 0.924 -> 0.932 on test documents (docs/registers.md).
    """

    name: ClassVar[str] = "decode"

    def __init__(self, config: DecodeConfig | None = None) -> None:
        self.config = config or DecodeConfig()
        self.calibration: Calibration | None = None
        self.lexicon: Lexicon | None = None

    def fit(self, calibration: Calibration | None, lexicon: Lexicon | None = None
            ) -> DecodeFinder:
        self.calibration, self.lexicon = _need(calibration), lexicon
        return self

    def predict(self, text: str, scores: Scores) -> list[Span]:
        return self.predict_many([text], [scores])[0]

    def decode(self, text: str, pct: np.ndarray, surprise: np.ndarray | None = None
               ) -> list[Span]:
        """Spans from book percentiles ``pct`` (float (N,) in [0, 1], NaN: no evidence) and
        the excess surprisal ``surprise`` (float (N,) nats, or None: KL evidence only)."""
        _check_length(text, pct)
        return self._decode_texts([text], pct, surprise)[0] if text else []

    def predict_many(self, texts: Sequence[str], scores: Sequence[Scores]) -> list[list[Span]]:
        """``[self.predict(t, s) for t, s in zip(texts, scores)]``: every text's spans are
        those it gets on its own, bit for bit, and the per-character and per-word steps
        run once over all the texts (``_decode_texts``).

        What a corpus filter needs: on thousands of short documents, the dozens of numpy
        calls per document cost more than their work.
        """
        if len(texts) != len(scores):
            raise SettingError(f"{len(texts)} texts but {len(scores)} scores")
        for text, sc in zip(texts, scores):
            _check_length(text, sc.kl)
        todo = [i for i, t in enumerate(texts) if t]
        dtypes = {(scores[i].kl.dtype, scores[i].nll.dtype, scores[i].entropy.dtype)
                  for i in todo}
        if len(dtypes) > 1:  # one dtype or another rounds differently: text by text
            return [self.predict(t, s) for t, s in zip(texts, scores)]
        out: list[list[Span]] = [[] for _ in texts]
        if not todo:
            return out
        found = self._decode_texts([texts[i] for i in todo],
                                   *self._inputs([scores[i] for i in todo]))
        for i, spans in zip(todo, found):
            out[i] = spans
        return out

    def unit_evidence(self, text: str, scores: Scores) -> tuple[np.ndarray, np.ndarray]:
        """What the dynamic program sees: int64 (W+1,) where each word unit of ``text``
        starts (and its end), float64 (W,) each unit's evidence for "foreign" (letters,
        surprisal, lexicon, ``unit_clip``), as ``predict`` sums them."""
        _check_length(text, scores.kl)
        if not text:
            return np.zeros(1, dtype=np.int64), np.zeros(0)
        units = self._units([text], *self._inputs([scores]))
        first = _viterbi(units.evidence, units.cost, units.first_unit)
        return units.words, self._second_pass(units, first)[0]

    def inputs(self, scores: Scores) -> tuple[np.ndarray, np.ndarray]:
        """What ``decode`` takes from ``scores``: the book percentiles (0..1) of the KL and
        the excess surprisal, each float (N,); ``predict(text, scores)`` is
        ``decode(text, *inputs(scores))``."""
        return self._inputs([scores])

    def _inputs(self, scores: Sequence[Scores]) -> tuple[np.ndarray, np.ndarray]:
        """Book percentiles (0..1) of the KL and the excess surprisal of ``scores`` laid end
        to end (see ``decode``)."""
        cal = _need(self.calibration)
        kl = np.concatenate([sc.kl for sc in scores])
        excess = (np.concatenate([sc.nll for sc in scores])
                  - np.concatenate([sc.entropy for sc in scores])
                  - (cal.mean_nll - cal.mean_entropy))
        return cal.percentile(kl, 1) / 100.0, excess

    def _decode_texts(self, texts: list[str], pct: np.ndarray, surprise: np.ndarray | None
                      ) -> list[list[Span]]:
        """The spans of each of ``texts`` (none empty) from ``pct`` and ``surprise`` over
        all of them, laid end to end (see ``decode``). Each text is labelled on its own:
        its word units and their evidence (``_units``), then the dynamic program starting
        afresh at its first word (``_viterbi``); with a document weight, once more with
        what the text's own words say given those labels (``document_evidence``).
        """
        u = self._units(texts, pct, surprise)
        words, doc, first_unit = u.words, u.doc, u.first_unit
        labels = _viterbi(u.evidence, u.cost, first_unit)
        evidence, again = self._second_pass(u, labels)
        if again:
            labels = _viterbi(evidence, u.cost, first_unit)
        n_units = len(words) - 1
        new = np.ones(n_units, dtype=bool)  # a span starts at a change of label or a text
        new[1:] = labels[1:] != labels[:-1]
        new[first_unit] = True
        first = np.flatnonzero(new)
        bounds = words[np.append(first, n_units)]
        base = u.off[doc[first]]
        out: list[list[Span]] = [[] for _ in texts]
        for i, s0, s1, f in zip(doc[first].tolist(), (bounds[:-1] - base).tolist(),
                                (bounds[1:] - base).tolist(), labels[first].tolist()):
            out[i].append(Span(s0, s1, f))
        return out

    def _second_pass(self, u: _Units, labels: np.ndarray) -> tuple[np.ndarray, bool]:
        """float64 (W,): each unit's evidence with what its text's own words say given the
        first pass's ``labels``, and whether that changed any (see ``document_evidence``);
        ``u.evidence`` and False when ``document_weight`` is 0 or no text has both
        labels."""
        cfg = self.config
        if cfg.document_weight <= 0:
            return u.evidence, False
        extra = document_evidence(u.joined, u.words[:-1] + u.doc, u.doc, labels, u.name,
                                  cfg.document_weight, u.tokens)
        if not extra.any():
            return u.evidence, False
        return _clip_units(u.unclipped + extra, cfg.unit_clip), True

    def _units(self, texts: list[str], pct: np.ndarray, surprise: np.ndarray | None
               ) -> _Units:
        """The word units of ``texts`` (none empty) and their evidence for "foreign", from
        ``pct`` and ``surprise`` over all of them laid end to end.

        Sums along a text (a word's evidence) restart at it (``running_sums``); words and
        sentence starts are found in the texts joined by NULs, which no word, sentence end
        or title crosses.
        """
        off = np.concatenate(([0], np.cumsum([len(t) for t in texts]))).astype(np.int64)
        text = "".join(texts)
        space = space_mask(text)
        words = _starts_mask(np.flatnonzero(space[:-1] & ~space[1:]) + 1, off)
        # of one text, the text itself: the region step then finds its sentence starts kept
        joined = "\x00".join(texts)
        nul = off[1:-1] + np.arange(len(texts) - 1)  # where the NULs are in ``joined``
        at = sentence_starts(joined)  # one at a NUL becomes the next text's start
        sents = _starts_mask(at - np.searchsorted(nul, at), off)  # less the NULs before
        first_unit = np.searchsorted(words, off[:-1])  # each text's first word unit
        n_units = len(words) - 1
        doc = np.repeat(np.arange(len(texts)), np.diff(np.append(first_unit, n_units)))
        ev, name = self._char_evidence(text, pct, surprise, space, words, sents)
        c = running_sums(ev, off)
        unit = c[words[1:] + doc] - c[words[:-1] + doc]
        cfg = self.config
        lexicon = self.lexicon is not None and cfg.lexicon_weight > 0
        # the word tokens, once for the lexicon and the second pass
        tokens = distinct_tokens(joined) if lexicon or cfg.document_weight > 0 else None
        unit += self._lexicon_evidence(joined, words[:-1] + doc, name, tokens)
        cost = np.where(_member(words[:-1], sents), cfg.switch_sentence, cfg.switch_word)
        evidence = _clip_units(unit, cfg.unit_clip)
        return _Units(off, words, sents, first_unit, doc, name, unit, evidence, cost, joined,
                      tokens)

    def _char_evidence(self, text: str, pct: np.ndarray, surprise: np.ndarray | None,
                       space: np.ndarray, words: np.ndarray, sents: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
        """float64 (N,): each character's evidence for "foreign"; bool (W,): which word
        units are names."""
        cfg = self.config
        starts = words[:-1]
        name = names_at(text, starts, sents)
        ev = np.where(np.isnan(pct), 0.0, np.asarray(pct, dtype=np.float64) - cfg.level)
        ev[space] = 0.0
        if surprise is not None:
            sur = np.nan_to_num(np.clip(surprise, -SURPRISE_CLIP, SURPRISE_CLIP))
            ev += np.where(space, cfg.space_weight * np.maximum(sur, 0.0),
                           cfg.surprise_weight * sur)
        if cfg.name_weight != 1.0 or cfg.name_weight_against != 1.0:
            in_name = name[block_index(starts, len(text))] & ~space
            ev = np.where(in_name, np.where(ev > 0, cfg.name_weight, cfg.name_weight_against)
                          * ev, ev)
        return ev, name

    def _lexicon_evidence(self, text: str, starts: np.ndarray, name: np.ndarray,
                          tokens: tuple[list[str], np.ndarray, np.ndarray] | None = None
                          ) -> np.ndarray | float:
        """float (W,): how rarely the book uses the words of each unit (0 for names and
        units without words), weighted; 0.0 without a lexicon."""
        cfg = self.config
        if self.lexicon is None or cfg.lexicon_weight <= 0:
            return 0.0
        mean_log = self.lexicon.unit_log_counts(text, starts, cfg.lexicon_alpha, tokens)
        return cfg.lexicon_weight * np.where(name | np.isnan(mean_log), 0.0,
                                             cfg.lexicon_level - mean_log)


class _Units(NamedTuple):
    """The word units of texts laid end to end (``DecodeFinder._units``)."""

    off: np.ndarray  # int64 (T+1,): where each text starts, and the end
    words: np.ndarray  # int64 (W+1,): where each unit starts, and the end
    sents: np.ndarray  # int64: sentence (and text) starts
    first_unit: np.ndarray  # int64 (T,): each text's first unit
    doc: np.ndarray  # int64 (W,): each unit's text
    name: np.ndarray  # bool (W,): which units are names
    unclipped: np.ndarray  # float64 (W,): each unit's evidence before ``unit_clip``
    evidence: np.ndarray  # float64 (W,): each unit's evidence for "foreign"
    cost: np.ndarray  # float64 (W,): the cost of a switch at each unit
    joined: str  # the texts joined by NULs
    tokens: tuple | None  # ``distinct_tokens(joined)``, where a step needs the words


def _clip_units(unit: np.ndarray, clip: float) -> np.ndarray:
    """``unit`` with its evidence for "foreign" capped at ``clip`` (``unit`` itself when
    ``clip`` is infinite)."""
    return np.minimum(unit, clip) if np.isfinite(clip) else unit


def document_evidence(joined: str, starts: np.ndarray, doc: np.ndarray, labels: np.ndarray,
                      name: np.ndarray, weight: float,
                      tokens: tuple[list[str], np.ndarray, np.ndarray] | None = None
                      ) -> np.ndarray:
    """float64 (W,): what each text's own words say of each of its word units.

    A text that the first pass labels partly foreign teaches its own vocabulary: a word
    it uses elsewhere in its foreign spans is likely foreign here too (French *un*,
    *pour*, *plus*, which the book also uses, at the edge of an English phrase). Each
    word token brings ``weight`` times the share of foreign ones among the other tokens of
    its case-folded form in its text (0 when there are none); a unit gets the mean over
    its tokens. A share, not a count: in a long text a word of both languages (*a*,
    *on*), or one that a single false foreign span took, is used mostly on one side.
    Names and texts with one label get 0. ``joined``: the texts joined by one NUL each;
    ``starts`` (sorted), ``doc``, ``labels`` and ``name``: each unit's start in
    ``joined``, its text, its first-pass label (True: foreign) and whether it is a name;
    ``tokens``: ``distinct_tokens(joined)``, when the caller has it already.
    """
    out = np.zeros(len(starts))
    n_texts = int(doc[-1]) + 1 if len(doc) else 0
    n_foreign = np.bincount(doc, labels, n_texts)
    mixed = (n_foreign > 0) & (n_foreign < np.bincount(doc, minlength=n_texts))
    if not mixed.any():
        return out
    words, ids, pos = distinct_tokens(joined) if tokens is None else tokens
    if not words:
        return out
    folded: dict[str, int] = {}
    fold = np.array([folded.setdefault(w.casefold(), len(folded)) for w in words],
                    dtype=np.int64)[ids]
    unit = np.searchsorted(starts, pos, side="right") - 1
    keep = mixed[doc[unit]] & ~name[unit]
    unit, fold = unit[keep], fold[keep]
    key = doc[unit] * len(folded) + fold  # one key per (text, word)
    foreign = labels[unit]
    _, inverse, tokens = np.unique(key, return_inverse=True, return_counts=True)
    in_foreign = np.bincount(inverse, foreign)[inverse] - foreign  # other tokens only
    others = tokens[inverse] - 1
    vote = weight * np.where(others > 0, in_foreign / np.maximum(others, 1), 0.0)
    n = np.bincount(unit, minlength=len(starts))
    total = np.bincount(unit, vote, len(starts))
    return np.where(n > 0, total / np.maximum(n, 1), 0.0)


def _starts_mask(at: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Sorted int64: the offsets of ``at`` and of ``off`` (within ``[0, off[-1]]``), each once."""
    mask = np.zeros(int(off[-1]) + 1, dtype=bool)
    mask[at] = True
    mask[off] = True
    return np.flatnonzero(mask)


def names_at(text: str, starts: np.ndarray, sentences: np.ndarray) -> np.ndarray:
    """bool: which word units starting at ``starts`` are names, as the finder treats them:
    capitalised and not at one of the (sorted) ``sentences`` starts."""
    return _upper_at(text, starts) & ~_member(starts, sentences)


@functools.cache
def _bmp_upper() -> np.ndarray:
    """``chr(i).isupper()`` for every code point of the Basic Multilingual Plane."""
    return np.array([chr(i).isupper() for i in range(0x10000)], dtype=bool)


def _upper_at(text: str, at: np.ndarray) -> np.ndarray:
    """Bool: ``text[i].isupper()`` for each offset i of ``at`` (all < len(text))."""
    from .vocab import char_class

    return char_class(text, _bmp_upper(), str.isupper)[at]


def _member(x: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Bool: ``np.isin(x, sorted_set)`` for a sorted ``sorted_set``, by binary search."""
    if len(sorted_set) == 0:
        return np.zeros(len(x), dtype=bool)
    i = np.minimum(np.searchsorted(sorted_set, x), len(sorted_set) - 1)
    return sorted_set[i] == x


def _viterbi(unit: np.ndarray, cost: np.ndarray, first: np.ndarray | None = None
             ) -> np.ndarray:
    """bool (W,): the labelling maximising the evidence of foreign units minus switch costs.

    Two states, so only the difference ``d = v1 - v0`` of their best scores matters: a
    step is ``d <- clip(d, -c, c) + u``, and the best path into state 0 (1) switched
    there iff ``d > c`` (``d < -c``) before the step. The forward pass gives ``d`` before
    every step (``_forward``); the backtrace jumps from switch to switch.

    ``first``: the first units of several texts laid end to end (sorted, from 0), each
    labelled on its own: a cost of 0 at a text's first unit makes ``d`` that unit's
    evidence, as the start from ``d = 0`` does, and the backtrace stops there.
    """
    n = len(unit)
    first = np.zeros(min(n, 1), dtype=np.int64) if first is None else first
    cost = np.array(cost, dtype=np.float64)
    cost[first] = 0.0
    prev, d = _forward(np.asarray(unit, dtype=np.float64), cost)
    idx = np.arange(n)
    # for each state, the last unit at or before j whose step switched into that state
    last = [np.maximum.accumulate(np.where(sw, idx, -1)) for sw in (prev > cost, prev < -cost)]
    labels = np.zeros(n, dtype=bool)
    ends = np.append(first[1:], n).tolist()
    for lo, hi, d_end in zip(first.tolist(), ends, np.append(prev[first[1:]], d).tolist()):
        state, j = int(d_end > 0.0), hi - 1  # d after a text's last step: prev of the next
        while j >= lo:
            k = int(last[state][j])  # units k..j keep this state; the step into k switched
            labels[max(k, lo) : j + 1] = bool(state)
            state, j = 1 - state, (k - 1 if k > lo else lo - 1)
    return labels


FORWARD_BLOCK = 128  # units per block of the blocked forward pass
FORWARD_ROUNDS = 4  # passes over the blocks before the plain loop takes over


def _forward(unit: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, float]:
    """``d`` before each step of ``d <- clip(d, -c, c) + u`` from ``d = 0``, and after the
    last: float64 (W,) and a float, the values of the plain loop bit for bit.

    The steps are cut into blocks of ``FORWARD_BLOCK``, and all blocks step together, one
    numpy operation per step over the blocks. Each block needs the ``d`` it starts from:
    a first pass composes each block's steps into one (a clip and a shift compose into a
    clip and a shift) and chains the blocks. Composed sums round differently, so the
    blocks are then stepped exactly, each from its guessed start, and each start is
    checked against the end of the block before: where they differ the blocks are stepped
    again from the ends found. Block 0 starts from the true 0, so each round makes at
    least one more block exact; a clip resets ``d`` to ``+-c``, so one round is the rule.
    """
    n, size = len(unit), FORWARD_BLOCK
    if n < 64 * size:  # the loop is as fast on a few thousand units
        return _forward_loop(unit, cost)
    k = -(-n // size)
    u = np.zeros(k * size)
    c = np.full(k * size, np.inf)  # the padding steps leave d as it is
    u[:n], c[:n] = unit, cost
    u, c = u.reshape(k, size).T.copy(), c.reshape(k, size).T.copy()  # (step, block)
    lo, hi, s = np.full(k, -np.inf), np.full(k, np.inf), np.zeros(k)
    a, b = np.empty(k), np.empty(k)
    for ut, ct in zip(u, c):  # each block's steps as one: d -> clip(d, lo, hi) + s
        np.subtract(ct, s, out=b)  # the step clips clip(d, lo, hi) + s to [a, b] - s
        np.negative(ct, out=a)
        a -= s
        for bound in (lo, hi):
            np.maximum(bound, a, out=bound)
            np.minimum(bound, b, out=bound)
        s += ut
    start = np.zeros(k)
    for i in range(k - 1):
        start[i + 1] = min(max(start[i], lo[i]), hi[i]) + s[i]
    before = np.empty((size, k))
    for _ in range(FORWARD_ROUNDS):
        d = start.copy()
        for t, (ut, ct) in enumerate(zip(u, c)):
            before[t] = d
            np.maximum(d, -ct, out=d)
            np.minimum(d, ct, out=d)
            d += ut
        # NaN-aware: a NaN start that the plain loop would also carry is no mismatch
        same = (d[:-1] == start[1:]) | (np.isnan(d[:-1]) & np.isnan(start[1:]))
        if same.all():
            return before.T.reshape(-1)[:n], float(d[-1])
        start[1:] = d[:-1]
    return _forward_loop(unit, cost)


def _forward_loop(unit: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, float]:
    """``_forward`` as one loop over the units."""
    before = [0.0] * len(unit)
    d = 0.0
    for j, (u, c) in enumerate(zip(unit.tolist(), cost.tolist())):
        before[j] = d
        if d > c:
            d = c
        elif d < -c:
            d = -c
        d += u
    return np.array(before), d


# --------------------------------------------------------------------------- hysteresis


@dataclass(frozen=True)
class MaskConfig:
    """How a rough per-character mask becomes spans (the hysteresis and change-point
    finders): short runs dropped, short gaps filled, boundaries refined and snapped."""

    min_span: int = 24  # foreign runs shorter than this (characters) are dropped
    min_gap: int = 12  # book-like runs shorter than this between foreign runs are merged
    refine_radius: int = 24  # characters searched on each side to refine a boundary
    snap_radius: int = 24  # a sentence start this close to a boundary wins over a word start

    def __post_init__(self) -> None:
        _at_least(self, ("min_span", "min_gap"), 1)


@dataclass(frozen=True)
class HysteresisConfig(MaskConfig):
    window: int = 30  # smoothing window (a calibration window: 1, 10, 30, 100)
    q_high: float = 0.995  # book quantile of window means that starts a span
    q_low: float = 0.9  # book quantile under which a foreign span ends

    def __post_init__(self) -> None:
        super().__post_init__()
        _at_least(self, ("window",), 1)
        if not 0.0 <= self.q_low <= self.q_high <= 1.0:
            raise SettingError(f"need 0 <= q_low <= q_high <= 1, got {self.q_low}, {self.q_high}")


class HysteresisFinder:
    """Hysteresis on the centred window mean of the KL (see the module docstring)."""

    name: ClassVar[str] = "hysteresis"

    def __init__(self, config: HysteresisConfig | None = None) -> None:
        self.config = config or HysteresisConfig()
        self.high = self.low = float("nan")

    def fit(self, calibration: Calibration | None, lexicon: Lexicon | None = None
            ) -> HysteresisFinder:
        cal, cfg = _need(calibration), self.config
        self.high = cal.threshold(cfg.q_high, cfg.window)
        self.low = cal.threshold(cfg.q_low, cfg.window)
        return self

    def predict(self, text: str, scores: Scores) -> list[Span]:
        return self.spans(text, scores.kl)

    def spans(self, text: str, kl: np.ndarray) -> list[Span]:
        """Spans from the per-character KL alone (float (N,) nats, NaN where unscored)."""
        _check_length(text, kl)
        if np.isnan(self.high):
            raise SettingError("fit the finder on a calibration before predicting")
        if not text:
            return []
        cfg = self.config
        mask = hysteresis(centred_mean(kl, cfg.window), self.high, self.low)
        mask = clean_mask(mask, cfg.min_span, cfg.min_gap)
        return finish_mask(text, kl, mask, cfg.refine_radius, cfg.snap_radius)


# --------------------------------------------------------------------------- change points


@dataclass(frozen=True)
class ChangepointConfig(MaskConfig):
    block: int = 8  # characters per block mean
    penalty: float = 4.0  # change-point penalty, times log(blocks), in noise units
    q: float = 0.98  # a piece is foreign above this book quantile of window means

    def __post_init__(self) -> None:
        super().__post_init__()
        _at_least(self, ("block",), 1)
        if not 0.0 <= self.q <= 1.0:
            raise SettingError(f"q must be in [0, 1], got {self.q}")


class ChangepointFinder:
    """Change points of the mean on block means of the log-KL.

    The text is cut into blocks of ``block`` characters; their mean log-KL, in units of its
    block-to-block noise, goes to ``numerics.linear_pelt`` (changes of mean; the same
    optimum as ruptures' ``KernelCPD(kernel="linear")``) with the penalty
    ``penalty * log(blocks)``. A piece is foreign when its mean KL is above the
    book's ``q`` quantile for the largest calibrated window that fits in the piece.
    Boundaries are then refined and snapped as for the hysteresis finder.
    """

    name: ClassVar[str] = "changepoint"

    def __init__(self, config: ChangepointConfig | None = None) -> None:
        self.config = config or ChangepointConfig()
        self.highs: dict[int, float] = {}

    def fit(self, calibration: Calibration | None, lexicon: Lexicon | None = None
            ) -> ChangepointFinder:
        cal = _need(calibration)
        self.highs = {w: cal.threshold(self.config.q, w) for w in sorted(cal.quantiles)}
        return self

    def predict(self, text: str, scores: Scores) -> list[Span]:
        kl, cfg = scores.kl, self.config
        _check_length(text, kl)
        if not self.highs:
            raise SettingError("fit the finder on a calibration before predicting")
        if not text:
            return []
        b = cfg.block
        n_blocks = -(-len(text) // b)
        lk = log_kl(kl)
        pad = np.full(n_blocks * b, np.nan)
        pad[: len(lk)] = lk
        blocks = pad.reshape(n_blocks, b)
        ok = ~np.isnan(blocks)
        cnt = ok.sum(1)
        fill = float(np.median(lk[~np.isnan(lk)])) if ok.any() else 0.0
        means = np.where(cnt > 0, np.where(ok, blocks, 0.0).sum(1) / np.maximum(cnt, 1), fill)
        bkps = [n_blocks]
        if n_blocks >= 4:
            x = means / max(float(diff_noise(means)), 1e-6)
            bkps = linear_pelt(x, cfg.penalty * np.log(n_blocks), min_size=2)
        mask = np.zeros(len(text), dtype=bool)
        wins = sorted(self.highs)
        prev = 0
        for k in bkps:
            s, e = prev * b, min(k * b, len(text))
            part = kl[s:e][~np.isnan(kl[s:e])]
            w = max([v for v in wins if v <= max(len(part), 1)], default=wins[0])
            mask[s:e] = len(part) > 0 and float(part.mean()) > self.highs[w]
            prev = k
        mask = clean_mask(mask, cfg.min_span, cfg.min_gap)
        return finish_mask(text, kl, mask, cfg.refine_radius, cfg.snap_radius)


# --------------------------------------------------------------------------- registry


FINDERS: dict[str, tuple[type, type]] = {
    DecodeFinder.name: (DecodeFinder, DecodeConfig),
    HysteresisFinder.name: (HysteresisFinder, HysteresisConfig),
    ChangepointFinder.name: (ChangepointFinder, ChangepointConfig),
}


def make_finder(finder: str | SpanFinder = "decode", **settings: Any) -> SpanFinder:
    """A span finder by name (``decode``, ``hysteresis``, ``changepoint``) with ``settings``
    for its config, or ``finder`` itself when it is already a finder object.

    Raises:
        SettingError: an unknown name, or a setting the finder's config does not have.
    """
    if not isinstance(finder, str):
        if settings:
            raise SettingError("settings go into the finder's config, not beside a finder object")
        return finder
    if finder not in FINDERS:
        raise SettingError(f"finder must be one of {sorted(FINDERS)}, got {finder!r}")
    cls, config_cls = FINDERS[finder]
    known = {f.name for f in fields(config_cls)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise SettingError(f"the {finder} finder has no setting {', '.join(unknown)}; "
                           f"it has {', '.join(sorted(known))}")
    return cls(config_cls(**settings))
