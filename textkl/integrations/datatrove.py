"""A datatrove filter step: keep documents that look like the model's book.

Example::

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from textkl.integrations.datatrove import TextklFilter

    LocalPipelineExecutor([
        JsonlReader("in/"),
        TextklFilter(model="runs/moby/pair.pt", max_foreign_share=0.3,
                     exclusion_writer=JsonlWriter("rejected/")),
        JsonlWriter("kept/"),
    ], tasks=2, workers=2).run()

Every document (kept or dropped) gains ``textkl_mean_kl``, ``textkl_ood_share``,
``textkl_percentile``, ``textkl_foreign_share`` and ``textkl_reason`` (None when kept) in
``doc.metadata``, and with a screen (the default for a pair that stores one)
``textkl_known_words``.
"""

from __future__ import annotations

from typing import Any

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from ..filter import DEFAULT_MAX_FOREIGN_SHARE, Rules, score_documents
from . import flat_scores, screen_rule


class TextklFilter(BaseFilter):
    """Drops documents whose self-KL against the model's book breaks a rule.

    Args:
        model: model file or directory; None for the embedded default pair.
        max_foreign_share, max_mean_kl, max_ood_share, min_length: the rules of
            ``textkl.filter.Rules`` (by default, as ``textkl filter``'s).
        screen: decide by the word list first (``textkl.filter.Screen``; adds
            ``known_words``): ``"auto"`` (as ``textkl filter``: the pair's own screen where
            its file stores one and no KL rule is set), True or False.
        batch_size: documents scored together (their windows share forward passes).
        score_batch_size: windows per forward pass (default: the model's).
        device: ``cpu``, ``cuda`` or ``auto``.
        precision: ``fp32``, ``bf16``, ``int8`` or ``auto`` (as ``textkl filter --precision``:
            bfloat16 on a CPU with AMX, float32 elsewhere).
        threads: torch CPU threads per task (None leaves torch's default).
        prefix: prefix of the metadata keys.
        exclusion_writer: a datatrove writer for the dropped documents.
    """

    name = "textkl self-KL"

    def __init__(self, model: str | None = None, *, max_mean_kl: float | None = None,
                 max_ood_share: float | None = None, min_length: int = 0,
                 max_foreign_share: float | None = DEFAULT_MAX_FOREIGN_SHARE,
                 screen: bool | str = "auto", batch_size: int = 8192,
                 score_batch_size: int | None = None, device: str = "cpu",
                 precision: str = "auto", threads: int | None = None,
                 prefix: str = "textkl_", exclusion_writer: Any = None) -> None:
        from ..score import check_precision

        super().__init__(exclusion_writer, batch_size=batch_size)
        self.model, self.device, self.threads, self.prefix = model, device, threads, prefix
        self.precision = check_precision(precision)  # wrong: an error now, not in a worker
        self.rules = Rules(max_mean_kl=max_mean_kl, max_ood_share=max_ood_share,
                           min_length=min_length, max_foreign_share=max_foreign_share,
                           screen=screen_rule(screen))
        self.score_batch_size = score_batch_size
        self._pair = None  # loaded on the first batch, once per task (never pickled)
        self._dtype = None  # the scorer's dtype, chosen for the machine the pair loads on

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_pair": None, "_dtype": None}

    @property
    def pair(self):
        if self._pair is None:
            import torch

            from ..pair import load, resolve_device
            from ..score import precision_dtype

            if self.threads:
                torch.set_num_threads(self.threads)
            self._pair = load(self.model, device=resolve_device(self.device))
            self._dtype = precision_dtype(self.precision, self._pair.device)
            self.rules = self.rules.for_pair(self._pair)  # its own screen, if any
        return self._pair

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        """Score the batch together; write the scores into each ``doc.metadata``."""
        pair = self.pair  # loads it and chooses the dtype, on the first batch
        judged = score_documents(pair, [d.text for d in batch], self.rules,
                                 batch_size=self.score_batch_size, dtype=self._dtype)
        out: list[bool | tuple[bool, str]] = []
        for doc, (score, reason, _) in zip(batch, judged, strict=True):
            doc.metadata.update(flat_scores(score, reason, self.prefix))
            out.append(True if reason is None else (False, reason))
            if score is not None:
                self.stat_update("textkl_chars", value=score.n_chars)
        return out
