"""The fused statistics of M models' next-character distributions: KL, NLL, entropy.

One pass over each model's log-probabilities gives every statistic the scorer reports.
A leaf module (torch only), shared by the models' inference methods and the scorer.
"""

from __future__ import annotations

import threading

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


_SCRATCH = threading.local()  # each thread's (rows, V) buffers for ``row_stats``


def _buffers(n: int, shape: tuple[int, int]) -> list[torch.Tensor]:
    """``n`` float32 CPU buffers of ``shape``, this thread's own, kept from call to call."""
    size = shape[0] * shape[1]
    bufs = getattr(_SCRATCH, "bufs", None)
    if bufs is None or len(bufs) < n or bufs[0].numel() < size:
        with torch.inference_mode(False):  # usable in and out of inference mode
            bufs = _SCRATCH.bufs = [torch.empty(size) for _ in range(n)]
    return [b[:size].view(shape) for b in bufs[:n]]


def row_stats(logits: list[torch.Tensor], targets: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``combine_stats([model_stats(lg, targets) for lg in logits])`` on a CPU: the same
    kernels in the same order, so the same values bit for bit, with the (rows, V)
    intermediates written into buffers that the calling thread keeps.

    A fresh intermediate of a few thousand rows is over a megabyte; the C allocator hands
    such blocks back to the system when they are freed and takes new ones, whose pages
    the kernel then zeroes one fault at a time (180,000 faults per 1,000,000 characters
    scored under bfloat16 on an Intel Xeon, 2026-12-02).

    Args:
        logits: M tensors (rows, V), any float dtype, on the CPU.
        targets: int64 (rows,).
    """
    m = len(logits)
    shape = (logits[0].shape[0], logits[0].shape[1])
    as_float, tmp, *rest = _buffers(2 + 2 * m, shape)
    logps, ps = rest[:m], rest[m:]
    index = targets.unsqueeze(-1)
    nlls, neg_ents = [], []
    for lg, logp, p in zip(logits, logps, ps):
        as_float.copy_(lg)  # lg.float()
        torch._log_softmax(as_float, -1, False, out=logp)
        torch.exp(logp, out=p)
        nlls.append(-logp.gather(-1, index).squeeze(-1))
        neg_ents.append(torch.mul(p, logp, out=tmp).sum(-1))
    logp_tot, p_tot = as_float, tmp  # as _total: the first two added, then the rest
    torch.add(logps[0], logps[1], out=logp_tot)
    torch.add(ps[0], ps[1], out=p_tot)
    for logp, p in zip(logps[2:], ps[2:]):
        logp_tot += logp
        p_tot += p
    neg_ent, nll = _total(tuple(neg_ents)), _total(tuple(nlls))
    kl = (m * neg_ent - torch.mul(p_tot, logp_tot, out=logps[0]).sum(-1)) / (m * (m - 1))
    return kl.clamp_min_(0.0), nll / m, neg_ent / -m


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
