"""NCBI_API_KEY never leaves the request: not in logs, Prefect parameters, task runs, artifacts,
the Prefect database, the litmine database or error messages -- through faults (a 429 whose JSON
body echoes the key, 5xx, a reset) and a final failure. The server's log shows it WAS sent."""

from __future__ import annotations

import logging
import secrets
import traceback
from pathlib import Path
from urllib.parse import quote

import duckdb
import pytest

from litmine.errors import EutilsError
from litmine.settings import get_settings
from tests.support.eutils_server import EutilsServer

ROOT = Path(__file__).resolve().parents[2]
#: The first 60 records of the bundled sample (tests/fixtures/eutils/SOURCES.md): two pages of 50.
SAMPLE = ROOT / "tests" / "fixtures" / "eutils" / "pubmedsample18n0001_first60.xml.gz"
#: A key shaped like NCBI's (36 hex digits), new each session so no file holds it by chance.
KEY = secrets.token_hex(18)


class Answer429Server(EutilsServer):
    """The test server; with `always_429`, every efetch is answered NCBI's 429 (echoing the key)."""

    always_429 = False

    def answer(self, entry):
        if self.always_429 and entry.endpoint == "efetch":
            with self._lock:
                self.fail_next("429", 1, "efetch")
                return super().answer(entry)
        return super().answer(entry)


def leaks(text: str) -> list[str]:
    """Where KEY (or its URL-encoded form) shows in `text`: a little context around each hit."""
    hits = []
    for needle in {KEY, quote(KEY)}:
        start = text.find(needle)
        while start != -1:
            hits.append(text[max(0, start - 80): start + len(needle) + 20])
            start = text.find(needle, start + 1)
    return hits


def prefect_records(flow_run_ids: list[str]) -> dict[str, str]:
    """Everything the Prefect API holds about these flow runs, as text per kind."""
    from prefect import get_client
    from prefect.client.schemas.filters import (ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter,
                                                FlowRunFilterId, LogFilter, LogFilterFlowRunId)
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # logs are shipped in batches: send what is queued
    out = {"parameters": "", "states": "", "task_runs": "", "artifacts": "", "logs": ""}
    with get_client(sync_client=True) as client:
        for run_id in flow_run_ids:
            run = client.read_flow_run(run_id)
            out["parameters"] += repr(run.parameters)
            out["states"] += repr(run.state) + repr(run.state.message)
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
            out["task_runs"] += "".join(r.model_dump_json() for r in runs)
            artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))
            out["artifacts"] += "".join(a.model_dump_json() for a in artifacts)
            offset = 0
            while True:
                logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])),
                                        limit=200, offset=offset)
                if not logs:
                    break
                out["logs"] += "\n".join(log.message for log in logs) + "\n"
                offset += len(logs)
    return out


def prefect_database_bytes() -> str:
    """The raw bytes of the harness's SQLite database (and its WAL), decoded leniently."""
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    path = Path(PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split("///", 1)[1])
    return "".join(p.read_bytes().decode("latin-1") for p in (path, Path(f"{path}-wal")) if p.exists())


def litmine_database_text(db: Path) -> str:
    """Every row of every table of a litmine database, as text."""
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return "\n".join(repr(con.execute(f"SELECT * FROM {t}").fetchall()) for t in tables)


@pytest.fixture
def keyed_env(monkeypatch, tiny_ner_model):
    def apply(server: EutilsServer, **overrides) -> None:
        env = {"LITMINE_EUTILS_URL": server.url, "LITMINE_FETCH_BATCH_SIZE": "50",
               "LITMINE_BACKOFF_BASE": "0.01", "LITMINE_HTTP_TIMEOUT": "5", "LITMINE_MAX_RETRIES": "6",
               "LITMINE_MODEL": str(tiny_ner_model), "NCBI_EMAIL": "tests@litmine.invalid",
               "NCBI_API_KEY": KEY}
        env.update({f"LITMINE_{k.upper()}": str(v) for k, v in overrides.items()})
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings(fresh=True)

    yield apply
    monkeypatch.undo()
    get_settings(fresh=True)


def test_the_api_key_is_sent_but_never_shown(prefect_harness, keyed_env, tmp_path, capfd, caplog):
    from litmine.flows.mine import mine

    caplog.set_level(logging.DEBUG)
    db = tmp_path / "keyed.duckdb"
    with Answer429Server([SAMPLE], rate=3, rate_with_key=10) as server:
        # 1. A run through faults that succeeds: 429 (body echoes the key), 5xx, a reset.
        keyed_env(server)
        for kind in ("429", "500", "503", "reset", "429"):
            server.fail_next(kind, endpoint="efetch")
        server.fail_next("502", endpoint="esearch")
        done = mine(query="all[sb]", db=str(db), batch_size=64, device="cpu")
        assert done["articles"] == 60

        # 2. A run that fails for good: every efetch answered 429, retries spent.
        server.always_429 = True
        keyed_env(server, max_retries=1)
        with pytest.raises(EutilsError) as failed:
            mine(query="all[sb]", db=str(tmp_path / "failed.duckdb"), batch_size=64, device="cpu")
        log = server.requests()

    # The key WAS sent, with every request, and the server echoed it back in its 429 bodies.
    assert log and all(r.params.get("api_key") == KEY for r in log)
    assert sum(r.status == 429 for r in log) >= 2 + 2  # 2 injected in run 1, >= 2 in run 2

    error = failed.value
    error_text = "\n".join([str(error), repr(error), *traceback.format_exception(error)])
    assert "efetch" in str(error) and "HTTP 429" in str(error) and "api-key" in str(error)  # redacted echo

    with duckdb.connect(str(db), read_only=True) as con:
        run_ids = [r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()]
    with duckdb.connect(str(tmp_path / "failed.duckdb"), read_only=True) as con:
        [(failed_id, status, stored_error)] = con.execute("SELECT run_id, status, error FROM runs").fetchall()
    assert status == "failed" and "HTTP 429" in stored_error
    prefect = prefect_records([*run_ids, failed_id])
    out, err = capfd.readouterr()

    places = {
        "stdout": out, "stderr": err, "python logging": caplog.text
        + "\n".join(r.getMessage() for r in caplog.records),
        "error message and traceback": error_text,
        **{f"prefect {k}": v for k, v in prefect.items()},
        "prefect database file": prefect_database_bytes(),
        "litmine database (run ok)": litmine_database_text(db),
        "litmine database (run failed)": litmine_database_text(tmp_path / "failed.duckdb"),
    }
    # What was captured is real: the retries were logged, the runs and artifact were recorded.
    assert "retry 1" in places["stderr"] + places["python logging"]
    assert "mine finished" in places["prefect logs"] and "HTTP 429" in places["prefect logs"]
    assert "all[sb]" in places["prefect parameters"] and "# litmine mine" in places["prefect artifacts"]
    assert "HTTP 429" in places["prefect states"]
    assert "all[sb]" in places["prefect database file"] and "all[sb]" in places["litmine database (run ok)"]
    assert "HTTP 429" in places["litmine database (run failed)"]
    assert {place: leaks(text) for place, text in places.items() if leaks(text)} == {}
