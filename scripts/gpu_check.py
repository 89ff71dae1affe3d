"""One prepared GPU check: CUDA correctness against the CPU, then throughput.

On a machine with a CUDA GPU: run it there in one call, e.g.

    python scripts/gpu_check.py --chars 20000000

Measured: scoring at several batch sizes in float32 and bfloat16; ``textkl segment`` end
to end (scoring on the GPU, the steps after it on the CPU) on ``--segment-chars``; and the
corpus filter (``filter_lines``, its defaults and ``--no-screen``) on ``--filter-docs``
documents of 32-4,096 characters. It needs no corpora (the text is generated from the package's demo
text, repeated and shuffled by paragraph). Exits non-zero if CUDA is missing or the CUDA
scores disagree with the CPU's beyond tolerance. ``--device cpu`` runs every step on the
CPU instead (a dry run of the script, no comparison). Writes runs/gpu_check/results.json
and prints a table.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, table, write_results  # noqa: E402

import textkl  # noqa: E402


def make_text(n_chars: int, seed: int = 0) -> str:
    demo = (resources.files("textkl") / "data" / "demo.txt").read_text(encoding="utf-8")
    paras = [p for p in demo.split("\n\n") if p.strip()]
    rng = random.Random(seed)
    out, size = [], 0
    while size < n_chars:
        p = rng.choice(paras)
        out.append(p)
        size += len(p) + 2
    return "\n\n".join(out)[:n_chars]


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(pair, text: str, dtype: torch.dtype, batch: int) -> tuple[float, np.ndarray]:
    pair.score(text[:50_000], dtype=dtype, batch_size=batch)
    sync()
    t = time.perf_counter()
    s = pair.score(text, dtype=dtype, batch_size=batch)
    sync()
    return len(text) / (time.perf_counter() - t), s.kl


def segment_rate(pair, text: str) -> dict:
    """``pair.segment`` with its defaults (regions on), after a warm-up call."""
    pair.segment(text[:50_000])
    t = time.perf_counter()
    segs = pair.segment(text)
    return {"chars": len(text), "chars/s": len(text) / (time.perf_counter() - t),
            "regions": len({s.label for s in segs})}


def filter_rate(pair, text: str, n_docs: int, seed: int = 0) -> dict:
    """``filter_lines`` on ``n_docs`` pieces of ``text`` of log-uniform lengths between 32
    and 4,096 characters: with its defaults (the screen, for a pair that stores one) and
    with every document scored (``--no-screen``)."""
    import io
    import json

    from textkl.filter import Rules, filter_lines

    rng = np.random.default_rng(seed)
    lengths = np.exp(rng.uniform(np.log(32), np.log(4096), n_docs)).astype(int)
    starts = rng.integers(0, len(text) - 4096, n_docs)
    lines = [json.dumps({"text": text[a : a + n]}).encode() + b"\n"
             for a, n in zip(starts.tolist(), lengths.tolist())]
    filter_lines(pair, lines[:200], io.BytesIO(), io.BytesIO())  # warm-up
    out = {}
    for name, rules in (("default", Rules()), ("no_screen", Rules(screen=None))):
        summary = filter_lines(pair, lines, io.BytesIO(), io.BytesIO(), rules=rules)
        out[name] = {"docs": n_docs, "chars": summary.chars,
                     "chars/s": summary.chars / summary.seconds, "kept": summary.kept,
                     "screened": summary.screened}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--chars", type=int, default=20_000_000)
    ap.add_argument("--batch", type=int, action="append", default=None)
    ap.add_argument("--segment-chars", type=int, default=2_000_000,
                    help="characters for textkl segment end to end (0: skip)")
    ap.add_argument("--filter-docs", type=int, default=20_000,
                    help="documents for the corpus filter (0: skip)")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                    help="cpu: a dry run of every step on the CPU, no comparison")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_check: torch sees no CUDA device")
    small = make_text(200_000, seed=1)
    cpu = textkl.load(args.model, device="cpu").score(small)
    pair = textkl.load(args.model, device=args.device)
    gpu = pair.score(small)
    err = float(np.nanmax(np.abs(gpu.kl - cpu.kl)))
    rel = err / float(np.nanmean(cpu.kl))
    print(f"{args.device} vs CPU: max |dKL| = {err:.2e} nats ({rel:.2e} of the mean)")
    text = make_text(max(args.chars, args.segment_chars, 100_000))
    rows = []
    for dtype in (torch.float32, torch.bfloat16):
        for batch in args.batch or [128, 1024, 4096]:
            rate, kl = timed(pair, text, dtype, batch)
            rows.append({"dtype": str(dtype).split(".")[-1], "batch": batch, "chars/s": rate,
                         "mean KL": float(np.nanmean(kl))})
            print(rows[-1], flush=True)
    print(table(rows, ["dtype", "batch", "chars/s", "mean KL"]))
    segment = segment_rate(pair, text[: args.segment_chars]) if args.segment_chars else None
    filtered = filter_rate(pair, text, args.filter_docs) if args.filter_docs else None
    print(f"textkl segment: {segment}\ntextkl filter: {filtered}")
    cuda = args.device == "cuda"
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else float("nan")
    print(f"peak CUDA memory {peak:,.0f} MiB; "
          f"{torch.cuda.get_device_name(0) if cuda else 'no GPU (dry run)'}")
    path = write_results("gpu_check", {"machine": machine(), "device": args.device,
                                       "max_abs_dkl": err, "rel_dkl": rel, "rows": rows,
                                       "segment": segment, "filter": filtered,
                                       "peak_mib": peak, "chars": len(text)})
    print(f"wrote {path}")
    if rel > 1e-3:
        raise SystemExit(f"gpu_check: CUDA scores differ from the CPU's ({rel:.2e} > 1e-3)")


if __name__ == "__main__":
    main()
