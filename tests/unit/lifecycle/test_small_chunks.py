"""A provider's per-batch minimum in planning (a tail below it joins its chunk) and the
identity of a gathered chunk."""

from batchrelay.lifecycle.chunk_planner import ChunkBoundaries, ChunkLimits
from batchrelay.lifecycle.retry_planner import base_of, retry_chunk_id
from batchrelay.lifecycle.small_chunks import merged_chunk_id
from tests.support.jobs import make_job


def chunk_sizes(limits: ChunkLimits, total: int, line_size: int = 10) -> list[int]:
    boundaries = ChunkBoundaries(limits)
    sizes: list[int] = []
    for seen in range(total):
        if boundaries.starts_new_chunk(line_size, total - seen):
            sizes.append(0)
        sizes[-1] += 1
    return sizes


def test_a_tail_below_the_minimum_joins_the_chunk_before_it():
    limits = ChunkLimits(max_requests=100, max_bytes=10**9, min_requests=100, provider_max_requests=50_000)
    assert chunk_sizes(limits, 250) == [100, 150]
    assert chunk_sizes(limits, 300) == [100, 100, 100]
    assert chunk_sizes(limits, 60) == [60]   # a pass below the minimum is one small chunk


def test_the_tail_stays_apart_where_the_chunk_would_pass_the_providers_maximum_or_the_byte_limit():
    assert chunk_sizes(ChunkLimits(max_requests=100, max_bytes=10**9, min_requests=100,
                                   provider_max_requests=120), 250) == [100, 100, 50]
    assert chunk_sizes(ChunkLimits(max_requests=100, max_bytes=1200, min_requests=100,
                                   provider_max_requests=50_000), 250, line_size=10) == [100, 120, 30]


def test_without_a_minimum_nothing_changes():
    assert chunk_sizes(ChunkLimits(max_requests=100, max_bytes=10**9), 250) == [100, 100, 50]


def test_a_chunk_size_below_the_minimum_is_raised_to_it(aws, monkeypatch):
    from batchrelay.lifecycle.chunk_planner import chunk_limits
    from batchrelay.settings import get_settings

    monkeypatch.setenv("BEDROCK_MIN_REQUESTS_PER_BATCH", "150")
    get_settings.cache_clear()
    limits = chunk_limits(make_job(provider="bedrock", endpoint="/model/invoke", chunk_size=100))
    assert (limits.max_requests, limits.min_requests, limits.provider_max_requests) == (150, 150, 50_000)


def test_a_gathered_chunk_is_named_by_its_members_and_its_retries_follow_it():
    class Member:
        def __init__(self, chunk_id: str):
            self.chunk_id = chunk_id

    members = [Member("c00002-r2"), Member("c00001-r2")]
    merged = merged_chunk_id(2, members)
    assert merged == merged_chunk_id(2, list(reversed(members)))   # the same set, the same chunk
    assert merged.startswith("m2-") and merged != merged_chunk_id(2, members[:1])
    assert base_of(retry_chunk_id(merged, 3)) == merged and retry_chunk_id(merged, 3) == f"{merged}-r3"
    # results follow chunk ids: gathered chunks after the job's own
    assert "c99999-r3" < merged
