#!/usr/bin/env python
"""Example: score and filter documents with Ray Data on a local Ray cluster.

Usage::

    python scripts/example_ray.py [--input FILE.jsonl] [--model PATH] [--actors 2]

Starts a local Ray instance with ``--cpus`` CPUs (default 2), runs ``TextklScorer`` on
``--actors`` actors of ``--cpus / --actors`` CPUs each (the model is loaded once per actor),
writes the kept rows as JSON under ``runs/example_ray/kept`` and shuts Ray down. Without
``--input`` a few demo documents written for this example are used. Needs
``pip install 'textkl[ray]'``.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    ap = argparse.ArgumentParser(description="textkl scorer in a Ray Data pipeline")
    ap.add_argument("--input", default=None, help="JSONL file with a 'text' field")
    ap.add_argument("--output", type=Path, default=ROOT / "runs" / "example_ray")
    ap.add_argument("--model", default=None, help="model file (default: the embedded pair)")
    ap.add_argument("--cpus", type=float, default=2)
    ap.add_argument("--actors", type=int, default=2)
    ap.add_argument("--max-foreign-share", type=float, default=0.5)
    args = ap.parse_args()

    import ray

    from textkl.integrations.ray import score_dataset

    ray.init(num_cpus=args.cpus, include_dashboard=False)
    try:
        ds = (ray.data.read_json(args.input) if args.input else
              ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(DEMO)]))
        scored = score_dataset(ds, args.model and str(Path(args.model).resolve()),
                               batch_size=64, concurrency=args.actors,
                               num_cpus=args.cpus / args.actors,
                               max_foreign_share=args.max_foreign_share).materialize()
        for row in scored.take(20):
            print(f"keep={row['textkl_keep']!s:5s} mean_kl={row['textkl_mean_kl']:.4f} "
                  f"foreign={row['textkl_foreign_share']:.3f} {row['textkl_reason'] or '':10s} "
                  f"{row['text'][:60]!r}")
        kept = scored.filter(lambda row: bool(row["textkl_keep"]))
        kept.write_json(str((args.output / "kept").resolve()))
        print(f"kept {kept.count()} of {scored.count()} documents -> {args.output / 'kept'}")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
