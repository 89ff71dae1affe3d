"""Size and render time of the HTML report for a large text, in real headless Chromium.

Scores the text with a pair (or, with ``--quick``, uses synthetic scores and segments),
renders the report, and opens it in headless Chromium (selenium + Debian's chromedriver),
timing the page until the chart is drawn. Results go to ``runs/bench_report/results.json``.

Example:
    python scripts/bench_report.py --quick --chars 1000000
    python scripts/bench_report.py --text ../shared/corpora/en_novel_moby_dick.txt \
        --model runs/moby-lstm --chars 1000000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for the tests' chromium helper


@dataclass(frozen=True)
class _Seg:
    start: int
    end: int
    label: int
    in_distribution: bool
    mean_kl: float


@dataclass(frozen=True)
class _Scores:
    kl: np.ndarray


def synthetic(n: int, seed: int = 0) -> tuple[str, _Scores, list[_Seg]]:
    """``n`` characters of made-up prose with a foreign-looking span every ~20k characters."""
    rng = np.random.default_rng(seed)
    words = ("the sea was grey and the ship rolled slowly while the crew waited for a word "
             "from the captain who stood alone at the rail").split()
    text = " ".join(rng.choice(words, size=n // 4))[:n]
    kl = (0.01 * rng.lognormal(0, 0.7, len(text))).astype(np.float32)
    segs, pos = [], 0
    while pos < len(text):
        book = int(rng.integers(5_000, 35_000))
        foreign = int(rng.integers(50, 2_000))
        for length, label in ((book, 0), (foreign, int(rng.integers(1, 4)))):
            end = min(len(text), pos + length)
            if end > pos:
                kl[pos:end] *= 1 if label == 0 else 30 * label
                segs.append(_Seg(pos, end, label, label == 0, float(kl[pos:end].mean())))
            pos = end
    kl[0] = np.nan
    return text, _Scores(kl), segs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--text", type=Path, help="text file (default: synthetic prose)")
    ap.add_argument("--model", help="pair to score with (default: synthetic scores)")
    ap.add_argument("--chars", type=int, default=1_000_000, help="characters of text used")
    ap.add_argument("--quick", action="store_true", help="synthetic scores, no model")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_report")
    args = ap.parse_args()

    from textkl.report import render_report

    pair = None
    if args.quick or not args.model:
        text, scores, segs = synthetic(args.chars)
        if args.text:
            text = args.text.read_text(encoding="utf-8")[: len(text)].ljust(len(text))
    else:
        import torch

        import textkl

        torch.set_num_threads(1)
        pair = textkl.load(args.model)
        text = args.text.read_text(encoding="utf-8")[: args.chars]
        t = time.perf_counter()
        scores = pair.score(text)
        segs = pair.segment(text)
        print(f"scored and segmented in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    t = time.perf_counter()
    page = render_report(text, scores, segs, pair)
    t_render = time.perf_counter() - t
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "report.html"
    path.write_text(page, encoding="utf-8")
    res = {"chars": len(text), "segments": len(segs), "page_bytes": path.stat().st_size,
           "python_render_s": round(t_render, 3), **browser_times(path)}
    (args.out / "results.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


def browser_times(path: Path, repeats: int = 3) -> dict:
    """Median seconds from navigation to DOMContentLoaded, load and the chart drawn."""
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.browser import chromium, console_errors, file_url

    rows = []
    with chromium() as d:
        for _ in range(repeats):
            d.get("about:blank")
            t = time.perf_counter()
            d.get(file_url(path))
            WebDriverWait(d, 120).until(lambda d: d.execute_script("return window.textklReady"))
            wall = time.perf_counter() - t
            nav = d.execute_script("var t=performance.timing;return [t.domContentLoadedEventEnd"
                                   "-t.navigationStart,t.loadEventEnd-t.navigationStart]")
            rows.append((nav[0] / 1000, nav[1] / 1000, wall))
        errors = console_errors(d)
    med = np.median(np.array(rows), axis=0)
    return {"dom_content_loaded_s": round(float(med[0]), 3), "load_s": round(float(med[1]), 3),
            "chart_ready_wall_s": round(float(med[2]), 3), "console_errors": errors}


if __name__ == "__main__":
    main()
