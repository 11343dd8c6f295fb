"""CLI: `litmine serve` serves the `mine` (ad hoc) and `refresh` (cron) deployments from one process.

The process registers both deployments with the Prefect API ($PREFECT_API_URL, e.g. a
`prefect server start`) and runs their flow runs as subprocesses until it is stopped: start `mine`
from the UI's "Run" form (its parameters are the flow's), and `refresh` runs on its cron schedule
(daily at 03:00 UTC by default; `--cron`, or $LITMINE_REFRESH_CRON). On shutdown Prefect pauses
the schedule, so no refresh piles up while nothing serves it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from litmine.errors import LitmineError
from litmine.settings import get_settings

#: Name of both deployments: `mine/litmine` and `refresh/litmine` in `prefect deployment run`.
DEPLOYMENT_NAME = "litmine"
#: Concurrent flow runs: DuckDB has one writer, so a second run would wait for (or fail on) the
#: lock anyway; with 1, a refresh that comes due during a mine run starts when the run ends.
DEFAULT_LIMIT = 1


def check_cron(cron: str, timezone: str = "UTC") -> Any:
    """The Prefect cron schedule for `cron` in `timezone`, or LitmineError naming what is wrong."""
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:
        return CronSchedule(cron=cron, timezone=timezone)
    except ValidationError as exc:
        reason = "; ".join(e["msg"] for e in exc.errors())
        raise LitmineError(f"serve: schedule {cron!r} ({timezone}) is not valid: {reason}. Use "
                           "five cron fields, e.g. '0 3 * * *' (03:00 daily), and an IANA time "
                           "zone such as 'Europe/Berlin'") from exc


def build_deployments(name: str = DEPLOYMENT_NAME, cron: str | None = None,
                      timezone: str = "UTC", db: Path | None = None, model: str | None = None,
                      task_runner: str = "local", dask_address: str | None = None) -> list:
    """The `mine` and `refresh` RunnerDeployments (`refresh` on `cron`; default: the setting).

    `db` and `model` become the deployments' default parameters (editable per run in the UI).
    """
    from prefect.schedules import Cron

    from litmine.flows.mine import mine
    from litmine.flows.refresh import refresh
    from litmine.tasks.runners import build_task_runner

    settings = get_settings(fresh=True)
    cron = cron or settings.refresh_cron
    schedule = check_cron(cron, timezone)
    runner = build_task_runner(task_runner, dask_address)
    defaults: dict[str, Any] = {"db": str(Path(db or settings.db).resolve())}  # runs start elsewhere
    if model:
        defaults["model"] = model
    flows = [mine, refresh]
    if task_runner != "local":
        flows = [f.with_options(task_runner=runner) for f in flows]
    mine_flow, refresh_flow = flows
    tags = ["litmine"]
    return [
        mine_flow.to_deployment(
            name, parameters=_accepted(mine, defaults), tags=tags,
            description="Ad-hoc runs: a PubMed query or files into DuckDB (run it from the UI)."),
        refresh_flow.to_deployment(
            name, parameters=_accepted(refresh, defaults), tags=tags,
            schedule=Cron(schedule.cron, timezone=schedule.timezone),
            description=f"Scheduled refresh of every watch ({cron}, {schedule.timezone})."),
    ]


def _accepted(flow, parameters: dict[str, Any]) -> dict[str, Any]:
    """The parameters the flow's signature takes (mine and refresh both take db and model)."""
    names = flow.parameters.properties
    return {k: v for k, v in parameters.items() if k in names}


def serve(
    cron: Annotated[Optional[str], typer.Option("--cron", help="Schedule of the refresh deployment (default: $LITMINE_REFRESH_CRON, else '0 3 * * *', daily).")] = None,
    timezone: Annotated[str, typer.Option("--timezone", help="Time zone of --cron, e.g. Europe/Berlin.")] = "UTC",
    db: Annotated[Optional[Path], typer.Option("--db", help="Default DuckDB file of both deployments (default: $LITMINE_DB, else litmine.duckdb in the current directory).")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Default NER model of both deployments.")] = None,
    name: Annotated[str, typer.Option("--name", help="Deployment name: mine/NAME and refresh/NAME.")] = DEPLOYMENT_NAME,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Flow runs at once (DuckDB has one writer).")] = DEFAULT_LIMIT,
    task_runner: Annotated[str, typer.Option("--task-runner", help="local (threads) or dask (NER batches on Dask workers).")] = "local",
    dask_address: Annotated[Optional[str], typer.Option("--dask-address", help="Dask scheduler, e.g. tcp://10.0.0.5:8786.")] = None,
):
    """Serve the `mine` (ad hoc, from the UI) and `refresh` (cron) deployments until stopped."""
    from prefect import serve as prefect_serve
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise LitmineError("serve: no Prefect API to register the deployments with; start one "
                           "(`prefect server start`) and set PREFECT_API_URL, e.g. "
                           "`export PREFECT_API_URL=http://127.0.0.1:4200/api`")
    deployments = build_deployments(name=name, cron=cron, timezone=timezone, db=db, model=model,
                                    task_runner=task_runner, dask_address=dask_address)
    prefect_serve(*deployments, limit=limit)


def register(app: typer.Typer) -> None:
    app.command(name="serve")(serve)
