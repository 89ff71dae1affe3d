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
__all__ = ["Pair", "Scores", "Segment", "TextklError", "load", "train", "__version__"]

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
        lr: peak learning rate (default 3e-3).
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
