"""A relation model directory's config file (`relation.json`) and how to read one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from litmine.errors import ModelError

RELATION_FILE = "relation.json"


def read_model_config(path: Path, name: str) -> dict[str, Any]:
    """The JSON file `name` of a relation model directory; ModelError naming the fix."""
    config_file = path / name
    if not config_file.is_file():
        raise ModelError(f"relations: {path} has no {name}; is it a relation model from "
                         "`litmine train-relations`?")
    return json.loads(config_file.read_text(encoding="utf-8"))


def document_member_path(stacked: str | Path) -> Path:
    """The directory of a stacked CID model's document member: relation.json's
    "document_model" (relative to the model, e.g. "../litmine-relations-biored-minilm-l6", a
    joint head that the typed relations read too), else its own ``document/``."""
    stacked = Path(stacked)
    config_file = stacked / RELATION_FILE
    if config_file.is_file():
        named = json.loads(config_file.read_text(encoding="utf-8")).get("document_model")
        if named:
            return stacked / named
    return stacked / "document"
