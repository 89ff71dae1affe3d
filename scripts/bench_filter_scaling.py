#!/usr/bin/env python
"""How the corpus filter scales: one process on 1 and 2 threads against datatrove workers.

``bench_filter.py`` measures accuracy and speed on 10,000 documents (8.4M characters), where
two datatrove workers spend most of their time starting: each imports torch and loads the
pair before its first document. This script asks how the filter scales once that is paid,
on more of the same documents (``bench_filter.make_docs``, default 60,000: about 50M
characters), with ``textkl filter``'s defaults (the pair's screen, then the pair):

- ``textkl filter`` in this process with 1 thread and with ``--threads`` threads;
- datatrove ``JsonlReader -> TextklFilter -> JsonlWriter``, ``--workers`` tasks on as many
  workers of one thread each (wall time: process start, imports and loading included), and
  datatrove's own time of the filter step in each task (``dt_logs/stats``);
- lingua EN+FR's ``detect_language_of`` one document at a time and in parallel
  (``detect_languages_in_parallel_of``), on the same documents (``--no-lingua`` to skip).

``--no-screen`` runs the pair on every document instead (slower; fewer documents advised).
Prints a Markdown table with the CPU's model and flags; writes
``runs/bench_filter_scaling/results.json``.

    python scripts/bench_filter_scaling.py
    python scripts/bench_filter_scaling.py --docs 10000 --no-screen
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_filter import (  # noqa: E402
    make_docs,
    run_datatrove,
    run_lingua,
    run_single,
    write_jsonl,
)
from common import ROOT, machine, table, write_results  # noqa: E402

OUT = ROOT / "runs" / "bench_filter_scaling"


def filter_step_seconds(logs: Path) -> list[float]:
    """datatrove's own time of the filter step in each task (first batch's loading included)."""
    out = []
    for f in sorted((logs / "stats").glob("*.json")):
        steps = json.loads(f.read_text())
        out += [s["time_stats"]["total"] for s in steps
                if "textkl" in s.get("name", "") and "time_stats" in s]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--model", default=None, help="model file (default: the embedded pair)")
    ap.add_argument("--docs", type=int, default=60_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="threads of the second process run")
    ap.add_argument("--workers", type=int, default=2, help="datatrove workers")
    ap.add_argument("--no-screen", action="store_true", help="the pair on every document")
    ap.add_argument("--no-lingua", action="store_true")
    args = ap.parse_args(argv)

    import torch

    from textkl.pair import load
    from textkl.score import precision_dtype

    pair = load(args.model)
    dtype = precision_dtype("auto", pair.device)
    screen = None if args.no_screen else "auto"
    docs = make_docs(args.docs, args.seed)
    chars = sum(len(d["text"]) for d in docs)
    shutil.rmtree(OUT / "work", ignore_errors=True)
    src = OUT / "work" / "docs.jsonl"
    write_jsonl(src, docs)
    print(f"{len(docs):,} documents, {chars:,} characters", file=sys.stderr)

    rows = []
    for threads in sorted({1, args.threads}):
        torch.set_num_threads(threads)
        r = run_single(pair, src, OUT / "work" / f"single_{threads}", dtype, screen=screen)
        rows.append({"run": f"`textkl filter`, one process, {threads} thread(s)", **r})
    dt_work = OUT / "work" / "datatrove"
    dt = run_datatrove(args.model, docs, dt_work, workers=args.workers,
                       screen=False if args.no_screen else "auto")
    steps = filter_step_seconds(dt_work / "dt_logs")
    dt["filter_step_seconds"] = steps
    dt["steady_chars_per_s"] = chars / max(steps) if steps else None
    rows.append({"run": f"datatrove, {args.workers} workers x 1 thread (wall)", **dt})
    if not args.no_lingua:
        lg = run_lingua(docs, sets=("en_fr",))["en_fr"]
        rows += [{"run": "lingua EN+FR, one document at a time",
                  "chars_per_s": lg["chars_per_s"]},
                 {"run": "lingua EN+FR, `detect_languages_in_parallel_of`",
                  "chars_per_s": lg["parallel_chars_per_s"]}]
    one = rows[0]["chars_per_s"]
    for row in rows:
        row["vs_one_thread"] = row["chars_per_s"] / one
    mach = machine()
    print(f"CPU: {mach['cpu']['model']} ({', '.join(mach['cpu']['flags']) or 'no listed flags'}); "
          f"{len(docs):,} documents, {chars:,} characters; "
          f"{'no screen' if args.no_screen else 'the screen, then the pair'}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(table([{"run": r["run"], "seconds": r.get("seconds"),
                  "chars/s": r["chars_per_s"], "x one thread": r["vs_one_thread"],
                  "kept": r.get("kept")} for r in rows],
                ["run", "seconds", "chars/s", "x one thread", "kept"]))
    if steps:
        print(f"datatrove's filter step per task: {', '.join(f'{s:.1f}' for s in steps)} s "
              f"(loading included): {dt['steady_chars_per_s']:,.0f} chars/s over the tasks, "
              f"{dt['steady_chars_per_s'] / one:.2f} times one thread")
    write_results("bench_filter_scaling", {"config": vars(args), "machine": mach,
                                           "docs": len(docs), "chars": chars, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
