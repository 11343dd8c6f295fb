"""CLI command groups beyond the core ones: each module here has `register(app)`, found by name;
`options.py` holds what the commands share (it registers nothing)."""

from __future__ import annotations

import importlib
import pkgutil

import typer


def register_all(app: typer.Typer) -> None:
    """Call `register(app)` of every module in this package (sorted by name)."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)
