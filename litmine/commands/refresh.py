"""CLI: `litmine watch add|list|remove`, `litmine refresh [NAME...] | --files DIR`, `litmine runs`."""

from __future__ import annotations

from datetime import timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from litmine.commands.options import (App, DbOption, DeviceOption, DtypeOption, plain, progress_bar,
                                      quiet_loading_bars, quiet_prefect_tracebacks, wide_console)
from litmine.errors import LitmineError
from litmine.tasks.store.access import database_path

watch_app = App(help="Saved PubMed queries that `litmine refresh` keeps current.",
                        no_args_is_help=True)

WaitOption = Annotated[
    float,
    typer.Option("--wait", min=0, help="Seconds to wait while another run writes to the database "
                                       "(default: fail at once)."),
]


@watch_app.command("add")
def watch_add(
    name: Annotated[str, typer.Argument(help="A short name, e.g. aspirin-asthma.")],
    query: Annotated[str, typer.Option("--query", "-q", help="PubMed query, e.g. 'aspirin AND asthma'.")],
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="NER model for this watch (default: the run's).")] = None,
    db: DbOption = None,
    wait: WaitOption = 0.0,
):
    """Save a PubMed query; its first refresh fetches everything, later ones what is new."""
    from litmine.tasks.store.access import open_store
    from litmine.tasks.sources.watches import add_watch

    with open_store(database_path(db), "wait", wait=wait, stage="watch add") as store:
        watch = add_watch(store.con, name, query, model)
    wide_console().print(f"watch {watch.name!r} saved: {watch.query!r}"
                     f"{f' with model {watch.model}' if watch.model else ''}; "
                     f"run `litmine refresh {watch.name}` to fetch it", highlight=False, markup=False)


@watch_app.command("list")
def watch_list(db: DbOption = None):
    """The saved queries and where each one's next refresh starts."""
    import duckdb
    from rich.table import Table

    from litmine.tasks.store.access import open_store
    from litmine.tasks.sources.watches import get_watches

    con = open_store(database_path(db), "read").con
    try:
        watches = get_watches(con)
    except duckdb.Error as exc:
        raise LitmineError(f"watch list: cannot read {database_path(db)}: {str(exc).splitlines()[0]}") from exc
    finally:
        con.close()
    if not watches:
        wide_console(stderr=True).print("no watches yet; add one with `litmine watch add NAME --query TEXT`")
        return
    table = Table("name", "query", "model", "next window from", "last refresh", "last records")
    for w in watches:
        table.add_row(plain(w.name), plain(w.query), plain(w.model or "(run's)"), str(w.watermark or "everything"),
                      f"{w.last_refreshed_at:%Y-%m-%d %H:%M}" if w.last_refreshed_at else "never",
                      "" if w.last_records is None else str(w.last_records))
    wide_console().print(table)


@watch_app.command("remove")
def watch_remove(
    name: Annotated[str, typer.Argument(help="The watch to forget.")],
    db: DbOption = None,
    wait: WaitOption = 0.0,
):
    """Forget a saved query (the articles and results it stored stay in the database)."""
    from litmine.tasks.store.access import open_store
    from litmine.tasks.sources.watches import remove_watch

    with open_store(database_path(db), "wait", wait=wait, stage="watch remove") as store:
        watch = remove_watch(store.con, name)
    wide_console().print(f"watch {watch.name!r} removed; its stored results stay", highlight=False, markup=False)


def refresh_command(
    names: Annotated[Optional[list[str]], typer.Argument(help="Watches to refresh (default: all).")] = None,
    files: Annotated[Optional[Path], typer.Option("--files", "-f", help="Directory of NCBI baseline/update files (pubmedYYnNNNN.xml.gz).")] = None,
    db: DbOption = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="NER model for --files and for watches saved without one.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Articles per NER batch.")] = 256,
    device: DeviceOption = "auto",
    dtype: DtypeOption = None,
    wait: WaitOption = 0.0,
    snapshot: Annotated[bool, typer.Option("--snapshot/--no-snapshot", hidden=True, help="Ignored (kept for old scripts): readers read the database itself between batches.")] = True,
    snapshot_every: Annotated[float, typer.Option("--snapshot-every", min=0, hidden=True, help="Ignored, as --no-snapshot.")] = 300.0,
    relations: Annotated[bool, typer.Option("--relations/--no-relations", help="MeSH IDs and CID relations after NER, as `mine` does (default: on).")] = True,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
):
    """Fetch what is new for saved queries (or load NCBI's bulk files) and process it."""
    from rich.table import Table

    from litmine.tasks.sources.watches import check_watches_exist

    # Arguments first, before Prefect and a flow run start (seconds) or a model loads.
    if names and files:
        raise LitmineError("refresh: give watch names or --files DIR, not both")
    if files is not None and not files.exists():
        raise LitmineError(f"refresh: {files} does not exist; pass the directory holding NCBI's "
                           "pubmedYYnNNNN.xml.gz files")
    if files is None:
        check_watches_exist(database_path(db, None), list(names) if names else None)
    from litmine.flows.refresh import refresh

    quiet_prefect_tracebacks()
    quiet_loading_bars()  # the run's own bar (or, with --no-progress, none) covers model loading
    with progress_bar(progress, "refreshing"):
        result = refresh(names=list(names) if names else None, files=str(files) if files else None,
                         db=str(database_path(db)), model=model, batch_size=batch_size, device=device,
                         dtype=dtype.value if dtype else None, wait=wait, relations=relations)
    table = Table("run", "source", "status", "window / files", "articles", "pairs", "deleted", "rejects",
                  title=f"litmine refresh → {plain(result['db'])}")
    for unit in result["units"]:
        c = unit.get("counts", {})
        if unit.get("files"):
            scope = f"{c.get('files_loaded', 0)} new, {c.get('files_skipped', 0)} skipped"
        else:
            scope = unit.get("window", "")
        table.add_row(unit.get("run_id", "")[:8], plain(f"watch {unit['watch']}" if unit.get("watch") else "files"),
                      unit["status"], plain(scope), str(c.get("articles", 0)), str(c.get("pairs", 0)),
                      str(c.get("deleted", 0)), str(c.get("rejects", 0)))
    wide_console().print(table)


def runs_command(
    db: DbOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs to show.")] = 20,
    flow: Annotated[Optional[str], typer.Option("--flow", help="Only this flow (mine, refresh, ...).")] = None,
):
    """Recent runs: id, flow, status, start, duration, what they processed, counts, model."""
    from rich.table import Table

    from litmine.tasks.sources.watches import list_runs

    runs = list_runs(database_path(db), limit=limit, flow=flow)
    if not runs:
        wide_console(stderr=True).print("no runs yet")
        return
    table = Table("run", "flow", "status", "started (UTC)", "seconds", "source", "counts", "model")
    for r in runs:
        started = r["started_at"]
        table.add_row(r["run_id"][:8], plain(r["flow"]), r["status"],
                      f"{started.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}" if started else "",
                      "" if r["seconds"] is None else f"{r['seconds']:.1f}", plain(r["source"]), plain(r["summary"]),
                      plain(Path(r["model"]).name) if r["model"] else "")
    wide_console().print(table)


def register(app: typer.Typer) -> None:
    """Add watch, refresh and runs to the litmine CLI."""
    app.add_typer(watch_app, name="watch")
    app.command(name="refresh")(refresh_command)
    app.command(name="runs")(runs_command)
