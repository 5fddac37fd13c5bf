"""Find a repeated custom_id in a stream of millions without keeping the ids.

Each id becomes an 8-byte hash in a compact array (8 bytes per request, not ~100 for a
Python set of strings); after sorting, equal neighbours are candidate duplicates, which
a second exact pass over only those hashes confirms (a 64-bit collision is not a dup).
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable
from itertools import pairwise


def id_hash(custom_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(custom_id.encode(), digest_size=8).digest(), "big")


class DuplicateIdFinder:
    def __init__(self) -> None:
        self._hashes = array("Q")

    def add(self, custom_id: str) -> None:
        self._hashes.append(id_hash(custom_id))

    def candidate_hashes(self) -> set[int]:
        ordered = sorted(self._hashes)
        return {a for a, b in pairwise(ordered) if a == b}


def first_duplicate(ids_with_lines: Iterable[tuple[str, int]], candidates: set[int]) -> tuple[str, int] | None:
    """Exact pass: the first (custom_id, line) whose id appeared on an earlier line."""
    seen: set[str] = set()
    for custom_id, line in ids_with_lines:
        if id_hash(custom_id) in candidates:
            if custom_id in seen:
                return custom_id, line
            seen.add(custom_id)
    return None
