"""Jobs whose requests name several models: one batch per model per chunk where the
provider needs it (the FakeProvider fails a mixed batch whole, as OpenAI does)."""

from __future__ import annotations

import math
from collections import Counter

import orjson
import pytest

from batchrelay.models.job import JobStatus
from batchrelay.store import chunk_store
from tests.support.stored_jobs import chat_requests, read_lines, submit_job

MODELS = ("gpt-4o-mini", "gpt-4.1", "o4-mini")


def mixed_requests(n: int, models=MODELS) -> list[dict]:
    requests = chat_requests(n)
    for i, request in enumerate(requests):
        request["body"]["model"] = models[i % 7 % len(models)]   # interleaved, uneven
    return requests


def batch_models(fake) -> list[set[str]]:
    return [{body["model"] for _pcid, body in batch.requests} for batch in fake.batches.values()]


def assert_one_line_per_request(job, requests):
    lines = read_lines(job.results_key)
    assert Counter(line["custom_id"] for line in lines) == Counter(r["custom_id"] for r in requests)
    return {line["custom_id"]: line for line in lines}


def test_a_mixed_model_job_completes_with_one_batch_per_model_per_chunk(fake, driver):
    requests = mixed_requests(40)
    per_model = Counter(r["body"]["model"] for r in requests)
    job = submit_job(requests, chunk_size=5)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    assert_one_line_per_request(job, requests)
    assert all(len(models) == 1 for models in batch_models(fake))
    expected_batches = sum(math.ceil(count / 5) for count in per_model.values())
    assert fake.calls["create"] == len(fake.batches) == expected_batches == job.chunks_total
    chunks = chunk_store.list_chunks(job.job_id)
    assert Counter(chunk.model for chunk in chunks) == {m: math.ceil(c / 5) for m, c in per_model.items()}
    # Each model's requests fill its chunks in input order.
    for chunk in chunks:
        ids = [line["custom_id"] for line in read_lines(chunk.input_key)]
        assert ids == sorted(ids) and {per_model_of(requests, cid) for cid in ids} == {chunk.model}


def per_model_of(requests, custom_id):
    return next(r["body"]["model"] for r in requests if r["custom_id"] == custom_id)


def test_retry_chunks_of_a_mixed_model_job_stay_one_model_per_batch(fake, driver):
    fake.outcome_for = lambda pcid, seen: "retryable" if seen == 1 and int(pcid[-2:]) % 3 == 0 else "succeeded"
    requests = mixed_requests(30)
    job = submit_job(requests, chunk_size=10)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    lines = assert_one_line_per_request(job, requests)
    assert {cid for cid, line in lines.items() if line["attempts"] == 2} == {
        r["custom_id"] for r in requests if int(r["custom_id"][-2:]) % 3 == 0}
    retries = [chunk for chunk in chunk_store.list_chunks(job.job_id) if chunk.attempt == 2]
    assert len(retries) >= len(MODELS)
    assert all(chunk.model is not None for chunk in retries)
    assert all(len(models) == 1 for models in batch_models(fake))


def test_a_provider_that_takes_mixed_models_gets_chunks_in_input_order(fake, driver, monkeypatch):
    fake.name = "anthropic"   # the registry says Anthropic's batches take several models
    requests = mixed_requests(12)
    job = submit_job(requests, chunk_size=5, provider="anthropic", endpoint="/v1/messages")

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    assert_one_line_per_request(job, requests)
    assert fake.calls["create"] == 3
    assert any(len(models) > 1 for models in batch_models(fake))
    assert {chunk.model for chunk in chunk_store.list_chunks(job.job_id)} == {None}


def test_each_model_is_planned_in_a_pass_of_its_own(fake, driver, monkeypatch):
    from batchrelay.lifecycle import chunk_planner

    models = tuple(f"model-{i}" for i in range(5))
    reads = []
    real_lines = chunk_planner.numbered_object_lines
    monkeypatch.setattr(chunk_planner, "numbered_object_lines",
                        lambda key, start=0: reads.append((key, start)) or real_lines(key, start=start))
    live: set[int] = set()
    most_open = [0]
    writer = chunk_planner.ChunkInputWriter
    real_init, real_close, real_abort = writer.__init__, writer.close, writer.abort

    def opened(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        live.add(id(self))
        most_open[0] = max(most_open[0], len(live))

    monkeypatch.setattr(writer, "__init__", opened)
    monkeypatch.setattr(writer, "close", lambda self: (live.discard(id(self)), real_close(self)))
    monkeypatch.setattr(writer, "abort", lambda self: (live.discard(id(self)), real_abort(self)))
    requests = chat_requests(50)
    for i, request in enumerate(requests):
        request["body"]["model"] = models[i % 5]
    job = submit_job(requests, chunk_size=4)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    assert_one_line_per_request(job, requests)
    assert all(len(models) == 1 for models in batch_models(fake))
    assert job.chunks_total == 5 * math.ceil(10 / 4)
    # 5 models: a pass over the input per model (and one to find them, as this job was stored
    # without the counts validation keeps), and never more than one chunk open at once.
    assert [start for key, start in reads if key == job.input_key] == [0] * 6
    assert most_open[0] == 1


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 100])
def test_planning_is_the_same_every_time(fake, aws, chunk_size):
    from batchrelay.lifecycle.chunk_planner import plan_chunks

    job = submit_job(mixed_requests(23), chunk_size=chunk_size, send=False)

    first = [(c.chunk_id, c.model, c.request_count) for c in plan_chunks(job, fake)]
    second = [(c.chunk_id, c.model, c.request_count) for c in plan_chunks(job, fake)]

    assert first == second
    assert sum(count for _, _, count in first) == 23
    assert all(count <= chunk_size for _, _, count in first)
    assert sorted(chunk_id for chunk_id, _, _ in first) == [f"c{i:05d}" for i in range(1, len(first) + 1)]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_mixed_model_job_through_the_adapters_and_the_simulator(sim, driver, provider):
    from batchrelay.lifecycle.chunk_planner import chunk_provider_key
    from tests.integration.lifecycle.test_lifecycle_simulator import batches_created, results_by_id
    from tests.support.stored_jobs import anthropic_requests, read_bytes

    requests = mixed_requests(30) if provider == "openai" else anthropic_requests(30)
    if provider == "anthropic":
        for i, request in enumerate(requests):
            request["body"]["model"] = ("claude-sonnet-4-5", "claude-haiku-4-5")[i % 2]
    extra = {"provider": "anthropic", "endpoint": "/v1/messages"} if provider == "anthropic" else {}
    job = submit_job(requests, chunk_size=10, **extra)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    results_by_id(job)
    chunks = chunk_store.list_chunks(job.job_id)
    per_model = Counter(r["body"]["model"] for r in requests)
    if provider == "openai":
        assert batches_created(sim, provider) == len(chunks) == sum(math.ceil(n / 10) for n in per_model.values())
        for chunk in chunks:
            lines = read_bytes(chunk_provider_key(job.job_id, chunk.chunk_id)).splitlines()
            assert {orjson.loads(line)["body"]["model"] for line in lines} == {chunk.model}
    else:
        assert batches_created(sim, provider) == len(chunks) == 3


def test_each_create_is_given_its_chunks_model_and_the_jobs_timeout_hours(fake, driver):
    job = submit_job(mixed_requests(12), chunk_size=100, timeout_hours=12)

    driver.run_until_final(job.job_id)

    assert sorted(options.model for options in fake.create_options) == sorted(MODELS)
    assert {options.timeout_hours for options in fake.create_options} == {12}
