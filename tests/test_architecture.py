"""The layout holds: which package may import which, no cycle, and no module or class
grows past what a reader takes in at once (the benchmarks and the harness included).

The packages are found from the folders: every folder of ``engine/`` is a wing
unless it is a floor of the ground (:data:`GROUND`).  The rules (``engine/__init__.py``
says them in words):

- a ground floor imports only the floors below it (the top, ``engine`` itself,
  imports all four);
- ``monit`` imports only the ground;
- a wing imports the ground and ``monit``, never another wing, except the
  pairs in :data:`WING_USES` (``run`` drives the start-up as its first phase).

So a new folder is a wing until it is given a floor: nothing may import it.
Read from the source with :mod:`ast` (nothing is imported), so a lazy import
inside a function counts as much as one at the top.  Each rule is shown
failing on a planted import in a copy of the tree.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GROUND = ("engine.config", "engine.fs", "engine.state", "engine.unison", "engine")  # lowest first
WING_USES = {"engine.supervise": {"engine.startup"}}
MAX_MODULE_LINES = 330
MAX_CLASS_LINES = 150
SIZED = ("engine", "monit", "bench", "harness")  # held to the size rules; the import rules are the engine's


def _modules(root: Path = ROOT, tops: tuple[str, ...] = ("engine", "monit")) -> Iterator[tuple[str, Path]]:
    for top in tops:
        for path in sorted((root / top).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def _packages(root: Path = ROOT) -> set[str]:
    """engine's folders with an ``__init__.py``, the top (``engine``) and ``monit``."""
    found = {"engine", "monit"}
    found.update("engine." + p.parent.name for p in (root / "engine").glob("*/__init__.py"))
    return found


def _wings(root: Path = ROOT) -> set[str]:
    return _packages(root) - set(GROUND) - {"monit"}


def _package(module: str, packages: set[str]) -> str:
    """The package a module belongs to: the longest package name it starts with."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in packages:
            return ".".join(parts[:n])
    return parts[0]


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
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
    # `from engine.fs import paths` names engine.fs.paths; the bare `engine.fs` it also adds is
    # the package's __init__, an edge only when nothing more precise was named
    precise = {name for name in found if name in known and name != module}
    return {n for n in precise if not any(other.startswith(n + ".") for other in precise)} or precise


def _edges(root: Path = ROOT) -> set[tuple[str, str, str]]:
    """(module, the package it is in, the package it imports), packages apart."""
    packages = _packages(root)
    known = {name for name, _ in _modules(root)}
    edges = set()
    for module, path in _modules(root):
        source = _package(module, packages)
        for target in _imports(module, path, known):
            package = _package(target, packages)
            if package != source and not module.startswith(target + "."):
                edges.add((module, source, package))
    return edges


def allowed(source: str, target: str, wings: set[str]) -> bool:
    """May package ``source`` import package ``target``?"""
    if source in GROUND:
        return target in GROUND and GROUND.index(target) < GROUND.index(source)
    if source == "monit":
        return target in GROUND
    if source in wings:
        return target in GROUND or target == "monit" or target in WING_USES.get(source, set())
    return False


def violations(root: Path = ROOT) -> list[str]:
    wings = _wings(root)
    return sorted(f"{m} ({s} -> {t})" for m, s, t in _edges(root) if not allowed(s, t, wings))


def _graph(root: Path = ROOT) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for _, source, target in _edges(root):
        graph.setdefault(source, set()).add(target)
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


def test_the_packages_are_found_from_the_folders() -> None:
    assert _wings() == {"engine.startup", "engine.supervise", "engine.fsmonitor", "engine.cli"}
    assert set(GROUND) <= _packages()


def test_the_graph_is_read() -> None:
    graph = _graph()
    assert {"engine.state", "engine.fs"} <= graph["engine.fsmonitor"]  # the wings use the ground
    assert "engine.startup" in graph["engine.supervise"]
    assert "engine.config" in graph["engine.unison"]


def test_every_import_follows_the_rules() -> None:
    assert violations() == []


def test_no_cycle_between_packages() -> None:
    assert _cycle(_graph()) is None


def test_no_cycle_between_modules() -> None:
    known = {name for name, _ in _modules()}
    graph = {module: _imports(module, path, known) for module, path in _modules()}
    # a package's __init__ is imported by its own modules (Python does it): not an edge of ours
    graph = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}
    assert _cycle(graph) is None


PLANTED = [
    ("engine/fsmonitor/planted.py", "from engine.startup import probe", "engine.fsmonitor -> engine.startup"),
    ("engine/startup/planted.py", "from engine.supervise import stop", "engine.startup -> engine.supervise"),
    ("engine/state/planted.py", "from engine.unison import reports", "engine.state -> engine.unison"),
    ("engine/config/planted.py", "from engine.fs import paths", "engine.config -> engine.fs"),
    ("engine/unison/planted.py", "from engine import health", "engine.unison -> engine"),
    ("engine/planted.py", "from engine.cli import view", "engine -> engine.cli"),
    ("monit/planted.py", "from engine.supervise import run", "monit -> engine.supervise"),
    ("engine/fs/planted.py", "import monit.loop", "engine.fs -> monit"),
    ("engine/fs/planted.py", "from engine.newroom import thing", "engine.fs -> engine.newroom"),
]


@pytest.mark.parametrize(("where", "line", "edge"), PLANTED, ids=[p[2] for p in PLANTED])
def test_a_planted_import_breaks_a_rule(tmp_path: Path, where: str, line: str, edge: str) -> None:
    for top in ("engine", "monit"):
        shutil.copytree(ROOT / top, tmp_path / top, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "engine" / "newroom").mkdir()  # a folder nobody gave a floor: a wing
    (tmp_path / "engine" / "newroom" / "__init__.py").write_text('"""New."""\n')
    (tmp_path / "engine" / "newroom" / "thing.py").write_text('"""New."""\n')
    assert violations(tmp_path) == []
    (tmp_path / where).write_text(f'"""Planted."""\n\n\ndef f() -> None:\n    {line}\n')
    assert [v for v in violations(tmp_path) if edge in v], violations(tmp_path)


def test_the_cycle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_modules_are_short() -> None:
    long = {
        m: n
        for m, p in _modules(ROOT, SIZED)
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_classes_are_short() -> None:
    long = {}
    for module, path in _modules(ROOT, SIZED):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                assert node.end_lineno is not None
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if node.end_lineno - start + 1 > MAX_CLASS_LINES:
                    long[f"{module}.{node.name}"] = node.end_lineno - start + 1
    assert not long, f"classes over {MAX_CLASS_LINES} lines: {long}"


def _imported_by_tests() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_every_module_has_a_test_that_imports_it() -> None:
    """Reached only end to end is not tested (issue 23): each module is imported by a unit test."""
    imported = _imported_by_tests()
    modules = {m for m, p in _modules() if p.name not in ("__init__.py", "__main__.py")}
    assert sorted(modules - imported) == []
