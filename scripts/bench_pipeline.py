#!/usr/bin/env python
"""The main job end to end: where ``textkl segment``'s time goes, beside lingua EN+FR.

For each text size (alternating French and English paragraphs from the shared corpora:
Madame Bovary and Pride and Prejudice), in one process and on the same text:

- ``score``: ``pair.score(text)`` (the scorer alone);
- ``finder``: the default span finder on those scores (``regions=None``);
- ``regions``: the region step on the finder's spans;
- ``segment, no regions`` = score + finder; ``segment`` = score + finder + regions
  (what ``textkl segment`` runs with its defaults, minus reading and writing files);
- lingua EN+FR's ``detect_multiple_languages_of`` on the same text.

``--region-check N``: N characters of shuffled paragraphs (300-700 characters) in six
languages (English, French, German, Spanish, Dutch, Latin; one novel or poem each from the
shared corpora), scored once; the region step as ``segment`` runs it (at most
``RegionConfig.max_direct`` = 300 groups merged by Ward, k-means pre-grouping above) against
exact Ward on every span, each timed, with its character ARI against the true languages:
what bounding the region step costs on a long document.

Also the cold import time of the pipeline's modules in a fresh interpreter (what a
one-shot ``textkl segment`` pays before any work), the number of spans, and this
process's peak RSS. Prints a Markdown table with the CPU's model and flags; writes
``runs/bench_pipeline/results.json``.

    python scripts/bench_pipeline.py                       # 100k and 1M characters
    python scripts/bench_pipeline.py --repeat 3            # medians of 3 rounds (busy VMs)
    python scripts/bench_pipeline.py --sizes 100000,1000000,10000000 --no-lingua
    python scripts/bench_pipeline.py --sizes 100000 --region-check 1000000
    python scripts/bench_pipeline.py --sizes "" --no-lingua --stream 3000000,30000000

``--stream SIZES``: the command line on files of six-language text of these sizes, read
chunk by chunk (``textkl.chunked``): wall time (import included), the child process's peak
RSS, char ARI against the languages, and the same text segmented whole in this process
(sizes up to ``--stream-whole``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, peak_rss_mb, read_corpus, table, write_results  # noqa: E402

from textkl.score import PRECISIONS, precision_dtype  # noqa: E402

IMPORTS = "import textkl, textkl.segment, textkl.pair, textkl.regions, threadpoolctl"


def mixed_text(n: int) -> str:
    """``n`` characters of alternating French and English paragraphs (>= 200 chars each)."""
    fr = [p for p in read_corpus("fr_novel_madame_bovary.txt").split("\n\n") if len(p) > 200]
    en = [p for p in read_corpus("en_novel_pride_and_prejudice.txt").split("\n\n")
          if len(p) > 200]
    parts, size, i = [], 0, 0
    while size < n:
        p = (fr if i % 2 == 0 else en)[(i // 2) % min(len(fr), len(en))]
        parts.append(p)
        size += len(p) + 2
        i += 1
    return "\n\n".join(parts)[:n]


REGION_BOOKS = {"en": "en_novel_pride_and_prejudice", "fr": "fr_novel_madame_bovary",
                "de": "de_novel_grimm_maerchen", "es": "es_novel_don_quijote",
                "nl": "nl_novel_uilenspiegel", "la": "la_poetry_aeneid"}


def six_language_text(n: int, seed: int = 0) -> tuple[str, np.ndarray]:
    """``n`` characters of paragraphs of 300-700 characters in a seeded random order of
    languages (English half of them), and the language index of every character."""
    import random

    rng = random.Random(seed)
    pools = {}
    for lang, book in REGION_BOOKS.items():
        lines = read_corpus(book).split("\n\n")
        paras = [" ".join(p.split()) for p in lines]
        pools[lang] = [p for p in paras if 300 <= len(p) <= 700] or \
            [" ".join(" ".join(lines).split()[i : i + 80]) for i in range(0, 40000, 80)]
    langs = list(REGION_BOOKS)
    parts, labels, size = [], [], 0
    while size < n:
        lang = "en" if rng.random() < 0.5 else rng.choice(langs[1:])
        p = rng.choice(pools[lang])
        parts.append(p)
        labels.append(np.full(len(p) + 2, langs.index(lang), dtype=np.int8))
        size += len(p) + 2
    return "\n\n".join(parts)[:n], np.concatenate(labels)[:n]


def char_ari(truth: np.ndarray, pred: np.ndarray) -> float:
    """Adjusted Rand index of two labellings (small non-negative ints), in bounded memory."""
    t, p = truth.astype(np.int64), pred.astype(np.int64)
    k = int(p.max()) + 1
    table = np.bincount(t * k + p, minlength=(int(t.max()) + 1) * k).astype(np.float64)

    def pairs(x: np.ndarray) -> float:
        return float((x * (x - 1) / 2).sum())

    table = table.reshape(-1, k)
    both, rows, cols, n = pairs(table), pairs(table.sum(1)), pairs(table.sum(0)), len(t)
    expected = rows * cols / (n * (n - 1) / 2)
    return (both - expected) / ((rows + cols) / 2 - expected)


# the command line in a child that writes its own peak RSS (VmHWM, kB) to argv[1]: the
# high-water mark of the process after exec; ru_maxrss would also count the memory of this
# process, which the child shares between fork and exec
CHILD = """
import sys
from textkl.cli import cli
path = sys.argv[1]
try:
    cli(sys.argv[2:], prog_name="textkl", standalone_mode=False)
finally:
    with open("/proc/self/status") as f:
        kb = next(line.split()[1] for line in f if line.startswith("VmHWM"))
    with open(path, "w") as f:
        f.write(kb)
"""


def stream_check(model: str | None, n: int, whole_pair=None) -> dict:
    """``textkl segment FILE --json`` in a child process on ``n`` characters of the
    six-language text: wall time, the child's peak RSS, char ARI against the languages
    (non-space characters); with ``whole_pair`` also ``pair.segment`` on the whole text."""
    import json
    import tempfile

    text, truth = six_language_text(n, seed=1)
    keep = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32) > 32
    row = {"chars": len(text)}
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "six.txt", Path(tmp) / "segs.json"
        src.write_text(text, encoding="utf-8")
        hwm = Path(tmp) / "vmhwm"
        args = ["segment", str(src), "--json", str(out), "--no-progress"] + \
            (["-m", model] if model else [])
        cmd = [sys.executable, "-c", CHILD, str(hwm), *args]
        _, row["cli_s"] = timed(lambda: subprocess.run(cmd, check=True))
        row["cli_peak_rss_mb"] = int(hwm.read_text()) / 1024
        doc = json.loads(out.read_text())
    pred = np.zeros(len(text), dtype=np.int8)
    for sg in doc["segments"]:
        pred[sg["start"] : sg["end"]] = sg["label"]
    row["cli_chars_per_s"] = len(text) / row["cli_s"]
    row["cli_char_ari"] = char_ari(truth[keep], pred[keep])
    row["cli_regions"] = len(doc["regions"])
    if whole_pair is not None:
        segs, row["whole_s"] = timed(lambda: whole_pair.segment(text))
        whole = np.zeros(len(text), dtype=np.int8)
        for sg in segs:
            whole[sg.start : sg.end] = sg.label
        row["whole_char_ari"] = char_ari(truth[keep], whole[keep])
        row["whole_regions"] = len({sg.label for sg in segs})
    print(f"[stream, {len(text):,} chars] CLI {row['cli_s']:.1f} s, peak RSS "
          f"{row['cli_peak_rss_mb']:.0f} MB, char ARI {row['cli_char_ari']:.3f}"
          + (f"; whole {row['whole_char_ari']:.3f}" if whole_pair is not None else ""),
          file=sys.stderr)
    return row


def region_check(pair, n: int) -> dict:
    """Bounded region step against exact Ward on one long six-language text."""
    from sklearn.metrics import adjusted_rand_score

    from textkl.regions import RegionConfig

    text, truth = six_language_text(n)
    scores = pair.score(text)
    keep = np.array([not c.isspace() for c in text])
    row = {"chars": len(text)}
    for name, max_direct in (("bounded", RegionConfig().max_direct), ("exact", 10**9)):
        config = RegionConfig(max_direct=max_direct)
        segs, t = timed(lambda c=config: pair.segment(text, scores=scores, regions=c))
        pred = np.zeros(len(text), dtype=int)
        for sg in segs:
            pred[sg.start : sg.end] = sg.label
        row[f"{name}_s"] = t
        row[f"{name}_char_ari"] = adjusted_rand_score(truth[keep], pred[keep])
        row[f"{name}_regions"] = len({sg.label for sg in segs})
        print(f"[regions, {len(text):,} chars] {name}: {t:.2f} s, char ARI "
              f"{row[f'{name}_char_ari']:.3f}, {row[f'{name}_regions']} regions",
              file=sys.stderr)
    row["spans"] = len(pair.segment(text, scores=scores, regions=None))
    return row


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def cold_import_seconds() -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", IMPORTS], check=True)
    return time.perf_counter() - t


def one_round(pair, detector, text: str, dtype=None) -> dict:
    """Every step once on ``text``: their times, and the spans and segments found."""
    scores, t_score = timed(lambda: pair.score(text, dtype=dtype))
    spans, t_finder = timed(lambda: pair.segment(text, scores=scores, regions=None))
    segs, t_regions_total = timed(lambda: pair.segment(text, scores=scores))
    out = {"score_s": t_score, "finder_s": t_finder,
           "regions_s": max(t_regions_total - t_finder, 0.0), "spans": spans, "segments": segs}
    if detector is not None:
        out["lingua_en_fr_s"] = timed(lambda: detector.detect_multiple_languages_of(text))[1]
    return out


def run_size(pair, detector, n: int, repeat: int = 1, dtype=None) -> dict:
    """Time each step on ``n`` characters; with ``repeat``, the median of that many rounds
    (each round runs every step, lingua included, so a busy spell hits all of them)."""
    text = mixed_text(n)
    rounds = [one_round(pair, detector, text, dtype) for _ in range(repeat)]
    spans, segs = rounds[-1]["spans"], rounds[-1]["segments"]
    row = {"chars": len(text), "spans": len(spans), "segments": len(segs),
           "regions_found": len({s.label for s in segs}), "rounds": repeat}
    row |= {k: float(np.median([r[k] for r in rounds])) for k in rounds[0] if k.endswith("_s")}
    row["segment_no_regions_s"] = row["score_s"] + row["finder_s"]
    row["segment_s"] = row["score_s"] + row["finder_s"] + row["regions_s"]
    for key in [k for k in row if k.endswith("_s")]:
        row[key.removesuffix("_s") + "_chars_per_s"] = len(text) / max(row[key], 1e-9)
    row["non_scoring_share"] = (row["finder_s"] + row["regions_s"]) / row["segment_s"]
    if detector is not None:
        row["segment_vs_lingua"] = row["lingua_en_fr_s"] / row["segment_s"]
        row["score_vs_lingua"] = row["lingua_en_fr_s"] / row["score_s"]
    print(f"[{len(text):,} chars, median of {repeat}] score {row['score_s']:.2f}s, "
          f"finder {row['finder_s']:.2f}s, regions "
          f"{row['regions_s']:.2f}s"
          + (f", lingua EN+FR {row['lingua_en_fr_s']:.2f}s" if detector else ""),
          file=sys.stderr)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000",
                    help="comma-separated text sizes in characters")
    ap.add_argument("--model", default=None, help="model file (default: the embedded pair)")
    ap.add_argument("--precision", choices=PRECISIONS, default="auto",
                    help="the scorer's matmul precision; auto (the command line's default) "
                         "is bfloat16 on a CPU with AMX, float32 elsewhere")
    ap.add_argument("--no-lingua", action="store_true", help="skip lingua (large sizes)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds per size; each time is the median over rounds")
    ap.add_argument("--stream", default="", metavar="SIZES",
                    help="also: `textkl segment FILE --json` (chunked) on six-language files "
                         "of these sizes, peak RSS and char ARI")
    ap.add_argument("--stream-whole", type=int, default=10_000_000, metavar="N",
                    help="compare with pair.segment on the whole text up to N chars")
    ap.add_argument("--region-check", type=int, default=0, metavar="N",
                    help="also: bounded vs exact region step on N chars of six languages")
    args = ap.parse_args()

    import textkl

    cold = cold_import_seconds()
    pair = textkl.load(args.model)
    dtype = precision_dtype(args.precision, pair.device)
    pair.segment(mixed_text(5000), dtype=dtype)  # warm: first-call imports, tables, kernels
    detector = None
    if not args.no_lingua:
        from lingua import Language, LanguageDetectorBuilder

        detector = LanguageDetectorBuilder.from_languages(Language.ENGLISH,
                                                          Language.FRENCH).build()
        detector.detect_multiple_languages_of(mixed_text(5000))  # load its models
    rows = [run_size(pair, detector, int(n), args.repeat, dtype)
            for n in args.sizes.split(",") if n]
    results = {"machine": machine(), "pair": pair.describe(), "cold_import_s": cold,
               "precision": args.precision, "dtype": str(dtype).removeprefix("torch."),
               "rows": rows, "peak_rss_mb": peak_rss_mb()}
    if args.region_check:
        results["region_check"] = region_check(pair, args.region_check)
    results["stream"] = [stream_check(args.model, int(n), pair if int(n) <= args.stream_whole
                                      else None) for n in args.stream.split(",") if n]
    path = write_results("bench_pipeline", results)
    m = results["machine"]["cpu"]
    print(f"CPU: {m['model']} ({', '.join(m['flags']) or 'no AVX2'}), "
          f"{results['machine']['threads']} torch threads, {results['dtype']} "
          f"(--precision {args.precision}); cold import {cold:.2f} s; "
          f"peak RSS {results['peak_rss_mb']:.0f} MB")
    cols = ["chars", "spans", "score_chars_per_s", "segment_no_regions_chars_per_s",
            "segment_chars_per_s", "non_scoring_share"]
    if detector is not None:
        cols += ["lingua_en_fr_chars_per_s", "segment_vs_lingua"]
    if rows:
        print(table(rows, cols))
    if args.region_check:
        rc = results["region_check"]
        print(table([rc], ["chars", "spans", "bounded_s", "bounded_char_ari",
                           "bounded_regions", "exact_s", "exact_char_ari", "exact_regions"]))
    if results["stream"]:
        print(table(results["stream"], ["chars", "cli_s", "cli_chars_per_s", "cli_peak_rss_mb",
                                        "cli_char_ari", "cli_regions", "whole_char_ari",
                                        "whole_regions"]))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
