"""litmine.memory: the glibc arena cap that keeps long runs' memory flat."""

import sys

import pytest

import litmine.memory as memory


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(memory, "_done", False)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_caps_arenas_once_and_follows_the_setting(monkeypatch):
    monkeypatch.delenv("LITMINE_MALLOC_ARENAS", raising=False)
    assert memory.limit_malloc_arenas() == 2
    assert memory.limit_malloc_arenas() is None  # once per process
    monkeypatch.setattr(memory, "_done", False)
    monkeypatch.setenv("LITMINE_MALLOC_ARENAS", "4")
    assert memory.limit_malloc_arenas() == 4


def test_zero_or_nonsense_leaves_glibc_alone(monkeypatch):
    monkeypatch.setenv("LITMINE_MALLOC_ARENAS", "0")
    assert memory.limit_malloc_arenas() is None
    monkeypatch.setattr(memory, "_done", False)
    monkeypatch.setenv("LITMINE_MALLOC_ARENAS", "lots")
    assert memory.limit_malloc_arenas() in (2, None)  # falls back to the default


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_the_console_entry_restarts_once_with_the_arena_cap():
    import os
    import subprocess

    code = ("import os; from litmine.memory import exec_with_arena_cap; "
            "print('start', flush=True); exec_with_arena_cap(); print(os.environ['MALLOC_ARENA_MAX'])")
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "LITMINE_MALLOC_ARENAS")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["start", "start", "2"]  # ran twice: before and after the one re-exec
    env["LITMINE_MALLOC_ARENAS"] = "0"
    out = subprocess.run([sys.executable, "-c", code.replace("os.environ['MALLOC_ARENA_MAX']",
                                                             "os.environ.get('MALLOC_ARENA_MAX')")],
                         env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == ["start", "None"]


def test_onednn_cache_follows_the_setting_and_never_overrides_the_environment(monkeypatch):
    var = memory.ONEDNN_CACHE_VARIABLE
    monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("LITMINE_ONEDNN_CACHE", raising=False)
    assert memory.limit_onednn_cache() == 64 and memory.os.environ[var] == "64"
    monkeypatch.delenv(var)
    monkeypatch.setenv("LITMINE_ONEDNN_CACHE", "16")
    assert memory.limit_onednn_cache() == 16 and memory.os.environ[var] == "16"
    monkeypatch.setenv(var, "512")  # the user's own value wins
    assert memory.limit_onednn_cache() is None and memory.os.environ[var] == "512"
    monkeypatch.delenv(var)
    monkeypatch.setenv("LITMINE_ONEDNN_CACHE", "0")  # oneDNN's default
    assert memory.limit_onednn_cache() is None and var not in memory.os.environ
