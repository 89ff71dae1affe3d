"""Numbers every stage shares: the KL floor, the noise scale, the windowed means.

A leaf module (numpy only). The report, the span finders, the regions and the filter all
smooth the same per-character KL with ``centred_mean``, so one character gets one smoothed
value wherever it is shown or judged.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np

from .errors import SettingError

KL_FLOOR = 1e-4  # nats added before a log: the book's KL sits around 1e-3..1e-2 nats
MAD_TO_SIGMA = 0.6745  # median absolute deviation of a standard normal
SURPRISE_CLIP = 3.0  # nats: excess surprisal is clipped to +-this before it is evidence


def block_index(starts: np.ndarray, n: int) -> np.ndarray:
    """int64 (n,): for each position 0..n-1 the index of the last of ``starts`` (sorted)
    at or before it, -1 before the first: ``searchsorted(starts, arange(n), "right") - 1``
    by ``np.repeat``, without a search per position.

    Raises:
        ValueError: ``starts`` not sorted.
    """
    clipped = np.clip(np.asarray(starts, dtype=np.int64), 0, n)
    if np.any(clipped[1:] < clipped[:-1]):
        raise ValueError("block starts must be sorted")
    out = np.full(n, -1, dtype=np.int64)
    if len(clipped):
        out[clipped[0] :] = np.repeat(np.arange(len(clipped)),
                                      np.diff(np.append(clipped, n)))
    return out


def log_kl(kl: np.ndarray) -> np.ndarray:
    """float64 (N,) ``log(max(kl, 0) + KL_FLOOR)``; NaN stays NaN."""
    return np.log(np.maximum(np.asarray(kl, dtype=np.float64), 0.0) + KL_FLOOR)


def diff_noise(x: np.ndarray, axis: int = 0) -> np.ndarray | float:
    """Robust standard deviation of white noise in ``x``, from its first differences."""
    return np.median(np.abs(np.diff(x, axis=axis)), axis=axis) / (MAD_TO_SIGMA * np.sqrt(2.0))


def centred_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean of the non-NaN values of ``x[i - window // 2 : i - window // 2 + window]`` per i.

    The window is centred on i and cut at the ends of ``x`` (it does not slide inwards), so
    the first value is the mean of ``x[: window - window // 2]``.

    Args:
        x: float (N,), NaN where undefined.
        window: >= 1.

    Returns:
        float64 (N,); NaN only where the whole window is NaN.
    """
    return centred_means([x], window)


def centred_means(xs: Sequence[np.ndarray], window: int) -> np.ndarray:
    """``centred_mean`` of each array of ``xs``, one after another: float64 (sum of lengths,),
    the same values as array by array (each array's running sum starts from 0; one
    running sum over all would round differently)."""
    if window < 1:
        raise SettingError(f"window must be >= 1, got {window}")
    lengths = np.array([len(x) for x in xs], dtype=np.int64)
    off = np.concatenate(([0], np.cumsum(lengths)))
    v = np.concatenate([np.asarray(x, dtype=np.float64) for x in xs]) if len(xs) else np.zeros(0)
    ok = ~np.isnan(v)
    cs = running_sums(np.where(ok, v, 0.0), off)
    cn = np.concatenate(([0], np.cumsum(ok)))  # integers: one running count serves all
    which = np.repeat(np.arange(len(xs)), lengths)
    idx = np.arange(len(v))
    lo = np.clip(idx - window // 2, off[:-1][which], off[1:][which])
    hi = np.clip(idx - window // 2 + window, off[:-1][which], off[1:][which])
    n = cn[hi] - cn[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (cs[hi + which] - cs[lo + which]) / np.maximum(n, 1), np.nan)


def running_sums(x: np.ndarray, off: np.ndarray) -> np.ndarray:
    """float64 (N + K,): for each piece ``x[off[k]:off[k + 1]]`` of ``x`` (float (N,);
    ``off`` int (K + 1,) from 0 to N), ``[0, cumsum(piece)]``, one after another: the sum
    of piece k before position i (``off[k] <= i <= off[k + 1]``) is at ``i + k``. The same
    values as each piece's own ``cumsum`` (one running sum over all would round
    differently)."""
    out = np.empty(len(x) + len(off) - 1)
    for k, (a, b) in enumerate(zip(off[:-1].tolist(), off[1:].tolist())):
        out[a + k] = 0.0
        np.cumsum(x[a:b], out=out[a + k + 1 : b + k + 1])
    return out


def full_window_means(x: np.ndarray, window: int) -> np.ndarray:
    """Means of every full window of ``window`` consecutive non-NaN values of ``x``.

    What the calibration summarises: the distribution of window means on the book.

    Returns:
        float64 (max(0, n - window + 1),) where n is the count of non-NaN values.
    """
    if window < 1:
        raise SettingError(f"window must be >= 1, got {window}")
    v = np.asarray(x, dtype=np.float64)
    v = v[~np.isnan(v)]
    if len(v) < window:
        return np.zeros(0)
    c = np.concatenate(([0.0], np.cumsum(v)))
    return (c[window:] - c[:-window]) / window


SMALL_PELT = 128  # signals up to this long run the search over Python floats


def _short_pelt(sq: np.ndarray, cs: np.ndarray, penalty: float,
                             min_size: int) -> list[int]:
    """``linear_pelt``'s search for a short signal: every segment cost at once in numpy,
    then the same pruned dynamic program over Python floats (the same costs, candidates,
    pruning and ties; a few microseconds per step where numpy calls cost tens)."""
    n = len(sq) - 1
    d = cs[None, :, :] - cs[:, None, :]  # d[s, t] = cs[t] - cs[s]
    span = np.arange(n + 1)
    with np.errstate(divide="ignore", invalid="ignore"):  # s == t: never a candidate
        cost = (sq[None, :] - sq[:, None] - (d * d).sum(-1) / (span[None, :] - span[:, None])
                ).tolist()
    best, path, prune = [0.0] * (n + 1), [0] * (n + 1), [0.0] * (n + 1)
    for t in range(1, min(2 * min_size, n + 1)):
        best[t] = cost[0][t] + penalty
    s_min = 0
    for t in range(2 * min_size, n + 1):
        arg, low = -1, 0.0
        for s in (s_min, *range(max(s_min + 1, min_size), t - min_size + 1)):
            total = prune[s] = best[s] + cost[s][t]
            if arg < 0 or total < low:
                arg, low = s, total
        best[t], path[t] = low + penalty, arg
        while prune[s_min] >= best[t] and s_min < t - min_size + 1:
            s_min = min_size if s_min == 0 else s_min + 1
    ends, t = [], n
    while t > 0:
        ends.append(t)
        t = path[t]
    return ends[::-1]


def linear_pelt(x: np.ndarray, penalty: float, min_size: int = 2) -> list[int]:
    """Penalised change points of the mean of a multivariate signal (PELT).

    Minimises the sum over segments of the squared deviations from the segment's mean,
    plus ``penalty`` per segment, over segments of at least ``min_size`` samples: what
    ruptures' ``KernelCPD(kernel="linear", min_size=min_size).fit(x).predict(pen=penalty)``
    returns (the same dynamic program and pruning rule; ties go to the earliest cut), in
    numpy, without the seconds that importing ruptures and scipy costs. Like ruptures'
    search, the pruning can drop the optimum on rare inputs (9 samples, ``min_size`` 3:
    three segments at cost 7.498 where one costs 7.482).

    Args:
        x: float (N, D) or (N,) signal.
        penalty: cost of one more segment (> 0).
        min_size: fewest samples per segment (>= 1).

    Returns:
        Sorted segment ends, the last one ``N`` (as ruptures gives them).
    """
    v = np.asarray(x, dtype=np.float64)
    n = len(v)
    if n == 0:
        return [0]
    v = v.reshape(n, -1)
    sq = np.concatenate(([0.0], np.cumsum((v * v).sum(1))))  # (N+1,) sums of |x|^2
    cs = np.vstack([np.zeros((1, v.shape[1])), np.cumsum(v, 0)])  # (N+1, D) sums of x
    if n <= SMALL_PELT:
        return _short_pelt(sq, cs, penalty, min_size)

    def cost(s: np.ndarray, t: int) -> np.ndarray:  # squared deviations of segments [s, t)
        d = cs[t] - cs[s]
        return sq[t] - sq[s] - (d * d).sum(1) / (t - s)

    best = np.zeros(n + 1)  # best[t]: optimal penalised cost of x[:t]
    path = np.zeros(n + 1, dtype=np.int64)  # path[t]: the last cut of that optimum
    prune = np.zeros(n + 1)
    for t in range(1, min(2 * min_size, n + 1)):
        best[t] = cost(np.zeros(1, dtype=np.int64), t)[0] + penalty
    s_min = 0
    for t in range(2 * min_size, n + 1):
        cands = np.concatenate(([s_min], np.arange(max(s_min + 1, min_size), t - min_size + 1)))
        total = best[cands] + cost(cands, t)
        prune[cands] = total
        k = int(np.argmin(total))
        best[t], path[t] = total[k] + penalty, cands[k]
        while prune[s_min] >= best[t] and s_min < t - min_size + 1:
            s_min = min_size if s_min == 0 else s_min + 1
    ends, t = [], n
    while t > 0:
        ends.append(t)
        t = int(path[t])
    return ends[::-1]


_KEY_SHIFT = 42  # a float64's sign, exponent and top 10 mantissa bits: 1/1024 of a binade


def table_interp(x: np.ndarray, xp: np.ndarray, fp: np.ndarray, left: float, right: float
                 ) -> np.ndarray:
    """``np.interp(x, xp, fp, left=left, right=right)`` for a large ``x`` and a table ``xp``
    (sorted, float64) of non-negative values, the same values bit for bit.

    ``np.interp`` binary-searches the table for each value, about 100 ns each on 1,001
    points. Here each value's bucket (its float64 bits, to 1/1024 of a power of two: an
    order-preserving key for non-negative floats) gives the last table point at or below
    the bucket's start, and a step or two forward finds its own; the value is then
    interpolated with ``np.interp``'s formula and ``np.interp``'s slopes. Falls back to
    ``np.interp`` for a table with negative values or where the buckets would be many.
    """
    x = np.asarray(x, dtype=np.float64)
    xp, fp = np.asarray(xp, dtype=np.float64), np.asarray(fp, dtype=np.float64)
    if (x.ndim != 1 or len(xp) < 2 or len(x) < 4 * len(xp) or not xp[0] > 0.0
            or not np.isfinite(xp[-1])):
        return np.interp(x, xp, fp, left=left, right=right)
    first = int(xp[:1].view(np.int64)[0] >> _KEY_SHIFT)
    last = int(xp[-1:].view(np.int64)[0] >> _KEY_SHIFT)
    if last - first > 1 << 20:
        return np.interp(x, xp, fp, left=left, right=right)
    # the last table point at or below each bucket's smallest value (the first if none)
    bucket_start = (np.arange(first, last + 1, dtype=np.int64) << _KEY_SHIFT).view(np.float64)
    guide = np.maximum(np.searchsorted(xp, bucket_start, side="right") - 1, 0)
    key = (x.view(np.int64) >> _KEY_SHIFT) - first
    np.clip(key, 0, last - first, out=key)  # NaN and values off the table: any bucket
    j = guide[key]
    ahead_of = np.append(xp[1:], np.nan)  # xp[j + 1]; NaN stops the last point's steps
    while True:  # step forward to the last table point at or below each value
        ahead = ahead_of[j] <= x
        if not ahead.any():
            break
        j += ahead
    with np.errstate(divide="ignore", invalid="ignore"):  # inf and NaN are set below
        slopes = np.append((fp[1:] - fp[:-1]) / (xp[1:] - xp[:-1]), 0.0)
        out = slopes[j] * (x - xp[j]) + fp[j]
    out[x >= xp[-1]] = fp[-1]
    out[x > xp[-1]] = right
    out[x < xp[0]] = left
    out[np.isnan(x)] = np.nan
    return out


def linear_pelt_many(signals: list[np.ndarray], penalties: list[float], min_size: int = 2
                     ) -> list[list[int]]:
    """``[linear_pelt(x, pen, min_size) for x, pen in zip(signals, penalties)]``, the same
    change points: the short signals' dynamic programs run side by side.

    A text's region step cuts hundreds of foreign pieces of a few dozen blocks each, and
    one ``linear_pelt`` of 17 blocks costs about 200 us, most of it Python. Here the short
    signals (up to ``SMALL_PELT``), sorted by length and taken 64 at a time, step
    together through time, one numpy operation per step over all of them: the same
    segment costs (computed the same way), the same candidates, pruning and ties.
    """
    out: list[list[int] | None] = [None] * len(signals)
    short: list[tuple[int, int, int, np.ndarray, float]] = []
    for i, (x, pen) in enumerate(zip(signals, penalties)):
        v = np.asarray(x, dtype=np.float64)
        if 2 * min_size <= len(v) <= SMALL_PELT:
            v = v.reshape(len(v), -1)
            short.append((v.shape[1], len(v), i, v, float(pen)))
        else:
            out[i] = linear_pelt(v, pen, min_size)
    short.sort(key=lambda item: item[:2])
    width = [item[0] for item in short]
    g = 0
    while g < len(short):  # groups of one width, at most 64 signals
        stop = min(g + 64, bisect.bisect_right(width, width[g]))
        group = short[g:stop]
        ends = _pelt_group([item[3] for item in group], np.array([item[4] for item in group]),
                           min_size)
        for item, e in zip(group, ends):
            out[item[2]] = e
        g = stop
    return out  # type: ignore[return-value]


def _pelt_group(signals: list[np.ndarray], penalty: np.ndarray, min_size: int
                ) -> list[list[int]]:
    """``linear_pelt`` of G signals of one width and at least ``2 * min_size`` samples,
    stepping together; the shorter ones are padded with zeros and stop at their end."""
    lengths = np.array([len(v) for v in signals])
    g, n, dims = len(signals), int(lengths.max()), signals[0].shape[1]
    v = np.zeros((g, n, dims))
    for j, x in enumerate(signals):
        v[j, : len(x)] = x
    sq = np.zeros((g, n + 1))
    sq[:, 1:] = np.cumsum((v * v).sum(2), axis=1)
    cs = np.zeros((g, n + 1, dims))
    cs[:, 1:] = np.cumsum(v, axis=1)
    rows = np.arange(g)
    best, prune = np.zeros((g, n + 1)), np.zeros((g, n + 1))
    path = np.zeros((g, n + 1), dtype=np.int64)
    for t in range(1, 2 * min_size):
        d = cs[:, t] - cs[:, 0]
        best[:, t] = sq[:, t] - sq[:, 0] - (d * d).sum(-1) / t + penalty
    s_min = np.zeros(g, dtype=np.int64)
    for t in range(2 * min_size, n + 1):
        last = t - min_size + 1  # candidates s < last
        s = np.arange(last)
        d = cs[:, t, None, :] - cs[:, :last, :]
        total = best[:, :last] + (sq[:, t, None] - sq[:, :last] - (d * d).sum(-1) / (t - s))
        cand = (s == s_min[:, None]) | (s >= np.maximum(s_min + 1, min_size)[:, None])
        total = np.where(cand, total, np.inf)
        prune[:, :last] = np.where(cand, total, prune[:, :last])
        k = np.argmin(total, axis=1)
        best[:, t], path[:, t] = total[rows, k] + penalty, k
        live = t <= lengths
        while True:
            move = live & (prune[rows, s_min] >= best[:, t]) & (s_min < last)
            if not move.any():
                break
            s_min = np.where(move, np.where(s_min == 0, min_size, s_min + 1), s_min)
    out = []
    for j in range(g):
        ends, t = [], int(lengths[j])
        while t > 0:
            ends.append(t)
            t = int(path[j, t])
        out.append(ends[::-1])
    return out
