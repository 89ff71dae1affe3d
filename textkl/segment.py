"""Segmenting a text: score it, find its spans, group the foreign ones into regions.

The one function here, ``segment_text``, runs the pipeline; each step lives in its own
module: the scorer (``textkl.score``), the span finders (``textkl.finders``, chosen by
name or given as an object), the regions (``textkl.regions``). It imports no torch: the
pair scores the text.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .errors import SettingError
from .finders import SpanFinder, make_finder
from .regions import RegionConfig, assign_regions, single_region
from .spans import Segment

if TYPE_CHECKING:
    import torch

    from .pair import Pair
    from .score import Scores

Regions = RegionConfig | int | str | None  # what ``segment_text(regions=...)`` takes


def region_config(regions: Regions, seed: int = 0) -> RegionConfig | None:
    """``"auto"`` or K -> a ``RegionConfig`` with that many regions; a config as is; None
    (no region step) stays None."""
    if regions is None or isinstance(regions, RegionConfig):
        return regions
    if regions == "auto" or (isinstance(regions, int) and not isinstance(regions, bool)):
        return RegionConfig(clusters=regions, seed=seed)
    raise SettingError(f"regions must be 'auto', a positive int, a RegionConfig or None, "
                       f"got {regions!r}")


def wants_features(config: RegionConfig | None) -> bool:
    """Whether the region step of ``config`` reads the pooled hidden states (``Pair.score``
    with ``features=True``): only with ``pca_dims`` > 0, not by default."""
    return config is not None and config.pca_dims > 0


@contextmanager
def paused_gc() -> Iterator[None]:
    """Hold off Python's cyclic garbage collector, restoring its state on exit.

    The span finder and the region step allocate many small tuples; each few hundred
    wake the collector, whose full passes walk every object of the process (torch's and
    scikit-learn's included): 0.24 s of the 2.2 s that 1,000,000 characters spend after
    scoring (AMD EPYC, 2026-12-02). They make no reference cycles, so reference counting
    frees them anyway.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def segment_text(pair: Pair, text: str, *, finder: str | SpanFinder = "decode",
                 regions: Regions = "auto", scores: Scores | None = None, seed: int = 0,
                 dtype: torch.dtype | None = None
                 ) -> list[Segment]:
    """Cut ``text`` into book-like and foreign spans and group the foreign ones into regions.

    Args:
        pair: a calibrated ``Pair`` (its calibration and lexicon fit the finder).
        text: any string; ``""`` gives ``[]``.
        finder: ``decode`` (default), ``hysteresis``, ``changepoint`` (with the settings
            stored for the pair, ``pair.defaults(name)``), or a span finder object
            (``textkl.finders.make_finder("decode", level=0.9)``).
        regions: ``"auto"``, a number K of foreign regions, a ``RegionConfig``, or None to
            skip the region step (book-like spans region 0, foreign spans region 1).
        scores: scores of ``text`` from ``Pair.score`` (with ``features=True`` when the
            region config has ``pca_dims`` > 0); scored here if None or without them.
        seed: seed of the region step's k-means pre-grouping, for ``"auto"`` or K.
        dtype: autocast dtype of the scorer's matmuls when ``text`` is scored here
            (``Pair.score``; None: float32).

    Returns:
        Segments sorted and tiling ``[0, len(text))``; region 0 holds the book-like spans.

    Raises:
        SettingError: an unknown finder or bad ``regions``, or scores of another length.
        ModelFileError: a pair without calibration.
    """
    settings = pair.defaults(finder) if isinstance(finder, str) else {}
    span_finder = make_finder(finder, **settings).fit(pair.calibration, pair.lexicon)
    config = region_config(regions, seed)
    if not text:
        return []
    if scores is None or (config is not None and scores.feature_offsets is None and text) \
            or (wants_features(config) and scores.features is None):
        scores = pair.score(text, features=wants_features(config), dtype=dtype)
    if len(scores) != len(text):
        raise SettingError(f"scores have {len(scores)} values for {len(text)} characters")
    with paused_gc():
        spans = span_finder.predict(text, scores)
        if config is None:
            return single_region(spans, scores)
        return assign_regions(text, spans, scores, config)
