"""The book's words and how often it uses them: a third signal beside the pair's KL.

The character models judge a word by its letters; a book's own vocabulary judges it as a
whole. French *de*, *la*, *sur*, *dans* look English letter by letter, but the book
never uses them as words; English words of any kind almost all occur in a long English
novel. ``Lexicon.unit_log_counts`` gives, per word unit of a text, the mean ``log(count +
alpha)`` of its tokens in the book (case-folded), which the ``decode`` span finder turns
into evidence.

Stored in the checkpoint as JSON (word -> count); at most ``MAX_WORDS`` most frequent.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from .errors import SettingError

# a word: letters, with apostrophes inside ("don't", "d'un"); digits and "_" are not letters
TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
MAX_WORDS = 100_000
MEMO_TOKENS = 1 << 17  # tokens remembered by ``Lexicon._count_of``


@lru_cache(maxsize=1)
def _bmp_word_letters() -> np.ndarray:
    """Whether ``TOKEN``'s letter class matches each code point of the BMP."""
    letter = re.compile(r"[^\W\d_]")
    return np.array([letter.match(chr(i)) is not None for i in range(0x10000)], dtype=bool)


def tokens(text: str) -> tuple[list[str], np.ndarray]:
    """The word tokens of ``text`` (``TOKEN``) and int64 (T,) where each starts: strings
    and ints only, no match object per word."""
    toks = TOKEN.findall(text)
    pos = token_starts(text)
    if len(pos) != len(toks):  # cannot happen by construction; the regex decides
        pos = np.fromiter((m.start() for m in TOKEN.finditer(text)), np.int64, len(toks))
    return toks, pos


def token_starts(text: str) -> np.ndarray:
    """int64: where ``TOKEN.finditer(text)`` starts its matches, from a letter mask
    instead of one match object per word. A token starts at a letter not preceded by a
    letter, nor by an apostrophe that follows a letter (that apostrophe joins the two)."""
    _, letter, apostrophe = _letters_and_apostrophes(text)
    return _starts(letter, apostrophe)


def _letters_and_apostrophes(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The code points of ``text`` (uint32), and where its letters and apostrophes are."""
    from .vocab import char_class, codepoints

    cp = codepoints(text)
    letter = char_class(text, _bmp_word_letters(), lambda c: TOKEN.match(c) is not None)
    return cp, letter, (cp == ord("'")) | (cp == ord("’"))


def _starts(letter: np.ndarray, apostrophe: np.ndarray) -> np.ndarray:
    prev = np.concatenate(([False], letter[:-1]))
    before = np.concatenate(([False, False], letter[:-2]))[: len(letter)]
    joined = np.concatenate(([False], apostrophe[:-1])) & before
    return np.flatnonzero(letter & ~prev & ~joined)


def _token_bounds(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """int64 (T,) starts and ends of ``TOKEN``'s matches, from the letter mask (a token
    ends after a letter followed by neither a letter nor an apostrophe and a letter), and
    the text's code points."""
    cp, letter, apostrophe = _letters_and_apostrophes(text)
    nxt = np.concatenate((letter[1:], [False]))
    after = np.concatenate((letter[2:], [False, False]))[: len(letter)]
    joins = np.concatenate((apostrophe[1:], [False])) & after
    return _starts(letter, apostrophe), np.flatnonzero(letter & ~nxt & ~joins) + 1, cp


# from this many characters ``distinct_tokens`` hashes the tokens, which is faster from
# about 2,000: 0.51 ms against 0.62 at 4,096 characters, 4.5 against 8.0 at 64,000
HASHED_TOKENS = 2048
_HASH_BASES = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F)  # odd: invertible modulo 2**64
HASH_CHUNK = 1 << 20  # characters hashed at a time (tables of 8 bytes per character)


def distinct_tokens(text: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The distinct word tokens of ``text`` (``TOKEN``), and for each token in order the
    index of its string among them and where it starts: int64 (T,) both.

    A long text has a few distinct words among many tokens. Making a string of each
    token (``TOKEN.findall``) is most of the cost, so from ``HASHED_TOKENS`` characters
    each token is hashed from the code points instead (polynomial hashes modulo 2**64 of
    two bases, one prefix sum each, ``HASH_CHUNK`` characters at a time), grouped by hash,
    and only one string per group is cut. Two tokens of one group must agree in length and
    in the second hash; where any group does not (a collision of the first hash), the
    strings are cut for every token.
    """
    if len(text) < HASHED_TOKENS:
        return _distinct_by_string(text)
    starts, ends, cp = _token_bounds(text)
    if not len(starts):
        return [], np.zeros(0, dtype=np.int64), starts
    keys = np.empty((len(_HASH_BASES), len(starts)), dtype=np.uint64)
    i = 0
    while i < len(starts):  # tokens of about HASH_CHUNK characters at a time: bounded tables
        j = max(int(np.searchsorted(starts, starts[i] + HASH_CHUNK)), i + 1)
        lo, hi = int(starts[i]), int(ends[j - 1])
        keys[:, i:j] = _token_hashes(cp[lo:hi].astype(np.uint64), starts[i:j] - lo,
                                     ends[i:j] - lo)
        i = j
    first_key, second_key = keys
    order = np.argsort(first_key)
    by_key = first_key[order]
    new = np.concatenate(([True], by_key[1:] != by_key[:-1]))
    ids = np.empty(len(order), dtype=np.int64)
    ids[order] = np.cumsum(new) - 1
    one = order[new]  # one token of each group
    length = ends - starts
    if np.any(length != length[one][ids]) or np.any(second_key != second_key[one][ids]):
        return _distinct_by_string(text)
    words = [text[s:e] for s, e in zip(starts[one].tolist(), ends[one].tolist())]
    return words, ids, starts


def _token_hashes(cp: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """uint64 (len(_HASH_BASES), T): ``sum(cp[i] * base**(i - s) for i in range(s, e))``
    modulo 2**64 of each token ``[s, e)`` of ``cp`` (uint64 code points), per base: the
    same for the same string wherever it stands."""
    out = np.empty((len(_HASH_BASES), len(starts)), dtype=np.uint64)
    for row, base in enumerate(_HASH_BASES):
        power = np.empty(len(cp) + 1, dtype=np.uint64)
        power[0], power[1:] = 1, base
        np.cumprod(power, out=power)  # base**i modulo 2**64 (unsigned overflow wraps)
        prefix = np.zeros(len(cp) + 1, dtype=np.uint64)
        np.cumsum(cp * power[:-1], out=prefix[1:])
        power[1:] = pow(base, -1, 1 << 64)  # odd: invertible
        np.cumprod(power, out=power)  # base**-i
        out[row] = (prefix[ends] - prefix[starts]) * power[starts]
    return out


def _distinct_by_string(text: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``distinct_tokens`` by ``TOKEN.findall``: a string per token."""
    toks, pos = tokens(text)
    words = list(dict.fromkeys(toks))  # in order of first use
    index = {w: i for i, w in enumerate(words)}
    return words, np.fromiter(map(index.__getitem__, toks), np.int64, len(toks)), pos


def _norm(word: str) -> str:
    return unicodedata.normalize("NFC", word).casefold().replace("’", "'")


class Lexicon:
    """Case-folded word counts of the book(s) a pair was trained on."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts
        self._seen: dict[str, int] = {}  # a token as written -> its count (see ``_count_of``)

    @classmethod
    def build(cls, texts: Iterable[str], max_words: int = MAX_WORDS) -> Lexicon:
        """Count the words of ``texts``; keep the ``max_words`` most frequent."""
        c: Counter[str] = Counter()
        for text in texts:
            c.update(_norm(t) for t in TOKEN.findall(text))
        return cls(dict(c.most_common(max_words)))

    def _count_of(self, token: str) -> int:
        """The book's count of ``token`` as written. Documents repeat the same words, and
        normalising one costs more than looking it up; the memo is emptied when it holds
        ``MEMO_TOKENS`` (a corpus has many words)."""
        count = self._seen.get(token)
        if count is None:
            if len(self._seen) >= MEMO_TOKENS:
                self._seen.clear()
            count = self._seen[token] = self.counts.get(_norm(token), 0)
        return count

    def __len__(self) -> int:
        return len(self.counts)

    def log_count(self, unit: str, alpha: float) -> float | None:
        """Mean ``log(count + alpha)`` over the word tokens of ``unit``; None if it has none."""
        mean = self.unit_log_counts(unit, np.zeros(1, dtype=np.int64), alpha)[0]
        return None if np.isnan(mean) else float(mean)

    def known_share(self, text: str) -> tuple[int, float]:
        """(word tokens of ``text``, share of them that the book uses); NaN without words."""
        toks = TOKEN.findall(text)
        if not toks:
            return 0, float("nan")
        count = self._count_of
        return len(toks), sum(count(t) > 0 for t in toks) / len(toks)

    def unit_log_counts(self, text: str, starts: np.ndarray, alpha: float,
                        tokens: tuple[list[str], np.ndarray, np.ndarray] | None = None
                        ) -> np.ndarray:
        """float64 (len(starts),): mean ``log(count + alpha)`` over the word tokens of each
        unit ``text[starts[j]:starts[j + 1]]`` (the last runs to the end; ``starts[0] ==
        0``); NaN for units without a word. ``tokens``: ``distinct_tokens(text)``, when the
        caller has it already."""
        # strings and ints only: tuples per token would wake the cyclic garbage collector,
        # which then walks the whole heap (torch's included) several times per call
        words, ids, pos = distinct_tokens(text) if tokens is None else tokens
        if not words:
            return np.full(len(starts), np.nan)
        logs = np.log(np.array([self._count_of(w) for w in words], dtype=np.float64)
                      + alpha)[ids]  # each distinct word looked up once
        unit = np.searchsorted(starts, pos, side="right") - 1
        n = np.bincount(unit, minlength=len(starts))
        total = np.bincount(unit, logs, len(starts))
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)

    def to_json(self) -> str:
        return json.dumps(self.counts, ensure_ascii=False)

    @classmethod
    def from_json(cls, s: str) -> Lexicon:
        counts = json.loads(s)
        if not isinstance(counts, dict) or not all(
                isinstance(k, str) and isinstance(v, int) and v > 0 for k, v in counts.items()):
            raise SettingError("lexicon must map words to positive counts")
        return cls(counts)
