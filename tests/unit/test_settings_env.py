"""Every `LITMINE_` variable is read through `Settings`, and every setting is documented.

The sources are read with `ast` (nothing is imported): a read of `os.environ` / `os.getenv` whose
key is a `LITMINE_` string, directly or through a module constant, anywhere but
litmine/settings.py, fails the first test.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from litmine.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = (ROOT / "litmine", ROOT / "tasks", ROOT / "flows")
SETTINGS = ROOT / "litmine" / "settings.py"


def _is_environ(node: ast.AST) -> bool:
    """`os.environ` or a bare `environ`."""
    return ((isinstance(node, ast.Attribute) and node.attr == "environ")
            or (isinstance(node, ast.Name) and node.id == "environ"))


def _is_getenv(node: ast.AST) -> bool:
    return ((isinstance(node, ast.Attribute) and node.attr == "getenv")
            or (isinstance(node, ast.Name) and node.id == "getenv"))


def litmine_env_reads(source: str, filename: str = "<source>") -> list[str]:
    """`line: KEY` for each read of a LITMINE_ environment variable in `source`."""
    tree = ast.parse(source, filename)
    constants = {target.id: node.value.value for node in ast.walk(tree)
                 if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Constant)
                 and isinstance(node.value.value, str)
                 for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
                 if isinstance(target, ast.Name)}

    def key(node: ast.AST | None) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return constants.get(node.id)
        return None

    found = []
    for node in ast.walk(tree):
        keys: list[str | None] = []
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            if _is_getenv(func) or (isinstance(func, ast.Attribute) and _is_environ(func.value)
                                    and func.attr in ("get", "pop", "setdefault")):
                keys.append(key(node.args[0]))
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            keys.append(key(node.slice))
        elif isinstance(node, ast.Compare) and any(_is_environ(c) for c in node.comparators):
            keys.append(key(node.left))
        found += [f"{node.lineno}: {k}" for k in keys if k and k.startswith("LITMINE_")]
    return found


def test_the_checker_finds_every_way_of_reading_a_variable():
    source = '''
import os
from os import environ, getenv
HOOK = "LITMINE_HOOK"
a = os.environ.get("LITMINE_A")
b = os.environ["LITMINE_B"]
c = os.getenv("LITMINE_C", "x")
d = environ.get(HOOK)
e = "LITMINE_E" in os.environ
f = getenv("LITMINE_F")
g = os.environ.get("COLUMNS")          # not ours
"LITMINE_DB"                           # a string, not a read
'''
    keys = [hit.split(": ")[1] for hit in litmine_env_reads(source)]
    assert sorted(keys) == ["LITMINE_A", "LITMINE_B", "LITMINE_C", "LITMINE_E", "LITMINE_F",
                            "LITMINE_HOOK"]


def test_litmine_variables_are_read_only_through_settings():
    found = [f"{path.relative_to(ROOT)}:{hit}"
             for folder in SOURCE_DIRS for path in sorted(folder.rglob("*.py"))
             if path != SETTINGS
             for hit in litmine_env_reads(path.read_text(), str(path))]
    assert not found, ("read these through litmine.settings.Settings (a field with a default, "
                       f"bounds and a description): {found}")


def variable_names(name: str, field) -> list[str]:
    """The environment variables that set a field: its aliases, else LITMINE_<NAME>."""
    alias = field.validation_alias
    if alias is None:
        return [f"LITMINE_{name.upper()}"]
    return [str(choice) for choice in getattr(alias, "choices", [alias])]


def documented_text() -> str:
    """The README's settings table and every docs page."""
    readme = (ROOT / "README.md").read_text()
    table = re.search(r"^\| setting \| default \| what \|\n(?:\|.*\n)+", readme, re.MULTILINE)
    assert table, "README.md lost its settings table (| setting | default | what |)"
    pages = [p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join([table.group(0), *pages])


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_has_a_default_a_description_and_documentation(name):
    field = Settings.model_fields[name]
    assert not field.is_required(), f"Settings.{name} has no default"
    assert field.description and "\n" not in field.description, \
        f"Settings.{name} needs a one-line description"
    names = variable_names(name, field)
    text = documented_text()
    assert any(f"`{n}" in text for n in names), (
        f"Settings.{name} ({' or '.join(names)}) is in neither README.md's settings table nor "
        "a docs/ page")
