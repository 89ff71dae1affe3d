"""Reproduce an embedded pair: `english` (the default), `english-large` or `moby-dick`.

Each recipe is a 2-model LSTM (d_embed=32, one layer) chosen from scripts/bench_train.py,
scripts/bench_score.py and the register benchmark (docs/registers.md):

- english: d_model=64, lr 2e-2, 20,000 steps, on the multi-register corpus of
  scripts/english_corpus.py (--corpus, default $TEXTKL_CACHE/english-corpus/english.txt,
  checked against the manifest.json beside it). The shipped file was trained with
  `--threads 2` (22 minutes on 2 cores of an Intel Xeon); its decode settings were then
  chosen on development documents (scripts/set_pair_defaults.py).
- english-large: d_model=128, lr 6e-3, 5,000 steps, on the same corpus (the default until
  2026-12-03, then named english).
- moby-dick: d_model=128, lr 6e-3, 5,000 steps, on Moby-Dick from the shared corpora.

--out defaults to runs/<pair>; it writes <pair>.pt and <pair>.json. A step budget makes the
run deterministic on a CPU for a given seed and thread count; the record (command, sources
and checksums, configs, validation loss, calibration, machine, size) is written next to
the weights.

    python scripts/english_corpus.py && python scripts/train_default.py --pair english --threads 2
    python scripts/train_default.py --pair moby-dick
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

RECIPE = {"arch": "lstm", "d_embed": 32, "n_layers": 1, "n_models": 2}
PAIRS = {  # pair -> (d_model, lr, steps); each writes <pair>.pt and <pair>.json
    "english": (64, 2e-2, 20000),
    "english-large": (128, 6e-3, 5000),
    "moby-dick": (128, 6e-3, 5000),
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def corpus_record(pair: str, corpus: Path) -> dict:
    """What the pair was trained on: file, checksum and, for english, the manifest's summary.

    Raises:
        SystemExit: the corpus is missing or does not match its manifest.
    """
    if not corpus.is_file():
        hint = " (build it with scripts/english_corpus.py)" if pair != "moby-dick" else ""
        raise SystemExit(f"error: training text not found: {corpus}{hint}")
    record = {"book": corpus.name, "corpus_sha256": _sha256(corpus)}
    if pair == "moby-dick":
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
    ap.add_argument("--pair", choices=sorted(PAIRS), default="english",
                    help="which pair to train (default: english, the embedded default)")
    ap.add_argument("--corpus", type=Path, default=None,
                    help="training text (default: english.txt of scripts/english_corpus.py's "
                         "default output, or Moby-Dick from the shared corpora)")
    ap.add_argument("--out", type=Path, default=None,
                    help="output directory (default: runs/<pair>)")
    ap.add_argument("--steps", type=int, default=None, help="default: the pair's recipe")
    ap.add_argument("--lr", type=float, default=None, help="default: the pair's recipe")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--d-model", type=int, default=None,
                    help="LSTM hidden size (default: the pair's recipe)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: deterministic and fair on a shared machine)")
    return ap.parse_args()


def main() -> None:
    args = parse_args()
    import torch

    torch.set_num_threads(args.threads)
    name = args.pair
    d_model, lr, steps = PAIRS[name]
    corpus = args.corpus or (corpora_dir() / "en_novel_moby_dick.txt" if name == "moby-dick"
                             else default_out() / "english.txt")
    out = args.out or ROOT / "runs" / name
    sources = corpus_record(name, corpus)
    cfg = TrainConfig(steps=args.steps or steps, lr=args.lr or lr, seed=args.seed,
                      eval_every=250, patience=8)
    t = time.perf_counter()
    pair = train_pair([corpus], config=cfg, device="cpu",
                      **(RECIPE | {"d_model": args.d_model or d_model}))
    seconds = time.perf_counter() - t
    out.mkdir(parents=True, exist_ok=True)
    path = pair.save(out / f"{name}.pt")
    record = {
        "command": "python scripts/train_default.py " + " ".join(sys.argv[1:]),
        "pair": name,
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
