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
