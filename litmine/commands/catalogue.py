"""CLI: `litmine models`: the models litmine can find by name (installed model packages, or a
checkout's data/models) with their cards' scores, `litmine models path NAME` for scripts, and
`litmine models package` to build their wheels (`make dist`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from litmine import __version__
from litmine.commands.options import App, FormatOption, ResultFormat, out, plain, wide_console
from litmine.errors import LitmineError
from litmine.model_packages import (CHECKOUT_MODELS, ENTRY_POINT_GROUP, find_model, is_name,
                                    missing_model_error, shipped_models)

models_app = App(help="The models litmine finds by name: installed model packages (`pip install "
                      "litmine-ner-six-minilm-l6`), else a checkout's data/models. Without a "
                      "command: list them with their scores.",
                 invoke_without_command=True)


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


@models_app.callback()
def list_models(ctx: typer.Context, format: FormatOption = ResultFormat.table):
    """List every model found by name: version, kind, types, size, licence, scores, source."""
    if ctx.invoked_subcommand is not None:
        return
    from litmine.tasks.model_info import describe_model

    models = [(model, describe_model(model.path)) for model in shipped_models()]
    if format is ResultFormat.json:
        out.print_json(json.dumps([
            {"name": m.name, "version": m.version or __version__, "kind": i.kind,
             "types": list(i.types), "size": i.size, "licence": i.licence,
             "scores": [{"name": s.name, "value": round(s.value, 2), "data": s.data}
                        for s in i.scores],
             "needs": list(i.needs), "source": m.source, "distribution": m.distribution,
             "path": str(m.path)} for m, i in models]))
        return
    if not models:
        raise LitmineError(f"models: none installed (no model package registers in the entry "
                           f"point group {ENTRY_POINT_GROUP!r}, and there is no checkout); install "
                           "one, e.g. `pip install litmine-ner-six-minilm-l6`")
    scores = {m.name: [str(s) for s in i.scores] or ["-"] for m, i in models}
    table = Table(title="litmine models")
    widths = {"name": max(len(m.name) for m, _ in models),  # names and scores are never cut
              "scores": max(len(line) for lines in scores.values() for line in lines)}
    for column in ("name", "version", "kind", "types", "size", "licence", "scores", "source"):
        table.add_column(column, min_width=widths.get(column))
    for m, i in models:
        table.add_row(plain(m.name), m.version or __version__, plain(i.kind),
                      plain(", ".join(i.types)), _size(i.size), plain(i.licence),
                      plain("\n".join(scores[m.name])), m.source)
    wide_console(highlight=False).print(table)


@models_app.command("path")
def model_path(name: Annotated[str, typer.Argument(help="A model's name, e.g. litmine-ner-six-minilm-l6.")]):
    """Print where the model NAME is (a directory, or the lexicon's file), for scripts."""
    found = find_model(name)
    if found is None:
        raise missing_model_error(name, "models path")
    typer.echo(str(found.path))


@models_app.command("package")
def package(
    models: Annotated[Optional[list[str]], typer.Argument(help="Model directories or files, or models' names (default: every model of the checkout's data/models).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder the wheels are written to.")] = Path("dist"),
    version: Annotated[str, typer.Option("--version", help="The wheels' version (default: litmine's).")] = __version__,
):
    """Build one wheel per model, named like it (what `make dist` runs); installed on every
    machine that runs litmine (each Dask worker too), the model is found by its name."""
    from litmine.tasks.model_wheels import build_model_wheels

    if models:
        entries = [_package_entry(model) for model in models]
    elif CHECKOUT_MODELS is not None:
        entries = [m.path for m in shipped_models() if m.source == "checkout"]
    else:
        raise LitmineError("models package: there is no checkout's data/models here; give the "
                           "model directories (or files) to package")
    for wheel in build_model_wheels(entries, out_dir, version):
        out.print(f"{plain(wheel)}  {_size(wheel.stat().st_size)}", highlight=False)


def _package_entry(model: str) -> Path:
    """A model to package: a directory or file, else the model found by that name."""
    if Path(model).exists() or not is_name(model):
        return Path(model)  # build_model_wheel names a path that does not exist
    found = find_model(model)
    if found is None:
        raise missing_model_error(model, "models package")
    return found.path


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
