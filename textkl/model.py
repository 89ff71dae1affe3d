"""Character language models with a leading model dimension M.

Every parameter has shape ``(M, ...)``: the M models of a pair have the same architecture
and their own weights, and run as one batched computation (``bmm`` over M), except the
LSTM recurrence, which calls torch's native LSTM kernel once per model. Inputs are
shared: ``ids`` is ``(B, T)``, logits are ``(M, B, T, V)``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .errors import SettingError
from .stats import (
    STATS_ROWS,
    STATS_ROWS_BF16,
    combine_stats,
    model_stats,
    pair_stats,
    row_stats,
)

ARCHS = ("lstm", "transformer")
INITS = ("uniform", "normal", "orthogonal")


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "lstm"  # "lstm" or "transformer"
    vocab_size: int = 96  # characters incl. <unk>
    n_models: int = 2  # M, models trained together
    d_embed: int = 32  # character embedding width (LSTM); transformer uses d_model
    d_model: int = 128  # LSTM hidden size or transformer width
    n_layers: int = 1  # LSTM layers or transformer blocks
    n_heads: int = 4  # transformer only
    context: int = 256  # transformer only: most positions one window may hold
    dropout: float = 0.0  # one mask shared by all M models, so identical models stay identical
    init: str = "uniform"  # weight init scheme, see INITS
    same_init: bool = False  # all M models start from identical weights (the control)
    seed: int = 0  # init seed; model m uses seed * 1009 + m unless same_init

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise SettingError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.init not in INITS:
            raise SettingError(f"init must be one of {INITS}, got {self.init!r}")
        if self.n_models < 2:
            raise SettingError(f"n_models must be >= 2, got {self.n_models}")
        if self.arch == "transformer" and self.d_model % self.n_heads:
            raise SettingError(f"d_model {self.d_model} must divide by n_heads {self.n_heads}")


_POOL: tuple[ThreadPoolExecutor, int] | None = None  # (pool, workers)


def _forget_pool() -> None:
    """A forked child has none of its parent's threads: it must start its own pool."""
    global _POOL
    _POOL = None


os.register_at_fork(after_in_child=_forget_pool)


def run_models(tasks: list[Callable[[], Any]], device: torch.device) -> list[Any]:
    """Run one task per model (scoring, or a training step), at once on a CPU with at least
    one thread each.

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


def _shared_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Dropout whose mask is shared across the leading model dimension."""
    if not training or p == 0.0:
        return x
    mask = torch.empty((1, *x.shape[1:]), device=x.device, dtype=x.dtype).bernoulli_(1 - p)
    return x * mask / (1 - p)


def _mm(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Per-model matmul: x (M, ..., I) @ w (M, I, O) -> (M, ..., O)."""
    m, i = x.shape[0], x.shape[-1]
    y = torch.bmm(x.reshape(m, -1, i), w)  # (M, N, O)
    return y.view(*x.shape[:-1], w.shape[-1])


class _Stacked(nn.Module):
    """Shared machinery: stacked embeddings, output head and per-model initialisation."""

    def __init__(self, cfg: ModelConfig, d_in: int, d_out: int) -> None:
        super().__init__()
        self.cfg = cfg
        m, v = cfg.n_models, cfg.vocab_size
        self.embed = nn.Parameter(torch.empty(m, v, d_in))
        self.head_w = nn.Parameter(torch.empty(m, d_out, v))
        self.head_b = nn.Parameter(torch.zeros(m, 1, v))

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        m, v = self.cfg.n_models, self.cfg.vocab_size
        flat = self.embed.reshape(m * v, -1)
        offs = torch.arange(m, device=ids.device).view(m, 1, 1) * v
        return F.embedding(ids.unsqueeze(0) + offs, flat)  # (M, B, T, E)

    def _head(self, h: torch.Tensor) -> torch.Tensor:
        b, t = h.shape[1], h.shape[2]
        m = self.cfg.n_models
        logits = torch.baddbmm(self.head_b, h.reshape(m, b * t, -1), self.head_w)  # (M, B*T, V)
        return logits.view(m, b, t, -1)

    @torch.no_grad()
    def _init_weights(self) -> None:
        cfg = self.cfg
        for m in range(cfg.n_models):
            seed = cfg.seed if cfg.same_init else cfg.seed * 1009 + m
            gen = torch.Generator().manual_seed(seed)
            for name, p in self.named_parameters():
                p[m].copy_(self._init_one(name, p[m], gen))

    def _init_one(self, name: str, p: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if "norm" in name:
            return torch.ones_like(p)
        leaf = [part for part in name.split(".") if not part.isdigit()][-1]  # "gate_b.0" -> gate_b
        if leaf.endswith("_b"):
            b = torch.zeros_like(p)
            if name.startswith("gate_b"):  # LSTM forget gate starts open
                h = p.shape[-1] // 4
                b[..., h : 2 * h] = 1.0
            return b
        scheme = self.cfg.init
        if name == "embed":
            return torch.randn(p.shape, generator=gen) * (0.1 if scheme != "normal" else 0.02)
        fan_in = p.shape[0]
        if scheme == "normal":
            return torch.randn(p.shape, generator=gen) * 0.02
        if scheme == "orthogonal":
            q = torch.empty(p.shape)
            nn.init.orthogonal_(q, generator=gen)
            return q
        bound = 1.0 / math.sqrt(fan_in)
        return (torch.rand(p.shape, generator=gen) * 2 - 1) * bound


class StackedLSTM(_Stacked):
    """M single-direction LSTMs run together; the state is carried across calls."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg, cfg.d_embed, cfg.d_model)
        m, h = cfg.n_models, cfg.d_model
        self.w_ih = nn.ParameterList()
        self.w_hh = nn.ParameterList()
        self.gate_b = nn.ParameterList()
        for layer in range(cfg.n_layers):
            d_in = cfg.d_embed if layer == 0 else h
            self.w_ih.append(nn.Parameter(torch.empty(m, d_in, 4 * h)))
            self.w_hh.append(nn.Parameter(torch.empty(m, h, 4 * h)))
            self.gate_b.append(nn.Parameter(torch.zeros(m, 1, 4 * h)))
        self._init_weights()

    def init_state(self, batch: int, device: torch.device) -> list[tuple[torch.Tensor, ...]]:
        z = torch.zeros(self.cfg.n_models, batch, self.cfg.d_model, device=device)
        return [(z, z) for _ in range(self.cfg.n_layers)]

    def forward(
        self, ids: torch.Tensor, state: list | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, list]:
        """ids (B, T) -> logits (M, B, T, V), last hidden (M, B, T, H), new state.

        Each layer of each model runs torch's native LSTM kernel (``torch.lstm``: oneDNN on
        CPU, cuDNN on GPU), which loops over time in C++; a Python loop over time steps was
        2.3x slower to score and 1.5x slower to train on a 2-core CPU (same results to 1e-6).
        """
        b, _ = ids.shape
        state = state if state is not None else self.init_state(b, ids.device)
        x = _shared_dropout(self._embed(ids), self.cfg.dropout, self.training)  # (M, B, T, E)
        new_state = []
        for layer, (h, c) in enumerate(state):
            outs, hs, cs = [], [], []
            for k in range(self.cfg.n_models):
                out, h_k, c_k = self._lstm(layer, k, x[k], h[k : k + 1], c[k : k + 1])
                outs.append(out), hs.append(h_k), cs.append(c_k)
            x = _shared_dropout(torch.stack(outs), self.cfg.dropout, self.training)
            new_state.append((torch.cat(hs), torch.cat(cs)))
        return self._head(x), x, new_state

    def recur_one(self, k: int, ids: torch.Tensor, state: list | None = None
                  ) -> tuple[torch.Tensor, list]:
        """Model k's recurrence alone, time-major and without dropout: ids (T, B) -> the
        last layer's hidden states (T, B, H) and its new state (per layer ``(h, c)``, each
        (1, B, H)). ``head_one`` turns rows of hidden states into logits.

        The scorer runs the M models this way, each in its own thread on a CPU. Time-major
        is the LSTM kernel's own layout: batch-first costs a transposed copy of its input
        and output (15 % of a scoring step on a CPU).
        """
        if state is None:
            z = torch.zeros(1, ids.shape[1], self.cfg.d_model, device=ids.device)
            state = [(z, z)] * self.cfg.n_layers
        x = F.embedding(ids, self.embed[k])  # (T, B, E)
        new_state = []
        for layer, (h, c) in enumerate(state):
            x, h, c = self._lstm(layer, k, x, h, c, batch_first=False)
            new_state.append((h, c))
        return x, new_state

    def train_loss_one(self, k: int, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Model k's mean cross-entropy on inputs x and targets y, both (B, T); no dropout.

        The same value as model k's share of ``forward``'s loss, computed time-major (the
        kernel's layout) so that the trainer can run each model, forward and backward, in
        its own thread.
        """
        h, _ = self.recur_one(k, x.t())  # (T, B, H)
        logits = self.head_one(k, h.reshape(-1, h.shape[-1]))  # (T * B, V)
        return F.cross_entropy(logits, y.t().reshape(-1))

    def head_one(self, k: int, h: torch.Tensor) -> torch.Tensor:
        """Model k's output layer: hidden states (N, H) -> logits (N, V)."""
        return torch.addmm(self.head_b[k], h, self.head_w[k])

    def _lstm(self, layer: int, k: int, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
              batch_first: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One layer of model k: x (B, T, D_in) (or (T, B, D_in) unless ``batch_first``),
        h and c (1, B, H) -> out in the layout of x, h, c."""
        bias = self.gate_b[layer][k, 0]  # (4H,), gates ordered i, f, g, o as in torch
        weights = [self.w_ih[layer][k].t(), self.w_hh[layer][k].t(), bias,
                   torch.zeros_like(bias)]
        return torch.lstm(x, (h, c), weights, True, 1, 0.0, self.training, False, batch_first)


    @torch.inference_mode()
    def window_stats(self, x: torch.Tensor, y: torch.Tensor, time_block: int = 64,
                     features: bool = False, hidden: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """KL, NLL and entropy of windows that each start from an empty state.

        Block by block of ``time_block`` steps, in two phases. First each model runs its
        recurrence over the block (time-major, the kernel's own layout), one model per
        thread on a CPU. Then the block's rows are split between the CPU threads, and each
        runs every model's output layer and ``model_stats`` plus ``combine_stats`` over
        ``STATS_ROWS`` rows at a time (``STATS_ROWS_BF16`` under bfloat16 autocast), so
        that the (rows, V) intermediates stay in cache (2.5x faster than one pass over the
        block on a CPU).

        Args:
            x: int64 (B, T) input ids; ``y``: int64 (B, T) the ids they predict.
            time_block: steps per block (bounds the memory of the hidden states).
            features: also return the last layer's hidden states.
            hidden: float32 storage for them, at least M*T*B*H elements, reused from one
                call to the next (a fresh tensor of that size is a new memory mapping
                whose pages the kernel zeroes on first touch: a quarter of the time of
                scoring with features). The returned states are a view of it.

        Returns:
            float32 (3, B, T) kl, nll, entropy; hidden (M, B, T, H) or None.
        """
        m, dev = self.cfg.n_models, x.device
        xt, yt = x.t().contiguous(), y.t().contiguous()  # (T, B)
        out = torch.empty(3, *xt.shape, device=dev)  # kl, nll, entropy (T, B)
        cpu = dev.type == "cpu"
        bf16 = (torch.is_autocast_enabled("cpu")
                and torch.get_autocast_dtype("cpu") == torch.bfloat16)
        chunk = (STATS_ROWS_BF16 if bf16 else STATS_ROWS) if cpu else xt.numel()
        parts = max(1, torch.get_num_threads()) if cpu else 1  # row ranges, one per thread
        states: list = [None] * m
        hid = None  # (M, T, B, H), filled block by block
        if features:
            shape = (m, *xt.shape, self.cfg.d_model)
            need = math.prod(shape)
            hid = (hidden[:need].view(shape) if hidden is not None and hidden.numel() >= need
                   else torch.empty(shape, device=dev))

        def recur(k: int, t0: int, ids: torch.Tensor) -> torch.Tensor:
            h, states[k] = self.recur_one(k, ids, states[k])
            if hid is not None:  # copied in the model's own thread
                hid[k, t0 : t0 + len(h)] = h
            return h

        def stats(hs: list[torch.Tensor], targets: torch.Tensor, dest: torch.Tensor,
                  lo: int, hi: int) -> None:
            for a in range(lo, hi, chunk):
                b = min(hi, a + chunk)
                logits = [self.head_one(k, h[a:b]) for k, h in enumerate(hs)]
                if cpu:
                    values = row_stats(logits, targets[a:b])
                else:
                    values = combine_stats([model_stats(lg, targets[a:b]) for lg in logits])
                for j, v in enumerate(values):
                    dest[j, a:b] = v

        for t0 in range(0, xt.shape[0], time_block):
            ids = xt[t0 : t0 + time_block]
            n = ids.numel()
            hs = run_models([partial(recur, k, t0, ids) for k in range(m)], dev)
            flat = [h.reshape(n, -1) for h in hs]
            dest = out[:, t0 : t0 + time_block].view(3, n)
            cuts = [n * i // parts for i in range(parts + 1)]
            run_models([partial(stats, flat, yt[t0 : t0 + time_block].reshape(n), dest, lo, hi)
                        for lo, hi in zip(cuts, cuts[1:])], dev)
        return out.transpose(1, 2), hid.transpose(1, 2) if hid is not None else None


class StackedTransformer(_Stacked):
    """M small causal transformers (pre-norm, learned positions) run together."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg, cfg.d_model, cfg.d_model)
        m, d = cfg.n_models, cfg.d_model
        self.pos = nn.Parameter(torch.empty(m, cfg.context, d))
        self.blocks = nn.ModuleList()
        for _ in range(cfg.n_layers):
            blk = nn.Module()
            blk.norm1_w = nn.Parameter(torch.ones(m, 1, d))
            blk.qkv_w = nn.Parameter(torch.empty(m, d, 3 * d))
            blk.proj_w = nn.Parameter(torch.empty(m, d, d))
            blk.norm2_w = nn.Parameter(torch.ones(m, 1, d))
            blk.fc_w = nn.Parameter(torch.empty(m, d, 4 * d))
            blk.fc_b = nn.Parameter(torch.zeros(m, 1, 4 * d))
            blk.out_w = nn.Parameter(torch.empty(m, 4 * d, d))
            self.blocks.append(blk)
        self.norm_f_w = nn.Parameter(torch.ones(m, 1, d))
        self._init_weights()

    def _init_one(self, name: str, p: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if name == "pos":
            return torch.randn(p.shape, generator=gen) * 0.02
        return super()._init_one(name, p, gen)

    @staticmethod
    def _norm(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x, x.shape[-1:])
        return x * w.unsqueeze(1)  # w (M, 1, D) -> (M, 1, 1, D)

    def forward(
        self, ids: torch.Tensor, state: list | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, None]:
        """ids (B, T) -> logits (M, B, T, V), last hidden (M, B, T, D), None (no state)."""
        cfg = self.cfg
        b, t = ids.shape
        if t > cfg.context:
            raise SettingError(f"window of {t} positions exceeds the model context {cfg.context}")
        m, nh, d = cfg.n_models, cfg.n_heads, cfg.d_model
        x = self._embed(ids) + self.pos[:, :t].unsqueeze(1)  # (M, B, T, D)
        x = _shared_dropout(x, cfg.dropout, self.training)
        for blk in self.blocks:
            qkv = _mm(self._norm(x, blk.norm1_w), blk.qkv_w)  # (M, B, T, 3D)
            q, k, v = qkv.view(m * b, t, 3, nh, d // nh).permute(2, 0, 3, 1, 4)  # (M*B, nh, T, hd)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (M*B, nh, T, hd)
            a = a.transpose(1, 2).reshape(m, b, t, d)
            x = x + _shared_dropout(_mm(a, blk.proj_w), cfg.dropout, self.training)
            hdn = F.gelu(_mm(self._norm(x, blk.norm2_w), blk.fc_w) + blk.fc_b.unsqueeze(1))
            x = x + _shared_dropout(_mm(hdn, blk.out_w), cfg.dropout, self.training)
        x = self._norm(x, self.norm_f_w)
        return self._head(x), x, None


    @torch.inference_mode()
    def window_stats(self, x: torch.Tensor, y: torch.Tensor, time_block: int = 64,
                     features: bool = False, hidden: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """KL, NLL and entropy of windows (B, T) in one forward pass (see StackedLSTM's);
        ``time_block`` and ``hidden`` are unused: attention sees the whole window."""
        logits, h, _ = self(x)  # (M, B, T, V), (M, B, T, D)
        return torch.stack(pair_stats(logits, y)), (h.float() if features else None)


def build_model(cfg: ModelConfig) -> _Stacked:
    """The stacked model for ``cfg``."""
    return StackedLSTM(cfg) if cfg.arch == "lstm" else StackedTransformer(cfg)


def count_params(model: nn.Module) -> int:
    """Parameters of one of the M models."""
    return sum(p[0].numel() for p in model.parameters())


def flops_per_char(cfg: ModelConfig, window: int = 256) -> float:
    """Forward multiply-add FLOPs (x2) per character for all M models together."""
    d, v = cfg.d_model, cfg.vocab_size
    if cfg.arch == "lstm":
        per = 0.0
        for layer in range(cfg.n_layers):
            d_in = cfg.d_embed if layer == 0 else d
            per += 2 * (d_in + d) * 4 * d
        per += 2 * d * v
    else:
        per = cfg.n_layers * (2 * 12 * d * d + 2 * 2 * window / 2 * d) + 2 * d * v
    return per * cfg.n_models
