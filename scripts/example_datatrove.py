#!/usr/bin/env python
"""Example: a datatrove pipeline that keeps the documents that look like the model's book.

    JsonlReader(IN) -> TextklFilter -> JsonlWriter(OUT/kept)   (dropped: OUT/rejected)

Usage::

    python scripts/example_datatrove.py [--input DIR_OF_JSONL] [--model PATH] [--workers 2]

Without ``--input`` a small demo folder of JSONL documents (written below for this example)
is created under ``runs/example_datatrove/in``. Needs ``pip install 'textkl[datatrove]'``.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = [
    "The ship left the harbour at first light, and the men on deck watched the town grow small.",
    "He had been at sea for three years and had learned to read the weather in the clouds.",
    "La pluie tombait depuis le matin et personne ne voulait sortir de la vieille maison.",
    "Im Garten blühten die Rosen, aber der alte Mann bemerkte sie nicht mehr.",
    "for key, value in sorted(table.items()):\n    print(f'{key}: {value}')",
    "The whale rose once more, far off, and the spray hung white against the grey sky.",
]


def demo_input(folder: Path, shards: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for s in range(shards):
        with open(folder / f"part{s}.jsonl", "w", encoding="utf-8") as f:
            for i, text in enumerate(DEMO):
                if i % shards == s:
                    f.write(json.dumps({"id": str(i), "text": text}, ensure_ascii=False) + "\n")
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description="textkl filter step in a datatrove pipeline")
    ap.add_argument("--input", type=Path, default=None, help="folder of .jsonl(.gz) files")
    ap.add_argument("--output", type=Path, default=ROOT / "runs" / "example_datatrove")
    ap.add_argument("--model", default=None, help="model file (default: the embedded pair)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-foreign-share", type=float, default=0.5)
    args = ap.parse_args()

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from textkl.integrations.datatrove import TextklFilter

    src = args.input or demo_input(args.output / "in", args.workers)
    LocalPipelineExecutor(
        [
            JsonlReader(str(src)),
            TextklFilter(model=args.model, max_foreign_share=args.max_foreign_share, threads=1,
                         exclusion_writer=JsonlWriter(str(args.output / "rejected"))),
            JsonlWriter(str(args.output / "kept")),
        ],
        tasks=args.workers, workers=args.workers, logging_dir=str(args.output / "logs"),
        skip_completed=False,
    ).run()
    for part in ("kept", "rejected"):
        for path in sorted((args.output / part).glob("*.jsonl.gz")):
            for line in gzip.open(path, "rt", encoding="utf-8"):
                doc = json.loads(line)
                m = doc["metadata"]
                print(f"{part:8s} mean_kl={m['textkl_mean_kl']} "
                      f"foreign={m['textkl_foreign_share']} "
                      f"reason={m['textkl_reason']}  {doc['text'][:60]!r}")


if __name__ == "__main__":
    main()
