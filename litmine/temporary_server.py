"""Prefect's temporary API server, started at a command's start instead of at its first flow run.

Without PREFECT_API_URL, Prefect starts a temporary server the moment a flow first needs its API
(`prefect.server.api.server.SubprocessASGIServer`): it imports the whole server package into
the command's own process (2.3-3 s of `python -X importtime`), then runs the server in a
subprocess and waits for it to answer (3.4 s on an idle 2-core machine), all of it after the
command's imports and before the flow's first line. `start_temporary_server` runs the same
server (Prefect's own app, the command line `SubprocessASGIServer` runs) at once, points this
process's Prefect settings at it and lets the command import and load models while it starts;
`TemporaryServer.wait` is called just before the flow. Flow runs, task runs and logs go to a
real Prefect server exactly as before; with PREFECT_API_URL set (or a profile that sets it) this
does nothing and the runs go there.

Two more things cut the fixed cost of a command:
- the server is spawned before this process imports Prefect (about 1 s), unless the
  environment names an API; if the active Prefect profile then turns out to name one (or
  forbids a temporary server), the spawned server is stopped at once and nothing else changes;
- flow runs on this server send no heartbeats (`PREFECT_FLOWS_HEARTBEAT_FREQUENCY` unset in
  this process): they tell a long-lived server that a run has crashed, but this server ends with
  the command, and the heartbeat thread's 1-second sleeps made each flow run's end wait up to a
  second for it.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from litmine.errors import LitmineError

log = logging.getLogger(__name__)

#: The least time `wait` gives the server to answer, whatever Prefect's setting says (seconds).
MIN_STARTUP_TIMEOUT = 120.0
#: uvicorn's exit status when it cannot bind the port (Prefect retries another port on it too).
_PORT_IN_USE = 3


class TemporaryServer:
    """A Prefect API server subprocess on 127.0.0.1, stopped at exit."""

    def __init__(self, startup_timeout: float = MIN_STARTUP_TIMEOUT):
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.ready = False
        self._spawn()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _spawn(self) -> None:
        """Start the server on a free port (without importing Prefect here)."""
        self.port = _free_port()
        # The command line and the variables of Prefect's SubprocessASGIServer._run_uvicorn_command
        # (prefect 3.x): no UI, the ephemeral server's services, one app per process. No
        # telemetry unless asked for: the server would send usage data to Prefect (litmine runs
        # offline) and write a session row at start-up, which has met "database is locked"
        # when another process used the same Prefect database.
        env = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", **os.environ, "PREFECT_UI_ENABLED": "0",
               "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
        env.pop("PREFECT_API_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", _packages_dir("prefect"),
             "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "error", "--lifespan", "on"],
            env=env)

    def point_prefect(self) -> None:
        """Point Prefect's settings in this process (and its child processes) at the server,
        with no flow-run heartbeats in this process."""
        import prefect.context
        import prefect.main  # noqa: F401 - Prefect's log handlers, for the line below (0.1 s)
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY

        os.environ["PREFECT_API_URL"] = self.api_url
        # Prefect derives a UI address from the API's and logs "View at <it>" per run, but this
        # server, like Prefect's own temporary one, serves no UI: an empty one logs none.
        os.environ.setdefault("PREFECT_UI_URL", "")
        prefect.context.refresh_global_settings_context()
        root = prefect.context.GLOBAL_SETTINGS_CONTEXT
        prefect.context.GLOBAL_SETTINGS_CONTEXT = prefect.context.SettingsContext(
            profile=root.profile,
            settings=root.settings.copy_with_update(
                updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}))

    def wait(self) -> None:
        """Return once the server answers /api/health; raise LitmineError if it does not in
        `startup_timeout` seconds (PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, at least
        `MIN_STARTUP_TIMEOUT`)."""
        if self.ready:
            return
        import httpx

        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client() as client:
            while time.monotonic() < deadline:
                status = self.process.poll()
                if status == _PORT_IN_USE:  # taken since `_free_port` looked: another port
                    self._spawn()
                    self.point_prefect()
                elif status is not None:
                    raise LitmineError(
                        f"Prefect's temporary server exited with status {self.process.returncode} "
                        "before it answered (its error is above); set PREFECT_API_URL to a running "
                        "server (`prefect server start`) or run with --debug")
                try:
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        self.ready = True
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise LitmineError(
            f"Prefect's temporary server on {self.api_url} did not answer within "
            f"{self.startup_timeout:g} s; raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS "
            "or set PREFECT_API_URL to a running server (`prefect server start`)")

    def stop(self, quiet: bool = False) -> None:
        """Stop the server (Prefect's own stop: terminate, 5 s, then kill)."""
        if self.process is None:
            return
        if not quiet:
            log.info("Stopping temporary server on http://127.0.0.1:%d", self.port)
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def start_temporary_server() -> TemporaryServer | None:
    """Start Prefect's temporary server now if a flow run would start one (no PREFECT_API_URL
    in the environment or the active Prefect profile, ephemeral mode allowed); None otherwise.

    Call it before the command's heavy imports; call `wait()` on the result before the flow.
    The server stops at exit, after Prefect's own exit handlers have sent the last logs and
    events (atexit runs handlers in reverse order of registration, and Prefect registers its
    own when its workers start, later)."""
    if os.environ.get("PREFECT_API_URL"):
        return None  # a server of the user's
    # Spawned before Prefect is imported here (its import takes about a second); Prefect's
    # settings decide below whether it is wanted after all.
    server = TemporaryServer()
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        server.stop(quiet=True)  # a profile's server, or Prefect's own error when none is allowed
        return None
    # Prefect's default (20 s) is short for a first start on a busy 2-core machine, which creates
    # and migrates the server's database: one took longer in a test run. Wait up to 120 s unless
    # the setting asks for more (as the test harness in tests/conftest.py does).
    server.startup_timeout = max(MIN_STARTUP_TIMEOUT,
                                 float(settings.server.ephemeral.startup_timeout_seconds))
    server.point_prefect()
    log.info("Starting temporary server on http://127.0.0.1:%d", server.port)
    atexit.register(server.stop)
    return server


def _free_port() -> int:
    """A port on 127.0.0.1 that is free now (the OS's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _packages_dir(package: str) -> str:
    """The directory that holds `package` (site-packages), found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LitmineError(f"{package} is not installed; reinstall litmine (`make install`)")
    return str(Path(next(iter(spec.submodule_search_locations))).parent)
