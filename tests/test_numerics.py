"""Shared numerics: the change-point search agrees with ruptures, the reference."""

from __future__ import annotations

import numpy as np
import pytest
import ruptures as rpt
from hypothesis import given, settings
from hypothesis import strategies as st

from textkl.numerics import (
    centred_mean,
    full_window_means,
    linear_pelt,
    linear_pelt_many,
    table_interp,
)


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


@pytest.mark.parametrize("seed", range(4))
def test_table_interp_equals_np_interp(seed):
    """Bit for bit ``np.interp`` on a quantile-like table: values off both ends, on the
    table's points, just above them, NaN, infinities, negatives, and a table with ties."""
    rng = np.random.default_rng(seed)
    xp = np.sort(rng.exponential(0.05, 1001)) + 1e-4
    if seed == 3:
        xp = np.sort(np.round(xp, 2)) + 1e-4  # runs of equal points
    fp = np.linspace(0.0, 1.0, len(xp))
    x = np.concatenate([rng.exponential(0.05, 20000), rng.uniform(-1.0, 2 * xp[-1], 5000),
                        xp, np.nextafter(xp, np.inf), [np.nan, np.inf, -np.inf, 0.0, -0.0]])
    got = table_interp(x, xp, fp, left=-7.0, right=9.0)
    want = np.interp(x, xp, fp, left=-7.0, right=9.0)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", range(8))
def test_linear_pelt_many_equals_one_at_a_time(seed):
    """Side by side, the same change points as ``linear_pelt`` signal by signal: lengths
    from 0 past ``SMALL_PELT``, two widths, rounded values (ties), shifted halves."""
    from textkl.numerics import SMALL_PELT

    rng = np.random.default_rng(seed)
    min_size = int(rng.integers(1, 5))
    signals, penalties = [], []
    for _ in range(150):
        n = int(rng.integers(0, SMALL_PELT + 20))
        x = rng.normal(0.0, 1.0, (n, int(rng.choice([3, 11]))))
        if seed % 2:
            x = np.round(x)
        if n > 10 and rng.random() < 0.5:
            x[n // 2 :] += rng.normal(0.0, 3.0, x.shape[1])
        signals.append(x)
        penalties.append(float(rng.uniform(0.5, 3.0) * x.shape[1] * np.log(max(n, 2))))
    want = [linear_pelt(x, pen, min_size) for x, pen in zip(signals, penalties)]
    assert linear_pelt_many(signals, penalties, min_size) == want
