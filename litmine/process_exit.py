"""End a command's process without the interpreter's teardown of every module (a fast exit).

Python's exit joins the non-daemon threads, runs the atexit handlers, flushes stdout and stderr,
and then finalizes every module and object. After torch, transformers and Prefect are imported
and a model is loaded, that last step alone takes 1.1 s on an idle 2-core Xeon (the same script
ending in `os._exit(0)` after it: 0.02 s) and 1.7 s at the end of a `litmine mine` run (py-spy:
the main thread busy with no Python frame left). Nothing litmine needs happens in it: commands
close their DuckDB files themselves, Prefect sends its last logs and events, and
litmine/temporary_server.py stops its server, from atexit handlers. A command that has closed
what it opened calls `skip_teardown()`; the console entry then ends the process with
`exit_process`, which does the first three steps as the interpreter does and skips the last.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Callable

_skip = False


def skip_teardown() -> None:
    """Let this process end without the interpreter's teardown once the command returns."""
    global _skip
    _skip = True


def run_and_exit(main: Callable[[], None]) -> None:
    """Run a console entry's `main`; when its command called `skip_teardown`, end the process
    as the interpreter would (same exit status, threads joined, atexit handlers run, streams
    flushed) but without finalizing every module. Otherwise (and on an uncaught exception)
    the interpreter exits as usual."""
    try:
        main()
        code = 0
    except SystemExit as exc:
        if not _skip:
            raise
        code = exc.code
    if not _skip:
        return
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"): printed, status 1, as Python does
        print(code, file=sys.stderr)
        code = 1
    exit_process(code)


def exit_process(code: int) -> None:
    """The interpreter's exit minus its finalization: what `Py_FinalizeEx` does first, in its
    order (join non-daemon threads, then atexit handlers), then flush and `os._exit`."""
    threading._shutdown()  # noqa: SLF001 - the interpreter's own first exit step
    atexit._run_exitfuncs()  # noqa: SLF001 - its second
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken pipe: nothing left to flush to
            pass
    os._exit(code)
