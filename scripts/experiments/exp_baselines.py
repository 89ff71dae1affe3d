#!/usr/bin/env python
"""Experiment 5: self-KL against single-model baselines, at 10, 30 and 100-character windows.

For each out-of-distribution text and held-out English (the second half of the training
book's held-out tail), the per-character scores are averaged over non-overlapping windows
of w characters and each score's AUROC (OOD windows against held-out English windows) is
measured. Scores (higher = more foreign):

- ``self_kl``: the pair's KL between its two models (the method);
- ``surprisal``: -log p(next char) under model 0 alone (a plain language-model score);
- ``entropy``: model 0's predictive entropy;
- ``one_minus_msp``: 1 - model 0's maximum softmax probability;
- ``kl+surprisal``: the sum of the two z-scored against the *first* half of the held-out
  tail (no OOD labels are used anywhere).

Usage::

    python scripts/experiments/exp_baselines.py [--model PATH] [--chars 30000] [--quick]

Writes ``runs/exp_baselines/results.json`` and ``auroc.html``; prints one table per window.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _lib  # noqa: E402
from common import machine, table, write_results  # noqa: E402
from exp_corpora_kl import build_texts  # noqa: E402

NAME = "exp_baselines"
WINDOWS = (10, 30, 100)
SCORES = ("self_kl", "surprisal", "entropy", "one_minus_msp", "kl+surprisal")


def char_scores(forward, vocab, text: str) -> dict[str, np.ndarray]:
    """The per-character scores of ``text`` (all but the combination)."""
    st = _lib.char_stats(forward, vocab.encode(text).ids)
    return {"self_kl": st.kl([0, 1]), "surprisal": st.nll[0], "entropy": st.entropy[0],
            "one_minus_msp": 1.0 - st.msp[0]}


def windowed(scores: dict[str, np.ndarray], w: int, ref: dict | None) -> dict[str, np.ndarray]:
    """Window means of every score, plus the z-scored combination (``ref`` = its mean/std)."""
    out = {k: _lib.block_means(v, w) for k, v in scores.items()}
    if ref is not None:
        z = [(out[k] - ref[k][0]) / ref[k][1] for k in ("self_kl", "surprisal")]
        out["kl+surprisal"] = z[0] + z[1]
    return out


def run(forward, vocab, id_calib: str, id_test: str, ood: list[tuple[str, str, str]],
        windows=WINDOWS) -> list[dict]:
    """AUROC rows: one per (OOD text, window), with a column per score and the winner."""
    calib = char_scores(forward, vocab, id_calib)
    test = char_scores(forward, vocab, id_test)
    per_text = [(label, group, char_scores(forward, vocab, text)) for label, group, text in ood]
    rows = []
    for w in windows:
        cw = windowed(calib, w, None)
        ref = {k: (float(v.mean()), float(v.std() + 1e-12)) for k, v in cw.items()}
        tw = windowed(test, w, ref)
        for label, group, sc in per_text:
            ow = windowed(sc, w, ref)
            row = {"text": label, "group": group, "window": w, "n_in": len(tw["self_kl"]),
                   "n_out": len(ow["self_kl"])}
            for k in SCORES:
                row[k] = _lib.auroc(tw[k], ow[k])
            row["best"] = max(SCORES, key=lambda k: row[k])
            rows.append(row)
    return rows


def summary(rows: list[dict]) -> list[dict]:
    """Mean AUROC per group and window, and how often each score wins."""
    out = []
    for w in sorted({r["window"] for r in rows}):
        for g in dict.fromkeys(r["group"] for r in rows):
            sel = [r for r in rows if r["window"] == w and r["group"] == g]
            row = {"group": g, "window": w, "texts": len(sel)}
            for k in SCORES:
                row[k] = float(np.mean([r[k] for r in sel]))
            row["wins"] = ", ".join(f"{k} {sum(r['best'] == k for r in sel)}"
                                    for k in SCORES if any(r["best"] == k for r in sel))
            out.append(row)
    return out


def figure(rows: list[dict], png: bool, name: str = NAME) -> list[str]:
    from plotly.subplots import make_subplots

    ws = sorted({r["window"] for r in rows})
    fig = make_subplots(rows=len(ws), cols=1, shared_xaxes=True,
                        subplot_titles=[f"{w}-character windows" for w in ws])
    for i, w in enumerate(ws, 1):
        sel = [r for r in rows if r["window"] == w]
        for j, k in enumerate(SCORES):
            fig.add_bar(x=[r["text"] for r in sel], y=[r[k] for r in sel], name=k,
                        marker_color=["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"][j],
                        showlegend=i == 1, legendgroup=k, row=i, col=1)
        fig.update_yaxes(range=[0.3, 1.0], title_text="AUROC", row=i, col=1)
    fig.update_layout(title="AUROC against held-out Moby-Dick: self-KL and single-model baselines",
                      barmode="group", height=1100, width=1300, margin={"b": 220})
    fig.update_xaxes(tickangle=-45)
    return _lib.write_figure(fig, name, "auroc", png=png)


def main(argv: list[str] | None = None) -> dict:
    ap = _lib.parser(__doc__)
    ap.add_argument("--model", default=None)
    ap.add_argument("--chars", type=int, default=None, help="characters per OOD text")
    ap.add_argument("--png", action="store_true")
    args = _lib.parse(ap, argv, NAME)
    n = args.chars or (3_000 if args.quick else 30_000)
    t0 = time.perf_counter()
    pair = _lib.load_pair(args.model)
    _, held = _lib.book_split(pair)
    half = len(held) // 2
    id_calib, id_test = held[:half], held[half:]
    if args.quick:
        id_calib, id_test = id_calib[:n], id_test[:n]
    corpora = _lib.CORPORA[::4] if args.quick else _lib.CORPORA
    ood = [t for t in build_texts(pair, n, corpora) if "held-out" not in t[0]]
    rows = run(_lib.stacked_forward(pair.model), pair.vocab, id_calib, id_test, ood)
    summ = summary(rows)
    figs = figure(rows, args.png, args.name)
    res = {"config": {"model": str(args.model or _lib.DEFAULT_MODEL), "chars": n,
                      "quick": args.quick, "id_calib_chars": len(id_calib),
                      "id_test_chars": len(id_test)},
           "pair": pair.describe(), "rows": rows, "summary": summ, "figures": figs,
           "seconds": round(time.perf_counter() - t0, 1), "machine": machine()}
    write_results(args.name, res)
    for w in WINDOWS:
        print(f"\n### {w}-character windows\n")
        print(table([r for r in rows if r["window"] == w], ["text", *SCORES, "best"]))
    print("\n### Mean AUROC per group\n")
    print(table(summ, ["group", "window", "texts", *SCORES, "wins"]))
    return res


if __name__ == "__main__":
    main()
