"""An int8 twin of a stacked LSTM pair, for ``--precision int8`` on a CPU.

torch's dynamic quantisation (``torch.ao``): each model's LSTM layers and output layer
keep int8 weights, quantised per output channel, and quantise their inputs at every step,
with a scale taken over the whole batch (so a text's scores depend a little on the texts
scored with it); the embeddings and the statistics stay float32. The twin scores
through the float model's own ``window_stats``, so blocks, threads and statistics are the
same code.

Measured on an AMD EPYC with AVX2 (``scripts/bench_score.py``, docs/benchmarks.md): slower
than float32 there, and the per-step quantisation of the hidden state moves the KL by
about a tenth on average; ``--precision auto`` never picks it.
"""

from __future__ import annotations

import warnings
import weakref

import torch
import torch.nn.functional as F
from torch import nn

from .model import StackedLSTM

# float model -> (its parameters' version counters when the twin was built, the twin)
_TWINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def int8_supported(model, device: torch.device) -> bool:
    """Whether ``model`` has an int8 twin on ``device``: an LSTM pair on a CPU whose torch
    build has a quantised engine."""
    return (device.type == "cpu" and isinstance(model, StackedLSTM)
            and torch.backends.quantized.engine != "none")


def int8_twin(model: StackedLSTM) -> Int8LSTM:
    """The int8 twin of ``model``, kept while the model lives and rebuilt when its weights
    change in place (an optimiser step or a load bumps each tensor's version counter)."""
    stamp = tuple(p._version for p in model.parameters())
    kept = _TWINS.get(model)
    if kept is None or kept[0] != stamp:
        kept = _TWINS[model] = (stamp, Int8LSTM(model))
    return kept[1]


def _quantised(module: nn.Module) -> nn.Module:
    """``module`` (an ``nn.LSTM`` or ``nn.Linear``) with dynamic int8 weights."""
    with warnings.catch_warnings():  # torch.ao announces its move to torchao
        warnings.simplefilter("ignore")
        from torch.ao.nn.quantized import dynamic as nnqd
        from torch.ao.quantization import per_channel_dynamic_qconfig

        module.qconfig = per_channel_dynamic_qconfig
        kind = nnqd.LSTM if isinstance(module, nn.LSTM) else nnqd.Linear
        return kind.from_float(module.eval())


def float_layers(model: StackedLSTM, k: int) -> tuple[nn.LSTM, nn.Linear]:
    """Model k's LSTM layers and output layer as torch's ``nn.LSTM`` and ``nn.Linear``,
    float32, computing what ``recur_one`` and ``head_one`` compute."""
    cfg = model.cfg
    lstm = nn.LSTM(cfg.d_embed, cfg.d_model, num_layers=cfg.n_layers)
    head = nn.Linear(cfg.d_model, cfg.vocab_size)
    with torch.no_grad():
        for i in range(cfg.n_layers):  # torch's gate order i, f, g, o, as ours
            getattr(lstm, f"weight_ih_l{i}").copy_(model.w_ih[i][k].t())  # (4H, D_in)
            getattr(lstm, f"weight_hh_l{i}").copy_(model.w_hh[i][k].t())  # (4H, H)
            getattr(lstm, f"bias_ih_l{i}").copy_(model.gate_b[i][k, 0])
            getattr(lstm, f"bias_hh_l{i}").zero_()
        head.weight.copy_(model.head_w[k].t())  # (V, H)
        head.bias.copy_(model.head_b[k, 0])
    return lstm, head


class Int8LSTM(nn.Module):
    """A ``StackedLSTM``'s models with int8 LSTM and output layers; scoring only."""

    def __init__(self, model: StackedLSTM) -> None:
        super().__init__()
        self.cfg = model.cfg
        self.embed = model.embed.detach()  # (M, V, E), shared with the float model
        layers = [float_layers(model, k) for k in range(self.cfg.n_models)]
        self.lstms = nn.ModuleList(_quantised(lstm) for lstm, _ in layers)
        self.heads = nn.ModuleList(_quantised(head) for _, head in layers)

    def recur_one(self, k: int, ids: torch.Tensor, state: list | None = None
                  ) -> tuple[torch.Tensor, list]:
        """As ``StackedLSTM.recur_one``: ids (T, B) -> hidden states (T, B, H), new state."""
        x = F.embedding(ids, self.embed[k])  # (T, B, E)
        hc = None
        if state is not None:  # per layer (1, B, H) -> (L, B, H)
            hc = (torch.cat([h for h, _ in state]), torch.cat([c for _, c in state]))
        out, (h, c) = self.lstms[k](x, hc)
        return out, [(h[i : i + 1], c[i : i + 1]) for i in range(self.cfg.n_layers)]

    def head_one(self, k: int, h: torch.Tensor) -> torch.Tensor:
        """Model k's output layer: hidden states (N, H) -> logits (N, V)."""
        return self.heads[k](h)

    # the float model's block loop, threads and statistics, calling this twin's layers
    window_stats = StackedLSTM.window_stats
