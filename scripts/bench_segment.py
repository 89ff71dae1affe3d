#!/usr/bin/env python
"""Segmentation quality benchmark (issue 4): textkl against lingua and a TF-IDF baseline.

Tasks (documents are sampled from the corpora with a fixed seed):

1. ``sentence``: French, French, French, English, French, French, French sentences. Character
   precision / recall / F1 of the in-distribution spans against the English sentence.
2. ``phrase``: a 4-12 word English phrase inside a French paragraph; same metric.
3. ``war_and_peace``: the real mixed document; F1 of the out-of-distribution characters
   against the French passages of ``MIXED_SPANS.tsv`` (approximate labels).
4. ``six_languages``: paragraphs in English, French, German, Spanish, Italian and Latin;
   character-level adjusted Rand index of the regions against the true languages. The
   baseline (char n-gram TF-IDF + k-means) is handed the true paragraphs and K = 6.

lingua's ``detect_multiple_languages_of`` runs on the same documents, restricted to
English + French and with all languages. Metrics count non-whitespace characters only, so
that where the space between two sentences goes does not matter. English sentences come from
English novels other than Moby-Dick.

Usage::

    python scripts/bench_segment.py [--model PATH] [--quick]

Writes ``runs/bench_segment/results.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
EN_OTHER = ["en_novel_pride_and_prejudice", "en_novel_sherlock_holmes_adventures",
            "en_novel_frankenstein", "en_novel_alice_in_wonderland"]
FRENCH = ["fr_novel_candide", "fr_novel_les_miserables_t1_fantine", "fr_novel_madame_bovary"]
SIX = {"en": EN_OTHER, "fr": FRENCH, "de": ["de_novel_grimm_maerchen"],
       "es": ["es_novel_don_quijote"], "it": ["it_poetry_divina_commedia"],
       "la": ["la_poetry_aeneid"]}
MIXED = "mixed_en_fr_war_and_peace_maude_part"
_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[\"“«A-ZÀ-Ý])")
_ABBREV = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St|Mme|Mlle|M|Sr|Jr|Capt|Col|Gen|Rev)\.$")
_PUNCT = " \t\n.,;:!?\"'“”‘’«»()[]-—_"


def corpora_dir() -> Path:
    return Path(os.environ.get("TEXTKL_CORPORA") or ROOT.parent / "shared" / "corpora")


def load_book(name: str) -> str:
    from textkl.corpora import strip_gutenberg
    from textkl.io import read_text

    return strip_gutenberg(read_text(corpora_dir() / f"{name}.txt"))


def _clean_sentence(s: str) -> bool:
    letters = sum(c.isalpha() for c in s)
    return (40 <= len(s) <= 220 and letters >= 0.75 * len(s) and not re.search(r"[\d_\[\]*|]", s)
            and s[0].isupper() and s[-1] in ".!?" and not s.isupper())


def sentences(text: str) -> list[str]:
    """Clean sentences in text order (whitespace folded to single spaces)."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        parts: list[str] = []
        for s in _SENT_SPLIT.split(" ".join(para.split())):
            if parts and _ABBREV.search(parts[-1]):  # "Mrs. Bennet": not a sentence end
                parts[-1] += " " + s
            else:
                parts.append(s)
        out.extend(s for s in parts if _clean_sentence(s))
    return out


def sentence_docs(n: int, rng: random.Random, fr: dict, en: dict) -> list[tuple[str, int, int]]:
    """Task 1: (doc, start, end) with the English sentence at [start, end)."""
    docs = []
    for _ in range(n):
        f = fr[rng.choice(sorted(fr))]
        i = rng.randrange(len(f) - 6)
        e = en[rng.choice(sorted(en))]
        eng = e[rng.randrange(len(e))]
        head = " ".join(f[i : i + 3]) + " "
        doc = head + eng + " " + " ".join(f[i + 3 : i + 6])
        docs.append((doc, len(head), len(head) + len(eng)))
    return docs


def phrase_docs(n: int, rng: random.Random, fr: dict, en: dict) -> list[tuple[str, int, int]]:
    """Task 2: a 4-12 word English phrase inserted at a word boundary inside a French paragraph."""
    docs = []
    while len(docs) < n:
        f = fr[rng.choice(sorted(fr))]
        i = rng.randrange(len(f) - 4)
        para = " ".join(f[i : i + 4])
        e = en[rng.choice(sorted(en))]
        words = e[rng.randrange(len(e))].split()
        k = rng.randint(4, 12)
        if len(words) < k:
            continue
        j = rng.randrange(len(words) - k + 1)
        phrase = " ".join(words[j : j + k]).strip(_PUNCT)
        spaces = [m.start() for m in re.finditer(r"(?<=[a-zà-ÿ]) (?=[a-zà-ÿ])", para)]
        spaces = [p for p in spaces if len(para) // 4 < p < 3 * len(para) // 4]
        if not phrase or not spaces:
            continue
        p = rng.choice(spaces)
        doc = para[:p] + " " + phrase + para[p:]
        docs.append((doc, p + 1, p + 1 + len(phrase)))
    return docs


def paragraph(text: str, rng: random.Random, lo: int = 300, hi: int = 700) -> str:
    """Consecutive non-empty lines from a random place, about ``lo..hi`` characters."""
    lines = text.splitlines()
    target = rng.randint(lo, hi)
    while True:
        i = rng.randrange(len(lines) - 200)
        got: list[str] = []
        while sum(len(x) + 1 for x in got) < target and i < len(lines):
            line = lines[i].strip()
            i += 1
            if line:
                got.append(" ".join(line.split()))
        para = "\n".join(got)
        letters = sum(c.isalpha() for c in para)
        if letters > 0.7 * len(para) and not re.search(r"[\d_\[\]*|]", para):
            return para


def six_language_doc(rng: random.Random, books: dict, per_lang: int,
                     para_chars: tuple[int, int] = (300, 700)) -> tuple[str, np.ndarray, list]:
    """Task 4: paragraphs of six languages in random order; per-char language ids."""
    paras = [(lang, paragraph(books[rng.choice(SIX[lang])], rng, *para_chars))
             for lang in SIX for _ in range(per_lang)]
    rng.shuffle(paras)
    text, truth, bounds = "", [], []
    langs = list(SIX)
    for k, (lang, p) in enumerate(paras):
        piece = p + ("\n\n" if k < len(paras) - 1 else "")
        bounds.append((len(text), len(text) + len(p), lang))
        truth.append(np.full(len(piece), langs.index(lang)))
        text += piece
    return text, np.concatenate(truth), bounds


# ---------------------------------------------------------------------------- metrics


def prf(pred: np.ndarray, true: np.ndarray, text: str) -> tuple[int, int, int]:
    """Counts (tp, fp, fn) over the non-whitespace characters."""
    ns = ~np.array([c.isspace() for c in text], dtype=bool)
    return (int((pred & true & ns).sum()), int((pred & ~true & ns).sum()),
            int((~pred & true & ns).sum()))


def scores_from(counts: list[tuple[int, int, int]]) -> dict:
    tp, fp, fn = (sum(c[i] for c in counts) for i in range(3))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1s = [2 * a / (2 * a + b + c) if a else 0.0 for a, b, c in counts]
    return {"precision": round(p, 4), "recall": round(r, 4),
            "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
            "mean_doc_f1": round(float(np.mean(f1s)), 4)}


def segment_kwargs(finder: str, seed: int, overrides: dict, stored: dict | None = None) -> dict:
    """``Pair.segment`` keywords: each override goes to the config that has the field; the
    finder starts from the settings ``stored`` with the pair (``pair.defaults(finder)``)."""
    from dataclasses import fields

    from textkl.finders import make_finder
    from textkl.regions import RegionConfig

    region_keys = {f.name for f in fields(RegionConfig)}
    return {"finder": make_finder(finder, **(stored or {}) | {
                k: v for k, v in overrides.items() if k not in region_keys}),
            "regions": RegionConfig(seed=seed, **{k: v for k, v in overrides.items()
                                                  if k in region_keys})}


def textkl_mask(pair, doc: str, in_dist: bool, **kw) -> np.ndarray:
    m = np.zeros(len(doc), dtype=bool)
    for s in pair.segment(doc, **kw):
        if s.in_distribution == in_dist:
            m[s.start : s.end] = True
    return m


def lingua_mask(detector, doc: str, language) -> np.ndarray:
    m = np.zeros(len(doc), dtype=bool)
    for r in detector.detect_multiple_languages_of(doc):
        if r.language == language:
            m[r.start_index : r.end_index] = True
    return m


def lingua_labels(detector, doc: str) -> np.ndarray:
    lab = np.full(len(doc), -1)
    for r in detector.detect_multiple_languages_of(doc):
        lab[r.start_index : r.end_index] = hash(r.language.name) % 10_000
    return lab


def tfidf_baseline(text: str, bounds: list[tuple], k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    paras = [text[s:e] for s, e, _ in bounds]
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
    x = vec.fit_transform(paras)
    lab = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)
    out = np.zeros(len(text), dtype=int)
    for (s, _, _), (e2, _, _), lb in zip(bounds, [*bounds[1:], (len(text), 0, "")], lab):
        out[s:e2] = lb
    return out


def window_bounds(text: str, width: int = 200) -> list[tuple]:
    """Consecutive windows of about ``width`` characters, cut at word starts: what a user
    without the true paragraph boundaries would hand the TF-IDF baseline."""
    from textkl.spans import snap_candidates

    words, _ = snap_candidates(text)
    cuts = [0]
    for w in words[1:-1]:
        if w - cuts[-1] >= width:
            cuts.append(int(w))
    return [(s, e, "") for s, e in zip(cuts, [*cuts[1:], len(text)])]


def seg_labels(segs, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=int)
    for s in segs:
        out[s.start : s.end] = s.label
    return out


# ---------------------------------------------------------------------------- tasks


def run_span_task(name, docs, pair, det2, det_all, en_lang, kw) -> dict:
    res: dict = {"docs": len(docs)}
    for tool in ("textkl", "lingua_en_fr", "lingua_all"):
        counts, t0 = [], time.perf_counter()
        for doc, s, e in docs:
            true = np.zeros(len(doc), dtype=bool)
            true[s:e] = True
            if tool == "textkl":
                pred = textkl_mask(pair, doc, True, **kw)
            else:
                pred = lingua_mask(det2 if tool == "lingua_en_fr" else det_all, doc, en_lang)
            counts.append(prf(pred, true, doc))
        res[tool] = {**scores_from(counts), "seconds": round(time.perf_counter() - t0, 2)}
    print(f"[{name}] " + ", ".join(f"{k} F1 {v['f1']:.3f}" for k, v in res.items()
                                  if isinstance(v, dict)), file=sys.stderr)
    return res


def run_war_and_peace(pair, det2, det_all, fr_lang, n_chars: int | None, kw) -> dict:
    """F1 of the French against the shipped labels; ``corrected``: the corrected labels."""
    from scripts.war_and_peace_labels import truths

    text = (corpora_dir() / f"{MIXED}.txt").read_text("utf-8")  # raw: the span offsets are
    text = text[:n_chars] if n_chars else text
    true, fixed = truths(text).values()
    res: dict = {"chars": len(text), "french_chars": int(true.sum()),
                 "corrected": {"french_chars": int(fixed.sum())}}
    for tool in ("textkl", "lingua_en_fr", "lingua_all"):
        t0 = time.perf_counter()
        if tool == "textkl":
            segs = pair.segment(text, **kw)
            pred = np.zeros(len(text), dtype=bool)
            for g in segs:
                pred[g.start : g.end] |= not g.in_distribution
        else:
            pred = lingua_mask(det2 if tool == "lingua_en_fr" else det_all, text, fr_lang)
        res[tool] = {**scores_from([prf(pred, true, text)]),
                     "seconds": round(time.perf_counter() - t0, 2)}
        res["corrected"][tool] = scores_from([prf(pred, fixed, text)])
    # the foreign region that best matches the French passages (regions are unlabelled)
    labels = seg_labels(segs, len(text))
    best = max((scores_from([prf(labels == k, true, text)]) | {"region": int(k)}
                for k in np.unique(labels) if k > 0), key=lambda r: r["f1"],
               default={"f1": 0.0, "precision": 0.0, "recall": 0.0, "region": None})
    res["textkl_best_region"] = best
    print("[war_and_peace] " + ", ".join(f"{k} F1 {v['f1']:.3f}" for k, v in res.items()
                                         if isinstance(v, dict) and "f1" in v), file=sys.stderr)
    return res


def run_six(pair, det_all, n_docs: int, per_lang: int, seed: int, kw,
            para_chars: tuple[int, int] = (300, 700)) -> dict:
    from sklearn.metrics import adjusted_rand_score

    books = {name: load_book(name) for names in SIX.values() for name in names}
    rng = random.Random(seed + 4)
    rows = []
    for d in range(n_docs):
        text, truth, bounds = six_language_doc(rng, books, per_lang, para_chars)
        t0 = time.perf_counter()
        segs = pair.segment(text, **kw)
        tk = seg_labels(segs, len(text))
        secs = time.perf_counter() - t0
        rows.append({
            "chars": len(text),
            "textkl": adjusted_rand_score(truth, tk),
            "textkl_regions": int(tk.max()) + 1,
            "tfidf_kmeans_true_bounds_k6": adjusted_rand_score(
                truth, tfidf_baseline(text, bounds, len(SIX), seed + d)),
            "tfidf_kmeans_windows_k6": adjusted_rand_score(
                truth, tfidf_baseline(text, window_bounds(text), len(SIX), seed + d)),
            "lingua_all": adjusted_rand_score(truth, lingua_labels(det_all, text)),
            "textkl_seconds": round(secs, 2),
        })
        print(f"[six_languages doc {d}] " + ", ".join(
            f"{k} {v:.3f}" for k, v in rows[-1].items() if isinstance(v, float)), file=sys.stderr)
    keys = ("textkl", "tfidf_kmeans_true_bounds_k6", "tfidf_kmeans_windows_k6", "lingua_all")
    return {"docs": rows, **{f"mean_ari_{k}": round(float(np.mean([r[k] for r in rows])), 4)
                             for k in keys}}


def main(argv: list[str] | None = None) -> dict:
    from textkl.score import PRECISIONS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="checkpoint (default: the embedded pair)")
    ap.add_argument("--quick", action="store_true", help="fewer and smaller documents")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tasks", default="sentence,phrase,war_and_peace,six_languages")
    ap.add_argument("--method", default="decode", choices=["decode", "hysteresis", "changepoint"])
    ap.add_argument("--out", default="bench_segment", help="runs/<out>/results.json")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a finder or RegionConfig field, e.g. --set level=0.6")
    ap.add_argument("--para-chars", default="300,700",
                    help="six_languages: paragraph length range in characters")
    ap.add_argument("--precision", default="fp32", choices=PRECISIONS,
                    help="the scorer's matmul precision (default fp32, the reference; the "
                         "command line's default is auto: bfloat16 on a CPU with AMX)")
    args = ap.parse_args(argv)

    import torch
    from common import write_results
    from lingua import Language, LanguageDetectorBuilder

    import textkl
    from textkl.score import precision_dtype

    torch.set_num_threads(args.threads)
    pair = textkl.load(args.model)
    det2 = LanguageDetectorBuilder.from_languages(Language.ENGLISH, Language.FRENCH).build()
    det_all = LanguageDetectorBuilder.from_all_languages().build()
    tasks = args.tasks.split(",")
    n_docs = 40 if args.quick else 100
    kw = segment_kwargs(args.method, args.seed,
                        {k: int(v) if v.isdigit() else float(v)
                         for k, v in (o.split("=", 1) for o in args.overrides)},
                        pair.defaults(args.method))
    kw["dtype"] = precision_dtype(args.precision, pair.device)
    results: dict = {"model": args.model or "embedded default", "pair": pair.describe(),
                     "quick": args.quick, "precision": args.precision,
                     "dtype": str(kw["dtype"]).removeprefix("torch."),
                     "seed": args.seed, "method": args.method, "overrides": args.overrides,
                     "para_chars": args.para_chars, "tasks": {}}
    if {"sentence", "phrase"} & set(tasks):
        fr = {n: sentences(load_book(n)) for n in FRENCH}
        en = {n: sentences(load_book(n)) for n in EN_OTHER}
        if "sentence" in tasks:
            docs = sentence_docs(n_docs, random.Random(args.seed + 1), fr, en)
            results["tasks"]["sentence"] = run_span_task("sentence", docs, pair, det2, det_all,
                                                         Language.ENGLISH, kw)
        if "phrase" in tasks:
            docs = phrase_docs(n_docs, random.Random(args.seed + 2), fr, en)
            results["tasks"]["phrase"] = run_span_task("phrase", docs, pair, det2, det_all,
                                                       Language.ENGLISH, kw)
    if "war_and_peace" in tasks:
        results["tasks"]["war_and_peace"] = run_war_and_peace(
            pair, det2, det_all, Language.FRENCH, 200_000 if args.quick else None, kw)
    if "six_languages" in tasks:
        lo, hi = (int(v) for v in args.para_chars.split(","))
        results["tasks"]["six_languages"] = run_six(
            pair, det_all, 2 if args.quick else 5, 3 if args.quick else 5, args.seed, kw, (lo, hi))
    write_results(args.out, results)
    print(table(results))
    return results


def table(results: dict) -> str:
    t = results["tasks"]
    lines = ["| task | metric | textkl | lingua EN+FR | lingua all "
             "| TF-IDF+k-means (true bounds, K) | TF-IDF+k-means (200-char windows, K) |",
             "|---|---|---|---|---|---|---|"]
    for name in ("sentence", "phrase", "war_and_peace"):
        if name in t:
            r = t[name]
            lines.append(f"| {name} | char F1 (P/R) | {_prf(r['textkl'])} | "
                         f"{_prf(r['lingua_en_fr'])} | {_prf(r['lingua_all'])} | - | - |")
            if "corrected" in r:  # results from 2026-12-02 on
                c = r["corrected"]
                lines.append(f"| {name}, corrected labels | char F1 (P/R) | {_prf(c['textkl'])} "
                             f"| {_prf(c['lingua_en_fr'])} | {_prf(c['lingua_all'])} | - | - |")
            if "textkl_best_region" in r:
                lines.append(f"| {name} | best foreign region F1 (P/R) | "
                             f"{_prf(r['textkl_best_region'])} | - | - | - | - |")
    if "six_languages" in t:
        r = t["six_languages"]
        lines.append(f"| six_languages | char ARI | {r['mean_ari_textkl']:.3f} | - | "
                     f"{r['mean_ari_lingua_all']:.3f} "
                     f"| {r['mean_ari_tfidf_kmeans_true_bounds_k6']:.3f} "
                     f"| {r['mean_ari_tfidf_kmeans_windows_k6']:.3f} |")
    return "\n".join(lines)


def _prf(r: dict) -> str:
    return f"{r['f1']:.3f} ({r['precision']:.2f}/{r['recall']:.2f})"


if __name__ == "__main__":
    main()
