"""Shared fixtures: a tiny pair trained in seconds on English written for the tests."""

from __future__ import annotations

import pytest
import torch

from tests import texts

torch.set_num_threads(1)  # small models: one thread is fastest and avoids oversubscription


@pytest.fixture(scope="session")
def english_text() -> str:
    return texts.english(40_000, seed=1)


@pytest.fixture(scope="session")
def tiny_pair(english_text):
    """A 2-model LSTM pair (d=48) trained for ~10 s on generated English."""
    from textkl.training import TrainConfig, train_on_text

    cfg = TrainConfig(steps=300, batch_size=32, seq_len=64, lr=1e-2, eval_every=100,
                      warmup_steps=30, calib_chars=20_000, seed=0)
    return train_on_text(english_text, d_model=48, d_embed=16, config=cfg, device="cpu",
                         progress=False)


@pytest.fixture(scope="session")
def tiny_pair_path(tiny_pair, tmp_path_factory):
    return tiny_pair.save(tmp_path_factory.mktemp("pair") / "tiny.pt")


@pytest.fixture(scope="session")
def english_pair():
    """The embedded default pair (``english``), loaded once."""
    import textkl

    return textkl.load("english")
