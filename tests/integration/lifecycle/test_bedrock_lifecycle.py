"""Bedrock jobs through the lifecycle: boto3's bedrock and bedrock-runtime clients against the
simulator on loopback, S3 on moto (the simulator reads the chunk files and writes its output
there), on the driver's virtual clock.

The record minimum is 10 here (Bedrock's default is 100), in both the simulator and the
deployment's settings, so the tests stay small (the ``bedrock_sim`` fixture).
"""

from __future__ import annotations

from collections import Counter

from batchrelay.models.job import ChunkStatus, JobStatus
from batchrelay.store import chunk_store
from tests.support.bedrock import MODEL, billed, ledger
from tests.support.bedrock import new_bedrock_job as new_job
from tests.support.stored_jobs import read_json, read_lines


def results_by_id(job) -> dict[str, dict]:
    lines = read_lines(job.results_key)
    assert len(lines) == job.request_count
    assert set(Counter(line["custom_id"] for line in lines).values()) == {1}
    return {line["custom_id"]: line for line in lines}


def test_a_job_runs_in_batches_of_at_least_the_minimum(bedrock_sim, driver):
    # Given 55 requests in chunks of 25: the tail of 5 is below the minimum and joins its chunk
    job = new_job(55, chunk_size=25)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    chunks = sorted(chunk_store.list_chunks(job.job_id), key=lambda c: c.chunk_id)
    assert [c.request_count for c in chunks] == [25, 30]
    lines = results_by_id(job)
    assert all(line["status"] == "succeeded" and "service_tier" not in line for line in lines.values())
    assert lines["req-00003"]["response"]["content"][0]["type"] == "text"
    assert lines["req-00003"]["usage"]["input_tokens"] > 0
    jobs, runs = ledger(bedrock_sim)
    assert sorted(len(b.requests) for b in jobs) == [25, 30] and runs == []
    manifest = read_json(job.manifest_key)
    assert manifest["cost"]["on_demand_usd"] is None and manifest["cost"]["unpriced_models"] == []
    assert job.cost_usd not in (None, "0.000000") and job.on_demand_cost_usd is None


def test_a_retry_chunk_of_three_records_runs_on_demand_and_each_is_answered_once(bedrock_sim, driver):
    # Given three requests that fail once, retryably, in a job of 40 (one batch)
    bedrock_sim.configure(failure_rules=[
        {"pattern": r"req-0000[3-5]$", "kind": "retryable", "status_code": 503, "first_attempt_only": True},
    ])
    job = new_job(40, chunk_size=100)

    job = driver.run_until_final(job.job_id)

    # Then the job completes: the retry chunk of three, below the minimum with nothing else
    # pending, ran on demand (three InvokeModel calls, at the synchronous price)
    assert job.status == JobStatus.COMPLETED
    lines = results_by_id(job)
    retried = {cid: line for cid, line in lines.items() if line["attempts"] == 2}
    assert set(retried) == {"req-00003", "req-00004", "req-00005"}
    assert all(line["status"] == "succeeded" and line["service_tier"] == "on_demand" for line in retried.values())
    assert all("service_tier" not in line for cid, line in lines.items() if cid not in retried)
    jobs, runs = ledger(bedrock_sim)
    assert [len(b.requests) for b in jobs] == [40] and [len(r.requests) for r in runs] == [3]
    assert bedrock_sim.calls("POST /bedrock/model/{model}/invoke") == 3
    # And no request was billed twice
    assert set(billed(bedrock_sim).values()) == {1} and sum(billed(bedrock_sim).values()) == 40
    # And the cost says what ran on demand
    manifest = read_json(job.manifest_key)
    assert manifest["on_demand_usage_by_model"][MODEL]["input_tokens"] > 0
    assert job.on_demand_cost_usd and float(job.on_demand_cost_usd) > 0
    assert manifest["cost"]["on_demand_usd"] == job.on_demand_cost_usd


def test_small_retry_chunks_are_gathered_into_one_batch(bedrock_sim, driver):
    # Given three chunks of 20, each with four requests that fail once (12 retries in all)
    bedrock_sim.configure(failure_rules=[
        {"pattern": r"req-000(0[0-3]|2[0-3]|4[0-3])$", "kind": "retryable", "status_code": 500,
         "first_attempt_only": True},
    ])
    job = new_job(60, chunk_size=20)

    job = driver.run_until_final(job.job_id)

    # Then the three retry chunks of four waited for each other and ran as one batch of 12
    assert job.status == JobStatus.COMPLETED
    chunks = {c.chunk_id: c for c in chunk_store.list_chunks(job.job_id)}
    merged = [c for c in chunks.values() if c.chunk_id.startswith("m2-")]
    assert len(merged) == 1 and merged[0].request_count == 12 and merged[0].attempt == 2
    members = [c for c in chunks.values() if c.end_reason == "merged"]
    assert sorted(c.chunk_id for c in members) == ["c00001-r2", "c00002-r2", "c00003-r2"]
    assert all(c.merged_into == merged[0].chunk_id and c.status == ChunkStatus.COLLECTED for c in members)
    jobs, runs = ledger(bedrock_sim)
    assert sorted(len(b.requests) for b in jobs) == [12, 20, 20, 20] and runs == []
    lines = results_by_id(job)
    assert all(line["status"] == "succeeded" for line in lines.values())
    assert sum(1 for line in lines.values() if line["attempts"] == 2) == 12
    assert all(line["batch_id"] == merged[0].batch_id for line in lines.values() if line["attempts"] == 2)
    assert set(billed(bedrock_sim).values()) == {1}


def test_a_job_smaller_than_the_minimum_runs_on_demand(bedrock_sim, driver):
    job = new_job(4)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    lines = results_by_id(job)
    assert {line["service_tier"] for line in lines.values()} == {"on_demand"}
    assert {line["batch_id"] for line in lines.values()} == {f"ondemand:{job.job_id}:c00001:1"}
    jobs, runs = ledger(bedrock_sim)
    assert jobs == [] and [len(r.requests) for r in runs] == [4]
    # Its answers, output and manifest were deleted once collected; a repeated cleanup finds nothing
    from batchrelay.aws import s3_objects
    from batchrelay.lifecycle import provider_lookup
    from batchrelay.lifecycle.provider_files import delete_batch_files

    assert s3_objects.list_keys(f"bedrock-output/{job.job_id}/") == []
    assert delete_batch_files(provider_lookup.provider_for("bedrock"), [f"ondemand:{job.job_id}:c00001:1"], {}) == []


def test_with_on_demand_off_the_records_below_the_minimum_end_errored(bedrock_sim, driver, monkeypatch):
    from batchrelay.settings import get_settings

    monkeypatch.setenv("BEDROCK_ON_DEMAND", "false")
    get_settings.cache_clear()
    job = new_job(4)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.FAILED
    lines = results_by_id(job)
    assert {line["status"] for line in lines.values()} == {"errored"}
    assert {line["error"]["batch_errors"][0]["code"] for line in lines.values()} == {"below_batch_minimum"}
    assert bedrock_sim.calls("POST /bedrock/model/{model}/invoke") == 0


def test_a_quota_refusal_holds_the_chunk_and_it_is_created_later(bedrock_sim, driver):
    bedrock_sim.configure(quota_failures_next=1)
    job = new_job(30, chunk_size=30)

    driver.drain("jobs")
    chunk = chunk_store.list_chunks(job.job_id)[0]
    assert chunk.status == ChunkStatus.HELD and chunk.held_reason == "capacity"
    assert chunk.batch_errors[0]["code"] == "quota_exceeded"

    job = driver.run_until_final(job.job_id, step_s=600.0)
    assert job.status == JobStatus.COMPLETED
    assert len(ledger(bedrock_sim)[0]) == 1


def test_an_expired_job_keeps_what_finished_and_retries_the_rest(bedrock_sim, driver):
    # Given a first batch that expires half way (timeoutDurationInHours reached)
    bedrock_sim.configure(expire_after_fraction=0.5)
    job = new_job(30, chunk_size=30, max_attempts=2)
    driver.drain("jobs")
    bedrock_sim.configure(expire_after_fraction=None)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    lines = results_by_id(job)
    assert Counter(line["attempts"] for line in lines.values()) == {1: 15, 2: 15}
    jobs, _ = ledger(bedrock_sim)
    assert [b.end_reason for b in sorted(jobs, key=lambda b: b.created_at)] == ["expired", "completed"]


def test_a_failed_job_errors_its_requests_with_bedrocks_message(bedrock_sim, driver):
    bedrock_sim.configure(validation_failures_next=1)
    job = new_job(20, chunk_size=20)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.FAILED
    lines = results_by_id(job)
    errors = {line["error"]["batch_errors"][0]["code"] for line in lines.values()}
    assert errors == {"bedrock_job_failed"}


def test_a_cancel_stops_the_bedrock_job(bedrock_sim, driver):
    from batchrelay.lifecycle.cancellation import cancel_job

    job = new_job(30, chunk_size=30)
    driver.drain("jobs")
    assert chunk_store.list_chunks(job.job_id)[0].status == ChunkStatus.SUBMITTED

    cancel_job(job.job_id)
    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.CANCELLED
    jobs, _ = ledger(bedrock_sim)
    assert jobs[0].end_reason == "cancelled"
    assert {line["status"] for line in results_by_id(job).values()} == {"cancelled"}


def test_bedrocks_output_files_are_deleted_once_collected(bedrock_sim, driver):
    from batchrelay.aws import s3_objects

    job = new_job(12, chunk_size=12)
    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    assert s3_objects.list_keys(f"bedrock-output/{job.job_id}/") == []
    assert s3_objects.list_keys(f"raw/{job.job_id}/")  # the raw copy stays
