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
    calls = [hit for path in SOURCES if path != home for hit in _code_lines(path, attribute)]
    assert not calls, f".{attribute} outside {home.relative_to(ROOT)}: {calls}"
    assert _code_lines(home, attribute)


def test_one_resolve_device():
    defined = [f"{p.relative_to(ROOT)}" for p in SOURCES
               for node in ast.walk(ast.parse(p.read_text()))
               if isinstance(node, ast.FunctionDef) and node.name == "resolve_device"]
    assert defined == ["tasks/loading.py"]


#: Model inference: loading, NER tagging and evaluation, the relation methods (their training
#: apart), the semantic tasks; and concept linking, which reads corpora but trains nothing.
INFERENCE = (ROOT / "tasks" / "loading.py", ROOT / "tasks" / "ner", ROOT / "tasks" / "relations",
             ROOT / "tasks" / "semantic", ROOT / "tasks" / "linking")
TRAINING = (ROOT / "tasks" / "training", ROOT / "tasks" / "relations" / "training")


def _imported_modules(path: Path) -> list[str]:
    return [name for node in ast.walk(ast.parse(path.read_text()))
            for name in ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])]


def test_inference_never_imports_training():
    inference = [p for p in SOURCES if any(p.is_relative_to(i) for i in INFERENCE)
                 and not any(p.is_relative_to(t) for t in TRAINING)]
    assert len(inference) >= 25
    offenders = [f"{path.relative_to(ROOT)}: {n}" for path in inference
                 for n in _imported_modules(path) if n.startswith("litmine.tasks.training")]
    assert not offenders, offenders


#: The one home of each shared model and training helper: importing one from anywhere else
#: (a re-export) is a second door.
HOMES = {
    "litmine.tasks.loading": ("resolve_device", "device_name", "load_pretrained",
                              "load_tokenizer", "load_for_training"),
    "litmine.tasks.training.loop": ("seed_everything", "cpu_threads", "use_all_cores",
                                    "group_batches", "publish_model_dir", "decay_groups"),
    "litmine.tasks.training.cards": ("card_base_model", "front_matter", "command_section",
                                     "write_card"),
}
EVERYWHERE = sorted(p for folder in ("litmine", "tasks", "flows", "tests", "benchmarks")
                    for p in (ROOT / folder).rglob("*.py"))


def test_shared_helpers_are_imported_from_their_home():
    home_of = {name: module for module, names in HOMES.items() for name in names}
    offenders = [f"{path.relative_to(ROOT)}:{node.lineno}: {alias.name} from {node.module}"
                 for path in EVERYWHERE for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("litmine")
                 for alias in node.names
                 if alias.name in home_of and node.module != home_of[alias.name]]
    assert not offenders, offenders
