#!/usr/bin/env python
"""Experiment 6: can the detector be fooled? Samples from the models and searched text.

With the Moby-Dick LSTM pair:

1. **Samples**: text sampled character by character from model A, from model B and from
   their mixture, at temperature 1 and 0.5. Sampled text is in distribution by construction
   (it is what the models expect), so a low KL is the right answer here.
2. **Search**: beam search over characters that minimises the summed KL of the next
   positions, under the constraint that every chosen character is improbable under the
   models (mixture probability below ``p_max``), so the text cannot be book-like English.
   Without the constraint the search is also run (it finds book-like or repetitive text).
3. **Pseudo-English**: samples from the mixture in which no word may end while it is a
   word of four other English novels (so the text holds no English words, only what the
   models find plausible).
4. **Control**: characters drawn at random among the same improbable candidates, without
   the KL objective.

Each text follows a 64-character Moby-Dick prefix (not measured) and is scored again by
the package scorer. Reported: mean KL, the 30-character window means' percentile among the
book's own (calibration), the share of 30-char windows above the book's 99th percentile,
the mean surprisal, the share of word tokens found in a word list of other English novels,
and lingua's confidence that the text is English.

Usage::

    python scripts/experiments/exp_adversarial.py [--model PATH] [--length 300] [--quick]

Writes ``runs/exp_adversarial/results.json`` (with all samples).
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _lib  # noqa: E402
from common import machine, read_corpus, table, write_results  # noqa: E402

NAME = "exp_adversarial"
WINDOW = 30


class Stepper:
    """Runs an LSTM stack one character at a time over a batch of sequences."""

    def __init__(self, pair) -> None:
        if pair.config.arch != "lstm":
            raise SystemExit("exp_adversarial needs an LSTM pair (stepwise state)")
        self.pair, self.model = pair, pair.model
        bad = {0, pair.vocab.newline_id}  # no <unk>, no newline (folding would merge it)
        self.allowed = torch.tensor([i not in bad for i in range(len(pair.vocab))])
        self.letters = torch.tensor([c.isalpha() or c == " " for c in pair.vocab.chars])
        self.alpha = torch.tensor([c.isalpha() for c in pair.vocab.chars])

    @torch.inference_mode()
    def prime(self, prefix: str, batch: int):
        """State after ``prefix`` and the log-probs of the next char; (M, B, V) each beam."""
        ids = torch.from_numpy(self.pair.vocab.encode(prefix).ids).view(1, -1).repeat(batch, 1)
        logits, _, state = self.model(ids)
        return state, torch.log_softmax(logits[:, :, -1], -1)  # (M, B, V)

    @torch.inference_mode()
    def step(self, state, ids: torch.Tensor):
        """Feed one char per sequence (B,); returns new state and next log-probs (M, B, V)."""
        logits, _, state = self.model(ids.view(-1, 1), state)
        return state, torch.log_softmax(logits[:, :, -1], -1)


def _kl(logp: torch.Tensor) -> torch.Tensor:
    """Symmetric (mean over ordered pairs) KL for M = 2 log-probs (2, B, V) -> (B,)."""
    p = logp.exp()
    return 0.5 * ((p[0] - p[1]) * (logp[0] - logp[1])).sum(-1)


def _take(state, idx: torch.Tensor):
    return [(h[:, idx], c[:, idx]) for h, c in state]


def sample(st: Stepper, prefix: str, length: int, source: str, temp: float, seed: int,
           avoid: set[str] | None = None) -> str:
    """Sample ``length`` chars from model A, B or the ``mix`` at temperature ``temp``.

    With ``avoid`` (a set of lower-case words) a word may not end while it is one of them:
    only letters can follow, so the text holds pseudo-words the models find plausible.
    """
    gen = torch.Generator().manual_seed(seed)
    state, logp = st.prime(prefix, 1)
    out, word = [], ""
    for _ in range(length):
        lp = {"A": logp[0, 0], "B": logp[1, 0],
              "mix": torch.logsumexp(logp[:, 0], 0) - np.log(2)}[source]
        probs = torch.softmax(lp / temp, -1) * st.allowed
        if avoid is not None and word.lower() in avoid:
            probs = probs * st.alpha
        c = torch.multinomial(probs / probs.sum(), 1, generator=gen)
        out.append(int(c))
        ch = st.pair.vocab.chars[int(c)]
        word = word + ch if ch.isalpha() else ""
        state, logp = st.step(state, c)
    return st.pair.vocab.decode(np.array(out))


def beam_search(st: Stepper, prefix: str, length: int, p_max: float | None, beam: int = 8,
                random_seed: int | None = None, letters: bool = False) -> str:
    """Minimise the summed next-position KL; every char must have mixture prob < ``p_max``.

    With ``random_seed`` the KL objective is replaced by a random choice among the allowed
    characters (the control); ``letters`` allows only letters and the space.
    """
    gen = torch.Generator().manual_seed(random_seed or 0)
    v = len(st.pair.vocab)
    state, logp = st.prime(prefix, 1)
    seqs = [[]]
    scores = torch.zeros(1)
    for _ in range(length):
        b = len(seqs)
        mix = torch.logsumexp(logp, 0).exp() / 2  # (B, V)
        ok = (st.allowed & st.letters if letters else st.allowed).unsqueeze(0).expand(b, v).clone()
        if p_max is not None:
            ok &= mix < p_max
        cand_b, cand_c = ok.nonzero(as_tuple=True)
        if random_seed is not None:
            pick = torch.randint(len(cand_b), (1,), generator=gen)
            cand_b, cand_c = cand_b[pick], cand_c[pick]
        new_state, new_logp = st.step(_take(state, cand_b), cand_c)
        total = scores[cand_b] + _kl(new_logp)
        top = torch.topk(-total, min(beam, len(total))).indices
        seqs = [seqs[int(cand_b[i])] + [int(cand_c[i])] for i in top]
        scores = total[top]
        state, logp = _take(new_state, top), new_logp[:, top]
    return st.pair.vocab.decode(np.array(seqs[0]))


def english_words(names=("en_novel_pride_and_prejudice", "en_novel_sherlock_holmes_adventures",
                         "en_novel_frankenstein", "en_novel_alice_in_wonderland")) -> set[str]:
    words: set[str] = set()
    for n in names:
        words |= set(re.findall(r"[a-z]+", read_corpus(n).lower()))
    return words


def _lingua():
    try:
        from lingua import Language, LanguageDetectorBuilder
    except ImportError:
        return None
    langs = [Language.ENGLISH, Language.FRENCH, Language.GERMAN, Language.SPANISH,
             Language.ITALIAN, Language.LATIN, Language.DUTCH]
    det = LanguageDetectorBuilder.from_languages(*langs).build()
    return lambda t: det.compute_language_confidence(t, Language.ENGLISH)


def measure(pair, prefix: str, text: str, words: set[str], english_conf) -> dict:
    """Scores of ``text`` scored after ``prefix`` (the prefix itself is not counted)."""
    s = pair.score(prefix + text)
    kl = s.kl[len(prefix):]
    w = _lib.block_means(kl, WINDOW)
    thr = pair.calibration.threshold(0.99, WINDOW)
    toks = re.findall(r"[A-Za-z]+", text)
    return {"mean_kl": float(np.nanmean(kl)), "mean_nll": float(np.nanmean(s.nll[len(prefix):])),
            "pct_30": float(np.median(pair.percentile(w, WINDOW))),
            "flagged_30": float((w > thr).mean()),
            "english_words": float(np.mean([t.lower() in words for t in toks])) if toks else 0.0,
            "lingua_en": float(english_conf(text)) if english_conf else float("nan")}


def main(argv: list[str] | None = None) -> dict:
    ap = _lib.parser(__doc__)
    ap.add_argument("--model", default=None)
    ap.add_argument("--length", type=int, default=None)
    args = _lib.parse(ap, argv, NAME)
    length = args.length or (60 if args.quick else 300)
    t0 = time.perf_counter()
    pair = _lib.load_pair(args.model)
    st = Stepper(pair)
    _, held = _lib.book_split(pair)
    prefix = _lib.slices(held, 64, pieces=1, skip=0.3)
    words, conf = english_words(), _lingua()
    held_text = _lib.slices(held, length, pieces=1, skip=0.5)
    runs: list[tuple[str, str]] = [("held-out Moby-Dick (reference)", held_text)]
    for temp in ((1.0,) if args.quick else (1.0, 0.5)):
        for src in ("A", "B", "mix"):
            runs.append((f"sample {src}, T={temp}", sample(st, prefix, length, src, temp, 1)))
        runs.append((f"sample mix, T={temp}, no English words",
                     sample(st, prefix, length, "mix", temp, 2, avoid=words)))
    beam = 4 if args.quick else 8
    runs.append(("search min KL, unconstrained", beam_search(st, prefix, length, None, beam)))
    for p_max in (0.05, 0.01):
        runs.append((f"search min KL, p<{p_max}", beam_search(st, prefix, length, p_max, beam)))
        runs.append((f"random chars, p<{p_max} (control)",
                     beam_search(st, prefix, length, p_max, 1, random_seed=3)))
        runs.append((f"search min KL, p<{p_max}, letters and space only",
                     beam_search(st, prefix, length, p_max, beam, letters=True)))
    runs.append(("random letters and space (control)",
                 beam_search(st, prefix, length, None, 1, random_seed=4, letters=True)))
    rows = []
    for label, text in runs:
        rows.append({"text": label, **measure(pair, prefix, text, words, conf),
                     "sample": text[:160]})
        print(f"{label}: {text[:100]!r}", file=sys.stderr)
    cal = pair.calibration
    res = {"config": {"model": str(args.model or _lib.DEFAULT_MODEL), "length": length,
                      "beam": beam, "quick": args.quick, "prefix": prefix},
           "book_mean_kl": cal.mean_kl, "book_q99_30": cal.threshold(0.99, WINDOW),
           "rows": rows, "full_texts": dict(runs),
           "seconds": round(time.perf_counter() - t0, 1), "machine": machine()}
    write_results(args.name, res)
    print(table(rows, ["text", "mean_kl", "pct_30", "flagged_30", "mean_nll", "english_words",
                       "lingua_en"]))
    print()
    for r in rows:
        print(f"- **{r['text']}**: `{r['sample'][:120]}`")
    return res


if __name__ == "__main__":
    main()
