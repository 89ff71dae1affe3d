#!/usr/bin/env python
"""Experiment 7: fine-grained detection. What is the smallest passage found reliably?

With the Moby-Dick pair (English is in distribution):

1. **English inside French**: a run of 1, 2, 3, 5, 8, 13 or 21 consecutive words (or a
   whole sentence) from an English novel other than Moby-Dick is inserted at a word
   boundary in the middle of a French paragraph. A passage is *found* when the segments
   (``pair.segment``, default settings) mark at least half of its non-space characters as
   in-distribution. Also measured, without the segmenter: the AUROC of the passage's mean
   KL against a French passage of the same length from the same document (can the signal
   tell them apart at all?), and the share of French characters wrongly marked English.
2. **War and Peace**: the French passages of ``MIXED_SPANS.tsv`` (approximate labels) in
   the English translation. Recall (half of a passage's non-space characters marked
   foreign) by passage length, and the share of the other (English) characters marked
   foreign.

Usage::

    python scripts/experiments/exp_fine_grained.py [--model PATH] [--docs 40] [--quick]

Writes ``runs/exp_fine_grained/results.json`` and ``found_vs_length.html``.
"""

from __future__ import annotations

import csv
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _lib  # noqa: E402
from common import (  # noqa: E402
    corpora_dir,
    machine,
    paragraphs,
    read_corpus,
    sentences,
    table,
    write_results,
)

NAME = "exp_fine_grained"
LENGTHS = (1, 2, 3, 5, 8, 13, 21)
FRENCH = ("fr_novel_candide", "fr_novel_les_miserables_t1_fantine", "fr_novel_madame_bovary")
ENGLISH = ("en_novel_pride_and_prejudice", "en_novel_sherlock_holmes_adventures",
           "en_novel_frankenstein")
MIXED = "mixed_en_fr_war_and_peace_maude_part"
BUCKETS = ((0, 20), (20, 40), (40, 80), (80, 160), (160, 10**9))


def make_doc(fr_para: str, en_sentence: str, n_words: int | None, rng: random.Random
             ) -> tuple[str, int, int] | None:
    """French paragraph with ``n_words`` English words (None: the whole sentence) inserted."""
    words = en_sentence.split()
    if n_words is None:
        phrase = en_sentence
    else:
        if len(words) < n_words:
            return None
        j = rng.randrange(len(words) - n_words + 1)
        phrase = " ".join(words[j : j + n_words]).strip(" ,;:.!?\"'()")
    spaces = [m.start() for m in re.finditer(" ", fr_para)]
    spaces = [p for p in spaces if len(fr_para) // 3 < p < 2 * len(fr_para) // 3]
    if not phrase or not spaces:
        return None
    p = rng.choice(spaces)
    return fr_para[:p] + " " + phrase + fr_para[p:], p + 1, p + 1 + len(phrase)


def nonspace(text: str) -> np.ndarray:
    return np.array([not c.isspace() for c in text], dtype=bool)


def in_dist_mask(segs, n: int) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    for s in segs:
        if s.in_distribution:
            m[s.start : s.end] = True
    return m


def english_in_french(pair, n_docs: int, seed: int = 0) -> list[dict]:
    """One row per passage length: found rate, false English rate on French, signal AUROC."""
    rng = random.Random(seed)
    fr = [p for n in FRENCH for p in paragraphs(read_corpus(n), 400, 1200)]
    en = [s for n in ENGLISH for s in sentences(read_corpus(n), 60, 250)]
    rows = []
    for n_words in (*LENGTHS, None):
        found, false_en, en_kl, fr_kl, chars = [], [], [], [], []
        while len(found) < n_docs:
            made = make_doc(rng.choice(fr), rng.choice(en), n_words, rng)
            if made is None:
                continue
            doc, a, b = made
            s = pair.score(doc, features=True)
            segs = pair.segment(doc, scores=s, regions=1)
            ns, ind = nonspace(doc), in_dist_mask(segs, len(doc))
            inside = np.zeros(len(doc), dtype=bool)
            inside[a:b] = True
            found.append((ind & inside & ns).sum() >= 0.5 * (inside & ns).sum())
            false_en.append((ind & ~inside & ns).sum() / max(1, (~inside & ns).sum()))
            en_kl.append(float(np.nanmean(s.kl[a:b])))
            L = b - a  # a French stretch of the same length, before or after the passage
            c = rng.choice([x for x in (a - L - 20, b + 20) if 10 <= x <= len(doc) - L] or [10])
            fr_kl.append(float(np.nanmean(s.kl[c : c + L])))
            chars.append(b - a)
        rows.append({"passage": "sentence" if n_words is None else f"{n_words} words",
                     "mean_chars": float(np.mean(chars)), "found": float(np.mean(found)),
                     "french_marked_english": float(np.mean(false_en)),
                     "signal_auroc": _lib.auroc(-np.array(fr_kl), -np.array(en_kl))})
        print(f"{rows[-1]['passage']}: found {rows[-1]['found']:.2f}", file=sys.stderr)
    return rows


def war_and_peace(pair, n_chars: int) -> tuple[list[dict], dict]:
    """Recall of the French passages by length and the English false-alarm rate."""
    text = (corpora_dir() / f"{MIXED}.txt").read_text("utf-8")[:n_chars]
    spans = []
    with open(corpora_dir() / "MIXED_SPANS.tsv", encoding="utf-8") as f:
        for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if r["file"].startswith(MIXED) and int(r["end_char"]) <= len(text):
                spans.append((int(r["start_char"]), int(r["end_char"]), r["foreign_language"]))
    s = pair.score(text, features=True)
    segs = pair.segment(text, scores=s, regions=1)
    foreign = ~in_dist_mask(segs, len(text))
    ns = nonspace(text)
    labelled = np.zeros(len(text), dtype=bool)
    rows = []
    hits = {bk: [] for bk in BUCKETS}
    for a, b, _ in spans:
        labelled[a:b] = True
        bk = next(k for k in BUCKETS if k[0] <= b - a < k[1])
        hits[bk].append((foreign[a:b] & ns[a:b]).sum() >= 0.5 * ns[a:b].sum())
    for (lo, hi), h in hits.items():
        rows.append({"length": f"{lo}-{hi if hi < 10**9 else '...'} chars", "passages": len(h),
                     "recall": float(np.mean(h)) if h else float("nan")})
    extra = {"chars": len(text), "passages": len(spans),
             "english_marked_foreign": float((foreign & ~labelled & ns).sum()
                                             / max(1, (~labelled & ns).sum())),
             "foreign_segments": sum(not g.in_distribution for g in segs)}
    return rows, extra


def main(argv: list[str] | None = None) -> dict:
    ap = _lib.parser(__doc__)
    ap.add_argument("--model", default=None)
    ap.add_argument("--docs", type=int, default=None, help="documents per passage length")
    ap.add_argument("--chars", type=int, default=None, help="War and Peace characters")
    args = _lib.parse(ap, argv, NAME)
    n_docs = args.docs or (4 if args.quick else 40)
    n_chars = args.chars or (40_000 if args.quick else 2_000_000)  # default: the whole file
    t0 = time.perf_counter()
    pair = _lib.load_pair(args.model)
    rows = english_in_french(pair, n_docs)
    wp_rows, wp = war_and_peace(pair, n_chars)
    figs = _figure(rows, args.name)
    res = {"config": {"model": str(args.model or _lib.DEFAULT_MODEL), "docs": n_docs,
                      "war_and_peace_chars": n_chars, "quick": args.quick},
           "english_in_french": rows, "war_and_peace": wp_rows, "war_and_peace_summary": wp,
           "figures": figs, "seconds": round(time.perf_counter() - t0, 1), "machine": machine()}
    write_results(args.name, res)
    print(table(rows, ["passage", "mean_chars", "found", "french_marked_english",
                       "signal_auroc"]))
    print()
    print(table(wp_rows, ["length", "passages", "recall"]))
    print(f"\nWar and Peace: {wp['passages']} French passages in {wp['chars']:,} chars; "
          f"English marked foreign: {wp['english_marked_foreign']:.3f}")
    return res


def _figure(rows: list[dict], name: str = NAME) -> list[str]:
    import plotly.graph_objects as go

    fig = go.Figure()
    x = [r["mean_chars"] for r in rows]
    fig.add_scatter(x=x, y=[r["found"] for r in rows], mode="lines+markers",
                    name="found by the segmenter", text=[r["passage"] for r in rows])
    fig.add_scatter(x=x, y=[r["signal_auroc"] for r in rows], mode="lines+markers",
                    name="signal AUROC (passage vs French of equal length)")
    fig.update_layout(title="English passages inside French paragraphs (Moby-Dick pair)",
                      xaxis_title="passage length (characters)", xaxis_type="log",
                      yaxis_title="rate / AUROC", yaxis_range=[0, 1.02])
    return _lib.write_figure(fig, name, "found_vs_length")


if __name__ == "__main__":
    main()
