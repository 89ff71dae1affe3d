"""The rule that corrects War and Peace's French labels, on text written for the test."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts import war_and_peace_labels as wp  # noqa: E402

FRENCH = ["Mon cher ami, je vous demande un peu de patience, car elle est tres belle et "
          "nous sommes contents. Mon cher, vous etes charmant, et tout ce qui s'ensuit."] * 10
ENGLISH = ["My dear friend, I ask you for a little patience, because she is very pretty and "
           "we are glad. Well, the tumbler was turned upside down and he said so."] * 10
TEXT = ('"Well, mon cher," said the vicomte, "we are glad." Then Pierre said: Je vous '
        "demande un peu! And the tumbler was turned upside down.")


def _lex() -> wp.Lexicons:
    return wp.Lexicons(FRENCH, ENGLISH)


def test_words_are_sorted_by_where_they_are_frequent():
    lex = _lex()
    assert lex.french_only("vous") and lex.french_only("cher")
    assert not lex.french_only("vicomte")  # a loanword of the translation
    assert lex.english_only("well") and lex.english_only("tumbler")
    assert not lex.english_only("cher")
    assert lex.french("seduisante")  # unknown to both lists
    assert not lex.french("the")


def test_the_rule_finds_french_phrases_and_not_english():
    found = [TEXT[s:e] for s, e in wp.found(TEXT, _lex())]
    assert found == ["mon cher", "Je vous demande un peu"]


def test_shipped_labels_lose_english_words_and_english_labels_go():
    lex = _lex()
    well = TEXT.index("Well")
    tumbler = TEXT.index("tumbler")
    spans = [(well, TEXT.index(",", well + 6) + 1), (tumbler, tumbler + len("tumbler"))]
    assert [TEXT[s:e] for s, e in wp.trimmed(TEXT, spans, lex)] == ["mon cher"]


def test_mask_covers_the_union():
    m = wp.mask("abcdef", [(1, 3), (2, 4)])
    assert m.tolist() == [False, True, True, True, False, False]
