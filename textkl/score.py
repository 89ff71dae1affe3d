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
import unicodedata
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from .errors import SettingError
from .stats import pair_stats  # noqa: F401  (re-exported: the statistics' public name)
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
        features: float32 (K, M*H) hidden states pooled over blocks of the text, or None
            (``Pair.score(features=True)`` only).
        feature_offsets: int64 (K,) offset in the text where each block of
            ``ScoreConfig.feature_block`` view characters starts (``Pair.score`` of a text
            with a scored character; None otherwise).
    """

    kl: np.ndarray
    nll: np.ndarray
    entropy: np.ndarray
    features: np.ndarray | None = None
    feature_offsets: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.kl)


class _Window(NamedTuple):
    """One window of the stride grid; it scores view positions ``first .. end - 1``."""

    k: int  # stride index on the grid
    start: int  # view position of the window's first input character
    end: int  # one past the last view position it scores
    first: int  # first view position it scores: k * stride, or 1 for k = 0

    @property
    def length(self) -> int:  # input characters
        return self.end - self.start - 1

    @property
    def lo(self) -> int:  # output index of ``first`` (position p is predicted at p - start - 1)
        return self.first - self.start - 1


def _window(k: int, total: int, cfg: ScoreConfig) -> _Window:
    """Window k of the grid over a view of ``total`` characters (the grid never depends on
    the batch size or on how a stream was cut into pieces)."""
    s = cfg.stride
    start = max(0, k * s - cfg.warmup)
    return _Window(k, start, min(total, (k + 1) * s), max(1, k * s))


def _inputs(seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Padded int64 (B, T) inputs and targets of view-id sequences (each window's ids)."""
    x = np.zeros((len(seqs), max(max(len(q) for q in seqs) - 1, 1)), dtype=np.int64)
    y = np.zeros_like(x)
    for i, q in enumerate(seqs):
        x[i, : len(q) - 1], y[i, : len(q) - 1] = q[:-1], q[1:]
    return x, y


class _ViewScorer:
    """Scores a stream of view ids on the fixed stride grid, in batches."""

    def __init__(self, model, cfg: ScoreConfig, device: torch.device, features: bool,
                 dtype: torch.dtype = torch.float32) -> None:
        self.model, self.cfg, self.device, self.features = model, cfg, device, features
        self.dtype = dtype
        self.hidden: torch.Tensor | None = None  # storage of the hidden states, reused
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
            yield self._score([_window(k, total, self.cfg) for k in ks])
            self.next_stride = ks[-1] + 1
            drop = max(0, self.next_stride * s - c) - self.base
            self.buf, self.base = self.buf[drop:], self.base + drop

    def _score(self, wins: list[_Window]) -> tuple[np.ndarray, ...]:
        x, y = _inputs([self.buf[w.start - self.base : w.end - self.base] for w in wins])
        if self.features:  # the first batch holds the longest windows: one allocation
            need = self.model.cfg.n_models * x.size * self.model.cfg.d_model
            if self.hidden is None or self.hidden.numel() < need:
                self.hidden = torch.empty(need, device=self.device)
        kl, nll, ent, hid = score_windows(self.model, torch.from_numpy(x).to(self.device),
                                          torch.from_numpy(y).to(self.device),
                                          self.cfg.time_block, self.dtype, self.features,
                                          self.hidden)
        parts_kl, parts_nll, parts_ent = [], [], []
        pooled = self._pool(hid, wins) if hid is not None else None
        for i, w in enumerate(wins):
            lo, hi = w.lo, w.length
            if w.k == 0:
                nan = np.array([np.nan], dtype=np.float32)
                parts_kl.append(nan), parts_nll.append(nan), parts_ent.append(nan)
            parts_kl.append(kl[i, lo:hi]), parts_nll.append(nll[i, lo:hi])
            parts_ent.append(ent[i, lo:hi])
        out = [np.concatenate(p) for p in (parts_kl, parts_nll, parts_ent)]
        return (*out, np.concatenate(pooled) if pooled else None)

    def _pool(self, hid: np.ndarray, wins: list[_Window]) -> list[np.ndarray]:
        """Mean hidden state (concatenated over models) per feature block of each window:
        float32 (blocks, M*H) per window, from ``hid`` (M, B, T, H).

        Windows with the same first scored step and length (all but the first and the last
        of a text) are pooled together, reading the hidden states in the model's time-major
        layout: one window at a time would stride across the whole batch at every step.
        """
        fb = self.cfg.feature_block
        tm = hid.transpose(0, 2, 1, 3)  # (M, T, B, H): a view of the time-major memory
        m, _, _, d = tm.shape
        groups: dict[tuple[int, int], list[int]] = {}
        for i, w in enumerate(wins):
            groups.setdefault((w.lo, w.length), []).append(i)
        out: list[np.ndarray] = [np.empty(0)] * len(wins)
        for (lo, length), idx in groups.items():
            n = length - lo
            cols = slice(idx[0], idx[-1] + 1) if idx[-1] - idx[0] + 1 == len(idx) else idx
            h = tm[:, lo:length, cols]  # (M, n, G, H)
            full = n // fb
            means = [h[:, : full * fb].reshape(m, full, fb, len(idx), d).mean(2)]
            if n % fb:
                means.append(h[:, full * fb :].mean(1, keepdims=True))
            pooled = np.concatenate(means, axis=1).transpose(2, 1, 0, 3)  # (G, blocks, M, H)
            for g, i in enumerate(idx):
                w = wins[i]
                n_blocks = -(-(n + (w.k == 0)) // fb)
                got = pooled[g].reshape(-1, m * d)
                if n_blocks > len(got):  # a block with no scored step repeats the last
                    last = got[-1:] if len(got) else np.zeros((1, m * d), np.float32)
                    got = np.concatenate([got, np.repeat(last, n_blocks - len(got), 0)])
                out[i] = np.ascontiguousarray(got[:n_blocks], dtype=np.float32)
        return out


def score_many(model, vocab: CharVocab, texts: Sequence[str], cfg: ScoreConfig,
               device: torch.device, dtype: torch.dtype = torch.float32) -> list[Scores]:
    """Score several documents, sharing forward passes between them.

    Each document is cut on its own window grid, as ``score_text`` cuts it, so its scores
    equal ``score_text``'s (up to float rounding) and no context leaks from one document
    into another; the windows of all documents are sorted by length (less padding) and
    scored ``cfg.batch_size`` at a time.

    Returns:
        One ``Scores`` per text (kl, nll, entropy: float32 arrays of ``len(text)``).
    """
    encs = [vocab.encode(t) for t in texts]
    views = [np.full((3, len(e.ids)), np.nan, dtype=np.float32) for e in encs]  # kl, nll, ent
    wins = sorted(((w.length, d, w) for d, e in enumerate(encs)
                   for w in (_window(k, len(e.ids), cfg) for k in range(-(-len(e.ids)
                                                                          // cfg.stride)))
                   if w.length > 0), reverse=True)
    for b in range(0, len(wins), cfg.batch_size):
        batch = [(d, w) for _, d, w in wins[b : b + cfg.batch_size]]
        x, y = _inputs([encs[d].ids[w.start : w.end] for d, w in batch])
        stats = score_windows(model, torch.from_numpy(x).to(device),
                              torch.from_numpy(y).to(device), cfg.time_block, dtype)[:3]
        for i, (d, w) in enumerate(batch):
            for j in range(3):
                views[d][j, w.first : w.end] = stats[j][i, w.lo : w.length]
    return [Scores(*(e.expand(v[j]) if len(e.ids) else np.full(e.length, np.nan, np.float32)
                     for j in range(3))) for e, v in zip(encs, views, strict=True)]


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
    if dtype == torch.qint8:
        from .quantize import int8_supported

        if int8_supported(model, device):
            return dtype
        why = f"int8 is not supported for this {model.cfg.arch} pair on a {device.type.upper()}"
    elif dtype == torch.float32 or model.cfg.arch != "lstm" or _lstm_supports(device.type, dtype):
        return dtype
    else:
        why = (f"{str(dtype).removeprefix('torch.')} is not supported by this "
               f"{device.type.upper()}'s LSTM kernel")
    if not getattr(supported_dtype, "warned", False):
        supported_dtype.warned = True  # type: ignore[attr-defined]
        _LOG.warning("%s; scoring in float32", why)
    return torch.float32


PRECISIONS = ("fp32", "bf16", "int8", "auto")


@functools.cache
def _cpu_flags() -> frozenset[str]:
    """The CPU's instruction-set flags from ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "flags":
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def check_precision(precision: str) -> str:
    """``precision`` if it is one of ``PRECISIONS``.

    Raises:
        SettingError: it is not.
    """
    if precision not in PRECISIONS:
        raise SettingError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def precision_dtype(precision: str, device: torch.device) -> torch.dtype:
    """``--precision`` -> the scorer's dtype: float32, bfloat16 (autocast of the matmuls)
    or ``torch.qint8`` (the pair's int8 twin, ``textkl.quantize``).

    ``auto`` is bfloat16 only where it was measured faster: a CPU with AMX (1.4 times
    float32's chars/s, KL within about 1 %). Elsewhere it is float32: CPUs without
    AVX-512-BF16 or AMX have no bfloat16 LSTM kernel, and int8 scored at 0.88-0.91 times
    float32's speed on an AVX2 CPU, moving the KL by about a tenth and the phrase F1 by
    more than 0.005 (docs/benchmarks.md); GPUs are not measured yet.
    """
    check_precision(precision)
    if precision == "auto":
        fast = device.type == "cpu" and "amx_bf16" in _cpu_flags()
        return torch.bfloat16 if fast else torch.float32
    return {"bf16": torch.bfloat16, "int8": torch.qint8}.get(precision, torch.float32)


def score_windows(model, x: torch.Tensor, y: torch.Tensor, time_block: int = 64,
                  dtype: torch.dtype = torch.float32, features: bool = False,
                  hidden: torch.Tensor | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Score a batch of windows that each start from an empty state.

    The model's own ``window_stats`` does the work (``textkl.model``); here the precision
    is chosen and the results come back as numpy.

    Args:
        model: a stacked model (``textkl.model``).
        x: int64 (B, T) input ids; ``y``: int64 (B, T) the ids they predict.
        time_block: LSTM steps per block (bounds the memory of the hidden states).
        dtype: autocast dtype of the matmuls (float32: no autocast; ``torch.qint8``: the
            int8 twin).
        features: also return the last hidden states.
        hidden: storage the model may write them into (``window_stats``); the returned
            array is then a view of it, valid until the storage is used again.

    Returns:
        kl, nll, entropy: float32 (B, T); hidden: float32 (M, B, T, H) or None.
    """
    dtype = supported_dtype(model, dtype, x.device)
    if dtype == torch.qint8:
        from .quantize import int8_twin

        stats, hid = int8_twin(model).window_stats(x, y, time_block, features, hidden)
    else:
        with torch.autocast(x.device.type, dtype=dtype, enabled=dtype != torch.float32):
            stats, hid = model.window_stats(x, y, time_block, features, hidden)
    kl, nll, ent = stats.float().cpu().numpy()
    return kl, nll, ent, hid.float().cpu().numpy() if hid is not None else None


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
    # the block grid of the region step: every feature_block view characters
    offs = enc.offsets[np.arange(-(-len(enc.ids) // cfg.feature_block)) * cfg.feature_block]
    feats = np.concatenate([o[3] for o in outs]) if features else None
    assert feats is None or len(feats) == len(offs), "one pooled vector per block"
    return Scores(enc.expand(kl), enc.expand(nll), enc.expand(ent), feats, offs)
