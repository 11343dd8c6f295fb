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
