#!/usr/bin/env python
"""Experiment 4: initialisation schemes and ensemble size M = 2, 4, 8.

For each init scheme of ``ModelConfig.init`` (uniform, normal, orthogonal) one stack of 8
LSTMs is trained jointly on Moby-Dick (same batches, summed loss). Because the models share
no weights and AdamW is per-parameter, a subset of the 8 is itself a jointly trained
ensemble of that size (the only coupling is the global gradient-norm clipping). The self-KL
of an ensemble is the mean KL over its ordered model pairs. AUROC of 30-character window
means of each OOD text against held-out Moby-Dick is averaged over the disjoint subsets of
each size: 4 pairs, 2 quadruples, 1 octet.

Reference: on images the method's author reported AUROC 0.968 / 0.974 / 0.980 for M = 2 / 4 / 8.

Usage::

    python scripts/experiments/exp_ensemble.py [--steps 400] [--quick]

Writes ``runs/exp_ensemble/results.json`` and ``auroc_vs_m.html``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _lib  # noqa: E402
from common import machine, table, write_results  # noqa: E402

NAME = "exp_ensemble"
SCHEMES = ("uniform", "normal", "orthogonal")
SIZES = (2, 4, 8)
OOD = [c for c in _lib.CORPORA if c[2] != "other English"]
WINDOW = 30


def train_stack(text: str, init: str, n_models: int, steps: int, d_model: int, seed: int = 0):
    """One jointly trained stack of ``n_models`` LSTMs with the ``init`` scheme."""
    from textkl.training import TrainConfig, train_on_text

    cfg = TrainConfig(steps=steps, batch_size=32, seq_len=96, lr=6e-3,
                      warmup_steps=min(50, steps), eval_every=steps, val_chars=20_000,
                      calib_chars=5_000, seed=seed)
    return train_on_text(text, n_models=n_models, init=init, d_model=d_model, d_embed=16,
                         config=cfg, device="cpu", progress=False)


def subset_aurocs(id_stats, ood_stats: dict, n_models: int, window: int = WINDOW) -> list[dict]:
    """Per ensemble size: AUROC per OOD text, averaged over disjoint model subsets."""
    rows = []
    for m in [s for s in SIZES if s <= n_models]:
        groups = [list(range(i, i + m)) for i in range(0, n_models - m + 1, m)]
        per_text = {}
        for label, st in ood_stats.items():
            vals = [_lib.auroc(_lib.block_means(id_stats.kl(g), window),
                               _lib.block_means(st.kl(g), window)) for g in groups]
            per_text[label] = (float(np.mean(vals)), float(np.std(vals)))
        means = [v[0] for v in per_text.values()]
        rows.append({"M": m, "subsets": len(groups), "mean_auroc": float(np.mean(means)),
                     "min_auroc": float(np.min(means)),
                     "per_text": {k: v[0] for k, v in per_text.items()},
                     "per_text_std": {k: v[1] for k, v in per_text.items()}})
    return rows


def main(argv: list[str] | None = None) -> dict:
    ap = _lib.parser(__doc__)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--chars", type=int, default=None, help="characters per evaluation text")
    ap.add_argument("--png", action="store_true")
    args = _lib.parse(ap, argv, NAME)
    steps = args.steps or (30 if args.quick else 400)
    n = args.chars or (2_000 if args.quick else 15_000)
    d_model = 32 if args.quick else 64
    schemes = SCHEMES[:1] if args.quick else SCHEMES
    n_models = 4 if args.quick else 8
    ood = OOD[::5] if args.quick else OOD
    from textkl.training import load_books

    book = load_books([_lib.corpora_dir() / "en_novel_moby_dick.txt"])
    if args.quick:
        book = book[:100_000]
    t0 = time.perf_counter()
    rows, curves = [], {}
    for init in schemes:
        t1 = time.perf_counter()
        pair = train_stack(book, init, n_models, steps, d_model)
        train_s = time.perf_counter() - t1
        held = _lib.heldout_of(pair, book)
        fwd = _lib.stacked_forward(pair.model)
        id_stats = _lib.char_stats(fwd, pair.vocab.encode(_lib.slices(held, n, skip=0.0)).ids)
        ood_stats = {label: _lib.char_stats(fwd, pair.vocab.encode(
            _lib.corpus_sample(name, n)).ids) for name, label, _ in ood}
        res_rows = subset_aurocs(id_stats, ood_stats, n_models)
        curves[init] = res_rows
        for r in res_rows:
            rows.append({"init": init, "M": r["M"], "subsets": r["subsets"],
                         "mean_auroc": r["mean_auroc"], "min_auroc": r["min_auroc"],
                         "val_loss": pair.meta["val_loss"], "train_s": round(train_s)})
        print(f"{init}: {[round(r['mean_auroc'], 3) for r in res_rows]} "
              f"({train_s:.0f}s training)", file=sys.stderr)
    figs = _figure(curves, args.png, args.name)
    res = {"config": {"steps": steps, "chars": n, "d_model": d_model, "n_models": n_models,
                      "window": WINDOW, "quick": args.quick, "ood": [o[1] for o in ood]},
           "reference_images": {"2": 0.968, "4": 0.974, "8": 0.980},
           "rows": rows, "curves": curves, "figures": figs,
           "seconds": round(time.perf_counter() - t0, 1), "machine": machine()}
    write_results(args.name, res)
    print(table(rows, ["init", "M", "subsets", "mean_auroc", "min_auroc", "val_loss"]))
    return res


def _figure(curves: dict, png: bool, name: str = NAME) -> list[str]:
    import plotly.graph_objects as go

    fig = go.Figure()
    for init, rs in curves.items():
        fig.add_scatter(x=[r["M"] for r in rs], y=[r["mean_auroc"] for r in rs],
                        mode="lines+markers", name=f"text, init={init}")
    fig.add_scatter(x=[2, 4, 8], y=[0.968, 0.974, 0.980], mode="lines+markers",
                    name="images (reference)", line={"dash": "dot"})
    fig.update_layout(title="Mean AUROC (30-char windows, OOD corpora vs held-out Moby-Dick) "
                      "against ensemble size", xaxis_title="M (models)", yaxis_title="AUROC",
                      xaxis_type="log", xaxis_tickvals=[2, 4, 8])
    return _lib.write_figure(fig, name, "auroc_vs_m", png=png)


if __name__ == "__main__":
    main()
