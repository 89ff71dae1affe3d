#!/usr/bin/env python
"""The French of War and Peace (Maude): the shipped labels, audited and corrected by a rule.

``MIXED_SPANS.tsv`` lists 68 French passages in the 1.45 M characters of the Maude translation.
Read against the text they are a heuristic list: most French in the book is not in it ("mon
cher", "comme il faut", "Soyez tranquille", "Cela nous convient a merveille" ...), and some
labels start or end with English words ("Well, mon cher,", "dutiful et tout ce qui
s'ensuit!"). The corrected labels are the shipped ones, trimmed, plus every passage the rule
below finds; the rule reads only the text and two word lists built from the shared corpora,
never a detector's output.

Words are runs of letters (an apostrophe or a hyphen splits them), lowercased, accents
stripped (the Maude text has almost none). With relative frequencies from the four French
books and the five English novels of the shared corpora:

- a word *leans French* if it is more frequent in the French books than in the English
  novels, or if neither has it twice ("seduisante", "effrayee");
- a *French-only* word has two letters or more, occurs twice or more in the French books,
  is 20 times more frequent there than in the English novels, and is neither a loanword the
  translation uses as English (``LOANS``: "vicomte", "abbe", "aide", "fete", "soiree" ...)
  nor a name of the book (``NAMES``);
- a *passage* is a maximal run of words leaning French, not broken by a sentence end, a
  blank line, a footnote mark (``*``), a bracket or a double quote, that holds two French-only
  words or more; it is cut to start and end on a word that is not a name (``NAMES``, or
  capitalised and unknown to the French books).

A shipped label is cut to start and end on a word that is neither English-only (in the
English novels, never in the French books) nor a stray letter: "Well, mon cher," becomes
"mon cher". A label left with no word that leans French and occurs twice in the French
books is dropped: "tumbler turned upside down" (English, marked because a footnote follows)
and "fruschtique" (the cook's German).

    python scripts/war_and_peace_labels.py            # the audit table; --list prints every passage
"""

from __future__ import annotations

import argparse
import collections
import csv
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.common import corpora_dir  # noqa: E402

MIXED = "mixed_en_fr_war_and_peace_maude_part"
FRENCH_BOOKS = ["fr_novel_candide", "fr_novel_les_miserables_t1_fantine", "fr_novel_madame_bovary",
                "fr_poetry_fleurs_du_mal"]
ENGLISH_BOOKS = ["en_novel_moby_dick", "en_novel_pride_and_prejudice",
                 "en_novel_alice_in_wonderland", "en_novel_sherlock_holmes_adventures",
                 "en_novel_frankenstein"]
# French words the translation uses inside English sentences, as English.
LOANS = frozenset("""
abbe aide baron camp fete soiree vicomte vicomtes comte comtesse duc duchesse prince princesse
naive naivete cadet plume grimace saute dessert anglaise pas cortege tete entree ecossaise
emigre emigres salon salons coup bon mot mots chateau regime ennui elite etiquette protege
""".split())
# Names of the book that are also French words.
NAMES = frozenset("""
alphonse pierre hippolyte helene andre anna marie louis napoleon bonaparte buonaparte boulogne lise
catherine julie sonya natasha nicholas vienne paris annette mortemart conde genlis
""".split())
WORD = re.compile(r"[^\W\d_]+")
BREAK = re.compile(r"[.!?;]\s|\n\s*\n|[*\"()]")
RATIO = 20.0


def _plain(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word.lower())
                   if unicodedata.category(c) != "Mn")


def _lexicon(texts: Iterable[str]) -> tuple[collections.Counter, int]:
    counts: collections.Counter = collections.Counter()
    for text in texts:
        counts.update(_plain(w) for w in WORD.findall(text))
    return counts, sum(counts.values())


def _books(names: list[str]) -> Iterator[str]:
    for name in names:
        yield (corpora_dir() / f"{name}.txt").read_text("utf-8")


class Lexicons:
    """Which words lean French, are French-only or English-only (see the module docstring).

    Counted from the shared corpora's books unless the French and English texts are given.
    """

    def __init__(self, french: Iterable[str] | None = None,
                 english: Iterable[str] | None = None) -> None:
        self.fr, self.n_fr = _lexicon(_books(FRENCH_BOOKS) if french is None else french)
        self.en, self.n_en = _lexicon(_books(ENGLISH_BOOKS) if english is None else english)

    def _ratio(self, w: str) -> float:
        return (self.fr[w] + 0.5) / self.n_fr / ((self.en[w] + 0.5) / self.n_en)

    def french(self, w: str) -> bool:
        """French-leaning (more frequent in the French books), or unknown to both lists."""
        return self._ratio(w) >= 1.0 or self.fr[w] + self.en[w] < 2

    def french_only(self, w: str) -> bool:
        return (len(w) >= 2 and self.fr[w] >= 2 and w not in LOANS and w not in NAMES
                and self._ratio(w) >= RATIO)

    def name(self, word: str) -> bool:
        """A name of the book, or a capitalised word the French books do not know."""
        w = _plain(word)
        return w in NAMES or (word[0].isupper() and self.fr[w] < 2)

    def english_only(self, w: str) -> bool:
        return self.en[w] >= 1 and self.fr[w] == 0


def shipped(text: str) -> list[tuple[int, int]]:
    """The labels of ``MIXED_SPANS.tsv`` that start inside ``text``, clipped to it."""
    out = []
    with open(corpora_dir() / "MIXED_SPANS.tsv", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if row["file"].startswith(MIXED) and int(row["start_char"]) < len(text):
                out.append((int(row["start_char"]), min(int(row["end_char"]), len(text))))
    return out


def trimmed(text: str, spans: list[tuple[int, int]], lex: Lexicons) -> list[tuple[int, int]]:
    """Each label cut to its first and last word that is neither English-only nor a stray
    letter ("morning's"); dropped if no word the French books know and lean to is left."""
    out = []
    for s, e in spans:
        words = [m for m in WORD.finditer(text, s, e)
                 if not lex.english_only(_plain(m.group()))
                 and (len(m.group()) > 1 or text[m.end() : m.end() + 1] == "'")]
        if any(lex.fr[_plain(m.group())] >= 2 and lex.french(_plain(m.group())) for m in words):
            out.append((words[0].start(), words[-1].end()))
    return out


def found(text: str, lex: Lexicons) -> list[tuple[int, int]]:
    """The passages the rule finds (see the module docstring)."""
    words = list(WORD.finditer(text))
    out, i = [], 0
    while i < len(words):
        if not lex.french(_plain(words[i].group())):
            i += 1
            continue
        j = i
        while (j + 1 < len(words) and lex.french(_plain(words[j + 1].group()))
               and not BREAK.search(text, words[j].end(), words[j + 1].start())):
            j += 1
        if sum(lex.french_only(_plain(words[k].group())) for k in range(i, j + 1)) >= 2:
            a, b = i, j
            while lex.name(words[a].group()):
                a += 1
            while lex.name(words[b].group()):
                b -= 1
            out.append((words[a].start(), words[b].end()))
        i = j + 1
    return out


def mask(text: str, spans: list[tuple[int, int]]) -> np.ndarray:
    m = np.zeros(len(text), dtype=bool)
    for s, e in spans:
        m[s:e] = True
    return m


def truths(text: str, lex: Lexicons | None = None) -> dict[str, np.ndarray]:
    """The French of ``text`` (a prefix of the book): ``shipped`` labels and ``corrected``
    ones (the shipped labels trimmed, and the passages the rule finds)."""
    lex = lex or Lexicons()
    old = shipped(text)
    return {"shipped": mask(text, old),
            "corrected": mask(text, trimmed(text, old, lex) + found(text, lex))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chars", type=int, default=1_000_000, help="prefix of the book to audit")
    ap.add_argument("--list", action="store_true", help="print every passage the rule finds")
    args = ap.parse_args()
    text = (corpora_dir() / f"{MIXED}.txt").read_text("utf-8")[: args.chars]
    lex = Lexicons()
    old, new = shipped(text), found(text, lex)
    masks, rule_m = truths(text, lex), mask(text, new)
    old_m, new_m = masks["shipped"], masks["corrected"]
    added = [(s, e) for s, e in new if not old_m[s:e].any()]
    if args.list:
        for s, e in new:
            print(f"{s:>8} {'  ' if old_m[s:e].any() else '+ '}{text[s:e]!r}")
    nonspace = np.array([not c.isspace() for c in text])
    print(f"{len(text):,} characters; shipped labels: {len(old)} passages, "
          f"{int((old_m & nonspace).sum()):,} non-space characters")
    cut = [(s, e) for s, e in old
           if any(lex.english_only(_plain(m.group())) for m in WORD.finditer(text, s, e))]
    print(f"trimmed: {len(cut)} labels lose English words: "
          + "; ".join(repr(text[s:e]) for s, e in cut))
    print(f"the rule: {len(new)} passages, {len(new) - len(added)} overlap a shipped label, "
          f"{len(added)} new; missed by the rule: "
          f"{sum(1 for s, e in trimmed(text, old, lex) if not rule_m[s:e].any())} "
          "shipped labels")
    print(f"corrected labels: {int((new_m & nonspace).sum()):,} non-space characters "
          f"({(new_m & nonspace).sum() / nonspace.sum():.2%} of the text)")


if __name__ == "__main__":
    main()
