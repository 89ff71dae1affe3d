#!/usr/bin/env python
"""Experiment 2: the self-KL of a Moby-Dick pair on every corpus (different initialisations).

The pair (``--model``; by default ``runs/moby-lstm/pair.pt``, else the embedded default) is
scored on stretches of: its training book (the training part and the held-out tail), the
other English novels, Early Modern / Middle / Old English, the dictionary, Python code,
seven other languages, the mixed English/French War and Peace, random characters and random
words. For every text: mean per-character KL, quantiles of 30-character window means, and
the share of 30-character windows above the book's own 99th percentile (its calibration).

Usage::

    python scripts/experiments/exp_corpora_kl.py [--model PATH] [--chars 30000] [--quick]

Writes ``runs/exp_corpora_kl/results.json`` and ``kl_by_corpus.html`` (+ ``.png``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _lib  # noqa: E402
from common import machine, table, write_results  # noqa: E402

NAME = "exp_corpora_kl"
WINDOW = 30


def build_texts(pair, n_chars: int, corpora=_lib.CORPORA) -> list[tuple[str, str, str]]:
    """(label, group, text) for the training book, every corpus and the random controls."""
    train, held = _lib.book_split(pair)
    out = [("book: training part", "training book", _lib.slices(train, n_chars)),
           ("book: held-out tail", "training book", _lib.slices(held, n_chars, skip=0.0))]
    for name, label, group in corpora:
        out.append((label, group, _lib.corpus_sample(name, n_chars)))
    alphabet = "".join(c for c in pair.vocab.chars if len(c) == 1 and c.strip()) \
        if hasattr(pair.vocab, "chars") else "abcdefghijklmnopqrstuvwxyz"
    out.append(("random characters (book alphabet)", "random",
                _lib.random_chars(n_chars, alphabet + "     ", 0)))
    out.append(("random characters (a-z and space)", "random",
                _lib.random_chars(n_chars, "abcdefghijklmnopqrstuvwxyz ", 1)))
    out.append(("random words (book vocabulary)", "random", _lib.random_words(n_chars, train, 2)))
    return out


def measure(pair, texts: list[tuple[str, str, str]]) -> tuple[list[dict], dict[str, list]]:
    """One row of statistics per text, and the 30-char window means for the chart."""
    cal = pair.calibration
    thr = cal.threshold(0.99, WINDOW) if cal else float("nan")
    rows, means = [], {}
    for label, group, text in texts:
        s = pair.score(text)
        w = _lib.block_means(s.kl, WINDOW)
        means[label] = w.tolist()
        rows.append({
            "text": label, "group": group, "chars": len(text),
            "mean_kl": float(np.nanmean(s.kl)),
            "q10_30": float(np.quantile(w, 0.1)), "q50_30": float(np.quantile(w, 0.5)),
            "q90_30": float(np.quantile(w, 0.9)),
            "flagged_30": float((w > thr).mean()),
            "mean_nll": float(np.nanmean(s.nll)),
            "unk_share": float((pair.vocab.encode(text).ids == 0).mean()),
        })
        print(f"{label}: mean KL {rows[-1]['mean_kl']:.3f}", file=sys.stderr)
    return rows, means


def figure(rows: list[dict], means: dict[str, list], png: bool, name: str = NAME) -> list[str]:
    import plotly.graph_objects as go

    colors = {"training book": "#1f77b4", "other English": "#2ca02c", "English styles": "#ff7f0e",
              "languages": "#d62728", "random": "#7f7f7f"}
    fig = go.Figure()
    for r in rows:
        fig.add_box(y=means[r["text"]], name=r["text"], marker_color=colors[r["group"]],
                    boxpoints=False, legendgroup=r["group"], showlegend=False)
    fig.update_layout(title=f"Self-KL of the Moby-Dick pair, {WINDOW}-character window means",
                      yaxis_title="mean KL over 30 chars (nats, log scale)", yaxis_type="log",
                      height=650, width=1100, margin={"b": 220})
    fig.update_xaxes(tickangle=-45)
    return _lib.write_figure(fig, name, "kl_by_corpus", png=png)


def main(argv: list[str] | None = None) -> dict:
    ap = _lib.parser(__doc__)
    ap.add_argument("--model", default=None, help="pair file (default runs/moby-lstm/pair.pt)")
    ap.add_argument("--chars", type=int, default=None, help="characters per text")
    ap.add_argument("--png", action="store_true", help="also render a PNG with chromium")
    args = _lib.parse(ap, argv, NAME)
    n = args.chars or (3_000 if args.quick else 30_000)
    t0 = time.perf_counter()
    pair = _lib.load_pair(args.model)
    corpora = _lib.CORPORA[::4] if args.quick else _lib.CORPORA
    texts = build_texts(pair, n, corpora)
    rows, means = measure(pair, texts)
    figs = figure(rows, means, args.png, args.name)
    cal = pair.calibration
    res = {"config": {"model": str(args.model or _lib.DEFAULT_MODEL), "chars": n,
                      "quick": args.quick, "window": WINDOW},
           "pair": pair.describe(),
           "book_q99_30": cal.threshold(0.99, WINDOW) if cal else None,
           "rows": rows, "figures": figs, "seconds": round(time.perf_counter() - t0, 1),
           "machine": machine()}
    write_results(args.name, res)
    print(table(rows, ["text", "group", "mean_kl", "q10_30", "q50_30", "q90_30", "flagged_30",
                       "mean_nll", "unk_share"]))
    return res


if __name__ == "__main__":
    main()
