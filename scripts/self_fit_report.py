#!/usr/bin/env python
"""The README's self-fit report: German (Grimm) with English and French planted, no reference.

Builds the document with ``bench_self_fit.py``'s generator (seeded), runs the command line
on it as a user would (``textkl segment DOC --fit --json --html``), prints the character F1
of the planted text from the JSON, and renders the report's top to a PNG with headless
Chromium. The document starts a little before its first planted passage, so that the
screenshot shows one.

    python scripts/self_fit_report.py                 # runs/self_fit_report/, docs/self-fit.png
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_self_fit as b  # noqa: E402
from screenshot import screenshot  # noqa: E402


def document(n_chars: int, seed: int) -> tuple[str, np.ndarray]:
    """(text, truth mask of the planted passages), cut to start a paragraph before the first."""
    rng = random.Random(seed)
    host = b.host_window(b.load_book(b.DE_HOST), n_chars, rng)
    sources = {"en": b.source_pieces(b.EN_SOURCES), "fr": b.source_pieces(b.FR_SOURCES)}
    doc = b.plant(host, sources, 0.02, rng)
    first = min(s for s, _e, _lang in doc.spans)
    start = doc.text.rfind("\n", 0, max(doc.text.rfind("\n", 0, first) - 600, 0)) + 1
    return doc.text[start:], doc.mask()[start:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chars", type=int, default=80_000, help="host window before planting")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--png", default=str(b.ROOT / "docs" / "self-fit.png"))
    args = ap.parse_args()
    out = b.ROOT / "runs" / "self_fit_report"
    out.mkdir(parents=True, exist_ok=True)
    text, truth = document(args.chars, args.seed)
    (out / "doc.txt").write_text(text, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "textkl", "segment", str(out / "doc.txt"), "--fit",
                    "--json", str(out / "segments.json"), "--html", str(out / "report.html")],
                   check=True)
    segs = json.loads((out / "segments.json").read_text())["segments"]
    found = np.zeros(len(text), dtype=bool)
    for s in segs:
        found[s["start"] : s["end"]] |= not s["in_distribution"]
    print(f"{len(text):,} characters, {truth.mean():.1%} planted: "
          f"F1 {b.prf(found, truth, text)}")
    screenshot(out / "report.html", Path(args.png), width=1280, height=1400)
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
