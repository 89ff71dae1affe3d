"""Span finding: numpy invariants (hypothesis) and a French text with an English sentence."""

from __future__ import annotations

import functools
import json
import random
import re
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textkl.finders import (
    ChangepointConfig,
    ChangepointFinder,
    DecodeConfig,
    DecodeFinder,
    HysteresisConfig,
    HysteresisFinder,
    document_evidence,
    make_finder,
)
from textkl.numerics import centred_mean
from textkl.score import Scores
from textkl.spans import (
    Segment,
    Span,
    clean_mask,
    hysteresis,
    runs,
    snap_candidates,
    space_mask,
    to_segments,
)


def _hysteresis(high: float, low: float, cfg: HysteresisConfig) -> HysteresisFinder:
    """A hysteresis finder with thresholds set by hand instead of fitted on a calibration."""
    finder = HysteresisFinder(cfg)
    finder.high, finder.low = high, low
    return finder

# ---------------------------------------------------------------------------- numpy pieces


def test_centred_mean_ignores_nan_and_keeps_length():
    x = np.array([np.nan, 1.0, 1.0, 3.0, np.nan, 3.0], dtype=np.float32)
    s = centred_mean(x, 3)
    assert s.shape == x.shape
    assert s[0] == pytest.approx(1.0)  # window [nan, 1]: NaN dropped, not zero-filled
    assert s[4] == pytest.approx(3.0)
    assert np.isnan(centred_mean(np.full(4, np.nan), 2)).all()


def test_centred_mean_is_cut_at_the_ends():
    got = centred_mean(np.arange(40.0), 30)
    assert got[0] == pytest.approx(7.0)  # mean of 0..14: the window does not slide inwards
    assert got[20] == pytest.approx(np.arange(5, 35).mean())
    assert got[39] == pytest.approx(np.arange(24, 40).mean())


def test_hysteresis_extends_above_low_only_from_a_high_point():
    sig = np.array([0, 2, 2, 5, 2, 0, 2, 2, 0], dtype=float)
    got = hysteresis(sig, high=4, low=1)
    assert got.tolist() == [False, True, True, True, True, False, False, False, False]


def test_clean_mask_drops_short_runs_and_fills_short_gaps():
    m = np.zeros(60, dtype=bool)
    m[5:8] = True  # 3 chars: dropped
    m[20:35] = True
    m[37:50] = True  # gap of 2 between two runs: filled
    got = clean_mask(m, min_span=5, min_gap=4)
    assert not got[5:8].any()
    assert got[20:50].all() and not got[50:].any()


def test_snap_candidates_find_sentence_and_word_starts():
    text = "Il pleut. The rain falls\nEncore un mot."
    words, sents = snap_candidates(text)
    assert text.index("The") in sents and text.index("Encore") in sents
    assert text.index("rain") in words and text.index("rain") not in sents
    assert words[0] == 0 and words[-1] == len(text)


def _check_tiling(spans, n):
    if n == 0:
        assert spans == []
        return
    assert spans[0][0] == 0 and spans[-1][1] == n
    for (s, e, f), (s2, _, f2) in zip(spans, spans[1:]):
        assert s < e == s2 and f != f2
    assert spans[-1][0] < spans[-1][1]


_TEXT_CHARS = st.sampled_from(list("ab c.\n!?é ")) | st.characters(codec="utf-8")


@settings(max_examples=150, deadline=None)
@given(text=st.text(_TEXT_CHARS, max_size=300), seed=st.integers(0, 2**16),
       window=st.integers(1, 40),
       method=st.sampled_from(["decode", "hysteresis", "changepoint"]))
def test_spans_tile_any_text(text, seed, window, method):
    rng = np.random.default_rng(seed)
    kl = rng.gamma(0.5, rng.uniform(0.001, 2.0), size=len(text)).astype(np.float32)
    if len(text):
        kl[0] = np.nan
        kl[rng.random(len(text)) < 0.05] = np.nan
        start = rng.integers(0, len(text))
        kl[start : start + rng.integers(0, 80)] *= 50  # a foreign stretch
    min_span, min_gap = int(rng.integers(1, 30)), int(rng.integers(1, 30))
    if method == "decode":
        pct = np.where(np.isnan(kl), np.nan, np.clip(kl, 0, 1))
        spans = DecodeFinder().decode(text, pct)
    elif method == "hysteresis":
        cfg = HysteresisConfig(window=window, min_span=min_span, min_gap=min_gap)
        spans = _hysteresis(0.5, 0.2, cfg).spans(text, kl)
    else:
        finder = ChangepointFinder(ChangepointConfig(min_span=min_span, min_gap=min_gap))
        finder.highs = {1: 0.8, 10: 0.5}
        spans = finder.predict(text, Scores(kl, kl, kl))
    _check_tiling(spans, len(text))


def test_find_spans_cuts_a_foreign_sentence_at_its_edges():
    text = "One two three four five six. Un deux trois quatre cinq six sept. Seven eight nine ten."
    a, b = text.index("Un"), text.index("Seven")
    kl = np.full(len(text), 0.01, dtype=np.float32)
    kl[a + 2 : b + 3] = 1.0  # the models notice a little late and recover a little late
    spans = _hysteresis(0.5, 0.1, HysteresisConfig(window=5)).spans(text, kl)
    assert [(s, e, f) for s, e, f in spans] == [(0, a, False), (a, b, True), (b, len(text), False)]


def test_decode_labels_whole_words_and_prefers_sentence_starts():
    text = "One two three four five six. Un deux trois quatre cinq six sept. Seven eight nine."
    a, b = text.index("Un"), text.index("Seven")
    pct = np.full(len(text), 0.4)
    pct[a + 3 : b + 4] = 0.95  # late onset and a slow recovery, as the models' context lags
    finder = DecodeFinder(DecodeConfig(level=0.6, switch_word=4, switch_sentence=0.5))
    assert finder.decode(text, pct) == [(0, a, False), (a, b, True), (b, len(text), False)]
    pct[a:b] = 0.62  # weak evidence for a short stretch: not worth two switches
    assert DecodeFinder(DecodeConfig(switch_sentence=20)).decode(text, pct) == [
        (0, len(text), False)]


def test_decode_unit_clip_keeps_the_switch_at_the_sentence_start():
    text = "One two three four five zzyzx. Un deux trois quatre cinq six sept huit."
    z, a = text.index("zzyzx"), text.index("Un")
    pct = np.full(len(text), 0.4)
    pct[a:] = 0.95  # the foreign sentence
    pct[z : z + 6] = 1.0  # one odd word just before it: 6 x 0.4 = 2.4 of evidence
    cfg = DecodeConfig(level=0.6, switch_word=3.0, switch_sentence=1.0)
    # a switch one word early costs 3 - 1 = 2 more and gains 2.4: the odd word goes foreign
    assert DecodeFinder(cfg).decode(text, pct) == [(0, z, False), (z, len(text), True)]
    # no word may bring more than 1.5: the switch stays where the sentence starts
    clipped = DecodeFinder(replace(cfg, unit_clip=1.5))
    assert clipped.decode(text, pct) == [(0, a, False), (a, len(text), True)]
    # the clip bounds a word's evidence for "foreign" only: many words still add up
    pct[:] = 0.95
    assert clipped.decode(text, pct) == [(0, len(text), True)]


def test_decode_document_weight_sends_a_foreign_word_used_elsewhere_to_its_kind():
    """An ambiguous word at the edge of the book-like part ("plus": its letters a little
    book-like) joins the book in the first pass; the text uses it in its foreign part too,
    so the second pass takes it to the foreign side. Texts with one label do not move."""
    text = "aaaa bbbb plus cccc dddd plus one two three four five"
    edge = text.index("plus", text.index("dddd"))
    pct = np.full(len(text), 0.95)
    pct[text.index("one"):] = 0.3
    for m in re.finditer("plus", text):
        pct[m.start() : m.end()] = 0.5  # 4 x -0.1 of evidence: book-like on its own
    cfg = DecodeConfig(level=0.6, switch_word=3.0)
    assert DecodeFinder(cfg).decode(text, pct) == [(0, edge, True), (edge, len(text), False)]
    with_doc = DecodeFinder(replace(cfg, document_weight=1.0))
    one = text.index("one")
    assert with_doc.decode(text, pct) == [(0, one, True), (one, len(text), False)]
    # the first "plus" has no other foreign "plus" to lean on once the second is book-like
    words = np.array([0] + [m.start() for m in re.finditer(r"(?<= )\S", text)])
    labels = np.array([w < edge for w in words])
    doc = np.zeros(len(words), dtype=np.int64)
    votes = document_evidence(text, words, doc, labels, np.zeros(len(words), bool), 2.0)
    assert votes.tolist() == [2.0 if w == edge else 0.0 for w in words]
    # a share, not a count: two more "plus" in the book-like part, and the vote shrinks
    both = text + " plus plus"
    words_b = np.append(words, [len(text) + 1, len(text) + 6])
    labels_b = np.append(labels, [False, False])
    votes = document_evidence(both, words_b, np.zeros(len(words_b), dtype=np.int64), labels_b,
                              np.zeros(len(words_b), bool), 2.0)
    assert votes[words_b == edge].item() == pytest.approx(2.0 / 3)  # 1 of 3 others foreign
    assert votes[2] == 0.0  # the first "plus": its 3 others all book-like
    name = words == edge
    assert not document_evidence(text, words, doc, labels, name, 2.0).any()  # names: 0
    one_label = np.zeros(len(words), bool)
    assert not document_evidence(text, words, doc, one_label, one_label, 2.0).any()
    pct[:] = 0.3  # all book-like: no foreign part to learn from
    assert with_doc.decode(text, pct) == [(0, len(text), False)]
    with pytest.raises(ValueError, match="document_weight"):
        DecodeConfig(document_weight=-1.0)


@given(st.text(alphabet=st.one_of(st.characters(), st.sampled_from(" \t\n\x85\xa0\u2028\u3000")),
               max_size=80))
def test_space_mask_and_word_starts_match_python(text):
    mask = space_mask(text)
    assert mask.tolist() == [c.isspace() for c in text]
    words, _ = snap_candidates(text)
    want = {m.start() for m in re.finditer(r"(?<=\s)\S", text)} | {0, len(text)}
    assert words.tolist() == sorted(want)


def test_decode_hears_word_ends_and_discounts_names():
    text = "the cat sat on the mat and then we saw Fitzwilliam by the door of the house"
    pct = np.full(len(text), 0.3)  # letters: book-like everywhere
    sur = np.zeros(len(text))
    a, b = text.index("on"), text.index(" and")
    sur[[i for i in range(a, b) if text[i] == " "] + [b]] = 2.5  # words ending oddly
    cfg = DecodeConfig(level=0.6, switch_word=1.0)
    foreign = [(s, e) for s, e, f in DecodeFinder(cfg).decode(text, pct, sur) if f]
    assert foreign == [(a, text.index("and"))]  # only whitespace carried that evidence
    no_space = DecodeFinder(replace(cfg, space_weight=0.0))
    assert not any(f for *_, f in no_space.decode(text, pct, sur))
    n = text.index("Fitzwilliam")
    pct[n : n + 11] = 1.0  # a name the book never saw, mid-sentence
    sur[:] = 0.0
    assert not any(f for *_, f in DecodeFinder(cfg).decode(text, pct, sur))
    names = DecodeFinder(replace(cfg, name_weight=1.0))
    foreign = [(s, e) for s, e, f in names.decode(text, pct, sur) if f]
    assert foreign == [(n, n + 12)]


def test_decode_names_follow_the_foreign_words_around_them_without_evidence_against():
    """A foreign sentence that ends in a name ("... is Javier Sanguino."): the name's
    book-like letters pull its words to the book at a switch's cost, unless the name keeps
    none of its evidence against "foreign" (``name_weight_against`` 0)."""
    text = "de huidige onderhouder van het pakket is Javier Sanguino."
    pct = np.full(len(text), 0.95)  # foreign letters
    n = text.index("Javier")
    pct[n:] = 0.0  # the name: as book-like as the book's own text
    sur = np.zeros(len(text))
    cfg = DecodeConfig(level=0.6, switch_word=1.0)

    def foreign(c: DecodeConfig) -> list[tuple[int, int]]:
        return [(s, e) for s, e, f in DecodeFinder(c).decode(text, pct, sur) if f]

    assert foreign(cfg) == [(0, n)]  # the name goes to the book
    assert foreign(replace(cfg, name_weight_against=0.0)) == [(0, len(text))]
    # half of 15 letters' -0.6 still outweighs the switch's 1.0
    assert foreign(replace(cfg, name_weight_against=0.5)) == [(0, n)]
    with pytest.raises(ValueError, match="name_weight_against"):
        DecodeConfig(name_weight_against=-0.5)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="level"):
        DecodeConfig(level=1.5)
    with pytest.raises(ValueError, match="q_low"):
        HysteresisConfig(q_low=0.9, q_high=0.5)
    with pytest.raises(ValueError, match="space_weight"):
        DecodeConfig(space_weight=-1.0)
    with pytest.raises(ValueError, match="switch_word"):
        DecodeConfig(switch_word=-1.0)
    with pytest.raises(ValueError, match="unit_clip"):
        DecodeConfig(unit_clip=-1.0)
    with pytest.raises(ValueError, match="has no setting window"):
        make_finder("decode", window=30)  # a hysteresis setting: named, not ignored
    with pytest.raises(ValueError, match="finder must be one of"):
        make_finder("viterbi")


def test_to_segments_means_match_a_loop_over_the_spans():
    """Every span's mean KL over its non-NaN values (NaN where it has none), spans that end
    at the text's end and empty ones included, as a loop over the spans computes it."""
    rng = np.random.default_rng(3)
    kl = rng.random(500).astype(np.float32)
    kl[0] = np.nan
    kl[100:140] = np.nan  # a span of NaN only
    cuts = [0, 1, 100, 140, 140, 300, 500]  # a one-character span and an empty one
    spans = [Span(s, e, i % 2 == 1) for i, (s, e) in enumerate(zip(cuts[:-1], cuts[1:]))]
    segs = to_segments(spans, list(range(len(spans))), kl)
    assert [(g.start, g.end, g.label, g.in_distribution) for g in segs] == [
        (s, e, i, not f) for i, (s, e, f) in enumerate(spans)]
    for g in segs:
        part = kl[g.start:g.end].astype(np.float64)
        part = part[~np.isnan(part)]
        if len(part):
            assert g.mean_kl == pytest.approx(part.mean(), rel=1e-12)
        else:
            assert np.isnan(g.mean_kl)
    # spans with gaps between them, as the filter's trimmed book-like spans are
    apart = [Span(5, 50, False), Span(150, 170, False), Span(200, 220, True)]
    for g in to_segments(apart, [0, 0, 1], kl):
        part = kl[g.start:g.end].astype(np.float64)
        assert g.mean_kl == pytest.approx(np.nanmean(part), rel=1e-12)
    assert to_segments([], [], kl) == []
    with pytest.raises(ValueError):
        to_segments(spans, [0], kl)


def test_runs_roundtrip():
    m = np.array([True, True, False, True])
    assert runs(m) == [(0, 2, True), (2, 3, False), (3, 4, True)]
    assert runs(np.zeros(0, dtype=bool)) == []


# ---------------------------------------------------------------------------- with a pair

# The pair learns English from a small grammar written for these tests: many different
# sentences over one vocabulary, so that a new sentence over that vocabulary is in
# distribution (a pair that memorised a few sentences would flag any new one). The French
# and German below are foreign to it.
_SUBJ = ["the old sailor", "the young captain", "a tired fisherman", "the quiet boy", "his mother",
         "the harbour master", "a tall woman", "the cook", "the ship", "the little boat",
         "my brother", "the grey whale", "a stranger", "the men", "her father", "the crew"]
_VERB = ["walked along", "looked at", "waited near", "sailed past", "talked about", "watched",
         "remembered", "carried", "pulled", "painted", "cleaned", "followed", "found", "left",
         "called to", "thought about"]
_OBJ = ["the harbour", "the long rope", "the wooden deck", "the cold sea", "the dark water",
        "the heavy sails", "the small town", "the stone quay", "the narrow street", "the mast",
        "the old map", "the evening light", "the storm", "the island", "the morning tide",
        "a white bird"]
_TAIL = ["", "", " in the morning", " before the storm", " at night", " for a long time",
         " without a word", " in the rain", " once again", " with great care"]
_JOIN = [", and ", ", but ", " while ", " because ", " when "]


def english_text(n_chars: int, seed: int = 0) -> str:
    """Paragraphs of random sentences from the grammar above, about ``n_chars`` long."""
    rng = random.Random(seed)

    def clause() -> str:
        return f"{rng.choice(_SUBJ)} {rng.choice(_VERB)} {rng.choice(_OBJ)}{rng.choice(_TAIL)}"

    out: list[str] = []
    while sum(map(len, out)) < n_chars:
        sents = []
        for _ in range(rng.randint(3, 7)):
            s = clause() + (rng.choice(_JOIN) + clause() if rng.random() < 0.5 else "")
            sents.append(s[0].upper() + s[1:] + ".")
        out.append(" ".join(sents) + "\n\n")
    return "".join(out)


_FRENCH = ("Le matin était froid et la rivière coulait lentement sous le pont de pierre. "
           "Les enfants du village couraient vers l'école en riant très fort. "
           "Leur mère les regardait depuis la fenêtre de la cuisine. ")
_FRENCH_2 = ("Personne ne savait pourquoi le boulanger avait fermé sa boutique si tôt. "
             "On disait qu'il était parti chez son frère, dans une ville lointaine. "
             "Les voisins attendaient son retour avec une certaine inquiétude.")
_ENGLISH_NEW = ("The young captain waited near the stone quay in the rain, and the cook watched "
                "the dark water.")
_GERMAN = ("Am Abend kam der alte Müller langsam über die Brücke zurück ins Dorf. Seine Tochter "
           "wartete schon vor dem Haus und winkte ihm fröhlich zu. Im Garten blühten die "
           "Rosen, und die Vögel sangen noch lange in den hohen Bäumen. Niemand wusste, warum "
           "der Müller an diesem Tag so schweigsam war.")


@functools.lru_cache(maxsize=1)
def trained_test_pair():
    """A small LSTM pair trained for ~20 s on the grammar's English (cached for the test run)."""
    import torch

    from textkl.training import TrainConfig, train_on_text

    torch.set_num_threads(1)
    cfg = TrainConfig(steps=500, batch_size=32, seq_len=64, lr=1e-2, warmup_steps=30,
                      eval_every=250, val_chars=4000, calib_chars=4000, seed=0)
    return train_on_text(english_text(60_000), config=cfg, device="cpu", progress=False,
                         d_model=64, d_embed=16)


@pytest.fixture(scope="module")
def pair():
    return trained_test_pair()


def test_unit_evidence_is_what_the_dynamic_program_labels(english_pair):
    """With switches free, ``predict`` marks foreign exactly the word units whose
    ``unit_evidence`` is positive (a tie, at 0, as the program breaks it: the leading
    spaces); units tile the text from word start to word start."""
    text = "  " + _FRENCH + _ENGLISH_NEW + " " + _FRENCH_2
    scores = english_pair.score(text)
    settings = english_pair.defaults("decode") | {"switch_word": 0.0, "switch_sentence": 0.0}
    finder = DecodeFinder(DecodeConfig(**settings)).fit(english_pair.calibration,
                                                        english_pair.lexicon)
    words, evidence = finder.unit_evidence(text, scores)
    assert words[0] == 0 and words[-1] == len(text) and len(evidence) == len(words) - 1
    assert all(text[w - 1].isspace() and not text[w].isspace() for w in words[1:-1])
    foreign = np.zeros(len(text), dtype=bool)
    for s in finder.predict(text, scores):
        foreign[s.start : s.end] = s.foreign
    decided = evidence != 0
    assert decided.sum() == len(evidence) - 1  # all but the leading spaces
    assert (foreign[words[:-1]] == (evidence > 0))[decided].all()
    assert 0 < (evidence > 0).sum() < len(evidence)  # both labels occur
    assert finder.unit_evidence("", english_pair.score(""))[1].size == 0


def test_decode_of_the_finders_inputs_is_predict(english_pair):
    text = _FRENCH + _ENGLISH_NEW + " " + _FRENCH_2
    scores = english_pair.score(text)
    finder = DecodeFinder(DecodeConfig(**english_pair.defaults("decode"))).fit(
        english_pair.calibration, english_pair.lexicon)
    pct, surprise = finder.inputs(scores)
    assert pct.shape == surprise.shape == (len(text),)
    assert np.nanmin(pct) >= 0.0 and np.nanmax(pct) <= 1.0
    spans = finder.predict(text, scores)
    assert finder.decode(text, pct, surprise) == spans
    assert {s.foreign for s in spans} == {True, False}


def test_french_paragraph_with_an_english_sentence(pair):
    text = _FRENCH + _ENGLISH_NEW + " " + _FRENCH_2
    a = text.index(_ENGLISH_NEW)
    b = a + len(_ENGLISH_NEW)
    segs = pair.segment(text)
    _check_segments(segs, len(text))
    inside = np.zeros(len(text), dtype=bool)
    for s in segs:
        if s.in_distribution:
            inside[s.start : s.end] = True
    truth = np.zeros(len(text), dtype=bool)
    truth[a:b] = True
    ns = np.array([not c.isspace() for c in text])
    tp = (inside & truth & ns).sum()
    f1 = 2 * tp / ((inside & ns).sum() + (truth & ns).sum())
    assert f1 > 0.9, [(s.start, s.end, s.in_distribution, text[s.start:s.end][:30]) for s in segs]
    foreign = [s for s in segs if not s.in_distribution]
    assert foreign and all(s.label >= 1 for s in foreign)
    assert all(s.label == 0 for s in segs if s.in_distribution)
    assert min(s.mean_kl for s in foreign) > max(s.mean_kl for s in segs if s.in_distribution)


def _check_segments(segs, n):
    assert all(isinstance(s, Segment) for s in segs)
    assert segs[0].start == 0 and segs[-1].end == n
    assert all(a.end == b.start for a, b in zip(segs, segs[1:]))
    assert all(s.start < s.end for s in segs)


def test_segment_uses_the_settings_stored_with_the_pair(pair, tmp_path):
    from textkl.finders import make_finder
    from textkl.pair import Pair, load

    text = _FRENCH + _ENGLISH_NEW + " " + _FRENCH_2
    scores = pair.score(text)
    tuned = Pair(pair.model, pair.vocab, pair.calibration,
                 pair.meta | {"defaults": {"decode": {"level": 0.3, "switch_word": 0.5}}},
                 pair.score_config, pair.lexicon)
    tuned = load(tuned.save(tmp_path / "tuned.pt"))  # the settings travel in the file
    assert tuned.defaults("decode") == {"level": 0.3, "switch_word": 0.5}
    assert tuned.defaults("hysteresis") == {} and pair.defaults("decode") == {}
    explicit = pair.segment(text, finder=make_finder("decode", level=0.3, switch_word=0.5),
                            regions=None, scores=scores)
    stored = tuned.segment(text, regions=None, scores=scores)
    assert [(s.start, s.end, s.label) for s in stored] == \
        [(s.start, s.end, s.label) for s in explicit]
    assert stored != pair.segment(text, regions=None, scores=scores)


def test_segment_empty_text(pair):
    assert pair.segment("") == []


def test_changepoint_method_finds_the_english_sentence(pair):
    text = _FRENCH + _ENGLISH_NEW + " " + _FRENCH_2
    segs = pair.segment(text, finder="changepoint")
    _check_segments(segs, len(text))
    mid = text.index(_ENGLISH_NEW) + len(_ENGLISH_NEW) // 2
    assert next(s for s in segs if s.start <= mid < s.end).in_distribution
    assert not next(s for s in segs if s.start <= 10 < s.end).in_distribution


def test_cli_json_follows_the_contract(pair, tmp_path):
    from click.testing import CliRunner

    from textkl.cli import cli

    model = pair.save(tmp_path / "pair.pt")
    src = tmp_path / "in.txt"
    text = _FRENCH + _ENGLISH_NEW + " " + _FRENCH_2
    src.write_text(text, encoding="utf-8")
    out = tmp_path / "segs.json"
    res = CliRunner().invoke(cli, ["segment", str(src), "-m", str(model), "--json", str(out),
                                   "--device", "cpu"])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert set(doc) == {"text_length", "segments", "regions"}
    assert doc["text_length"] == len(text)
    segs = doc["segments"]
    assert [r["label"] for r in doc["regions"]] == sorted({s["label"] for s in segs})
    assert sum(r["chars"] for r in doc["regions"]) == len(text)
    assert all(r["words"] and r["ngrams"] for r in doc["regions"])
    assert segs[0]["start"] == 0 and segs[-1]["end"] == len(text)
    for s in segs:
        assert set(s) == {"start", "end", "label", "in_distribution", "mean_kl"}
        assert isinstance(s["label"], int) and isinstance(s["in_distribution"], bool)
    labels = sorted({s["label"] for s in segs})
    assert labels[0] == 0 and labels[-1] >= 1  # the English is book-like, the French is not
    assert f"{len(segs)} spans, {len(labels)} regions" in res.stderr
    assert all(f"region {lab}: " in res.stderr for lab in labels)  # the summary matches


def test_cli_errors_are_one_line(pair, tmp_path):
    from click.testing import CliRunner

    from textkl.cli import cli

    model = pair.save(tmp_path / "pair.pt")
    res = CliRunner().invoke(cli, ["segment", str(tmp_path / "missing.txt"), "-m", str(model)])
    assert res.exit_code == 1
    assert "no such file" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(cli, ["segment", "-", "-m", str(model), "--clusters", "zero"],
                             input="abc")
    assert res.exit_code != 0 and "clusters" in res.output.lower()


def test_cli_html_report_and_empty_input(pair, tmp_path):
    from click.testing import CliRunner

    from textkl.cli import cli

    model = pair.save(tmp_path / "pair.pt")
    page = tmp_path / "r.html"
    text = _FRENCH + _ENGLISH_NEW + " " + _FRENCH_2
    res = CliRunner().invoke(cli, ["segment", "-", "-m", str(model), "--html", str(page),
                                   "--device", "cpu"], input=text)
    assert res.exit_code == 0, res.output
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") or html.lstrip().lower().startswith("<!doctype")
    assert "<mark" in html
    out = tmp_path / "e.json"
    res = CliRunner().invoke(cli, ["segment", "-", "-m", str(model), "--json", str(out)],
                             input="")
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text()) == {"text_length": 0, "segments": [], "regions": []}


def test_paused_gc_restores_the_collector_state_even_on_error():
    import gc

    from textkl.segment import paused_gc

    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused_gc():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # a caller who had it off keeps it off
    finally:
        gc.enable()


def test_upper_at_reads_python_isupper_at_each_offset():
    from textkl.finders import _upper_at

    text = "Élan ça Ωmega ǅ 𝐀bc x 𝐚 İ ß"
    at = np.arange(len(text))
    want = np.array([c.isupper() for c in text])
    np.testing.assert_array_equal(_upper_at(text, at), want)
    np.testing.assert_array_equal(_upper_at(text, at[::3]), want[::3])


def _viterbi_reference(unit, cost):
    """The two-state Viterbi step by step: best scores of both states, backpointers."""
    v0, v1 = 0.0, 0.0
    back = []
    for u, c in zip(unit, cost):
        from0, from1 = v0, v1 - c  # into state 0: stay, or switch from 1
        to1_stay, to1_switch = v1, v0 - c
        back.append((0 if from0 >= from1 else 1, 1 if to1_stay >= to1_switch else 0))
        v0, v1 = max(from0, from1), max(to1_stay, to1_switch) + u
    state = int(v1 > v0)
    labels = []
    for b in reversed(back):
        labels.append(state)
        state = b[state]
    return np.array(labels[::-1], dtype=bool)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(-3, 3), st.sampled_from([0.5, 1.0, 2.5])), max_size=40))
def test_viterbi_finds_the_best_labelling(steps):
    from textkl.finders import _viterbi

    unit = np.array([u for u, _ in steps], dtype=np.float64)
    cost = np.array([c for _, c in steps], dtype=np.float64)
    got = _viterbi(unit, cost)
    assert got.shape == (len(steps),)

    def score(lab):
        switches = sum(c for c, a, b in zip(cost[1:], lab[:-1], lab[1:]) if a != b)
        return float(unit[lab].sum()) - switches  # either state may start, for free

    want = _viterbi_reference(unit.tolist(), cost.tolist())
    assert score(got) == pytest.approx(score(want), abs=1e-9)
    np.testing.assert_array_equal(got, _viterbi_stepwise(unit, cost))


def _viterbi_stepwise(unit, cost):
    """The same on the score difference, with a backtrace one unit at a time."""
    before, d = [], 0.0
    for u, c in zip(unit.tolist(), cost.tolist()):
        before.append(d)
        d = min(max(d, -c), c) + u
    prev = np.array(before)
    switch = (prev > cost).tolist(), (prev < -cost).tolist()
    state, labels = int(d > 0.0), [False] * len(unit)
    for j in range(len(unit) - 1, -1, -1):
        labels[j] = bool(state)
        if switch[state][j]:
            state = 1 - state
    return np.array(labels, dtype=bool)


@pytest.mark.parametrize("seed", range(6))
def test_blocked_forward_pass_equals_the_loop(seed):
    """The blocked forward pass gives the plain loop's values, also where no step clips
    (the guessed block starts are then off in the last bits), with zero costs and NaN."""
    from textkl.finders import FORWARD_BLOCK, _forward, _forward_loop

    rng = np.random.default_rng(seed)
    n = 64 * FORWARD_BLOCK + int(rng.integers(0, 5000))  # long enough for the blocks
    unit = rng.normal(rng.normal(0, 0.5), rng.uniform(0.05, 3.0), n)
    cost = rng.choice([0.0, 1.0, 3.0, 4.0], n)
    if seed == 1:
        cost[:] = 1e9  # never clipped: the starts come from composed sums
    if seed == 2:
        unit[n // 3] = np.nan
    got, got_d = _forward(unit, cost)
    want, want_d = _forward_loop(unit, cost)
    np.testing.assert_array_equal(got, want)
    assert got_d == want_d or (np.isnan(got_d) and np.isnan(want_d))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab \n\t\r\u2028", max_size=30))
def test_paragraph_starts_follow_a_blank_line(text):
    """Each match of ``PARAGRAPH_START`` ends at a non-space that follows a line holding
    only whitespace; every such character is found."""
    from textkl.spans import PARAGRAPH_START

    found = [m.end() for m in PARAGRAPH_START.finditer(text)]
    want = []
    for i, ch in enumerate(text):
        if ch.isspace() or (want and want[-1] == i):
            continue
        gap = text[:i][len(text[:i].rstrip()):]  # the whitespace run just before
        if gap.count("\n") >= 2:
            want.append(i)
    assert found == want


# words and separators that exercise every per-text step of the decode: word and sentence
# starts, titles, names, apostrophes, texts that start or end in spaces, NUL characters
_PIECES = ["the", "sea", "de", "la", "Mr.", "Mrs", "Ahab", "d'un", "l’eau", "It", "rope",
           ".", "!", "?", "\"", " ", "  ", "\n", "\n\n", "\t", "\x00", "7", "é", "ß", "—"]


@settings(max_examples=60, deadline=None)
@given(docs=st.lists(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join),
                     max_size=7),
       seed=st.integers(0, 2**16), weights=st.booleans())
def test_decode_predict_many_matches_text_by_text(english_pair, docs, seed, weights):
    rng = np.random.default_rng(seed)
    cfg = DecodeConfig(level=0.7, switch_word=float(rng.uniform(0, 4)), name_weight=0.5,
                       switch_sentence=float(rng.uniform(0, 2)),
                       unit_clip=float(rng.uniform(0.5, 5)),
                       document_weight=float(rng.uniform(0, 4))) if weights else DecodeConfig()
    finder = DecodeFinder(cfg).fit(english_pair.calibration, english_pair.lexicon)
    scores = []
    for text in docs:
        kl = rng.gamma(0.5, rng.uniform(0.001, 0.5), size=len(text)).astype(np.float32)
        kl[rng.random(len(text)) < 0.1] = np.nan
        if len(text) and rng.random() < 0.5:
            start = rng.integers(0, len(text))
            kl[start : start + rng.integers(0, 60)] *= 40  # a foreign stretch
        nll = rng.gamma(2.0, 1.0, size=len(text)).astype(np.float32)
        scores.append(Scores(kl, nll, (nll * rng.uniform(0.3, 1.2)).astype(np.float32)))
    want = [finder.predict(t, s) for t, s in zip(docs, scores)]
    assert finder.predict_many(docs, scores) == want
    for spans, text in zip(want, docs):
        _check_tiling(spans, len(text))


def test_decode_predict_many_on_real_scores_and_mixed_dtypes(english_pair):
    docs = ["The whale rose beside the boat. Puis il replongea dans la mer froide.",
            "", "   ", "Mr. Starbuck said nothing.\n\nLe capitaine se tut.", "x"]
    scores = english_pair.score_many(docs)
    finder = make_finder("decode", **english_pair.defaults("decode")).fit(
        english_pair.calibration, english_pair.lexicon)
    want = [finder.predict(t, s) for t, s in zip(docs, scores)]
    assert any(f for spans in want for *_, f in spans)  # the French is found
    assert finder.predict_many(docs, scores) == want
    as64 = Scores(*(a.astype(np.float64) for a in (scores[0].kl, scores[0].nll,
                                                   scores[0].entropy)))
    assert finder.predict_many(docs[:2] + [docs[0]], [scores[0], scores[1], as64]) == [
        want[0], want[1], finder.predict(docs[0], as64)]
    with pytest.raises(ValueError, match="texts"):
        finder.predict_many(docs, scores[:2])
