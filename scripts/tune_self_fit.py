#!/usr/bin/env python
"""Choose the decode settings of fitted pairs on development documents, then test them.

The documents are ``bench_self_fit.py``'s, built by its own generator and seeds: task 1's
French novels with 1-3 % English planted (``--split dev``: Les Misérables and Candide,
seeds 1 and 2; ``--split test``: Madame Bovary, seed 0, the benchmark's document), and
with ``--split others`` task 3's German (Grimm) with English and French planted and task
2's War and Peace (first 1,000,000 characters; the shipped labels of ``MIXED_SPANS.tsv``
and the corrected ones of ``war_and_peace_labels.py``). Each document is
fitted once with ``FitConfig()`` (cached under ``runs/tune_self_fit/cache``), scored once,
and decoded with every setting of the grid; one JSON line per document and setting with
the character F1 of the planted (or labelled) text.

    python scripts/tune_self_fit.py --split dev --grid '[{"level": 0.96, "switch_word": 15}]'
    python scripts/tune_self_fit.py --split test        # the stored settings and the old ones
    python scripts/tune_self_fit.py --split test --grid full > test.jsonl   # and dev.jsonl
    python scripts/tune_self_fit.py --leave-one-out dev.jsonl test.jsonl
    python scripts/tune_self_fit.py --leave-one-out dev.jsonl test.jsonl --labels audited

Each line also holds the F1 with the hosts' own non-French passages audited
(``bench_self_fit.HOST_AUDIT``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import bench_self_fit as b  # noqa: E402

from scripts.war_and_peace_labels import truths  # noqa: E402

OLD = {"level": 0.93, "switch_sentence": 2.0, "switch_word": 3.0}  # before 2026-12-02
FULL = [{"level": lv, "switch_sentence": ss, "switch_word": sw}  # --grid full: 60 settings
        for lv, ss, sw in itertools.product([0.9, 0.93, 0.96], [1.5, 2.0, 3.0, 4.0, 6.0],
                                            [3.0, 7.0, 15.0, 30.0])]


def documents(split: str) -> list[tuple[str, str, np.ndarray, tuple | None]]:
    """(name, text, truth mask, audited (truth, not scored) or None) of each document."""
    from scripts.common import corpora_dir

    out = []
    if split in ("dev", "test"):
        en = b.source_pieces(b.EN_SOURCES)
        for k in {"dev": [1, 2], "test": [0]}[split]:
            rng = random.Random(k)  # bench_self_fit: seed * 1000 + k, seed 0
            host = b.host_window(b.load_book(b.FR_HOSTS[k]), 300_000, rng)
            doc = b.plant(host, {"en": en}, rng.uniform(0.01, 0.03), rng)
            out.append((b.FR_HOSTS[k], doc.text, doc.mask(), doc.audited(b.FR_HOSTS[k], host)))
        return out
    rng = random.Random(77)
    host = b.host_window(b.load_book(b.DE_HOST), 300_000, rng)
    sources = {"en": b.source_pieces(b.EN_SOURCES), "fr": b.source_pieces(b.FR_SOURCES)}
    doc = b.plant(host, sources, rng.uniform(0.005, 0.015), rng)
    out.append(("grimm", doc.text, doc.mask(), None))
    text = (corpora_dir() / f"{b.MIXED}.txt").read_text("utf-8")[:1_000_000]
    french = truths(text)
    out.append(("war_and_peace", text, french["shipped"], None))
    out.append(("war_and_peace_corrected", text, french["corrected"], None))
    return out


def leave_one_out(paths: list[str], labels: str = "planted") -> dict:
    """For each document, the setting with the best mean F1 on the others, and its F1 there.

    Reads the JSON lines of runs on the same grid (the three French novels); prints a table.
    ``labels``: "planted" (the planted English) or "audited" (``bench_self_fit.HOST_AUDIT``).
    """
    rows = [json.loads(line) for p in paths for line in open(p, encoding="utf-8")]
    rows = [r if labels == "planted" else {**r, **r["audited"]} for r in rows]
    f1 = {(r["doc"], json.dumps(r["settings"], sort_keys=True)): r["f1"] for r in rows}
    docs = sorted({d for d, _ in f1})
    grid = sorted({g for _, g in f1 if all((d, g) in f1 for d in docs)})
    out = {}
    print("| held out | chosen on the others | F1 held out | best F1 on it (oracle) |")
    print("|---|---|---|---|")
    for held in docs:
        others = [d for d in docs if d != held]
        chosen = max(grid, key=lambda g: np.mean([f1[(d, g)] for d in others]))
        best = max(f1[(held, g)] for g in grid)
        out[held] = {"settings": json.loads(chosen), "f1": f1[(held, chosen)], "oracle": best}
        print(f"| {held} | {chosen} | {f1[(held, chosen)]:.3f} | {best:.3f} |")
    mean = float(np.mean([r["f1"] for r in out.values()]))
    print(f"mean held-out F1 over {len(docs)} documents, {len(grid)} settings: {mean:.3f}")
    return {"labels": labels, "documents": out, "mean_f1": round(mean, 4),
            "settings_tried": len(grid)}


def main() -> None:
    from textkl.finders import make_finder
    from textkl.selffit import FIT_DEFAULTS, FitConfig, fit_pair

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["dev", "test", "others"], default="dev")
    ap.add_argument("--grid", default=None,
                    help="JSON list of decode settings, or 'full' (60 settings; default: the "
                         "old and the stored ones)")
    ap.add_argument("--leave-one-out", nargs="+", metavar="JSONL",
                    help="no fitting: choose on all documents but one from these runs' lines")
    ap.add_argument("--labels", choices=["planted", "audited"], default="planted",
                    help="--leave-one-out: F1 against the planted English, or with the "
                         "hosts' own passages audited (bench_self_fit.HOST_AUDIT)")
    args = ap.parse_args()
    if args.leave_one_out:
        res = leave_one_out(args.leave_one_out, args.labels)
        suffix = "" if args.labels == "planted" else "_audited"
        out = b.ROOT / "runs" / "tune_self_fit" / f"leave_one_out{suffix}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=2))
        return
    grid = (FULL if args.grid == "full" else json.loads(args.grid) if args.grid
            else [OLD, FIT_DEFAULTS["decode"]])
    for name, text, truth, audited in documents(args.split):
        pair = fit_pair(text, FitConfig(), device="auto", cache=True,
                        cache_dir=b.ROOT / "runs" / "tune_self_fit" / "cache")
        scores = pair.score(text)
        for settings in grid:
            finder = make_finder("decode", **settings).fit(pair.calibration, pair.lexicon)
            mask = np.zeros(len(text), dtype=bool)
            for s, e, foreign in finder.predict(text, scores):
                mask[s:e] |= foreign
            row = {"doc": name, "settings": settings, **b.prf(mask, truth, text)}
            if audited is not None:
                row["audited"] = b.prf(mask, audited[0], text, audited[1])
            if name.startswith("war_and_peace"):  # the prefix lingua with all languages runs on
                row["prefix_200k"] = b.prf(mask[:200_000], truth[:200_000], text[:200_000])
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
