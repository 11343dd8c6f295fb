"""The linker's compact name tables: same answers as a dict, colliding hashes kept apart, pickled
whole, far smaller than the dict they replace."""

from __future__ import annotations

import pickle
import subprocess
import sys
import tracemalloc

import pytest

from litmine.tasks.linking import hashed_map
from litmine.tasks.linking.hashed_map import HashedMap, key_hash


def test_answers_like_the_dict_it_was_built_from():
    table = {f"Gene\tname {i}": str(i % 97) for i in range(5000)}
    table["Chemical\taspirin"] = "D001241"
    m = HashedMap(table.items())
    assert len(m) == len(table)
    for key, value in table.items():
        assert m[key] == value and m.get(key) == value and key in m
    assert m.get("Gene\tname 5000") is None
    assert m.get("Disease\taspirin", "") == ""
    assert "Chemical\tAspirin" not in m
    with pytest.raises(KeyError, match="absent"):
        m["absent"]


def test_values_of_any_hashable_type_and_an_empty_map():
    m = HashedMap([("a", (("9606", "7157"), ("10090", "22059"))), ("b", ())])
    assert m["a"] == (("9606", "7157"), ("10090", "22059")) and m["b"] == ()
    empty = HashedMap([])
    assert len(empty) == 0 and empty.get("a", "x") == "x"


def test_colliding_hashes_are_kept_whole(monkeypatch):
    # a hash with only four values: most keys collide, and each must still find its own value
    monkeypatch.setattr(hashed_map, "key_hash", lambda key: len(key) % 4)
    table = {"a": "1", "bb": "2", "ccc": "3", "dddd": "4", "eeeee": "5"}
    m = HashedMap(table.items())
    assert {k: m[k] for k in table} == table
    assert m._overflow == {"a": "1", "eeeee": "5"}  # 1 and 5 share a hash; the others stand alone
    assert "ffff" in m  # a never-added key with a stored key's hash: the documented false positive
    assert m.get("fffff") is None  # its hash is among the colliders, which are compared whole


def test_pickles_and_hashes_the_same_in_another_process():
    m = HashedMap([("Gene\tTP53", "7157"), ("Gene\tp53", "7157")])
    back = pickle.loads(pickle.dumps(m, protocol=pickle.HIGHEST_PROTOCOL))
    assert back["Gene\tTP53"] == "7157" and len(back) == 2
    other = subprocess.run(
        [sys.executable, "-c", "from litmine.tasks.linking.hashed_map import key_hash; "
                               "print(key_hash('Gene\\tTP53'))"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert int(other) == key_hash("Gene\tTP53")  # not Python's salted hash


def test_an_entry_costs_a_fraction_of_a_dict_entry():
    values = [f"D{i:06d}" for i in range(20_000)]

    def items():  # keys made while measured, as the linker makes them from its lexicon
        return ((f"Chemical\tsome chemical name {i}", values[i % 20_000]) for i in range(50_000))

    tracemalloc.start()
    as_dict = dict(items())
    dict_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del as_dict
    tracemalloc.start()
    m = HashedMap(items())
    map_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(m) == 50_000
    assert map_bytes * 5 < dict_bytes, (map_bytes, dict_bytes)
