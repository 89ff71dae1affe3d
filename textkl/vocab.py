"""Character vocabulary and the normalised view of a text that the models see.

Training and scoring see the same *view* of a text: NFC characters with whitespace
folded (a run of whitespace becomes one space, or one newline if the run holds a blank
line), so hard-wrapped lines, indentation and CRLF do not look foreign. ``encode``
returns, for every character of that view, its offset in the original Python string,
so every score maps back to an exact character.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from .errors import SettingError
from .numerics import block_index

UNK = "<unk>"
_TABLE_SIZE = 0x10000  # dense lookup for the BMP; astral characters go through a dict
_WHITESPACE = np.array([ord(c) for c in " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680"
                        "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
                        "\u200a\u2028\u2029\u202f\u205f\u3000"], dtype=np.uint32)
FOLD_RULES = ("fold_whitespace", "none")


def codepoints(text: str) -> np.ndarray:
    """Code points of ``text`` as a uint32 array; index i is ``text[i]``."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def char_class(text: str, bmp_table: np.ndarray, test: Callable[[str], bool]) -> np.ndarray:
    """Bool (N,): ``test(text[i])`` for each character, read from ``bmp_table`` (``test`` of
    every code point below 0x10000) and computed by ``test`` only beyond it."""
    cp = codepoints(text)
    bmp = cp < 0x10000
    out = bmp_table[np.where(bmp, cp, 0)] & bmp
    for i in np.flatnonzero(~bmp):
        out[i] = test(text[i])
    return out


_SPACE_TABLE = np.zeros(int(_WHITESPACE.max()) + 1, dtype=bool)
_SPACE_TABLE[_WHITESPACE] = True


def is_whitespace(cps: np.ndarray) -> np.ndarray:
    """Bool mask of the code points for which ``str.isspace`` is true (a table lookup)."""
    top = len(_SPACE_TABLE) - 1
    return _SPACE_TABLE[np.minimum(cps, top)] & (cps <= top)


@lru_cache(maxsize=1)
def _char_tokenizer():
    """A tokenizers pipeline that NFC-normalises and yields one token per output character."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    return tok


def nfc_view(text: str) -> tuple[str, np.ndarray | None]:
    """The NFC form of ``text`` and, for each of its characters, the offset it came from.

    Already-NFC text (the common case) takes a fast path and returns ``None`` offsets
    (identity). Otherwise HF ``tokenizers``' NFC normaliser tracks every output character
    back to the original string.
    """
    if unicodedata.is_normalized("NFC", text):
        return text, None
    tok = _char_tokenizer()
    view = tok.normalizer.normalize_str(text)
    enc = tok.encode(text, add_special_tokens=False)
    offsets = np.fromiter((a for a, _ in enc.offsets), dtype=np.int64, count=len(enc.offsets))
    if len(offsets) != len(view):  # defensive: never misalign scores
        raise AssertionError("NFC alignment lost characters")
    return view, offsets


def fold_whitespace(cps: np.ndarray) -> np.ndarray:
    """Indices of the code points kept, and what each kept whitespace becomes.

    Returns:
        keep: int64 indices into ``cps`` of the characters of the folded view.
    """
    is_ws = is_whitespace(cps)
    if not is_ws.any():
        return np.arange(len(cps), dtype=np.int64)
    run_start = is_ws & ~np.concatenate(([False], is_ws[:-1]))
    keep = ~is_ws | run_start
    return np.flatnonzero(keep)


@dataclass(frozen=True)
class Encoded:
    """A text as the models see it.

    Attributes:
        ids: int64 (N,) vocabulary ids of the normalised view.
        offsets: int64 (N,) index in the original string of each normalised character.
        length: length of the original string.
    """

    ids: np.ndarray
    offsets: np.ndarray
    length: int

    def expand(self, values: np.ndarray) -> np.ndarray:
        """Map per-view values (N,) back to per-character values (length,).

        A folded whitespace run and the characters of a combining sequence all take
        the value of the view character that represents them.
        """
        out_idx = self._view_index
        out = values[np.clip(out_idx, 0, None)] if len(values) else np.full(self.length, np.nan)
        if len(values) and (out_idx < 0).any():
            out = out.astype(np.float32, copy=True)
            out[out_idx < 0] = np.nan
        return out

    @cached_property
    def _view_index(self) -> np.ndarray:
        """int64 (length,): the view character that represents each character of the
        original string (-1 before the first); computed once for the three score arrays."""
        return block_index(self.offsets, self.length)


class CharVocab:
    """Characters of a training book; rarer ones than ``min_count`` share ``<unk>`` (id 0)."""

    def __init__(self, chars: list[str], fold: str = "fold_whitespace") -> None:
        if fold not in FOLD_RULES:
            raise SettingError(f"fold must be one of {FOLD_RULES}, got {fold!r}")
        self.chars = [UNK, *[c for c in chars if c != UNK]]
        self.fold = fold
        self._index = {c: i for i, c in enumerate(self.chars)}
        self._table = np.zeros(_TABLE_SIZE, dtype=np.int64)
        self._astral: dict[int, int] = {}
        for i, c in enumerate(self.chars[1:], start=1):
            cp = ord(c)
            if cp < _TABLE_SIZE:
                self._table[cp] = i
            else:
                self._astral[cp] = i
        self.newline_id = self._index.get("\n", 0)
        self.space_id = self._index.get(" ", 0)

    def __len__(self) -> int:
        return len(self.chars)

    @classmethod
    def build(cls, text: str, min_count: int = 5, fold: str = "fold_whitespace") -> CharVocab:
        """Build from training text: characters seen at least ``min_count`` times."""
        if min_count < 1:
            raise SettingError(f"min_count must be >= 1, got {min_count}")
        view, _ = nfc_view(text)
        counts = Counter(view)
        chars = sorted(c for c, n in counts.items() if n >= min_count and not c.isspace())
        return cls([" ", "\n", *chars], fold=fold)

    def encode(self, text: str) -> Encoded:
        """Normalise ``text`` and map it to ids, with offsets into the original string."""
        view, nfc_offsets = nfc_view(text)
        cps = codepoints(view)
        if self.fold == "fold_whitespace":
            keep = fold_whitespace(cps)
            ids = self._lookup(cps[keep])
            ids = self._fold_ids(cps, keep, ids)
        else:
            keep = np.arange(len(cps), dtype=np.int64)
            ids = self._lookup(cps)
        offsets = keep if nfc_offsets is None else nfc_offsets[keep]
        return Encoded(ids=ids, offsets=offsets.astype(np.int64), length=len(text))

    def _lookup(self, cps: np.ndarray) -> np.ndarray:
        ids = self._table[np.minimum(cps, _TABLE_SIZE - 1)]
        astral = cps >= _TABLE_SIZE
        if astral.any():
            ids[astral] = [self._astral.get(int(cp), 0) for cp in cps[astral]]
        return ids

    def _fold_ids(self, cps: np.ndarray, keep: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Whitespace runs become one space, or one newline if they hold two or more newlines."""
        is_ws = is_whitespace(cps)
        kept_ws = is_ws[keep]
        if not kept_ws.any():
            return ids
        newline_cum = np.concatenate(([0], np.cumsum(cps == 10)))
        # a kept whitespace character starts a run that ends where the next kept char starts
        ends = np.append(keep[1:], len(cps))
        n_newlines = newline_cum[ends] - newline_cum[keep]
        ids = ids.copy()
        ids[kept_ws] = np.where(n_newlines[kept_ws] >= 2, self.newline_id, self.space_id)
        return ids

    def decode(self, ids: np.ndarray) -> str:
        """Characters for ids (``<unk>`` decodes to U+FFFD)."""
        return "".join("\ufffd" if i == 0 else self.chars[i] for i in np.asarray(ids).tolist())

    def to_json(self) -> str:
        return json.dumps({"chars": self.chars[1:], "fold": self.fold}, ensure_ascii=False)

    @classmethod
    def from_json(cls, data: str) -> CharVocab:
        obj = json.loads(data)
        return cls(list(obj["chars"]), fold=obj["fold"])
