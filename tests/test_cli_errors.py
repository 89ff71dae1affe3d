"""A new user's first hour: the documented API, progress bars, signals, errors vs bugs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import textkl
from textkl.cli import BUG, cli

DEMO = str(resources.files("textkl") / "data" / "demo.txt")
TEXTKL = [sys.executable, "-m", "textkl.cli"]


def _stderr_lines(res) -> list[str]:
    return [ln for ln in res.stderr.splitlines() if ln.strip()]


def test_top_level_train_and_load_stay_functions(tmp_path, english_text):
    import textkl.training  # noqa: F401  (the submodule must not replace the function)

    assert callable(textkl.train) and callable(textkl.load)
    book = tmp_path / "book.txt"
    book.write_text(english_text[:20_000], encoding="utf-8")
    first = textkl.train([book], steps=5, d_model=16, batch_size=8, seed=1, device="cpu",
                         progress=False)
    second = textkl.train(str(book), steps=5, d_model=16, batch_size=8, seed=1, device="cpu",
                          progress=False)
    assert first.config.d_model == 16 and first.meta["steps"] == 5
    a, b = first.score("The harbour was quiet."), second.score("The harbour was quiet.")
    np.testing.assert_allclose(a.kl, b.kl, equal_nan=True)  # same seed, same pair
    assert callable(textkl.train)


def test_train_takes_the_cli_option_names():
    import inspect

    params = set(inspect.signature(textkl.train).parameters)
    cli_names = {p.name for p in cli.commands["train"].params} - {"out", "quiet"}
    cli_names = {"models" if n == "n_models" else n for n in cli_names}
    assert cli_names <= params, cli_names - params
    assert "Example" in textkl.train.__doc__ and "Example" in textkl.load.__doc__


@pytest.mark.parametrize("command", ["score", "segment", "filter", "train"])
@pytest.mark.parametrize("case", ["missing", "directory", "binary", "latin1"])
def test_bad_paths_give_one_line_and_no_output(command, case, tmp_path, tiny_pair_path):
    path = {"missing": tmp_path / "nope.txt", "directory": tmp_path}.get(case)
    if path is None:
        path = tmp_path / "in.txt"
        path.write_bytes(b"\x00\x01\x02binary" if case == "binary" else "café".encode("latin-1"))
    out = tmp_path / "out.json"
    args = {"score": ["score", str(path), "--json", str(out), "-m", str(tiny_pair_path)],
            "segment": ["segment", str(path), "--json", str(out), "-m", str(tiny_pair_path)],
            "filter": ["filter", str(path), "--keep", str(out), "--reject",
                       str(tmp_path / "rej.jsonl"), "-m", str(tiny_pair_path)],
            "train": ["train", str(path), "-o", str(out), "--steps", "1"]}[command]
    res = CliRunner().invoke(cli, args)
    lines = _stderr_lines(res)
    if command == "filter" and case in ("binary", "latin1"):  # documented: a rejected line
        assert res.exit_code == 0 and "rejected 1" in res.stderr, res.output
        assert "invalid_utf8" in (tmp_path / "rej.jsonl").read_text() or case == "binary"
        return
    assert res.exit_code == 1, res.output
    assert len(lines) == 1 and lines[0].startswith("textkl: error:"), res.stderr
    assert "Traceback" not in res.output
    assert not out.exists() and not (tmp_path / "rej.jsonl").exists()
    assert not list(tmp_path.glob(".*.part"))


@pytest.mark.parametrize("command", ["score", "segment"])
def test_corrupt_model_gives_one_line(command, tmp_path, tiny_pair_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(Path(tiny_pair_path).read_bytes()[:5000])
    out = tmp_path / "o.json"
    res = CliRunner().invoke(cli, [command, DEMO, "-m", str(bad), "--json", str(out)])
    assert res.exit_code == 1
    assert len(_stderr_lines(res)) == 1 and "not a readable textkl model file" in res.stderr
    assert not out.exists()


def test_no_progress_bar_when_stderr_is_not_a_terminal(tiny_pair_path, tmp_path):
    out = tmp_path / "o.json"
    res = CliRunner().invoke(cli, ["score", DEMO, "-m", str(tiny_pair_path), "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "\r" not in res.stderr and len(_stderr_lines(res)) == 1  # the summary alone
    forced = CliRunner().invoke(cli, ["score", DEMO, "-m", str(tiny_pair_path), "--progress"])
    assert forced.exit_code == 0 and "\r" in forced.stderr and "score" in forced.stderr
    quiet = CliRunner().invoke(cli, ["segment", DEMO, "-m", str(tiny_pair_path)])
    assert quiet.exit_code == 0 and "\r" not in quiet.stderr
    bar = CliRunner().invoke(cli, ["segment", DEMO, "-m", str(tiny_pair_path), "--progress"])
    assert bar.exit_code == 0 and "\r" in bar.stderr and "segment" in bar.stderr


def test_interrupt_exits_130_with_one_line(monkeypatch, tmp_path):
    import textkl.cli

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(textkl.cli, "load_pair", interrupted)
    res = CliRunner().invoke(cli, ["score", DEMO, "--json", str(tmp_path / "o.json")])
    assert res.exit_code == 130 and _stderr_lines(res) == ["textkl: error: interrupted"]
    assert not (tmp_path / "o.json").exists()


_READ = {"x86_64": "0", "aarch64": "63"}  # the read syscall's number


def _reading_stdin(pid: int, timeout: float = 120.0) -> bool | None:
    """Wait until the process's main thread is blocked in ``read(0, ...)``
    (``/proc/PID/syscall``: number and first argument); None where the kernel does not
    say. A wait on any pipe is not enough: start-up code reads the pipes of the
    subprocesses it runs (``ldconfig -p``), and some swallow a KeyboardInterrupt there."""
    import platform

    number = _READ.get(platform.machine())
    deadline = time.monotonic() + timeout
    while number is not None and time.monotonic() < deadline:
        try:
            fields = Path(f"/proc/{pid}/syscall").read_text().split()
        except OSError:
            return None
        if fields[:2] == [number, "0x0"]:
            return True
        time.sleep(0.05)
    return None if number is None else False


def test_real_sigint_while_reading_stdin(tmp_path):
    out = tmp_path / "o.json"
    # a background job of a non-interactive shell (a CI script) starts with SIGINT ignored,
    # and a child inherits that: give the command the disposition a terminal would
    proc = subprocess.Popen([*TEXTKL, "segment", "-", "--json", str(out)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # past the interpreter's start-up (slow on a fresh checkout: imports compile), the
    # command waits on stdin; a signal during the imports would test something else
    waiting = _reading_stdin(proc.pid)
    if waiting is None:
        time.sleep(15)
    else:
        assert waiting, "the command never waited on stdin"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.decode().strip().splitlines() == ["textkl: error: interrupted"]
    assert not out.exists()


def test_closed_pipe_exits_quietly():
    proc = subprocess.Popen([*TEXTKL, "score", DEMO, "--tsv", "-"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.wait(timeout=120)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception" not in err


def test_a_bug_shows_its_traceback_and_says_so(monkeypatch, tmp_path):
    import textkl.cli

    def broken(*_a, **_k):
        raise ValueError("an internal invariant")  # not a TextklError: a bug

    monkeypatch.setattr(textkl.cli, "load_pair", broken)
    res = CliRunner().invoke(cli, ["score", DEMO])
    assert res.exit_code == 2
    assert "Traceback" in res.stderr and "an internal invariant" in res.stderr
    assert BUG in res.stderr


def test_bad_settings_are_user_errors_and_value_errors():
    from textkl.errors import SettingError
    from textkl.score import ScoreConfig

    with pytest.raises(SettingError, match="stride"):
        ScoreConfig(stride=0)
    with pytest.raises(ValueError):  # still a ValueError for library callers
        ScoreConfig(batch_size=0)


def test_bf16_matches_fp32_within_tolerance():
    """bfloat16 where the CPU runs it, float32 (with a notice) where it does not.

    Documented tolerance: mean |KL difference| <= 0.03 nats (the demo's mean KL is about
    0.47) and correlation >= 0.99. Rounding the weights alone to bfloat16 moves the KL by
    0.003 nats on average, so real bfloat16 arithmetic has room within it.
    """
    pair = textkl.load()
    text = Path(DEMO).read_text(encoding="utf-8")
    a = pair.score(text)
    b = pair.score(text, dtype=torch.bfloat16)
    ok = ~np.isnan(a.kl)
    assert np.array_equal(ok, ~np.isnan(b.kl))
    assert np.abs(a.kl[ok] - b.kl[ok]).mean() <= 0.03
    assert np.corrcoef(a.kl[ok], b.kl[ok])[0, 1] >= 0.99


def test_bf16_fallback_is_one_notice(monkeypatch, caplog):
    from textkl import score as score_mod

    monkeypatch.setattr(score_mod, "_lstm_supports", lambda *_: False)
    monkeypatch.setattr(score_mod.supported_dtype, "warned", False, raising=False)
    pair = textkl.load()
    with caplog.at_level("WARNING", logger="textkl"):
        a = pair.score("Call me Ishmael. " * 20, dtype=torch.bfloat16)
        pair.score("Call me Ishmael. " * 20, dtype=torch.bfloat16)
    b = pair.score("Call me Ishmael. " * 20)
    np.testing.assert_array_equal(a.kl, b.kl)  # the fallback is exactly float32
    notes = [r for r in caplog.records if "float32" in r.getMessage()]
    assert len(notes) == 1


def test_precision_auto_is_bf16_only_on_a_cpu_with_amx(monkeypatch):
    from textkl import score as score_mod
    from textkl.errors import SettingError

    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr(score_mod, "_cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    assert score_mod.precision_dtype("auto", cpu) == torch.float32
    monkeypatch.setattr(score_mod, "_cpu_flags", lambda: frozenset({"avx512f", "amx_bf16"}))
    assert score_mod.precision_dtype("auto", cpu) == torch.bfloat16
    assert score_mod.precision_dtype("auto", gpu) == torch.float32  # not measured on GPUs
    assert score_mod.precision_dtype("fp32", cpu) == torch.float32
    assert score_mod.precision_dtype("bf16", gpu) == torch.bfloat16
    assert score_mod.precision_dtype("int8", cpu) == torch.qint8
    with pytest.raises(SettingError, match="precision"):
        score_mod.precision_dtype("fp16", cpu)


def test_cli_offers_every_precision():
    """The option lists its choices itself (importing torch would slow ``--help``): the
    same as the scorer's."""
    from textkl import score as score_mod

    option = next(p for p in cli.commands["score"].params if p.name == "precision")
    assert sorted(option.type.choices) == sorted(score_mod.PRECISIONS)


def test_cli_precision_auto_scores(tmp_path):
    outs = {}
    for precision in ("fp32", "auto"):
        out = tmp_path / f"{precision}.json"
        res = CliRunner().invoke(cli, ["score", DEMO, "--precision", precision, "--device",
                                       "cpu", "--json", str(out)])
        assert res.exit_code == 0, res.output
        outs[precision] = json.loads(out.read_text())
    assert outs["auto"]["text_length"] == outs["fp32"]["text_length"] > 0
    assert len(outs["auto"]["kl"]) == len(outs["fp32"]["kl"])


def test_device_auto_works_without_cuda(tmp_path):
    res = CliRunner().invoke(cli, ["score", DEMO, "--device", "auto", "--json",
                                   str(tmp_path / "o.json")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o.json").exists()


def test_unwritable_output_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = blocker / "o.json"  # a path through a regular file: the file system says no
    res = CliRunner().invoke(cli, ["score", DEMO, "--json", str(out)])
    assert res.exit_code == 1 and len(_stderr_lines(res)) == 1, res.stderr
