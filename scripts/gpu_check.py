"""One prepared GPU check: CUDA correctness against the CPU, then scoring throughput.

On a machine with a CUDA GPU: run it there in one call, e.g.

    python scripts/gpu_check.py --chars 20000000

It needs no corpora (the text is generated from the package's demo text, repeated and
shuffled by paragraph). Exits non-zero if CUDA is missing or the CUDA scores disagree with
the CPU's beyond tolerance. Writes runs/gpu_check/results.json and prints a table.
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


def timed(pair, text: str, dtype: torch.dtype, batch: int) -> tuple[float, np.ndarray]:
    pair.score(text[:50_000], dtype=dtype, batch_size=batch)
    torch.cuda.synchronize()
    t = time.perf_counter()
    s = pair.score(text, dtype=dtype, batch_size=batch)
    torch.cuda.synchronize()
    return len(text) / (time.perf_counter() - t), s.kl


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--chars", type=int, default=20_000_000)
    ap.add_argument("--batch", type=int, action="append", default=None)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("gpu_check: torch sees no CUDA device")
    small = make_text(200_000, seed=1)
    cpu = textkl.load(args.model, device="cpu").score(small)
    pair = textkl.load(args.model, device="cuda")
    gpu = pair.score(small)
    err = float(np.nanmax(np.abs(gpu.kl - cpu.kl)))
    rel = err / float(np.nanmean(cpu.kl))
    print(f"CUDA vs CPU: max |dKL| = {err:.2e} nats ({rel:.2e} of the mean)")
    text = make_text(args.chars)
    rows = []
    for dtype in (torch.float32, torch.bfloat16):
        for batch in args.batch or [128, 1024, 4096]:
            rate, kl = timed(pair, text, dtype, batch)
            rows.append({"dtype": str(dtype).split(".")[-1], "batch": batch, "chars/s": rate,
                         "mean KL": float(np.nanmean(kl))})
            print(rows[-1], flush=True)
    print(table(rows, ["dtype", "batch", "chars/s", "mean KL"]))
    peak = torch.cuda.max_memory_allocated() / 2**20
    print(f"peak CUDA memory {peak:,.0f} MiB; {torch.cuda.get_device_name(0)}")
    path = write_results("gpu_check", {"machine": machine(), "max_abs_dkl": err,
                                       "rel_dkl": rel, "rows": rows, "peak_mib": peak,
                                       "chars": len(text)})
    print(f"wrote {path}")
    if rel > 1e-3:
        raise SystemExit(f"gpu_check: CUDA scores differ from the CPU's ({rel:.2e} > 1e-3)")


if __name__ == "__main__":
    main()
