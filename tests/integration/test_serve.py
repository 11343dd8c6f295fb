"""`litmine serve` for real: `prefect server start` on 127.0.0.1, `litmine serve` in the background,
the `mine` deployment triggered through the REST API (what the UI's Run button calls) against a
local E-utilities server, the DuckDB file checked, and the flow run's UI page rendered in headless
Chromium (tests/support/ui_check.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.support.eutils_server import EutilsServer
from tests.support.ui_check import CHROMIUM, check_page, flow_run_url

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "pubmedsample18n0001.xml.gz"
CRON = "30 4 * * *"  # set through LITMINE_REFRESH_CRON: the setting reaches the deployment
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(home: Path) -> dict[str, str]:
    """This process's environment without any Prefect setting, with its own PREFECT_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LITMINE_"))}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return env


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM the process group (a graceful stop), SIGKILL whatever is left of it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)


@contextlib.contextmanager
def background(args: list[str], env: dict[str, str], log: Path):
    with open(log, "w") as out:
        process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True, cwd=ROOT)
    try:
        yield process
    finally:
        stop(process)


def tail(log: Path, n: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-n:])


def wait_for(condition, what: str, timeout: float, process: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what}: the process exited ({process.returncode}):\n{tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            result = condition()
            if result:
                return result
        time.sleep(1)
    pytest.fail(f"{what}: not within {timeout:.0f} s:\n{tail(log)}")


def test_served_mine_deployment_runs_and_shows_in_the_ui(tmp_path, tiny_ner_model):
    if not Path(CHROMIUM).is_file() and not os.environ.get("CI"):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver); "
                    "CI installs it, so there this test never skips")
    port = free_port()
    ui = f"http://127.0.0.1:{port}"
    api = f"{ui}/api"
    db = tmp_path / "served.duckdb"

    server_env = base_env(tmp_path / "server-home") | {
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}",
        "PREFECT_UI_API_URL": api,  # else the UI's scripts call the default port 4200
    }
    serve_env = base_env(tmp_path / "serve-home") | {
        "PREFECT_API_URL": api,
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",  # pick the triggered run up within 2 s, not 10
        "LITMINE_FETCH_BATCH_SIZE": "50",
        "LITMINE_BACKOFF_BASE": "0.05",
        "LITMINE_REFRESH_CRON": CRON,
        "NCBI_EMAIL": "tests@litmine.invalid",
    }
    prefect = Path(sys.executable).with_name("prefect")
    with EutilsServer([SAMPLE], rate=3) as eutils, \
            background([str(prefect), "server", "start", "--host", "127.0.0.1", "--port",
                        str(port)], server_env, tmp_path / "server.log") as server, \
            httpx.Client(base_url=api, timeout=30) as http:
        wait_for(lambda: http.get("/health").status_code == 200, "prefect server start", 240,
                 server, tmp_path / "server.log")
        assert http.get(f"{ui}/ui-settings").json()["api_url"] == api

        serve_env["LITMINE_EUTILS_URL"] = eutils.url
        with background([sys.executable, "-m", "litmine.cli", "serve", "--db", str(db),
                         "--model", str(tiny_ner_model)], serve_env,
                        tmp_path / "serve.log") as serve:
            found = lambda name: (r := http.get(f"/deployments/name/{name}")).is_success and r.json()
            mine = wait_for(lambda: found("mine/litmine"), "litmine serve", 240, serve,
                            tmp_path / "serve.log")
            refresh = wait_for(lambda: found("refresh/litmine"), "litmine serve", 60, serve,
                               tmp_path / "serve.log")
            assert mine["parameters"] == {"db": str(db), "model": str(tiny_ner_model)}
            assert {"query", "files", "max_results"} <= set(
                mine["parameter_openapi_schema"]["properties"])  # the UI's Run form
            assert not mine["schedules"]
            assert [s["schedule"]["cron"] for s in refresh["schedules"]] == [CRON]

            # A busy machine can make the server answer 503 (its SQLite database is busy): ask again.
            created = wait_for(lambda: (r := http.post(f"/deployments/{mine['id']}/create_flow_run",
                                                       json={"parameters": {"query": "all[sb]"}})
                                        ).status_code != 503 and r, "create a flow run", 60, server,
                               tmp_path / "server.log")
            assert created.is_success, created.text
            run_id, run_name = created.json()["id"], created.json()["name"]
            state = lambda: (s := http.get(f"/flow_runs/{run_id}").json()["state"]["type"]) \
                in TERMINAL and s
            final = wait_for(state, "the mine flow run", 300, serve, tmp_path / "serve.log")
            assert final == "COMPLETED", tail(tmp_path / "serve.log")

            artifacts = http.post("/artifacts/filter", json={
                "artifacts": {"flow_run_id": {"any_": [run_id]}}}).json()
            assert "mine-report" in {a["key"] for a in artifacts}
            assert {r.endpoint for r in eutils.requests()} == {"esearch", "efetch"}

            shot = tmp_path / "flow-run.png"
            text = check_page(flow_run_url(ui, run_id),
                              [run_name, "Completed", "Flow mine", "Deployment litmine"],
                              screenshot=shot)
            assert "Failed" not in text
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000

            stop(serve)  # graceful: Prefect pauses the served deployments on the way out
            assert serve.returncode == 0, tail(tmp_path / "serve.log")
            assert http.get(f"/deployments/{refresh['id']}").json()["paused"] is True

    with duckdb.connect(str(db), read_only=True) as con:
        count = lambda table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        assert count("articles") == 177  # the whole E-utilities corpus
        assert count("sentences") > 177 and count("entities") > 0
        assert con.execute("SELECT run_id, flow, status, model FROM runs").fetchall() == [
            (run_id, "mine", "completed", str(tiny_ner_model))]
    with pytest.raises(httpx.ConnectError):  # the server is gone
        httpx.get(f"{api}/health")


@pytest.mark.parametrize(("cron", "timezone", "message"), [
    ("every day", "UTC", 'Invalid cron string: "every day"'),
    ("61 3 * * *", "UTC", 'Invalid cron string: "61 3 \\* \\* \\*"'),
    ("0 3 * * *", "Mars/Olympus", 'Invalid timezone: "Mars/Olympus"'),
])
def test_bad_schedule_is_one_clear_error(cron, timezone, message):
    from litmine.commands.serve import check_cron
    from litmine.errors import LitmineError

    with pytest.raises(LitmineError, match=f"serve: schedule .* is not valid: .*{message}"):
        check_cron(cron, timezone)
    assert check_cron("0 3 * * *", "Europe/Berlin").cron == "0 3 * * *"
