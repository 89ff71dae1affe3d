"""textkl: find where a text stops looking like one book.

Two character LMs with the same architecture and different initialisations are trained
together on one book; their per-character KL divergence (self-KL, in nats) is low on text
like the book and high elsewhere.

    >>> import textkl
    >>> pair = textkl.load()                     # embedded Moby-Dick pair
    >>> s = pair.score("Call me Ishmael.")       # Scores(kl, nll, entropy)
    >>> segs = pair.segment(text)                # [Segment(start, end, label, ...)]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Pair", "Scores", "Segment", "TextklError", "fit", "load", "train", "__version__"]

if TYPE_CHECKING:
    from .errors import TextklError
    from .pair import Pair
    from .score import Scores
    from .spans import Segment


def load(path: str | os.PathLike[str] | None = None, device: str = "cpu") -> Pair:
    """Load a pair: the embedded default when ``path`` is None, else a file or directory.

    Model files are read with ``weights_only=True``: loading never runs code from them.

    Example:
        >>> pair = textkl.load()                        # doctest: +SKIP
        >>> pair = textkl.load("runs/my-book", device="cuda")  # doctest: +SKIP

    Raises:
        ModelFileError: a missing, truncated or foreign file.
    """
    from .pair import load as _load

    return _load(path, device=device)


def train(
    books: Sequence[str | os.PathLike[str]],
    *,
    arch: str = "lstm",
    models: int = 2,
    d_model: int | None = None,
    layers: int | None = None,
    steps: int | None = None,
    minutes: float | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    same_init: bool = False,
    seed: int = 0,
    device: str = "auto",
    progress: bool | None = None,
) -> Pair:
    """Train a pair jointly on one or more book files; the options of ``textkl train``.

    Args:
        books: paths of UTF-8 text files (Project Gutenberg boilerplate is stripped).
        arch: ``lstm`` or ``transformer``.
        models: number of models trained together (M >= 2).
        d_model: hidden size (LSTM) or width (transformer); None: the architecture's default.
        layers: number of layers; None: the default (1).
        steps: optimiser steps; None: 3,000 unless ``minutes`` is given.
        minutes: wall-clock budget; training stops at whichever of steps/minutes ends first.
        batch_size: sequences per step (default 64).
        lr: peak learning rate (default 2e-2 for an LSTM, 3e-3 for a transformer).
        same_init: all models start identical (the control: their KL stays 0).
        seed: initialisation and batch order.
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
        progress: a progress bar on stderr; None shows one only when stderr is a terminal.

    Returns:
        The trained, calibrated ``Pair``; ``pair.save(path)`` writes it.

    Example:
        >>> pair = textkl.train(["book.txt"], minutes=5)          # doctest: +SKIP
        >>> pair = textkl.train(["book.txt"], steps=200, d_model=64, seed=1)  # doctest: +SKIP
        >>> pair.save("runs/my-book")                              # doctest: +SKIP
    """
    from .io import show_progress
    from .training import TrainConfig, train_pair

    if isinstance(books, str | os.PathLike):
        books = [books]
    model_kw = {k: v for k, v in {"d_model": d_model, "n_layers": layers}.items() if v}
    opt = {k: v for k, v in {"batch_size": batch_size, "lr": lr}.items() if v}
    config = TrainConfig(steps=steps, minutes=minutes, seed=seed, **opt)
    return train_pair(list(books), arch=arch, n_models=models, same_init=same_init,
                      config=config, device=device, progress=show_progress(progress),
                      **model_kw)


def fit(
    text: str,
    *,
    minutes: float | None = None,
    steps: int | None = None,
    rounds: int = 3,
    d_model: int | None = None,
    device: str = "auto",
    seed: int = 0,
    progress: bool | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    min_chars: int | None = None,
) -> Pair:
    """Fit a pair on a document itself, to find what does not belong in it (no reference).

    Round 1 trains on the whole document; each later round retrains without the spans the
    previous pair marked foreign (plus a margin), so planted passages are unseen again.
    The calibration comes from held-out blocks of the document's book-like part. The pair
    is cached by the text's hash and the settings (``$TEXTKL_CACHE/fits``, else
    ``~/.cache/textkl/fits``): a second call on the same text is a file read.

    Args:
        text: the document itself, a ``str`` (``textkl.selffit.read_document`` reads a file).
        minutes: wall-clock budget of the whole fit; alone, it replaces the default steps.
        steps: optimiser steps of the whole fit, shared by the rounds (default 1,400).
        rounds: 1 (train once) or more (retrain without what the last round found;
            default 3: each of rounds 2 and 3 gains on planted passages, see docs/results.md).
        d_model: LSTM hidden size (default 64).
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
        seed: initialisation and batch order.
        progress: a progress bar with an ETA on stderr; None: only on a terminal.
        cache: reuse a cached fit of the same text and settings (the fit is saved anyway).
        cache_dir: where fits are cached (default above).
        min_chars: shortest document accepted (default 50,000 characters).

    Returns:
        The fitted, calibrated ``Pair``; ``pair.meta["self_fit"]`` describes each round.

    Raises:
        InputError: a document shorter than ``min_chars`` (the message names the minimum).

    Example:
        >>> pair = textkl.fit(open("book.txt", encoding="utf-8").read())  # doctest: +SKIP
        >>> foreign = [s for s in pair.segment(text) if not s.in_distribution]  # doctest: +SKIP
    """
    from .io import show_progress
    from .selffit import fit_pair, fit_settings

    cfg = fit_settings(minutes=minutes, steps=steps, rounds=rounds, d_model=d_model,
                       seed=seed, min_chars=min_chars)
    return fit_pair(text, cfg, device=device, progress=show_progress(progress), cache=cache,
                    cache_dir=cache_dir)


def __getattr__(name: str) -> Any:  # lazy: `import textkl` must not import torch
    if name == "Pair":
        from .pair import Pair
        return Pair
    if name == "Scores":
        from .score import Scores
        return Scores
    if name == "Segment":
        from .spans import Segment
        return Segment
    if name == "TextklError":
        from .errors import TextklError
        return TextklError
    raise AttributeError(f"module 'textkl' has no attribute {name!r}")
