"""Tests of ``textkl.filter`` and the ``textkl filter`` command."""

from __future__ import annotations

import gzip
import io
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textkl.cli import cli
from textkl.filter import (
    OOD_WINDOW,
    Rules,
    doc_score,
    filter_jsonl,
    filter_lines,
    score_documents,
)
from textkl.numerics import centred_mean

# Prose written for these tests (not from any book).
SENTENCES = [
    "The harbour was quiet before dawn, and the boats rocked against the old stone wall.",
    "A fisherman mended his nets by lantern light while the gulls waited on the roof.",
    "Nobody in the village could remember a winter as long as the one that had just ended.",
    "She walked along the shore and counted the shells that the tide had left behind.",
    "The captain said little at supper, but his eyes kept turning toward the dark water.",
    "When the wind changed, the whole town smelled of salt, tar and drying rope.",
    "Children ran between the barrels on the quay and were chased off by the clerk.",
    "In the evening the lamps were lit one by one along the crooked street to the church.",
]
FOREIGN = [
    "Der Zug fährt pünktlich um sieben Uhr ab, doch niemand weiß, wohin er wirklich geht.",
    "Wszystko zaczęło się od listu, który przyszedł w deszczowy czwartek późnym wieczorem.",
    "def main(argv):\n    for i, x in enumerate(argv):\n        print(i, x ** 2 // 3)\n",
    "1234 5678 %%% ### 0x7f 0x80 ;;; {}[]<> 42.0e-3 ~~~ |||",
]


def _book(n: int = 240, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    return " ".join(SENTENCES[i] for i in rng.integers(0, len(SENTENCES), n))


@pytest.fixture(scope="module")
def pair(tiny_pair):
    return tiny_pair


@pytest.fixture(scope="module")
def model_file(tiny_pair_path):
    return str(tiny_pair_path)


def _docs() -> list[str]:
    long = _book(30, seed=3)  # several windows of the stride grid
    return [SENTENCES[0], long, FOREIGN[0], FOREIGN[2], "a", "", "  \n ",
            "Cafe\u0301  au\r\n\r\nlait\t\tmixed   spacing.", long + " " + FOREIGN[1] * 5]


def test_score_many_matches_pair_score(pair):
    docs = _docs()
    assert len(docs[1]) > pair.score_config.stride
    many = pair.score_many(docs, batch_size=3)
    for text, got in zip(docs, many, strict=True):
        want = pair.score(text)
        assert len(got) == len(text)
        for a, b in ((got.kl, want.kl), (got.nll, want.nll), (got.entropy, want.entropy)):
            np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6, equal_nan=True)


def test_centred_mean_is_the_windowed_mean():
    rng = np.random.default_rng(1)
    x = rng.random(50)
    x[[0, 7, 8]] = np.nan
    got = centred_mean(x, OOD_WINDOW)
    for i in range(len(x)):
        part = x[max(0, i - OOD_WINDOW // 2) : i - OOD_WINDOW // 2 + OOD_WINDOW]
        assert got[i] == pytest.approx(np.nanmean(part))


def test_doc_score_definitions(pair):
    text = SENTENCES[1] + " " + FOREIGN[3]
    scores = pair.score(text)
    kl = scores.kl
    ds = doc_score(pair, text, scores)
    thr = pair.calibration.threshold(0.99, OOD_WINDOW)
    assert ds.n_chars == len(text)
    assert ds.mean_kl == pytest.approx(float(np.nanmean(kl)))
    assert ds.ood_share == pytest.approx(float(np.mean(centred_mean(kl, OOD_WINDOW) > thr)))
    assert 0.0 <= ds.percentile <= 100.0
    # foreign_share: non-space characters in the foreign spans that segment finds
    marked = np.zeros(len(text), dtype=bool)
    for seg in pair.segment(text, regions=None, scores=scores):
        marked[seg.start : seg.end] = seg.label != 0
    counted = np.array([not c.isspace() for c in text])
    assert ds.foreign_share == pytest.approx(marked[counted].mean())
    nothing = pair.score("abc")
    nothing.kl[:] = np.nan
    assert math.isnan(doc_score(pair, "abc", nothing).mean_kl)


def test_foreign_share_counts_non_space_characters():
    from textkl.filter import foreign_share
    from textkl.spans import Span

    text = "ab  cd\n\tef"  # 6 letters; the foreign span holds "cd" and its spaces
    assert foreign_share(text, [Span(0, 2, False), Span(2, 8, True), Span(8, 11, False)]) \
        == pytest.approx(2 / 6)
    assert math.isnan(foreign_share(" \n ", [Span(0, 3, True)]))


def test_foreign_share_with_names_counts_neither_side_of_them():
    from textkl.filter import foreign_share, name_mask
    from textkl.spans import Span

    text = "Software in the Public Interest Foundation est une association. Elle aide Debian."
    # capitalised words inside a sentence are names; "Software" and "Elle" start sentences
    named = [text[a:b] for a, b in _runs(name_mask(text))]
    assert named == ["Public", "Interest", "Foundation", "Debian."]
    # the finder took the English name for English: 37 of 70 letters book-like
    book = len("Software in the Public Interest Foundation ")
    spans = [Span(0, book, False), Span(book, len(text), True)]
    assert foreign_share(text, spans) == pytest.approx(33 / 70)  # kept at 0.5
    # without the names: 26 foreign of the 39 other letters
    assert foreign_share(text, spans, names=True) == pytest.approx(26 / 39)  # rejected
    # a text of names alone is judged on all its characters
    title = "Debian GNU Linux Installation Guide"
    assert foreign_share(title, [Span(0, 7, False), Span(7, len(title), True)],
                         names=True) == pytest.approx(25 / 31)


def _runs(mask):
    """(start, end) of the True runs of a bool array."""
    import numpy as np

    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(int), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def test_foreign_rule_rejects_what_segment_marks_foreign(pair):
    from tests import texts

    docs = [texts.english(600, seed=7), texts.french(600, seed=7)]
    judged = score_documents(pair, docs)
    assert [r for _, r, _ in judged] == [None, "foreign_share"]
    assert judged[0][0].foreign_share <= 0.5 < judged[1][0].foreign_share


@pytest.mark.parametrize("rule", ["max_mean_kl", "max_ood_share", "min_length",
                                  "max_foreign_share"])
def test_rules_apply_at_their_thresholds(pair, rule):
    text = SENTENCES[2] + " " + FOREIGN[0]
    off = Rules(max_foreign_share=None)
    (ds, _, _), = score_documents(pair, [text], off)
    value = {"max_mean_kl": ds.mean_kl, "max_ood_share": ds.ood_share,
             "min_length": len(text), "max_foreign_share": ds.foreign_share}[rule]
    assert 0 < value < 1 or rule in ("max_mean_kl", "min_length")  # the test can fail
    below = (np.nextafter(value, -np.inf) if rule != "min_length" else value + 1)
    at = Rules(**{"max_foreign_share": None, rule: value})
    over = Rules(**{"max_foreign_share": None, rule: below})
    assert score_documents(pair, [text], at)[0][1] is None
    reason = {"max_mean_kl": "mean_kl", "max_ood_share": "ood_share",
              "min_length": "too_short", "max_foreign_share": "foreign_share"}[rule]
    assert score_documents(pair, [text], over)[0][1] == reason


def test_rules_reject_bad_values():
    with pytest.raises(ValueError, match="max_ood_share"):
        Rules(max_ood_share=1.5)
    with pytest.raises(ValueError, match="max_foreign_share"):
        Rules(max_foreign_share=-0.1)
    with pytest.raises(ValueError, match="min_length"):
        Rules(min_length=-1)


# --------------------------------------------------------------------------- no document lost

_text = st.one_of(st.sampled_from(SENTENCES + FOREIGN + ["", " ", "x"]),
                  st.text(max_size=40))
_line = st.one_of(
    st.builds(lambda t: ("doc", {"text": t}), _text),
    st.builds(lambda v: ("doc", {"text": v}), st.one_of(st.none(), st.integers(), st.lists(
        st.integers(), max_size=2))),
    st.just(("doc", {"other": "no text field here"})),
    st.builds(lambda b: ("raw", b), st.binary(max_size=30).map(lambda b: b.replace(b"\n", b""))),
    st.sampled_from([("raw", b"{broken"), ("raw", b"[1, 2]"), ("raw", b""), ("raw", b"\xff\xfe{"),
                     ("raw", b'"just a string"')]),
)


def _encode(lines) -> list[bytes]:
    out = []
    for i, (kind, v) in enumerate(lines, start=1):
        if kind == "doc":
            out.append(json.dumps({"id": i, **v}).encode() + b"\n")
        else:
            out.append(v + b"\n")
    return out


def _line_numbers(records: list[dict]) -> list[int]:
    return [r["id"] if "id" in r else r["textkl"]["line"] for r in records]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_line, max_size=12), chunk=st.integers(1, 5))
def test_no_document_lost_or_duplicated(pair, lines, chunk):
    raw = _encode(lines)
    keep, reject = io.BytesIO(), io.BytesIO()
    summary = filter_lines(pair, iter(raw), keep, reject, rules=Rules(min_length=3),
                           chunk_docs=chunk)
    kept = [json.loads(x) for x in keep.getvalue().splitlines()]
    rejected = [json.loads(x) for x in reject.getvalue().splitlines()]
    assert sorted(_line_numbers(kept) + _line_numbers(rejected)) == list(range(1, len(raw) + 1))
    assert summary.total == len(raw) and summary.kept == len(kept)
    assert sum(summary.rejected.values()) == len(rejected)
    for r in rejected:
        assert r["textkl"]["reason"]
        if "raw" in r:  # the bad line is preserved byte for byte
            line = raw[r["textkl"]["line"] - 1]
            assert r["raw"].encode("utf-8", "surrogateescape") + b"\n" == line
    for r in kept:
        assert isinstance(r["text"], str) and len(r["text"]) >= 3 and r["text"].strip()


def test_reasons_of_bad_lines(pair):
    raw = _encode([("raw", b"{oops"), ("doc", {"other": 1}), ("doc", {"text": 7}),
                   ("doc", {"text": "  "}), ("raw", b"[]"), ("raw", b""), ("raw", b"\xc3(")])
    keep, reject = io.BytesIO(), io.BytesIO()
    summary = filter_lines(pair, iter(raw), keep, reject)
    assert keep.getvalue() == b""
    assert summary.rejected == {"malformed_json": 1, "missing_field": 1, "not_a_string": 1,
                                "empty_text": 1, "not_an_object": 1, "blank_line": 1,
                                "invalid_utf8": 1}


# --------------------------------------------------------------------------- files and CLI


def _write_jsonl(path, docs) -> None:
    data = "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(docs)).encode()
    path.write_bytes(gzip.compress(data) if str(path).endswith(".gz") else data)


def _read_jsonl(path) -> list[dict]:
    data = path.read_bytes()
    if str(path).endswith(".gz"):
        data = gzip.decompress(data)
    elif str(path).endswith(".zst"):
        import zstandard

        data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    return [json.loads(x) for x in data.splitlines()]


@pytest.mark.parametrize("suffix", [pytest.param(".jsonl", id="plain"),
                                    pytest.param(".jsonl.gz", id="gzip"),
                                    pytest.param(".jsonl.zst", id="zstd")])
def test_cli_filter_round_trip(model_file, tmp_path, suffix):
    docs = _docs()
    src = tmp_path / f"in{suffix}"
    if suffix.endswith(".zst"):
        import zstandard

        body = "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(docs))
        src.write_bytes(zstandard.ZstdCompressor().compress(body.encode()))
    else:
        _write_jsonl(src, docs)
    keep, rej = tmp_path / f"keep{suffix}", tmp_path / f"rej{suffix}"
    res = CliRunner().invoke(cli, ["filter", str(src), "--keep", str(keep), "--reject", str(rej),
                                   "-m", model_file, "-q", "--max-ood-share", "0.3"])
    assert res.exit_code == 0, res.output
    kept, rejected = _read_jsonl(keep), _read_jsonl(rej)
    assert sorted(r["id"] for r in kept + rejected) == list(range(len(docs)))
    assert all(r["textkl"]["ood_share"] <= 0.3 for r in kept)
    assert all(r["textkl"]["foreign_share"] <= 0.5 for r in kept)
    assert all(r["textkl"]["reason"] for r in rejected)
    assert f"{len(docs)} documents: kept {len(kept)}" in res.output


def test_cli_filter_stdin_and_errors(model_file, tmp_path):
    keep, rej = tmp_path / "k.jsonl", tmp_path / "r.jsonl"
    args = ["filter", "-", "--keep", str(keep), "--reject", str(rej), "-m", model_file, "-q"]
    res = CliRunner().invoke(cli, args, input='{"text": "The boats rocked."}\nnot json\n')
    assert res.exit_code == 0, res.output
    assert len(_read_jsonl(keep)) + len(_read_jsonl(rej)) == 2
    k2, r2 = tmp_path / "k2.jsonl", tmp_path / "r2.jsonl"
    res = CliRunner().invoke(cli, ["filter", str(tmp_path / "missing.jsonl"), "--keep", str(k2),
                                   "--reject", str(r2), "-m", model_file, "-q"])
    assert res.exit_code == 1 and "no such file" in res.output
    assert not k2.exists() and not r2.exists()
    res = CliRunner().invoke(cli, ["filter", "-", "--keep", str(keep), "--reject", str(keep),
                                   "-m", model_file, "-q"], input="")
    assert res.exit_code == 1 and "must differ" in res.output


def test_outputs_are_atomic(pair, tmp_path, monkeypatch):
    import textkl.filter as F

    src = tmp_path / "in.jsonl"
    _write_jsonl(src, SENTENCES)
    calls = []
    real = F.score_documents

    def flaky(*a, **kw):
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("boom")
        return real(*a, **kw)

    monkeypatch.setattr(F, "score_documents", flaky)
    with pytest.raises(RuntimeError):
        filter_jsonl(pair, str(src), str(tmp_path / "k.jsonl"), str(tmp_path / "r.jsonl"),
                     chunk_docs=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_extract_offsets_slice_back(model_file, tmp_path):
    book_like = " ".join(SENTENCES[:4])
    docs = [book_like + "\n\n" + FOREIGN[1] * 3 + "\r\n" + " ".join(SENTENCES[4:]),
            "Cafe\u0301\u00a0  " + book_like, FOREIGN[3] * 4, book_like]
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, docs)
    keep, rej = tmp_path / "k.jsonl", tmp_path / "r.jsonl"
    res = CliRunner().invoke(cli, ["filter", str(src), "--keep", str(keep), "--reject", str(rej),
                                   "-m", model_file, "-q", "--extract", "--min-length", "5"])
    assert res.exit_code == 0, res.output
    kept, rejected = _read_jsonl(keep), _read_jsonl(rej)
    assert sorted(r["id"] for r in kept + rejected) == list(range(len(docs)))
    n_spans = 0
    for r in kept:
        text, spans = docs[r["id"]], r["textkl"]["spans"]
        assert r["text"] == text and spans
        prev = 0
        for sp in spans:
            assert prev <= sp["start"] < sp["end"] <= len(text)
            assert text[sp["start"] : sp["end"]] == sp["text"]
            assert sp["end"] - sp["start"] >= 5
            prev = sp["end"]
            n_spans += 1
    assert n_spans >= 1
    assert 2 in {r["id"] for r in rejected}  # symbols only: nothing book-like to keep
    assert all(r["textkl"]["reason"] == "no_in_distribution_span" for r in rejected)
    first = next(r for r in kept if r["id"] == 0)["textkl"]["spans"]
    assert not any("Wszystko" in sp["text"] for sp in first)  # the Polish is left out


def test_zst_without_zstandard_is_a_clear_error(pair, tmp_path, monkeypatch):
    import sys

    from textkl.errors import InputError

    monkeypatch.setitem(sys.modules, "zstandard", None)  # import now raises ImportError
    src = tmp_path / "in.jsonl.zst"
    src.write_bytes(b"")
    with pytest.raises(InputError, match="zstandard"):
        filter_jsonl(pair, str(src), str(tmp_path / "k.jsonl"), str(tmp_path / "r.jsonl"))
    assert not (tmp_path / "k.jsonl").exists()


def test_cli_filter_bf16_scores_every_line(model_file, tmp_path):
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, SENTENCES + FOREIGN)
    keep, rej = tmp_path / "k.jsonl", tmp_path / "r.jsonl"
    res = CliRunner().invoke(cli, ["filter", str(src), "--keep", str(keep), "--reject", str(rej),
                                   "-m", model_file, "-q", "--bf16", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    rows = _read_jsonl(keep) + _read_jsonl(rej)
    assert sorted(r["id"] for r in rows) == list(range(len(SENTENCES + FOREIGN)))
    k32, r32 = tmp_path / "k32.jsonl", tmp_path / "r32.jsonl"
    res = CliRunner().invoke(cli, ["filter", str(src), "--keep", str(k32), "--reject", str(r32),
                                   "-m", model_file, "-q", "--device", "cpu"])
    fp32 = {r["id"]: r["textkl"]["mean_kl"] for r in _read_jsonl(k32) + _read_jsonl(r32)}
    for r in rows:  # bf16 (or its fp32 fallback) within the documented tolerance of fp32
        assert abs(r["textkl"]["mean_kl"] - fp32[r["id"]]) <= 0.03


def _screen_docs(pair) -> dict[str, str]:
    """Documents whose share of the tiny pair's own words is known by construction."""
    book = sorted(pair.lexicon.counts, key=pair.lexicon.counts.get, reverse=True)[:20]
    made_up = ["zorqvint", "plabbertosh", "quenxil", "fradmuth", "wexolbarn", "snirtovel"]
    return {"known": " ".join(book[:13] * 2) + ".",  # 26 words, all the book's: kept by words
            "unknown": " ".join(made_up) + ".",  # 0 of 6: rejected by words
            "between": " ".join(book[:7] + made_up[:3]) + ".",  # 0.7: scored
            "short": " ".join(book[:4]) + ".",  # 4 words: scored
            "few to keep": " ".join(book[:12]) + "."}  # 12 known words: too few to keep


def test_screen_decides_clear_documents_by_words_and_scores_the_rest(pair):
    from textkl.filter import Screen

    docs = _screen_docs(pair)
    judged = dict(zip(docs, score_documents(pair, list(docs.values()),
                                            Rules(screen=Screen()))))
    score, reason, _ = judged["known"]
    assert score.screened and reason is None and score.known_words == 1.0
    assert math.isnan(score.mean_kl) and score.to_dict()["mean_kl"] is None
    score, reason, _ = judged["unknown"]
    assert score.screened and reason == "known_words" and score.known_words == 0.0
    for name in ("between", "short", "few to keep"):
        score, reason, _ = judged[name]
        assert not score.screened and not math.isnan(score.mean_kl)
        assert score.to_dict()["known_words"] == pytest.approx(
            pair.lexicon.known_share(docs[name])[1], abs=1e-4)
    assert judged["between"][0].known_words == pytest.approx(0.7)
    # the scored ones get exactly the scores and decision of a run without the screen
    plain = dict(zip(docs, score_documents(pair, list(docs.values()), Rules(screen=None))))
    for name in ("between", "short", "few to keep"):
        a, b = judged[name][0].to_dict(), plain[name][0].to_dict()
        assert {k: a[k] for k in b} == b and judged[name][1] == plain[name][1]
        assert "known_words" not in b


def test_screen_settings_are_checked():
    from textkl.errors import SettingError
    from textkl.filter import Screen

    screen = Screen(keep=0.8, reject=0.6, min_words=5, keep_min_words=20)
    assert screen.verdict(4, 1.0) is None and screen.verdict(4, 0.0) is None  # too few words
    assert screen.verdict(5, 0.6) is False and screen.verdict(5, 0.61) is None
    assert screen.verdict(19, 1.0) is None  # too few words to keep, not to reject
    assert screen.verdict(20, 0.8) is True and screen.verdict(50, 0.79) is None
    for bad in ({"keep": 0.5, "reject": 0.6}, {"keep": 1.2}, {"min_words": 0},
                {"min_words": 10, "keep_min_words": 9}):
        with pytest.raises(SettingError):
            Screen(**bad)
    with pytest.raises(SettingError, match="max_mean_kl"):
        Rules(max_mean_kl=0.3, screen=Screen())
    with pytest.raises(SettingError, match="screen must be"):
        Rules(screen="always")
    Rules(max_mean_kl=0.3)  # screen "auto": no screen with a KL rule, not an error


def test_the_default_screen_is_the_pairs_own_where_the_rules_allow_one(pair):
    import textkl
    from textkl.errors import SettingError
    from textkl.filter import Screen

    english = textkl.load("english")
    stored = Screen(**english.defaults("screen"))
    assert Rules().screen == "auto" and Rules().for_pair(english).screen == stored
    assert Rules(max_foreign_share=0.3, min_length=9).for_pair(english).screen == stored
    for rules, extract in ((Rules(max_mean_kl=0.5), False), (Rules(max_ood_share=0.2), False),
                           (Rules(), True)):
        assert rules.for_pair(english, extract).screen is None
    assert Rules().for_pair(textkl.load("moby-dick")).screen is None  # none stored
    assert Rules().for_pair(pair).screen is None  # the tiny pair: none stored
    assert Rules(screen=None).for_pair(english).screen is None
    mine = Screen(keep=0.9)
    assert Rules(screen=mine).for_pair(english).screen is mine  # explicit: kept as given
    # "pair" (--screen): the pair's own, else the library's thresholds; never with KL rules
    assert Rules(screen="pair").for_pair(english).screen == stored
    assert Rules(screen="pair").for_pair(pair).screen == Screen()
    with pytest.raises(SettingError, match="max_mean_kl"):
        Rules(screen="pair", max_mean_kl=0.3)


def test_cli_filter_screen(pair, model_file, tmp_path):
    docs = list(_screen_docs(pair).values())
    src, keep, rej = tmp_path / "in.jsonl", tmp_path / "k.jsonl", tmp_path / "r.jsonl"
    _write_jsonl(src, docs)
    base = ["filter", str(src), "--keep", str(keep), "--reject", str(rej), "-m", model_file]
    res = CliRunner().invoke(cli, [*base, "-q", "--screen"])
    assert res.exit_code == 0, res.output
    out = {r["id"]: r["textkl"] for r in _read_jsonl(keep) + _read_jsonl(rej)}
    assert sorted(out) == list(range(len(docs)))
    assert [out[i]["screened"] for i in range(5)] == [True, True, False, False, False]
    assert out[1]["reason"] == "known_words" and out[0]["known_words"] == 1.0
    assert "2 decided by words" in res.output
    assert "warning: no --screen thresholds were chosen for this pair" in res.output
    for extra in (["--extract"], ["--max-mean-kl", "0.5"], ["--fit"]):
        keep.unlink(missing_ok=True), rej.unlink(missing_ok=True)
        args = base[:-2] + extra if extra == ["--fit"] else [*base, *extra]  # --fit: no -m
        res = CliRunner().invoke(cli, [*args, "-q", "--screen"])
        assert res.exit_code == 1 and "screen" in res.output
        assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
        assert not keep.exists() and not rej.exists()


def test_cli_filter_screens_by_default_with_the_english_pair(tmp_path):
    english = ("The committee met on Tuesday morning to review the budget for the coming year, "
               "and after a long discussion it agreed to spend more on the library and the "
               "public gardens.")
    french = ("Le conseil municipal s'est réuni mardi matin pour examiner le budget de l'année "
              "prochaine, et après une longue discussion il a décidé de dépenser davantage "
              "pour la bibliothèque et les jardins publics.")
    short = "She closed the door and went to bed early."
    src, keep, rej = tmp_path / "in.jsonl", tmp_path / "k.jsonl", tmp_path / "r.jsonl"
    _write_jsonl(src, [english, french, short])
    base = ["filter", str(src), "--keep", str(keep), "--reject", str(rej), "-q"]
    res = CliRunner().invoke(cli, base)  # the embedded default pair, english
    assert res.exit_code == 0, res.output
    kept, rejected = _read_jsonl(keep), _read_jsonl(rej)
    assert [r["id"] for r in kept] == [0, 2] and [r["id"] for r in rejected] == [1]
    out = {r["id"]: r["textkl"] for r in kept + rejected}
    assert out[0]["screened"] and out[0]["mean_kl"] is None and out[0]["known_words"] >= 0.9
    assert out[1]["screened"] and out[1]["reason"] == "known_words"
    assert not out[2]["screened"] and out[2]["mean_kl"] is not None  # 9 words: scored
    assert "2 decided by words" in res.output
    for extra in (["--no-screen"], ["--max-ood-share", "0.9"]):  # scored, every document
        res = CliRunner().invoke(cli, [*base, *extra])
        assert res.exit_code == 0, res.output
        kept, rejected = _read_jsonl(keep), _read_jsonl(rej)
        assert [r["id"] for r in kept] == [0, 2] and [r["id"] for r in rejected] == [1]
        for r in kept + rejected:
            assert "screened" not in r["textkl"] and r["textkl"]["mean_kl"] is not None


def test_the_english_pair_stores_its_screen_thresholds():
    import textkl
    from textkl.filter import Screen

    assert Screen.for_pair(textkl.load("english")) == Screen()
    assert Screen.for_pair(textkl.load("moby-dick")) is None


def test_doc_scores_match_the_definitions_document_by_document(pair, monkeypatch):
    import textkl.filter
    from textkl.filter import doc_scores, foreign_share, ood_mask, span_finder

    rng = np.random.default_rng(3)
    texts = [SENTENCES[0], " ".join(FOREIGN), "", "  \n ", SENTENCES[2] + " " + FOREIGN[0],
             FOREIGN[2], "ab", _book(30, seed=4)]
    texts += [" ".join(rng.choice(SENTENCES + FOREIGN, 3)) for _ in range(20)]
    scores = pair.score_many(texts)
    scores[6].kl[:] = np.nan  # nothing scored: NaN scores, no spans
    finder = span_finder(pair)
    judged, found = doc_scores(pair, texts, scores, finder)
    for text, sc, ds, spans in zip(texts, scores, judged, found, strict=True):
        assert ds.n_chars == len(text)
        if np.isnan(sc.kl).all():
            assert math.isnan(ds.mean_kl) and math.isnan(ds.ood_share) and spans == []
            continue
        assert spans == finder.predict(text, sc)
        assert ds.mean_kl == float(np.nanmean(sc.kl))
        assert ds.ood_share == float(ood_mask(pair, sc.kl).mean())  # the same bits
        fs = foreign_share(text, spans)
        assert ds.foreign_share == fs or (math.isnan(fs) and math.isnan(ds.foreign_share))
        assert ds == doc_score(pair, text, sc, finder) or math.isnan(fs)
    monkeypatch.setattr(textkl.filter, "JUDGE_CHARS", 150)  # many small groups: the same
    again, found_again = doc_scores(pair, texts, scores, finder)
    assert found_again == found
    assert [repr(d) for d in again] == [repr(d) for d in judged]  # every bit (NaN too)
    assert any(ds.foreign_share > 0.5 for ds in judged if not math.isnan(ds.foreign_share))
    assert any(ds.ood_share > 0 for ds in judged if not math.isnan(ds.ood_share))


def test_score_documents_scores_in_bounded_groups_with_the_same_results(pair, monkeypatch):
    import textkl.filter

    rng = np.random.default_rng(5)
    texts = [" ".join(rng.choice(SENTENCES + FOREIGN, int(rng.integers(1, 4))))
             for _ in range(24)] + ["", None, "  "]
    calls = []
    real = type(pair).score_many

    def counted(self, items, **kw):
        calls.append(sum(map(len, items)))
        return real(self, items, **kw)

    whole = score_documents(pair, texts, Rules(screen=None))
    monkeypatch.setattr(type(pair), "score_many", counted)
    monkeypatch.setattr(textkl.filter, "SCORE_CHARS", 300)
    grouped = score_documents(pair, texts, Rules(screen=None))
    assert len(calls) > 3 and all(c <= 300 or c == max(map(len, filter(None, texts)))
                                  for c in calls)
    assert [repr(x) for x in grouped] == [repr(x) for x in whole]  # every bit (NaN too)
