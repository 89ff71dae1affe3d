"""Helpers shared by the experiment scripts (not part of the package).

Everything here works in the *view* of a text (``CharVocab.encode(text).ids``): the
experiments compare distributions of scores, so mapping back to original offsets is not
needed. ``char_stats`` runs any stack of models (one ``Pair``, a subset of its models, or
two pairs of different architectures) over fixed windows and returns, per character, the
pairwise KL matrix and each model's surprisal, entropy and maximum softmax probability.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # scripts/common.py

from common import ROOT, corpora_dir, read_corpus  # noqa: E402

DEFAULT_MODEL = ROOT / "runs" / "moby-lstm" / "pair.pt"

# Every corpus of the shared directory with a short label and a group for the tables.
CORPORA = [
    ("en_novel_pride_and_prejudice", "English: Austen", "other English"),
    ("en_novel_alice_in_wonderland", "English: Carroll", "other English"),
    ("en_novel_sherlock_holmes_adventures", "English: Doyle", "other English"),
    ("en_novel_frankenstein", "English: Shelley", "other English"),
    ("en_poetry_hamlet", "Early Modern: Hamlet", "English styles"),
    ("en_poetry_tinyshakespeare", "Early Modern: tiny-shakespeare", "English styles"),
    ("enm_poetry_canterbury_tales_ellesmere", "Middle English: Chaucer", "English styles"),
    ("ang_poetry_beowulf", "Old English: Beowulf", "English styles"),
    ("en_dictionary_gcide_excerpt", "dictionary (GCIDE)", "English styles"),
    ("code_python_cpython_stdlib", "Python code", "English styles"),
    ("fr_novel_candide", "French: Candide", "languages"),
    ("fr_novel_les_miserables_t1_fantine", "French: Hugo", "languages"),
    ("fr_novel_madame_bovary", "French: Flaubert", "languages"),
    ("fr_poetry_fleurs_du_mal", "French: Baudelaire", "languages"),
    ("de_novel_grimm_maerchen", "German: Grimm", "languages"),
    ("es_novel_don_quijote", "Spanish: Cervantes", "languages"),
    ("it_poetry_divina_commedia", "Italian: Dante", "languages"),
    ("la_poetry_aeneid", "Latin: Virgil", "languages"),
    ("nl_novel_uilenspiegel", "Dutch: de Coster", "languages"),
    ("mixed_en_fr_war_and_peace_maude_part", "War and Peace (en+fr)", "other English"),
]


def setup_torch(threads: int = 1) -> None:
    """One thread: the machine's cores are shared, and small models gain little from more."""
    torch.set_num_threads(threads)


def out_name(args, base: str) -> str:
    """The run folder: ``--name`` if given, else ``base`` (``base_quick`` for ``--quick``)."""
    return args.name or (f"{base}_quick" if args.quick else base)


def parser(doc: str) -> argparse.ArgumentParser:
    """The options every experiment shares: ``--quick`` and ``--name``."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny budget (CI smoke test)")
    ap.add_argument("--name", default=None,
                    help="output folder under runs/ (default: the experiment, +_quick)")
    return ap


def parse(ap: argparse.ArgumentParser, argv: list[str] | None, base: str) -> argparse.Namespace:
    """Parse, resolve the run folder name and set up torch (one thread)."""
    args = ap.parse_args(argv)
    args.name = out_name(args, base)
    setup_torch()
    return args


def load_pair(path: str | Path | None):
    """The pair at ``path``; else the Moby-Dick pair of ``runs/moby-lstm``, else the default."""
    import textkl

    if path is None and DEFAULT_MODEL.exists():
        path = DEFAULT_MODEL
    return textkl.load(path)


def book_split(pair) -> tuple[str, str]:
    """The training book of ``pair`` as (training part, held-out tail), cleaned.

    The split reproduces ``train_on_text``: the last ``val_chars`` view characters are held out.
    """
    from textkl.training import load_books

    book = Path(pair.meta["books"][0]).name
    text = load_books([corpora_dir() / book])
    enc = pair.vocab.encode(text)
    cut = int(enc.offsets[pair.meta["train_chars"]])
    return text[:cut], text[cut:]


def heldout_of(pair, text: str) -> str:
    """The held-out tail of ``text`` for a pair trained on it with ``train_on_text`` (view)."""
    ids = pair.vocab.encode(text).ids
    return pair.vocab.decode(ids[-pair.meta["val_chars"]:])


def slices(text: str, n_chars: int, pieces: int = 4, skip: float = 0.05) -> str:
    """``pieces`` stretches from evenly spaced places of ``text``, ``n_chars`` in all.

    The first ``skip`` fraction (title pages, prefaces) is passed over; stretches start and
    end at whitespace and are joined by a blank line.
    """
    each = max(1, n_chars // pieces)
    lo = int(len(text) * skip)
    span = max(1, len(text) - lo - each)
    out = []
    for k in range(pieces):
        a = lo + span * k // max(1, pieces)
        a = text.find(" ", a) + 1 if text.find(" ", a) >= 0 else a
        b = text.rfind(" ", a, a + each)
        out.append(text[a : b if b > a else a + each].strip())
    return "\n\n".join(out)


def corpus_sample(name: str, n_chars: int, pieces: int = 4) -> str:
    """``n_chars`` of the corpus ``name`` taken from ``pieces`` places (see ``slices``)."""
    return slices(read_corpus(name), n_chars, pieces)


def random_chars(n: int, alphabet: str, seed: int) -> str:
    """Characters drawn uniformly from ``alphabet``."""
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list(alphabet), size=n))


def random_words(n: int, source: str, seed: int) -> str:
    """Words of ``source`` (a book) drawn uniformly from its distinct words, space separated."""
    words = sorted({w.strip(".,;:!?\"'()[]") for w in source.split()} - {""})
    rng = np.random.default_rng(seed)
    out, size = [], 0
    while size < n:
        w = words[int(rng.integers(len(words)))]
        out.append(w)
        size += len(w) + 1
    return " ".join(out)[:n]


@dataclass(frozen=True)
class CharStats:
    """Per-character statistics of M models on one text (view positions, NaN at index 0).

    Attributes:
        klmat: float32 (M, M, N) KL(p_i || p_j) for the next-character distributions.
        nll: float32 (M, N) surprisal of the actual next character under each model.
        entropy: float32 (M, N) predictive entropy of each model.
        msp: float32 (M, N) maximum softmax probability of each model.
    """

    klmat: np.ndarray
    nll: np.ndarray
    entropy: np.ndarray
    msp: np.ndarray

    def kl(self, models: Sequence[int] | None = None) -> np.ndarray:
        """Mean KL over ordered pairs of ``models`` (all by default); (N,)."""
        idx = list(range(self.klmat.shape[0])) if models is None else list(models)
        sub = self.klmat[np.ix_(idx, idx)]
        m = len(idx)
        return sub.sum((0, 1)) / (m * (m - 1))


Forward = Callable[[torch.Tensor], torch.Tensor]  # ids (B, T) -> logits (M, B, T, V)


def stacked_forward(*models) -> Forward:
    """A forward that runs each stacked model and concatenates their logits along M."""
    def fwd(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([m(x)[0] for m in models], dim=0)  # (M_total, B, T, V)
    return fwd


@torch.inference_mode()
def char_stats(forward: Forward, ids: np.ndarray, span: int = 192, warmup: int = 64,
               batch: int = 32) -> CharStats:
    """Score ``ids`` in windows of ``warmup`` context + ``span`` scored characters.

    Args:
        forward: ids (B, T) -> logits (M, B, T, V); T is at most ``span + warmup``.
        ids: int64 (N,) view ids.

    Returns:
        ``CharStats`` with N positions; position i is ``ids[i]`` given ``ids[:i]``.
    """
    n = len(ids)
    wins = []
    for k in range(-(-n // span)):
        t0, t1 = max(1, k * span), min(n, (k + 1) * span)
        if t1 > t0:
            wins.append((max(0, k * span - warmup), t0, t1))
    parts: list[tuple[np.ndarray, ...]] = []
    for i in range(0, len(wins), batch):
        group = wins[i : i + batch]
        length = max(t1 - a - 1 for a, _, t1 in group)
        x = np.zeros((len(group), length), dtype=np.int64)
        y = np.zeros_like(x)
        for r, (a, _, t1) in enumerate(group):
            x[r, : t1 - a - 1] = ids[a : t1 - 1]
            y[r, : t1 - a - 1] = ids[a + 1 : t1]
        logp = torch.log_softmax(forward(torch.from_numpy(x)).float(), -1)  # (M, B, T, V)
        p = logp.exp()
        negent = (p * logp).sum(-1)  # (M, B, T)
        # KL(p_i || p_j) summed elementwise: exactly 0 when two models are identical
        klmat = torch.stack([(p[i] * (logp[i] - logp)).sum(-1)
                             for i in range(len(p))]).clamp_min(0.0)  # (M, M, B, T)
        nll = -logp.gather(-1, torch.from_numpy(y)[None, ..., None].expand(
            logp.shape[0], -1, -1, 1)).squeeze(-1)  # (M, B, T)
        msp = p.amax(-1)  # (M, B, T)
        for r, (a, t0, t1) in enumerate(group):
            sl = slice(t0 - a - 1, t1 - a - 1)
            parts.append((klmat[:, :, r, sl].numpy(), nll[:, r, sl].numpy(),
                          (-negent)[:, r, sl].numpy(), msp[:, r, sl].numpy()))
    nan1 = lambda a: np.concatenate([np.full(a.shape[:-1] + (1,), np.nan, np.float32), a], -1)  # noqa: E731
    out = [nan1(np.concatenate([p[j] for p in parts], -1)) for j in range(4)]
    return CharStats(*out)


def block_means(x: np.ndarray, w: int) -> np.ndarray:
    """Means of consecutive non-overlapping blocks of ``w`` non-NaN values; (floor(n / w),)."""
    v = np.asarray(x, dtype=np.float64)
    v = v[~np.isnan(v)]
    k = len(v) // w
    return v[: k * w].reshape(k, w).mean(1)


def auroc(in_dist: np.ndarray, out_dist: np.ndarray) -> float:
    """AUROC of a score that should be higher on ``out_dist`` (0.5 = chance)."""
    from sklearn.metrics import roc_auc_score

    y = np.r_[np.zeros(len(in_dist)), np.ones(len(out_dist))]
    return float(roc_auc_score(y, np.r_[in_dist, out_dist]))


def write_figure(fig, name: str, stem: str, png: bool = False) -> list[str]:
    """Write ``runs/<name>/<stem>.html`` (plotly, self-contained JS from the CDN) and, if asked
    and chromium is there, a PNG beside it. Returns the paths written."""
    out = ROOT / "runs" / name
    out.mkdir(parents=True, exist_ok=True)
    html = out / f"{stem}.html"
    fig.write_html(html, include_plotlyjs="cdn")
    paths = [str(html.relative_to(ROOT))]
    if png:
        try:
            from screenshot import screenshot

            inline = out / f".{stem}_inline.html"
            fig.write_html(inline, include_plotlyjs=True, config={"displayModeBar": False})
            screenshot(inline, out / f"{stem}.png", width=int(fig.layout.width or 1100),
                       height=int(fig.layout.height or 650))
            inline.unlink()
            paths.append(str((out / f"{stem}.png").relative_to(ROOT)))
        except (SystemExit, Exception) as e:  # a missing browser must not lose the results
            print(f"(no PNG: {e})", file=sys.stderr)
    return paths
