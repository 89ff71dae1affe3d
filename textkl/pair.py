"""``Pair``: M jointly trained models with their vocabulary, config and calibration.

A checkpoint is one file written with ``torch.save`` that holds only tensors, strings and
numbers (JSON strings for the configs), and is read back with ``weights_only=True``, so
loading a model file never runs code from it.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .calibrate import Calibration
from .errors import ModelFileError, SettingError
from .lexicon import Lexicon
from .model import ModelConfig, build_model
from .score import ScoreConfig, Scores, score_many, score_pieces, score_text
from .spans import Segment
from .vocab import CharVocab

FORMAT = "textkl-pair"
FORMAT_VERSION = 1
CHECKPOINT_NAME = "pair.pt"
DEFAULT_PAIR = "english"  # the embedded pair that textkl.load() and every command use
ALIASES = {"english-fast": "english"}  # former names of embedded pairs (english-fast: 2026-12-03)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else the CPU; names are checked."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise SettingError(f"device must be auto, cpu or cuda, got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SettingError("device cuda was asked for but torch sees no CUDA device")
    return torch.device(device)


def default_score_config(cfg: ModelConfig) -> ScoreConfig:
    """Window grid for an architecture: long strides for the LSTM, the context for attention."""
    if cfg.arch == "lstm":
        return ScoreConfig(stride=1024, warmup=64, batch_size=128)
    warmup = min(64, cfg.context // 4)
    stride = max(32, (cfg.context + 1 - warmup) // 32 * 32)
    return ScoreConfig(stride=stride, warmup=cfg.context + 1 - stride, batch_size=128)


class Pair:
    """M character LMs trained together on one book; scores any text against that book."""

    def __init__(self, model: torch.nn.Module, vocab: CharVocab,
                 calibration: Calibration | None = None, meta: dict[str, Any] | None = None,
                 score_config: ScoreConfig | None = None, lexicon: Lexicon | None = None
                 ) -> None:
        self.model = model.eval()
        self.vocab = vocab
        self.calibration = calibration
        self.meta = dict(meta or {})
        self.score_config = score_config or default_score_config(model.cfg)
        self.lexicon = lexicon  # the book's word counts (``textkl.lexicon``), or None

    @property
    def config(self) -> ModelConfig:
        return self.model.cfg

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> Pair:
        self.model.to(resolve_device(device))
        return self

    def _cfg(self, batch_size: int | None) -> ScoreConfig:
        if batch_size is None:
            return self.score_config
        return replace(self.score_config, batch_size=batch_size)

    def score(self, text: str, *, batch_size: int | None = None, features: bool = False,
              dtype: torch.dtype | None = None, progress: bool = False) -> Scores:
        """Per-character self-KL, surprisal and entropy of ``text`` (see ``Scores``).

        Args:
            text: any ``str``; ``len(result) == len(text)``.
            batch_size: windows per forward pass (default: the pair's score config).
            features: also pool hidden states per block (what the regions cluster on).
            dtype: autocast dtype of the models' matmuls (None: float32), or
                ``torch.qint8`` for the int8 twin (``textkl.quantize``). bfloat16 and int8
                fall back to float32, with a notice, where they cannot run.
            progress: a progress bar on stderr.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        return score_text(self.model, self.vocab, text, self._cfg(batch_size), self.device,
                          features=features, dtype=dtype or torch.float32, progress=progress)

    def score_stream(self, pieces: Iterable[str], *, batch_size: int | None = None,
                     dtype: torch.dtype | None = None) -> Iterator[tuple[int, Scores]]:
        """Score a long text given as pieces, in bounded memory; yields ``(offset, Scores)``."""
        return score_pieces(self.model, self.vocab, pieces, self._cfg(batch_size), self.device,
                            dtype=dtype or torch.float32)

    def score_many(self, texts: Sequence[str], *, batch_size: int | None = None,
                   dtype: torch.dtype | None = None) -> list[Scores]:
        """Score several documents, sharing forward passes (``textkl.score.score_many``);
        each gets the scores ``score`` would give it alone (not quite under int8, whose
        inputs are scaled over the batch)."""
        return score_many(self.model, self.vocab, texts, self._cfg(batch_size), self.device,
                          dtype=dtype or torch.float32)

    def defaults(self, kind: str) -> dict[str, Any]:
        """Settings chosen for this pair, stored in its file, for the span finder ``kind``
        (``decode``, ...): fields of its config. ``{}`` where the file stores none (the
        library's defaults apply).

        Example:
            >>> textkl.load("english").defaults("decode")  # doctest: +SKIP
            {'level': 0.725, 'switch_word': 4, 'unit_clip': 4}
        """
        chosen = self.meta.get("defaults", {})
        return dict(chosen.get(kind, {})) if isinstance(chosen, dict) else {}

    def percentile(self, values: np.ndarray | float, window: int = 1) -> np.ndarray:
        """Percentile (0..100) of KL values (or ``window``-char means) among the book's own."""
        if self.calibration is None:
            raise ModelFileError("this pair has no calibration (an old or damaged model file)")
        return self.calibration.percentile(values, window)

    def segment(self, text: str, *, finder: Any = "decode", regions: Any = "auto",
                scores: Scores | None = None, seed: int = 0,
                dtype: torch.dtype | None = None) -> list[Segment]:
        """Spans of ``text`` labelled with regions; see ``textkl.segment.segment_text``.

        Example:
            >>> pair.segment(text)                                # doctest: +SKIP
            >>> pair.segment(text, finder="hysteresis", regions=2)  # doctest: +SKIP
            >>> from textkl.finders import make_finder              # doctest: +SKIP
            >>> pair.segment(text, finder=make_finder("decode", level=0.9))  # doctest: +SKIP
        """
        from .segment import segment_text

        return segment_text(self, text, finder=finder, regions=regions, scores=scores,
                            seed=seed, dtype=dtype)

    def describe(self) -> str:
        """One line naming the architecture, size, book and validation loss."""
        c = self.config
        book = self.meta.get("books", ["?"])
        val = self.meta.get("val_loss")
        val_s = f", val loss {val:.3f} nats/char" if isinstance(val, float) else ""
        return (f"{c.arch} x{c.n_models} (d={c.d_model}, layers={c.n_layers}, "
                f"vocab={c.vocab_size}) trained on {', '.join(map(str, book))}{val_s}")

    def save(self, path: str | Path) -> Path:
        """Write the checkpoint; a directory (or a path without suffix) gets ``pair.pt``."""
        from .io import atomic_write

        target = Path(path)
        if target.is_dir() or not target.suffix:
            target = target / CHECKPOINT_NAME
        blob = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "model_config": json.dumps(asdict(self.config)),
            "score_config": json.dumps(asdict(self.score_config)),
            "vocab": self.vocab.to_json(),
            "calibration": json.dumps(self.calibration.to_dict() if self.calibration else None),
            "meta": json.dumps(self.meta),
            "lexicon": self.lexicon.to_json() if self.lexicon else "null",
            "state_dict": {k: v.detach().cpu().contiguous()
                           for k, v in self.model.state_dict().items()},
        }
        with atomic_write(target, "wb") as f:
            torch.save(blob, f)
        return target


@dataclass(frozen=True)
class EmbeddedPair:
    """A pair shipped inside the package (``textkl/data/pairs/<name>.pt``) and its record."""

    name: str
    path: Any  # importlib.resources Traversable of the checkpoint
    record: dict[str, Any]  # the training record, <name>.json

    @property
    def default(self) -> bool:
        return self.name == DEFAULT_PAIR


def embedded_pairs() -> list[EmbeddedPair]:
    """The pairs shipped with textkl, by name (the default first)."""
    folder = resources.files("textkl") / "data" / "pairs"
    pairs = []
    for item in folder.iterdir():
        if item.name.endswith(".pt"):
            name = item.name.removesuffix(".pt")
            rec = folder / f"{name}.json"
            record = json.loads(rec.read_text(encoding="utf-8")) if rec.is_file() else {}
            pairs.append(EmbeddedPair(name, item, record))
    return sorted(pairs, key=lambda p: (not p.default, p.name))


def _checkpoint_path(path: str | Path | None) -> tuple[Path | Any, str]:
    """The checkpoint to read and how to name it in messages.

    None is the default embedded pair; a name of an embedded pair (``moby-dick``) or one of
    its former names (``ALIASES``) is that pair unless a file or directory of that name
    exists here; anything else is a path.
    """
    if isinstance(path, str) and path in ALIASES and not Path(path).exists():
        path = ALIASES[path]
    if path is None or (isinstance(path, str) and not Path(path).exists()
                        and any(p.name == path for p in embedded_pairs())):
        name = DEFAULT_PAIR if path is None else str(path)
        return (resources.files("textkl") / "data" / "pairs" / f"{name}.pt",
                f"the embedded pair {name!r}")
    p = Path(path)
    target = p / CHECKPOINT_NAME if p.is_dir() else p
    return target, str(target)


def load(path: str | Path | None = None, device: str | torch.device = "cpu") -> Pair:
    """Load a pair: the embedded default when ``path`` is None, an embedded pair by name
    (``embedded_pairs()``), else a file or a directory holding ``pair.pt``.

    Raises:
        ModelFileError: missing, truncated, corrupt or foreign file, or a newer format.
    """
    src, name = _checkpoint_path(path)
    try:
        with src.open("rb") as f:
            blob = torch.load(f, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelFileError(f"{name}: no such model file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{name}: is a directory without {CHECKPOINT_NAME}") from None
    except (zipfile.BadZipFile, RuntimeError, EOFError, ValueError, OSError):
        raise ModelFileError(f"{name}: not a readable textkl model file "
                             "(truncated, damaged or another format)") from None
    except Exception as e:  # pickle.UnpicklingError and friends from foreign files
        raise ModelFileError(f"{name}: not a textkl model file ({type(e).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ModelFileError(f"{name}: not a textkl model file (no '{FORMAT}' marker)")
    if int(blob.get("version", 0)) > FORMAT_VERSION:
        raise ModelFileError(f"{name}: format version {blob['version']} is newer than this "
                             f"textkl understands ({FORMAT_VERSION}); upgrade textkl")
    try:
        cfg = ModelConfig(**json.loads(blob["model_config"]))
        model = build_model(cfg)
        model.load_state_dict(blob["state_dict"])
        vocab = CharVocab.from_json(blob["vocab"])
        cal = json.loads(blob["calibration"])
        score_cfg = ScoreConfig(**json.loads(blob["score_config"]))
        meta = json.loads(blob["meta"])
        lex = blob.get("lexicon", "null")  # files written before the lexicon have none
        lexicon = None if lex == "null" else Lexicon.from_json(lex)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise ModelFileError(f"{name}: damaged textkl model file ({type(e).__name__})") from None
    if len(vocab) != cfg.vocab_size:
        raise ModelFileError(f"{name}: vocabulary size {len(vocab)} != model's {cfg.vocab_size}")
    pair = Pair(model, vocab, Calibration.from_dict(cal) if cal else None, meta, score_cfg,
                lexicon)
    return pair.to(device)
