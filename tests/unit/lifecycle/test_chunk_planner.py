from batchrelay.lifecycle.chunk_planner import ChunkBoundaries, ChunkLimits, base_chunk_id


def chunk_sizes(limits: ChunkLimits, line_sizes: list[int]) -> list[int]:
    boundaries = ChunkBoundaries(limits)
    sizes: list[int] = []
    for size in line_sizes:
        if boundaries.starts_new_chunk(size):
            sizes.append(0)
        sizes[-1] += 1
    return sizes


def test_count_limit_splits_evenly():
    assert chunk_sizes(ChunkLimits(max_requests=3, max_bytes=10**9), [10] * 7) == [3, 3, 1]


def test_byte_limit_closes_a_chunk_before_it_would_overflow():
    # 40 + 40 = 80 fits in 100; a third line would make 120.
    assert chunk_sizes(ChunkLimits(max_requests=100, max_bytes=100), [40, 40, 40, 40, 40]) == [2, 2, 1]


def test_a_line_bigger_than_the_byte_limit_gets_a_chunk_of_its_own():
    assert chunk_sizes(ChunkLimits(max_requests=100, max_bytes=100), [10, 500, 10]) == [1, 1, 1]


def test_exact_fit():
    assert chunk_sizes(ChunkLimits(max_requests=2, max_bytes=20), [10, 10, 10, 10]) == [2, 2]


def test_chunk_ids_sort_in_plan_order():
    assert base_chunk_id(2) < base_chunk_id(10) < f"{base_chunk_id(10)}-r2" < base_chunk_id(11)


def test_limits_take_the_smaller_of_job_chunk_size_and_provider_limit(aws, monkeypatch):
    from batchrelay.lifecycle.chunk_planner import chunk_limits
    from batchrelay.settings import get_settings
    from tests.support.jobs import make_job

    monkeypatch.setenv("OPENAI_MAX_REQUESTS_PER_BATCH", "50")
    get_settings.cache_clear()

    assert chunk_limits(make_job(chunk_size=500)).max_requests == 50
    assert chunk_limits(make_job(chunk_size=20)).max_requests == 20
