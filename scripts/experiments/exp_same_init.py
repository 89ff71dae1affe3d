#!/usr/bin/env python
"""Experiment 1, the control: identical initialisation gives KL == 0 everywhere.

Two pairs are trained with the same settings on the same part of Moby-Dick (so on the same
batches): one whose two models start from identical weights (``same_init=True``), one whose
models start from different seeds. Both are scored on held-out Moby-Dick, another English
novel, French, German, Python code and random characters. With identical initial weights
and identical batches the two models stay bit-for-bit identical, so their KL is exactly 0
on every character and nothing can be detected; the different-init pair separates the same
texts.

Usage::

    python scripts/experiments/exp_same_init.py [--quick]

Writes ``runs/exp_same_init/results.json`` and ``kl.html``; prints a Markdown table.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _lib  # noqa: E402
from common import machine, table, write_results  # noqa: E402

NAME = "exp_same_init"


def train_both(text: str, steps: int, d_model: int, seed: int = 0) -> dict:
    """Train a same-init pair and a different-init pair with identical settings on ``text``."""
    from textkl.training import TrainConfig, train_on_text

    cfg = TrainConfig(steps=steps, batch_size=32, seq_len=96, lr=6e-3, warmup_steps=min(50, steps),
                      eval_every=max(steps // 2, 1), calib_chars=20_000, seed=seed)
    out = {}
    for same in (True, False):
        t0 = time.perf_counter()
        out[same] = train_on_text(text, same_init=same, d_model=d_model, d_embed=16, config=cfg,
                                  device="cpu", progress=False)
        print(f"trained same_init={same} in {time.perf_counter() - t0:.0f}s "
              f"(val loss {out[same].meta['val_loss']:.3f})", file=sys.stderr)
    return out


def max_weight_gap(pair) -> float:
    """Largest absolute difference between the weights of model 0 and model 1."""
    with torch.no_grad():
        return max(float((p[0] - p[1]).abs().max()) for p in pair.model.parameters())


def compare(pairs: dict, texts: dict[str, str]) -> list[dict]:
    """Mean / max KL of both pairs on every text, by the package scorer and by hand."""
    rows = []
    for label, text in texts.items():
        row = {"text": label, "chars": len(text)}
        for same, tag in ((True, "same"), (False, "diff")):
            pair = pairs[same]
            kl = pair.score(text).kl
            row[f"{tag}_mean_kl"] = float(np.nanmean(kl))
            row[f"{tag}_max_kl"] = float(np.nanmax(kl))
            ids = pair.vocab.encode(text).ids
            st = _lib.char_stats(_lib.stacked_forward(pair.model), ids)
            row[f"{tag}_max_kl_by_hand"] = float(np.nanmax(st.klmat))  # both orders
            row[f"{tag}_max_logit_gap"] = _max_logit_gap(pair, ids)
        rows.append(row)
    return rows


@torch.inference_mode()
def _max_logit_gap(pair, ids: np.ndarray) -> float:
    x = torch.from_numpy(ids[: 4096].astype(np.int64)).view(1, -1)
    logits = pair.model(x)[0]  # (M, 1, T, V)
    return float((logits[0] - logits[1]).abs().max())


def main(argv: list[str] | None = None) -> dict:
    ap = _lib.parser(__doc__)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--train-chars", type=int, default=None)
    args = _lib.parse(ap, argv, NAME)
    steps = args.steps or (60 if args.quick else 600)
    n_train = args.train_chars or (60_000 if args.quick else 400_000)
    n_eval = 2_000 if args.quick else 20_000
    d_model = 32 if args.quick else 96

    from textkl.training import load_books

    book = load_books([_lib.corpora_dir() / "en_novel_moby_dick.txt"])
    train_text, held = book[: n_train], book[-200_000:]
    texts = {
        "Moby-Dick held-out": _lib.slices(held, n_eval),
        "English: Austen": _lib.corpus_sample("en_novel_pride_and_prejudice", n_eval),
        "French: Candide": _lib.corpus_sample("fr_novel_candide", n_eval),
        "German: Grimm": _lib.corpus_sample("de_novel_grimm_maerchen", n_eval),
        "Python code": _lib.corpus_sample("code_python_cpython_stdlib", n_eval),
        "random characters": _lib.random_chars(n_eval, "abcdefghijklmnopqrstuvwxyz ,.", 0),
    }
    t0 = time.perf_counter()
    pairs = train_both(train_text, steps, d_model)
    rows = compare(pairs, texts)
    res = {
        "config": {"quick": args.quick, "steps": steps, "train_chars": len(train_text),
                   "eval_chars": n_eval, "d_model": d_model},
        "weight_gap_same": max_weight_gap(pairs[True]),
        "weight_gap_diff": max_weight_gap(pairs[False]),
        "val_loss_same": pairs[True].meta["val_loss"],
        "val_loss_diff": pairs[False].meta["val_loss"],
        "rows": rows,
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": machine(),
    }
    _figure(rows, args.name)
    write_results(args.name, res)
    cols = ["text", "same_mean_kl", "same_max_kl", "same_max_kl_by_hand", "same_max_logit_gap",
            "diff_mean_kl", "diff_max_kl"]
    print(table(rows, cols))
    print(f"\nmax |w0 - w1|: same init {res['weight_gap_same']:.3g}, "
          f"different init {res['weight_gap_diff']:.3g}")
    return res


def _figure(rows: list[dict], name: str = NAME) -> None:
    import plotly.graph_objects as go

    fig = go.Figure()
    names = [r["text"] for r in rows]
    fig.add_bar(x=names, y=[r["same_mean_kl"] for r in rows], name="same init")
    fig.add_bar(x=names, y=[r["diff_mean_kl"] for r in rows], name="different init")
    fig.update_layout(title="Mean self-KL: identical vs different initialisation",
                      yaxis_title="mean KL (nats/char)", barmode="group")
    _lib.write_figure(fig, name, "kl")


if __name__ == "__main__":
    main()
