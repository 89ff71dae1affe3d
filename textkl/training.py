"""Joint training: one optimiser over all M models, the same batches, the summed loss.

The models differ only by their initialisation (``ModelConfig.seed``; ``same_init`` makes
them identical, the control). Dropout masks are shared across models for the same reason.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .calibrate import calibrate
from .corpora import strip_gutenberg
from .errors import InputError, SettingError
from .io import read_text
from .lexicon import Lexicon
from .model import ModelConfig, StackedLSTM, build_model, count_params, run_models
from .pair import Pair, default_score_config, resolve_device
from .score import score_text
from .vocab import CharVocab

# Peak learning rates when TrainConfig.lr is None. LSTM: chosen by validation loss after 4
# and 10 minutes of training on Moby-Dick (2026-12-02; scripts/bench_train.py, with a check
# on Pride and Prejudice; docs/benchmarks.md); it was 3e-3 for both before.
DEFAULT_LR = {"lstm": 2e-2, "transformer": 3e-3}


@dataclass(frozen=True)
class TrainConfig:
    steps: int | None = None  # optimiser steps; None with minutes=None means 3000
    minutes: float | None = None  # wall-clock budget; whichever of steps/minutes ends first
    batch_size: int = 64  # sequences per step, shared by all models
    seq_len: int = 128  # characters per sequence (transformers: at most context)
    lr: float | None = None  # peak learning rate (AdamW); None: DEFAULT_LR of the architecture
    weight_decay: float = 0.01
    warmup_steps: int = 100  # linear warm-up, then cosine decay to lr / 10
    clip: float = 1.0  # gradient norm clipping over all models
    val_fraction: float = 0.05  # tail of the text held out for validation and calibration
    eval_every: int = 250  # steps between validation evaluations
    patience: int = 6  # evaluations without improvement before stopping early
    val_chars: int = 60_000  # held-out characters used for the validation loss
    calib_chars: int = 200_000  # held-out characters scored for the calibration
    seed: int = 0  # batches and initialisation

    def __post_init__(self) -> None:
        if not 0.0 < self.val_fraction < 0.5:
            raise SettingError(f"val_fraction must be in (0, 0.5), got {self.val_fraction}")
        if self.steps is not None and self.steps < 1:
            raise SettingError(f"steps must be >= 1, got {self.steps}")

    def with_lr_for(self, arch: str) -> TrainConfig:
        """This config with ``lr`` set: its own, else the architecture's ``DEFAULT_LR``."""
        return self if self.lr is not None else replace(self, lr=DEFAULT_LR[arch])

    @property
    def max_steps(self) -> int:
        return self.steps if self.steps is not None else (10**9 if self.minutes else 3000)


def load_books(books: Sequence[str | Path]) -> str:
    """Read and clean (strip Gutenberg boilerplate) the training books, joined by a blank line."""
    if not books:
        raise InputError("no training book given")
    return "\n\n".join(strip_gutenberg(read_text(b)) for b in books)


def train_pair(books: Sequence[str | Path], **kwargs) -> Pair:
    """Train a pair on the text of ``books``; see ``train_on_text`` for the options."""
    kwargs.setdefault("book_names", [Path(b).name if str(b) != "-" else "<stdin>" for b in books])
    return train_on_text(load_books(books), **kwargs)


def train_on_text(
    text: str,
    *,
    arch: str = "lstm",
    n_models: int = 2,
    same_init: bool = False,
    config: TrainConfig | None = None,
    device: str | torch.device = "auto",
    progress: bool = True,
    book_names: list[str] | None = None,
    min_count: int = 5,
    **model_kw,
) -> Pair:
    """Train M models jointly on ``text`` and calibrate them on its held-out tail.

    Args:
        text: the training book (already cleaned).
        arch: ``lstm`` or ``transformer``.
        n_models: M >= 2.
        same_init: start all models from identical weights (their KL then stays 0).
        config: optimisation settings (``TrainConfig``).
        device: ``auto``, ``cpu`` or ``cuda``.
        progress: show a tqdm bar on stderr with loss and characters/second.
        book_names: recorded in the checkpoint's metadata.
        min_count: characters seen fewer times map to ``<unk>``.
        **model_kw: other ``ModelConfig`` fields (``d_model``, ``n_layers``, ...).

    Returns:
        The trained, calibrated ``Pair`` (best validation weights), on ``device``.
    """
    cfg_t = (config or TrainConfig()).with_lr_for(arch)
    dev = resolve_device(device)
    vocab = CharVocab.build(text, min_count=min_count)
    ids = vocab.encode(text).ids
    n_val = int(len(ids) * cfg_t.val_fraction)
    if len(ids) - n_val < 2 * cfg_t.seq_len or n_val < cfg_t.seq_len + 1:
        raise InputError(f"training text too short: {len(text)} characters "
                         f"(need a few times seq_len={cfg_t.seq_len})")
    train_ids = torch.from_numpy(ids[:-n_val].astype(np.int64))
    val_ids = ids[-n_val:]
    if arch == "transformer":
        model_kw.setdefault("context", max(cfg_t.seq_len, 256))
    mcfg = ModelConfig(arch=arch, vocab_size=len(vocab), n_models=n_models,
                       same_init=same_init, seed=cfg_t.seed, **model_kw)
    if arch == "transformer" and cfg_t.seq_len > mcfg.context:
        raise SettingError(f"seq_len {cfg_t.seq_len} exceeds the transformer context "
                           f"{mcfg.context}")
    torch.manual_seed(cfg_t.seed)  # dropout masks; batches use their own generator
    model = build_model(mcfg).to(dev)
    stats = _fit(model, train_ids, val_ids, cfg_t, dev, progress)
    pair = Pair(model, vocab, score_config=default_score_config(mcfg),
                lexicon=Lexicon.build([text]))
    val_text = vocab.decode(val_ids[: cfg_t.calib_chars])
    s = score_text(pair.model, vocab, val_text, pair.score_config, dev)
    pair.calibration = calibrate(s.kl, s.nll, s.entropy)
    pair.meta = {
        "books": book_names or ["<text>"],
        "train_chars": int(len(train_ids)),
        "val_chars": int(n_val),
        "params_per_model": count_params(model),
        "train_config": asdict(cfg_t),
        "torch": torch.__version__,
        **stats,
    }
    return pair


def _batches(ids: torch.Tensor, cfg: TrainConfig, gen: torch.Generator):
    n = len(ids) - cfg.seq_len - 1
    ar = torch.arange(cfg.seq_len + 1)
    while True:
        starts = torch.randint(0, n, (cfg.batch_size,), generator=gen)
        chunk = ids[starts.unsqueeze(1) + ar]  # (B, T + 1)
        yield chunk[:, :-1], chunk[:, 1:]


def _loss(model, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed (over models) mean cross-entropy, and each model's loss."""
    logits, _, _ = model(x)  # (M, B, T, V)
    m, b, t, v = logits.shape
    per = F.cross_entropy(logits.reshape(m * b * t, v), y.repeat(m, 1).reshape(-1),
                          reduction="none").view(m, -1).mean(1)  # (M,)
    return per.sum(), per.detach()


def _backward(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradients of the summed loss into the models' parameters; each model's loss (M,).

    The models share no parameter, so the summed loss's gradient is each model's own. An
    LSTM pair without dropout on a CPU runs each model, forward and backward, in its own
    thread (``run_models``): one core per model instead of two cores per small matmul.
    """
    m = model.cfg.n_models
    if isinstance(model, StackedLSTM) and model.cfg.dropout == 0.0:

        def one(k: int) -> torch.Tensor:
            loss = model.train_loss_one(k, x, y)
            loss.backward()
            return loss.detach()

        return torch.stack(run_models([partial(one, k) for k in range(m)], x.device))
    loss, per = _loss(model, x, y)
    loss.backward()
    return per


@torch.no_grad()
def _evaluate(model, val_ids: np.ndarray, cfg: TrainConfig, dev: torch.device) -> float:
    """Mean validation loss (nats/char, mean over models) on fixed held-out sequences."""
    model.eval()
    v = torch.from_numpy(val_ids[: cfg.val_chars].astype(np.int64))
    n_seq = (len(v) - 1) // cfg.seq_len
    x = v[: n_seq * cfg.seq_len].view(n_seq, cfg.seq_len)
    y = v[1 : n_seq * cfg.seq_len + 1].view(n_seq, cfg.seq_len)
    total = 0.0
    for i in range(0, n_seq, 128):
        _, per = _loss(model, x[i : i + 128].to(dev), y[i : i + 128].to(dev))
        total += float(per.mean()) * len(x[i : i + 128])
    model.train()
    return total / n_seq


def _fit(model, train_ids, val_ids, cfg: TrainConfig, dev, progress: bool) -> dict:
    from tqdm.auto import tqdm

    decay = [p for n, p in model.named_parameters() if p.dim() >= 3 and "norm" not in n]
    other = [p for n, p in model.named_parameters() if not (p.dim() >= 3 and "norm" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": other, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.99))
    gen = torch.Generator().manual_seed(cfg.seed)
    batches = _batches(train_ids, cfg, gen)
    budget = cfg.minutes * 60 if cfg.minutes else None
    best, best_state, bad, history = math.inf, None, 0, []
    t0 = time.perf_counter()
    bar = tqdm(total=cfg.max_steps if cfg.steps or not budget else None, disable=not progress,
               desc="train", unit="step", dynamic_ncols=True)
    model.train()
    step = 0
    for step in range(1, cfg.max_steps + 1):
        elapsed = time.perf_counter() - t0
        frac = max(step / cfg.max_steps, elapsed / budget if budget else 0.0)
        cosine = 0.1 + 0.45 * (1 + math.cos(math.pi * min(frac, 1.0)))  # 1 -> 0.1
        lr = cfg.lr * min(1.0, step / cfg.warmup_steps) * cosine
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = next(batches)
        opt.zero_grad(set_to_none=True)
        per = _backward(model, x.to(dev), y.to(dev))
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
        bar.update(1)
        if step % 10 == 0:
            cps = step * cfg.batch_size * cfg.seq_len / max(elapsed, 1e-9)
            bar.set_postfix(loss=f"{float(per.mean()):.3f}", chars_s=f"{cps:,.0f}", refresh=False)
        out_of_time = budget is not None and time.perf_counter() - t0 >= budget
        if step % cfg.eval_every == 0 or step == cfg.max_steps or out_of_time:
            val = _evaluate(model, val_ids, cfg, dev)
            history.append({"step": step, "seconds": round(time.perf_counter() - t0, 2),
                            "train_loss": round(float(per.mean()), 4), "val_loss": round(val, 4)})
            if val < best - 1e-4:
                best, bad = val, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad += 1
            if bad >= cfg.patience:
                break
        if out_of_time:
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    seconds = time.perf_counter() - t0
    return {"val_loss": round(best, 4), "steps": step, "train_seconds": round(seconds, 1),
            "train_chars_per_s": round(step * cfg.batch_size * cfg.seq_len / seconds),
            "history": history}
