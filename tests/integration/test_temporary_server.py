"""`litmine mine` without PREFECT_API_URL: Prefect's temporary server, started by litmine at the
command's start (litmine/temporary_server.py), records the run as a real flow run, and is gone
when the command ends (the process exits without the interpreter's teardown:
litmine/process_exit.py). The real entry in a subprocess, a real server with its own database
under tmp_path, a tiny real model and a real DuckDB file."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from litmine.temporary_server import TemporaryServer, start_temporary_server

PUBMED = Path(__file__).resolve().parents[1] / "fixtures" / "pubmed" / "efetch_21813142.xml"


def test_mine_runs_its_flow_on_a_temporary_server_it_stops(tmp_path, tiny_ner_model):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITMINE_", "PREFECT_"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), HF_HUB_OFFLINE="1", COLUMNS="1000",
               PREFECT_PROFILES_PATH=str(tmp_path / "prefect" / "profiles.toml"))
    db = tmp_path / "t.duckdb"
    result = subprocess.run([sys.executable, "-m", "litmine.cli", "mine", "--files", str(PUBMED),
                             "--db", str(db), "--model", str(tiny_ner_model), "--no-relations",
                             "--no-progress"], env=env, text=True, capture_output=True, timeout=300)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    port = int(re.search(r"Starting temporary server on http://127\.0\.0\.1:(\d+)", log).group(1))
    flow_run = re.search(r"Beginning flow run '([\w-]+)' for flow 'mine'", log).group(1)
    assert f"Stopping temporary server on http://127.0.0.1:{port}" in log
    assert "View at" not in log  # the temporary server serves no UI
    with duckdb.connect(str(db), read_only=True) as con:
        run_id, status = con.execute("SELECT run_id, status FROM runs").fetchone()
        assert status == "completed"
        assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 1
    # the server recorded the run (its database outlives it) and no longer listens
    with sqlite3.connect(tmp_path / "prefect" / "prefect.db") as server_db:
        assert server_db.execute("SELECT name, state_type FROM flow_run WHERE id = ?",
                                 (run_id,)).fetchall() == [(flow_run, "COMPLETED")]
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("setting, expected", [(None, "false"), ("true", "true")])
def test_the_server_sends_no_telemetry_unless_asked(monkeypatch, setting, expected):
    """Prefect's server sends usage data to Prefect by default; litmine's temporary server does
    not (it runs offline), unless PREFECT_SERVER_ANALYTICS_ENABLED says so."""
    import psutil

    if setting is None:
        monkeypatch.delenv("PREFECT_SERVER_ANALYTICS_ENABLED", raising=False)
    else:
        monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", setting)
    server = TemporaryServer()
    try:
        child = psutil.Process(server.process.pid)
        deadline = time.monotonic() + 30
        # until the child has exec'd uvicorn, /proc shows the environment it was forked with
        while "uvicorn" not in " ".join(child.cmdline()) and time.monotonic() < deadline:
            time.sleep(0.01)
        environ = child.environ()
    finally:
        server.stop(quiet=True)
    assert environ.get("PREFECT_SERVER_ANALYTICS_ENABLED") == expected
    assert environ.get("PREFECT_UI_ENABLED") == "0"


def test_no_temporary_server_when_prefect_has_an_api_url(prefect_harness):
    assert start_temporary_server() is None


_PROBE = """
import json, sys
import psutil
from litmine.temporary_server import TemporaryServer, start_temporary_server
from prefect.settings import get_current_settings
server = start_temporary_server()
children = [p.cmdline() for p in psutil.Process().children()]
out = {"server": server is not None, "api": get_current_settings().api.url,
       "heartbeat": get_current_settings().flows.heartbeat_frequency,
       "uvicorn_children": sum("uvicorn" in " ".join(c) for c in children),
       "timeout": server.startup_timeout if server is not None else None}
if server is not None:
    server.wait()
    server.stop()
print(json.dumps(out))
"""


def _probe(tmp_path, profile: str) -> dict:
    import json

    home = tmp_path / "prefect"
    home.mkdir(exist_ok=True)
    (home / "profiles.toml").write_text(profile)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITMINE_", "PREFECT_"))}
    env.update(PREFECT_HOME=str(home), PREFECT_PROFILES_PATH=str(home / "profiles.toml"),
               PREFECT_SERVER_ANALYTICS_ENABLED="false")
    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, text=True,
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_profile_that_names_a_server_stops_the_early_one_and_ours_sends_no_heartbeats(
        tmp_path):
    """The server is spawned before Prefect's settings are read; a profile naming an API (not
    the environment) then makes litmine stop it at once and use that API, with heartbeats as
    configured. Without one, the temporary server is used and its runs send no heartbeats."""
    named = _probe(tmp_path, 'active = "remote"\n[profiles.remote]\n'
                             'PREFECT_API_URL = "http://127.0.0.1:9/api"\n')
    assert named == {"server": False, "api": "http://127.0.0.1:9/api", "heartbeat": 180,
                     "uvicorn_children": 0, "timeout": None}
    # a profile that does not allow a temporary server: none is left running (Prefect's own
    # error comes when a flow runs)
    assert _probe(tmp_path, 'active = "local"\n[profiles.local]\n') == {
        "server": False, "api": None, "heartbeat": 180, "uvicorn_children": 0, "timeout": None}
    ours = _probe(tmp_path, 'active = "ephemeral"\n[profiles.ephemeral]\n'
                            'PREFECT_SERVER_ALLOW_EPHEMERAL_MODE = "true"\n')
    assert ours["server"] and ours["api"].startswith("http://127.0.0.1:")
    assert ours["heartbeat"] is None and ours["uvicorn_children"] == 1
    # Prefect's 20 s default is too short for a first start on a busy machine: at least 120 s
    assert ours["timeout"] == 120.0
    longer = _probe(tmp_path, 'active = "ephemeral"\n[profiles.ephemeral]\n'
                              'PREFECT_SERVER_ALLOW_EPHEMERAL_MODE = "true"\n'
                              'PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS = "300"\n')
    assert longer["timeout"] == 300.0


def test_mine_spawns_the_server_before_it_imports_prefect(tmp_path, tiny_ner_model):
    """The server's own start-up (seconds of imports in its process) overlaps this process's
    import of Prefect (about a second) only if the spawn comes first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITMINE_", "PREFECT_"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), HF_HUB_OFFLINE="1",
               PREFECT_PROFILES_PATH=str(tmp_path / "prefect" / "profiles.toml"))
    code = (
        "import os, subprocess, sys\n"
        "real = subprocess.Popen\n"
        "def spy(args, *a, **k):\n"
        "    if 'uvicorn' in args:\n"
        "        print('prefect imported at the spawn:', 'prefect' in sys.modules, flush=True)\n"
        "        os._exit(0)\n"
        "    return real(args, *a, **k)\n"
        "subprocess.Popen = spy\n"
        "from litmine.cli import main\n"
        "sys.argv = ['litmine', 'mine', '--files', sys.argv[1], '--db', sys.argv[2], '--model',\n"
        "            sys.argv[3], '--no-relations', '--no-progress']\n"
        "main()\n")
    result = subprocess.run([sys.executable, "-c", code, str(PUBMED), str(tmp_path / "t.duckdb"),
                             str(tiny_ner_model)], env=env, text=True, capture_output=True,
                            timeout=120)
    assert "prefect imported at the spawn: False" in result.stdout, result.stdout + result.stderr
