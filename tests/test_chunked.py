"""Segmenting chunk by chunk (``textkl.chunked``): the same answer as whole, one labelling."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import texts
from tests.test_segment import _GERMAN, english_text, trained_test_pair
from textkl.chunked import chunks, file_terms, segment_chunks
from textkl.regions import RegionConfig, region_terms


@pytest.fixture(scope="module")
def pair():
    return trained_test_pair()


def _document(n_paragraphs: int = 40, seed: int = 3) -> tuple[str, list[tuple[int, int, str]]]:
    """English paragraphs with French and German ones among them; (start, end, lang) each."""
    english = english_text(30_000, seed=seed).split("\n\n")
    french = texts.french(20_000, seed=seed, para=3).split("\n\n")
    parts, paras, pos = [], [], 0
    for i in range(n_paragraphs):
        lang = "fr" if i % 5 == 2 else "de" if i % 9 == 4 else "en"
        p = {"fr": french[i], "de": _GERMAN, "en": english[i]}[lang]
        parts.append(p)
        paras.append((pos, pos + len(p), lang))
        pos += len(p) + 2
    return "\n\n".join(parts), paras


def _majority(segs, s: int, e: int) -> int:
    labels = np.zeros(e - s, dtype=int)
    for g in segs:
        lo, hi = max(g.start, s), min(g.end, e)
        if lo < hi:
            labels[lo - s : hi - s] = g.label
    vals, counts = np.unique(labels, return_counts=True)
    return int(vals[counts.argmax()])


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(["word ", "x", "\n", "\n\n", "  ", "é", "Para one.\n\n"]),
                max_size=300), st.integers(20, 200), st.integers(1, 50))
def test_chunks_join_to_the_text_and_stay_under_the_size(parts, size, piece):
    text = "".join(parts)
    pieces = [text[i : i + piece] for i in range(0, len(text), piece)]
    out = list(chunks(pieces, size))
    assert "".join(out) == text
    assert all(0 < len(c) <= size for c in out)


def test_chunks_end_at_paragraph_starts():
    text = "\n\n".join(f"Paragraph {i} " + "word " * (i % 7 + 3) for i in range(200))
    out = list(chunks([text], 500))
    assert len(out) > 5
    assert all(c.endswith("\n\n") for c in out[:-1])


def test_one_chunk_is_segment_text(pair):
    text, _ = _document(12)
    segs, n, whole = segment_chunks(pair, [text[:1000], text[1000:]], chunk_chars=len(text))
    assert whole and n == len(text)
    assert segs == pair.segment(text)


@pytest.mark.parametrize("config", [RegionConfig(), RegionConfig(max_direct=4)])
def test_a_language_keeps_one_label_across_chunks(pair, config):
    text, paras = _document()
    segs, n, whole = segment_chunks(pair, [text], regions=config, chunk_chars=4000)
    assert not whole and n == len(text)
    assert segs[0].start == 0 and segs[-1].end == len(text)
    assert all(a.end == b.start and a.start < a.end for a, b in zip(segs, segs[1:]))
    chunk_of = np.cumsum([len(c) for c in chunks([text], 4000)])
    french = [(s, e) for s, e, lang in paras if lang == "fr"]
    assert len({int(np.searchsorted(chunk_of, s, side="right")) for s, _ in french}) >= 3
    labels = {lang: {_majority(segs, s, e) for s, e, x in paras if x == lang}
              for lang in ("fr", "de")}
    assert len(labels["fr"]) == 1 and labels["fr"] != {0}, labels  # one region, all chunks
    assert len(labels["de"]) == 1 and labels["de"] not in ({0}, labels["fr"]), labels
    english = [_majority(segs, s, e) for s, e, lang in paras if lang == "en"]
    assert np.mean([lab == 0 for lab in english]) >= 0.9
    whole = pair.segment(text)
    assert [_majority(segs, s, e) for s, e, _ in paras] == \
        [_majority(whole, s, e) for s, e, _ in paras]  # the labels segment_text gives


def test_without_regions_foreign_is_region_one(pair):
    text, paras = _document(20)
    segs, _, whole = segment_chunks(pair, [text], regions=None, chunk_chars=3000)
    assert not whole
    assert {s.label for s in segs} <= {0, 1}
    assert all(s.label == int(not s.in_distribution) for s in segs)
    assert all(_majority(segs, s, e) == 1 for s, e, lang in paras if lang == "fr")


def test_file_terms_are_region_terms(pair, tmp_path):
    text, _ = _document(15)
    path = tmp_path / "doc.txt"
    path.write_text(text, encoding="utf-8")
    segs = pair.segment(text)
    assert file_terms(path, segs) == region_terms(text, segs)
    again = file_terms(path, segs, chunk_chars=1000)  # counted chunk by chunk
    assert [t.label for t in again] == [t.label for t in region_terms(text, segs)]
    assert all(t.words for t in again)


@pytest.mark.parametrize("stdin", [False, True])
def test_cli_segments_a_long_input_in_chunks(pair, tmp_path, stdin):
    from click.testing import CliRunner

    from textkl.cli import cli

    model = pair.save(tmp_path / "pair.pt")
    text, paras = _document()
    src = tmp_path / "long.txt"
    src.write_text(text, encoding="utf-8")
    out = tmp_path / "segs.json"
    args = ["segment", "-" if stdin else str(src), "-m", str(model), "--json", str(out),
            "--chunk-chars", "10000"]
    res = CliRunner().invoke(cli, args, input=text if stdin else None)
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["text_length"] == len(text)
    segs = doc["segments"]
    assert segs[0]["start"] == 0 and segs[-1]["end"] == len(text)
    assert sum(r["chars"] for r in doc["regions"]) == len(text)
    assert f"{len(text)} characters, {len(segs)} spans" in res.stderr
    want, _, whole = segment_chunks(pair, [text], chunk_chars=10_000)
    assert not whole
    assert [(s["start"], s["end"], s["label"]) for s in segs] == \
        [(s.start, s.end, s.label) for s in want]
    assert [r["label"] for r in doc["regions"]] == sorted({s.label for s in want})
    assert all(r["words"] for r in doc["regions"])


def test_cli_bad_bytes_in_a_later_chunk_leave_no_output(pair, tmp_path):
    from click.testing import CliRunner

    from textkl.cli import cli

    model = pair.save(tmp_path / "pair.pt")
    text, _ = _document()
    src = tmp_path / "bad.txt"
    src.write_bytes(text.encode("utf-8") + b"\xff\xfe tail")
    out = tmp_path / "segs.json"
    res = CliRunner().invoke(cli, ["segment", str(src), "-m", str(model), "--json", str(out),
                                   "--chunk-chars", "10000"])
    assert res.exit_code == 1
    assert "UTF-8" in res.output and "Traceback" not in res.output
    assert not out.exists() and not list(tmp_path.glob(".segs.json*"))


def test_cli_default_chunk_is_the_library_default():
    from textkl.chunked import CHUNK_CHARS
    from textkl.cli import cli

    option = next(p for p in cli.commands["segment"].params if p.name == "chunk_chars")
    assert option.default == CHUNK_CHARS


@settings(max_examples=6, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(["The crew watched the sea. ", "Le matin était froid. ",
                                 " " * 3000, "\n\n", "\u2603" * 500, "x", "Ünïcödé "]),
                min_size=1, max_size=80), st.sampled_from([None, "auto", 2]))
def test_any_text_in_chunks_is_tiled(pair, parts, regions):
    text = "".join(parts) * 4
    segs, n, _ = segment_chunks(pair, [text], regions=regions, chunk_chars=10_000)
    assert n == len(text)
    assert segs[0].start == 0 and segs[-1].end == len(text)
    assert all(a.end == b.start and a.start < a.end for a, b in zip(segs, segs[1:]))
