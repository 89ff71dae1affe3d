#!/usr/bin/env python
"""Does right context fix the phrase edges? The ``english`` pair with a right-to-left twin.

The span finder reads each character's evidence from models that saw only the text to its
left. A pair trained on the ``english`` corpus reversed (same recipe: d_model=64, lr 2e-2,
20,000 steps) scores the reversed text; flipped back, its evidence for a character comes
from the text to its right. The finder then decodes a mix of the two directions' book
percentiles and excess surprisals, ``(1 - w) * forward + w * reverse`` (or their minimum),
on the development documents of ``scripts/bench_registers.py``:

- English inside French, sentences and 4-12-word phrases (character F1, as the benchmark);
- development sentences of every source: English lost and other languages kept
  (``segment``'s rule, foreign share >= 0.5).

Usage::

    python scripts/experiments/exp_reverse_pair.py [--reverse runs/english-rev/english-rev.pt]

Trains the reverse pair first when ``--reverse`` does not exist (20 min on 2 cores of an
AMD EPYC; needs ``python scripts/english_corpus.py``). Needs ``TEXTKL_CORPORA``. Writes
``runs/exp_reverse_pair/results.json``.
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
import bench_registers as reg  # noqa: E402
from common import machine, table, write_results  # noqa: E402
from english_corpus import default_out  # noqa: E402
from train_default import PAIRS, RECIPE  # noqa: E402

NAME = "exp_reverse_pair"
WEIGHTS = (0.0, 0.3, 0.5, "min")
LEVELS = (0.7, 0.725, 0.75, 0.8, 0.85)


def train_reverse(path: Path, threads: int) -> None:
    """The ``english`` recipe on the corpus read right to left."""
    import torch

    from textkl.training import TrainConfig, train_on_text

    torch.set_num_threads(threads)
    text = (default_out() / "english.txt").read_text(encoding="utf-8")
    d_model, lr, steps = PAIRS["english"]
    cfg = TrainConfig(steps=steps, lr=lr, seed=0, eval_every=250, patience=8)
    pair = train_on_text(text[::-1], config=cfg, device="cpu", progress=False,
                         book_names=["english.txt reversed"], **RECIPE, d_model=d_model)
    path.parent.mkdir(parents=True, exist_ok=True)
    pair.save(path)


def directions(pair, rev, texts: list[str]) -> list[tuple[np.ndarray, ...]]:
    """Per text: book percentiles and excess surprisal from ``pair`` (left context) and
    from ``rev`` on the reversed text, flipped back (right context), each against its own
    calibration."""
    from textkl.finders import make_finder

    fwd = make_finder("decode").fit(pair.calibration, pair.lexicon)
    bwd = make_finder("decode").fit(rev.calibration, pair.lexicon)
    out = []
    for a, b in zip(pair.score_many(texts), rev.score_many([t[::-1] for t in texts])):
        pf, ef = fwd.inputs(a)
        pr, er = bwd.inputs(b)
        out.append((pf, ef, pr[::-1].copy(), er[::-1].copy()))
    return out


def mix(x: np.ndarray, y: np.ndarray, w: float | str) -> np.ndarray:
    """The two directions' values mixed; where one has none (NaN), the other's."""
    m = np.fmin(x, y) if w == "min" else (1 - w) * x + w * y
    return np.where(np.isnan(x), y, np.where(np.isnan(y), x, m))


def decode(finder, text: str, inputs: tuple[np.ndarray, ...], w: float | str) -> list:
    pf, ef, pr, er = inputs
    return finder.decode(text, mix(pf, pr, w), mix(ef, er, w))


def evaluate(finder, w, tasks: dict, task_inputs: dict, groups: dict, sent_inputs: dict
             ) -> dict:
    from textkl.filter import foreign_share

    row: dict = {}
    for kind, docs in tasks.items():
        counts = []
        for (doc, s, e, _), inp in zip(docs, task_inputs[kind]):
            pred = np.zeros(len(doc), dtype=bool)
            for sp in decode(finder, doc, inp, w):
                pred[sp.start : sp.end] = not sp.foreign
            true = np.zeros(len(doc), dtype=bool)
            true[s:e] = True
            counts.append(reg.prf(pred, true, doc))
        row[f"{kind} F1"] = reg.scores_from(counts)["f1"]
    lost = kept = n_en = n_fo = 0
    for name, g in groups.items():
        items = g["items"]["sentence"]
        ok = [not foreign_share(t, decode(finder, t, inp, w)) >= 0.5
              for t, inp in zip(items, sent_inputs[name])]
        if g["lang"] == "en":
            lost, n_en = lost + len(ok) - sum(ok), n_en + len(ok)
        else:
            kept, n_fo = kept + sum(ok), n_fo + len(ok)
    return row | {"English lost": f"{lost}/{n_en}", "foreign kept": f"{kept}/{n_fo}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reverse", type=Path,
                    default=ROOT / "runs" / "english-rev" / "english-rev.pt")
    ap.add_argument("--docs", type=int, default=700, help="documents per task")
    ap.add_argument("--sentences", type=int, default=300, help="per development source")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch

    import textkl
    from textkl.finders import make_finder

    t0 = time.perf_counter()
    if not args.reverse.exists():
        train_reverse(args.reverse, args.threads)
    torch.set_num_threads(args.threads)
    pair, rev = textkl.load("english"), textkl.load(str(args.reverse))
    manifest: dict = {}
    groups, hosts = {}, {}
    for src in reg.SOURCES:
        if src.split != "dev":
            continue
        g = {"split": "dev", "lang": src.lang, "register": src.genre}
        groups[src.name] = g | {"items": reg.source_items(
            src, {"sentence": args.sentences, "paragraph": 1}, 0, manifest)}
        if src.lang in ("en", "fr"):  # the benchmark's draw for the mixed documents
            hosts[src.name] = g | {"items": reg.source_items(
                src, {"sentence": reg.PER_SOURCE["sentence"], "paragraph": 1}, 0, manifest)}
    tasks = {k: reg.mixed_docs(hosts, "dev", k, args.docs, 0) for k in ("sentence", "phrase")}
    task_inputs = {k: directions(pair, rev, [d[0] for d in docs]) for k, docs in tasks.items()}
    sent_inputs = {k: directions(pair, rev, g["items"]["sentence"]) for k, g in groups.items()}
    rows = []
    for w in WEIGHTS:
        for level in LEVELS:
            # the forward finder as the figures in docs/registers.md had it: before the
            # second pass over the document's own words (2026-12-04)
            settings = pair.defaults("decode") | {"level": level, "document_weight": 0.0}
            finder = make_finder("decode", **settings).fit(pair.calibration, pair.lexicon)
            rows.append({"reverse weight": str(w), "level": level,
                         **evaluate(finder, w, tasks, task_inputs, groups, sent_inputs)})
            print(", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in rows[-1].items()), file=sys.stderr)
    cols = ["reverse weight", "level", "sentence F1", "phrase F1", "English lost",
            "foreign kept"]
    print(f"development, {args.docs} documents a task, {args.sentences} sentences a source")
    print(table(rows, cols))
    results = {"machine": machine(), "argv": sys.argv[1:], "reverse": rev.describe(),
               "rows": rows, "seconds": round(time.perf_counter() - t0, 1)}
    print(f"\nwrote {write_results(NAME, results)} ({results['seconds']} s)")


if __name__ == "__main__":
    main()
