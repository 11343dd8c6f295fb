"""An immutable string-keyed map kept in two flat arrays: the linker's name tables in ~12 bytes an
entry instead of a dict's ~200 (604 k lexicon names make 1.4 M keys over the linker's levels).

Keys are stored as sorted 64-bit BLAKE2b hashes, values as an index into the distinct values, so
nothing of a key's text is kept. Keys whose hashes collide at build time are kept whole in a small
dict. A key that was never added answers like a stored one only when its hash equals a stored
key's: with n keys, a chance of n / 2**64 per lookup (under 1e-13 for the shipped lexicon).
"""

from __future__ import annotations

import bisect
import hashlib
from array import array
from collections.abc import Iterable
from typing import Any

_MISSING = object()


def key_hash(key: str) -> int:
    """A 64-bit hash of a string, the same in every process (Python's `hash` is salted)."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class HashedMap:
    """`get`, `[]`, `in` and `len` over (str key, hashable value) pairs given once."""

    __slots__ = ("_hashes", "_slots", "_values", "_overflow")

    def __init__(self, items: Iterable[tuple[str, Any]]):
        keys, slots, distinct = [], [], {}
        for key, value in items:
            keys.append(key)
            slots.append(distinct.setdefault(value, len(distinct)))
        values = list(distinct)
        hashes = [key_hash(k) for k in keys]
        order = sorted(range(len(keys)), key=hashes.__getitem__)
        clash = {hashes[a] for a, b in zip(order, order[1:]) if hashes[a] == hashes[b]}
        self._overflow = {keys[i]: values[slots[i]] for i in order if hashes[i] in clash}
        kept = [i for i in order if hashes[i] not in clash]
        self._hashes = array("Q", [hashes[i] for i in kept])
        self._slots = array("I", [slots[i] for i in kept])
        self._values = values

    def __len__(self) -> int:
        return len(self._hashes) + len(self._overflow)

    def get(self, key: str, default: Any = None) -> Any:
        if self._overflow and key in self._overflow:
            return self._overflow[key]
        h = key_hash(key)
        i = bisect.bisect_left(self._hashes, h)
        if i < len(self._hashes) and self._hashes[i] == h:
            return self._values[self._slots[i]]
        return default

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __contains__(self, key: str) -> bool:
        return self.get(key, _MISSING) is not _MISSING
