"""The layout holds: packages import each other without cycles, the ground and monit import no
wing, and no module or class grows past what a reader takes in at once (the benchmarks and the
harness included: issue 24).

Read from the source with :mod:`ast` (nothing is imported), so a lazy import
inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WINGS = ("engine.fsmonitor", "engine.startup", "engine.supervise", "engine.cli")
MAX_MODULE_LINES = 330
MAX_CLASS_LINES = 150
SIZED = ("engine", "monit", "bench", "harness")  # held to the size rules; the import rules are the engine's


def _modules(tops: tuple[str, ...] = ("engine", "monit")) -> Iterator[tuple[str, Path]]:
    for top in tops:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def _package(module: str) -> str:
    """The package a module belongs to: a wing, the engine's ground, or monit."""
    for wing in WINGS:
        if module == wing or module.startswith(wing + "."):
            return wing
    return module.split(".")[0]  # "engine" (the ground) or "monit"


def _imports(module: str, path: Path) -> set[str]:
    """Every engine/monit module ``path`` imports, at any depth of its code."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from engine import x`
    known = {name for name, _ in _modules()}
    return {name for name in found if name in known and name != module}


def _graph() -> dict[str, set[str]]:
    """package -> the packages it imports (itself left out)."""
    graph: dict[str, set[str]] = {}
    for module, path in _modules():
        package = _package(module)
        targets = {_package(m) for m in _imports(module, path)}
        graph.setdefault(package, set()).update(targets - {package})
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path, or None."""
    done: set[str] = set()

    def visit(node: str, trail: list[str]) -> list[str] | None:
        if node in trail:
            return [*trail[trail.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph.get(node, ())):
            found = visit(target, [*trail, node])
            if found:
                return found
        done.add(node)
        return None

    for node in sorted(graph):
        found = visit(node, [])
        if found:
            return found
    return None


def test_the_graph_is_read() -> None:
    graph = _graph()
    assert "engine" in graph["engine.fsmonitor"]  # the wings use the ground: the reader works
    assert set(WINGS) <= set(graph)


def test_no_cycle_between_packages() -> None:
    assert _cycle(_graph()) is None


def test_no_cycle_between_modules() -> None:
    graph = {module: _imports(module, path) for module, path in _modules()}
    # a package's __init__ is imported by its own modules (Python does it): not an edge of ours
    graph = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}
    assert _cycle(graph) is None


@pytest.mark.parametrize("leaf", ["engine", "monit"])
def test_the_ground_and_monit_import_no_wing(leaf: str) -> None:
    assert not _graph()[leaf] & set(WINGS)


def test_the_cycle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_modules_are_short() -> None:
    long = {
        m: n
        for m, p in _modules(SIZED)
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_classes_are_short() -> None:
    long = {}
    for module, path in _modules(SIZED):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                assert node.end_lineno is not None
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if node.end_lineno - start + 1 > MAX_CLASS_LINES:
                    long[f"{module}.{node.name}"] = node.end_lineno - start + 1
    assert not long, f"classes over {MAX_CLASS_LINES} lines: {long}"
