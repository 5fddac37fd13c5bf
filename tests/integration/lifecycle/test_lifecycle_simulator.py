"""The lifecycle through the official SDKs against the provider simulator on loopback.

The simulator runs on the driver's virtual clock, so batches "take" minutes while the
tests take milliseconds.
"""

from __future__ import annotations

from collections import Counter

import pytest

from batchrelay.models.job import ChunkStatus, JobStatus
from batchrelay.store import chunk_store
from batchrelay_tools.simulator import SimulatorServer
from tests.support.driver import Driver
from tests.support.stored_jobs import anthropic_requests, chat_requests, read_lines, submit_job

PROVIDERS = ["openai", "anthropic"]


def new_job(provider: str, n: int, **overrides):
    if provider == "anthropic":
        return submit_job(anthropic_requests(n), provider="anthropic", endpoint="/v1/messages", **overrides)
    return submit_job(chat_requests(n), **overrides)


def results_by_id(job) -> dict[str, dict]:
    lines = read_lines(job.results_key)
    ids = Counter(line["custom_id"] for line in lines)
    assert len(lines) == job.request_count
    assert set(ids.values()) == {1}
    return {line["custom_id"]: line for line in lines}


def batches_created(sim: SimulatorServer, provider: str) -> int:
    route = "POST /v1/batches" if provider == "openai" else "POST /v1/messages/batches"
    return sim.calls(route)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_few_thousand_requests_in_several_chunks(sim, driver, provider):
    job = new_job(provider, 2500, chunk_size=500)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    assert job.chunks_total == 5
    lines = results_by_id(job)
    assert all(line["status"] == "succeeded" and line["usage"]["input_tokens"] > 0 for line in lines.values())
    assert job.usage.input_tokens > 0 and job.cost_usd not in (None, "0.000000")
    assert batches_created(sim, provider) == 5
    assert [e["type"] for e in driver.published_events()] == ["job.completed"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_per_request_errors_retry_once_and_permanent_ones_stay(sim, driver, provider):
    sim.configure(failure_rules=[
        {"pattern": r"-0000[0-4]$", "kind": "permanent"},
        {"fraction": 0.2, "kind": "retryable", "first_attempt_only": True},
    ])
    job = new_job(provider, 60, chunk_size=30)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED_WITH_ERRORS
    lines = results_by_id(job)
    errored = {cid for cid, line in lines.items() if line["status"] == "errored"}
    assert errored == {f"req-0000{i}" for i in range(5)}
    assert any(line["attempts"] == 2 and line["status"] == "succeeded" for line in lines.values())
    assert job.counts.succeeded == 55


def test_whole_batch_validation_failure(sim, driver):
    sim.configure(validation_failures_next=1)
    job = new_job("openai", 20, chunk_size=10)

    job = driver.run_until_final(job.job_id)

    lines = results_by_id(job)
    assert Counter(line["status"] for line in lines.values()) == {"succeeded": 10, "errored": 10}
    assert job.status == JobStatus.COMPLETED_WITH_ERRORS


@pytest.mark.parametrize("provider", PROVIDERS)
def test_expiry_keeps_partial_results(sim, driver, provider):
    sim.configure(expire_after_fraction=0.5)
    job = new_job(provider, 20, max_attempts=1)

    job = driver.run_until_final(job.job_id)

    lines = results_by_id(job)
    assert Counter(line["status"] for line in lines.values()) == {"succeeded": 10, "expired": 10}
    assert job.status == JobStatus.COMPLETED_WITH_ERRORS


@pytest.mark.parametrize("provider", PROVIDERS)
def test_rate_limits_and_server_errors_on_create_make_no_second_batch(sim, driver, provider):
    sim.configure(create_errors_next=4, create_error_status=429)
    job = new_job(provider, 30, chunk_size=10)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    results_by_id(job)
    assert len({b for c in chunk_store.list_chunks(job.job_id) for b in c.batch_ids}) == 3
    sim.configure(create_errors_next=3, create_error_status=500)
    job = new_job(provider, 10)
    job = driver.run_until_final(job.job_id)
    assert job.status == JobStatus.COMPLETED
    assert len(chunk_store.list_chunks(job.job_id)[0].batch_ids) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cut_off_result_download(sim, driver, provider):
    sim.configure(cut_downloads_next=2, raw_carriage_return=True)
    job = new_job(provider, 200)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    results_by_id(job)


def test_token_limit_exceeded_holds_and_recreates(sim, driver):
    sim.configure(token_limit_failures_next=1)
    job = new_job("openai", 20, chunk_size=10)

    job = driver.run_until_final(job.job_id, step_s=300)

    assert job.status == JobStatus.COMPLETED
    results_by_id(job)
    assert sorted(len(c.batch_ids) for c in chunk_store.list_chunks(job.job_id)) == [1, 2]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cancel_in_the_middle(sim, driver, provider):
    from batchrelay.lifecycle.messages import send_cancel_message

    sim.configure(processing_seconds=3600.0)
    job = new_job(provider, 40, chunk_size=10)
    driver.drain("jobs")
    driver.poll(1800)   # half-way through every batch

    send_cancel_message(job.job_id)
    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.CANCELLED
    statuses = Counter(line["status"] for line in results_by_id(job).values())
    assert statuses["cancelled"] > 0
    assert set(statuses) <= {"succeeded", "cancelled"}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_submitter_killed_after_the_provider_accepted_the_batch(sim, driver, provider, monkeypatch):
    real_record = chunk_store.record_batch
    crashed = []

    def crash_once(chunk, **kwargs):
        if not crashed:
            crashed.append(chunk.chunk_id)
            raise RuntimeError("killed between create and record")
        return real_record(chunk, **kwargs)

    monkeypatch.setattr(chunk_store, "record_batch", crash_once)
    job = new_job(provider, 30, chunk_size=10)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    assert batches_created(sim, provider) == 3
    results_by_id(job)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_duplicate_deliveries_everywhere(sim, aws, clock, provider):
    sim.configure(failure_rules=[{"fraction": 0.2, "kind": "retryable", "first_attempt_only": True}])
    driver = Driver(aws, clock, duplicate=True)
    job = new_job(provider, 40, chunk_size=20)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    assert job.counts.succeeded == 40
    results_by_id(job)
    assert batches_created(sim, provider) == len(chunk_store.list_chunks(job.job_id))
    assert all(c.status == ChunkStatus.COLLECTED for c in chunk_store.list_chunks(job.job_id))
    assert len(driver.published_events()) == 1
