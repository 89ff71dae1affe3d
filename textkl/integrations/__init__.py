"""Adapters that put textkl in corpus pipelines.

- ``textkl.integrations.datatrove``: ``TextklFilter``, a datatrove filter step
  (``pip install 'textkl[datatrove]'``).
- ``textkl.integrations.ray``: ``TextklScorer``, a callable class for Ray Data's
  ``Dataset.map_batches`` (``pip install 'textkl[ray]'``).

Both load the pair once per worker (task or actor) and score documents in batches with
``textkl.filter.score_documents``, so they give the same numbers as the API and the CLI.
"""

from __future__ import annotations

from typing import Any

from ..errors import SettingError
from ..filter import AUTO, PAIR, DocScore

SCORE_FIELDS = ("mean_kl", "ood_share", "percentile", "foreign_share")


def flat_scores(score: DocScore | None, reason: str | None, prefix: str = "textkl_"
                ) -> dict[str, Any]:
    """Flat metadata for one document: ``{prefix}mean_kl``, ... and ``{prefix}reason``
    (and ``{prefix}known_words`` when a screen judged it)."""
    d = score.to_dict() if score is not None else dict.fromkeys(SCORE_FIELDS)
    keys = (*SCORE_FIELDS, "known_words") if "known_words" in d else SCORE_FIELDS
    return {**{f"{prefix}{k}": d.get(k) for k in keys}, f"{prefix}reason": reason}


def screen_rule(screen: bool | str) -> str | None:
    """``Rules.screen`` for an adapter's ``screen`` argument: ``"auto"`` (as ``textkl
    filter``), True (as ``--screen``: the pair's own, else ``Screen()``) or False."""
    if screen == AUTO:
        return AUTO
    if isinstance(screen, bool):
        return PAIR if screen else None
    raise SettingError(f"screen must be 'auto', True or False, got {screen!r}")
