"""The book's word counts and their evidence in the ``decode`` span finder."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from textkl.errors import ModelFileError
from textkl.finders import DecodeConfig, DecodeFinder
from textkl.lexicon import Lexicon
from textkl.pair import load


def test_build_counts_case_folded_words_with_inner_apostrophes():
    lex = Lexicon.build(["The cat, the CAT and the dog's bowl: don’t 42 x_y", "the end"])
    assert lex.counts["the"] == 4 and lex.counts["cat"] == 2
    assert lex.counts["dog's"] == 1 and lex.counts["don't"] == 1  # ’ read as '
    assert "42" not in lex.counts and lex.counts["x"] == 1 and lex.counts["y"] == 1
    assert list(Lexicon.build(["b a b c b a"], max_words=2).counts) == ["b", "a"]


def test_log_count_is_the_mean_over_a_units_words():
    lex = Lexicon({"sea": 9, "captain": 1})
    assert lex.log_count("sea-captain,", 1.0) == pytest.approx((np.log(10) + np.log(2)) / 2)
    assert lex.log_count("Sea ", 1.0) == pytest.approx(np.log(10))
    assert lex.log_count("zorbu", 0.5) == pytest.approx(np.log(0.5))
    assert lex.log_count("1984. ", 1.0) is None


def test_json_round_trip_and_bad_json():
    lex = Lexicon.build(["été, Straße and the sea"])
    assert Lexicon.from_json(lex.to_json()).counts == lex.counts
    for bad in ('["a"]', '{"a": 0}', '{"a": "1"}'):
        with pytest.raises(ValueError, match="positive counts"):
            Lexicon.from_json(bad)


TEXT = ("the cat sat on the mat and zorbu flim drax quelp hoovin gree then the cat sat on "
        "the mat and the cat sat")


def _spans(text, lexicon, **kw):
    pct = np.full(len(text), 0.6)  # the characters' own evidence is 0 at level 0.6
    finder = DecodeFinder(replace(DecodeConfig(level=0.6), **kw))
    finder.lexicon = lexicon
    return [(s, e) for s, e, f in finder.decode(text, pct) if f]


def test_words_the_book_never_uses_are_evidence_for_foreign():
    lex = Lexicon({w: 20 for w in ("the", "cat", "sat", "on", "mat", "and", "then")})
    a, b = TEXT.index("zorbu"), TEXT.index("then")
    assert _spans(TEXT, lex) == [(a, b)]
    assert _spans(TEXT, lex, lexicon_weight=0.0) == []
    assert _spans(TEXT, None) == []
    # the same words as names (capitalised inside a sentence) bring no evidence
    named = TEXT.replace("zorbu flim drax quelp hoovin gree", "Zorbu Flim Drax Quelp Hoovin Gree")
    assert _spans(named, lex) == []


def test_checkpoints_keep_the_lexicon_and_older_ones_load_without(tiny_pair, tmp_path):
    assert tiny_pair.lexicon is not None and tiny_pair.lexicon.counts["the"] > 10
    again = load(tiny_pair.save(tmp_path / "a.pt"))
    assert again.lexicon.counts == tiny_pair.lexicon.counts
    blob = torch.load(tmp_path / "a.pt", weights_only=True)
    del blob["lexicon"]  # as written before the lexicon existed
    torch.save(blob, tmp_path / "old.pt")
    old = load(tmp_path / "old.pt")
    assert old.lexicon is None
    text = "le chat est sur la table, the cat is on the table"
    assert old.segment(text, regions=1)  # decodes on the characters' evidence alone
    blob["lexicon"] = '{"the": -3}'
    torch.save(blob, tmp_path / "bad.pt")
    with pytest.raises(ModelFileError, match="damaged"):
        load(tmp_path / "bad.pt")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab'’ _1½Ⅻé-\n𝔘ΣçA", max_size=60))
def test_token_starts_are_where_the_token_pattern_matches(text):
    from textkl.lexicon import TOKEN, token_starts

    assert token_starts(text).tolist() == [m.start() for m in TOKEN.finditer(text)]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab'’ _1½Ⅻé-\n𝔘ΣçA", max_size=60),
       st.sampled_from([(0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F), (1, 3)]),
       st.sampled_from([1 << 20, 1, 7]))
@example("ab ba ab'c c'ba", (1, 3), 1 << 20)
def test_distinct_tokens_are_the_token_patterns_matches(text, bases, chunk):
    """The hashed tokens are ``TOKEN``'s matches, also where the first hash collides
    (base 1 sums the code points: "ab" and "ba" share it) and the second tells them
    apart, so that the strings must be cut for every token; and hashed a few characters
    at a time."""
    from textkl import lexicon as lexicon_module
    from textkl.lexicon import TOKEN, distinct_tokens

    saved = lexicon_module.HASHED_TOKENS, lexicon_module._HASH_BASES, lexicon_module.HASH_CHUNK
    lexicon_module.HASHED_TOKENS, lexicon_module._HASH_BASES, lexicon_module.HASH_CHUNK = \
        0, bases, chunk
    try:
        words, ids, pos = distinct_tokens(text)
    finally:
        lexicon_module.HASHED_TOKENS, lexicon_module._HASH_BASES, lexicon_module.HASH_CHUNK = \
            saved
    assert [words[i] for i in ids.tolist()] == TOKEN.findall(text)
    assert pos.tolist() == [m.start() for m in TOKEN.finditer(text)]
    assert len(set(words)) == len(words)


def test_the_token_memo_is_bounded_and_changes_nothing(monkeypatch):
    from textkl import lexicon as lexicon_module

    counts = {"the": 9, "cat": 2, "don't": 1, "été": 3}
    text = "The CAT, the cat; Don’t ÉTÉ été the dog " * 3
    starts = np.array([0, 8, 20, 40], dtype=np.int64)
    want = Lexicon(dict(counts)).unit_log_counts(text, starts, 0.05)
    monkeypatch.setattr(lexicon_module, "MEMO_TOKENS", 3)
    lex = Lexicon(dict(counts))
    for _ in range(2):
        np.testing.assert_array_equal(lex.unit_log_counts(text, starts, 0.05), want)
        assert len(lex._seen) <= 3


def test_known_share_is_the_share_of_word_tokens_the_book_uses():
    lex = Lexicon({"the": 9, "ship": 2, "don't": 1})
    assert lex.known_share("The SHIP sailed, don't ask") == (5, pytest.approx(3 / 5))
    words, share = lex.known_share("1234 !!! 42.0")
    assert words == 0 and np.isnan(share)
