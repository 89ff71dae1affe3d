"""``--precision int8``: the int8 twin of a pair (textkl.quantize)."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import textkl
from textkl.cli import cli
from textkl.model import ModelConfig, build_model
from textkl.quantize import float_layers, int8_supported, int8_twin
from textkl.score import score_windows

DEMO = str(resources.files("textkl") / "data" / "demo.txt")


@pytest.mark.parametrize("n_layers", [1, 2])
def test_the_twins_float_layers_compute_the_models_layers(n_layers):
    """The weights reach torch's LSTM and Linear in the right order and orientation:
    before quantisation they give the model's own hidden states and logits."""
    cfg = ModelConfig(vocab_size=13, d_model=16, d_embed=6, n_models=2, n_layers=n_layers)
    model = build_model(cfg).eval()
    ids = torch.randint(0, 13, (30, 4))  # (T, B)
    with torch.inference_mode():
        for k in range(cfg.n_models):
            want_h, _ = model.recur_one(k, ids)
            lstm, head = float_layers(model, k)
            got_h, _ = lstm(torch.nn.functional.embedding(ids, model.embed[k]))
            torch.testing.assert_close(got_h, want_h, rtol=1e-5, atol=1e-6)
            flat = want_h.reshape(-1, cfg.d_model)
            torch.testing.assert_close(head(flat), model.head_one(k, flat), rtol=1e-5,
                                       atol=1e-6)


def test_int8_carries_the_state_across_blocks():
    """The twin's second block starts from the first block's state: it tracks the float
    model's hidden states, where the same block from an empty state does not."""
    cfg = ModelConfig(vocab_size=11, d_model=16, d_embed=4, n_models=2, n_layers=2)
    model = build_model(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3)  # hidden states far from zero, so that the state matters
    twin = int8_twin(model)
    ids = torch.randint(0, 11, (40, 3), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        want, _ = model.recur_one(1, ids)  # (T, B, H)
        _, state = twin.recur_one(1, ids[:20])
        carried, _ = twin.recur_one(1, ids[20:], state)
        fresh, _ = twin.recur_one(1, ids[20:])
    off = (carried - want[20:]).abs().mean()
    assert off <= 0.05 * want.abs().mean()
    assert off <= (fresh - want[20:]).abs().mean() / 3
    x, y = ids.t()[:, :-1], ids.t()[:, 1:]  # (B, T)
    fp32 = score_windows(model, x, y, time_block=8)[0]
    blocks = score_windows(model, x, y, time_block=8, dtype=torch.qint8)[0]
    assert not np.array_equal(fp32, blocks)  # the twin scored, not the float model
    assert np.corrcoef(fp32.ravel(), blocks.ravel())[0, 1] >= 0.9


def test_int8_scores_follow_float32_on_the_demo():
    """The documented cost of int8: the KL moves by about a tenth of its mean (bound: a
    quarter), stays correlated (>= 0.95) and leaves the same positions without a score;
    the demo's segments keep their number within two."""
    pair = textkl.load()
    text = open(DEMO, encoding="utf-8").read()
    a, b = pair.score(text), pair.score(text, dtype=torch.qint8)
    ok = ~np.isnan(a.kl)
    assert np.array_equal(ok, ~np.isnan(b.kl))
    assert np.abs(a.kl[ok] - b.kl[ok]).mean() <= 0.25 * a.kl[ok].mean()
    assert np.corrcoef(a.kl[ok], b.kl[ok])[0, 1] >= 0.95
    assert abs(len(pair.segment(text, dtype=torch.qint8)) - len(pair.segment(text))) <= 2
    assert int8_twin(pair.model) is int8_twin(pair.model)  # built once per model


def test_the_twin_follows_the_weights():
    model = build_model(ModelConfig(vocab_size=11, d_model=16, d_embed=4)).eval()
    first = int8_twin(model)
    x = torch.randint(0, 11, (2, 20))
    y = torch.roll(x, -1, 1)
    before = score_windows(model, x, y, dtype=torch.qint8)[0]
    with torch.no_grad():
        model.head_w.mul_(4)  # as an optimiser step would: in place
    assert int8_twin(model) is not first
    after = score_windows(model, x, y, dtype=torch.qint8)[0]
    assert np.abs(after - before).mean() > 0.5 * np.abs(before).mean()


def test_int8_falls_back_to_float32_where_there_is_no_twin(caplog, monkeypatch):
    from textkl import score as score_mod

    monkeypatch.setattr(score_mod.supported_dtype, "warned", False, raising=False)
    model = build_model(ModelConfig(arch="transformer", vocab_size=11, d_model=16,
                                    d_embed=16, n_models=2)).eval()
    assert not int8_supported(model, torch.device("cpu"))
    assert not int8_supported(build_model(ModelConfig(vocab_size=11)), torch.device("cuda"))
    x = torch.randint(0, 11, (2, 20))
    y = torch.roll(x, -1, 1)
    with caplog.at_level("WARNING", logger="textkl"):
        got = score_windows(model, x, y, dtype=torch.qint8)
    want = score_windows(model, x, y)
    np.testing.assert_array_equal(got[0], want[0])  # exactly the float32 scores
    assert any("int8 is not supported" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("command", ["score", "segment"])
def test_cli_precision_int8(tmp_path, command):
    outs = {}
    for precision in ("fp32", "int8"):
        out = tmp_path / f"{precision}.json"
        res = CliRunner().invoke(cli, [command, DEMO, "--precision", precision, "--json",
                                       str(out)])
        assert res.exit_code == 0, res.output
        outs[precision] = json.loads(out.read_text())
    if command == "score":
        assert len(outs["int8"]["kl"]) == len(outs["fp32"]["kl"]) > 0
        assert outs["int8"]["kl"] != outs["fp32"]["kl"]
    else:
        spans = [(s["start"], s["end"]) for s in outs["int8"]["segments"]]
        assert spans[0][0] == 0 and spans[-1][1] == outs["int8"]["text_length"]
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # they tile the text
