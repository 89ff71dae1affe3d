#!/usr/bin/env python
"""Choose the decode settings of fitted pairs on development documents, then test them.

The documents are ``bench_self_fit.py``'s, built by its own generator and seeds: task 1's
French novels with 1-3 % English planted (``--split dev``: Les Misérables and Candide,
seeds 1 and 2; ``--split test``: Madame Bovary, seed 0, the benchmark's document), and
with ``--split others`` task 3's German (Grimm) with English and French planted and task
2's War and Peace (first 1,000,000 characters, ``MIXED_SPANS.tsv``). Each document is
fitted once with ``FitConfig()`` (cached under ``runs/tune_self_fit/cache``), scored once,
and decoded with every setting of the grid; one JSON line per document and setting with
the character F1 of the planted (or labelled) text.

    python scripts/tune_self_fit.py --split dev --grid '[{"level": 0.96, "switch_word": 15}]'
    python scripts/tune_self_fit.py --split test        # the stored settings and the old ones
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import bench_self_fit as b  # noqa: E402

OLD = {"level": 0.93, "switch_sentence": 2.0, "switch_word": 3.0}  # before 2026-12-02


def documents(split: str) -> list[tuple[str, str, np.ndarray]]:
    """(name, text, truth mask) of each document of the split."""
    from scripts.common import corpora_dir

    out = []
    if split in ("dev", "test"):
        en = b.source_pieces(b.EN_SOURCES)
        for k in {"dev": [1, 2], "test": [0]}[split]:
            rng = random.Random(k)  # bench_self_fit: seed * 1000 + k, seed 0
            host = b.host_window(b.load_book(b.FR_HOSTS[k]), 300_000, rng)
            doc = b.plant(host, {"en": en}, rng.uniform(0.01, 0.03), rng)
            out.append((b.FR_HOSTS[k], doc.text, doc.mask()))
        return out
    rng = random.Random(77)
    host = b.host_window(b.load_book(b.DE_HOST), 300_000, rng)
    sources = {"en": b.source_pieces(b.EN_SOURCES), "fr": b.source_pieces(b.FR_SOURCES)}
    doc = b.plant(host, sources, rng.uniform(0.005, 0.015), rng)
    out.append(("grimm", doc.text, doc.mask()))
    d = corpora_dir()
    text = (d / f"{b.MIXED}.txt").read_text("utf-8")[:1_000_000]
    truth = np.zeros(len(text), dtype=bool)
    with open(d / "MIXED_SPANS.tsv", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if row["file"].startswith(b.MIXED) and int(row["start_char"]) < len(text):
                truth[int(row["start_char"]) : int(row["end_char"])] = True
    out.append(("war_and_peace", text, truth))
    return out


def main() -> None:
    from textkl.finders import make_finder
    from textkl.selffit import FIT_DEFAULTS, FitConfig, fit_pair

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["dev", "test", "others"], default="dev")
    ap.add_argument("--grid", default=None,
                    help="JSON list of decode settings (default: the old and the stored ones)")
    args = ap.parse_args()
    grid = json.loads(args.grid) if args.grid else [OLD, FIT_DEFAULTS["decode"]]
    for name, text, truth in documents(args.split):
        pair = fit_pair(text, FitConfig(), device="auto", cache=True,
                        cache_dir=b.ROOT / "runs" / "tune_self_fit" / "cache")
        scores = pair.score(text)
        for settings in grid:
            finder = make_finder("decode", **settings).fit(pair.calibration, pair.lexicon)
            mask = np.zeros(len(text), dtype=bool)
            for s, e, foreign in finder.predict(text, scores):
                mask[s:e] |= foreign
            row = {"doc": name, "settings": settings, **b.prf(mask, truth, text)}
            if name == "war_and_peace":  # the prefix lingua with all languages runs on
                row["prefix_200k"] = b.prf(mask[:200_000], truth[:200_000], text[:200_000])
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
