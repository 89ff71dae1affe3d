#!/usr/bin/env python
"""Where the English-inside-French phrase F1 goes: edges, and two signals that might fix them.

On the development documents of ``scripts/bench_registers.py`` (4-12 English words planted
in four French sentences; the same draw as the benchmark's ``dev phrase`` task):

1. **Errors**: how many planted phrases are mostly missed, how many lose or gain words at
   an edge, and the offset of the predicted start and end from the true ones, in words.
2. **Edge words out of context**: the words on each side of each true edge (two inside,
   two outside), judged by their evidence for "foreign" (``DecodeFinder.unit_evidence``:
   KL percentile, excess surprisal, the lexicon, the cap) in the document, scored alone
   after a line break, and after an English sentence. AUROC of "French" against
   "English" for each: if the models' state after French hid the first English words,
   the word alone would be judged better than in its document.
3. **Word pairs**: the share of adjacent word pairs that occur in the ``english`` training
   corpus, for pairs inside the English, across an edge, and at the edge words the finder
   gets wrong (an upper bound on what a pairwise "book -> book" bonus could recover).

Usage::

    python scripts/experiments/exp_phrase_edges.py [--docs 1400] [--edge-docs 600]

Needs ``TEXTKL_CORPORA`` and the ``english`` corpus (``python scripts/english_corpus.py``)
for the word pairs. Writes ``runs/exp_phrase_edges/results.json``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
import bench_registers as reg  # noqa: E402
from common import machine, table, write_results  # noqa: E402
from english_corpus import default_out  # noqa: E402

NAME = "exp_phrase_edges"
# the settings of the figures in docs/registers.md: ``english``'s before the second pass
# over the document's own words (2026-12-04); ``--stored`` runs the pair's stored ones
BEFORE_SECOND_PASS = {"level": 0.725, "document_weight": 0.0}
CONTEXTS = {"in the document": None, "after a line break": "\n",
            "after an English sentence": "It was the best of times, it was the worst of times. "}


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(a positive scores above a negative), ties counted half."""
    both = np.concatenate([pos, neg])
    order = both.argsort(kind="stable")
    ranks = np.empty(len(both))
    ranks[order] = np.arange(1, len(both) + 1)
    for v in np.unique(both):  # average ranks of ties
        tie = both == v
        ranks[tie] = ranks[tie].mean()
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2)
                 / (len(pos) * len(neg)))


def predicted(pair, finder, doc: str, scores) -> np.ndarray:
    pred = np.zeros(len(doc), dtype=bool)
    for seg in pair.segment(doc, finder=finder, regions=None, scores=scores):
        pred[seg.start : seg.end] = seg.in_distribution
    return pred


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="english")
    ap.add_argument("--docs", type=int, default=reg.MIXED_DOCS)
    ap.add_argument("--edge-docs", type=int, default=600,
                    help="documents whose edge words are scored out of context")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stored", action="store_true",
                    help="the pair's stored decode settings (default: those of the figures "
                         "in docs/registers.md, before the second pass)")
    args = ap.parse_args()

    import torch

    import textkl
    from textkl.finders import make_finder

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    groups, manifest = {}, {}
    n = {"sentence": reg.PER_SOURCE["sentence"], "paragraph": 1}
    for src in reg.SOURCES:
        if src.split == "dev" and src.lang in ("en", "fr"):
            groups[src.name] = {"split": "dev", "lang": src.lang, "register": src.genre,
                                "items": reg.source_items(src, n, args.seed, manifest)}
    docs = reg.mixed_docs(groups, "dev", "phrase", args.docs, args.seed)
    pair = textkl.load(args.model)
    settings = pair.defaults("decode") | ({} if args.stored else BEFORE_SECOND_PASS)
    finder = make_finder("decode", **settings).fit(pair.calibration, pair.lexicon)
    scores = pair.score_many([d[0] for d in docs])

    # 1. errors
    cats: Counter = Counter()
    offsets: dict[str, Counter] = {"start": Counter(), "end": Counter()}
    tp = fp = fn = 0
    words_of = []
    for (doc, s, e, _), sc in zip(docs, scores):
        pred = predicted(pair, finder, doc, sc)
        true = np.zeros(len(doc), dtype=bool)
        true[s:e] = True
        a, b, c = reg.prf(pred, true, doc)
        tp, fp, fn = tp + a, fp + b, fn + c
        cats["mostly missed" if a < 0.5 * (a + c) else "an edge word lost" if c
             else "whole"] += 1
        cats["a French word taken"] += b > 0
        ws = [(m.start(), m.end()) for m in re.finditer(r"\S+", doc)]
        lab = [s <= x < e for x, _ in ws]
        got = [pred[x:y].mean() > 0.5 for x, y in ws]
        words_of.append((ws, lab, got))
        inside = [i for i, t in enumerate(lab) if t]
        near = [i for i, g in enumerate(got) if g and inside[0] - 5 <= i <= inside[-1] + 5]
        if near:
            offsets["start"][near[0] - inside[0]] += 1
            offsets["end"][near[-1] - inside[-1]] += 1
        else:
            offsets["start"]["none"] += 1
            offsets["end"]["none"] += 1
    p, r = tp / (tp + fp), tp / (tp + fn)
    errors = {"docs": len(docs), "f1": 2 * p * r / (p + r), "precision": p, "recall": r,
              **cats}
    print(f"dev phrase, {args.model}: F1 {errors['f1']:.4f} (P {p:.4f}, R {r:.4f}); "
          + ", ".join(f"{k} {v}" for k, v in cats.items()))
    rows = [{"offset (words)": str(k), "start": offsets["start"][k], "end": offsets["end"][k]}
            for k in sorted(set(offsets["start"]) | set(offsets["end"]), key=str)]
    print(table(rows, ["offset (words)", "start", "end"]))

    # 2. edge words out of context
    cands = []  # (doc, unit start, unit end, English?, side, evidence in the document)
    for j in range(min(args.edge_docs, len(docs))):
        doc, s, e, _ = docs[j]
        words, unit = finder.unit_evidence(doc, scores[j])
        starts = words[:-1]
        for side, at in (("start", s), ("end", e)):
            k0 = int(np.searchsorted(starts, at))
            for k in range(max(k0 - 2, 0), min(k0 + 2, len(starts))):
                cands.append((j, int(words[k]), int(words[k + 1]), s <= words[k] < e, side,
                              float(unit[k])))
    english = np.array([c[3] for c in cands])
    side = np.array([c[4] for c in cands])
    edge_rows = []
    for label, prefix in CONTEXTS.items():
        if prefix is None:
            ev = np.array([c[5] for c in cands])
        else:
            texts = [prefix + docs[c[0]][0][c[1] : c[2]] for c in cands]
            ev = np.array([finder.unit_evidence(t, sc)[1][-1]
                           for t, sc in zip(texts, pair.score_many(texts))])
        row = {"edge word judged": label}
        for which in ("start", "end"):
            m = side == which
            row[which] = auroc(ev[m & ~english], ev[m & english])
        edge_rows.append(row)
    print(f"\nedge words of {min(args.edge_docs, len(docs))} documents ({len(cands)}): "
          "AUROC of French against English")
    print(table(edge_rows, ["edge word judged", "start", "end"]))

    # 3. word pairs of the training corpus
    corpus = default_out() / "english.txt"
    pair_rows = []
    if corpus.exists():
        def norm(t: str) -> list[str]:
            return [re.sub(r"^\W+|\W+$", "", w).lower() for w in t.split()]

        cw = norm(corpus.read_text(encoding="utf-8"))
        seen_pairs = set(zip(cw, cw[1:]))
        count: Counter = Counter()
        for (doc, *_), (ws, lab, got) in zip(docs, words_of):
            wl = norm(" ".join(doc[x:y] for x, y in ws))
            for k in range(1, len(ws)):
                seen = (wl[k - 1], wl[k]) in seen_pairs
                kind = {(True, True): "inside the English", (False, False): "inside the French"
                        }.get((lab[k - 1], lab[k]), "across an edge")
                count[kind, seen] += 1
                if lab[k - 1] and lab[k] and got[k - 1] != got[k]:
                    count["English edge word lost", seen] += 1
                if lab[k - 1] != lab[k] and got[k - 1] and got[k]:
                    count["French edge word taken", seen] += 1
        for kind in ("inside the English", "across an edge", "inside the French",
                     "English edge word lost", "French edge word taken"):
            yes, no = count[kind, True], count[kind, False]
            pair_rows.append({"adjacent words": kind, "pairs": yes + no,
                              "in the corpus": yes / max(yes + no, 1)})
        print(f"\nword pairs of the english corpus ({len(seen_pairs):,} distinct)")
        print(table(pair_rows, ["adjacent words", "pairs", "in the corpus"]))
    else:
        print(f"\n(no {corpus}: word pairs skipped; python scripts/english_corpus.py)")

    results = {"machine": machine(), "argv": sys.argv[1:], "errors": errors,
               "offsets": {k: {str(a): b for a, b in v.items()} for k, v in offsets.items()},
               "edge_words": edge_rows, "word_pairs": pair_rows,
               "seconds": round(time.perf_counter() - t0, 1)}
    print(f"\nwrote {write_results(NAME, results)} ({results['seconds']} s)")


if __name__ == "__main__":
    main()
