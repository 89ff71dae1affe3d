"""Reproduce an embedded pair: `moby-dick` or `english` (the default; `--d-model 64 --lr 2e-2
--steps 20000` gives `english-fast`, whose decode settings were then chosen on development
documents, docs/registers.md).

The recipe is the configuration chosen from scripts/bench_train.py and
scripts/bench_score.py (see the README): a 2-model LSTM, d_model=128, d_embed=32, one
layer, lr 6e-3, 5,000 steps. Both pairs share it; they differ in their training text (and
`english`'s output layer covers 120 characters against 80):

- moby-dick: Moby-Dick from the shared corpora; writes moby-dick.pt and moby-dick.json
  (default --out: textkl/data/pairs, the embedded pair).
- english: the multi-register corpus of scripts/english_corpus.py (--corpus, default
  $TEXTKL_CACHE/english-corpus/english.txt, checked against the manifest.json beside it);
  writes english.pt and english.json (default --out: runs/english).

A step budget makes the run deterministic on a CPU for a given seed and thread count; the
record (command, sources and checksums, configs, validation loss, calibration, machine,
size) is written next to the weights.

    python scripts/train_default.py                                 # the moby-dick pair
    python scripts/english_corpus.py && python scripts/train_default.py --pair english
    python scripts/train_default.py --steps 200 --out /tmp/x        # a quick try
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, corpora_dir, machine  # noqa: E402
from english_corpus import default_out  # noqa: E402

from textkl.training import TrainConfig, train_pair  # noqa: E402

RECIPE = {"arch": "lstm", "d_model": 128, "d_embed": 32, "n_layers": 1, "n_models": 2}
NAMES = {"moby-dick": "moby-dick", "english": "english"}  # pair -> file stem of .pt / .json


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def corpus_record(pair: str, corpus: Path) -> dict:
    """What the pair was trained on: file, checksum and, for english, the manifest's summary.

    Raises:
        SystemExit: the corpus is missing or does not match its manifest.
    """
    if not corpus.is_file():
        hint = " (build it with scripts/english_corpus.py)" if pair == "english" else ""
        raise SystemExit(f"error: training text not found: {corpus}{hint}")
    record = {"book": corpus.name, "corpus_sha256": _sha256(corpus)}
    if pair != "english":
        return record
    manifest_path = corpus.with_name("manifest.json")
    if not manifest_path.is_file():
        raise SystemExit(f"error: no manifest.json beside {corpus}")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest["sha256"] != record["corpus_sha256"]:
        raise SystemExit(f"error: {corpus} does not match its manifest (sha256 "
                         f"{record['corpus_sha256']} != {manifest['sha256']})")
    return record | {
        "manifest_sha256": _sha256(manifest_path),
        "corpus_command": manifest["command"],
        "registers_chars": manifest["registers_chars"],
        "sources": [{k: s[k] for k in ("name", "register", "role", "origin", "package",
                                       "version", "chars", "sha256")}
                    for s in manifest["sources"]],
    }


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pair", choices=sorted(NAMES), default="moby-dick",
                    help="which pair to train (default: moby-dick, the embedded default)")
    ap.add_argument("--corpus", type=Path, default=None,
                    help="training text (default: Moby-Dick from the shared corpora, or "
                         "english.txt of scripts/english_corpus.py's default output)")
    ap.add_argument("--out", type=Path, default=None,
                    help="output directory (default: textkl/data for moby-dick, "
                         "runs/english for english)")
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--lr", type=float, default=6e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--d-model", type=int, default=RECIPE["d_model"], help="LSTM hidden size")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: deterministic and fair on a shared machine)")
    return ap.parse_args()


def main() -> None:
    args = parse_args()
    import torch

    torch.set_num_threads(args.threads)
    name = NAMES[args.pair]
    corpus = args.corpus or (default_out() / "english.txt" if args.pair == "english"
                             else corpora_dir() / "en_novel_moby_dick.txt")
    out = args.out or (ROOT / "runs" / "english" if args.pair == "english"
                       else ROOT / "textkl" / "data" / "pairs")
    sources = corpus_record(args.pair, corpus)
    cfg = TrainConfig(steps=args.steps, lr=args.lr, seed=args.seed, eval_every=250,
                      patience=8)
    t = time.perf_counter()
    pair = train_pair([corpus], config=cfg, device="cpu", **(RECIPE | {"d_model": args.d_model}))
    seconds = time.perf_counter() - t
    out.mkdir(parents=True, exist_ok=True)
    path = pair.save(out / f"{name}.pt")
    record = {
        "command": "python scripts/train_default.py " + " ".join(sys.argv[1:]),
        "pair": args.pair,
        **sources,
        "vocab_size": pair.config.vocab_size,
        "model_config": asdict(pair.config),
        "train_config": asdict(cfg),
        "score_config": asdict(pair.score_config),
        "seed": args.seed,
        "val_loss_nats_per_char": pair.meta["val_loss"],
        "steps": pair.meta["steps"],
        "train_chars": pair.meta["train_chars"],
        "train_seconds_incl_calibration": round(seconds, 1),
        "train_chars_per_s": pair.meta["train_chars_per_s"],
        "history": pair.meta["history"],
        "calibration": pair.calibration.to_dict() | {"quantiles": f"see {name}.pt"},
        "calibration_summary": pair.calibration.summary(),
        "machine": machine(),
        "bytes": path.stat().st_size,
    }
    (out / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): {pair.describe()}")
    print(pair.calibration.summary())


if __name__ == "__main__":
    main()
