"""Shared numerics: the change-point search agrees with ruptures, the reference."""

from __future__ import annotations

import numpy as np
import pytest
import ruptures as rpt
from hypothesis import given, settings
from hypothesis import strategies as st

from textkl.numerics import centred_mean, full_window_means, linear_pelt


def _signal(seed: int, n: int, dims: int, changes: int) -> np.ndarray:
    """Gaussian noise (n, dims) whose mean jumps at ``changes`` random places."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dims))
    for c in rng.integers(0, n, size=changes):
        x[c:] += rng.normal(0, 3, size=dims)
    return x


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(4, 90), dims=st.integers(1, 5),
       min_size=st.integers(1, 4), pen=st.floats(0.5, 40.0), changes=st.integers(0, 4))
def test_linear_pelt_equals_ruptures(seed, n, dims, min_size, pen, changes):
    if n < 2 * min_size:
        return
    x = _signal(seed, n, dims, changes)
    want = rpt.KernelCPD(kernel="linear", min_size=min_size).fit(x).predict(pen=pen)
    assert linear_pelt(x, pen, min_size) == want


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(4, 160), dims=st.integers(1, 5),
       min_size=st.integers(1, 4), pen=st.floats(0.5, 40.0), changes=st.integers(0, 4))
def test_linear_pelt_short_path_equals_the_pruned_search(seed, n, dims, min_size, pen, changes):
    from unittest import mock

    from textkl import numerics

    if n < 2 * min_size:
        return
    x = _signal(seed, n, dims, changes)
    with mock.patch.object(numerics, "SMALL_PELT", 0):
        pruned = linear_pelt(x, pen, min_size)
    with mock.patch.object(numerics, "SMALL_PELT", 10**6):
        short = linear_pelt(x, pen, min_size)
    assert short == pruned
    if n > numerics.SMALL_PELT:  # the pruned search, against ruptures too
        want = rpt.KernelCPD(kernel="linear", min_size=min_size).fit(x).predict(pen=pen)
        assert pruned == want


def test_linear_pelt_finds_an_obvious_change():
    x = np.concatenate([np.zeros(50), np.full(50, 5.0)]) + 0.01 * np.arange(100) % 0.1
    assert linear_pelt(x, penalty=5.0, min_size=2) == [50, 100]
    assert linear_pelt(np.zeros(0), 1.0) == [0]


def test_full_window_means_drop_nan_first():
    x = np.array([1.0, np.nan, 3.0, 5.0])
    np.testing.assert_allclose(full_window_means(x, 2), [2.0, 4.0])
    assert len(full_window_means(x, 4)) == 0
    with pytest.raises(ValueError):
        centred_mean(x, 0)
