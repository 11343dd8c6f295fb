"""Keep a long run's memory flat: fewer glibc malloc arenas, fewer cached oneDNN primitives.

glibc gives every thread that allocates concurrently its own malloc arena (up to 8 per core) and
rarely returns their freed pages; with NER worker threads, Prefect's task threads and DuckDB all
allocating, a `mine` run's peak RSS kept growing with its length (1,198 -> 1,543 MiB from 200 to
2,000 citations in `benchmarks/e2e.py`). Two arenas keep it flat (1,159 -> 1,218 MiB) at no
measurable speed cost. `LITMINE_MALLOC_ARENAS` sets the number (0 leaves glibc's default).
"""

from __future__ import annotations

import ctypes
import os
import sys

from pydantic import ValidationError

from litmine.settings import get_settings

M_ARENA_MAX = -8  # glibc's mallopt parameter
_done = False


def _wanted_arenas(default: int) -> int:
    """LITMINE_MALLOC_ARENAS (Settings.malloc_arenas), or `default` when unset (0: leave glibc alone)."""
    try:
        settings = get_settings(fresh=True)
    except ValidationError:  # another setting is wrong: the command reports it, the cap still holds
        return default
    return settings.malloc_arenas if "malloc_arenas" in settings.model_fields_set else default


def limit_malloc_arenas(default: int = 2) -> int | None:
    """Cap glibc's malloc arenas for this process (once; Linux/glibc only). Returns the cap set."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return None
    _done = True
    arenas = _wanted_arenas(default)
    if arenas <= 0:
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl, ...): nothing to do
        return None
    return arenas if libc.mallopt(M_ARENA_MAX, arenas) == 1 else None


def exec_with_arena_cap(default: int = 2) -> None:
    """Restart this process with MALLOC_ARENA_MAX set, unless it is set already (console entry).

    glibc reads MALLOC_ARENA_MAX when the process starts; `mallopt` later (`limit_malloc_arenas`)
    cannot shrink arenas made before it. Measured with `benchmarks/e2e.py --n 200 --scale 10
    --batch-size 50`: peak RSS 1,198 -> 1,543 MiB with glibc's default, 1,195 -> 1,376 MiB with
    `mallopt` at flow start, 1,159 -> 1,218 MiB with MALLOC_ARENA_MAX=2 from the start.
    Costs one extra interpreter start (~0.05 s, plus ~0.1 s to read the settings) before anything
    heavy is imported.
    """
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return
    arenas = _wanted_arenas(default)
    argv = getattr(sys, "orig_argv", None)
    if arenas <= 0 or not argv or not sys.executable:
        return
    os.environ["MALLOC_ARENA_MAX"] = str(arenas)
    try:
        os.execv(sys.executable, [sys.executable, *argv[1:]])
    except OSError:  # cannot re-exec (unusual launcher): carry on with mallopt only
        return


#: The variable oneDNN reads when it first creates a primitive (not before: setting it any time
#: before the first bf16 matmul counts).
ONEDNN_CACHE_VARIABLE = "ONEDNN_PRIMITIVE_CACHE_CAPACITY"


def limit_onednn_cache(default: int | None = None) -> int | None:
    """Cap oneDNN's primitive cache for this process and its children (`Settings.onednn_cache`,
    LITMINE_ONEDNN_CACHE; a value already in the environment wins). Returns the cap set.

    On a CPU with bf16 matrix units torch runs bf16 matmuls through oneDNN, which builds one
    primitive per input shape and keeps up to 1,024 of them, each with its own copy of the
    weights reordered for AMX. Every abstract gives the relation head (and every token-budget
    batch the NER model) new shapes, so the cache only grows: `benchmarks/onednn_cache.py`
    measures what it costs and what a cap saves.
    """
    if ONEDNN_CACHE_VARIABLE in os.environ:
        return None
    if default is None:
        try:
            default = get_settings(fresh=True).onednn_cache
        except ValidationError:
            return None
    if default <= 0:
        return None
    os.environ[ONEDNN_CACHE_VARIABLE] = str(default)
    return default
