"""Find a repeated custom_id among millions of requests checked in steps, with bounded memory.

Uploads are checked in steps (``lifecycle.input_validation``); no step sees every id, and
nothing but S3 and the job item lasts from one step to the next. So:

1. Each step records, per request, ``(hash, line, offset)``: the id's 8-byte hash, its line
   number and the byte offset of its line in the job's input (24 bytes a request; a step
   checks at most ``validation_step_requests`` of them). At the end of the step the records
   are sorted by hash and written to S3 as one *run*: a header of ``BUCKETS + 1`` record
   indexes (where each bucket, the hash's top byte, starts), then the records. A run keeps
   at most two records per hash, the two earliest lines (enough to find a first repeat),
   so a file that repeats one id a million times makes no bucket larger than the others.
   (The one case this misses: two different ids of one hash in a step and a third line
   repeating one of them; a 64-bit collision among 20,000,000 ids has odds near 1e-5.)
2. Once every line is checked, the buckets are checked a group at a time: the group's slice
   of every run is read (one ranged GET per run), its hashes sorted, and equal neighbours
   are *candidates*; a group holds at most ``max_records`` records (the runs' headers say
   how many each bucket has before anything else is read). A candidate is confirmed by
   reading its lines back (a 64-bit collision is not a duplicate).
3. The answer is the first line, in file order, whose id appeared on an earlier line: what
   a single pass with every id in memory would say. Groups are independent, so the check
   itself runs in steps, carrying only the earliest repeat confirmed so far.
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

BUCKETS = 256
_BUCKET_SHIFT = 56              # the top byte of a 64-bit hash
_FIELDS = 3                     # hash, line, offset: unsigned 64-bit each
RECORD_BYTES = _FIELDS * 8
HEADER_BYTES = (BUCKETS + 1) * 8
_KEEP_PER_HASH = 2


def id_hash(custom_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(custom_id.encode(), digest_size=8).digest(), "big")


def _little_endian(values: array) -> bytes:
    if sys.byteorder == "big":  # pragma: no cover - Lambda and CI are little-endian
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _from_little_endian(data: bytes | memoryview) -> array:
    values = array("Q")
    values.frombytes(data)
    if sys.byteorder == "big":  # pragma: no cover
        values.byteswap()
    return values


class StepIds:
    """The ids one step checked, as ``(hash, line, offset)`` records, 24 bytes each."""

    def __init__(self) -> None:
        self._records = array("Q")

    def __len__(self) -> int:
        return len(self._records) // _FIELDS

    def add(self, custom_id: str, line: int, offset: int) -> None:
        self._records.extend((id_hash(custom_id), line, offset))

    def run_bytes(self) -> bytes:
        """The step's run: bucket starts, then records sorted by hash (stable: by line within
        a hash), at most two per hash."""
        records = self._records
        hashes = records[0::_FIELDS]
        order = sorted(range(len(hashes)), key=hashes.__getitem__)
        kept = array("Q")
        counts = [0] * BUCKETS
        previous, seen = -1, 0
        for index in order:
            value = hashes[index]
            seen = seen + 1 if value == previous else 1
            previous = value
            if seen > _KEEP_PER_HASH:
                continue
            start = index * _FIELDS
            kept.extend(records[start : start + _FIELDS])
            counts[value >> _BUCKET_SHIFT] += 1
        starts = array("Q", [0])
        for count in counts:
            starts.append(starts[-1] + count)
        return _little_endian(starts) + _little_endian(kept)


def bucket_starts(header: bytes) -> list[int]:
    """The record index where each bucket starts in a run (``BUCKETS + 1`` values)."""
    if len(header) < HEADER_BYTES:
        raise ValueError(f"a run header has {HEADER_BYTES} bytes, got {len(header)}")
    return list(_from_little_endian(header[:HEADER_BYTES]))


def byte_range(starts: Sequence[int], first_bucket: int, end_bucket: int) -> tuple[int, int]:
    """The bytes ``[start, end)`` of a run that hold buckets ``first_bucket .. end_bucket - 1``."""
    return HEADER_BYTES + starts[first_bucket] * RECORD_BYTES, HEADER_BYTES + starts[end_bucket] * RECORD_BYTES


def group_end(runs: Sequence[Sequence[int]], first_bucket: int, max_records: int) -> int:
    """The end (exclusive) of the group of buckets from ``first_bucket``: as many buckets as
    fit in ``max_records`` records over every run, and at least one."""
    total = 0
    end = first_bucket
    while end < BUCKETS:
        size = sum(starts[end + 1] - starts[end] for starts in runs)
        if end > first_bucket and total + size > max_records:
            break
        total += size
        end += 1
    return end


@dataclass(frozen=True)
class Repeat:
    """A custom_id on ``line`` that first appeared on ``first_line``."""

    custom_id: str
    line: int
    first_line: int


def candidates(slices: Iterable[bytes]) -> dict[int, list[tuple[int, int]]]:
    """Hashes found more than once in a group's slices: hash -> sorted [(line, offset)]."""
    records = [_from_little_endian(data) for data in slices if data]
    hashes = sorted(value for run in records for value in run[0::_FIELDS])
    repeated = {a for a, b in pairwise(hashes) if a == b}
    del hashes
    found: dict[int, list[tuple[int, int]]] = {}
    if not repeated:
        return found
    for run in records:
        for value, line, offset in zip(run[0::_FIELDS], run[1::_FIELDS], run[2::_FIELDS], strict=True):
            if value in repeated:
                found.setdefault(value, []).append((line, offset))
    for lines in found.values():
        lines.sort()
    return found


def first_repeat(
    groups: dict[int, list[tuple[int, int]]], read_id: Callable[[int], str], *, before: int | None = None
) -> Repeat | None:
    """The earliest confirmed repeat among candidate groups, if earlier than line ``before``.

    ``read_id(offset)`` reads the custom_id of the line at ``offset``; it is called only for
    groups that could beat the best repeat so far, in the order of their second line.
    """
    best: Repeat | None = None
    limit = before
    for lines in sorted(groups.values(), key=lambda lines: lines[1][0]):
        if limit is not None and lines[1][0] >= limit:
            break
        first_seen: dict[str, int] = {}
        for line, offset in lines:
            if limit is not None and line >= limit:
                break
            custom_id = read_id(offset)
            if custom_id in first_seen:
                best = Repeat(custom_id=custom_id, line=line, first_line=first_seen[custom_id])
                limit = line
                break
            first_seen[custom_id] = line
    return best
