"""Vocabulary: ids, offsets into the original string, whitespace folding, NFC."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from textkl.vocab import CharVocab

BOOK = "The quick brown fox jumps over the lazy dog. " * 20 + "Zebra! 1 2 3.\n\nÉtude."


def vocab() -> CharVocab:
    return CharVocab.build(BOOK, min_count=1)


def test_rare_characters_map_to_unk():
    v = CharVocab.build("aaaaab", min_count=5)
    assert "a" in v.chars and "b" not in v.chars
    assert v.encode("b").ids.tolist() == [0]


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_offsets_are_valid_and_sorted(text):
    enc = vocab().encode(text)
    assert enc.length == len(text)
    assert len(enc.ids) == len(enc.offsets)
    # non-decreasing: NFC can expand one character into several (U+0344 -> U+0308 U+0301)
    assert np.all(np.diff(enc.offsets) >= 0)
    assert np.all((enc.offsets >= 0) & (enc.offsets < max(len(text), 1)))
    if text:
        assert enc.offsets[0] == 0


@given(st.text(alphabet="abc TZ.\n\t\r", max_size=200))
@settings(max_examples=200, deadline=None)
def test_round_trip_of_known_characters_up_to_folding(text):
    v = vocab()
    enc = v.encode(text)
    decoded = v.decode(enc.ids)
    # non-space characters survive exactly and sit at their offsets
    for j, off in enumerate(enc.offsets):
        if not text[off].isspace():
            assert decoded[j] == text[off]
    assert "".join(text.split()) == "".join(decoded.split())


def test_whitespace_folding_rule():
    v = vocab()
    text = "a  b\nc\n\n\nd\r\n e"
    assert v.decode(v.encode(text).ids) == "a b c\nd e"
    # hard-wrapped and unwrapped paragraphs look the same to the models
    assert v.encode("The fox\njumps").ids.tolist() == v.encode("The fox jumps").ids.tolist()


def test_expand_maps_every_character():
    v = vocab()
    text = "ab   c"
    enc = v.encode(text)
    out = enc.expand(np.arange(len(enc.ids), dtype=np.float32))
    assert out.tolist() == [0, 1, 2, 2, 2, 3]


def test_nfc_slow_path_offsets_point_at_sequence_start():
    v = vocab()
    text = "Ve\u0301ro 😀 E\u0301tude"  # decomposed accents and an astral character
    enc = v.encode(text)
    decoded = v.decode(enc.ids)
    assert "Étude" in decoded  # composed, and É is in the book's vocabulary
    e_acute = decoded.index("É")
    assert text[enc.offsets[e_acute]] == "E"
    assert v.encode("😀").ids.tolist() == [0]  # astral, unknown -> <unk>


def test_nfc_expansion_maps_back_to_its_character():
    v = vocab()
    enc = v.encode("q\u0344b")  # U+0344 has no NFC form of its own: it becomes two marks
    assert enc.offsets.tolist() == [0, 1, 1, 2]
    assert len(enc.expand(np.arange(4, dtype=np.float32))) == 3


def test_json_round_trip():
    v = vocab()
    w = CharVocab.from_json(v.to_json())
    assert w.chars == v.chars and w.fold == v.fold


@given(st.text(alphabet="ab \n\t\u0301\u0344e\u00e9\U0001F600", max_size=60))
@settings(max_examples=300, deadline=None)
def test_expand_takes_the_view_character_at_or_before_each_position(text):
    enc = vocab().encode(text)
    values = np.arange(len(enc.ids), dtype=np.float32)
    want_idx = np.searchsorted(enc.offsets, np.arange(len(text)), side="right") - 1
    want = np.where(want_idx >= 0, values[np.clip(want_idx, 0, None)] if len(values) else 0,
                    np.nan)
    got = enc.expand(values)
    assert len(got) == len(text)
    if len(values):
        np.testing.assert_array_equal(got, want)
    else:
        assert np.isnan(got).all()
