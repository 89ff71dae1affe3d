"""Smoke tests of the experiment scripts' core functions on tiny models and generated text."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tests import texts

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "experiments"))

import _lib  # noqa: E402


def test_char_stats_matches_the_package_scorer(tiny_pair):
    text = texts.english(150, seed=21)  # one window: both scorers see the same context
    s = tiny_pair.score(text)
    st = _lib.char_stats(_lib.stacked_forward(tiny_pair.model), tiny_pair.vocab.encode(text).ids)
    assert np.isnan(st.kl()[0]) and np.isnan(s.kl[0])
    np.testing.assert_allclose(st.kl()[1:], s.kl[1:], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(st.nll.mean(0)[1:], s.nll[1:], rtol=1e-4, atol=1e-5)
    assert np.all((st.msp[:, 1:] > 0) & (st.msp[:, 1:] <= 1))


def test_same_init_control_is_exactly_zero_and_different_init_is_not():
    import exp_same_init as exp

    pairs = exp.train_both(texts.english(20_000, seed=3), steps=30, d_model=16)
    rows = exp.compare(pairs, {"fr": texts.french(1500, seed=4)})
    assert exp.max_weight_gap(pairs[True]) == 0.0
    assert rows[0]["same_max_kl"] == 0.0 and rows[0]["same_max_kl_by_hand"] == 0.0
    assert rows[0]["same_max_logit_gap"] == 0.0
    assert rows[0]["diff_mean_kl"] > 1e-4
    assert exp.max_weight_gap(pairs[False]) > 0.01


def test_baselines_detect_french_against_english(tiny_pair):
    import exp_baselines as exp

    ood = [("fr", "languages", texts.french(4000, seed=7)),
           ("en", "other English", texts.english(4000, seed=8))]
    rows = exp.run(_lib.stacked_forward(tiny_pair.model), tiny_pair.vocab,
                   texts.english(4000, seed=5), texts.english(4000, seed=6), ood, windows=(30,))
    by = {r["text"]: r for r in rows}
    assert set(exp.SCORES) <= set(by["fr"])
    assert by["fr"]["self_kl"] > 0.9 and by["fr"]["surprisal"] > 0.9
    assert by["en"]["self_kl"] < 0.8  # same generator: no separation


@pytest.mark.parametrize("n_models", [4])
def test_ensemble_subsets_average_disjoint_groups(n_models):
    rng = np.random.default_rng(0)
    n = 600
    base = rng.random((n_models, n_models, n)).astype(np.float32)
    st_in = _lib.CharStats(base * 0.1, *(np.zeros((n_models, n), np.float32),) * 3)
    st_out = _lib.CharStats(base * 0.1 + 0.05, *(np.zeros((n_models, n), np.float32),) * 3)
    import exp_ensemble as exp

    rows = exp.subset_aurocs(st_in, {"x": st_out}, n_models, window=10)
    assert [r["M"] for r in rows] == [2, 4]
    assert [r["subsets"] for r in rows] == [2, 1]
    assert all(r["mean_auroc"] > 0.9 for r in rows)


def test_digits_noise_is_flagged_and_optimised_inputs_fool_confidence():
    import exp_digits as exp

    out = exp.run(epochs=4, n_opt=48, opt_steps=60)
    assert min(out["accuracy"]) > 0.8
    rows = {r["inputs"]: r for r in out["rows"]}
    assert rows["uniform noise"]["AUROC self_kl"] > 0.8
    fooled = rows["optimised for A"]
    assert fooled["mean_msp_A"] > 0.9  # model A is sure of itself on a non-digit
    assert fooled["AUROC one_minus_msp_A"] < 0.5  # so its own confidence cannot flag it
    assert out["trace"][0]["step"] == 0 and out["trace"][-1]["msp_A"] > out["trace"][0]["msp_A"]


def _mnist_fashion_synthetic(n: int, seed: int):
    """Ten classes of 28x28 bytes, each a bright 8x8 square in its own place, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, c in enumerate(y):
        r, q = divmod(int(c), 5)
        x[i, 4 + 12 * r : 12 + 12 * r, 1 + 5 * q : 9 + 5 * q] = 230
    return x, y.astype(np.int64)


def test_mnist_fashion_core_on_synthetic_images(tmp_path):
    import json

    import exp_mnist_fashion as exp

    x, y = _mnist_fashion_synthetic(500, seed=0)
    noise = np.random.default_rng(1).integers(0, 256, (100, 28, 28)).astype(np.uint8)
    splits = {"mnist": exp.Split(x[:400], y[:400], x[400:], y[400:]),
              "fashion": exp.Split(noise, y[:100], noise, y[:100])}
    plan = {"mnist": (exp.Setting("CNN", "cnn", 4, sizes=(2, 4)),
                      exp.Setting("copies", "cnn", 2, same_init=True, same_dropout=True))}
    cfg = exp.Config(n_train=400, n_test=100, n_full=0, epochs=4, batch=32, lr=5e-3,
                     cnn_width=4, cnn_hidden=16, seeds=(0,), plan=plan)
    res = {"config": {"epochs": cfg.epochs}} | exp.run(cfg, splits, log=lambda _: None)
    rows = {r["label"]: r for r in res["rows"]}
    assert set(rows) == {"CNN M=2", "CNN M=4", "copies M=2"}
    assert min(rows["CNN M=4"]["acc"]) > 0.9
    assert rows["CNN M=2"]["groups"] == 2 and len(rows["CNN M=2"]["kl_max_groups"]) == 2
    assert min(rows["CNN M=2"]["kl_max_groups"]) > 0.8 and rows["CNN M=4"]["kl_mean"] > 0.8
    assert set(exp.SCORES) <= set(rows["CNN M=2"])
    copies = rows["copies M=2"]  # same init, same masks, same batches: bit-for-bit copies
    assert copies["mean_kl_in"] == 0.0 and copies["mean_kl_out"] == 0.0
    assert copies["kl_max"] == 0.5 and copies["mi"] == 0.5 and copies["kl_notebook"] == 0.5
    path = exp.save(res, tmp_path)
    saved = json.loads(path.read_text())
    assert {"config", "rows", "summary"} <= set(saved)
    assert json.loads((tmp_path / "config.json").read_text()) == {"epochs": 4}
    assert saved["summary"][0]["label"] == "CNN M=2" and saved["summary"][0]["seeds"] == 1


def test_mnist_fashion_notebook_scores():
    import exp_mnist_fashion as exp

    logits = np.random.default_rng(4).normal(0, 3, (3, 50, 10))
    s = exp.score_all(logits)
    assert (s["kl_notebook"] >= s["kl_max"] - 1e-12).all()  # a max per class, then summed
    assert (s["kl_notebook"] > s["kl_max"] + 1e-6).any()
    logp = logits[:2] - exp._logsumexp(logits[:2])[..., None]
    p = np.exp(logp)
    by_hand = np.maximum(p[0] * (logp[0] - logp[1]), p[1] * (logp[1] - logp[0])).sum(-1)
    np.testing.assert_allclose(exp.score_all(logits[:2])["kl_notebook"], by_hand)
    tied = exp.tied_score(logits[0])  # one model twice: rounding only
    assert np.abs(tied).max() < 1e-5 and np.abs(tied).max() > 0


def test_mnist_fashion_notebook_cnn_is_the_mnist_example_net():
    import exp_mnist_fashion as exp
    import torch

    # conv 1->32 and 32->64 (3x3, unpadded), fc 9216->128, fc 128->10: 320 + 18,496 +
    # 1,179,776 + 1,290 parameters
    cfg = exp.Config(cnn_layout="notebook")
    models = exp.make_stack(cfg, exp.Setting("CNN", "cnn", 2), seed=0)
    assert all(isinstance(m, exp.NotebookCNN) for m in models)
    assert sum(p.numel() for p in models[0].parameters()) == 1_199_882
    out = models[0].eval()(torch.randn(3, 1, 28, 28))
    assert out.shape == (3, 10)
    assert not torch.equal(models[0].c1.weight, models[1].c1.weight)  # own initialisations


def test_mnist_fashion_resnet18_layout_and_its_input_size():
    import exp_mnist_fashion as exp
    import torch

    net = exp.ResNet18()
    assert sum(p.numel() for p in net.parameters()) == 11_175_370  # ResNet-18, one channel
    x = torch.randn(2, 1, 28, 28)
    big = exp.ResNet18(size=56).eval()
    big.load_state_dict(net.state_dict())
    with torch.inference_mode():
        same = big(torch.nn.functional.interpolate(x, size=(56, 56), mode="bilinear"))
        np.testing.assert_allclose(big(x).numpy(), same.numpy(), rtol=1e-5, atol=1e-5)
        assert net.eval()(x).shape == (2, 10)


def test_mnist_fashion_first_models_of_a_stack_are_the_smaller_stack():
    import exp_mnist_fashion as exp
    import torch

    x, y = _mnist_fashion_synthetic(96, seed=2)
    xt, yt = exp.to_input(x), torch.from_numpy(y)
    cfg = exp.Config(cnn_width=4, cnn_hidden=8)
    logits = []
    for m in (2, 3):
        models = exp.make_stack(cfg, exp.Setting("CNN", "cnn", m), seed=5)
        exp.train_joint(models, xt, yt, steps=6, batch=32, lr=1e-2, seed=5)
        logits.append(exp.logits_of(models, xt))
    np.testing.assert_array_equal(logits[0], logits[1][:2])
    assert np.abs(logits[1][0] - logits[1][1]).max() > 1e-3  # different init: not copies


def test_mnist_fashion_notebook_schedule_learns_nothing_in_its_first_epoch():
    import exp_mnist_fashion as exp
    import torch

    x, y = _mnist_fashion_synthetic(64, seed=3)
    xt, yt = exp.to_input(x), torch.from_numpy(y)
    cfg = exp.Config(cnn_width=4, cnn_hidden=8)
    before, after = [], []
    for epochs in (1, 2):
        models = exp.make_stack(cfg, exp.Setting("CNN", "cnn", 2), seed=1)
        for m in models:
            m.eval()  # no dropout while reading the logits (train_joint ends in eval too)
        before.append(exp.logits_of(models, xt))
        exp.train_joint(models, xt, yt, steps=2 * epochs, batch=32, lr=1e-2, seed=1,
                        decay_every=2, schedule="notebook")  # 2 steps per epoch
        after.append(exp.logits_of(models, xt))
    np.testing.assert_array_equal(before[0], after[0])  # epoch 0 trains at lr 0
    assert np.abs(after[1] - before[1]).max() > 1e-4  # epoch 1 at lr * 1 / 200


def test_mnist_fashion_parsers_read_idx_and_npm_json(tmp_path):
    import gzip
    import json

    import exp_mnist_fashion as exp

    x, _ = _mnist_fashion_synthetic(5, seed=3)
    with gzip.open(tmp_path / "img-idx3-ubyte.gz", "wb") as f:
        f.write(b"\x00\x00\x08\x03" + np.array(x.shape, ">i4").tobytes() + x.tobytes())
    np.testing.assert_array_equal(exp.read_idx(tmp_path / "img-idx3-ubyte.gz"), x)
    with pytest.raises(ValueError, match="idx"):
        (tmp_path / "bad").write_bytes(b"\x00\x00\x0d\x01" + b"\x00" * 8)
        exp.read_idx(tmp_path / "bad")
    paths = []
    for d in range(10):  # the npm package stores pixel / 255 rounded to 3 decimals
        p = tmp_path / f"{d}.json"
        p.write_text(json.dumps({"data": [round(v / 255, 3) for v in x[d % 5].ravel().tolist()]}))
        paths.append(p)
    xs, ys = exp.read_mnist_json(paths)
    assert xs.shape == (10, 28, 28) and ys.tolist() == list(range(10))
    np.testing.assert_array_equal(xs[:5], x)


def test_mingru_log_space_scan_is_the_recurrence():
    import exp_mingru_speed as exp
    import torch

    torch.manual_seed(0)
    x = torch.randn(3, 20, exp.D, dtype=torch.float64)
    w = torch.randn(exp.D, 2 * exp.D, dtype=torch.float64) / exp.D**0.5
    gate, cand = (x @ w).chunk(2, -1)
    z, g = torch.sigmoid(gate), exp._log_g(cand).exp()
    h, want = torch.zeros(3, exp.D, dtype=torch.float64), []
    for t in range(20):  # h_t = (1 - z_t) h_{t-1} + z_t g(cand_t)
        h = (1 - z[:, t]) * h + z[:, t] * g[:, t]
        want.append(h)
    for block in (1, 7, 20):  # the state carried across blocks
        got = exp.log_space_layer(x, w, block)
        assert torch.allclose(got, torch.stack(want, 1), rtol=1e-9, atol=1e-12)
    assert torch.all(g > 0)


def test_reverse_pair_mix_reads_right_context_and_weight_zero_is_the_finder(tiny_pair):
    import exp_reverse_pair as exp

    from textkl.finders import make_finder

    text = texts.english(300, seed=5) + " " + texts.french(200, seed=6)
    (pf, ef, pr, er), = exp.directions(tiny_pair, tiny_pair, [text])
    assert pf.shape == pr.shape == (len(text),)
    # the reverse direction's first character (the text's last) has no context: NaN
    assert np.isnan(pr[-1]) and not np.isnan(pr[0])
    finder = make_finder("decode").fit(tiny_pair.calibration, tiny_pair.lexicon)
    forward = exp.decode(finder, text, (pf, ef, pr, er), 0.0)
    assert forward == finder.predict(text, tiny_pair.score(text))
    assert np.array_equal(exp.mix(pf, pr, 1.0), np.where(np.isnan(pr), pf, pr))
