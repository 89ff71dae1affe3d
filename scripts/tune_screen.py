#!/usr/bin/env python
"""Choose the filter's screen (``textkl.filter.Screen``) for a pair, on development sources.

The screen decides a document by the pair's word list alone where it leaves no doubt,
and leaves the rest to the pair. This script scores three development sets with the pair,
takes the pair's own decision (``textkl filter``'s default rule) for every document, and
sweeps the screen's thresholds:

- ``bench_registers.py``'s development items (sentences and paragraphs, English of three
  registers, eight other languages);
- ``bench_filter.py``'s documents (seed 0) among the first 3,000 whose source is not a test
  source of ``bench_registers.py`` (no Sherlock Holmes, Frankenstein or Les Misérables);
- 3,000 documents of 2-8 sentences of English (Alice) and French (Candide, Madame Bovary)
  in random proportions, right when kept exactly if at least half of the characters are
  English (``mixed_docs``).

The rule: among the settings that make **no more wrong decisions and lose no more English
than the pair alone on any of the three sets**, take the one that decides the most
characters of the second set by words (the screen's speed). The same settings are then
shown on the test items of ``bench_registers.py`` and on all 10,000 ``bench_filter.py``
documents; those rows were not used to choose (per language, worst share right, as the
register benchmark reports it).

Usage::

    python scripts/tune_screen.py [--pair english] [--top 12]

Prints the best settings and the chosen one with the command that stores it
(``scripts/set_pair_defaults.py``); writes ``runs/tune_screen/results.json``.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_registers as br  # noqa: E402
from bench_filter import CHOSE_ON, ENGLISH, corpora_dir, make_docs  # noqa: E402
from common import machine, table, write_results  # noqa: E402

# bench_filter.py's sources that are test sources of bench_registers.py
TEST_BOOKS = {"en_novel_sherlock_holmes_adventures", "en_novel_frankenstein",
              "fr_novel_les_miserables_t1_fantine"}
KEEP = np.round(np.arange(0.70, 0.951, 0.025), 3)
REJECT = np.round(np.arange(0.45, 0.751, 0.025), 3)
KEEP_MIN_WORDS = (5, 10, 15, 20, 25, 30, 40)
MIN_WORDS = 5  # fewer word tokens: always scored (a couple of words never decide)
DEV = ("registers dev", "filter docs dev", "mixed dev")  # the sets that choose


def pair_kept(pair, texts: list[str]) -> np.ndarray:
    """The pair's own decision (``textkl filter``'s default rule) per text."""
    from textkl.filter import Rules, decide, doc_scores

    scores = pair.score_many(texts)
    return np.array([decide(d, Rules()) is None for d in doc_scores(pair, texts, scores)[0]])


def table_of(pair, texts: list[str], english: list[bool], groups: list[str]) -> dict:
    words, known = zip(*(pair.lexicon.known_share(t) for t in texts))
    return {"words": np.array(words), "known": np.array(known, dtype=np.float64),
            "chars": np.array([len(t) for t in texts]), "english": np.array(english),
            "pair": pair_kept(pair, texts), "group": np.array(groups)}


def registers_items(split: str) -> tuple[list[str], list[bool], list[str]]:
    """bench_registers.py's items of ``split`` (its default sizes and seed)."""
    texts, english, groups = [], [], []
    manifest: dict = {}
    for src in br.SOURCES:
        if src.split != split:
            continue
        for length, items in br.source_items(src, br.PER_SOURCE, 0, manifest).items():
            texts += items
            english += [src.lang == "en"] * len(items)
            group = f"{length} en:{src.genre}" if src.lang == "en" else f"{length} {src.lang}"
            groups += [group] * len(items)
    return texts, english, groups


def mixed_docs(n: int = 3000, seed: int = 0) -> tuple[list[str], list[bool], list[str]]:
    """Documents of 2-8 sentences, English (Alice) and French (Candide, Madame Bovary) in
    random proportions; right: kept when at least half of the characters are English."""
    from textkl.io import read_text

    texts, english, groups = [], [], []
    pools = {}
    for lang, names in (("en", ("en_novel_alice_in_wonderland",)),
                        ("fr", ("fr_novel_candide", "fr_novel_madame_bovary"))):
        units = [u for name in names
                 for u in br.book_units(read_text(corpora_dir() / f"{name}.txt"), False)]
        pools[lang] = sorted({s for u in units for s in br._SENT.split(u)
                              if 40 <= len(s) <= 250})
    rng = random.Random(f"{seed}:mixed")
    for _ in range(n):
        size = rng.randint(2, 8)
        k = rng.randint(0, size)
        parts = [(rng.choice(pools["en"]), True) for _ in range(k)]
        parts += [(rng.choice(pools["fr"]), False) for _ in range(size - k)]
        rng.shuffle(parts)
        share = sum(len(p) for p, e in parts if e) / sum(len(p) for p, _ in parts)
        texts.append(" ".join(p for p, _ in parts))
        english.append(share >= 0.5)
        groups.append(f"mixed {min(int(share * 5), 4) / 5:.1f}")
    return texts, english, groups


def decisions(t: dict, keep: float, reject: float, keep_min_words: int) -> tuple:
    """(decision per document, decided by words?) for one screen setting."""
    ok = (t["words"] >= MIN_WORDS) & ~np.isnan(t["known"])
    by_keep = ok & (t["known"] >= keep) & (t["words"] >= keep_min_words)
    by_reject = ok & (t["known"] <= reject)
    return np.where(by_keep, True, np.where(by_reject, False, t["pair"])), by_keep | by_reject


def counts(t: dict, dec: np.ndarray, by_words: np.ndarray) -> dict:
    e = t["english"]
    return {"wrong": int((dec != e).sum()), "en_lost": int((e & ~dec).sum()),
            "words_chars": float(t["chars"][by_words].sum() / t["chars"].sum())}


def worst(t: dict, dec: np.ndarray) -> dict:
    """Worst share right over groups, English and other languages, per length."""
    right = dec == t["english"]
    by: dict = defaultdict(list)
    for g, r in zip(t["group"], right):
        by[g].append(r)
    out = {}
    for length in br.LENGTHS:
        for side, pick in (("en", lambda g: " en:" in g), ("foreign", lambda g: " en:" not in g)):
            rates = {g: float(np.mean(v)) for g, v in by.items()
                     if g.startswith(length) and pick(g)}
            g = min(rates, key=rates.get)
            out[f"{length} {side}"] = f"{rates[g]:.3f} ({g.split(' ', 1)[1]})"
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pair", default="english", help="embedded pair (or model path)")
    ap.add_argument("--top", type=int, default=12, help="settings shown")
    args = ap.parse_args(argv)

    import torch

    import textkl

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    pair = textkl.load(args.pair)
    docs = make_docs(10_000)
    dev_docs = [d for d in docs[:CHOSE_ON] if d["source"] not in TEST_BOOKS]
    sets = {"registers dev": table_of(pair, *registers_items("dev")),
            "filter docs dev": table_of(pair, [d["text"] for d in dev_docs],
                                        [d["lang"] in ENGLISH for d in dev_docs],
                                        [d["source"] for d in dev_docs]),
            "mixed dev": table_of(pair, *mixed_docs()),
            "registers test": table_of(pair, *registers_items("test")),
            "filter docs all": table_of(pair, [d["text"] for d in docs],
                                        [d["lang"] in ENGLISH for d in docs],
                                        [d["source"] for d in docs])}
    print(f"scored ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    base = {k: counts(t, t["pair"], np.zeros(len(t["pair"]), bool)) for k, t in sets.items()}
    rows = []
    for keep, reject, kmw in itertools.product(KEEP, REJECT, KEEP_MIN_WORDS):
        if reject >= keep:
            continue
        c = {k: counts(t, *decisions(t, keep, reject, kmw)) for k, t in sets.items()}
        allowed = all(c[k]["wrong"] <= base[k]["wrong"] and c[k]["en_lost"] <= base[k]["en_lost"]
                      for k in DEV)
        rows.append({"keep": float(keep), "reject": float(reject), "keep_min_words": kmw,
                     "allowed": allowed, **{f"{k} {m}": v for k, ck in c.items()
                                            for m, v in ck.items()}})
    allowed = sorted((r for r in rows if r["allowed"]),
                     key=lambda r: -r["filter docs dev words_chars"])
    chosen = allowed[0]
    t = sets["registers test"]
    worst_rows = [{"method": "the pair alone", **worst(t, t["pair"])},
                  {"method": "chosen screen", **worst(t, decisions(
                      t, chosen["keep"], chosen["reject"], chosen["keep_min_words"])[0])}]
    cols = ["keep", "reject", "keep_min_words", "registers dev wrong", "registers dev en_lost",
            "filter docs dev wrong", "filter docs dev en_lost", "filter docs dev words_chars",
            "mixed dev wrong", "mixed dev en_lost", "registers test wrong",
            "filter docs all wrong", "filter docs all words_chars"]
    print("## the pair alone\n")
    print(table([{"set": k, **v} for k, v in base.items()],
                ["set", "wrong", "en_lost"]))
    print(f"\n## the {args.top} allowed settings deciding the most characters by words "
          f"(of {len(allowed)} allowed, {len(rows)} tried)\n")
    print(table(allowed[: args.top], cols))
    print("\n## registers test, worst share right per length (not used to choose)\n")
    print(table(worst_rows, list(worst_rows[0])))
    settings = (f"keep={chosen['keep']:g} reject={chosen['reject']:g} "
                f"min_words={MIN_WORDS} keep_min_words={chosen['keep_min_words']}")
    print(f"\nchosen: {settings}\nstore: python scripts/set_pair_defaults.py {args.pair} "
          f"screen {settings} --why 'scripts/tune_screen.py'")
    results = {"machine": machine(), "pair": args.pair, "base": base, "chosen": chosen,
               "rows": rows, "test_worst": worst_rows}
    print(f"wrote {write_results('tune_screen', results)} "
          f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return results


if __name__ == "__main__":
    main()
