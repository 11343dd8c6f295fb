"""The shape of the house: no import cycles, no SQL in flows, small modules, a module map in step.

These read the sources with `ast` (nothing is imported), so function-local imports count too.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Source folders and the package each installs as (pyproject's package-dir).
PACKAGE_DIRS = {"litmine": ROOT / "litmine", "litmine.tasks": ROOT / "tasks", "litmine.flows": ROOT / "flows"}
MAX_MODULE_LINES = 600


def source_modules() -> dict[str, Path]:
    """Every litmine module name -> its file."""
    modules: dict[str, Path] = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([package, *parts])] = path
    return modules


def imported_modules(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The litmine modules that `name` imports anywhere in its file (function bodies included)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("litmine"):
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = source_modules()
    return {name: imported_modules(path, name, modules) for name, path in modules.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one member."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_no_import_cycles():
    cycles = strongly_connected(import_graph())
    assert not cycles, "import cycles (function-local imports included): " + "; ".join(
        " <-> ".join(c) for c in cycles)


def test_cycle_check_finds_a_cycle():
    """The checker itself: a two-module ring and a three-module ring are both reported."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert strongly_connected(graph) == [["a", "b"], ["c", "d", "e"]]


def test_dependencies_point_down():
    """tasks never import flows or the CLI; flows never import the CLI."""
    wrong = [f"{src} -> {dst}" for src, dsts in import_graph().items() for dst in dsts
             if (src.startswith("litmine.tasks") and (dst.startswith("litmine.flows") or
                                                      dst.startswith(("litmine.cli", "litmine.commands"))))
             or (src.startswith("litmine.flows") and dst.startswith(("litmine.cli", "litmine.commands")))]
    assert not wrong, wrong


SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|VIEW|INDEX))\b",
                 re.IGNORECASE | re.DOTALL)


def test_no_sql_in_flows():
    found = []
    for path in sorted((ROOT / "flows").glob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                      and n.body and isinstance(n.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                if SQL.search(node.value):
                    found.append(f"{path.name}:{node.lineno}: {node.value[:60]!r}")
    assert not found, found


def test_schema_lives_in_the_migrations():
    """Tables, views and indexes are created only by the store's schema module."""
    allowed = ROOT / "tasks" / "store" / "schema.py"
    found = [f"{path.relative_to(ROOT)}" for path in source_modules().values()
             if path != allowed and re.search(r"CREATE\s+(TABLE|VIEW|INDEX|SEQUENCE)", path.read_text())]
    assert not found, found


@pytest.mark.parametrize("name", sorted(source_modules()))
def test_module_is_small(name):
    lines = len(source_modules()[name].read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{name}: {lines} lines (a file this long usually holds two ideas)"


def packages() -> list[str]:
    return sorted(name for name, path in source_modules().items() if path.name == "__init__.py")


def test_pyproject_installs_every_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert sorted(config["tool"]["setuptools"]["packages"]) == packages()


def test_readme_module_map_matches_the_folders():
    """README's module map has one line per package, named by its folder, and nothing else."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Module map", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^- `([\w/]+)/`", section, re.MULTILINE)
    folders = []
    for name in packages():
        prefix = max((p for p in PACKAGE_DIRS if name == p or name.startswith(p + ".")), key=len)
        inner = name[len(prefix):].lstrip(".").replace(".", "/")
        folders.append(PACKAGE_DIRS[prefix].relative_to(ROOT).as_posix() + ("/" + inner if inner else ""))
    assert sorted(listed) == sorted(folders)
