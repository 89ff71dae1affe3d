"""The fused statistics of M models' next-character distributions: KL, NLL, entropy.

One pass over each model's log-probabilities gives every statistic the scorer reports.
A leaf module (torch only), shared by the models' inference methods and the scorer.
"""

from __future__ import annotations

import torch

STATS_ROWS = 1024  # rows of the head and statistics per step on a CPU: each step stays in cache
# ... under bfloat16 autocast (a CPU with AMX): the head's matmul costs little there, the
# per-call overhead of the many small statistics kernels shows, and 4,096 rows score 1 MB
# in 1.27 s against 1.52 s (Intel Xeon with AMX, 2026-12-02; the same values bit for bit)
STATS_ROWS_BF16 = 4096


def model_stats(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """One model's share of ``pair_stats``: logits (..., V), targets (...) int64 ->
    log-probabilities and probabilities (float32 (..., V)), ``sum p log p`` and the NLL
    (float32 (...))."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    p = logp.exp()
    nll = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return logp, p, (p * logp).sum(-1), nll


def combine_stats(per_model: list[tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, ...]:
    """KL, NLL and entropy from each model's ``model_stats`` (see ``pair_stats``)."""
    m = len(per_model)
    logp, p, neg_ent, nll = (_total(part) for part in zip(*per_model))
    kl = (m * neg_ent - (p * logp).sum(-1)) / (m * (m - 1))
    return kl.clamp_min_(0.0), nll / m, neg_ent / -m


def _total(parts: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Sum of tensors of one shape, into a new tensor (``sum`` would start from 0)."""
    out = parts[0] + parts[1]
    for part in parts[2:]:
        out += part
    return out


def pair_stats(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """KL, NLL and entropy from one pass over the models' log-probabilities.

    Args:
        logits: (M, B, T, V) any float dtype.
        targets: (B, T) int64 ids of the characters that follow.

    Returns:
        kl, nll, entropy: float32 (B, T). ``kl`` is the mean over ordered pairs
        (i != j) of KL(p_i || p_j), computed in O(M) as
        ``(M * sum_i <p_i, log p_i> - <sum_i p_i, sum_j log p_j>) / (M (M - 1))``;
        for M = 2 it is the symmetric KL, and exactly 0 for identical models.
    """
    return combine_stats([model_stats(lg, targets) for lg in logits])
