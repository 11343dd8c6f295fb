"""The `litmine` console script: fix the process's malloc arenas first, then run the CLI."""

from __future__ import annotations


def main() -> None:
    from litmine.memory import exec_with_arena_cap

    exec_with_arena_cap()  # returns at once when MALLOC_ARENA_MAX is set (after the re-exec)
    from litmine.cli import main as cli_main
    from litmine.process_exit import run_and_exit

    run_and_exit(cli_main)  # `litmine mine` ends without the interpreter's teardown
