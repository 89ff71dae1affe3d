#!/usr/bin/env python
"""Experiment 9: the image counterpart on scikit-learn's bundled 8x8 digits.

Two small CNNs with different initialisations are trained jointly (same batches, summed
loss). Inputs are then optimised from uniform noise to minimise the entropy of model A's
prediction (a confident "digit" that is no digit). Model A becomes sure of a class; model
B, which never saw that optimisation, usually is not, so their KL flags the input while A's
own confidence (max softmax probability) calls it a clean digit. An adaptive attacker who
minimises the entropy of *both* models is run too, as the obvious counter-attack.

AUROC of each score (higher = more foreign) against held-out digits, for uniform noise,
the A-optimised inputs and the jointly optimised inputs.

Usage::

    python scripts/experiments/exp_digits.py [--quick]

Writes ``runs/exp_digits/results.json``, ``examples.html`` and ``kl_hist.html``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _lib  # noqa: E402
from common import machine, table, write_results  # noqa: E402

NAME = "exp_digits"


class SmallCNN(nn.Module):
    """8x8 grey image -> 10 logits: two 3x3 convolutions, a 2x2 pool, one linear layer."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, width, 3, padding=1)
        self.c2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.fc = nn.Linear(2 * width * 16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.c1(x))  # (B, W, 8, 8)
        h = F.max_pool2d(F.relu(self.c2(h)), 2)  # (B, 2W, 4, 4)
        return self.fc(h.flatten(1))  # (B, 10)


class SmallMLP(nn.Module):
    """8x8 grey image -> 10 logits: two hidden ReLU layers of ``width`` units."""

    def __init__(self, width: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, width), nn.ReLU(),
                                 nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, 10)


def make_model(kind: str, width: int | None) -> nn.Module:
    """``cnn`` (default width 16) or ``mlp`` (default width 256)."""
    if kind == "cnn":
        return SmallCNN(width or 16)
    if kind == "mlp":
        return SmallMLP(width or 256)
    raise ValueError(f"model kind must be cnn or mlp, got {kind!r}")


def load_digits_split(seed: int = 0) -> tuple[torch.Tensor, ...]:
    """(x_train, y_train, x_test, y_test): images in [0, 1], shape (N, 1, 8, 8); 75 / 25 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = torch.tensor(d.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(d.target, dtype=torch.int64)
    idx_tr, idx_te = train_test_split(np.arange(len(y)), test_size=0.25, random_state=seed,
                                      stratify=d.target)
    return x[idx_tr], y[idx_tr], x[idx_te], y[idx_te]


def train_joint(x: torch.Tensor, y: torch.Tensor, epochs: int, seeds=(1, 2), seed: int = 0,
                kind: str = "cnn", width: int | None = None) -> list[nn.Module]:
    """Models with different init seeds, trained on the same batches with the summed loss."""
    models = []
    for s in seeds:
        torch.manual_seed(s)
        models.append(make_model(kind, width))
    params = [p for m in models for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 64):
            b = perm[i : i + 64]
            loss = sum(F.cross_entropy(m(x[b]), y[b]) for m in models)
            opt.zero_grad()
            loss.backward()
            opt.step()
    for m in models:
        m.eval()
    return models


def logits_of(models: list[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """(M, B, 1, 10): the layout ``textkl.score.pair_stats`` expects (T = 1)."""
    return torch.stack([m(x) for m in models]).unsqueeze(2)


def optimise_inputs(models: list[nn.Module], attack: list[int], n: int, steps: int,
                    seed: int, stop_at: float | None = None,
                    trace: list | None = None) -> torch.Tensor:
    """Start from uniform noise; minimise the summed entropy of the models in ``attack``.

    With ``stop_at`` an input stops moving as soon as every attacked model gives it a max
    softmax probability of at least ``stop_at`` (the least optimisation that makes it a
    "confident digit"). ``trace`` collects (step, mean MSP of A, of B, A/B agreement, median KL).
    """
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.rand(n, 1, 8, 8, generator=gen)
    z = torch.logit(x0.clamp(0.02, 0.98)).requires_grad_(True)
    opt = torch.optim.Adam([z], lr=0.1)
    for p in (p for m in models for p in m.parameters()):
        p.requires_grad_(False)
    for step in range(steps + 1):
        x = torch.sigmoid(z)  # pixels stay in [0, 1]
        probs = [F.softmax(m(x), -1) for m in models]
        if trace is not None and step in (0, 2, 5, 10, 20, 50, 100, 200, 300, 500):
            s = scores(models, x.detach())
            trace.append({"step": step, "msp_A": float(s["msp_A"].mean()),
                          "msp_B": float(s["msp_B"].mean()),
                          "agree": float((s["pred_A"] == s["pred_B"]).mean()),
                          "median_kl": float(np.median(s["self_kl"]))})
        if step == steps:
            break
        ent = sum(-(probs[i] * probs[i].clamp_min(1e-12).log()).sum(-1) for i in attack)  # (n,)
        if stop_at is not None:
            done = torch.stack([probs[i].amax(-1) >= stop_at for i in attack]).all(0)
            ent = ent * (~done)
        opt.zero_grad()
        ent.sum().backward()
        opt.step()
    return torch.sigmoid(z).detach()


@torch.no_grad()
def scores(models: list[nn.Module], x: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-input scores (higher = more foreign) and predictions."""
    from textkl.score import pair_stats

    logits = logits_of(models, x)  # (2, B, 1, 10)
    dummy = torch.zeros(x.shape[0], 1, dtype=torch.int64)
    kl, _, _ = pair_stats(logits, dummy)
    p = logits.softmax(-1)[:, :, 0]  # (2, B, 10)
    ent_a = -(p[0] * p[0].clamp_min(1e-12).log()).sum(-1)
    return {"self_kl": kl[:, 0].numpy(), "one_minus_msp_A": (1 - p[0].amax(-1)).numpy(),
            "entropy_A": ent_a.numpy(), "pred_A": p[0].argmax(-1).numpy(),
            "pred_B": p[1].argmax(-1).numpy(), "msp_A": p[0].amax(-1).numpy(),
            "msp_B": p[1].amax(-1).numpy()}


def run(epochs: int, n_opt: int, opt_steps: int, seed: int = 0, kind: str = "cnn",
        width: int | None = None) -> dict:
    """Train, attack and measure; returns rows for the table plus examples for the figure."""
    xtr, ytr, xte, yte = load_digits_split(seed)
    models = train_joint(xtr, ytr, epochs, kind=kind, width=width)
    trace: list[dict] = []
    sets = {"held-out digits": xte,
            "uniform noise": torch.rand(n_opt, 1, 8, 8,
                                        generator=torch.Generator().manual_seed(seed + 7)),
            "optimised for A until MSP_A >= 0.99": optimise_inputs(models, [0], n_opt, opt_steps,
                                                                   seed + 1, stop_at=0.99),
            "optimised for A": optimise_inputs(models, [0], n_opt, opt_steps, seed + 1,
                                               trace=trace),
            "optimised for A and B": optimise_inputs(models, [0, 1], n_opt, opt_steps, seed + 2)}
    sc = {k: scores(models, v) for k, v in sets.items()}
    acc = [float((sc["held-out digits"][f"pred_{c}"] == yte.numpy()).mean()) for c in "AB"]
    rows = []
    for k, s in sc.items():
        row = {"inputs": k, "n": len(s["self_kl"]), "median_kl": float(np.median(s["self_kl"])),
               "mean_msp_A": float(s["msp_A"].mean()), "mean_msp_B": float(s["msp_B"].mean()),
               "A_B_agree": float((s["pred_A"] == s["pred_B"]).mean())}
        if k != "held-out digits":
            ref = sc["held-out digits"]
            for name in ("self_kl", "one_minus_msp_A", "entropy_A"):
                row[f"AUROC {name}"] = _lib.auroc(ref[name], s[name])
        rows.append(row)
    return {"accuracy": acc, "rows": rows, "trace": trace,
            "sets": {k: v.numpy() for k, v in sets.items()}, "scores": sc}


def figures(out: dict, name: str = NAME) -> list[str]:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = list(out["sets"])
    n_ex = 6
    titles = []
    for k in names:
        s = out["scores"][k]
        for i in range(n_ex):
            titles.append(f"A:{s['pred_A'][i]} ({s['msp_A'][i]:.2f}) B:{s['pred_B'][i]} "
                          f"({s['msp_B'][i]:.2f})<br>KL {s['self_kl'][i]:.2f}")
    fig = make_subplots(rows=len(names), cols=n_ex, subplot_titles=titles,
                        vertical_spacing=0.08, horizontal_spacing=0.02)
    for r, k in enumerate(names, 1):
        for c in range(n_ex):
            fig.add_heatmap(z=out["sets"][k][c, 0][::-1], colorscale="gray_r", showscale=False,
                            zmin=0, zmax=1, row=r, col=c + 1)
        fig.update_yaxes(title_text=k, row=r, col=1)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.update_annotations(font_size=9)
    fig.update_layout(title="8x8 digits: predictions (confidence) of models A and B, self-KL",
                      height=230 * len(names), width=1000)
    paths = _lib.write_figure(fig, name, "examples")
    hist = go.Figure()
    for k in names:
        hist.add_histogram(x=np.log10(out["scores"][k]["self_kl"] + 1e-6), name=k, opacity=0.6,
                           nbinsx=40)
    hist.update_layout(barmode="overlay", title="Self-KL of the two CNNs",
                       xaxis_title="log10 KL (nats)")
    return paths + _lib.write_figure(hist, name, "kl_hist")


def main(argv: list[str] | None = None) -> dict:
    ap = _lib.parser(__doc__)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--model-kind", default="cnn", choices=["cnn", "mlp"])
    ap.add_argument("--width", type=int, default=None, help="CNN channels / MLP units")
    args = _lib.parse(ap, argv, NAME)
    t0 = time.perf_counter()
    epochs = args.epochs or (3 if args.quick else 30)
    out = run(epochs, n_opt=64 if args.quick else 400, opt_steps=50 if args.quick else 300,
              kind=args.model_kind, width=args.width)
    figs = figures(out, args.name)
    res = {"config": {"epochs": epochs, "quick": args.quick, "model_kind": args.model_kind,
                      "width": args.width}, "test_accuracy": out["accuracy"],
           "rows": out["rows"], "trace_optimised_for_A": out["trace"], "figures": figs,
           "seconds": round(time.perf_counter() - t0, 1), "machine": machine()}
    write_results(args.name, res)
    print(table(out["rows"], ["inputs", "n", "median_kl", "mean_msp_A", "mean_msp_B",
                              "A_B_agree", "AUROC self_kl", "AUROC one_minus_msp_A",
                              "AUROC entropy_A"]))
    print()
    print(table(out["trace"], ["step", "msp_A", "msp_B", "agree", "median_kl"]))
    print(f"\ntest accuracy A {out['accuracy'][0]:.3f}, B {out['accuracy'][1]:.3f}")
    return res


if __name__ == "__main__":
    main()
