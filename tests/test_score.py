"""The scorer: indexing rule, NaN policy, invariances, streaming, outputs."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import texts
from textkl.cli import cli
from textkl.model import ModelConfig, build_model
from textkl.pair import Pair
from textkl.score import ScoreConfig, pair_stats, score_windows

MIXED = texts.english(1500, seed=5) + "\n\n" + texts.french(1500, seed=5) + " 😀 ∑ ok"


@pytest.fixture()
def pair(tiny_pair):
    """The tiny pair with its scoring grid restored after each test."""
    cfg = tiny_pair.score_config
    yield tiny_pair
    tiny_pair.score_config = cfg


def test_pair_stats_matches_direct_formula():
    torch.manual_seed(0)
    logits = torch.randn(3, 2, 5, 7)
    y = torch.randint(0, 7, (2, 5))
    kl, nll, ent = pair_stats(logits, y)
    logp = logits.log_softmax(-1)
    p = logp.exp()
    pairs = [(i, j) for i in range(3) for j in range(3) if i != j]
    want = sum((p[i] * (logp[i] - logp[j])).sum(-1) for i, j in pairs) / len(pairs)
    torch.testing.assert_close(kl, want)
    torch.testing.assert_close(ent, -(p * logp).sum(-1).mean(0))
    picked = logp.gather(-1, y.expand(3, -1, -1)[..., None])[..., 0]  # (M, B, T)
    torch.testing.assert_close(nll, -picked.mean(0))


@given(st.text(max_size=300))
@settings(max_examples=40, deadline=None)
def test_length_and_nan_policy(tiny_pair, text):
    s = tiny_pair.score(text)
    assert len(s) == len(s.nll) == len(s.entropy) == len(text)
    assert all(a.dtype == np.float32 for a in (s.kl, s.nll, s.entropy))
    if text:
        # exactly the characters of the first view character have no context: a folded
        # whitespace run or a combining sequence shares its view character's value
        enc = tiny_pair.vocab.encode(text)
        first_end = int(enc.offsets[1]) if len(enc.offsets) > 1 else len(text)
        want = np.arange(len(text)) < first_end
        np.testing.assert_array_equal(np.isnan(s.kl), want)
        assert (s.kl[~want] >= 0).all()


def test_empty_input_gives_empty_arrays(tiny_pair):
    s = tiny_pair.score("")
    assert len(s) == 0 and s.kl.dtype == np.float32


def test_unknown_and_astral_characters_are_scored(tiny_pair):
    text = "The old captain 😀 watched ∑ the river 𝔘."
    s = tiny_pair.score(text)
    assert len(s) == len(text)
    assert np.isfinite(s.kl[1:]).all() and np.isfinite(s.nll[1:]).all()
    i = text.index("😀")
    assert s.nll[i] > np.nanmedian(s.nll)  # <unk> is rare in the book: surprising


@pytest.mark.parametrize("batch_size", [1, 2, 5, 64])
def test_batch_size_does_not_change_scores(pair, batch_size):
    pair.score_config = replace(pair.score_config, stride=64, warmup=32)
    ref = pair.score(MIXED, batch_size=3)
    s = pair.score(MIXED, batch_size=batch_size)
    np.testing.assert_allclose(s.kl, ref.kl, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(s.nll, ref.nll, rtol=1e-4, atol=1e-6)


def test_window_placement_barely_matters_given_the_warmup(pair):
    pair.score_config = replace(pair.score_config, stride=1024, warmup=64)
    ref = pair.score(MIXED).kl
    for stride in (64, 96, 160):
        pair.score_config = replace(pair.score_config, stride=stride, warmup=64)
        d = np.abs(pair.score(MIXED).kl - ref)[1:]
        assert np.mean(d) < 1e-3 * np.nanmean(ref)
        assert np.max(d) < 0.05


@pytest.mark.parametrize("piece", [1, 7, 100, 999, 10_000])
def test_streaming_equals_whole_text(pair, piece):
    pair.score_config = replace(pair.score_config, stride=64, warmup=32, batch_size=4)
    text = "  " + MIXED.replace(". ", ".\r\n   ") + "e\u0301"
    whole = pair.score(text)
    pieces = [text[i : i + piece] for i in range(0, len(text), piece)]
    got = list(pair.score_stream(pieces))
    offsets = [o for o, _ in got]
    assert offsets == sorted(offsets) and offsets[0] == 0
    kl = np.concatenate([s.kl for _, s in got])
    assert len(kl) == len(text)
    np.testing.assert_allclose(kl, whole.kl, rtol=1e-4, atol=1e-6)


def test_streaming_is_lazy(pair):
    pair.score_config = replace(pair.score_config, stride=64, warmup=16, batch_size=2)
    consumed = []

    def pieces():
        for i in range(1000):
            consumed.append(i)
            yield texts.english(300, seed=i)

    first_offset, _ = next(iter(pair.score_stream(pieces())))
    assert first_offset == 0 and len(consumed) < 10  # scored before the input was read


def test_three_models_and_identical_models():
    cfg = ModelConfig(vocab_size=8, d_model=8, d_embed=4, n_models=3)
    from textkl.vocab import CharVocab

    vocab = CharVocab(list("abcdef "))
    pair = Pair(build_model(cfg), vocab, score_config=ScoreConfig(stride=32, warmup=8))
    s = pair.score("abc def fed cab " * 10)
    assert len(s) == 160 and (s.kl[1:] > 0).all()
    same = Pair(build_model(replace(cfg, same_init=True)), vocab)
    assert np.nanmax(np.abs(same.score("abc def fed cab " * 10).kl)) < 1e-6


@pytest.mark.parametrize("n_layers", [1, 2])
def test_models_run_in_threads_as_they_run_stacked(n_layers):
    cfg = ModelConfig(vocab_size=11, d_model=16, d_embed=4, n_models=3, n_layers=n_layers)
    model = build_model(cfg).eval()
    x = torch.randint(0, 11, (4, 40))
    y = torch.roll(x, -1, 1)
    with torch.inference_mode():
        logits, hidden, _ = model(x)
        want = [*pair_stats(logits, y), hidden]
    threads = torch.get_num_threads()
    torch.set_num_threads(3)  # one thread per model: the threaded path
    try:
        got = score_windows(model, x, y, time_block=16, features=True)
        assert torch.get_num_threads() == 3  # the workers' thread counts do not leak
    finally:
        torch.set_num_threads(threads)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_scores_with_its_own_threads(tiny_pair):
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        want = tiny_pair.score(MIXED).kl  # the parent's worker threads now exist
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(1) as pool:
            got = pool.apply_async(_score_kl, (tiny_pair, MIXED)).get(timeout=60)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _score_kl(pair, text):
    torch.set_num_threads(2)
    return pair.score(text).kl


def test_features_are_pooled_blocks(tiny_pair):
    s = tiny_pair.score(MIXED, features=True)
    assert s.features.shape[1] == 2 * tiny_pair.config.d_model
    assert s.features.shape[0] == len(s.feature_offsets)
    assert np.all(np.diff(s.feature_offsets) > 0) and s.feature_offsets[0] == 0
    assert np.isfinite(s.features).all()


def test_percentiles_against_the_book(tiny_pair):
    cal = tiny_pair.calibration
    assert tiny_pair.percentile(cal.threshold(0.99)) == pytest.approx(99, abs=0.2)
    assert tiny_pair.percentile(1e9) == 100 and tiny_pair.percentile(-1) == 0
    fr = tiny_pair.score(texts.french(2000, seed=8))
    assert np.nanmean(tiny_pair.percentile(fr.kl)) > 60


def test_cli_json_tsv_npz_follow_the_contract(tiny_pair_path, tmp_path):
    src = tmp_path / "in.txt"
    text = "Hé\tthere\n" + MIXED[:500]
    src.write_text(text, encoding="utf-8")
    out = {k: tmp_path / f"o.{k}" for k in ("json", "tsv", "npz")}
    r = CliRunner().invoke(cli, ["score", str(src), "-m", str(tiny_pair_path), "-q",
                                 "--json", str(out["json"]), "--tsv", str(out["tsv"]),
                                 "--npz", str(out["npz"])])
    assert r.exit_code == 0, r.output
    assert "mean KL" in r.output and "99th percentile" in r.output
    j = json.loads(out["json"].read_text())
    assert set(j) == {"text_length", "kl", "nll", "entropy"}
    assert j["text_length"] == len(text) == len(j["kl"]) == len(j["nll"]) == len(j["entropy"])
    assert j["kl"][0] is None and all(isinstance(v, float) for v in j["kl"][1:])
    rows = out["tsv"].read_text(encoding="utf-8").splitlines()
    assert rows[0] == "offset\tchar\tkl\tnll\tentropy" and len(rows) == len(text) + 1
    assert rows[1].split("\t")[:2] == ["0", "H"] and rows[3].split("\t")[1] == "\\t"
    z = np.load(out["npz"])
    np.testing.assert_allclose(z["kl"][1:], np.array(j["kl"][1:], dtype=np.float32), rtol=1e-5)
    assert z["percentile"].shape == (len(text),)


def test_cli_stdin_and_bad_inputs(tiny_pair_path, tmp_path):
    r = CliRunner().invoke(cli, ["score", "-", "-m", str(tiny_pair_path), "-q", "--json", "-"],
                           input="The old captain.")
    assert r.exit_code == 0 and '"text_length": 16' in r.output
    cases = {"bin.dat": b"\x00\x01\x02abc", "bad.txt": b"ok \xff\xfe no"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        dest = tmp_path / f"{name}.json"
        r = CliRunner().invoke(cli, ["score", str(tmp_path / name), "-m", str(tiny_pair_path),
                                     "-q", "--json", str(dest)])
        assert r.exit_code == 1 and "Traceback" not in r.output, r.output
        assert name in r.output and not dest.exists()
        assert not list(tmp_path.glob(f".{name}.json*"))  # no partial file either
    r = CliRunner().invoke(cli, ["score", str(tmp_path / "nope.txt"), "-m", str(tiny_pair_path)])
    assert r.exit_code != 0 and "Traceback" not in r.output
    r = CliRunner().invoke(cli, ["score", str(tmp_path / "bad.txt"), "-m", str(tmp_path)])
    assert r.exit_code == 1 and "no such model file" in r.output


def test_empty_file_is_a_sensible_result(tiny_pair_path, tmp_path):
    (tmp_path / "e.txt").write_text("")
    r = CliRunner().invoke(cli, ["score", str(tmp_path / "e.txt"), "-m", str(tiny_pair_path),
                                 "-q", "--json", str(tmp_path / "e.json")])
    assert r.exit_code == 0 and "nothing to score" in r.output
    assert json.loads((tmp_path / "e.json").read_text()) == {
        "text_length": 0, "kl": [], "nll": [], "entropy": []}


_MEASURE = """
import resource, sys
from textkl.cli import cli
try:
    cli(sys.argv[1:])
except SystemExit as e:
    assert not e.code, e.code
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_rss_mb(args: list[str]) -> float:
    """Peak resident memory of a ``textkl`` run, measured inside the child process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # as the parent: no oversubscription
    out = subprocess.run([sys.executable, "-c", _MEASURE, *args], check=True,
                         capture_output=True, text=True, env=env).stdout
    return int(out.split()[-1]) / 1024


def test_streaming_memory_stays_bounded(tiny_pair, tmp_path):
    """Loosely: 3 MB costs no more memory than 1.2 MB (bench: precise). Both are longer
    than the pieces the file is read in (1M characters), whose encodings and scores take
    about 50 bytes a character whatever the file's length."""
    from textkl.vocab import CharVocab

    # a small untrained pair with the tiny pair's vocabulary: memory, not quality, is tested
    cfg = replace(tiny_pair.config, d_model=8, d_embed=4)
    small_pair = Pair(build_model(cfg), CharVocab.from_json(tiny_pair.vocab.to_json()),
                      tiny_pair.calibration, score_config=ScoreConfig(batch_size=64))
    model = small_pair.save(tmp_path / "m.pt")
    small, big = tmp_path / "small.txt", tmp_path / "big.txt"
    chunk = texts.english(300_000, seed=1) + "\n\n"  # > 4 batches of 64 x 1024 characters
    small.write_text(chunk * 4)
    big.write_text(chunk * 10)
    cmd = ["score", "-m", str(model), "-q", "--device", "cpu", "--npz"]
    rss_small = _peak_rss_mb([*cmd, str(tmp_path / "s.npz"), str(small)])
    rss_big = _peak_rss_mb([*cmd, str(tmp_path / "b.npz"), str(big)])
    # holding 3 M characters' ids, offsets, code points and scores at once costs > 100 MB
    assert rss_big - rss_small < 40, (rss_small, rss_big)
    assert np.load(tmp_path / "b.npz")["kl"].shape == (big.stat().st_size,)


def test_features_do_not_depend_on_the_batch_size(tiny_pair):
    """The hidden states' storage is reused from batch to batch: one batch per window
    and all windows in one batch pool the same features."""
    from textkl.score import ScoreConfig, score_text

    text = MIXED * 3
    got = {}
    for batch in (1, 64):
        cfg = ScoreConfig(stride=64, warmup=16, batch_size=batch, feature_block=32)
        got[batch] = score_text(tiny_pair.model, tiny_pair.vocab, text, cfg, tiny_pair.device,
                                features=True)
    assert len(got[1].feature_offsets) > 8
    np.testing.assert_array_equal(got[1].feature_offsets, got[64].feature_offsets)
    np.testing.assert_allclose(got[1].features, got[64].features, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1].kl, got[64].kl, rtol=1e-5, atol=1e-6)


def test_block_offsets_come_with_or_without_features(tiny_pair):
    plain = tiny_pair.score(MIXED)
    full = tiny_pair.score(MIXED, features=True)
    assert plain.features is None
    np.testing.assert_array_equal(plain.feature_offsets, full.feature_offsets)
    view = len(tiny_pair.vocab.encode(MIXED).ids)
    assert len(plain.feature_offsets) == -(-view // tiny_pair.score_config.feature_block)


def test_statistics_do_not_depend_on_their_row_chunks(tiny_pair, monkeypatch):
    import textkl.model as model_module

    want = tiny_pair.score(MIXED)
    monkeypatch.setattr(model_module, "STATS_ROWS", 7)
    got = tiny_pair.score(MIXED)
    for name in ("kl", "nll", "entropy"):
        np.testing.assert_allclose(getattr(got, name), getattr(want, name), rtol=1e-6,
                                   atol=1e-7)


@pytest.mark.parametrize("m", [2, 3])
def test_row_stats_equal_the_unbuffered_statistics_bit_for_bit(m):
    from textkl.stats import combine_stats, model_stats, row_stats

    gen = torch.Generator().manual_seed(m)
    for rows, dtype in ((300, torch.float32), (1200, torch.bfloat16), (7, torch.float32)):
        logits = [(torch.randn(rows, 40, generator=gen) * 4).to(dtype) for _ in range(m)]
        y = torch.randint(0, 40, (rows,), generator=gen)
        want = combine_stats([model_stats(lg, y) for lg in logits])
        with torch.inference_mode():  # as the scorer calls it; the buffers outlive the mode
            got = row_stats(logits, y)
        again = row_stats(logits, y)  # the buffers reused: nothing of the first call left
        for w, g, a in zip(want, got, again):
            assert torch.equal(g, w) and torch.equal(a, w)
