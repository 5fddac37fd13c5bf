"""The duplicate-id check in steps: runs of hashes, bucket groups, the first repeat by line."""

from __future__ import annotations

import random

import pytest

from batchrelay.validation import duplicate_ids as d


def _runs(ids_per_step: list[list[str]]) -> tuple[list[bytes], dict[int, str]]:
    """Runs as the steps would write them; and the id at each offset (offset = line * 100)."""
    runs, by_offset, line = [], {}, 0
    for ids in ids_per_step:
        step = d.StepIds()
        for custom_id in ids:
            line += 1
            step.add(custom_id, line, line * 100)
            by_offset[line * 100] = custom_id
        runs.append(step.run_bytes())
    return runs, by_offset


def _first_repeat(runs: list[bytes], by_offset: dict[int, str], max_records: int = 10**9) -> d.Repeat | None:
    """The whole check as the steps do it, group after group."""
    starts = [d.bucket_starts(run[: d.HEADER_BYTES]) for run in runs]
    best, bucket = None, 0
    while bucket < d.BUCKETS:
        end = d.group_end(starts, bucket, max_records)
        slices = []
        for run, run_starts in zip(runs, starts, strict=True):
            first, last = d.byte_range(run_starts, bucket, end)
            slices.append(run[first:last])
        found = d.candidates(slices)
        if found:
            best = d.first_repeat(found, by_offset.__getitem__, before=best.line if best else None) or best
        bucket = end
    return best


def _single_pass(ids: list[str]) -> d.Repeat | None:
    seen: dict[str, int] = {}
    for line, custom_id in enumerate(ids, start=1):
        if custom_id in seen:
            return d.Repeat(custom_id, line, seen[custom_id])
        seen[custom_id] = line
    return None


def test_no_repeat_in_unique_ids():
    runs, by_offset = _runs([[f"id-{i}" for i in range(j, j + 300)] for j in range(0, 1200, 300)])
    assert _first_repeat(runs, by_offset, max_records=200) is None


def test_a_repeat_across_steps_is_found_with_both_lines():
    runs, by_offset = _runs([["a", "b", "c"], ["d", "b", "e"]])
    assert _first_repeat(runs, by_offset) == d.Repeat("b", 5, 2)


def test_the_first_repeat_by_line_wins_whatever_the_order_of_buckets_and_steps():
    # "x" repeats in step 1 (line 4); "y" first appears in step 0 and repeats at line 3
    runs, by_offset = _runs([["y", "q", "y"], ["x", "x", "z"]])
    assert _first_repeat(runs, by_offset) == d.Repeat("y", 3, 1)


@pytest.mark.parametrize("seed", range(20))
def test_the_answer_is_what_one_pass_with_every_id_in_memory_says(seed):
    rng = random.Random(seed)
    ids = [f"r{rng.randrange(400)}" for _ in range(300)]
    steps: list[list[str]] = []
    i = 0
    while i < len(ids):
        size = rng.randrange(1, 60)
        steps.append(ids[i : i + size])
        i += size
    runs, by_offset = _runs(steps)
    assert _first_repeat(runs, by_offset, max_records=rng.choice([1, 50, 10**9])) == _single_pass(ids)


def test_one_id_repeated_a_thousand_times_keeps_each_run_small():
    step = d.StepIds()
    for line in range(1, 1001):
        step.add("same", line, line)
    run = step.run_bytes()
    assert len(run) == d.HEADER_BYTES + 2 * d.RECORD_BYTES   # the two earliest lines only
    assert _first_repeat([run], {1: "same", 2: "same"}) == d.Repeat("same", 2, 1)


def test_a_hash_collision_is_not_a_duplicate(monkeypatch):
    monkeypatch.setattr(d, "id_hash", lambda custom_id: 42)   # every id collides
    runs, by_offset = _runs([["a", "b"], ["c", "b"]])
    assert _first_repeat(runs, by_offset) == d.Repeat("b", 4, 2)
    runs, by_offset = _runs([["a", "b"], ["c", "d"]])
    assert _first_repeat(runs, by_offset) is None


def test_groups_hold_at_most_the_records_asked_and_at_least_one_bucket():
    step = d.StepIds()
    for i in range(5000):
        step.add(f"id-{i}", i + 1, i)
    starts = [d.bucket_starts(step.run_bytes()[: d.HEADER_BYTES])]
    bucket, groups = 0, 0
    while bucket < d.BUCKETS:
        end = d.group_end(starts, bucket, 100)
        size = starts[0][end] - starts[0][bucket]
        assert end > bucket and (size <= 100 or end == bucket + 1)
        bucket, groups = end, groups + 1
    assert groups > 10
    assert d.group_end(starts, 0, 10**9) == d.BUCKETS


def test_lines_are_only_read_for_groups_that_can_win():
    runs, by_offset = _runs([["a", "b", "a", "c", "b"]])
    reads = []

    def read(offset: int) -> str:
        reads.append(offset)
        return by_offset[offset]

    starts = [d.bucket_starts(runs[0][: d.HEADER_BYTES])]
    first, last = d.byte_range(starts[0], 0, d.BUCKETS)
    found = d.candidates([runs[0][first:last]])
    assert d.first_repeat(found, read) == d.Repeat("a", 3, 1)
    assert sorted(reads) == [100, 300]   # "b" repeats at line 5, after line 3: never read
