"""Generated bad input for every command that reads user files.

Each case either succeeds with the documented result or exits non-zero with exactly one
line on stderr, no traceback and no output file left behind; ``textkl filter`` never loses
or duplicates a line. Hypothesis runs derandomized, so CI sees the same cases every time.
"""

from __future__ import annotations

import codecs
import encodings.aliases
import gzip
import json
import tempfile
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textkl.cli import cli

CASES = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                 suppress_health_check=list(HealthCheck))
DEMO = (resources.files("textkl") / "data" / "demo.txt").read_text(encoding="utf-8")
SNIPPET = DEMO[:600]


def _text_codecs() -> list[str]:
    """Every text codec Python has (the bytes-to-bytes ones like base64 are not text)."""
    names = set()
    for name in sorted(set(encodings.aliases.aliases.values())):
        try:
            if codecs.lookup(name)._is_text_encoding:  # type: ignore[attr-defined]
                SNIPPET.encode(name, errors="replace")
                names.add(name)
        except (LookupError, TypeError, UnicodeError, ValueError):
            continue
    return sorted(names)


CODECS = _text_codecs()
BOMS = [codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE]


@st.composite
def file_bytes(draw) -> bytes:
    """Bytes a user might hand textkl as a text file."""
    kind = draw(st.sampled_from(["random", "codec", "bom", "nul", "cr", "blank", "slice"]))
    if kind == "random":
        return draw(st.binary(max_size=2000))
    if kind == "codec":
        return SNIPPET.encode(draw(st.sampled_from(CODECS)), errors="replace")
    if kind == "bom":
        return draw(st.sampled_from(BOMS)) + SNIPPET.encode("utf-8")
    if kind == "nul":
        data = bytearray(SNIPPET.encode("utf-8"))
        data.insert(draw(st.integers(0, len(data))), 0)
        return bytes(data)
    if kind == "cr":
        return SNIPPET.replace("\n", "\r").encode("utf-8")
    if kind == "blank":
        return draw(st.sampled_from(["", " ", "\n", "\n\n\t  \r\n", "\u3000\u00a0"])).encode()
    start = draw(st.integers(0, len(DEMO) - 1))
    return DEMO[start : start + draw(st.integers(1, 400))].encode("utf-8")


def _decoded(data: bytes) -> str | None:
    """The text textkl reads from ``data`` (BOM dropped), or None where it must refuse it."""
    if b"\x00" in data[:8192]:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text[1:] if text.startswith("\ufeff") else text


def _check_failure(res, workdir: Path, inputs: set[str]) -> None:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == 1, (res.exit_code, res.output)
    assert len(lines) == 1 and lines[0].startswith("textkl: error:"), res.stderr
    assert "Traceback" not in res.output
    assert {p.name for p in workdir.iterdir()} == inputs  # no output, no partial file


@pytest.fixture(scope="module")
def model(tiny_pair_path) -> str:
    return str(tiny_pair_path)


def _text_command(command: str, model: str, data: bytes) -> tuple[str, dict] | None:
    """Run ``textkl COMMAND in.txt --json out.json`` on ``data``; the text and the JSON on
    success, None after checking a clean failure where the input must be refused."""
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        (work / "in.txt").write_bytes(data)
        res = CliRunner().invoke(cli, [command, str(work / "in.txt"), "-m", model,
                                       "--json", str(work / "out.json")])
        text = _decoded(data)
        if text is None:
            _check_failure(res, work, {"in.txt"})
            return None
        assert res.exit_code == 0, res.output
        return text, json.loads((work / "out.json").read_text())


@CASES
@given(data=file_bytes())
def test_score(model, data):
    done = _text_command("score", model, data)
    if done is not None:
        text, out = done
        assert out["text_length"] == len(text) == len(out["kl"])


@CASES
@given(data=file_bytes())
def test_segment(model, data):
    done = _text_command("segment", model, data)
    if done is not None:
        text, out = done
        segs = out["segments"]
        ends = [0] + [s["end"] for s in segs]
        assert [s["start"] for s in segs] == ends[:-1] and ends[-1] == len(text)


@st.composite
def jsonl_lines(draw) -> list[bytes]:
    """JSONL lines, good and bad, each carrying its index so that none can hide."""
    lines = []
    for i in range(draw(st.integers(0, 12))):
        good = json.dumps({"id": i, "text": SNIPPET[: draw(st.integers(0, 300))]}).encode()
        kind = draw(st.sampled_from(["good", "good", "truncated", "list", "number", "wrong_type",
                                     "blank", "latin1", "no_field"]))
        lines.append({
            "good": good,
            "truncated": good[: draw(st.integers(1, max(1, len(good) - 1)))],
            "list": json.dumps([i, "text"]).encode(),
            "number": str(i).encode(),
            "wrong_type": json.dumps({"id": i, "text": [1, 2]}).encode(),
            "blank": b"   ",
            "latin1": json.dumps({"id": i, "text": "café"}, ensure_ascii=False).encode("latin-1"),
            "no_field": json.dumps({"id": i}).encode(),
        }[kind])
    return lines


@CASES
@given(lines=jsonl_lines(), end=st.sampled_from([b"\n", b"\r\n"]), trailing=st.booleans(),
       packing=st.sampled_from(["plain", "gzip", "gzip_cut"]), cut=st.floats(0.0, 0.99))
def test_filter(model, lines, end, trailing, packing, cut):
    raw = end.join(lines) + (end if trailing and lines else b"")
    name = "in.jsonl" if packing == "plain" else "in.jsonl.gz"
    data = raw if packing == "plain" else gzip.compress(raw, mtime=0)
    if packing == "gzip_cut":
        data = data[: int(len(data) * cut)]
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        (work / name).write_bytes(data)
        keep, rej = work / "keep.jsonl", work / "rej.jsonl"
        res = CliRunner().invoke(cli, ["filter", str(work / name), "--keep", str(keep),
                                       "--reject", str(rej), "-m", model])
        if packing == "gzip_cut" and data:  # a truncated archive: refused, nothing written
            _check_failure(res, work, {name})
            return
        if packing == "gzip_cut":  # an empty file is an empty corpus
            raw = b""
        assert res.exit_code == 0, res.output
        out = keep.read_bytes().splitlines() + rej.read_bytes().splitlines()
        n_in = len(raw.split(b"\n")) - (1 if raw.endswith(b"\n") else 0) if raw else 0
        assert len(out) == n_in  # every input line lands exactly once
        ids = []
        for rec in map(json.loads, out):
            doc = rec if "raw" not in rec else None
            if doc is not None and isinstance(doc.get("id"), int):
                ids.append(doc["id"])
        assert len(ids) == len(set(ids))  # nothing duplicated


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.one_of(file_bytes(), st.just((DEMO * 2).encode("utf-8"))))
def test_train(data):
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        (work / "book.txt").write_bytes(data)
        res = CliRunner().invoke(cli, ["train", str(work / "book.txt"), "-o",
                                       str(work / "pair.pt"), "--steps", "1", "--d-model", "8",
                                       "--batch-size", "2", "--device", "cpu"])
        text = _decoded(data)
        if res.exit_code == 0:  # a book long enough to train on
            assert text is not None and (work / "pair.pt").exists()
            return
        _check_failure(res, work, {"book.txt"})
        if text is not None:
            assert "too short" in res.stderr


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(frac=st.floats(0.0, 0.999))
def test_model_file_cut_anywhere(model, frac):
    blob = Path(model).read_bytes()
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        (work / "cut.pt").write_bytes(blob[: int(len(blob) * frac)])
        (work / "in.txt").write_text("The harbour was quiet before dawn.", encoding="utf-8")
        res = CliRunner().invoke(cli, ["score", str(work / "in.txt"), "-m", str(work / "cut.pt"),
                                       "--json", str(work / "out.json")])
        _check_failure(res, work, {"cut.pt", "in.txt"})
        assert "model file" in res.stderr


def test_ten_megabyte_single_line(english_text, tmp_path):
    """One 10 MB line: scored in bounded pieces (a micro pair keeps the test short)."""
    import textkl

    book = tmp_path / "book.txt"
    book.write_text(english_text[:20_000], encoding="utf-8")
    model = str(textkl.train([book], steps=20, d_model=8, batch_size=8, device="cpu",
                             progress=False).save(tmp_path / "micro.pt"))
    line = ("The harbour was quiet before dawn, and the boats rocked. " * 180_000)[:10_000_000]
    (tmp_path / "big.txt").write_text(line, encoding="utf-8")
    res = CliRunner().invoke(cli, ["score", str(tmp_path / "big.txt"), "-m", model,
                                   "--npz", str(tmp_path / "o.npz")])
    assert res.exit_code == 0, res.output
    import numpy as np

    assert np.load(tmp_path / "o.npz")["kl"].shape == (len(line),)
