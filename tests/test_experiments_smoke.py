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
    pytest.importorskip("sklearn")
    import exp_digits as exp

    out = exp.run(epochs=4, n_opt=48, opt_steps=60)
    assert min(out["accuracy"]) > 0.8
    rows = {r["inputs"]: r for r in out["rows"]}
    assert rows["uniform noise"]["AUROC self_kl"] > 0.8
    fooled = rows["optimised for A"]
    assert fooled["mean_msp_A"] > 0.9  # model A is sure of itself on a non-digit
    assert fooled["AUROC one_minus_msp_A"] < 0.5  # so its own confidence cannot flag it
    assert out["trace"][0]["step"] == 0 and out["trace"][-1]["msp_A"] > out["trace"][0]["msp_A"]
