"""Shared helpers for the benchmark and experiment scripts (not part of the package)."""

from __future__ import annotations

import json
import os
import platform
import random
import resource
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def corpora_dir() -> Path:
    """The corpora directory: $TEXTKL_CORPORA, else ../shared/corpora beside the repository."""
    d = Path(os.environ.get("TEXTKL_CORPORA", ROOT.parent / "shared" / "corpora"))
    if not d.is_dir():
        raise SystemExit(f"corpora directory not found: {d} (set TEXTKL_CORPORA)")
    return d


def read_corpus(name: str) -> str:
    """A corpus text by file stem or file name."""
    d = corpora_dir()
    p = d / (name if name.endswith(".txt") else f"{name}.txt")
    return p.read_text(encoding="utf-8")


def paragraphs(text: str, min_chars: int = 200, max_chars: int = 2000) -> list[str]:
    """Blank-line separated paragraphs within a length range, whitespace folded."""
    out = []
    for p in text.split("\n\n"):
        p = " ".join(p.split())
        if min_chars <= len(p) <= max_chars:
            out.append(p)
    return out


def sentences(text: str, min_chars: int = 30, max_chars: int = 300) -> list[str]:
    """Rough sentence split (on . ! ? followed by a space and a capital)."""
    import re

    flat = " ".join(text.split())
    parts = re.split(r"(?<=[.!?])\s+(?=[A-ZÀ-Ý«\"'])", flat)
    return [s for s in parts if min_chars <= len(s) <= max_chars]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_vnni", "avx_vnni")


def cpu() -> dict:
    """The CPU's model name and the instruction-set flags that decide torch's kernels."""
    info = {"model": platform.processor() or "unknown", "flags": []}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    info["model"] = value.strip()
                elif key.strip() == "flags":
                    have = set(value.split())
                    info["flags"] = [fl for fl in CPU_FLAGS if fl in have]
                    break
    except OSError:
        pass
    return info


def machine() -> dict:
    import torch

    return {"platform": platform.platform(), "cpu": cpu(), "cpus": os.cpu_count(),
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def write_results(name: str, results: dict) -> Path:
    """Write runs/<name>/results.json and return its path. The JSON is built first and the
    file replaced in one step, so a failed or killed benchmark leaves the previous results
    whole."""
    from textkl.io import atomic_write

    text = json.dumps(results, indent=2, default=float)
    path = ROOT / "runs" / name / "results.json"
    with atomic_write(path) as f:
        f.write(text)
    return path


def table(rows: list[dict], cols: list[str]) -> str:
    """A Markdown table of ``rows`` restricted to ``cols``."""
    def fmt(v):
        if isinstance(v, float):
            return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def rng(seed: int) -> random.Random:
    return random.Random(seed)
