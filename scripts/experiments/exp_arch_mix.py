#!/usr/bin/env python
"""Experiment 3: an LSTM paired with a transformer instead of two models of one kind.

An LSTM pair and a transformer pair are trained with the same ``TrainConfig`` (same seed,
so the same batches in the same order) on Moby-Dick. The four models give three kinds of
pairs: LSTM/LSTM, transformer/transformer and the mixed LSTM/transformer (KL computed from
the stacked logits of the two stacks: ``textkl.score.pair_stats`` and the per-pair KL
matrix of ``_lib.char_stats``, which must agree). For each kind: mean KL on held-out
Moby-Dick and on each OOD text, the ratio OOD / held-out, and the AUROC of 30-character
window means against held-out Moby-Dick. If architectural differences swamped the signal,
the mixed pair's KL would be high on the book itself and its AUROC low.

Usage::

    python scripts/experiments/exp_arch_mix.py [--steps 500] [--quick]

Writes ``runs/exp_arch_mix/results.json`` and ``kl.html``.
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

NAME = "exp_arch_mix"
WINDOW = 30
# model indices in the concatenated stack [lstm0, lstm1, transformer0, transformer1]
KINDS = {"lstm/lstm": [(0, 1)], "transformer/transformer": [(2, 3)],
         "lstm/transformer": [(0, 2), (0, 3), (1, 2), (1, 3)]}


def train_two(text: str, steps: int, d_model: int, seed: int = 0) -> dict:
    """An LSTM pair and a transformer pair trained on the same batches."""
    from textkl.training import TrainConfig, train_on_text

    cfg = TrainConfig(steps=steps, batch_size=32, seq_len=128, lr=3e-3,
                      warmup_steps=min(50, steps), eval_every=steps, val_chars=20_000,
                      calib_chars=5_000, seed=seed)
    out = {}
    for arch, kw in (("lstm", {"d_embed": 16}), ("transformer", {"n_layers": 2, "context": 256})):
        t0 = time.perf_counter()
        out[arch] = train_on_text(text, arch=arch, d_model=d_model, config=cfg, device="cpu",
                                  progress=False, **kw)
        out[arch].meta["wall_s"] = round(time.perf_counter() - t0, 1)
        print(f"{arch}: val loss {out[arch].meta['val_loss']:.3f} "
              f"({out[arch].meta['wall_s']:.0f}s)", file=sys.stderr)
    if out["lstm"].vocab.chars != out["transformer"].vocab.chars:
        raise AssertionError("the two stacks must share one vocabulary")
    return out


def pair_kl(st, pairs: list[tuple[int, int]]) -> np.ndarray:
    """Symmetric KL per character, averaged over the listed model pairs; (N,)."""
    return np.mean([st.kl([i, j]) for i, j in pairs], axis=0)


@torch.inference_mode()
def check_pair_stats(fwd, ids: np.ndarray, st) -> float:
    """Largest gap between pair_stats on stacked (lstm0, transformer0) logits and char_stats."""
    from textkl.score import pair_stats

    n = min(150, len(ids) - 1)  # inside the first window of char_stats: same context
    x = torch.from_numpy(ids[:n].astype(np.int64)).view(1, -1)
    y = torch.from_numpy(ids[1 : n + 1].astype(np.int64)).view(1, -1)
    logits = fwd(x)[[0, 2]]  # (2, 1, T, V): one LSTM, one transformer
    kl, _, _ = pair_stats(logits, y)
    return float(np.abs(kl[0].numpy() - st.kl([0, 2])[1 : n + 1]).max())


def main(argv: list[str] | None = None) -> dict:
    ap = _lib.parser(__doc__)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--chars", type=int, default=None)
    args = _lib.parse(ap, argv, NAME)
    steps = args.steps or (30 if args.quick else 500)
    n = args.chars or (2_000 if args.quick else 15_000)
    d_model = 32 if args.quick else 96
    from textkl.training import load_books

    book = load_books([_lib.corpora_dir() / "en_novel_moby_dick.txt"])
    if args.quick:
        book = book[:100_000]
    t0 = time.perf_counter()
    pairs = train_two(book, steps, d_model)
    held = _lib.heldout_of(pairs["lstm"], book)
    fwd = _lib.stacked_forward(pairs["lstm"].model, pairs["transformer"].model)
    vocab = pairs["lstm"].vocab
    texts = [("Moby-Dick held-out", "book", _lib.slices(held, n, skip=0.0))]
    corpora = _lib.CORPORA[::5] if args.quick else _lib.CORPORA
    texts += [(label, group, _lib.corpus_sample(name, n)) for name, label, group in corpora]
    stats = {label: _lib.char_stats(fwd, vocab.encode(t).ids) for label, _, t in texts}
    gap = check_pair_stats(fwd, vocab.encode(texts[0][2]).ids, stats[texts[0][0]])
    id_label = texts[0][0]
    rows = []
    for label, group, _ in texts:
        row = {"text": label, "group": group}
        for kind, prs in KINDS.items():
            kl = pair_kl(stats[label], prs)
            ref = pair_kl(stats[id_label], prs)
            row[f"{kind} KL"] = float(np.nanmean(kl))
            row[f"{kind} ratio"] = float(np.nanmean(kl) / np.nanmean(ref))
            if label != id_label:
                row[f"{kind} AUROC"] = _lib.auroc(_lib.block_means(ref, WINDOW),
                                                  _lib.block_means(kl, WINDOW))
        rows.append(row)
    summ = []
    for kind in KINDS:
        ood = [r for r in rows if r["text"] != id_label]
        summ.append({"pair": kind, "held-out KL": rows[0][f"{kind} KL"],
                     "mean AUROC": float(np.mean([r[f"{kind} AUROC"] for r in ood])),
                     "min AUROC": float(np.min([r[f"{kind} AUROC"] for r in ood])),
                     "mean ratio": float(np.mean([r[f"{kind} ratio"] for r in ood]))})
    figs = _figure(rows, args.name)
    res = {"config": {"steps": steps, "chars": n, "d_model": d_model, "quick": args.quick,
                      "window": WINDOW},
           "val_loss": {a: p.meta["val_loss"] for a, p in pairs.items()},
           "train_seconds": {a: p.meta["wall_s"] for a, p in pairs.items()},
           "pair_stats_gap": gap, "rows": rows, "summary": summ, "figures": figs,
           "seconds": round(time.perf_counter() - t0, 1), "machine": machine()}
    write_results(args.name, res)
    print(table(rows, ["text", *[f"{k} KL" for k in KINDS], *[f"{k} AUROC" for k in KINDS]]))
    print()
    print(table(summ, ["pair", "held-out KL", "mean AUROC", "min AUROC", "mean ratio"]))
    print(f"\nval loss: {res['val_loss']}; pair_stats vs by-hand KL gap {gap:.2e}")
    return res


def _figure(rows: list[dict], name: str = NAME) -> list[str]:
    import plotly.graph_objects as go

    fig = go.Figure()
    for kind in KINDS:
        fig.add_bar(x=[r["text"] for r in rows], y=[r[f"{kind} KL"] for r in rows], name=kind)
    fig.update_layout(title="Mean self-KL by pair kind", yaxis_type="log", barmode="group",
                      yaxis_title="mean KL (nats/char)", height=600, margin={"b": 200})
    fig.update_xaxes(tickangle=-45)
    return _lib.write_figure(fig, name, "kl")


if __name__ == "__main__":
    main()
