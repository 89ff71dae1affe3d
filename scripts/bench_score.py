"""Scoring throughput: textkl vs lingua on ~1 MB of mixed French/English text.

Prints a Markdown table and writes runs/bench_score/results.json.

    python scripts/bench_score.py                       # embedded default pair
    python scripts/bench_score.py --model a.pt --model b.pt --lingua-all-chars 100000
    python scripts/bench_score.py --stream-mb 100       # + bounded-memory streaming run
    python scripts/bench_score.py --repeat 5            # 5 interleaved rounds, medians
    python scripts/bench_score.py --repeat 9 --lingua-all-chars 0   # the ratio alone

"x lingua EN+FR": the median over rounds of each round's rate over lingua EN+FR's in that
round. A precision with no kernel on this machine (bfloat16 on a CPU without AVX-512-BF16
or AMX, int8 on a GPU) is not timed again: it would run as float32. int8 rows
(``--precision int8``: torch's dynamic quantisation) have no matmul peak to compare with.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    machine,
    paragraphs,
    peak_rss_mb,
    read_corpus,
    rng,
    table,
    write_results,
)

import textkl  # noqa: E402
from textkl import model as model_module  # noqa: E402
from textkl.model import count_params, flops_per_char  # noqa: E402
from textkl.score import supported_dtype  # noqa: E402


def mixed_text(n_chars: int, seed: int = 0) -> str:
    """Alternating French and English paragraphs (English from books other than Moby-Dick)."""
    r = rng(seed)
    fr = paragraphs(read_corpus("fr_novel_madame_bovary")) + paragraphs(
        read_corpus("fr_novel_les_miserables_t1_fantine"))
    en = paragraphs(read_corpus("en_novel_pride_and_prejudice")) + paragraphs(
        read_corpus("en_novel_frankenstein"))
    out, size = [], 0
    while size < n_chars:
        p = r.choice(fr if len(out) % 2 == 0 else en)
        out.append(p)
        size += len(p) + 2
    return "\n\n".join(out)[:n_chars]


def matmul_peak(dtype: torch.dtype, device: str, n: int = 2048) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    reps = 5 if device == "cpu" else 50
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sync()
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync()
    return reps * 2 * n**3 / (time.perf_counter() - t)


def time_score(pair, text: str, dtype: torch.dtype, batch_size: int | None, device: str) -> dict:
    """chars/s of ``pair.score``; on a CPU also the share of the time in the models'
    recurrences and in the output layer with the statistics (the two phases of
    ``window_stats``, each a ``run_models`` call), the rest being encoding and stitching."""
    pair.to(device)
    pair.score(text[:20_000], dtype=dtype, batch_size=batch_size)  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    spent: dict[str, float] = {}
    inner = model_module.run_models

    def timed_run(tasks, dev):
        t0 = time.perf_counter()
        out = inner(tasks, dev)
        name = getattr(tasks[0], "func", tasks[0]).__name__
        spent[name] = spent.get(name, 0.0) + time.perf_counter() - t0
        return out

    model_module.run_models = timed_run
    try:
        t = time.perf_counter()
        s = pair.score(text, dtype=dtype, batch_size=batch_size)
        if device == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t
    finally:
        model_module.run_models = inner
    out = {"seconds": dt, "chars_per_s": len(text) / dt, "kl": s.kl}
    if device == "cpu" and pair.config.arch == "lstm":
        out["recurrence %"] = 100 * spent.get("recur", 0.0) / dt
        out["head+stats %"] = 100 * spent.get("stats", 0.0) / dt
    return out


def lingua_rate(text: str, restricted: bool) -> dict:
    from lingua import Language, LanguageDetectorBuilder

    b = (LanguageDetectorBuilder.from_languages(Language.ENGLISH, Language.FRENCH)
         if restricted else LanguageDetectorBuilder.from_all_languages())
    det = b.build()
    det.detect_multiple_languages_of(text[:2000])  # load models
    t = time.perf_counter()
    det.detect_multiple_languages_of(text)
    dt = time.perf_counter() - t
    return {"seconds": dt, "chars_per_s": len(text) / dt, "chars": len(text)}


def stream_run(model: str | None, mb: int) -> dict:
    """`textkl score` on an mb-MB file in a child process: time and peak RSS."""
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "big.txt"
        block = mixed_text(1_000_000, seed=3)
        with open(src, "w") as f:
            for _ in range(mb):
                f.write(block)
        # VmHWM, not ru_maxrss: on Linux a child's ru_maxrss starts from the parent's RSS
        # at fork, so it would report this (large) benchmark process, not the scorer
        code = ("import re,sys,time\nfrom textkl.cli import cli\nt=time.time()\n"
                "try: cli(sys.argv[1:])\nexcept SystemExit as e: assert not e.code\n"
                "hwm=re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())\n"
                "print(time.time()-t, hwm.group(1))")
        args = ["score", str(src), "-q", "--npz", str(Path(d) / "o.npz")]
        if model:
            args += ["-m", model]
        out = subprocess.run([sys.executable, "-c", code, *args], check=True,
                             capture_output=True, text=True).stdout.split()
        secs, rss = float(out[-2]), int(out[-1]) / 1024
        return {"mb": mb, "chars": src.stat().st_size, "seconds": secs,
                "chars_per_s": src.stat().st_size / secs, "peak_rss_mb": rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", action="append", help="checkpoint(s); default: embedded pair")
    ap.add_argument("--chars", type=int, default=1_000_000)
    ap.add_argument("--lingua-all-chars", type=int, default=200_000,
                    help="text for lingua with all languages (it is slow; 0: skip it)")
    ap.add_argument("--batch-size", type=int, action="append", default=None)
    ap.add_argument("--stream-mb", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1,
                    help="interleaved rounds of every measurement; rows give the median")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.chars, args.lingua_all_chars = 100_000, 20_000
    text = mixed_text(args.chars)
    info = machine()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    # every measurement is a closure; with --repeat N they run in N interleaved rounds, so
    # a machine whose speed drifts affects every row alike; rows report the median
    jobs: list[tuple[dict, object]] = []
    fallbacks: set[str] = set()
    for path in args.model or [None]:
        pair = textkl.load(path)
        cfg = pair.config
        name = f"{Path(path).parent.name}/{Path(path).stem}" if path else "default"
        fpc = flops_per_char(cfg, pair.score_config.stride + pair.score_config.warmup)
        for device in devices:
            for dtype in (torch.float32, torch.bfloat16, torch.qint8):
                runs_as = supported_dtype(pair.model, dtype, torch.device(device))
                if runs_as != dtype:  # no such kernel here: the float32 rows already run it
                    fallbacks.add(f"{device} {str(dtype).removeprefix('torch.')}")
                    continue
                peak = (None if dtype == torch.qint8  # no int8 peak measured
                        else f"{device}_{'bf16' if dtype == torch.bfloat16 else 'fp32'}")
                for bs in args.batch_size or [None]:
                    row = {"tool": f"textkl {name} {cfg.arch} d={cfg.d_model}",
                           "params/model": count_params(pair.model), "device": device,
                           "dtype": str(dtype).split(".")[-1],
                           "batch": bs or pair.score_config.batch_size,
                           "MFLOP/char": fpc / 1e6, "chars": len(text), "_fpc": fpc,
                           "_peak": peak, "_ref": name}  # KL compared with CPU float32
                    jobs.append((row, partial(time_score, pair, text, dtype, bs, device)))
    # the matmul peak of each device and dtype that a row runs in (and the CPU's float32
    # peak): not of a dtype the machine only emulates, which takes minutes to measure
    keys = {"cpu_fp32"} | {row["_peak"] for row, _ in jobs if row["_peak"]}
    peaks = {key: matmul_peak(torch.bfloat16 if key.endswith("bf16") else torch.float32,
                              key.split("_")[0], 2048 if key.startswith("cpu") else 8192)
             for key in sorted(keys)}
    for restricted, n in ((True, len(text)), (False, args.lingua_all_chars)):
        if n <= 0:
            continue
        row = {"tool": f"lingua {'EN+FR' if restricted else 'all languages'}",
               "device": "cpu", "chars": n}
        jobs.append((row, partial(lingua_rate, text[:n], restricted)))
    samples: dict[int, list[float]] = {i: [] for i in range(len(jobs))}
    ref_kl: dict = {}
    for rnd in range(args.repeat):
        for i, (row, job) in enumerate(jobs):
            r = job()
            samples[i].append(r["chars_per_s"])
            for key in ("recurrence %", "head+stats %"):
                if key in r:
                    row.setdefault("_" + key, []).append(r[key])
            if "kl" in r and rnd == 0:
                ref = ref_kl.setdefault(row["_ref"], r["kl"])
                row["KL rel. diff vs fp32"] = float(np.nanmean(np.abs(r["kl"] - ref))
                                                    / np.nanmean(ref))
        print(f"round {rnd + 1}/{args.repeat} done", file=sys.stderr)
    # each round's rate over lingua EN+FR's in the same round, then the median: steadier
    # than a ratio of medians on a machine whose speed drifts
    lingua = next(i for i, (row, _) in enumerate(jobs) if row["tool"] == "lingua EN+FR")
    rows = []
    for i, (row, _) in enumerate(jobs):
        v = samples[i]
        row["chars/s"] = float(np.median(v))
        row["x lingua EN+FR"] = float(np.median(np.divide(v, samples[lingua])))
        row["chars/s samples"] = [round(x) for x in v]
        if len(v) > 1:
            row["chars/s range"] = f"{min(v):,.0f}-{max(v):,.0f}"
        if row.get("_peak"):
            row["matmul peak %"] = 100 * row["_fpc"] * row["chars/s"] / peaks[row["_peak"]]
        for key in ("recurrence %", "head+stats %"):
            if "_" + key in row:
                row[key] = float(np.median(row["_" + key]))
        rows.append({k: x for k, x in row.items() if not k.startswith("_")})
    stream = stream_run(args.model[0] if args.model else None, args.stream_mb) \
        if args.stream_mb else None
    cols = ["tool", "params/model", "device", "dtype", "batch", "chars/s", "chars/s range",
            "x lingua EN+FR",
            "MFLOP/char", "matmul peak %", "recurrence %", "head+stats %", "KL rel. diff vs fp32",
            "chars"]
    print(f"CPU: {info['cpu']['model']}, flags: {' '.join(info['cpu']['flags']) or '-'}; "
          f"{info['threads']} torch threads")
    print(table(rows, cols))
    if fallbacks:
        print(f"no kernel for {', '.join(sorted(fallbacks))} on this machine (it would run "
              "as float32: the float32 rows)")
    print("matmul peaks (GFLOP/s): " + ", ".join(f"{k} {v / 1e9:,.0f}" for k, v in peaks.items()))
    if stream:
        print(f"streaming {stream['mb']} MB: {stream['chars_per_s']:,.0f} chars/s, "
              f"peak RSS {stream['peak_rss_mb']:,.0f} MB")
    print(f"peak RSS of this process: {peak_rss_mb():,.0f} MB")
    path = write_results("bench_score", {"machine": info, "matmul_peak_flops": peaks,
                                         "rows": rows, "stream": stream,
                                         "fallbacks": sorted(fallbacks),
                                         "peak_rss_mb": peak_rss_mb()})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
