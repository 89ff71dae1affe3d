"""The embedded default pair and `textkl demo`: offline, calibrated, finds the demo's English."""

from __future__ import annotations

import csv
import json
from importlib import resources

import numpy as np
import pytest
from click.testing import CliRunner

import textkl
from tests import texts
from textkl.cli import cli


@pytest.fixture(scope="module")
def default_pair():
    return textkl.load()


def _demo_spans() -> list[dict]:
    path = resources.files("textkl") / "data" / "demo_spans.tsv"
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


_OFFLINE = """
import socket, sys
def refuse(*args, **kwargs):
    raise OSError("textkl tried to use the network")
socket.socket.connect = socket.create_connection = refuse
import textkl
pair = textkl.load()
s = pair.score("Call me Ishmael.")
print(pair.meta["books"][0], pair.calibration.n_chars, len(s))
"""


def test_default_pair_loads_offline(tmp_path):
    """In a fresh process with no network, no corpora, an empty cache and home."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "TEXTKL_CORPORA": str(tmp_path / "none"), "HOME": str(tmp_path),
           "TEXTKL_CACHE": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", _OFFLINE], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    book, n_chars, n = out.stdout.split()
    assert book == "english.txt" and int(n_chars) > 10_000 and int(n) == 16
    assert not (tmp_path / "cache").exists()  # nothing fetched or written


def test_default_pair_calibration_matches_its_record(default_pair):
    assert default_pair.meta["books"] == ["english.txt"]
    cal = default_pair.calibration
    assert cal is not None and cal.n_chars > 10_000
    assert 0 < cal.threshold(0.5) < cal.threshold(0.99)
    record = json.loads((resources.files("textkl") / "data" / "pairs" / "english.json")
                        .read_text())
    assert record["val_loss_nats_per_char"] == pytest.approx(default_pair.meta["val_loss"])
    assert record["val_loss_nats_per_char"] <= 1.7  # half-trained (1,000 steps) it was 1.87
    assert record.get("defaults", {}) == default_pair.meta.get("defaults", {})
    registers = {s["register"] for s in record["sources"] if s["role"] == "train"}
    assert {"fiction", "technical", "dialogue", "letters", "essay", "news"} <= registers


def test_embedded_data_stays_small():
    folder = resources.files("textkl") / "data"
    total = sum(len(p.read_bytes()) for p in folder.iterdir() if p.is_file()) + sum(
        len(p.read_bytes()) for p in (folder / "pairs").iterdir())
    assert total <= 8 * 2**20


def test_default_pair_ships_the_books_words(default_pair):
    lex = default_pair.lexicon
    assert lex is not None and 10_000 < len(lex) <= 100_000
    # words of every register, and French function words rare or absent
    assert min(lex.counts[w] for w in ("whale", "function", "letter", "government")) > 100
    assert all(lex.counts.get(w, 0) < 5 for w in ("dans", "les", "elle", "nicht"))


def test_default_pair_separates_english_from_french(default_pair):
    en = default_pair.score(texts.english(3000, seed=21))
    fr = default_pair.score(texts.french(3000, seed=21))
    assert np.nanmean(fr.kl) > 2 * np.nanmean(en.kl)


def test_demo_report_marks_the_english_passages(tmp_path):
    out = tmp_path / "demo.html"
    r = CliRunner().invoke(cli, ["demo", "-o", str(out), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "report:" in r.output and out.stat().st_size > 100_000
    page = out.read_text(encoding="utf-8")
    assert "<mark" in page and "english.txt" in page
    text = (resources.files("textkl") / "data" / "demo.txt").read_text(encoding="utf-8")
    segs = textkl.load().segment(text)
    book_like = np.zeros(len(text), dtype=bool)
    for s in segs:
        book_like[s.start : s.end] = s.in_distribution
    spans = _demo_spans()
    english = [s for s in spans if s["kind"] == "en"]
    assert len(english) >= 2
    for s in english:  # most of every English passage is found as book-like
        assert book_like[int(s["start"]) : int(s["end"])].mean() > 0.8, s
    for s in spans:  # and the German lines are not
        if s["kind"] == "de":
            assert book_like[int(s["start"]) : int(s["end"])].mean() < 0.3, s
    # the French narrative is one region, the German letter another, the code a third
    label = np.zeros(len(text), dtype=int)
    for s in segs:
        label[s.start : s.end] = s.label

    def region_of(kind: str) -> int:
        (s,) = [s for s in spans if s["kind"] == kind]
        return int(np.bincount(label[int(s["start"]) : int(s["end"])]).argmax())

    french = {int(label[i]) for i in (100, 1300, 2500, 4500)}  # in four French paragraphs
    assert len(french) == 1 and 0 not in french
    assert len(french | {0, region_of("de"), region_of("code")}) == 4
    # the code is half English words to a pair that read manuals (moby-dick: none)
    moby = textkl.load("moby-dick")
    moby_like = np.zeros(len(text), dtype=bool)
    for s in moby.segment(text, regions=None):
        moby_like[s.start : s.end] = s.in_distribution
    for s in spans:
        if s["kind"] == "code":
            assert moby_like[int(s["start"]) : int(s["end"])].mean() < 0.3, s


def test_embedded_pairs_load_by_name(tmp_path, monkeypatch):
    from textkl.errors import ModelFileError
    from textkl.pair import DEFAULT_PAIR, embedded_pairs

    names = [p.name for p in embedded_pairs()]
    assert names[0] == DEFAULT_PAIR and "moby-dick" in names
    by_name = textkl.load("moby-dick")
    assert by_name.meta["books"] == ["en_novel_moby_dick.txt"]
    assert all(p.record.get("val_loss_nats_per_char") for p in embedded_pairs())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "moby-dick").write_text("not a model")  # a local file of that name wins
    with pytest.raises(ModelFileError, match="^moby-dick: not a"):
        textkl.load("moby-dick")
    with pytest.raises(ModelFileError, match="no such model file"):
        textkl.load("no-such-pair")


def test_former_name_loads_the_same_pair(tmp_path, monkeypatch):
    """english-fast, the default's name until 2026-12-03, still loads it."""
    import torch

    from textkl.errors import ModelFileError

    new, old = textkl.load("english"), textkl.load("english-fast")
    assert new.meta == old.meta
    assert all(torch.equal(a, b) for a, b in zip(new.model.state_dict().values(),
                                                 old.model.state_dict().values()))
    large = textkl.load("english-large")
    assert large.config.d_model > new.config.d_model  # a different pair, not the alias
    res = CliRunner().invoke(cli, ["models"])
    assert "also loads as: english-fast" in res.output
    monkeypatch.chdir(tmp_path)
    (tmp_path / "english-fast").write_text("not a model")  # a local file of that name wins
    with pytest.raises(ModelFileError, match="^english-fast: not a"):
        textkl.load("english-fast")


def test_cli_lists_and_uses_embedded_pairs(tmp_path):
    res = CliRunner().invoke(cli, ["models"])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if "nats/char" in ln]  # one per pair
    assert lines[0].startswith("* english") and any(ln.split()[0] == "moby-dick" for ln in lines)
    assert "training sources" in res.output
    src = tmp_path / "t.txt"
    src.write_text("The harbour was quiet. Le port était calme.", encoding="utf-8")
    res = CliRunner().invoke(cli, ["score", str(src), "-m", "moby-dick", "--json",
                                   str(tmp_path / "o.json")])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("command", ["score", "segment", "filter"])
def test_help_names_the_default_pair(command):
    from textkl.pair import DEFAULT_PAIR

    out = CliRunner().invoke(cli, [command, "--help"]).output
    assert f"(default: the embedded {DEFAULT_PAIR} pair)" in " ".join(out.split())
