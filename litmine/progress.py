"""A process-wide progress hook: flows report, the CLI draws a progress bar (or nothing)."""

from __future__ import annotations

from collections.abc import Callable

ProgressHook = Callable[..., None]
_hook: ProgressHook | None = None


def set_progress_hook(hook: ProgressHook | None) -> None:
    """Install `hook(total=..., advance=...)`; None removes it."""
    global _hook
    _hook = hook


def report_progress(*, total: int | None | type(...) = ..., advance: int = 0) -> None:
    """Tell the hook (if any) the amount of work (`total`, None = unknown) or progress made."""
    if _hook is None:
        return
    if total is not ...:
        _hook(total=total, advance=advance)
    else:
        _hook(advance=advance)
