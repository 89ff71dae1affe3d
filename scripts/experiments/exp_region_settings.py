#!/usr/bin/env python
"""Region settings replayed on the region benchmark's documents, scored once.

``scripts/bench_regions.py`` runs every method on one setting. Choosing ``RegionConfig``
settings needs many settings on the same documents: this script builds the documents of
one split as ``bench_regions`` does (seed 0), short (1-3 paragraphs per language, 60 per
paragraph length) and long (60-100 paragraphs per language, 24 per length), scores each
once, and replays the region step (``pair.segment`` with the scores) for every setting,
printing textkl's auto-K char ARI and the labels found (true in brackets) per group, and
their mean.

    python scripts/experiments/exp_region_settings.py --split dev base \\
        ngram_projection=0.5,merge_penalty=1.0,min_distance=0.3
    python scripts/experiments/exp_region_settings.py --split test --weights runs/w15 base

A setting is ``base`` (the library's defaults) or comma-separated ``KEY=VALUE`` of
``RegionConfig`` fields. ``--weights DIR`` replaces the learned n-gram weights and
projection with ``DIR/ngram_weights.npy`` and ``DIR/ngram_projection.npz`` (written by
``scripts/learn_ngram_weights.py --out DIR/ngram_weights``), to measure languages the
shipped ones never saw. Each setting's line also gives the share of documents whose
region step used the learned directions (``known_language_distance``). Writes
``runs/exp_region_settings/results.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
import bench_regions as br  # noqa: E402
from common import machine, table, write_results  # noqa: E402

GROUPS = {"short": ((1, 3), 60), "long": ((60, 100), 24)}  # paragraphs per language, docs


def parse_setting(arg: str) -> dict:
    if arg == "base":
        return {}
    out = {}
    for kv in arg.split(","):
        k, v = kv.split("=", 1)
        out[k] = int(v) if k in ("max_clusters", "min_chars", "refine_iters") else float(v)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("settings", nargs="+", help="base, or KEY=VALUE[,KEY=VALUE...]")
    ap.add_argument("--split", default="dev", choices=["dev", "test"])
    ap.add_argument("--weights", type=Path, default=None,
                    help="folder with ngram_weights.npy and ngram_projection.npz")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch

    import textkl
    import textkl.regions as regions

    torch.set_num_threads(args.threads)
    if args.weights:
        w = np.load(args.weights / "ngram_weights.npy", allow_pickle=False).astype(np.float64)
        with np.load(args.weights / "ngram_projection.npz", allow_pickle=False) as z:
            p = regions.Projection(z["directions"].astype(np.float64),
                                   z["means"].astype(np.float64), float(z["spread"]))
        regions.ngram_weights = lambda: w  # the region step reads them through the module
        regions.ngram_projection = lambda: p
    t0 = time.perf_counter()
    manifest: dict = {}
    pools: dict = {"dev": {}, "test": {}}
    for src in br.SOURCES:
        if src.split == args.split:
            pools[src.split].setdefault(src.lang, []).append((src, br.source_units(src, manifest)))
    pair = textkl.load()
    groups = {}
    for length in br.LENGTHS:
        for tag, (per_lang, n) in GROUPS.items():
            docs = br.build_docs(args.split, length, n, 0, pools, per_lang)
            groups[f"{tag} {length}"] = [(d, pair.score(d.text, features=True)) for d in docs]
    print(f"scored {sum(len(v) for v in groups.values())} documents "
          f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    used = []
    real = regions.profile_metric

    def counted(cfg, *a, project: bool = True, **k):  # which documents used the directions
        used.append(bool(project and cfg.ngram_projection))
        return real(cfg, *a, project=project, **k)

    regions.profile_metric = counted
    rows = []
    for arg in args.settings:
        setting = parse_setting(arg)
        row: dict = {"setting": arg}
        aris, used[:] = [], []
        for key, items in groups.items():
            got, labels, true = [], [], []
            for d, (doc, scores) in enumerate(items):
                m = br.doc_metrics(doc, br.textkl_auto(pair, doc, scores, setting, d))
                got.append(m["char_ari"])
                labels.append(m["labels"])
                true.append(m["true_labels"])
            aris.append(float(np.mean(got)))
            row[key] = f"{aris[-1]:.3f} ({np.mean(labels):.1f}/{np.mean(true):.1f})"
        row["mean"] = f"{np.mean(aris):.4f}"
        row["projected"] = f"{np.mean(used):.2f}" if used else ""
        rows.append(row)
        print(row, file=sys.stderr, flush=True)
    cols = ["setting", *groups, "mean", "projected"]
    print(table(rows, cols))
    path = write_results("exp_region_settings", {
        "machine": machine(), "argv": sys.argv[1:], "split": args.split,
        "weights": str(args.weights) if args.weights else None, "packages": manifest,
        "rows": rows, "seconds": round(time.perf_counter() - t0, 1)})
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
