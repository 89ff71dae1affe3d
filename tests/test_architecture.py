"""The package's layers, read from its source: no import cycles, torch stops at the scorer.

Every import counts, at module level or inside a function, except those under
``if TYPE_CHECKING:`` (never executed). docs/architecture.md draws the same map.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "textkl"
# after the scorer everything is numpy: these modules must not import torch
NUMPY_ONLY = {"numerics", "spans", "finders", "regions", "segment", "chunked", "calibrate",
              "lexicon", "report", "filter", "vocab", "errors", "io"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts) or "__init__"


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(textkl modules, top-level external packages) that ``path`` imports when it runs."""
    name = _module_name(path)
    package = name.rsplit(".", 1)[0] if "." in name else ""
    if path.name == "__init__.py":
        package = name if name != "__init__" else ""
    ours, theirs = set(), set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".") if package else []
                    base = base[: len(base) - (child.level - 1)] if child.level > 1 else base
                    target = ".".join([*base, *([child.module] if child.module else [])])
                    if child.module:
                        ours.add(target)
                    else:  # from . import x
                        ours.update(".".join([*base, a.name]) for a in child.names)
                elif child.module and child.module.split(".")[0] == "textkl":
                    ours.add(child.module.removeprefix("textkl").lstrip(".") or "__init__")
                elif child.module:
                    theirs.add(child.module.split(".")[0])
            elif isinstance(child, ast.Import):
                for a in child.names:
                    if a.name.split(".")[0] == "textkl":
                        ours.add(a.name.removeprefix("textkl").lstrip(".") or "__init__")
                    else:
                        theirs.add(a.name.split(".")[0])
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    ours.discard(name)
    return {m for m in ours if m}, theirs


def _graph() -> dict[str, set[str]]:
    mods = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in mods.items():
        ours, _ = _imports(path)
        # "from .integrations import x" may name a module or an attribute of a package
        graph[name] = {m if m in mods else m.rsplit(".", 1)[0] for m in ours}
        graph[name] = {m for m in graph[name] if m in mods and m != name}
    return graph


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    assert "segment" in graph and "finders" in graph["segment"]  # the map was read


def test_torch_stops_at_the_scorer():
    for name in NUMPY_ONLY:
        _, theirs = _imports(PACKAGE / f"{name}.py")
        assert "torch" not in theirs, f"textkl.{name} imports torch"


def test_the_cycle_check_can_fail(tmp_path, monkeypatch):
    """The checker itself: a package whose two modules import each other is caught."""
    pkg = tmp_path / "textkl"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from .b import g\n")
    (pkg / "b.py").write_text("from .a import f\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    try:
        test_no_import_cycles()
    except AssertionError as e:
        assert "import cycle" in str(e)
    else:
        raise AssertionError("the cycle between a and b was not found")
