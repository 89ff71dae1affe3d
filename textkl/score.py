"""Sliding-window batched scoring: per-character self-KL, surprisal and entropy.

The view of a text (see ``vocab``) is cut on a fixed grid of strides of ``stride``
characters. The window for stride k starts ``warmup`` characters before it, so every
character is scored once, with at least ``warmup`` characters of context (except near the
start), and the context of a character depends only on the grid, never on the batch size
or on how a stream was split into pieces.
"""

from __future__ import annotations

import functools
import logging
import os
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch

from .errors import SettingError
from .vocab import CharVocab, Encoded


@dataclass(frozen=True)
class ScoreConfig:
    stride: int = 1024  # characters scored per window (a multiple of feature_block)
    warmup: int = 64  # context characters before each window that are not scored
    batch_size: int = 128  # windows per forward pass
    time_block: int = 64  # LSTM steps per block: small enough that temporaries are reused
    feature_block: int = 32  # view characters pooled into one feature vector

    def __post_init__(self) -> None:
        for name in ("stride", "batch_size", "time_block", "feature_block"):
            if getattr(self, name) < 1:
                raise SettingError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.warmup < 0:
            raise SettingError(f"warmup must be >= 0, got {self.warmup}")
        if self.stride % self.feature_block:
            raise SettingError(f"stride {self.stride} must be a multiple of {self.feature_block}")


@dataclass(frozen=True)
class Scores:
    """Per-character scores of a text, in nats; ``len == len(text)``.

    Attributes:
        kl: float32 (N,) mean KL over ordered model pairs of the next-character
            distributions; NaN where a character has no context (the first one).
        nll: float32 (N,) ``-log p(text[i] | text[:i])`` averaged over the models.
        entropy: float32 (N,) mean predictive entropy of the models.
        features: float32 (K, M*H) hidden states pooled over blocks of the text, or None.
        feature_offsets: int64 (K,) offset in the text where each feature block starts.
    """

    kl: np.ndarray
    nll: np.ndarray
    entropy: np.ndarray
    features: np.ndarray | None = None
    feature_offsets: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.kl)


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


_POOL: tuple[ThreadPoolExecutor, int] | None = None  # (pool, workers)


def _forget_pool() -> None:
    """A forked child has none of its parent's threads: it must start its own pool."""
    global _POOL
    _POOL = None


os.register_at_fork(after_in_child=_forget_pool)


def run_models(tasks: list[Callable[[], Any]], device: torch.device) -> list[Any]:
    """Run one inference task per model, at once on a CPU with at least one thread each.

    torch's threads are split between the tasks (``set_num_threads`` is per thread): a
    recurrent kernel on one core syncs less per time step than one spread over all
    cores. Elsewhere, or with fewer threads than tasks, they run one after the other.
    Grad mode and autocast are thread-local, so each task re-enters the caller's.
    """
    global _POOL
    total = torch.get_num_threads()
    if device.type != "cpu" or len(tasks) < 2 or total < len(tasks):
        return [task() for task in tasks]
    share = total // len(tasks)
    inference = torch.is_inference_mode_enabled()
    cast, cast_dtype = torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")

    def run(task: Callable[[], Any]) -> Any:
        torch.set_num_threads(share)
        with torch.inference_mode(inference), torch.autocast("cpu", cast_dtype, enabled=cast):
            return task()

    if _POOL is None or _POOL[1] < len(tasks):
        _POOL = (ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="textkl"),
                 len(tasks))
    try:
        return list(_POOL[0].map(run, tasks))
    finally:
        torch.set_num_threads(total)  # MKL's thread count is process-wide: restore it


@dataclass(frozen=True)
class _Window:
    k: int  # stride index on the grid
    start: int  # global view position of the window's first input character
    end: int  # global view position one past the last character it scores
    lo: int  # output index of the first character it scores (k * stride, or 1 for k = 0)

    @property
    def hi(self) -> int:
        return self.end - self.start - 1


class _ViewScorer:
    """Scores a stream of view ids on the fixed stride grid, in batches."""

    def __init__(self, model, cfg: ScoreConfig, device: torch.device, features: bool,
                 dtype: torch.dtype = torch.float32) -> None:
        self.model, self.cfg, self.device, self.features = model, cfg, device, features
        self.dtype = dtype
        self.buf = np.zeros(0, dtype=np.int64)
        self.base = 0  # global view position of buf[0]
        self.next_stride = 0  # next stride index to score

    def feed(self, ids: np.ndarray, final: bool) -> Iterator[tuple[np.ndarray, ...]]:
        """Add view ids; yield (kl, nll, ent, feats) for consecutive view positions.

        Without ``final`` only full batches of complete strides are scored; ``final``
        flushes the rest.
        """
        self.buf = np.concatenate([self.buf, ids])
        total = self.base + len(self.buf)
        s, c, bsz = self.cfg.stride, self.cfg.warmup, self.cfg.batch_size
        while True:
            avail = (-(-total // s) if final else total // s) - self.next_stride
            if avail <= 0 or (not final and avail < bsz):
                return
            ks = range(self.next_stride, self.next_stride + min(bsz, avail))
            yield self._score([self._window(k, total) for k in ks])
            self.next_stride = ks[-1] + 1
            drop = max(0, self.next_stride * s - c) - self.base
            self.buf, self.base = self.buf[drop:], self.base + drop

    def _window(self, k: int, total: int) -> _Window:
        s = self.cfg.stride
        start = max(0, k * s - self.cfg.warmup)
        return _Window(k, start, min(total, (k + 1) * s), max(1, k * s) - start - 1)

    @torch.inference_mode()
    def _score(self, wins: list[_Window]) -> tuple[np.ndarray, ...]:
        length = max(w.end - w.start - 1 for w in wins)
        n = len(wins)
        x = np.zeros((n, max(length, 1)), dtype=np.int64)
        y = np.zeros_like(x)
        for i, w in enumerate(wins):
            seg = self.buf[w.start - self.base : w.end - self.base]
            x[i, : len(seg) - 1] = seg[:-1]
            y[i, : len(seg) - 1] = seg[1:]
        xt = torch.from_numpy(x).to(self.device)
        yt = torch.from_numpy(y).to(self.device)
        kl, nll, ent, hid = score_windows(self.model, xt, yt, self.cfg.time_block, self.dtype,
                                          self.features)
        parts_kl, parts_nll, parts_ent, feats = [], [], [], []
        for i, w in enumerate(wins):
            lo, hi = w.lo, w.hi
            if w.k == 0:
                nan = np.array([np.nan], dtype=np.float32)
                parts_kl.append(nan), parts_nll.append(nan), parts_ent.append(nan)
            parts_kl.append(kl[i, lo:hi]), parts_nll.append(nll[i, lo:hi])
            parts_ent.append(ent[i, lo:hi])
            if hid is not None:
                feats.append(self._pool(hid[:, i], w))
        out = [np.concatenate(p) for p in (parts_kl, parts_nll, parts_ent)]
        f = np.concatenate(feats) if feats else None
        return (*out, f)

    def _pool(self, hid: np.ndarray, w: _Window) -> np.ndarray:
        """Mean hidden state (concatenated over models) per feature block of the window."""
        fb = self.cfg.feature_block
        h = np.concatenate(list(hid[:, w.lo : w.hi]), axis=-1)  # (L, M*H)
        n_scored = w.hi - w.lo + (w.k == 0)
        n_blocks = -(-n_scored // fb)
        out = np.zeros((n_blocks, h.shape[-1]), dtype=np.float32)
        for b in range(n_blocks):
            chunk = h[b * fb : (b + 1) * fb]
            out[b] = chunk.mean(0) if len(chunk) else out[b - 1]
        return out


_LOG = logging.getLogger("textkl")


@functools.cache
def _lstm_supports(device_type: str, dtype: torch.dtype) -> bool:
    """Whether torch's LSTM kernel runs under autocast to ``dtype`` on this device.

    On a CPU without AVX-512-BF16 or AMX, oneDNN has no bfloat16 LSTM primitive and the
    kernel raises. A two-step LSTM tells, once per process.
    """
    lstm = torch.nn.LSTM(4, 4).to(device_type)
    x = torch.zeros(2, 1, 4, device=device_type)
    try:
        with torch.inference_mode(), torch.autocast(device_type, dtype=dtype):
            lstm(x)
    except RuntimeError:
        return False
    return True


def supported_dtype(model, dtype: torch.dtype, device: torch.device) -> torch.dtype:
    """``dtype`` if ``model`` can run in it on ``device``, else float32 with a one-line notice.

    Reduced precision changes the scores only within rounding (see ``tests/test_score.py``
    for the tolerance); falling back gives exactly the float32 scores.
    """
    if dtype == torch.float32 or model.cfg.arch != "lstm" or _lstm_supports(device.type, dtype):
        return dtype
    if not getattr(supported_dtype, "warned", False):
        supported_dtype.warned = True  # type: ignore[attr-defined]
        _LOG.warning("%s is not supported by this %s's LSTM kernel; scoring in float32",
                     str(dtype).removeprefix("torch."), device.type.upper())
    return torch.float32


STATS_ROWS = 1024  # rows of the head and statistics per step on a CPU: each step stays in cache


@torch.inference_mode()
def score_windows(model, x: torch.Tensor, y: torch.Tensor, time_block: int = 64,
                  dtype: torch.dtype = torch.float32, features: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Score a batch of windows that each start from an empty state.

    Args:
        model: a stacked model (``textkl.model``).
        x: int64 (B, T) input ids; ``y``: int64 (B, T) the ids they predict.
        time_block: LSTM steps per block (bounds the memory of the hidden states).
        dtype: autocast dtype of the matmuls (float32: no autocast).
        features: also return the last hidden states.

    Returns:
        kl, nll, entropy: float32 (B, T); hidden: float32 (M, B, T, H) or None.
    """
    dtype = supported_dtype(model, dtype, x.device)
    autocast = torch.autocast(x.device.type, dtype=dtype, enabled=dtype != torch.float32)
    with autocast:
        if model.cfg.arch == "lstm":
            return _score_lstm(model, x, y, time_block, features)
        logits, h, _ = model(x)
        kl, nll, ent = (t.cpu().numpy() for t in pair_stats(logits, y))
        return kl, nll, ent, h.float().cpu().numpy() if features else None


def _score_lstm(model, x: torch.Tensor, y: torch.Tensor, time_block: int, features: bool
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """``score_windows`` for the LSTM, block by block of time steps, in two phases.

    First each model runs its recurrence over the block (time-major, the kernel's own
    layout), one model per thread on a CPU. Then the block's rows are split between the
    CPU threads, and each runs every model's output layer and ``model_stats`` plus
    ``combine_stats`` over ``STATS_ROWS`` rows at a time, so that the (rows, V)
    intermediates stay in cache (2.5x faster than one pass over the block on a CPU).
    """
    m, dev = model.cfg.n_models, x.device
    xt, yt = x.t().contiguous(), y.t().contiguous()  # (T, B)
    out = torch.empty(3, *xt.shape, device=dev)  # kl, nll, entropy (T, B)
    cpu = dev.type == "cpu"
    chunk = STATS_ROWS if cpu else xt.numel()
    parts = max(1, torch.get_num_threads()) if cpu else 1  # row ranges, one per thread
    states: list = [None] * m
    hids = []

    def recur(k: int, ids: torch.Tensor) -> torch.Tensor:
        h, states[k] = model.recur_one(k, ids, states[k])
        return h

    def stats(hs: list[torch.Tensor], targets: torch.Tensor, dest: torch.Tensor,
              lo: int, hi: int) -> None:
        for a in range(lo, hi, chunk):
            b = min(hi, a + chunk)
            per_model = [model_stats(model.head_one(k, h[a:b]), targets[a:b])
                         for k, h in enumerate(hs)]
            for j, v in enumerate(combine_stats(per_model)):
                dest[j, a:b] = v

    for t0 in range(0, xt.shape[0], time_block):
        ids = xt[t0 : t0 + time_block]
        n = ids.numel()
        hs = run_models([partial(recur, k, ids) for k in range(m)], dev)
        flat = [h.reshape(n, -1) for h in hs]
        dest = out[:, t0 : t0 + time_block].view(3, n)
        cuts = [n * i // parts for i in range(parts + 1)]
        run_models([partial(stats, flat, yt[t0 : t0 + time_block].reshape(n), dest, lo, hi)
                    for lo, hi in zip(cuts, cuts[1:])], dev)
        if features:
            hids.append(torch.stack(hs).float())  # (M, T_block, B, H)
    kl, nll, ent = out.transpose(1, 2).cpu().numpy()
    hid = torch.cat(hids, dim=1).transpose(1, 2).cpu().numpy() if features else None
    return kl, nll, ent, hid


def _split_point(text: str) -> int:
    """Last index where a non-space starter character begins: a safe place to cut."""
    j = len(text) - 1
    while j > 0 and (text[j].isspace() or unicodedata.combining(text[j])):
        j -= 1
    return j


class _Piece:
    """A piece of the original text waiting for the scores of its view characters."""

    def __init__(self, offset: int, enc: Encoded) -> None:
        self.offset, self.enc = offset, enc
        self.parts: list[tuple[np.ndarray, ...]] = []
        self.missing = len(enc.ids)

    def scores(self) -> Scores:
        enc = self.enc
        if not self.parts:
            z = np.full(enc.length, np.nan, dtype=np.float32)
            return Scores(z, z.copy(), z.copy())
        kl, nll, ent = (np.concatenate([p[j] for p in self.parts]) for j in range(3))
        return Scores(enc.expand(kl), enc.expand(nll), enc.expand(ent))


def score_pieces(
    model, vocab: CharVocab, pieces: Iterable[str], cfg: ScoreConfig, device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> Iterator[tuple[int, Scores]]:
    """Score a text given as consecutive pieces; yield ``(offset, Scores)`` in order.

    Pieces are re-cut before a non-space starter character so that whitespace folding and
    NFC see whole runs. The yielded scores tile the text and equal scoring it at once.
    Memory is bounded by the piece size plus one batch of windows.
    """
    scorer = _ViewScorer(model, cfg, device, features=False, dtype=dtype)
    pending: deque[_Piece] = deque()
    carry, offset = "", 0
    it = iter(pieces)
    while True:
        piece = next(it, None)
        final = piece is None
        text = carry + (piece or "")
        cut = len(text) if final else _split_point(text)
        head, carry = text[:cut], text[cut:]
        if head:
            enc = vocab.encode(head)
            pending.append(_Piece(offset, enc))
            offset += len(head)
            for kl, nll, ent, _ in scorer.feed(enc.ids, final=final):
                yield from _distribute(pending, kl, nll, ent)
        elif final:
            for kl, nll, ent, _ in scorer.feed(np.zeros(0, dtype=np.int64), final=True):
                yield from _distribute(pending, kl, nll, ent)
        while pending and pending[0].missing == 0:
            p = pending.popleft()
            yield p.offset, p.scores()
        if final:
            return


def _distribute(pending: deque, kl: np.ndarray, nll: np.ndarray, ent: np.ndarray):
    """Hand consecutive view scores to the pieces they belong to; yield finished pieces."""
    pos = 0
    for p in pending:
        if pos >= len(kl):
            break
        if p.missing == 0:
            continue
        take = min(p.missing, len(kl) - pos)
        p.parts.append((kl[pos : pos + take], nll[pos : pos + take], ent[pos : pos + take]))
        p.missing -= take
        pos += take
    while pending and pending[0].missing == 0:
        p = pending.popleft()
        yield p.offset, p.scores()


def score_text(
    model, vocab: CharVocab, text: str, cfg: ScoreConfig, device: torch.device,
    features: bool = False, dtype: torch.dtype = torch.float32, progress: bool = False,
) -> Scores:
    """Score one in-memory text; optionally with hidden-state features pooled in blocks,
    and a progress bar on stderr (in characters of the text's view)."""
    from tqdm.auto import tqdm

    enc = vocab.encode(text)
    if len(enc.ids) == 0:
        z = np.full(len(text), np.nan, dtype=np.float32)
        return Scores(z, z.copy(), z.copy())
    scorer = _ViewScorer(model, cfg, device, features=features, dtype=dtype)
    outs = []
    with tqdm(total=len(enc.ids), unit="char", unit_scale=True, desc="score",
              disable=not progress) as bar:
        for out in scorer.feed(enc.ids, final=True):
            outs.append(out)
            bar.update(len(out[0]))
    kl, nll, ent = (np.concatenate([o[j] for o in outs]) for j in range(3))
    feats = offs = None
    if features:
        feats = np.concatenate([o[3] for o in outs])
        offs = enc.offsets[np.arange(len(feats)) * cfg.feature_block]
    return Scores(enc.expand(kl), enc.expand(nll), enc.expand(ent), feats, offs)
