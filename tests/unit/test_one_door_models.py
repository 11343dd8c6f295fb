"""One door for models and training: `from_pretrained` only in the loader, `.backward()` only in
the training loop, one `resolve_device`, and inference that never imports training.

Like test_architecture, these read the sources as text and with `ast` (nothing is imported).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for folder in ("litmine", "tasks", "flows") for p in (ROOT / folder).rglob("*.py"))
LOADER = ROOT / "tasks" / "loading.py"
LOOP = ROOT / "tasks" / "training" / "loop.py"
#: Folders not yet ported onto the loader and the loop (issue 15: the relation models are being
#: restructured; they move onto litmine.tasks.loading and litmine.tasks.training.loop next).
PENDING = (ROOT / "tasks" / "relations",)


def _ported(path: Path) -> bool:
    return not any(path.is_relative_to(folder) for folder in PENDING)


def _code_lines(path: Path, pattern: str) -> list[str]:
    """Lines matching `pattern` outside strings and comments (via ast: calls and attributes)."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and re.fullmatch(pattern, node.attr):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


@pytest.mark.parametrize(("attribute", "home"), [("from_pretrained", LOADER), ("backward", LOOP)])
def test_one_place_calls_it(attribute, home):
    calls = [hit for path in SOURCES if path != home and _ported(path)
             for hit in _code_lines(path, attribute)]
    assert not calls, f".{attribute} outside {home.relative_to(ROOT)}: {calls}"
    assert _code_lines(home, attribute)


def test_one_resolve_device():
    defined = [f"{p.relative_to(ROOT)}" for p in SOURCES
               for node in ast.walk(ast.parse(p.read_text()))
               if isinstance(node, ast.FunctionDef) and node.name == "resolve_device"]
    assert defined == ["tasks/loading.py"]


#: Model inference: loading, NER tagging and evaluation, the semantic tasks.
INFERENCE = (ROOT / "tasks" / "loading.py", ROOT / "tasks" / "ner", ROOT / "tasks" / "semantic")


def test_inference_never_imports_training():
    inference = [p for p in SOURCES if any(p.is_relative_to(i) for i in INFERENCE)]
    assert len(inference) >= 10
    offenders = []
    for path in inference:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names
                          if n.startswith("litmine.tasks.training")]
    assert not offenders, offenders
