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
