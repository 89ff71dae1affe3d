"""Reproduce the embedded default pair: textkl/data/default.pt and default.json.

The default is the configuration chosen from scripts/bench_train.py and
scripts/bench_score.py (see the README): a 2-model LSTM, d_model=128, one layer, trained on
Moby-Dick. A step budget makes the run deterministic on a CPU for a given seed; the record
(config, seed, validation loss, calibration, training time) is written next to the weights.

    python scripts/train_default.py                     # the shipped recipe
    python scripts/train_default.py --steps 200 --out /tmp/x   # a quick try
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, corpora_dir, machine  # noqa: E402

from textkl.train import TrainConfig, train_pair  # noqa: E402

RECIPE = {"arch": "lstm", "d_model": 128, "d_embed": 32, "n_layers": 1, "n_models": 2}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--lr", type=float, default=6e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--d-model", type=int, default=RECIPE["d_model"], help="LSTM hidden size")
    ap.add_argument("--out", type=Path, default=ROOT / "textkl" / "data")
    args = ap.parse_args()
    book = corpora_dir() / "en_novel_moby_dick.txt"
    cfg = TrainConfig(steps=args.steps, lr=args.lr, seed=args.seed, eval_every=250,
                      patience=8)
    t = time.perf_counter()
    pair = train_pair([book], config=cfg, device="cpu", **(RECIPE | {"d_model": args.d_model}))
    seconds = time.perf_counter() - t
    args.out.mkdir(parents=True, exist_ok=True)
    path = pair.save(args.out / "default.pt")
    record = {
        "command": "python scripts/train_default.py " + " ".join(sys.argv[1:]),
        "book": book.name,
        "model_config": asdict(pair.config),
        "train_config": asdict(cfg),
        "score_config": asdict(pair.score_config),
        "seed": args.seed,
        "val_loss_nats_per_char": pair.meta["val_loss"],
        "steps": pair.meta["steps"],
        "train_seconds_incl_calibration": round(seconds, 1),
        "train_chars_per_s": pair.meta["train_chars_per_s"],
        "calibration": pair.calibration.to_dict() | {"quantiles": "see default.pt"},
        "calibration_summary": pair.calibration.summary(),
        "machine": machine(),
        "bytes": path.stat().st_size,
    }
    (args.out / "default.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): {pair.describe()}")
    print(pair.calibration.summary())


if __name__ == "__main__":
    main()
