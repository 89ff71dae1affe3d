#!/usr/bin/env python
"""Regions given the true paragraphs: is the loss in the grouping, the count or the cuts?

On the documents of ``scripts/bench_regions.py`` (same sources, split and seed), the
foreign paragraphs (every language but English) are handed over as they are, so the span
finder and the split step play no part. Each document's paragraphs are then grouped by:

- ``textkl, true K``: the region step's whole-span profiles (2,048 buckets, weighted as
  ``RegionConfig.ngram_weighting`` says, or by ``--weighting``) and Ward,
  stopped at the true number of foreign languages, then its k-means refinement;
- ``textkl, auto K``: the same with the automatic count (``RegionConfig`` defaults; the
  noise scale from the paragraphs' halves, as ``segment`` takes it from its pieces);
- ``TF-IDF + k-means, true K``: char_wb 1-3-grams, sublinear tf (bench_regions' oracle);
  and with 1-2-grams, the n-grams textkl's profiles hold.

Metric: ARI over the foreign paragraphs' characters (each paragraph weighted by its
length), mean over the documents with at least two foreign paragraphs. It differs from
bench_regions' char ARI, which also counts the English text and region 0.

    python scripts/experiments/exp_regions_given.py            # dev and test, 60 docs each
    python scripts/experiments/exp_regions_given.py --split dev --weighting 0   # unweighted

Writes ``runs/exp_regions_given/results.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import bench_regions as br  # noqa: E402
from common import machine, table, write_results  # noqa: E402

METHODS = ("textkl, true K", "textkl, auto K", "TF-IDF 1-3, true K", "TF-IDF 1-2, true K")


def tfidf_labels(pieces: list[str], k: int, seed: int, ngrams: tuple[int, int]) -> np.ndarray:
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    x = TfidfVectorizer(analyzer="char_wb", ngram_range=ngrams, sublinear_tf=True
                        ).fit_transform(pieces)
    return KMeans(n_clusters=min(k, len(pieces)), n_init=10, random_state=seed).fit_predict(x)


def group_doc(doc: br.Doc, seed: int, weighting: float | None = None,
              weights: np.ndarray | None = None) -> dict[str, float] | None:
    """ARI of each method on one document's foreign paragraphs (None: fewer than two)."""
    from sklearn.metrics import adjusted_rand_score

    from textkl.regions import (
        RegionConfig,
        cluster_pieces,
        known_language_distance,
        null_samples,
        profile_metric,
        refine_labels,
        span_profiles,
        ward_clusters,
    )
    from textkl.spans import Span

    paras = [(s, e, lang) for s, e, lang, _ in doc.paras if lang != "en"]
    if len(paras) < 2:
        return None
    cfg = RegionConfig(seed=seed) if weighting is None \
        else RegionConfig(seed=seed, ngram_weighting=weighting)
    spans = [Span(s, e, True) for s, e, _ in paras]
    truth = [lang for _, _, lang in paras]
    k = len(set(truth))
    sizes = np.array([e - s for s, e, _ in paras], dtype=np.float64)
    reps = np.maximum(sizes.astype(int) // 10, 1)  # weight by length, in units of 10 chars

    def ari(labels) -> float:
        return float(adjusted_rand_score(np.repeat(truth, reps), np.repeat(labels, reps)))

    raw = span_profiles(doc.text, spans, buckets=cfg.profile_buckets)
    project = bool(cfg.ngram_projection) and \
        known_language_distance(raw, sizes) <= cfg.known_distance  # as local_pieces decides
    metric = profile_metric(cfg, weights, project=project)
    prof = metric.apply(raw)
    true_k = refine_labels(prof, sizes, ward_clusters(prof, sizes, k, 0.0, seed=seed),
                           cfg.refine_iters)
    null = null_samples(doc.text, spans, cfg.profile_buckets, metric=metric)
    auto = cluster_pieces(prof, sizes, len(spans), float(np.median(null)) if len(null) else 1.0,
                          None, cfg, float(np.median(sizes)), project)
    pieces = [doc.text[s:e] for s, e, _ in paras]
    labels = {"textkl, true K": true_k, "textkl, auto K": auto,
              "TF-IDF 1-3, true K": tfidf_labels(pieces, k, seed, (1, 3)),
              "TF-IDF 1-2, true K": tfidf_labels(pieces, k, seed, (1, 2))}
    out = {m: ari(lab) for m, lab in labels.items()}
    out["true_k"], out["auto_k"] = k, len(set(auto.tolist()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=60, help="documents per split and length")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", default="both", choices=["dev", "test", "both"])
    ap.add_argument("--weighting", type=float, default=None,
                    help="RegionConfig.ngram_weighting (default: the library's)")
    ap.add_argument("--weights", type=Path, default=None,
                    help="other learned weights (.npy from scripts/learn_ngram_weights.py)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    weights = np.load(args.weights, allow_pickle=False).astype(np.float64) if args.weights \
        else None
    splits = ["dev", "test"] if args.split == "both" else [args.split]
    manifest: dict = {}
    pools: dict = {sp: {} for sp in ("dev", "test")}
    for src in br.SOURCES:
        if src.split in splits:
            pools[src.split].setdefault(src.lang, []).append((src, br.source_units(src, manifest)))
    rows, per_doc = [], {}
    for sp in splits:
        for length in br.LENGTHS:
            docs = br.build_docs(sp, length, args.docs, args.seed, pools)
            got = [r for d, doc in enumerate(docs)
                   if (r := group_doc(doc, args.seed + d, args.weighting, weights))]
            per_doc[f"{sp} {length}"] = got
            k_err = np.array([r["auto_k"] - r["true_k"] for r in got])
            rows.append({"split": sp, "paragraphs": length, "docs": len(got),
                         **{m: f"{np.mean([r[m] for r in got]):.3f}" for m in METHODS},
                         "auto K: too few / right / too many":
                             f"{(k_err < 0).mean():.2f} / {(k_err == 0).mean():.2f} / "
                             f"{(k_err > 0).mean():.2f}"})
    cols = ["split", "paragraphs", "docs", *METHODS, "auto K: too few / right / too many"]
    print(table(rows, cols))
    path = write_results("exp_regions_given", {
        "machine": machine(), "argv": sys.argv[1:], "seed": args.seed, "packages": manifest,
        "weighting": args.weighting, "weights": str(args.weights) if args.weights else None,
        "rows": rows, "per_doc": per_doc, "seconds": round(time.perf_counter() - t0, 1)})
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
