"""int8 against float32 for the scorer's LSTM step, on this CPU.

The recurrence is most of the scoring time (docs/benchmarks.md). This times one LSTM layer
at the scorer's shapes (a block of 64 time steps, 128 windows, the embedded pairs' input
and hidden sizes) on one torch thread, as each model's thread runs it: float32 (oneDNN)
against torch's dynamic int8 quantisation of the same layer (int8 weights, activations
quantised per step; fbgemm). Prints the CPU and a table; writes
runs/exp_int8_lstm/results.json.

    python scripts/experiments/exp_int8_lstm.py
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import machine, table, write_results  # noqa: E402


def steps_per_second(fn, x: torch.Tensor, repeat: int) -> float:
    with torch.inference_mode():
        fn(x)
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            fn(x)
            best = min(best, time.perf_counter() - t)
    return x.shape[0] * x.shape[1] / best


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rows = []
    for d_in, hidden in ((32, 128), (32, 64)):
        for batch in (128, 512):
            lstm = torch.nn.LSTM(d_in, hidden).eval()
            with warnings.catch_warnings():  # torch.ao's deprecation notice
                warnings.simplefilter("ignore")
                from torch.ao.nn.quantized import dynamic as nnqd
                from torch.ao.quantization import default_dynamic_qconfig

                # quantize_dynamic(lstm, {nn.LSTM}) returns the float module unchanged in
                # torch 2.13: convert the layer itself, and check that it was converted
                lstm.qconfig = default_dynamic_qconfig
                q = nnqd.LSTM.from_float(lstm)
            assert isinstance(q, nnqd.LSTM), type(q)
            x = torch.randn(64, batch, d_in)
            fp32 = steps_per_second(lstm, x, 20)
            int8 = steps_per_second(q, x, 20)
            with torch.inference_mode():
                err = (lstm(x)[0] - q(x)[0]).abs().max().item()
            rows.append({"d_in": d_in, "hidden": hidden, "batch": batch,
                         "fp32_steps_per_s": round(fp32), "int8_steps_per_s": round(int8),
                         "int8_speedup": round(int8 / fp32, 2),
                         "max_abs_hidden_diff": round(err, 4)})
    info = machine()
    print(f"CPU: {info['cpu']['model']}, flags: {' '.join(info['cpu']['flags']) or '-'}; "
          f"torch {torch.__version__}, 1 thread")
    print(table(rows, list(rows[0])))
    print(f"wrote {write_results('exp_int8_lstm', {'machine': info, 'rows': rows})}")


if __name__ == "__main__":
    main()
