"""Self-reference (``textkl.fit``): a pair fitted on the document itself finds what does not
belong in it; fits are cached by content and settings; the CLI's ``--fit``."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

import textkl
from tests import texts
from textkl import selffit
from textkl.cli import cli
from textkl.errors import InputError, SettingError

# seconds on one CPU thread: small models, short sequences, few steps
TINY = {"d_model": 32, "batch_size": 32, "seq_len": 64, "lr": 1e-2, "steps": 240,
        "holdout_block": 1000}


@pytest.fixture(scope="module")
def planted() -> tuple[str, int, int]:
    """Generated English (~24,000 chars) with one French paragraph in the middle."""
    head, tail = texts.english(12_000, seed=3), texts.english(12_000, seed=4)
    french = texts.french(1_200, seed=5)
    doc = f"{head}\n\n{french}\n\n{tail}"
    start = len(head) + 2
    return doc, start, start + len(french)


@pytest.fixture
def tiny(monkeypatch):
    """Make every fit tiny (also the CLI's, which uses the default settings); count fits."""
    calls = []
    real = selffit.fit_rounds

    def fit_rounds(text, cfg, **kw):
        calls.append(len(text))
        return real(text, replace(cfg, **TINY), **kw)

    monkeypatch.setattr(selffit, "fit_rounds", fit_rounds)
    return calls


def _foreign(pair, text: str) -> np.ndarray:
    mask = np.zeros(len(text), dtype=bool)
    for s in pair.segment(text, regions=None):
        mask[s.start : s.end] |= not s.in_distribution
    return mask


def test_fit_marks_the_planted_passage_and_the_cache_skips_training(planted, tiny, tmp_path):
    doc, start, end = planted
    pair = textkl.fit(doc, min_chars=10_000, cache_dir=tmp_path, device="cpu", progress=False)
    foreign = _foreign(pair, doc)
    assert foreign[start:end].mean() > 0.8, foreign[start:end].mean()
    outside = np.concatenate([foreign[:start], foreign[end:]])
    assert outside.mean() < 0.05, outside.mean()
    rounds = pair.meta["self_fit"]["rounds"]
    assert len(rounds) == 3 and rounds[1]["train_chars"] < rounds[0]["train_chars"]
    assert rounds[2]["train_chars"] < rounds[0]["train_chars"]
    assert len(tiny) == 1 and len(list(tmp_path.glob("*.pt"))) == 1

    again = textkl.fit(doc, min_chars=10_000, cache_dir=tmp_path, device="cpu", progress=False)
    assert len(tiny) == 1  # read from the cache, not trained
    probe = doc[start - 300 : end + 300]
    np.testing.assert_array_equal(again.score(probe).kl, pair.score(probe).kl)
    assert again.meta["self_fit"] == pair.meta["self_fit"]
    # the fitted pair carries its finder settings: plain pair.segment uses them
    from textkl.selffit import FIT_DECODE

    assert again.defaults("decode") == {"level": FIT_DECODE.level,
                                        "switch_sentence": FIT_DECODE.switch_sentence,
                                        "switch_word": FIT_DECODE.switch_word} != {}


def test_cache_key_holds_the_text_and_every_setting():
    base = selffit.FitConfig()
    key = selffit.cache_key("some text", base)
    assert selffit.cache_key("some text", base) == key
    assert selffit.cache_key("some text.", base) != key
    assert selffit.cache_key("some text", replace(base, seed=1)) != key
    assert selffit.cache_key("some text", replace(base, steps=900)) != key


def test_one_language_document_is_almost_all_in_distribution(tiny, tmp_path, capsys):
    doc = texts.english(24_000, seed=8)
    pair = textkl.fit(doc, min_chars=10_000, cache_dir=tmp_path, device="cpu", progress=True)
    assert _foreign(pair, doc).mean() < 0.03
    err = capsys.readouterr().err
    assert "fit round 1/3" in err and "fit round 3/3" in err and "train" in err  # the bars


def test_too_short_document_names_the_minimum(tmp_path):
    with pytest.raises(InputError, match="50,000"):
        textkl.fit("Too short. " * 100, cache_dir=tmp_path)
    with pytest.raises(TypeError):
        textkl.fit(tmp_path, cache_dir=tmp_path)  # a path is never read as the text
    with pytest.raises(SettingError):
        textkl.fit("x" * 60_000, rounds=0, cache_dir=tmp_path)


def test_interrupted_fit_leaves_no_cache_entry(planted, monkeypatch, tmp_path):
    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(selffit, "train_on_text", interrupted)
    with pytest.raises(KeyboardInterrupt):
        textkl.fit(planted[0], min_chars=10_000, cache_dir=tmp_path, device="cpu")
    assert not list(tmp_path.iterdir())


def test_holdout_blocks_sample_the_whole_document():
    text = "\n".join(f"line {i} " + "word " * 20 for i in range(2000))
    train, held = selffit.split_holdout(text, 0.1, 2000)
    assert 0.07 < len(held) / len(text) < 0.13
    lines = [int(w.split()[0]) for w in held.split("line ")[1:] if w.split()[0].isdigit()]
    assert min(lines) < 300 and max(lines) > 1700  # spread over the text, not its tail
    assert len(train) + len(held) >= 0.98 * len(text)


def test_dilate_grows_to_whole_words_by_at_most_the_span_length():
    text = "alpha beta gamma delta epsilon"
    kept = lambda m, margin: selffit._kept_text(text, ~selffit._dilate(text, m, margin))  # noqa: E731
    word = np.zeros(len(text), dtype=bool)
    word[11:16] = True  # "gamma"
    assert kept(word, 0) == "alpha beta\n\ndelta epsilon"
    assert kept(word, 2) == "alpha\n\nepsilon"  # two characters reach into beta and delta
    letter = np.zeros(len(text), dtype=bool)
    letter[12] = True  # one letter grows by one character only, whatever the margin
    assert kept(letter, 100) == "alpha beta\n\ndelta epsilon"


def test_cli_segment_fit_writes_json_and_reuses_the_fit(planted, tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTKL_CACHE", str(tmp_path / "cache"))
    doc = planted[0] + "\n\n" + texts.english(30_000, seed=9)  # past the 50,000 minimum
    path = tmp_path / "doc.txt"
    path.write_text(doc, encoding="utf-8")
    out = tmp_path / "segs.json"
    res = CliRunner().invoke(cli, ["segment", str(path), "--fit", "--json", str(out),
                                   "--device", "cpu"])
    assert res.exit_code == 0, res.output
    segs = json.loads(out.read_text())["segments"]
    assert segs[0]["start"] == 0 and segs[-1]["end"] == len(doc)
    start, end = planted[1], planted[2]
    hit = sum(max(0, min(s["end"], end) - max(s["start"], start)) for s in segs
              if not s["in_distribution"])
    assert hit > 0.8 * (end - start)
    assert len(list((tmp_path / "cache" / "fits").glob("*.pt"))) == 1

    res = CliRunner().invoke(cli, ["segment", str(path), "--fit", "--json", str(out)])
    assert res.exit_code == 0 and len(tiny) == 1  # cached
    res = CliRunner().invoke(cli, ["segment", str(path), "--fit", "--no-cache", "--json",
                                   str(out)])
    assert res.exit_code == 0 and len(tiny) == 2  # --no-cache refits
    entry = next((tmp_path / "cache" / "fits").glob("*.pt"))
    entry.write_bytes(b"damaged")
    res = CliRunner().invoke(cli, ["segment", str(path), "--fit", "--json", str(out)])
    assert res.exit_code == 0 and len(tiny) == 3  # a damaged entry is fitted again


@pytest.mark.parametrize("args, message", [
    pytest.param(["--fit", "-m", "x.pt"], "mutually exclusive", id="fit-and-model"),
    pytest.param(["--minutes", "1"], "go with --fit", id="minutes-without-fit"),
    pytest.param(["--fit"], "50,000", id="too-short"),
])
@pytest.mark.parametrize("command", ["segment", "score"])
def test_cli_fit_errors_are_one_line(command, args, message, tmp_path):
    path = tmp_path / "short.txt"
    path.write_text(texts.english(5_000), encoding="utf-8")
    out = tmp_path / "o.json"
    res = CliRunner().invoke(cli, [command, str(path), *args, "--json", str(out)],
                             env={"TEXTKL_CACHE": str(tmp_path / "cache")})
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == 1 and len(lines) == 1, res.output
    assert lines[0].startswith("textkl: error:") and message in lines[0]
    assert not out.exists()


def test_cli_filter_fit_cleans_the_corpus(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTKL_CACHE", str(tmp_path / "cache"))
    english = [texts.english(2_500, seed=s) for s in range(20, 44)]
    docs = english[:12] + [texts.french(1_200, seed=50)] + english[12:]  # 2 % French
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(docs)))
    keep, reject = tmp_path / "keep.jsonl", tmp_path / "reject.jsonl"
    res = CliRunner().invoke(cli, ["filter", str(src), "--fit", "--keep", str(keep),
                                   "--reject", str(reject), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    rejected = {json.loads(ln)["id"] for ln in reject.read_text().splitlines()}
    assert rejected == {12}, rejected
    assert len(tiny) == 1
