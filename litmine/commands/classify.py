"""CLI: `litmine classify`, `train-classifier`, `evaluate-classifier`: study types of the stored
abstracts."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from litmine.commands.options import DbOption, DeviceOption, database_path, quiet_transformers, wide_console


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
                  f"by {result['model']} ({result['method']})")
    for label, n in sorted(result["labels"].items(), key=lambda x: -x[1]):
        table.add_row(label, str(n))
    wide_console(highlight=False).print(table)


def train_classifier(
    db: DbOption = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Model directory to write (default: data/models/litmine-study-type-minilm-l6).")] = None,
    base_model: Annotated[Optional[str], typer.Option("--base-model", help="Encoder to fine-tune (default: the bundled all-MiniLM-L6-v2).")] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", min=1, help="Default: enough to see about 3,000 abstracts, 3 to 20 epochs.")] = None,
    lr: Annotated[float, typer.Option("--lr", min=0)] = 1e-4,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 16,
    max_length: Annotated[int, typer.Option("--max-length", min=16, help="Word pieces per abstract (longer ones are truncated and counted).")] = 256,
    test_fraction: Annotated[float, typer.Option("--test-fraction", min=0.01, max=0.9, help="Share of each study type held out for evaluation.")] = 0.3,
    seed: Annotated[int, typer.Option("--seed")] = 13,
    limit: Annotated[Optional[int], typer.Option("--limit", min=2, help="Use at most this many abstracts.")] = None,
    device: DeviceOption = "auto",
):
    """Fine-tune a study-type classifier on stored PublicationType labels; score it vs zero-shot."""
    from litmine.flows.classify import DEFAULT_CLASSIFIER_DIR, train_classifier as train_flow

    quiet_transformers()
    path = database_path(db, "train-classifier")
    result = train_flow(db=str(path), out_dir=str(out or DEFAULT_CLASSIFIER_DIR),
                        base_model=base_model, epochs=epochs, lr=lr, batch_size=batch_size,
                        max_length=max_length, test_fraction=test_fraction, seed=seed,
                        device=device, limit=limit)
    console = wide_console(highlight=False)
    console.print(f"model saved to {result['out_dir']} ({result['training']['n_train']} training "
                  f"abstracts, {result['training']['truncated']} truncated to {max_length} word "
                  f"pieces); held-out split: {result['n_test']} abstracts")
    console.print(result["table"])


def evaluate_classifier(
    db: DbOption = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="A trained classifier directory (its split.json fixes the held-out PMIDs).")] = None,
    nli_model: Annotated[Optional[str], typer.Option("--nli-model", help="Also score zero-shot NLI with this model, e.g. facebook/bart-large-mnli.")] = None,
    embed_model: Annotated[Optional[str], typer.Option("--embed-model", help="Encoder for the embedding zero-shot baseline (default MiniLM).")] = None,
    test_fraction: Annotated[float, typer.Option("--test-fraction", min=0.01, max=0.9)] = 0.3,
    seed: Annotated[int, typer.Option("--seed")] = 13,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the scores as JSON here.")] = None,
    device: DeviceOption = "auto",
):
    """Macro-F1 per study type on the held-out split: trained classifier vs zero-shot baselines."""
    from litmine.flows.classify import evaluate_classifier as evaluate_flow

    quiet_transformers()
    path = database_path(db, "evaluate-classifier")
    report = evaluate_flow(db=str(path), model=model, nli_model=nli_model, embed_model=embed_model,
                           test_fraction=test_fraction, seed=seed, device=device,
                           json_out=str(json_out) if json_out else None)
    wide_console(highlight=False).print(f"held-out split: {report['n_test']} of {report['n_labelled']} labelled "
                     f"abstracts\n{report['table']}")


def register(app: typer.Typer) -> None:
    """Add `classify`, `train-classifier` and `evaluate-classifier` to the `litmine` app."""
    app.command(name="classify")(classify)
    app.command(name="train-classifier")(train_classifier)
    app.command(name="evaluate-classifier")(evaluate_classifier)
