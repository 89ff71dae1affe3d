#!/usr/bin/env python
"""Would a cell with input-only gates score faster than the LSTM kernel on a CPU?

A minGRU layer (Feng et al., 2024, "Were RNNs all we needed?") has gates that depend on
the input only: ``h_t = (1 - z_t) * h_{t-1} + z_t * g_t`` with ``z, g`` from one matmul
over the whole block of time. Its matmuls run over whole windows (large, efficient GEMMs)
and only an elementwise recurrence is left, which runs either

- **log-space**: as a parallel scan, ``log h = L + logcumsumexp(log z + log g~ - L)``
  with ``L`` the cumulative sum of ``log(1 - z)`` and ``g~`` the paper's positive
  activation, in blocks of time (the last state carried), or
- **sequential**: one fused multiply-add per time step over the batch of windows.

Timed here with plain torch (no custom kernels, as the project requires): the forward pass
of one model of 3 residual minGRU layers of width 128 (random weights: speed does not
depend on them), one torch thread, against the recurrence of one LSTM layer of width 128
(torch's native kernel, the scorer's layer) on the same windows. Characters per second of
one model on one thread; the scorer runs one model per thread.

    python scripts/experiments/exp_mingru_speed.py

Writes ``runs/exp_mingru_speed/results.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import machine, table, write_results  # noqa: E402

D, LAYERS, VOCAB = 128, 3, 120


def _log_g(x: torch.Tensor) -> torch.Tensor:
    """log of the paper's positive activation: x + 0.5 for x >= 0, sigmoid(x) below."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


def log_space_layer(x: torch.Tensor, w: torch.Tensor, block: int) -> torch.Tensor:
    """x (B, T, D) -> hidden states (B, T, D) by the log-space scan, block by block."""
    out, log_h0 = [], None
    for t0 in range(0, x.shape[1], block):
        gate, cand = (x[:, t0 : t0 + block] @ w).chunk(2, -1)
        cum = torch.cumsum(-F.softplus(gate), 1)  # log of the products of (1 - z)
        v = -F.softplus(-gate) + _log_g(cand) - cum
        if log_h0 is not None:
            v = torch.cat([log_h0.unsqueeze(1), v], 1)
        log_h = cum + torch.logcumsumexp(v, 1)[:, 0 if log_h0 is None else 1 :]
        log_h0 = log_h[:, -1]
        out.append(log_h.exp())
    return torch.cat(out, 1)


def sequential_layer(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """x (T, B, D), time-major -> hidden states (T, B, D), one fused step per time step."""
    k = x @ w
    z, cand = torch.sigmoid(k[..., :D]), k[..., D:]
    h = torch.zeros(x.shape[1], D)
    out = torch.empty_like(x)
    for t in range(x.shape[0]):
        h = torch.addcmul(h, z[t], cand[t] - h)
        out[t] = h
    return out


def rate(fn, chars: int, repeat: int = 3) -> float:
    with torch.inference_mode():
        fn()
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
    return chars / best


def log_space(ids: torch.Tensor, emb: torch.Tensor, ws: list, block: int) -> None:
    x = F.embedding(ids, emb)
    for w in ws:
        x = x + log_space_layer(F.rms_norm(x, (D,)), w, block)


def sequential(ids: torch.Tensor, emb: torch.Tensor, ws: list) -> None:
    x = F.embedding(ids.t(), emb)
    for w in ws:
        x = x + sequential_layer(F.rms_norm(x, (D,)), w)


def lstm_recurrence(ids: torch.Tensor, emb: torch.Tensor, lstm: torch.nn.LSTM) -> None:
    x, state = F.embedding(ids.t(), emb), None
    for t0 in range(0, ids.shape[1], 64):
        _, state = lstm(x[t0 : t0 + 64], state)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    ws = [torch.randn(D, 2 * D) / D**0.5 for _ in range(LAYERS)]
    emb, emb32 = torch.randn(VOCAB, D) * 0.1, torch.randn(VOCAB, 32)
    lstm = torch.nn.LSTM(32, D)
    rows = []
    for windows, length in ((128, 1088), (512, 1088)):
        ids = torch.randint(0, VOCAB, (windows, length))
        cases = {"minGRU x3, log-space scan, blocks of 64": partial(log_space, ids, emb, ws, 64),
                 "minGRU x3, log-space scan, whole window":
                     partial(log_space, ids, emb, ws, length),
                 "minGRU x3, sequential": partial(sequential, ids, emb, ws),
                 "LSTM x1 (the scorer's kernel), recurrence only":
                     partial(lstm_recurrence, ids, emb32, lstm)}
        for name, fn in cases.items():
            rows.append({"cell": name, "windows": windows, "window chars": length,
                         "chars/s (one model, one thread)": f"{rate(fn, ids.numel()):,.0f}"})
            print(rows[-1], file=sys.stderr)
    print(table(rows, list(rows[0])))
    print(f"\nwrote {write_results('exp_mingru_speed', {'machine': machine(), 'rows': rows})}")


if __name__ == "__main__":
    main()
