"""CLI: `litmine classify`: label every stored abstract with a study type.

Training and scoring a study-type classifier are `litmine train --task classify` and
`litmine evaluate --task classify` (alias names `train-classifier`, `evaluate-classifier`).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from litmine.commands.options import (DbOption, DeviceOption, plain,
                                      quiet_transformers, wide_console)
from litmine.tasks.store.access import database_path


class Method(str, Enum):
    embedding = "embedding"
    nli = "nli"
    trained = "trained"


def classify(
    db: DbOption = None,
    method: Annotated[Method, typer.Option("--method", help="embedding (zero-shot, offline), nli (zero-shot with an NLI model) or trained.")] = Method.embedding,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="embedding: sentence encoder (default MiniLM); nli: e.g. facebook/bart-large-mnli; trained: a `litmine train-classifier` directory.")] = None,
    device: DeviceOption = "auto",
):
    """Label every stored abstract with a study type (stored in the `classifications` table)."""
    from litmine.flows.classify import classify as classify_flow, load_method

    quiet_transformers()
    path = database_path(db, "classify")
    load_method(method.value, model, device)  # a bad model fails here, before a flow run starts
    result = classify_flow(db=str(path), method=method.value, model=model, device=device)
    from rich.table import Table

    table = Table("study type", "abstracts", title=f"{result['classified']} abstracts classified "
                  f"by {plain(result['model'])} ({plain(result['method'])})")
    for label, n in sorted(result["labels"].items(), key=lambda x: -x[1]):
        table.add_row(plain(label), str(n))
    wide_console(highlight=False).print(table)


def register(app: typer.Typer) -> None:
    """Add `classify` to the `litmine` app."""
    app.command(name="classify")(classify)
