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

#: uvicorn's exit status when it cannot bind the port (Prefect retries another port on it too).
_PORT_IN_USE = 3


class TemporaryServer:
    """A Prefect API server subprocess on 127.0.0.1, stopped at exit."""

    def __init__(self, startup_timeout: float):
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.ready = False
        self._spawn()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _spawn(self) -> None:
        """Start the server on a free port and point Prefect's settings in this process (and
        its child processes) at it."""
        import prefect
        import prefect.main  # noqa: F401 - Prefect's log handlers, for the line below (0.1 s)
        from prefect.context import refresh_global_settings_context

        self.port = _free_port()
        log.info("Starting temporary server on http://127.0.0.1:%d", self.port)
        # The command line and the variables of Prefect's SubprocessASGIServer._run_uvicorn_command
        # (prefect 3.x): no UI, the ephemeral server's services, one app per process.
        env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
               "PREFECT__SERVER_FINAL": "1"}
        env.pop("PREFECT_API_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(prefect.__file__).parent.parent),
             "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "error", "--lifespan", "on"],
            env=env)
        os.environ["PREFECT_API_URL"] = self.api_url
        # Prefect derives a UI address from the API's and logs "View at <it>" per run, but this
        # server, like Prefect's own temporary one, serves no UI: an empty one logs none.
        os.environ.setdefault("PREFECT_UI_URL", "")
        refresh_global_settings_context()

    def wait(self) -> None:
        """Return once the server answers /api/health; raise LitmineError if it does not in
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS."""
        if self.ready:
            return
        import httpx

        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client() as client:
            while time.monotonic() < deadline:
                status = self.process.poll()
                if status == _PORT_IN_USE:  # taken since `_free_port` looked: another port
                    self._spawn()
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

    def stop(self) -> None:
        """Stop the server (Prefect's own stop: terminate, 5 s, then kill)."""
        if self.process is None:
            return
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
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        return None  # a server of the user's, or Prefect's own error when none is allowed
    server = TemporaryServer(float(settings.server.ephemeral.startup_timeout_seconds))
    atexit.register(server.stop)
    return server


def _free_port() -> int:
    """A port on 127.0.0.1 that is free now (the OS's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
