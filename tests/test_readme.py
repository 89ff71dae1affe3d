"""The README's commands run as written.

Convention (also stated in the README's Development section):

- Every fenced block tagged ``bash`` or ``python`` is a command to run. It runs in a fresh
  temporary directory with this interpreter's ``bin/`` first on ``PATH`` (so ``textkl`` and
  ``python`` are the project's), under ``bash -e -o pipefail`` or ``python``, with a time
  limit. It must exit 0, and every file that a ``textkl`` command in it writes (``-o``,
  ``--out``, ``--json``, ``--html``, ``--tsv``, ``--npz``, ``--keep``, ``--reject``) or that a
  ``>`` redirect names must exist afterwards.
- A block whose first line is ``# needs: A, B`` runs only where every need is met:
  ``checkout`` (runs from the repository root instead of a temporary directory),
  ``datatrove`` and ``ray`` (the extras, which ``make test`` installs) always are;
  ``corpora`` (``$TEXTKL_CORPORA`` points at the corpora), ``network`` and ``minutes``
  (takes minutes) only when listed in ``$TEXTKL_README_NEEDS`` (comma-separated). Blocks
  whose needs are not met are not collected as tests (nothing is skipped).
- Blocks tagged ``text`` show output and are never run. No other tag is allowed, so that a
  command cannot hide behind an unknown tag.

Besides, run or not: every option given to a ``textkl`` command anywhere in the README must
be one of that command's options, every visible option of a command must appear in the
README's "Command line" section, and the ``textkl.X(...)`` and ``pair.X(...)`` calls of the
python blocks must match the API's signatures.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
RUN_TAGS = ("bash", "python")
SHOW_TAGS = ("text",)
NEEDS = ("corpora", "network", "minutes", "checkout", "datatrove", "ray")
TIMEOUT_S = 300  # one block (Ray starting its workers included), on a loaded 2-core machine
SLOW_TIMEOUT_S = 3600  # blocks that need "minutes"
OUTPUT_FLAGS = ("-o", "--out", "--json", "--html", "--tsv", "--npz", "--keep", "--reject")
FENCE = re.compile(r"^```(\S*)[ \t]*$")


@dataclass(frozen=True)
class Block:
    tag: str
    code: str
    line: int  # line of the opening fence, 1-based

    @property
    def needs(self) -> tuple[str, ...]:
        first = self.code.split("\n", 1)[0].strip()
        m = re.fullmatch(r"#\s*needs:\s*(.+)", first)
        return tuple(n.strip() for n in m.group(1).split(",")) if m else ()

    @property
    def name(self) -> str:
        return f"README.md:{self.line}:{self.tag}"


def readme_blocks(text: str) -> list[Block]:
    """Every fenced code block of a Markdown text, in order."""
    blocks, open_at, tag, body = [], None, "", []
    for i, line in enumerate(text.splitlines(), start=1):
        m = FENCE.match(line)
        if open_at is None and m:
            open_at, tag, body = i, m.group(1), []
        elif open_at is not None and line.strip() == "```":
            blocks.append(Block(tag, "\n".join(body) + "\n", open_at))
            open_at = None
        elif open_at is not None:
            body.append(line)
    assert open_at is None, f"README.md:{open_at}: unclosed code block"
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))
RUNNABLE = [b for b in BLOCKS if b.tag in RUN_TAGS]


def shell_lines(code: str) -> list[list[str]]:
    """The shell words of each logical line of a bash block (continuations joined)."""
    out = []
    for line in code.replace("\\\n", " ").splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:  # a quote that spans lines (python -c '...'): not a textkl line
            continue
        if words:
            out.append(words)
    return out


def written_files(code: str) -> list[str]:
    """Files a bash block claims to write: textkl output options and ``>`` redirects."""
    files = []
    for words in shell_lines(code):
        is_textkl = "textkl" in words
        for i, w in enumerate(words):
            nxt = words[i + 1] if i + 1 < len(words) else None
            if is_textkl and w in OUTPUT_FLAGS and nxt:
                files.append(nxt)
            elif is_textkl and w.startswith(tuple(f + "=" for f in OUTPUT_FLAGS if f[1] == "-")):
                files.append(w.split("=", 1)[1])
            elif w in (">", ">>") and nxt:
                files.append(nxt)
            elif re.fullmatch(r">>?[^&>].*", w):
                files.append(w.lstrip(">"))
    return [f for f in files if f != "-" and "$" not in f]


def test_blocks_are_found_and_tagged():
    assert len(RUNNABLE) >= 5, "the README lost its commands"
    for b in BLOCKS:
        assert b.tag in RUN_TAGS + SHOW_TAGS, (
            f"{b.name}: tag the block bash or python (run) or text (output), not {b.tag!r}")
        for need in b.needs:
            assert need in NEEDS, f"{b.name}: unknown need {need!r}; known: {NEEDS}"


def test_some_blocks_run_without_needs():
    free = [b for b in RUNNABLE if not b.needs]
    assert {b.tag for b in free} == set(RUN_TAGS), "need bash and python blocks that run here"


ENABLED = {"checkout", "datatrove", "ray"} | {
    n.strip() for n in os.environ.get("TEXTKL_README_NEEDS", "").split(",") if n.strip()}
if not os.environ.get("TEXTKL_CORPORA"):
    ENABLED.discard("corpora")
SELECTED = [b for b in RUNNABLE if set(b.needs) <= ENABLED]


@pytest.mark.parametrize("block", SELECTED, ids=[b.name for b in SELECTED])
def test_readme_block_runs(block: Block, tmp_path: Path):
    cwd = ROOT if "checkout" in block.needs else tmp_path
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "TEXTKL_README_NEEDS": "",  # a README test started by a block runs no slow blocks
           "TEXTKL_CACHE": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    argv = (["bash", "-e", "-o", "pipefail", "-c", block.code] if block.tag == "bash"
            else [sys.executable, "-c", block.code])
    timeout = SLOW_TIMEOUT_S if "minutes" in block.needs else TIMEOUT_S
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{block.name}: still running after {timeout} s")
    assert proc.returncode == 0, (
        f"{block.name} exited {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}"
        f"\n--- stderr\n{proc.stderr[-3000:]}")
    if block.tag == "bash":
        for f in written_files(block.code):
            assert (cwd / f).exists(), f"{block.name}: claims to write {f}, which is missing"


def test_python_blocks_call_what_exists():
    """Every python block compiles, and its calls of ``textkl.X(...)`` and ``pair.X(...)``
    use functions and keywords that exist (this also covers blocks that are not run)."""
    import ast
    import inspect

    import textkl
    from textkl.pair import Pair

    owners = {"textkl": textkl, "pair": Pair}
    bad = []
    for b in BLOCKS:
        if b.tag != "python":
            continue
        for node in ast.walk(ast.parse(b.code, filename=b.name)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in owners):
                continue
            owner, attr = node.func.value.id, node.func.attr
            fn = getattr(owners[owner], attr, None)
            if fn is None:
                bad.append(f"{b.name}: {owner}.{attr} does not exist")
                continue
            params = inspect.signature(fn).parameters
            if any(p.kind is p.VAR_KEYWORD for p in params.values()):
                continue
            bad += [f"{b.name}: {owner}.{attr}() has no keyword {k.arg!r}"
                    for k in node.keywords if k.arg and k.arg not in params]
    assert not bad, "\n".join(bad)


# ---------------------------------------------------------------- options against the CLI


def _commands():
    """textkl's click commands by name; groups' subcommands as "group sub"."""
    from textkl.cli import cli

    out = {}
    for name, cmd in cli.commands.items():
        subs = getattr(cmd, "commands", None)
        if subs:
            out.update({f"{name} {s}": c for s, c in subs.items()})
        else:
            out[name] = cmd
    return out


def _option_names(cmd, visible_only: bool = False) -> set[str]:
    names = {"-h", "--help"}
    for p in cmd.params:
        if p.param_type_name == "option" and not (visible_only and p.hidden):
            names.update(p.opts)
            names.update(p.secondary_opts)
    return names


def readme_invocations(text: str) -> list[tuple[str, list[str]]]:
    """(command, option words) of every textkl invocation in the README's code.

    Looks in shell blocks and in inline code spans (the Command line table), and stops
    reading an invocation at a shell operator or a closing ``$(...)``.
    """
    sources = [b.code for b in readme_blocks(text) if b.tag == "bash"]
    sources += [s.replace("\\|", "|") for s in re.findall(r"`(textkl [^`]+)`", text)]
    known = _commands()
    found = []
    while sources:
        for words in shell_lines(sources.pop()):
            for i, w in enumerate(words):
                if w.startswith("$(") and w.endswith(")"):  # "$(textkl corpus fetch ...)"
                    sources.append(w[2:-1])
                if w != "textkl":
                    continue
                rest = words[i + 1:]
                if len(rest) >= 2 and f"{rest[0]} {rest[1]}" in known:
                    name, rest = f"{rest[0]} {rest[1]}", rest[2:]
                elif rest and rest[0] in known:
                    name, rest = rest[0], rest[1:]
                else:
                    continue
                opts = []
                for r in rest:
                    if r in ("|", "||", "&&", ";", ">", ">>"):
                        break
                    # "[--a|--b]", "[-o", "--x=1": the options of a word, brackets dropped
                    for piece in r.strip("[]").split("|"):
                        m = re.fullmatch(r"(--?[a-zA-Z][\w-]*)(=.*)?", piece)
                        if m:
                            opts.append(m.group(1))
                found.append((name, opts))
    return found


def test_readme_options_exist():
    text = README.read_text(encoding="utf-8")
    known = _commands()
    calls = readme_invocations(text)
    assert {name for name, _ in calls} >= {"score", "segment", "filter", "train", "demo"}
    bad = [f"textkl {name} {o}" for name, opts in calls for o in opts
           if o not in _option_names(known[name])]
    assert not bad, f"options the CLI does not have: {bad}"


def test_command_line_section_lists_every_option():
    text = README.read_text(encoding="utf-8")
    m = re.search(r"^## Command line\n(.*?)(?=^## )", text, re.M | re.S)
    assert m, "README has no '## Command line' section"
    section = m.group(1)
    documented: dict[str, set[str]] = {}
    for name, opts in readme_invocations(section):
        documented.setdefault(name, set()).update(opts)
    missing = []
    for name, cmd in _commands().items():
        for p in cmd.params:
            if p.param_type_name != "option" or p.hidden:
                continue
            if not any(o in documented.get(name, ()) for o in p.opts + p.secondary_opts):
                missing.append(f"textkl {name} {p.opts[-1]}")
    assert not missing, f"the Command line section lacks: {missing}"


DOCS = sorted((ROOT / "docs").glob("*.md"))


def _script_options(script: Path) -> set[str]:
    """The long options a script's argparse parser accepts, read from its ``--help``."""
    out = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                         text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, f"{script.name} --help failed: {out.stderr[-500:]}"
    return set(re.findall(r"(--[a-zA-Z][\w-]*)", out.stdout))


def test_docs_commands_name_what_exists():
    """The commands in docs/ (benchmarks need corpora and minutes, so they are not run
    here): each ``python scripts/X.py`` exists and accepts the options it is given, and
    each ``textkl`` invocation uses options its command has."""
    known = _commands()
    bad, checked = [], 0
    helps: dict[Path, set[str]] = {}
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for name, opts in readme_invocations(text):
            bad += [f"{doc.name}: textkl {name} {o}" for o in opts
                    if o not in _option_names(known[name])]
        for m in re.finditer(r"python (scripts/[\w/]+\.py)((?: +[^`\n|]*)?)", text):
            script = ROOT / m.group(1)
            if not script.exists():
                bad.append(f"{doc.name}: {m.group(1)} does not exist")
                continue
            if script not in helps:
                helps[script] = _script_options(script)
            checked += 1
            given = re.findall(r"(?<!\S)(--[a-zA-Z][\w-]*)", m.group(2))
            bad += [f"{doc.name}: {m.group(1)} {o}" for o in given if o not in helps[script]]
    assert checked >= 5, "docs/ lost its commands"
    assert not bad, "\n".join(bad)
