#!/usr/bin/env python
"""Experiment 8: unsupervised regions in a multi-language, multi-style document.

Documents are shuffled paragraphs (300-700 characters) from eight sources: English novels
other than Moby-Dick (in distribution), French, German, Spanish, Latin, Early Modern
English (Hamlet), the dictionary and Python code. ``pair.segment`` cuts and clusters each
document; the adjusted Rand index (ARI) of its regions against the true sources is measured
over non-space characters, on the whole document and on the foreign characters only.

Feature ablation: ``textkl.regions`` describes each 32-character block by three groups
(the models' pooled hidden states, hashed character n-gram profiles, and the block's mean
log-KL / surprisal / entropy). The clustering is rerun with each group alone and with each
group left out (the segmentation into foreign / book-like spans is the same in all runs),
with the number of regions chosen automatically and with the true number given. Since the
region step clusters whole-span n-gram profiles (2026-12-01), the block features only steer
where foreign spans are split, and with a blank line between the paragraphs every variant
gives the same regions: the "all" rows are what this experiment still measures.

Usage::

    python scripts/experiments/exp_regions.py [--model PATH] [--docs 6] [--quick]

Writes ``runs/exp_regions/results.json`` and ``ari.html``.
"""

from __future__ import annotations

import random
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _lib  # noqa: E402
from common import machine, read_corpus, table, write_results  # noqa: E402

NAME = "exp_regions"
HIDDEN_DIMS = 6  # the hidden-state group of the split step, the default until 2026-12-02
SOURCES = {
    "English": ["en_novel_pride_and_prejudice", "en_novel_sherlock_holmes_adventures",
                "en_novel_frankenstein"],
    "French": ["fr_novel_candide", "fr_novel_madame_bovary"],
    "German": ["de_novel_grimm_maerchen"],
    "Spanish": ["es_novel_don_quijote"],
    "Latin": ["la_poetry_aeneid"],
    "Early Modern": ["en_poetry_hamlet"],
    "dictionary": ["en_dictionary_gcide_excerpt"],
    "Python": ["code_python_cpython_stdlib"],
}
GROUPS = ("hidden", "ngrams", "stats")
VARIANTS = {"all": GROUPS, "hidden only": ("hidden",), "n-grams only": ("ngrams",),
            "KL/NLL/entropy only": ("stats",), "no hidden": ("ngrams", "stats"),
            "no n-grams": ("hidden", "stats"), "no KL/NLL/entropy": ("hidden", "ngrams")}


def paragraph(text: str, rng: random.Random, lo: int = 300, hi: int = 700) -> str:
    """Whole lines from a random place of ``text``, about ``lo..hi`` characters."""
    lines = text.splitlines()
    target = rng.randint(lo, hi)
    while True:
        i = rng.randrange(len(lines) // 20, len(lines) - 200)
        got: list[str] = []
        while sum(len(x) + 1 for x in got) < target and i < len(lines):
            if lines[i].strip():
                got.append(lines[i].rstrip())
            i += 1
        para = "\n".join(got).strip("\n")
        if len(para) >= lo * 0.8:
            return para


def make_doc(books: dict[str, list[str]], per_source: int, rng: random.Random
             ) -> tuple[str, np.ndarray]:
    """Shuffled paragraphs; returns the text and a per-character source id."""
    paras = [(k, paragraph(rng.choice(books[k]), rng)) for k in SOURCES for _ in range(per_source)]
    rng.shuffle(paras)
    parts, labels = [], []
    for k, p in paras:
        parts.append(p)
        labels.append(np.full(len(p) + 2, list(SOURCES).index(k)))
    text = "\n\n".join(parts)
    return text, np.concatenate(labels)[: len(text)]


@contextmanager
def only_groups(groups: tuple[str, ...]):
    """Temporarily restrict ``textkl.regions.block_features`` to some feature groups."""
    import textkl.regions as cl

    orig = cl.block_features

    def patched(text, scores, foreign_blocks, cfg=None, codes=None):
        cfg = cfg or cl.RegionConfig()
        x = orig(text, scores, foreign_blocks, cfg, codes)
        # columns: hidden (<= pca_dims), n-grams (<= ngram_dims), stats (3): sizes from parts
        h = cl._reduce(scores.features[foreign_blocks], np.ones(int(foreign_blocks.sum()), bool),
                       cfg.pca_dims).shape[1] if cfg.pca_dims else 0
        n = x.shape[1] - h - 3
        cols = {"hidden": range(0, h), "ngrams": range(h, h + n), "stats": range(h + n, h + n + 3)}
        return x[:, [c for g in groups for c in cols[g]]]

    cl.block_features = patched
    try:
        yield
    finally:
        cl.block_features = orig


def labels_of(segs, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=int)
    for s in segs:
        out[s.start : s.end] = s.label
    return out


def run(pair, n_docs: int, per_source: int, seed: int = 0) -> list[dict]:
    from sklearn.metrics import adjusted_rand_score

    from textkl.regions import RegionConfig

    books = {k: [read_corpus(n) for n in v] for k, v in SOURCES.items()}
    rng = random.Random(seed)
    docs = [make_doc(books, per_source, rng) for _ in range(n_docs)]
    scored = [pair.score(text, features=True) for text, _ in docs]
    rows = []
    for variant, groups in VARIANTS.items():
        for clusters in ("auto", len(SOURCES) - 1):
            ari, ari_f, k_found = [], [], []
            for (text, truth), s in zip(docs, scored):
                with only_groups(groups):  # all three groups (pca_dims 0 drops the hidden)
                    segs = pair.segment(text, scores=s, regions=RegionConfig(
                        clusters=clusters, pca_dims=HIDDEN_DIMS))
                pred = labels_of(segs, len(text))
                ns = np.array([not c.isspace() for c in text])
                fo = ns & (truth != 0)
                ari.append(adjusted_rand_score(truth[ns], pred[ns]))
                ari_f.append(adjusted_rand_score(truth[fo], pred[fo]))
                k_found.append(int(pred.max()))
            rows.append({"features": variant, "clusters": str(clusters),
                         "ari": float(np.mean(ari)), "ari_foreign": float(np.mean(ari_f)),
                         "regions_found": float(np.mean(k_found))})
            print(f"{variant} K={clusters}: ARI {rows[-1]['ari']:.3f}", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> dict:
    ap = _lib.parser(__doc__)
    ap.add_argument("--model", default=None)
    ap.add_argument("--docs", type=int, default=None)
    args = _lib.parse(ap, argv, NAME)
    n_docs = args.docs or (1 if args.quick else 6)
    per_source = 1 if args.quick else 2
    t0 = time.perf_counter()
    pair = _lib.load_pair(args.model)
    rows = run(pair, n_docs, per_source)
    figs = _figure(rows, args.name)
    res = {"config": {"model": str(args.model or _lib.DEFAULT_MODEL), "docs": n_docs,
                      "per_source": per_source, "sources": list(SOURCES), "quick": args.quick},
           "rows": rows, "figures": figs, "seconds": round(time.perf_counter() - t0, 1),
           "machine": machine()}
    write_results(args.name, res)
    print(table(rows, ["features", "clusters", "ari", "ari_foreign", "regions_found"]))
    return res


def _figure(rows: list[dict], name: str = NAME) -> list[str]:
    import plotly.graph_objects as go

    fig = go.Figure()
    for k in dict.fromkeys(r["clusters"] for r in rows):
        sel = [r for r in rows if r["clusters"] == k]
        fig.add_bar(x=[r["features"] for r in sel], y=[r["ari"] for r in sel],
                    name=f"K = {k}")
    fig.update_layout(title="Regions vs true sources (ARI, non-space characters)",
                      yaxis_title="adjusted Rand index", barmode="group")
    return _lib.write_figure(fig, name, "ari")


if __name__ == "__main__":
    main()
