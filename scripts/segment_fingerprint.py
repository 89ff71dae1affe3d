"""Fingerprints of what ``pair.segment`` returns, to check that a change leaves it as it was.

For each embedded pair and two texts of 400,000 characters (alternating French and English
paragraphs; shuffled paragraphs in six languages, both as in ``bench_pipeline.py``), the
segments (start, end, region, book-like, mean KL to 9 digits) are hashed. Run it before and
after a change and compare:

    python scripts/segment_fingerprint.py --out before   # runs/segment_fingerprint/before/
    python scripts/segment_fingerprint.py --out after --compare before

Prints one line per pair and text; with ``--compare`` exits 1 if any fingerprint differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import mixed_text, six_language_text  # noqa: E402
from common import ROOT, write_results  # noqa: E402

PAIRS = ("english", "english-large", "moby-dick")


def fingerprint(segments) -> str:
    rows = [f"{s.start},{s.end},{s.label},{int(s.in_distribution)},{float(s.mean_kl):.9g}"
            for s in segments]
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="runs/segment_fingerprint/<out>/results.json")
    ap.add_argument("--compare", default=None, metavar="NAME", help="an earlier --out")
    ap.add_argument("--chars", type=int, default=400_000)
    args = ap.parse_args()

    import torch

    import textkl

    torch.set_num_threads(2)
    texts = {"french-english": mixed_text(args.chars),
             "six-languages": six_language_text(args.chars)[0]}
    found = {}
    for name in PAIRS:
        pair = textkl.load(name)
        # the first scoring call of a process has been seen to differ from later ones by up
        # to 2e-5 nats per character (float32, Intel Xeon; spans unchanged): warm up first
        pair.score(texts["french-english"][:5000])
        for tname, text in texts.items():
            segs = pair.segment(text)
            key = f"{name} {tname}"
            found[key] = {"segments": len(segs), "sha256": fingerprint(segs)}
            print(f"{name:14s} {tname:16s} {len(segs):6d} segments {found[key]['sha256'][:16]}")
    write_results(f"segment_fingerprint/{args.out}", {"chars": args.chars, "found": found})
    if args.compare:
        path = ROOT / "runs" / "segment_fingerprint" / args.compare / "results.json"
        old = json.loads(path.read_text())["found"]
        differ = [k for k in found if old.get(k) != found[k]]
        print("identical" if not differ else "DIFFERENT: " + ", ".join(differ))
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
