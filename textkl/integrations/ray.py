"""A Ray Data scorer: ``ds.map_batches(TextklScorer, ...)`` with the model loaded once per actor.

Example::

    import ray
    from textkl.integrations.ray import TextklScorer

    ray.init(num_cpus=2)
    ds = ray.data.read_json("docs.jsonl")
    scored = ds.map_batches(TextklScorer, fn_constructor_kwargs={"model": "runs/moby/pair.pt"},
                            batch_size=64, concurrency=2, num_cpus=1)
    kept = scored.filter(lambda row: row["textkl_keep"])

Each batch gains the columns ``textkl_mean_kl``, ``textkl_ood_share``,
``textkl_percentile``, ``textkl_foreign_share`` (float, NaN when not scored),
``textkl_reason`` (str, "" when kept) and ``textkl_keep`` (bool), and with a screen
(the default for a pair that stores one) ``textkl_known_words`` (float).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..filter import DEFAULT_MAX_FOREIGN_SHARE, Rules, score_documents
from . import SCORE_FIELDS, screen_rule


class TextklScorer:
    """Callable class for ``Dataset.map_batches``; one instance (one pair) per actor.

    Args:
        model: model file or directory; None for the embedded default pair.
        field: column that holds the text.
        max_foreign_share, max_mean_kl, max_ood_share, min_length: the rules of
            ``textkl.filter.Rules`` (by default, as ``textkl filter``'s).
        screen: decide by the word list first (``textkl.filter.Screen``; adds
            ``known_words``): ``"auto"`` (as ``textkl filter``: the pair's own screen where
            its file stores one and no KL rule is set), True or False.
        device: ``cpu``, ``cuda`` or ``auto``.
        precision: ``fp32``, ``bf16``, ``int8`` or ``auto`` (as ``textkl filter --precision``:
            bfloat16 on a CPU with AMX, float32 elsewhere).
        threads: torch CPU threads per actor (keep actors x threads <= cores).
        score_batch_size: windows per forward pass (default: the model's).
        prefix: prefix of the added columns.
    """

    def __init__(self, model: str | None = None, *, field: str = "text",
                 max_mean_kl: float | None = None,
                 max_ood_share: float | None = None, min_length: int = 0,
                 max_foreign_share: float | None = DEFAULT_MAX_FOREIGN_SHARE,
                 screen: bool | str = "auto", device: str = "cpu", precision: str = "auto",
                 threads: int | None = 1, score_batch_size: int | None = None,
                 prefix: str = "textkl_") -> None:
        import torch

        from ..pair import load, resolve_device
        from ..score import precision_dtype

        if threads:
            torch.set_num_threads(threads)
        self.pair = load(model, device=resolve_device(device))
        self.dtype = precision_dtype(precision, self.pair.device)
        self.field, self.prefix, self.score_batch_size = field, prefix, score_batch_size
        self.rules = Rules(max_mean_kl=max_mean_kl, max_ood_share=max_ood_share,
                           min_length=min_length, max_foreign_share=max_foreign_share,
                           screen=screen_rule(screen)).for_pair(self.pair)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Add the score columns to a numpy batch (``batch_format="numpy"``)."""
        texts = [t if isinstance(t, str) else None for t in batch[self.field].tolist()]
        judged = score_documents(self.pair, texts, self.rules, batch_size=self.score_batch_size,
                                 dtype=self.dtype)
        out = dict(batch)
        for k in (*SCORE_FIELDS, "known_words") if self.rules.screen else SCORE_FIELDS:
            out[self.prefix + k] = np.array(
                [np.nan if s is None or s.to_dict()[k] is None else getattr(s, k)
                 for s, _, _ in judged], dtype=np.float64)
        out[self.prefix + "reason"] = np.array([r or "" for _, r, _ in judged], dtype=object)
        out[self.prefix + "keep"] = np.array([r is None for _, r, _ in judged], dtype=bool)
        return out


def score_dataset(ds: Any, model: str | None = None, *, batch_size: int = 64,
                  concurrency: int = 1, num_cpus: float = 1.0, **scorer_kw: Any) -> Any:
    """``ds.map_batches`` with ``TextklScorer`` on ``concurrency`` actors of ``num_cpus`` each."""
    return ds.map_batches(TextklScorer, fn_constructor_kwargs={"model": model, **scorer_kw},
                          batch_size=batch_size, batch_format="numpy",
                          concurrency=concurrency, num_cpus=num_cpus)
