"""Self-reference: fit a pair on the document itself, then find what does not belong in it.

No reference book is needed: the document is its own book. Round 1 trains a pair on the
whole document (``textkl.training.train_on_text``) and marks, generously (decode level
``clean_level``), the spans it finds foreign. Each later round trains the pair further
on the document without those spans and a margin around them (``restart="scratch"``:
a new pair instead), so that planted passages, which round 1 partly learned, are
unlearned and stand out again. The calibration always comes from the same held-out
blocks, spread over the document and never trained on, less what was found foreign: a
fitted pair's percentiles mean what a book pair's do, and ``pair.segment`` works as usual.

A fitted pair is cached under ``$TEXTKL_CACHE/fits`` (else ``~/.cache/textkl/fits``) by
the text's SHA-256 and the settings; the second fit of the same text is a file read.
Writes are atomic (``Pair.save``): an interrupted fit leaves no cache entry.

Example:
    >>> from textkl.selffit import FitConfig, fit_pair
    >>> pair = fit_pair(document, FitConfig(steps=1000))  # doctest: +SKIP
    >>> [s for s in pair.segment(document) if not s.in_distribution]  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .errors import InputError, ModelFileError, SettingError
from .finders import DecodeConfig, DecodeFinder, make_finder
from .io import cache_dir, iter_lines, read_text
from .pair import FORMAT_VERSION, Pair, load, resolve_device
from .spans import space_mask
from .training import TrainConfig, train_on_text
from .vocab import CharVocab

MIN_CHARS = 50_000  # shortest document fitted by default (see FitConfig.min_chars)
# decode settings for fitted pairs: a fitted pair is weaker than a book pair (validation
# loss ~1.8 nats/char, not 1.5), so its evidence is noisier; a switch costs 4 at a sentence
# start (the default 1) and 15 at any other word start (the default 3), and a character's
# KL counts as foreign evidence above the held-out text's 96th percentile (default 93rd).
# Chosen on two development documents (Les Misérables and Candide, 300,000 characters
# with 1-3 % English planted: mean F1 0.887 -> 0.942), then run once on the held-out one
# (Madame Bovary): F1 0.947 -> 0.975 (scripts/bench_self_fit.py, docs/results.md).
FIT_DECODE = DecodeConfig(level=0.96, switch_sentence=4.0, switch_word=15.0)
FIT_DEFAULTS = {"decode": {"level": FIT_DECODE.level,  # stored with the pair
                           "switch_sentence": FIT_DECODE.switch_sentence,
                           "switch_word": FIT_DECODE.switch_word}}
_FOLD = CharVocab([" ", "\n"])  # only for the length of a text's normalised view


@dataclass(frozen=True)
class FitConfig:
    rounds: int = 3  # 1: train once on the whole document; 2+: again without what was found
    steps: int | None = 1400  # optimiser steps over all rounds (None: until ``minutes``)
    minutes: float | None = None  # wall-clock budget over all rounds
    first_share: float = 0.6  # share of the steps (or minutes) of round 1; later rounds split
    restart: str = "continue"  # later rounds: "continue" the last pair's weights, or "scratch"
    d_model: int = 64  # LSTM hidden size: a third of the default pair's cost per step
    batch_size: int = 64  # sequences per step
    seq_len: int = 128  # characters per sequence
    lr: float = 6e-3  # peak learning rate (each round warms up and decays again)
    holdout: float = 0.1  # share of the document held out for calibration, never trained on
    holdout_block: int = 2000  # characters per held-out block (blocks spread over the text)
    clean_level: float = 0.8  # decode level marking what later rounds leave out (recall first)
    margin: int = 100  # characters left out on each side of a foreign span
    min_chars: int = MIN_CHARS  # shorter documents are refused
    seed: int = 0  # initialisation and batch order

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise SettingError(f"rounds must be >= 1, got {self.rounds}")
        if self.steps is None and self.minutes is None:
            raise SettingError("give steps or minutes (or both)")
        if self.steps is not None and self.steps < 2 * self.rounds:
            raise SettingError(f"steps must be >= 2 * rounds ({2 * self.rounds}), "
                               f"got {self.steps}")
        if self.minutes is not None and self.minutes <= 0:
            raise SettingError(f"minutes must be > 0, got {self.minutes}")
        if not 0.0 < self.first_share <= 1.0 or not 0.0 < self.holdout < 0.5:
            raise SettingError(f"need 0 < first_share <= 1 and 0 < holdout < 0.5, got "
                               f"{self.first_share}, {self.holdout}")
        if self.restart not in ("continue", "scratch"):
            raise SettingError(f"restart must be 'continue' or 'scratch', got {self.restart!r}")
        if self.margin < 0 or self.min_chars < 1:
            raise SettingError(f"need margin >= 0 and min_chars >= 1, got {self.margin}, "
                               f"{self.min_chars}")


def default_fit_dir() -> Path:
    """Where fitted pairs are cached: ``$TEXTKL_CACHE/fits``, else ``~/.cache/textkl/fits``."""
    return cache_dir("fits")


def cache_key(text: str, config: FitConfig) -> str:
    """Hex digest naming the fit of ``text`` with ``config`` (content hash and settings)."""
    from . import __version__

    h = hashlib.sha256()
    h.update(text.encode("utf-8", "surrogatepass"))
    h.update(json.dumps({"config": asdict(config), "textkl": __version__,
                         "format": FORMAT_VERSION}, sort_keys=True).encode())
    return h.hexdigest()[:32]


def fit_pair(text: str, config: FitConfig | None = None, *, device: str = "auto",
             progress: bool = False, cache: bool = True, cache_dir: str | Path | None = None
             ) -> Pair:
    """Fit (or load from the cache) a pair on ``text`` itself; see ``textkl.fit``.

    Args:
        text: the document.
        config: the settings (default ``FitConfig()``).
        device: ``auto``, ``cpu`` or ``cuda``.
        progress: progress bars with an ETA on stderr.
        cache: return a cached fit of the same text and settings when there is one; the
            new fit is saved either way.
        cache_dir: the cache (default ``default_fit_dir()``).

    Raises:
        InputError: ``text`` is shorter than ``config.min_chars``.
    """
    cfg = config or FitConfig()
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    if len(text) < cfg.min_chars:
        raise InputError(f"document too short to fit: {len(text):,} characters, the minimum "
                         f"is {cfg.min_chars:,}")
    path = Path(cache_dir or default_fit_dir()) / f"{cache_key(text, cfg)}.pt"
    if cache and path.is_file():
        try:
            cached = load(path, device=device)
            cached.meta["defaults"] = copy.deepcopy(FIT_DEFAULTS)  # this version's settings
            return cached
        except ModelFileError:  # damaged by something else than textkl: fit again
            pass
    pair = fit_rounds(text, cfg, device=device, progress=progress)
    pair.save(path)  # atomic: Ctrl-C leaves no entry; also written with cache=False
    return pair


def fit_rounds(text: str, cfg: FitConfig, *, device: str = "auto", progress: bool = False,
               on_round: Callable[[int, Pair], None] | None = None) -> Pair:
    """Train ``cfg.rounds`` times on ``text``, each time without the foreign spans (plus a
    margin) that the last pair found; the held-out blocks stay the same in every round.

    Args:
        text: the document.
        cfg: the settings.
        device: ``auto``, ``cpu`` or ``cuda``.
        progress: progress bars (with an ETA) and a line per round on stderr.
        on_round: called with ``(round, pair)`` after each round (1-based), e.g. to
            measure what each round finds.

    Returns:
        The last round's pair; ``pair.meta["self_fit"]`` records every round.
    """
    held = holdout_mask(text, cfg.holdout, cfg.holdout_block)
    keep = np.ones(len(text), dtype=bool)
    rounds: list[dict] = []
    pair: Pair | None = None
    for r in range(cfg.rounds):
        t0 = time.perf_counter()
        train, val = _kept_text(text, keep & ~held), _kept_text(text, keep & held)
        if progress:
            print(f"textkl: fit round {r + 1}/{cfg.rounds}: {len(train):,} characters, "
                  f"{len(val):,} held out", file=sys.stderr)
        pair = _train_round(train, val, cfg, r, pair, device, progress)
        foreign = foreign_mask(pair, text, cfg.clean_level)
        rounds.append({"round": r + 1, "train_chars": len(train), "held_out_chars": len(val),
                       "foreign_share": round(float(foreign.mean()), 5),
                       "steps": pair.meta["steps"], "val_loss": pair.meta["val_loss"],
                       "seconds": round(time.perf_counter() - t0, 1)})
        keep = ~_dilate(text, foreign, cfg.margin)
        if on_round is not None:
            on_round(r + 1, pair)
    assert pair is not None
    pair.meta["books"] = ["<self>"]
    pair.meta["self_fit"] = {"config": asdict(cfg), "chars": len(text), "rounds": rounds}
    pair.meta["defaults"] = copy.deepcopy(FIT_DEFAULTS)  # pair.segment and the filter use them
    return pair


def _round_budget(cfg: FitConfig, r: int) -> tuple[int | None, float | None]:
    """Steps and minutes of round ``r``: ``first_share`` of the totals for round 1, the rest
    shared equally by the later rounds."""
    share = cfg.first_share if r == 0 else (1 - cfg.first_share) / max(cfg.rounds - 1, 1)
    if cfg.rounds == 1:
        share = 1.0
    steps = None if cfg.steps is None else max(1, round(cfg.steps * share))
    minutes = None if cfg.minutes is None else cfg.minutes * share
    return steps, minutes


def _train_round(train: str, val: str, cfg: FitConfig, r: int, last: Pair | None,
                 device: str, progress: bool) -> Pair:
    """Round ``r``: a new pair, or ``last`` trained further, on ``train``; calibrated on ``val``."""
    joined = f"{train}\n\n{val}"
    n_val, n_all = len(_FOLD.encode(val).ids), len(_FOLD.encode(joined).ids)
    steps, minutes = _round_budget(cfg, r)
    tcfg = TrainConfig(steps=steps, minutes=minutes, batch_size=cfg.batch_size,
                       seq_len=cfg.seq_len, lr=cfg.lr, val_fraction=(n_val + 0.5) / n_all,
                       warmup_steps=min(100, max(1, (steps or 1000) // 5)),
                       seed=cfg.seed + 7919 * r)
    if last is None or cfg.restart == "scratch":
        return train_on_text(joined, config=tcfg, d_model=cfg.d_model, device=device,
                             progress=progress, book_names=["<self>"])
    return continue_training(last, joined, tcfg, device=device, progress=progress)


def continue_training(pair: Pair, text: str, config: TrainConfig, *, device: str = "auto",
                      progress: bool = False) -> Pair:
    """Train a copy of ``pair``'s models further on ``text``, then calibrate them on its
    held-out tail and count its words, as ``train_on_text`` does for new models.

    Args:
        pair: the pair to start from (left unchanged); its vocabulary is kept.
        text: training text whose last ``config.val_fraction`` is held out.
        config: the optimisation settings of this stage (its own warm-up and decay).
        device: ``auto``, ``cpu`` or ``cuda``.
        progress: a progress bar with an ETA on stderr.

    Returns:
        A new, calibrated ``Pair``.

    Example:
        >>> cleaner = continue_training(pair, text, TrainConfig(steps=500))  # doctest: +SKIP
    """
    import torch

    from .calibrate import calibrate
    from .lexicon import Lexicon
    from .score import score_text
    from .training import _fit  # the loop of train_on_text, which always starts anew

    dev = resolve_device(device)
    config = config.with_lr_for(pair.model.cfg.arch)
    ids = pair.vocab.encode(text).ids
    n_val = int(len(ids) * config.val_fraction)
    if n_val <= config.seq_len or len(ids) - n_val < 2 * config.seq_len:
        raise InputError(f"text too short to train on: {len(text)} characters")
    train_ids = torch.from_numpy(ids[:-n_val].astype(np.int64))  # (N_train,)
    model = copy.deepcopy(pair.model).to(dev)
    torch.manual_seed(config.seed)  # dropout masks, as in train_on_text
    stats = _fit(model, train_ids, ids[-n_val:], config, dev, progress)
    new = Pair(model, pair.vocab, score_config=pair.score_config, lexicon=Lexicon.build([text]))
    held = pair.vocab.decode(ids[-n_val:][: config.calib_chars])
    s = score_text(model, pair.vocab, held, new.score_config, dev)
    new.calibration = calibrate(s.kl, s.nll, s.entropy)
    new.meta = {**pair.meta, "train_chars": int(len(train_ids)), "val_chars": int(n_val),
                "train_config": asdict(config), **stats}
    return new


def holdout_mask(text: str, share: float, block: int) -> np.ndarray:
    """bool (len(text),): every ``round(1 / share)``-th block of about ``block`` characters
    (see ``_block_cuts``), so that the held-out text samples the whole document."""
    cuts = _block_cuts(text, block)
    every = max(2, round(1 / share))
    mask = np.zeros(len(text), dtype=bool)
    for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
        mask[a:b] = i % every == every // 2
    if mask.all() or not mask.any():
        raise InputError(f"text too short to hold out calibration blocks: {len(text)} characters")
    return mask


def split_holdout(text: str, share: float, block: int) -> tuple[str, str]:
    """``(train, held)``: the text outside and inside ``holdout_mask``, each joined by blank
    lines."""
    held = holdout_mask(text, share, block)
    return _kept_text(text, ~held), _kept_text(text, held)


def _block_cuts(text: str, block: int) -> list[int]:
    """Offsets ``0 = c0 < c1 < ... = len(text)``, each after a blank line, else a newline,
    else a space, found at most ``block // 2`` characters past the last cut plus ``block``
    (hard-wrapped books break lines inside paragraphs: those are the second choice)."""
    cuts = [0]
    pos = block
    while pos < len(text):
        for sep in ("\n\n", "\n", " "):
            at = text.find(sep, pos, pos + block // 2)
            if at >= 0:
                at += len(sep) - 1
                break
        else:
            at = pos
        cuts.append(at + 1)
        pos = at + 1 + block
    cuts.append(len(text))
    return sorted(set(cuts))


def finder() -> DecodeFinder:
    """The span finder for a fitted pair: ``decode`` with ``FIT_DECODE`` (see its comment).

    Example:
        >>> pair.segment(document, finder=textkl.selffit.finder())  # doctest: +SKIP
    """
    return DecodeFinder(FIT_DECODE)


def foreign_mask(pair: Pair, text: str, level: float) -> np.ndarray:
    """bool (len(text),): the characters of the spans the decode finder marks foreign."""
    mask = np.zeros(len(text), dtype=bool)
    for s in pair.segment(text, finder=make_finder("decode", level=level), regions=None):
        if not s.in_distribution:
            mask[s.start : s.end] = True
    return mask


def _dilate(text: str, mask: np.ndarray, margin: int) -> np.ndarray:
    """``mask`` with each run grown by ``margin`` characters on each side (by its own length
    if shorter: a stray word costs a few words, a planted page a margin), out to whole words.
    """
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    if margin == 0 or not len(edges):
        return mask
    starts, ends = edges[::2], edges[1::2]
    grow = np.minimum(margin, ends - starts)
    delta = np.zeros(len(text) + 1, dtype=np.int64)
    np.add.at(delta, np.maximum(starts - grow, 0), 1)
    np.add.at(delta, np.minimum(ends + grow, len(text)), -1)
    grown = np.cumsum(delta[:-1]) > 0
    space = space_mask(text)
    word = np.cumsum(space)  # the characters of one word share a number
    hit = np.unique(word[grown & ~space])
    return grown | (np.isin(word, hit) & ~space)


def _kept_text(text: str, keep: np.ndarray) -> str:
    """The kept runs of ``text``, stripped and joined by a blank line."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], keep.astype(np.int8), [0]))))
    pieces = (text[a:b].strip() for a, b in zip(edges[::2], edges[1::2], strict=True))
    return "\n\n".join(p for p in pieces if p)


def fit_settings(*, minutes: float | None = None, steps: int | None = None, rounds: int = 3,
                 d_model: int | None = None, seed: int = 0, min_chars: int | None = None,
                 **other) -> FitConfig:
    """A ``FitConfig`` from ``textkl.fit``'s options: None keeps a default, except that
    ``minutes`` alone (no ``steps``) makes the fit run for that long."""
    base = FitConfig()
    if steps is None and minutes is None:
        steps = base.steps
    return replace(base, minutes=minutes, steps=steps, rounds=rounds,
                   d_model=d_model or base.d_model, seed=seed,
                   min_chars=base.min_chars if min_chars is None else min_chars, **other)


def read_document(path: str | Path) -> str:
    """The text of a UTF-8 file (or stdin for ``-``), as ``textkl.fit`` takes it."""
    return read_text(path)


def corpus_text(src: str | Path, field: str = "text") -> str:
    """The string ``field`` of every JSON object line of ``src`` (JSONL, .gz or .zst),
    joined by a blank line: the text a pair is fitted on to clean that corpus.

    Lines that are not JSON objects with a string ``field`` are skipped (the filter
    reports them)."""
    texts = []
    for raw in iter_lines(str(src)):
        try:
            doc = json.loads(raw)
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get(field), str) and doc[field].strip():
            texts.append(doc[field].strip())
    return "\n\n".join(texts)
