"""Training: validation loss against wall time, throughput and peak memory per architecture.

Each configuration trains in its own process (so peak memory is its own) on the default
book for the same wall-clock budget. Prints a table; writes runs/bench_train/results.json.

    python scripts/bench_train.py                  # 10 minutes per configuration
    python scripts/bench_train.py --minutes 4 --only lstm-128 --name bench_train_4min
    python scripts/bench_train.py --quick          # 20 s each: a smoke run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, corpora_dir, machine, table, write_results  # noqa: E402

CONFIGS = {
    "lstm-96": dict(arch="lstm", d_model=96, lr=6e-3),
    "lstm-128": dict(arch="lstm", d_model=128, lr=None),  # textkl train's default lr
    "lstm-192": dict(arch="lstm", d_model=192, lr=4e-3),
    "transformer-128x2": dict(arch="transformer", d_model=128, n_layers=2, lr=2e-3),
    "transformer-128x4": dict(arch="transformer", d_model=128, n_layers=4, lr=2e-3),
}

_CHILD = """
import json, resource, sys, torch
from textkl.training import TrainConfig, train_pair
kw = json.loads(sys.argv[1])
lr = kw.pop("lr")
out = kw.pop("out")
cfg = TrainConfig(minutes=kw.pop("minutes"), lr=lr, seed=0,
                  seq_len=128, batch_size=64 if kw["arch"] == "lstm" else 32)
pair = train_pair([kw.pop("book")], config=cfg, device="cpu", progress=False, **kw)
pair.save(out)
m = dict(pair.meta)
m["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
m["threads"] = torch.get_num_threads()
print(json.dumps(m))
"""


def run(name: str, minutes: float, book: Path) -> dict:
    kw = {**CONFIGS[name], "minutes": minutes, "book": str(book),
          "out": str(ROOT / "runs" / "bench_train" / f"{name}.pt")}
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(kw)], check=True,
                         capture_output=True, text=True).stdout
    meta = json.loads(out.strip().splitlines()[-1])
    hist = meta["history"]
    under = [h["seconds"] for h in hist if h["val_loss"] <= 1.6]
    return {"config": name, **{k: v for k, v in CONFIGS[name].items() if k != "lr"},
            "params/model": meta["params_per_model"], "lr": meta["train_config"]["lr"],
            "minutes": minutes,
            "steps": meta["steps"], "val loss": meta["val_loss"],
            "s to <=1.6": under[0] if under else None,
            "train chars/s": meta["train_chars_per_s"], "peak RSS MB": meta["peak_rss_mb"],
            "history": hist}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--only", action="append", choices=sorted(CONFIGS))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--name", default="bench_train", help="results under runs/NAME/")
    args = ap.parse_args()
    minutes = 20 / 60 if args.quick else args.minutes
    book = corpora_dir() / "en_novel_moby_dick.txt"
    rows = []
    for name in args.only or list(CONFIGS):
        print(f"training {name} for {minutes:g} min ...", file=sys.stderr, flush=True)
        rows.append(run(name, minutes, book))
    cols = ["config", "params/model", "lr", "minutes", "steps", "val loss", "s to <=1.6",
            "train chars/s", "peak RSS MB"]
    m = machine()
    print(table(rows, cols))
    print(f"{m['cpu']['model']} ({', '.join(m['cpu']['flags']) or 'none of the listed flags'}), "
          f"{m['cpus']} CPUs, torch {m['torch']} with {m['threads']} threads, {m['date']}")
    print(f"wrote {write_results(args.name, {'machine': m, 'rows': rows})}")


if __name__ == "__main__":
    main()
