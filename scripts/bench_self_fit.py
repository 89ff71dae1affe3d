#!/usr/bin/env python
"""Self-reference benchmark (issue 21): fit a pair on the document itself, find the foreign.

Tasks (all documents are built by a seeded generator from the shared corpora):

1. ``planted_fr``: a 300,000-character window of a French novel with 1-3 % English
   planted (see ``plant``), from English novels other than Moby-Dick. Character F1 of
   the English (non-whitespace characters), also with the hosts' own passages audited
   (``HOST_AUDIT``: their Latin, Italian, Spanish and English quotations and Candide's title
   pages, which the planted labels call French). The same window unplanted is fitted too:
   the share of it called foreign (a one-language document should be almost all in
   distribution).
2. ``war_and_peace``: the first 1,000,000 characters of the Maude translation with its
   French passages: the shipped ``MIXED_SPANS.tsv`` labels (a heuristic list) and the
   corrected ones (``war_and_peace_labels.py``: trimmed, and the French the list misses);
   F1 of the French.
   lingua with all languages runs on the first 200,000 characters only (it is slow).
3. ``third_language``: a German (Grimm) window with English and French planted the same
   way (0.5-1.5 % each); F1 of both, and whether the regions separate English from French
   (adjusted Rand index of the region labels on the planted characters found foreign).
4. Times: every fit records wall and CPU seconds (300,000 characters in task 1,
   1,000,000 in task 2). ``min_length`` (not run by default): fits of 25,000 and 50,000
   characters, for the shortest document worth fitting.

Each span task runs side by side: the self-fitted pair (``FitConfig()``, the settings of
``textkl.fit``, segmented with ``textkl.selffit.finder()``; round 1 alone, and every round
with the default finder, are in the JSON too), lingua restricted to the languages
concerned, and the embedded default pair (``textkl.load()``, Moby-Dick), whose "foreign"
is whatever is not English (so in task 1 its in-distribution spans are its answer).

The planting generator (``plant``), seeded: the source text is cut into paragraphs of
200-800 characters and sentences of 40-220 characters (whitespace folded); for each
language with share ``s``, paragraphs are inserted at random paragraph breaks of the
host text (blank lines, or line ends in a text with one paragraph per line) until half of
``s`` is planted, then sentences at random sentence ends (". " before a capital) inside
host paragraphs until all of ``s`` is. Insertion points are at least 2,000 characters
apart.

Usage::

    python scripts/bench_self_fit.py [--quick] [--tasks planted_fr,war_and_peace,...]
    # on a shared machine, tasks as parallel processes, then one results file:
    python scripts/bench_self_fit.py --tasks war_and_peace --out runs/bench_self_fit/p2.json
    python scripts/bench_self_fit.py --merge runs/bench_self_fit/p*.json

``--quick``: one host, 120,000-character documents, a 200,000-character War and Peace
prefix, 400 steps per fit. Writes ``runs/bench_self_fit/results.json`` (or ``--out``) and
prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

EN_SOURCES = ["en_novel_pride_and_prejudice", "en_novel_sherlock_holmes_adventures",
              "en_novel_frankenstein", "en_novel_alice_in_wonderland"]
FR_HOSTS = ["fr_novel_madame_bovary", "fr_novel_les_miserables_t1_fantine", "fr_novel_candide"]
FR_SOURCES = ["fr_novel_candide", "fr_novel_les_miserables_t1_fantine", "fr_novel_madame_bovary"]
DE_HOST = "de_novel_grimm_maerchen"
MIXED = "mixed_en_fr_war_and_peace_maude_part"
_SENT_END = re.compile(r"[.!?] (?=[A-ZÀ-Ý])")


@dataclass(frozen=True)
class Planted:
    """A generated document: its text and the planted spans ``(start, end, language)``."""

    text: str
    spans: list[tuple[int, int, str]]
    inserts: tuple[tuple[int, int], ...] = ()  # (start, end) of each inserted piece, separator too

    def mask(self, language: str | None = None) -> np.ndarray:
        m = np.zeros(len(self.text), dtype=bool)
        for s, e, lang in self.spans:
            if language is None or lang == language:
                m[s:e] = True
        return m

    @cached_property
    def _from_host(self) -> np.ndarray:
        """bool (N,): the document positions that hold the host's characters, in order."""
        kept = np.ones(len(self.text), dtype=bool)
        for s, e in self.inserts:
            kept[s:e] = False
        return kept

    def from_host(self, host_mask: np.ndarray) -> np.ndarray:
        """A mask over the host's characters carried to the document (inserts: False)."""
        out = np.zeros(len(self.text), dtype=bool)
        out[self._from_host] = host_mask
        return out

    def audited(self, host_name: str, host: str) -> tuple[np.ndarray, np.ndarray]:
        """(English truth, characters not scored) with the host's own passages audited.

        The planted English plus the host's own English quotations; not scored: the
        host's passages in other languages and its title pages (``HOST_AUDIT``).
        """
        english, ignore = audit_host(host_name, host)
        return self.mask("en") | self.from_host(english), self.from_host(ignore)


def load_book(name: str) -> str:
    from scripts.common import corpora_dir
    from textkl.corpora import strip_gutenberg
    from textkl.io import read_text

    return strip_gutenberg(read_text(corpora_dir() / f"{name}.txt"))


def source_pieces(books: list[str]) -> tuple[list[str], list[str]]:
    """Paragraphs (200-800 chars) and sentences (40-220 chars) of ``books``, folded."""
    paras, sents = [], []
    for name in books:
        for p in re.split(r"\n\s*\n", load_book(name)):
            p = " ".join(p.split())
            letters = sum(c.isalpha() for c in p)
            if letters < 0.75 * max(len(p), 1) or re.search(r"[\d_\[\]*|]", p):
                continue
            if 200 <= len(p) <= 800:
                paras.append(p)
            for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", p):
                if 40 <= len(s) <= 220 and s[0].isupper() and s[-1] in ".!?":
                    sents.append(s)
    return paras, sents


def host_window(book: str, n_chars: int, rng: random.Random) -> str:
    """``n_chars`` characters of ``book`` from a random paragraph start (whole book if shorter)."""
    if len(book) <= n_chars:
        return book
    start = rng.randrange(len(book) - n_chars)
    nl = book.find("\n\n", start)
    start = nl + 2 if 0 <= nl < start + 5000 else start
    return book[start : start + n_chars]


def plant(host: str, sources: dict[str, tuple[list[str], list[str]]], share: float,
          rng: random.Random, gap: int = 2000) -> Planted:
    """Insert paragraphs and sentences of each source language into ``host`` (see module doc).

    ``sources`` maps a language to its (paragraphs, sentences); each gets ``share`` of the
    host's length, half as paragraphs and half as sentences.
    """
    breaks = [m.end() for m in re.finditer(r"\n\s*\n", host)]
    sep = "\n\n"
    if len(breaks) < 20:  # one paragraph per line (the Grimm text)
        breaks, sep = [m.end() for m in re.finditer(r"\n", host)], "\n"
    ends = [m.start() + 2 for m in _SENT_END.finditer(host)]
    used: list[int] = []

    def free(pos: int) -> bool:
        return all(abs(pos - u) >= gap for u in used)

    inserts: list[tuple[int, str, str]] = []  # (host offset, text, language)
    for lang, (paras, sents) in sources.items():
        for kind, pool, points in (("para", paras, breaks), ("sent", sents, ends)):
            target, got, tries = share * len(host) / 2, 0, 0
            while got < target and tries < 10_000:
                tries += 1
                pos = rng.choice(points)
                if not free(pos):
                    continue
                piece = rng.choice(pool)
                used.append(pos)
                inserts.append((pos, piece + (sep if kind == "para" else " "), lang))
                got += len(piece)
    inserts.sort()
    out, spans, pieces, prev, shift = [], [], [], 0, 0
    for pos, piece, lang in inserts:
        out.append(host[prev:pos])
        start = pos + shift
        spans.append((start, start + len(piece.rstrip()), lang))
        pieces.append((start, start + len(piece)))
        out.append(piece)
        shift += len(piece)
        prev = pos
    out.append(host[prev:])
    return Planted("".join(out), spans, tuple(pieces))


# The French hosts' own passages that are not French running text, read by hand
# (2026-12-02): every italic (_..._) or quoted («...») passage of each host whose words are
# mostly (>= 60 %) absent from the other French books of the corpora was read, and those in
# another language are listed with the sentence or verse line they stand in when that line
# is not French either; plus Candide's title pages (the edition's front matter in capitals,
# the second title page before chapter I, and "FIN DE CANDIDE."). English passages count as
# English (the task's positives); the rest is not scored. Matched with any whitespace
# between the words; a passage outside the host window is simply absent.
HOST_AUDIT: dict[str, list[tuple[str, str]]] = {
    "fr_novel_madame_bovary": [
        ("it", "Amor nel cor"),
        ("en", "That is the question!"),
        ("la", "Castigat ridendo mores"),
        ("la", "Fabricando fil faber, age quod agis."),  # "fil": as printed
    ],
    "fr_novel_les_miserables_t1_fantine": [
        ("la", "ex abrupto"), ("la", "Sinite parvulos"), ("la", "Vermis sum"),
        ("la", "Credo in Patrem"), ("la", "quia multum amavit"),
        ("en", "Please adjust your dress before leaving"),
        ("it", "Faccia gialluta, fa o miracolo"),
        ("es", "Soy de Badajoz."), ("es", "Toda mi alma"), ("es", "Porque enseñas"),
        ("es", "À tus piernas."),
        ("la", "Nunc te, Bacche, canam"), ("la", "Nil sub sole novum"),
        ("la", "amor omnibus idem"), ("la", "Gula punit Gulax."),
    ],
    "fr_novel_candide": [
        ("title", "OEUVRES DE VOLTAIRE. TOME XXXIII DE L’ IMPRIMERIE DE A. FIRMIN DIDOT, RUE "
                  "JACOB, Nº 24. OEUVRES DE VOLTAIRE PRÉFACES, AVERTISSEMENTS, NOTES, ETC. PAR "
                  "M. BEUCHOT. TOME XXXIII. ROMANS. TOME I. A PARIS, CHEZ LEFÈVRE, LIBRAIRE, RUE "
                  "DE L’ÉPERON, Kº 6. WERDET ET LEQUIEN FILS, RUE DU BATTOIR, Nº 20. MDCCCXXIX. "
                  "CANDIDE, OU L’OPTIMISME"),
        ("title", "CANDIDE, ou L’OPTIMISME, TRADUIT DE L’ALLEMAND DE M. LE DOCTEUR RALPH, AVEC "
                  "LES ADDITIONS QU’ON A TROUVÉES DANS LA POCHE DU DOCTEUR, LORSQU’IL MOURUT À "
                  "MINDEN, L’AN DE GRÂCE 1759 1759"),
        ("title", "FIN DE CANDIDE."),
        ("de", "Valdberghoff-trarbk-dikdorff"),
        ("la", "in articulo mortis"),
        ("it", "O che sciagura d’essere senza coglioni!"),
        ("it", "Ma che sciagura d’essere senza coglioni!"),
        ("la", "Tenebrae erant super faciem abyssi"),
        ("la", "«Quaque erat et tellus, illic et pontus et aer.»"),
        ("la", "Rupili pus atque venenum."),
        ("la", "Italo perfusus aceto"),
        ("la", "ut operaretur eum"),
    ],
}


def audit_host(host_name: str, host: str) -> tuple[np.ndarray, np.ndarray]:
    """(English, not scored) masks over ``host`` from ``HOST_AUDIT``."""
    english, ignore = np.zeros(len(host), dtype=bool), np.zeros(len(host), dtype=bool)
    for lang, passage in HOST_AUDIT.get(host_name, []):
        pattern = r"\s+".join(map(re.escape, passage.split()))
        for m in re.finditer(pattern, host):
            (english if lang == "en" else ignore)[m.start() : m.end()] = True
    return english, ignore


# ---------------------------------------------------------------------------- metrics


def prf(pred: np.ndarray, true: np.ndarray, text: str, ignore: np.ndarray | None = None
        ) -> dict:
    """Precision, recall and F1 of ``pred`` against ``true`` over non-whitespace characters
    (and not ``ignore``)."""
    ns = ~np.array([c.isspace() for c in text], dtype=bool)
    if ignore is not None:
        ns &= ~ignore
    tp = int((pred & true & ns).sum())
    fp, fn = int((pred & ~true & ns).sum()), int((~pred & true & ns).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"f1": round(2 * p * r / (p + r), 4) if p + r else 0.0, "precision": round(p, 4),
            "recall": round(r, 4)}


def foreign_of(pair, text: str, regions=None, finder="decode") -> tuple[np.ndarray, list]:
    """(bool mask of the foreign segments, the segments) of ``pair.segment``."""
    segs = pair.segment(text, regions=regions, finder=finder)
    mask = np.zeros(len(text), dtype=bool)
    for s in segs:
        mask[s.start : s.end] |= not s.in_distribution
    return mask, segs


def fitted(pair, text: str) -> np.ndarray:
    """bool mask of what a fitted pair finds foreign, with the finder made for fitted pairs."""
    from textkl.selffit import finder

    return foreign_of(pair, text, finder=finder())[0]


def lingua_of(detector, text: str, languages: set) -> np.ndarray:
    """bool mask of the characters lingua assigns to one of ``languages``."""
    mask = np.zeros(len(text), dtype=bool)
    for r in detector.detect_multiple_languages_of(text):
        if r.language in languages:
            mask[r.start_index : r.end_index] = True
    return mask


def timed_fit(text: str, config, truth: np.ndarray | None) -> tuple[object, dict]:
    """Fit without the cache; wall and CPU seconds; F1 of what each round's pair finds."""
    from textkl.selffit import finder, fit_rounds

    per_round: list[dict] = []

    def on_round(r: int, pair) -> None:
        if truth is not None:
            per_round.append({"round": r, **prf(foreign_of(pair, text, finder=finder())[0],
                                                truth, text),
                              "default_finder": prf(foreign_of(pair, text)[0], truth, text)})

    t0, c0 = time.perf_counter(), time.process_time()
    pair = fit_rounds(text, config, device="auto", on_round=on_round)
    info = {"chars": len(text), "wall_s": round(time.perf_counter() - t0, 1),
            "cpu_s": round(time.process_time() - c0, 1), "rounds": per_round,
            "fit": pair.meta["self_fit"]["rounds"]}
    return pair, info


# ---------------------------------------------------------------------------- tasks


def task_planted_fr(args, config, det2, default) -> dict:
    """Task 1: French novels with English planted; also the same novels' windows unplanted."""
    from lingua import Language

    en = source_pieces(EN_SOURCES)
    docs, clean = [], []
    for k, host_name in enumerate(FR_HOSTS[: args.hosts]):
        rng = random.Random(args.seed * 1000 + k)
        host = host_window(load_book(host_name), args.chars, rng)
        doc = plant(host, {"en": en}, rng.uniform(0.01, 0.03), rng)
        truth = doc.mask()
        pair, info = timed_fit(doc.text, config, truth)
        masks = {"self_fit": fitted(pair, doc.text),
                 "lingua_en_fr": lingua_of(det2, doc.text, {Language.ENGLISH}),
                 "default_pair": ~foreign_of(default, doc.text)[0]}
        english, ignore = doc.audited(host_name, host)
        row = {"host": host_name, "planted_share": round(float(truth.mean()), 4), **info,
               **{tool: prf(m, truth, doc.text) for tool, m in masks.items()},
               "audited": {"not_scored_chars": int(ignore.sum()),
                           **{tool: prf(m, english, doc.text, ignore)
                              for tool, m in masks.items()}}}
        docs.append(row)
        _say(f"planted_fr {host_name}", row)
        if args.clean:  # the host window alone: what share does the fit call foreign?
            pair, info = timed_fit(host, config, np.zeros(len(host), dtype=bool))
            ns = ~np.array([c.isspace() for c in host])
            share = float((fitted(pair, host) & ns).sum() / ns.sum())
            eng = float((lingua_of(det2, host, {Language.ENGLISH}) & ns).sum() / ns.sum())
            clean.append({"host": host_name, "foreign_share": round(share, 4),
                          "lingua_english_share": round(eng, 4), **info})
            _say(f"clean {host_name}", clean[-1])
    return {"docs": docs, "clean": clean, **_means(docs)}


def task_war_and_peace(args, config, det2, det_all, default) -> dict:
    """Task 2: the French passages of War and Peace (Maude), self-fit on the text itself.

    Scored against the shipped labels and against the corrected ones
    (``war_and_peace_labels.py``); the fit does not see either.
    """
    from lingua import Language

    from scripts.common import corpora_dir
    from scripts.war_and_peace_labels import truths as french_of

    text = (corpora_dir() / f"{MIXED}.txt").read_text("utf-8")[: args.wp_chars]  # raw offsets
    truths = french_of(text)
    pair, info = timed_fit(text, config, truths["shipped"])
    masks = {"self_fit": fitted(pair, text),
             "lingua_en_fr": lingua_of(det2, text, {Language.FRENCH}),
             "default_pair": foreign_of(default, text)[0]}
    t0 = time.perf_counter()
    masks["lingua_all"] = lingua_of(det_all, text, {Language.FRENCH})
    n = min(args.prefix_chars, len(text))
    out = {**info, "prefix_chars": n, "lingua_all_seconds": round(time.perf_counter() - t0, 1)}
    for key, truth in truths.items():  # every tool on the whole text, read on it and its prefix
        out[key] = {"french_share": round(float(truth.mean()), 4),
                    **{tool: prf(m, truth, text) for tool, m in masks.items()},
                    "prefix": {tool: prf(m[:n], truth[:n], text[:n])
                               for tool, m in masks.items()}}
    # the keys every earlier results file has: the shipped labels
    out.update(out["shipped"])
    _say("war_and_peace", out)
    return out


def task_third_language(args, config, default) -> dict:
    """Task 3: German with English and French planted; F1 of both, and the regions."""
    from lingua import Language, LanguageDetectorBuilder

    from textkl.selffit import finder as fitted_finder

    rng = random.Random(args.seed * 1000 + 77)
    host = host_window(load_book(DE_HOST), args.chars, rng)
    sources = {"en": source_pieces(EN_SOURCES), "fr": source_pieces(FR_SOURCES)}
    doc = plant(host, sources, rng.uniform(0.005, 0.015), rng)
    truth, text = doc.mask(), doc.text
    pair, info = timed_fit(text, config, truth)
    found, segs = foreign_of(pair, text, regions="auto", finder=fitted_finder())
    det3 = LanguageDetectorBuilder.from_languages(Language.GERMAN, Language.ENGLISH,
                                                  Language.FRENCH).build()
    out = {**info, "planted_share": round(float(truth.mean()), 4),
           "self_fit": prf(found, truth, text),
           "lingua_de_en_fr": prf(lingua_of(det3, text, {Language.ENGLISH, Language.FRENCH}),
                                  truth, text),
           "default_pair": prf(foreign_of(default, text)[0], truth, text),
           **_regions(segs, doc, found)}
    _say("third_language", out)
    return out


def task_min_length(args, config) -> dict:
    """The shortest document worth fitting: planted English (2 %) in French windows of
    several lengths, with the default steps (so shorter texts are seen more often)."""
    from dataclasses import replace

    en = source_pieces(EN_SOURCES)
    rows = []
    for n in args.lengths:
        rng = random.Random(args.seed * 1000 + n)
        doc = plant(host_window(load_book(FR_HOSTS[0]), n, rng), {"en": en}, 0.02, rng)
        truth = doc.mask()
        pair, info = timed_fit(doc.text, replace(config, min_chars=1000), truth)
        ns = ~np.array([c.isspace() for c in doc.text])
        found = fitted(pair, doc.text)
        rows.append({**info, "self_fit": prf(found, truth, doc.text),
                     "false_foreign_share": round(float((found & ~truth & ns).sum()
                                                        / (~truth & ns).sum()), 4)})
        _say(f"min_length {n}", rows[-1])
    return {"docs": rows}


def _regions(segs, doc: Planted, found: np.ndarray) -> dict:
    """How the regions split the planted languages, on planted characters found foreign."""
    from sklearn.metrics import adjusted_rand_score

    label = np.zeros(len(doc.text), dtype=int)
    for s in segs:
        label[s.start : s.end] = s.label
    en, fr = doc.mask("en") & found, doc.mask("fr") & found
    lang = np.where(en, 0, 1)[en | fr]
    majority = {k: int(np.bincount(label[m]).argmax()) if m.any() else None
                for k, m in (("en", en), ("fr", fr))}
    return {"regions": int(label.max()), "region_ari": round(float(
        adjusted_rand_score(lang, label[en | fr])), 4) if (en | fr).any() else 0.0,
        "majority_region": majority,
        "separated": majority["en"] is not None and majority["en"] != majority["fr"]}


def _means(rows: list[dict]) -> dict:
    keys = ("self_fit", "lingua_en_fr", "default_pair")
    out = {f"mean_f1_{k}": round(float(np.mean([r[k]["f1"] for r in rows])), 4) for k in keys}
    out["mean_f1_round1"] = round(float(np.mean([r["rounds"][0]["f1"] for r in rows])), 4)
    return out


def _say(name: str, row: dict) -> None:
    parts = [f"{k} F1 {v['f1']:.3f}" for k, v in row.items() if isinstance(v, dict) and "f1" in v]
    print(f"[{name}] {', '.join(parts)}; fit {row.get('wall_s')} s wall, {row.get('cpu_s')} s "
          "CPU", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="one host, 120,000-character documents, 400 steps per fit")
    ap.add_argument("--tasks", default="planted_fr,war_and_peace,third_language",
                    help="also: min_length (fits of 25,000-100,000 characters)")
    ap.add_argument("--lengths", default="25000,50000,100000",
                    help="min_length: document lengths")
    ap.add_argument("--rounds", type=int, default=None, help="override FitConfig.rounds")
    ap.add_argument("--steps", type=int, default=None, help="override FitConfig.steps")
    ap.add_argument("--no-clean", dest="clean", action="store_false",
                    help="skip fitting the unplanted host windows")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (shared machine: 1)")
    ap.add_argument("--out", default=None, help="results file (default runs/bench_self_fit/"
                                                 "results.json)")
    ap.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                    help="only combine the tasks of earlier runs' --out files (run the tasks "
                         "as parallel processes on a shared machine) into the results file")
    ap.add_argument("--hosts", type=int, default=None, help="planted_fr: French hosts "
                                                              "(default 2; --quick 1)")
    args = ap.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.out)
    args.hosts = args.hosts or (1 if args.quick else 2)
    args.chars = 120_000 if args.quick else 300_000
    args.wp_chars = 200_000 if args.quick else 1_000_000
    args.prefix_chars = 50_000 if args.quick else 200_000
    args.lengths = [int(v) for v in args.lengths.split(",")]

    import torch
    from lingua import Language, LanguageDetectorBuilder

    import textkl
    from scripts.common import machine, write_results
    from textkl.selffit import FitConfig

    torch.set_num_threads(args.threads)
    base = FitConfig(steps=400) if args.quick else FitConfig()
    config = FitConfig(**{**base.__dict__, **{k: v for k, v in
                                                (("rounds", args.rounds), ("steps", args.steps))
                                                if v is not None}})
    default = textkl.load()
    det2 = LanguageDetectorBuilder.from_languages(Language.ENGLISH, Language.FRENCH).build()
    tasks = args.tasks.split(",")
    m = machine()
    results: dict = {"machine": {**m, "cpu_model": m["cpu"]["model"],
                                 "note": "2-core machine shared with other jobs"},
                     "quick": args.quick, "seed": args.seed, "config": config.__dict__,
                     "default_pair": default.describe(), "tasks": {}}
    t0 = time.perf_counter()
    if "planted_fr" in tasks:
        results["tasks"]["planted_fr"] = task_planted_fr(args, config, det2, default)
    if "war_and_peace" in tasks:
        det_all = LanguageDetectorBuilder.from_all_languages().build()
        results["tasks"]["war_and_peace"] = task_war_and_peace(args, config, det2, det_all,
                                                               default)
    if "third_language" in tasks:
        results["tasks"]["third_language"] = task_third_language(args, config, default)
    if "min_length" in tasks:
        results["tasks"]["min_length"] = task_min_length(args, config)
    results["seconds"] = round(time.perf_counter() - t0, 1)
    if args.out:
        from textkl.io import atomic_write

        with atomic_write(args.out) as f:
            f.write(json.dumps(results, indent=2, default=float))
    else:
        write_results("bench_self_fit", results)
    print(table(results))
    return results


def merge(paths: list[str], out: str | None) -> dict:
    """One results file from several runs' files (their tasks side by side)."""
    from scripts.common import write_results

    parts = [json.loads(Path(p).read_text()) for p in paths]
    results = {**parts[0], "tasks": {}, "merged_from": paths,
               "seconds": max(p.get("seconds", 0) for p in parts)}
    for p in parts:
        results["tasks"].update(p["tasks"])
    if out:
        Path(out).write_text(json.dumps(results, indent=2, default=float))
    else:
        write_results("bench_self_fit", results)
    print(table(results))
    return results


def _cell(r: dict | None) -> str:
    return "-" if not r else f"{r['f1']:.3f} ({r['precision']:.2f}/{r['recall']:.2f})"


def table(results: dict) -> str:
    """Markdown: F1 (precision/recall) per task and tool, then fit times."""
    t = results["tasks"]
    lines = ["| task | self-fit (final) | self-fit round 1 | lingua | default pair | fit s "
             "(wall / CPU) |", "|---|---|---|---|---|---|"]
    for row in t.get("planted_fr", {}).get("docs", []):
        lines.append(f"| planted EN in {row['host']} ({row['chars']:,} ch, "
                     f"{row['planted_share']:.1%}) | {_cell(row['self_fit'])} | "
                     f"{_cell(row['rounds'][0])} | {_cell(row['lingua_en_fr'])} (EN+FR) | "
                     f"{_cell(row['default_pair'])} | {row['wall_s']} / {row['cpu_s']} |")
        if "audited" in row:  # results before 2026-12-02 have no audited labels
            a = row["audited"]
            lines.append(f"| the same, hosts audited ({a['not_scored_chars']:,} ch not scored)"
                         f" | {_cell(a['self_fit'])} | - | {_cell(a['lingua_en_fr'])} (EN+FR) "
                         f"| {_cell(a['default_pair'])} | - |")
    for row in t.get("planted_fr", {}).get("clean", []):
        lines.append(f"| unplanted {row['host']}: share called foreign | "
                     f"{row['foreign_share']:.2%} | - | {row['lingua_english_share']:.2%} "
                     f"English | - | {row['wall_s']} / {row['cpu_s']} |")
    if "war_and_peace" in t:
        w = t["war_and_peace"]
        lines.append(f"| War and Peace French ({w['chars']:,} ch) | {_cell(w['self_fit'])} | "
                     f"{_cell(w['rounds'][0])} | {_cell(w['lingua_en_fr'])} (EN+FR) | "
                     f"{_cell(w['default_pair'])} | {w['wall_s']} / {w['cpu_s']} |")
        if "corrected" not in w:  # results before 2026-12-02: lingua all on the prefix only
            p = w["prefix"]
            lines.append(f"| War and Peace, first {w['prefix_chars']:,} ch | "
                         f"{_cell(p['self_fit'])} | - | {_cell(p['lingua_all'])} (all, "
                         f"{w['lingua_all_seconds']} s) | {_cell(p['default_pair'])} | - |")
        for key in ("shipped", "corrected") if "corrected" in w else ():
            c = w[key]
            lines.append(f"| the same, {key} labels | {_cell(c['self_fit'])} | - | "
                         f"{_cell(c['lingua_all'])} (all, {w['lingua_all_seconds']} s) | "
                         f"{_cell(c['default_pair'])} | - |")
            p = c["prefix"]
            lines.append(f"| the same, {key} labels, first {w['prefix_chars']:,} ch | "
                         f"{_cell(p['self_fit'])} | - | {_cell(p['lingua_all'])} (all) | "
                         f"{_cell(p['default_pair'])} | - |")
    if "third_language" in t:
        g = t["third_language"]
        lines.append(f"| EN+FR planted in German ({g['chars']:,} ch, {g['planted_share']:.1%})"
                     f" | {_cell(g['self_fit'])} | {_cell(g['rounds'][0])} | "
                     f"{_cell(g['lingua_de_en_fr'])} (DE+EN+FR) | {_cell(g['default_pair'])} | "
                     f"{g['wall_s']} / {g['cpu_s']} |")
        lines.append(f"| German: regions | {g['regions']} foreign regions, ARI EN/FR "
                     f"{g['region_ari']:.3f}, separated: {g['separated']} | - | - | - | - |")
    for row in t.get("min_length", {}).get("docs", []):
        lines.append(f"| 2 % EN in French, {row['chars']:,} ch | {_cell(row['self_fit'])}, "
                     f"{row['false_foreign_share']:.2%} of French called foreign | "
                     f"{_cell(row['rounds'][0])} | - | - | {row['wall_s']} / {row['cpu_s']} |")
    m = results["machine"]
    lines.append(f"\n{m['cpu_model']}, {m['cpus']} cores ({m['note']}), torch threads "
                 f"{m['threads']}, {m['date']}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
