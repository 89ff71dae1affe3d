"""Joint training, checkpoints and the same-initialisation control."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from tests import texts
from textkl.cli import cli
from textkl.corpora import strip_gutenberg
from textkl.errors import ModelFileError
from textkl.model import ModelConfig, build_model
from textkl.pair import Pair, load
from textkl.training import TrainConfig, train_on_text

QUICK = TrainConfig(steps=40, batch_size=8, seq_len=32, eval_every=20, warmup_steps=5,
                    calib_chars=3000)


def test_loss_falls(tiny_pair):
    hist = tiny_pair.meta["history"]
    assert hist[-1]["val_loss"] < hist[0]["val_loss"] - 0.3
    assert tiny_pair.meta["val_loss"] == min(h["val_loss"] for h in hist)


def test_models_differ_and_calibration_is_stored(tiny_pair):
    w = tiny_pair.model.w_hh[0]
    assert not torch.equal(w[0], w[1])
    cal = tiny_pair.calibration
    assert cal.n_chars > 1000
    assert 0 < cal.threshold(0.5) < cal.threshold(0.99)
    assert cal.threshold(0.99, 30) < cal.threshold(0.99, 1)  # window means are tighter


def test_english_scores_lower_than_french(tiny_pair):
    en = tiny_pair.score(texts.english(3000, seed=11))
    fr = tiny_pair.score(texts.french(3000, seed=11))
    assert np.nanmean(fr.kl) > 1.5 * np.nanmean(en.kl)


def test_same_init_gives_zero_kl():
    pair = train_on_text(texts.english(8000, seed=2), d_model=16, d_embed=8, same_init=True,
                         config=QUICK, device="cpu", progress=False)
    m = pair.model
    assert torch.equal(m.w_hh[0][0], m.w_hh[0][1])  # trained identically
    s = pair.score(texts.french(500, seed=3))
    assert np.nanmax(s.kl) == 0.0


def test_training_is_deterministic_on_cpu():
    text = texts.english(8000, seed=2)
    a = train_on_text(text, d_model=16, d_embed=8, config=QUICK, device="cpu", progress=False)
    b = train_on_text(text, d_model=16, d_embed=8, config=QUICK, device="cpu", progress=False)
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), k


def test_default_learning_rate_depends_on_the_architecture():
    from textkl.training import DEFAULT_LR

    assert TrainConfig().with_lr_for("lstm").lr == DEFAULT_LR["lstm"]
    assert TrainConfig().with_lr_for("transformer").lr == DEFAULT_LR["transformer"]
    assert TrainConfig(lr=1e-3).with_lr_for("lstm").lr == 1e-3
    pair = train_on_text(texts.english(8000, seed=2), d_model=16, d_embed=8, config=QUICK,
                         device="cpu", progress=False)
    assert pair.meta["train_config"]["lr"] == DEFAULT_LR["lstm"]  # the rate it trained with


def test_transformer_trains_and_scores():
    cfg = TrainConfig(steps=30, batch_size=8, seq_len=32, eval_every=15, warmup_steps=5,
                      calib_chars=3000)
    pair = train_on_text(texts.english(8000, seed=4), arch="transformer", d_model=32,
                         n_layers=1, n_heads=2, context=64, config=cfg, device="cpu",
                         progress=False)
    text = texts.english(700, seed=5)
    s = pair.score(text)
    assert len(s) == len(text) and np.isnan(s.kl[0]) and not np.isnan(s.kl[1:]).any()


def test_checkpoint_round_trip_reproduces_scores(tiny_pair, tmp_path):
    path = tiny_pair.save(tmp_path / "model")
    assert path.name == "pair.pt"
    again = load(tmp_path / "model")
    text = texts.french(800, seed=9)
    a, b = tiny_pair.score(text), again.score(text)
    np.testing.assert_array_equal(a.kl, b.kl)
    np.testing.assert_array_equal(a.nll, b.nll)
    assert again.calibration == tiny_pair.calibration
    assert again.meta["books"] == tiny_pair.meta["books"]


@pytest.mark.parametrize("content,needle", [
    pytest.param(b"", "not a readable", id="empty"),
    pytest.param(b"PK\x03\x04garbage", "not a readable", id="corrupt-zip"),
    pytest.param(b"hello world", "not a", id="text-file"),
])
def test_bad_model_files_give_clear_errors(tmp_path, content, needle):
    p = tmp_path / "bad.pt"
    p.write_bytes(content)
    with pytest.raises(ModelFileError, match=needle) as e:
        load(p)
    assert str(p) in str(e.value)


def test_truncated_and_foreign_checkpoints(tiny_pair, tmp_path):
    good = tiny_pair.save(tmp_path / "good.pt").read_bytes()
    (tmp_path / "trunc.pt").write_bytes(good[: len(good) // 2])
    with pytest.raises(ModelFileError, match="trunc.pt"):
        load(tmp_path / "trunc.pt")
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp_path / "foreign.pt")
    with pytest.raises(ModelFileError, match="not a textkl model file"):
        load(tmp_path / "foreign.pt")
    with pytest.raises(ModelFileError, match="no such model file"):
        load(tmp_path / "missing.pt")


def test_checkpoint_never_unpickles_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"format": "textkl-pair", "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ModelFileError):
        load(tmp_path / "evil.pt")


def test_gutenberg_boilerplate_is_stripped(tmp_path):
    body = texts.english(3000, seed=6)
    raw = ("The Project Gutenberg eBook of Something\n\nRelease date: 2001\n\n"
           "*** START OF THE PROJECT GUTENBERG EBOOK SOMETHING ***\n\n" + body +
           "\n\n*** END OF THE PROJECT GUTENBERG EBOOK SOMETHING ***\n\nLicence text here.\n")
    out = strip_gutenberg(raw)
    assert "Gutenberg" not in out and "Licence" not in out
    assert body.strip() in out


def test_stacked_models_match_separate_runs():
    cfg = ModelConfig(arch="lstm", vocab_size=20, d_model=12, d_embed=6, n_models=3)
    m = build_model(cfg).eval()
    ids = torch.randint(0, 20, (2, 9))
    logits, _, _ = m(ids)
    for k in range(3):  # model k alone, via a 2-model copy holding model k twice
        single = build_model(ModelConfig(**{**cfg.__dict__, "n_models": 2})).eval()
        with torch.no_grad():
            for (_, p), (_, q) in zip(single.named_parameters(), m.named_parameters()):
                p.copy_(q[[k, k]])
        torch.testing.assert_close(single(ids)[0][0], logits[k])


@pytest.mark.parametrize("threads", [1, 2])
def test_per_model_step_gives_the_joint_gradients(threads):
    """The trainer's step (each model forward and backward alone, in threads on a CPU)
    computes the gradients of the summed loss of the joint forward."""
    from textkl.training import _backward, _loss

    cfg = ModelConfig(arch="lstm", vocab_size=20, d_model=12, d_embed=6, n_models=3,
                      n_layers=2)
    m = build_model(cfg)
    x, y = torch.randint(0, 20, (4, 9)), torch.randint(0, 20, (4, 9))
    loss, per = _loss(m, x, y)
    loss.backward()
    joint = [p.grad.clone() for p in m.parameters()]
    m.zero_grad(set_to_none=True)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        per_model = _backward(m, x, y)
    finally:
        torch.set_num_threads(old)
    torch.testing.assert_close(per_model, per)
    for g, p in zip(joint, m.parameters()):
        torch.testing.assert_close(p.grad, g)


@pytest.mark.parametrize("n_layers", [1, 2])
def test_lstm_matches_the_textbook_cell_and_carries_state(n_layers):
    cfg = ModelConfig(arch="lstm", vocab_size=11, d_model=5, d_embed=3, n_layers=n_layers)
    m = build_model(cfg).eval()
    with torch.no_grad():
        for p in m.gate_b:
            p.normal_()  # the init leaves most biases at 0; make every gate's bias count
    ids = torch.randint(0, 11, (2, 7))
    logits, hid, _ = m(ids)
    for k in range(cfg.n_models):  # gates in the columns' order i, f, g, o
        x = m.embed[k][ids]  # (B, T, E)
        for layer in range(n_layers):
            h, c, outs = torch.zeros(2, 5), torch.zeros(2, 5), []
            for t in range(ids.shape[1]):
                g = x[:, t] @ m.w_ih[layer][k] + h @ m.w_hh[layer][k] + m.gate_b[layer][k, 0]
                i, f, gg, o = g.chunk(4, dim=-1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
                h = torch.sigmoid(o) * torch.tanh(c)
                outs.append(h)
            x = torch.stack(outs, dim=1)
        torch.testing.assert_close(hid[k], x)
        torch.testing.assert_close(logits[k], x @ m.head_w[k] + m.head_b[k])
    first, _, state = m(ids[:, :3])  # two calls with the state carried = one call
    rest, _, _ = m(ids[:, 3:], state)
    torch.testing.assert_close(torch.cat([first, rest], dim=2), logits)


def test_train_cli_tiny_run(tmp_path):
    book = tmp_path / "book.txt"
    book.write_text(texts.english(8000, seed=3))
    out = tmp_path / "m"
    res = CliRunner().invoke(cli, ["train", str(book), "-o", str(out), "--steps", "30",
                                   "--d-model", "16", "--batch-size", "8", "--device", "cpu",
                                   "-q"])
    assert res.exit_code == 0, res.output
    pair = load(out)
    assert isinstance(pair, Pair) and pair.meta["books"] == ["book.txt"]
    assert pair.meta["steps"] <= 30


def test_train_cli_help_and_errors(tmp_path):
    r = CliRunner().invoke(cli, ["train", "--help"])
    assert r.exit_code == 0 and "--minutes" in r.output and "Example" in r.output
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    r = CliRunner().invoke(cli, ["train", str(empty), "-o", str(tmp_path / "x"), "-q"])
    assert r.exit_code == 1 and "too short" in r.output and "Traceback" not in r.output
