"""The `litmine` command line: the app, its core commands (mine, sql, export, info) and the console
entry. The other commands live in litmine/commands/, one module per group."""

from __future__ import annotations

import csv
import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.table import Table

from litmine.commands import register_all
from litmine import __version__
from litmine.commands.options import (App, DbOption, DeviceOption, DtypeOption, console, out, plain,
                                      progress_bar, quiet_loading_bars, quiet_prefect_tracebacks,
                                      state)
from litmine.errors import LitmineError
from litmine.process_exit import skip_teardown
from litmine.settings import get_settings
from litmine.tasks.store.access import database_path
from litmine.temporary_server import start_temporary_server

app = App(
    name="litmine",
    help="Biomedical literature mining: PubMed → sentences → NER → chemical–disease pairs → DuckDB.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


class EntitySource(str, Enum):  # litmine.tasks.sources.annotations.ENTITY_SOURCES (lazy CLI)
    tagged = "tagged"
    given = "given"


class ExportFormat(str, Enum):
    pubtator = "pubtator"
    bioc_xml = "bioc-xml"
    bioc_json = "bioc-json"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"litmine {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Show litmine's version and exit.")] = False,
):
    import logging

    state["debug"] = debug
    from litmine.memory import limit_malloc_arenas, limit_onednn_cache

    limit_malloc_arenas()  # before worker threads start allocating (litmine/memory.py)
    limit_onednn_cache()  # before the first bf16 matmul
    # litmine's own progress lines (per-epoch dev scores, skipped corpus lines, ...) at INFO.
    logging.getLogger("litmine").setLevel(logging.DEBUG if debug else logging.INFO)


@app.command()
def mine(
    query: Annotated[Optional[str], typer.Option("--query", "-q", help="PubMed query, e.g. 'aspirin AND asthma'.")] = None,
    files: Annotated[Optional[list[Path]], typer.Option("--files", "-f", help="PubMed XML (.xml/.xml.gz), BioC XML/JSON or PubTator files.")] = None,
    db: DbOption = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="NER model: local path, litmine model name or hub ID (default: the shipped model); MODEL#KEY tags under a task marker, e.g. #Chemical,Disease.")] = None,
    max_results: Annotated[Optional[int], typer.Option("--max-results", min=1, help="Stop after this many records.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Articles per NER batch.")] = 256,
    device: DeviceOption = "auto",
    dtype: DtypeOption = None,
    refetch: Annotated[bool, typer.Option("--refetch", help="With --query: fetch and tag again the PMIDs this model already stored (default: skip them, so a rerun resumes).")] = False,
    relations: Annotated[bool, typer.Option("--relations/--no-relations", help="Fix mentions with abbreviation definitions, link them to MeSH and score chemical-induced-disease relations (default: on).")] = True,
    lexicon: Annotated[Optional[str], typer.Option("--lexicon", help="MeSH lexicon for --relations (default: $LITMINE_LEXICON or the shipped one).")] = None,
    relation_model: Annotated[Optional[str], typer.Option("--relation-model", help="CID model for --relations (default: $LITMINE_RELATION_MODEL or the shipped one; '' links IDs only).")] = None,
    typed_relation_model: Annotated[Optional[str], typer.Option("--typed-relation-model", help="Model for BioRED's eight relation types with novelty between genes, chemicals, diseases and variants, stored in `relations` (default: $LITMINE_TYPED_RELATION_MODEL or the shipped one; '' skips them).")] = None,
    embed: Annotated[bool, typer.Option("--embed", help="Also embed the new abstracts and sentences for `litmine search` (model: $LITMINE_EMBED_MODEL, default all-MiniLM-L6-v2).")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
    task_runner: Annotated[str, typer.Option("--task-runner", help="local (threads) or dask (NER batches on Dask workers).")] = "local",
    dask_address: Annotated[Optional[str], typer.Option("--dask-address", help="Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a temporary local cluster).")] = None,
    entities: Annotated[EntitySource, typer.Option("--entities", help="tagged: NER finds the entities; given: the --files' own annotations (PubTator or BioC, e.g. PubTator3's export) are the entities, with the IDs they carry, and are related (rows under the model name 'given').")] = EntitySource.tagged,
):
    """Fetch or read abstracts, tag entities, pair chemicals with diseases, store in DuckDB."""
    from litmine.tasks.ner.markers import locate_marked_model

    if query is not None and not query.strip():
        raise LitmineError("mine: the query is empty; give a PubMed query, e.g. "
                           "--query 'aspirin AND asthma'")
    if bool(query) == bool(files):
        raise LitmineError("mine: give exactly one of --query or --files")
    for path in files or []:
        if path.is_dir():
            raise LitmineError(f"mine: {path} is a directory, not a file; give the files in it "
                               f"(e.g. {path}/*.xml.gz)")
        if not path.is_file():
            raise LitmineError(f"mine: input file {path} does not exist; check the path")
    # before Prefect starts: a missing model, or a task marker it lacks (MODEL#KEY)
    locate_marked_model(model or get_settings(fresh=True).model, "mine")
    # Prefect's temporary server (without PREFECT_API_URL) starts while the flow's modules import
    # and the models load; the flow waits for it below (litmine/temporary_server.py).
    server = start_temporary_server()
    from litmine.tasks.runners import build_task_runner  # imports Prefect: after the spawn

    runner = build_task_runner(task_runner, dask_address)
    from litmine.flows.mine import mine as mine_flow
    from litmine.flows.pipeline import preload_for_mine

    if task_runner != "local":
        mine_flow = mine_flow.with_options(task_runner=runner)
    quiet_prefect_tracebacks()
    quiet_loading_bars()  # the run's own bar (or, with --no-progress, none) covers model loading
    # The models and the linker load while Prefect's temporary server starts (seconds).
    preload_for_mine(model, device, dtype.value if dtype else None, relations, lexicon,
                     relation_model, typed_relation_model)
    if server is not None:
        server.wait()
    with progress_bar(progress, f"mining {query}" if query else "mining"):
        result = mine_flow(query=query, files=[str(p) for p in files] if files else None,
                           db=str(database_path(db)), model=model, max_results=max_results,
                           batch_size=batch_size, device=device,
                           dtype=dtype.value if dtype else None, resume=not refetch, embed=embed,
                           relations=relations, lexicon=lexicon, relation_model=relation_model,
                           typed_relation_model=typed_relation_model,
                           entities=entities.value)
    table = Table("rows", "count", title=f"litmine mine → {plain(result['db'])}")
    keys = ["articles", "sentences", "entities", "pairs", "rejects", "deleted", "skipped_stored"]
    if relations:
        keys[4:4] = ["linked", "relations", "typed_relations"]
    if entities is EntitySource.given:
        keys[2:2] = ["given_entities", "given_skipped_type", "given_unannotated"]
    if embed:
        keys += [k for k in result if k.startswith("embedded_")]
    if result.get("rejected_documents"):
        keys.insert(keys.index("rejects") + 1, "rejected_documents")
    for key in keys:
        table.add_row(key, str(result.get(key, 0)))
    out.print(table)
    if result.get("rejected_documents"):  # exit 0: the rest is stored; see rejected_message
        from litmine.tasks.store.reports import rejected_message

        console.print(rejected_message(result["run_id"], result["rejected_documents"]), markup=False)
    skip_teardown()  # the flow closed the database: exit without unloading torch & co (1-2 s)


@app.command()
def sql(
    statement: Annotated[str, typer.Argument(help="SQL to run against the database (read-only).")],
    db: DbOption = None,
    format: Annotated[OutputFormat, typer.Option("--format", help="table, csv or json.")] = OutputFormat.table,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most rows shown as a table.")] = 1000,
):
    """Run a read-only SQL query over the results."""
    from litmine.tasks.store.query import run_readonly_sql

    columns, rows = run_readonly_sql(database_path(db), statement)
    if format is OutputFormat.json:
        out.print_json(json.dumps([dict(zip(columns, r)) for r in rows], default=str))
    elif format is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        table = Table(*map(plain, columns))
        for row in rows[:limit]:
            table.add_row(*map(plain, row))
        out.print(table)
        if len(rows) > limit:
            console.print(f"({len(rows) - limit} more rows; use --format csv for all)")


@app.command()
def export(
    db: DbOption = None,
    format: Annotated[ExportFormat, typer.Option("--format", help="pubtator, bioc-xml or bioc-json (BioC as PubTator3 serves it).")] = ExportFormat.pubtator,
    out_file: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output file (default: stdout).")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Whose entities (default: the model with most rows).")] = None,
):
    """Export documents with their predicted entities, concept IDs and CID relations (offsets as stored)."""
    from litmine.tasks.store.query import export_documents

    if out_file:
        with open(out_file, "w", encoding="utf-8") as handle:
            n = export_documents(database_path(db), handle, format.value, model=model)
        console.print(f"wrote {n} documents to {plain(out_file)}")
    else:
        export_documents(database_path(db), sys.stdout, format.value, model=model)


@app.command()
def info(db: DbOption = None):
    """What the database holds: rows per table, mentions per entity type, typed relations per
    type, models, recent runs."""
    from litmine.tasks.store.query import describe

    summary = describe(database_path(db))
    table = Table("table", "rows", title=f"{plain(summary['db'])} (schema {summary['schema_version']})")
    for name, n in summary["counts"].items():
        table.add_row(name, str(n))
    out.print(table)
    if summary["types"]:
        several = len(summary["models"]) > 1
        types = Table(*(["model"] if several else []), "type", "mentions", "linked", "concepts",
                      title="entities per type")
        for row in summary["types"]:
            types.add_row(*([plain(row["model"])] if several else []), plain(row["type"]),
                          str(row["mentions"]), str(row["linked"]), str(row["concepts"]))
        out.print(types)
    if summary["relation_types"]:
        several = len({r["model"] for r in summary["relation_types"]}) > 1
        # Compact, as `evaluate`'s tables: rich's 80 columns (a pipe) hold it with a model column.
        relations = Table(title="typed relations per type", box=box.SIMPLE_HEAD, pad_edge=False,
                          collapse_padding=True)
        for name in (["model"] if several else []) + ["entities", "relation"]:
            relations.add_column(name, no_wrap=True)
        for name in ("relations", "novel", "documents"):
            relations.add_column(name, justify="right")
        for row in summary["relation_types"]:
            relations.add_row(*([plain(row["model"])] if several else []), plain(row["entities"]),
                              plain(row["relation"]), str(row["relations"]), str(row["novel"]),
                              str(row["documents"]))
        out.print(relations)
    if summary["models"]:
        out.print("models: " + ", ".join(f"{plain(m)} ({n} entities)" for m, n in summary["models"]))
    for run in summary["runs"]:
        out.print(f"run {run['run_id']}  {run['flow']}  {run['status']}  {run['started_at']}",
                  markup=False)


register_all(app)  # after the core commands, so that `--help` lists them first


def main() -> None:
    """Console entry point: library errors become one readable line and exit status 1."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # NCBI's is the only network litmine needs; Prefect's telemetry heartbeat stays off.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Without PREFECT_API_URL, Prefect starts a temporary server; 20 s is too short on a busy laptop.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    try:
        app(standalone_mode=False)
    except LitmineError as exc:
        if state["debug"]:
            raise
        console.print(f"[red]error:[/red] {plain(exc)}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except (typer.Exit, typer.Abort) as exc:
        sys.exit(getattr(exc, "exit_code", 1))
    except Exception as exc:  # click usage errors carry their own exit codes
        import click

        # typer >= 0.29 vendors click: its usage errors are typer.TyperException, not click's
        if isinstance(exc, (click.ClickException, typer.TyperException)) and hasattr(exc, "show"):
            exc.show()
            sys.exit(getattr(exc, "exit_code", 2))
        if state["debug"]:
            raise
        console.print(f"[red]error:[/red] {type(exc).__name__}: {plain(exc)} (run with --debug for details)",
                      highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    from litmine.process_exit import run_and_exit

    run_and_exit(main)
