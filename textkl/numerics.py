"""Numbers every stage shares: the KL floor, the noise scale, the windowed means.

A leaf module (numpy only). The report, the span finders, the regions and the filter all
smooth the same per-character KL with ``centred_mean``, so one character gets one smoothed
value wherever it is shown or judged.
"""

from __future__ import annotations

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
    if window < 1:
        raise SettingError(f"window must be >= 1, got {window}")
    v = np.asarray(x, dtype=np.float64)
    ok = ~np.isnan(v)
    cs = np.concatenate(([0.0], np.cumsum(np.where(ok, v, 0.0))))
    cn = np.concatenate(([0], np.cumsum(ok)))
    idx = np.arange(len(v))
    lo = np.clip(idx - window // 2, 0, len(v))
    hi = np.clip(idx - window // 2 + window, 0, len(v))
    n = cn[hi] - cn[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (cs[hi] - cs[lo]) / np.maximum(n, 1), np.nan)


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
