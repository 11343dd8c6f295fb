"""The relation family's shape: inference never imports training; the registry reaches training
only when asked to train. Read with `ast` (nothing is imported), function bodies included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RELATIONS = Path(__file__).resolve().parents[2] / "tasks" / "relations"
TRAINING = ("litmine.tasks.relations.training", "litmine.tasks.training")
INFERENCE = sorted(p for p in RELATIONS.glob("*.py") if p.name not in ("__init__.py", "registry.py"))


def litmine_imports(tree: ast.AST) -> set[str]:
    """Absolute module names imported anywhere in `tree` (the package uses absolute imports)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return {name for name in found if name.startswith("litmine")}


def test_every_method_has_an_inference_and_a_training_module():
    for method in ("linear", "encoder", "document", "stacked"):
        assert (RELATIONS / f"{method}.py").is_file(), method
        assert (RELATIONS / "training" / f"{method}.py").is_file(), method


@pytest.mark.parametrize("path", INFERENCE, ids=lambda p: p.name)
def test_inference_never_imports_training(path):
    imported = litmine_imports(ast.parse(path.read_text()))
    assert not [m for m in imported if m.startswith(TRAINING)], imported


def test_registry_imports_training_only_to_train():
    tree = ast.parse((RELATIONS / "registry.py").read_text())
    at_module_level = litmine_imports(ast.Module(body=[n for n in tree.body
                                                       if isinstance(n, (ast.Import, ast.ImportFrom))],
                                                 type_ignores=[]))
    assert not [m for m in at_module_level if m.startswith(TRAINING)]
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    reaching = {name for name, fn in functions.items()
                if any(m.startswith(TRAINING) for m in litmine_imports(fn))}
    assert reaching == {"train_relations"}
