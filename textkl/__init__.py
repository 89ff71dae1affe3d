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

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Pair", "Scores", "Segment", "TextklError", "load", "train", "__version__"]

if TYPE_CHECKING:
    from .errors import TextklError
    from .pair import Pair
    from .score import Scores
    from .segment import Segment


def load(path: Any = None, device: Any = "cpu") -> Pair:
    """Load a pair: the embedded default when ``path`` is None, else a file or directory."""
    from .pair import load as _load

    return _load(path, device=device)


def train(books: Any, **kwargs: Any) -> Pair:
    """Train a pair on one or more book files; see ``textkl.train.train_on_text``."""
    from .train import train_pair

    return train_pair(books, **kwargs)


def __getattr__(name: str) -> Any:  # lazy: `import textkl` must not import torch
    if name == "Pair":
        from .pair import Pair
        return Pair
    if name == "Scores":
        from .score import Scores
        return Scores
    if name == "Segment":
        from .segment import Segment
        return Segment
    if name == "TextklError":
        from .errors import TextklError
        return TextklError
    raise AttributeError(f"module 'textkl' has no attribute {name!r}")
