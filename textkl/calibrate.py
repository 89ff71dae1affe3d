"""What the score looks like on the book itself: thresholds in nats and percentiles.

After training, the per-character self-KL on held-out book text is summarised by its
mean and by quantile tables of the per-character values and of sliding-window means at a
few window sizes. Later stages set thresholds relative to these ("above the book's
99th percentile of 30-character means") instead of in raw nats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .errors import SettingError
from .numerics import full_window_means, table_interp

WINDOWS = (1, 10, 30, 100)
_GRID = np.linspace(0.0, 1.0, 1001)  # quantile levels stored per window


@dataclass(frozen=True)
class Calibration:
    """Statistics of the self-KL (nats) on held-out text of the training book.

    Attributes:
        n_chars: characters of held-out text measured.
        mean_kl, mean_nll, mean_entropy: per-character means, in nats.
        quantiles: window size -> values of the KL window means at levels ``0, 0.001, ..., 1``.
    """

    n_chars: int
    mean_kl: float
    mean_nll: float
    mean_entropy: float
    quantiles: dict[int, list[float]] = field(default_factory=dict)

    def threshold(self, q: float, window: int = 1) -> float:
        """The book's ``q`` quantile (0..1) of ``window``-character KL means, in nats."""
        if not 0.0 <= q <= 1.0:
            raise SettingError(f"q must be in [0, 1], got {q}")
        return float(np.interp(q, _GRID, self._table(window)))

    def percentile(self, values: np.ndarray | float, window: int = 1) -> np.ndarray:
        """Percentile (0..100) of each value among the book's ``window``-character KL means."""
        table = self._table(window)
        v = np.asarray(values, dtype=np.float64)
        # the right-continuous inverse of the quantile table; flat runs take their upper end
        pct = table_interp(v, table, _GRID, left=0.0, right=1.0) * 100.0
        return np.where(np.isnan(v), np.nan, pct)

    def _table(self, window: int) -> np.ndarray:
        if window not in self.quantiles:
            raise SettingError(f"no calibration for window {window}; have {sorted(self.quantiles)}")
        return self._arrays[window]

    @cached_property
    def _arrays(self) -> dict[int, np.ndarray]:
        """The quantile tables as arrays, built once (a filter asks for them per document)."""
        return {w: np.asarray(v, dtype=np.float64) for w, v in self.quantiles.items()}

    def to_dict(self) -> dict:
        return {
            "n_chars": self.n_chars,
            "mean_kl": self.mean_kl,
            "mean_nll": self.mean_nll,
            "mean_entropy": self.mean_entropy,
            "quantiles": {str(k): v for k, v in self.quantiles.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> Calibration:
        q = {int(k): list(v) for k, v in d["quantiles"].items()}
        return cls(int(d["n_chars"]), float(d["mean_kl"]), float(d["mean_nll"]),
                   float(d["mean_entropy"]), q)

    def summary(self) -> str:
        """One line: mean and tail of the per-character KL on the book."""
        return (f"book held-out: mean KL {self.mean_kl:.4f} nats ({self.mean_kl / np.log(2):.4f} "
                f"bits), q99 {self.threshold(0.99):.4f}, q99 of 30-char means "
                f"{self.threshold(0.99, 30):.4f} nats over {self.n_chars} chars")


def calibrate(kl: np.ndarray, nll: np.ndarray, entropy: np.ndarray,
              windows: tuple[int, ...] = WINDOWS) -> Calibration:
    """Build the calibration from per-character scores of held-out book text."""
    ok = ~np.isnan(kl)
    if ok.sum() < max(windows):
        raise SettingError(f"need at least {max(windows)} scored characters, got {int(ok.sum())}")
    quantiles = {w: np.quantile(full_window_means(kl, w), _GRID).round(7).tolist() for w in windows}
    return Calibration(int(ok.sum()), float(np.nanmean(kl)), float(np.nanmean(nll)),
                       float(np.nanmean(entropy)), quantiles)
