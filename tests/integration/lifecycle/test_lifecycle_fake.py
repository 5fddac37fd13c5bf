"""The lifecycle end to end on moto with the in-memory FakeProvider."""

from __future__ import annotations

from collections import Counter

import pytest

from batchrelay import constants as c
from batchrelay.models.job import ChunkStatus, JobStatus
from batchrelay.models.messages import CreateChunkBatch, PlanJob
from batchrelay.store import chunk_store, job_store
from tests.support.stored_jobs import chat_requests, read_json, read_lines, submit_job


def assert_one_line_per_request(job, requests):
    lines = read_lines(job.results_key)
    assert len(lines) == len(requests)
    assert Counter(line["custom_id"] for line in lines) == Counter(r["custom_id"] for r in requests)
    return {line["custom_id"]: line for line in lines}


def test_a_job_in_several_chunks_completes_with_one_line_per_request(fake, driver):
    requests = chat_requests(23)
    job = submit_job(requests, chunk_size=5)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    assert job.chunks_total == job.chunks_final == 5
    assert job.counts.succeeded == 23
    assert job.usage.input_tokens == 230 and job.usage.output_tokens == 115
    lines = assert_one_line_per_request(job, requests)
    assert all(line["status"] == "succeeded" and line["attempts"] == 1 for line in lines.values())
    manifest = read_json(job.manifest_key)
    assert manifest["results"]["lines"] == 23 and len(manifest["parts"]) == 5
    assert manifest["cost"]["usd"] == job.cost_usd and job.cost_usd != "0.000000"
    assert fake.calls["create"] == 5
    events = driver.published_events()
    assert [e["type"] for e in events] == ["job.completed"]
    assert events[0]["id"] == job.event_id
    data = events[0]["data"]
    assert data["results_s3_uri"].endswith(f"results/{job.job_id}/results.jsonl")
    assert "X-Amz-Signature" in data["results_url"]
    assert data["cost"] == {"currency": "USD", "batch": job.cost_usd, "synchronous": job.sync_cost_usd,
                            "saved": data["cost"]["saved"], "on_demand": None}
    assert all(chunk.status == ChunkStatus.COLLECTED and chunk.due_at is None
               for chunk in chunk_store.list_chunks(job.job_id))


def test_user_ids_the_provider_cannot_take_are_mapped_back(fake, driver):
    requests = chat_requests(4)
    requests[1]["custom_id"] = "has spaces/and slashes"
    requests[2]["custom_id"] = "x" * 100
    job = submit_job(requests, chunk_size=10)

    job = driver.run_until_final(job.job_id)

    assert_one_line_per_request(job, requests)


def test_retryable_failures_succeed_in_a_retry_chunk(fake, driver):
    fake.outcome_for = lambda pcid, seen: "retryable" if pcid.endswith(("1", "7")) and seen == 1 else "succeeded"
    requests = chat_requests(20)
    job = submit_job(requests, chunk_size=10)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    lines = assert_one_line_per_request(job, requests)
    retried = {cid for cid, line in lines.items() if line["attempts"] == 2}
    assert retried == {r["custom_id"] for r in requests if r["custom_id"].endswith(("1", "7"))}
    assert sorted(c.chunk_id for c in chunk_store.list_chunks(job.job_id)) == [
        "c00001", "c00001-r2", "c00002", "c00002-r2"]
    assert job.chunks_total == job.chunks_final == 4


def test_permanent_errors_are_final_and_attempts_are_bounded(fake, driver):
    fake.outcome_for = lambda pcid, seen: {"0": "permanent", "1": "retryable"}.get(pcid[-1], "succeeded")
    requests = chat_requests(10)
    job = submit_job(requests, chunk_size=10, max_attempts=2)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED_WITH_ERRORS
    lines = assert_one_line_per_request(job, requests)
    assert lines["req-00000"]["status"] == "errored" and lines["req-00000"]["attempts"] == 1
    assert lines["req-00000"]["error"]["code"] == "invalid_request"
    assert lines["req-00001"]["status"] == "errored" and lines["req-00001"]["attempts"] == 2
    assert job.counts.model_dump() == {"succeeded": 8, "errored": 2, "expired": 0, "cancelled": 0}


def test_expired_batch_keeps_what_finished_and_retries_the_rest(fake, driver):
    fake.expire_next = 0.4
    requests = chat_requests(10)
    job = submit_job(requests, chunk_size=10, max_attempts=2)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    lines = assert_one_line_per_request(job, requests)
    assert Counter(line["attempts"] for line in lines.values()) == {1: 4, 2: 6}


def test_expired_batch_without_attempts_left_reports_expired(fake, driver):
    fake.expire_next = 0.0
    requests = chat_requests(6)
    job = submit_job(requests, chunk_size=10, max_attempts=1)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.EXPIRED
    lines = assert_one_line_per_request(job, requests)
    assert {line["status"] for line in lines.values()} == {"expired"}


def test_a_batch_failing_validation_errors_every_request(fake, driver):
    fake.validation_failures_next = 1
    requests = chat_requests(6)
    job = submit_job(requests, chunk_size=3)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED_WITH_ERRORS
    lines = assert_one_line_per_request(job, requests)
    errored = [line for line in lines.values() if line["status"] == "errored"]
    assert len(errored) == 3
    assert errored[0]["error"]["code"] == "batch_failed"
    assert errored[0]["error"]["batch_errors"][0]["code"] == "invalid_request"


def test_token_limit_holds_the_chunk_and_creates_it_again_later(fake, driver):
    fake.token_limit_next = 1
    requests = chat_requests(6)
    job = submit_job(requests, chunk_size=3)

    job = driver.run_until_final(job.job_id, step_s=300)

    assert job.status == JobStatus.COMPLETED
    assert_one_line_per_request(job, requests)
    assert fake.calls["create"] == 3
    held = [c for c in chunk_store.list_chunks(job.job_id) if len(c.batch_ids) == 2]
    assert len(held) == 1


def test_rate_limited_create_is_retried_without_a_second_batch(fake, driver):
    from batchrelay.providers.base import ProviderError

    fake.create_errors = [ProviderError("rate limited", retryable=True, status_code=429)] * 2
    requests = chat_requests(4)
    job = submit_job(requests, chunk_size=10)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    assert len(fake.batches) == 1
    # A 429 proves nothing was created, so the submitter retried at once, in-process
    assert fake.calls["create"] == 3 and driver.failures["jobs"] == 0


def test_create_refused_for_good_errors_the_chunk(fake, driver):
    from batchrelay.providers.base import ProviderError

    fake.create_errors = [ProviderError("bad file", retryable=False, status_code=400, code="invalid_file")]
    requests = chat_requests(4)
    job = submit_job(requests, chunk_size=10)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.FAILED
    lines = assert_one_line_per_request(job, requests)
    assert {line["error"]["batch_errors"][0]["code"] for line in lines.values()} == {"invalid_file"}


def test_submitter_killed_after_the_provider_accepted_a_batch_makes_no_second_batch(fake, driver, monkeypatch):
    real_record = chunk_store.record_batch
    crashes = []

    def crash_once(chunk, **kwargs):
        if not crashes:
            crashes.append(chunk.chunk_id)
            raise RuntimeError("killed between create and record")
        return real_record(chunk, **kwargs)

    monkeypatch.setattr(chunk_store, "record_batch", crash_once)
    requests = chat_requests(9)
    job = submit_job(requests, chunk_size=3)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    assert fake.calls["create"] == 3 and len(fake.batches) == 3
    assert fake.calls["find"] == 1
    assert_one_line_per_request(job, requests)


def test_submitter_killed_while_planning_plans_again_without_double_counting(fake, driver, monkeypatch):
    real_put = chunk_store.put_chunk_and_count
    puts = []

    def crash_on_third(chunk):
        puts.append(chunk.chunk_id)
        if len(puts) == 3:
            raise RuntimeError("killed while planning")
        return real_put(chunk)

    monkeypatch.setattr(chunk_store, "put_chunk_and_count", crash_on_third)
    requests = chat_requests(10)
    job = submit_job(requests, chunk_size=3)

    job = driver.run_until_final(job.job_id)

    assert job.chunks_total == job.chunks_final == 4
    assert fake.calls["create"] == 4
    assert_one_line_per_request(job, requests)


def test_cut_off_result_download_is_collected_again(fake, driver):
    fake.cut_downloads_next = 1
    requests = chat_requests(500)
    job = submit_job(requests, chunk_size=500)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    assert driver.failures["collect"] == 1
    assert_one_line_per_request(job, requests)


def test_raw_carriage_returns_inside_responses_survive(fake, driver):
    fake.raw_carriage_return = True
    requests = chat_requests(5)
    job = submit_job(requests)

    job = driver.run_until_final(job.job_id)

    lines = assert_one_line_per_request(job, requests)
    assert all("\r" in line["response"]["content"] for line in lines.values())


def test_cancel_in_the_middle_keeps_what_finished(fake, driver):
    from batchrelay.lifecycle.messages import send_cancel_message, send_chunk_message

    fake.processing_s = 3600
    requests = chat_requests(12)
    job = submit_job(requests, chunk_size=4)
    driver.drain("jobs")
    driver.poll(120)
    assert {c.status for c in chunk_store.list_chunks(job.job_id)} == {ChunkStatus.SUBMITTED}
    # One more chunk still waits for its batch when the cancel comes.
    chunk = chunk_store.list_chunks(job.job_id)[0]
    send_chunk_message(job.job_id, chunk.chunk_id)

    send_cancel_message(job.job_id)
    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.CANCELLED
    lines = assert_one_line_per_request(job, requests)
    statuses = Counter(line["status"] for line in lines.values())
    assert statuses["cancelled"] > 0 and statuses["succeeded"] > 0
    assert fake.calls["cancel"] == 3


def test_cancel_before_submission_cancels_every_request(fake, driver):
    from batchrelay.lifecycle.messages import send_cancel_message, send_job_message

    requests = chat_requests(7)
    job = submit_job(requests, chunk_size=3, send=False)
    send_cancel_message(job.job_id)
    send_job_message(job.job_id)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.CANCELLED
    lines = assert_one_line_per_request(job, requests)
    assert {line["status"] for line in lines.values()} == {"cancelled"}
    assert fake.calls["create"] == 0


def test_every_message_delivered_twice_gives_the_same_outcome(fake, aws, clock):
    from tests.support.driver import Driver

    driver = Driver(aws, clock, duplicate=True)
    fake.outcome_for = lambda pcid, seen: "retryable" if pcid.endswith("3") and seen == 1 else "succeeded"
    requests = chat_requests(15)
    job = submit_job(requests, chunk_size=5)

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.COMPLETED
    assert job.chunks_total == job.chunks_final == 5   # 3 chunks, 2 retry chunks
    assert job.counts.succeeded == 15
    assert fake.calls["create"] == 5
    assert_one_line_per_request(job, requests)
    assert len(driver.published_events()) == 1


def test_failed_publish_is_retried_and_the_event_goes_out_once(fake, driver, monkeypatch):
    from batchrelay.notifications import publisher

    real_publish = publisher.publish_job_event
    attempts = []

    def flaky(event):
        attempts.append(event.id)
        if len(attempts) == 1:
            raise RuntimeError("SNS unavailable")
        return real_publish(event)

    monkeypatch.setattr(publisher, "publish_job_event", flaky)
    requests = chat_requests(3)
    job = submit_job(requests)

    job = driver.run_until_final(job.job_id)

    assert job.event_published
    assert len(attempts) == 2 and attempts[0] == attempts[1]
    assert len(driver.published_events()) == 1


def test_a_lost_collect_message_is_sent_again_by_the_poller(fake, driver):
    from batchrelay.aws import clients

    requests = chat_requests(3)
    job = submit_job(requests)
    driver.drain("jobs")
    driver.poll(120)
    assert chunk_store.list_chunks(job.job_id)[0].status == ChunkStatus.ENDED
    clients.sqs().purge_queue(QueueUrl=driver.queue_url("collect"))

    job = driver.run_until_final(job.job_id, step_s=300)

    assert job.status == JobStatus.COMPLETED


def test_hand_to_collect_only_the_first_caller_wins(fake, driver):
    from batchrelay.lifecycle.handoff import hand_to_collect

    fake.processing_s = 60.0   # still running when created (one that has ended is handed on at once)
    requests = chat_requests(3)
    job = submit_job(requests)
    driver.drain("jobs")
    chunk = chunk_store.list_chunks(job.job_id)[0]
    info = fake.retrieve_batch(chunk.batch_id)

    first = hand_to_collect(job.job_id, chunk.chunk_id, provider="openai", reason="completed", batch=info)
    second = hand_to_collect(job.job_id, chunk.chunk_id, provider="openai", reason="completed", batch=info)

    assert (first, second) == (True, False)
    driver.drain("collect")
    assert driver.kinds["collect"] == 1
    assert job_store.get_job(job.job_id).is_final


def test_a_batch_that_has_ended_when_created_is_handed_to_collect_at_once(fake, driver):
    # Given a provider whose batch has ended by the time the create answers (Bedrock's
    # on-demand runs do; the fake's batches do with no processing time)
    fake.processing_s = 0.0
    requests = chat_requests(3)
    job = submit_job(requests, chunk_size=3)
    # When the submitter creates it
    driver.drain("jobs")
    # Then the chunk is ended and one collect message is on its way, without the poller
    (chunk,) = chunk_store.list_chunks(job.job_id)
    assert chunk.status == ChunkStatus.ENDED and chunk.end_reason == "completed"
    driver.drain("collect")
    assert driver.kinds["collect"] == 1
    assert job_store.get_job(job.job_id).status == JobStatus.COMPLETED
    assert_one_line_per_request(job_store.get_job(job.job_id), requests)


def test_a_second_delivery_during_a_live_creation_backs_off(fake, aws, monkeypatch):
    # Given a chunk whose batch creation began a moment ago (a first delivery still running)
    from batchrelay.lifecycle import batch_creation
    from batchrelay.lifecycle.submitter import handle_jobs_message
    from batchrelay.settings import get_settings

    monkeypatch.delenv("CREATION_LEASE_SECONDS", raising=False)
    get_settings.cache_clear()
    fake.processing_s = 60.0   # the batch runs (one ended at creation is handed on at once)
    requests = chat_requests(3)
    job = submit_job(requests, chunk_size=3)
    real_create = fake.create_batch
    second_delivery: list[str] = []

    def create_while_a_duplicate_arrives(**kwargs):
        # When the same message is delivered again while the provider is answering
        with pytest.raises(batch_creation.CreationInProgress):
            handle_jobs_message(CreateChunkBatch(job_id=job.job_id, chunk_id=chunk_id))
        second_delivery.append("backed off")
        return real_create(**kwargs)

    monkeypatch.setattr(fake, "create_batch", create_while_a_duplicate_arrives)
    chunk_id = "c00001"
    handle_jobs_message(PlanJob(job_id=job.job_id))  # plans the chunk
    handle_jobs_message(CreateChunkBatch(job_id=job.job_id, chunk_id=chunk_id))
    # Then the duplicate created nothing, and the chunk has exactly one batch
    assert second_delivery == ["backed off"]
    assert fake.calls["create"] == 1 and len(fake.batches) == 1
    assert chunk_store.get_chunk(job.job_id, chunk_id).status == ChunkStatus.SUBMITTED


def test_a_refused_create_frees_the_chunk_for_an_immediate_retry(fake, aws, monkeypatch):
    from batchrelay.lifecycle.submitter import handle_jobs_message
    from batchrelay.providers.base import ProviderError
    from batchrelay.settings import get_settings

    monkeypatch.delenv("CREATION_LEASE_SECONDS", raising=False)
    get_settings.cache_clear()
    fake.processing_s = 60.0   # the batch runs (one ended at creation is handed on at once)
    job = submit_job(chat_requests(3), chunk_size=3)
    fake.create_errors = [ProviderError("rate limited", retryable=True, status_code=429)] * 3
    handle_jobs_message(PlanJob(job_id=job.job_id))  # plans the chunk
    chunk_message = CreateChunkBatch(job_id=job.job_id, chunk_id="c00001")
    # When the provider refuses the create with a 429, every in-process attempt
    with pytest.raises(ProviderError):
        handle_jobs_message(chunk_message)
    # Then the chunk is pending again (nothing was made), and the retry creates at once
    assert chunk_store.get_chunk(job.job_id, "c00001").status == ChunkStatus.PENDING
    handle_jobs_message(chunk_message)
    assert chunk_store.get_chunk(job.job_id, "c00001").status == ChunkStatus.SUBMITTED
    assert fake.calls["create"] == 4 and len(fake.batches) == 1  # the refused calls made nothing


def test_a_job_whose_queue_message_was_lost_is_queued_again(fake, driver):
    import time

    from batchrelay import constants as c
    from batchrelay.lifecycle.poller import run_poll

    # Given a job stored as queued whose `jobs` message never arrived
    requests = chat_requests(4)
    job = submit_job(requests, send=False)
    assert driver.drain("jobs") == 0
    # When the poller runs before the resend time, nothing happens
    assert run_poll(now=time.time(), deadline=time.time() + 30)["resent"] == 0
    # When it runs after it, the job message is sent again, once, however many pollers run
    later = time.time() + c.QUEUED_JOB_RESEND_SECONDS + 1
    assert run_poll(now=later, deadline=time.time() + 30)["resent"] == 1
    assert run_poll(now=later, deadline=time.time() + 30)["resent"] == 0
    # Then the job runs to the end and leaves the safety net
    job = driver.run_until_final(job.job_id)
    assert job.status == JobStatus.COMPLETED
    assert_one_line_per_request(job, requests)
    assert run_poll(now=later + 10 * c.QUEUED_JOB_RESEND_SECONDS, deadline=time.time() + 30)["resent"] == 0


def test_an_attempt_that_took_over_and_died_is_found_by_the_next(fake, clock, aws, monkeypatch):
    # Given a chunk whose first creation attempt died before creating anything
    from batchrelay.lifecycle import batch_creation
    from batchrelay.lifecycle.submitter import handle_jobs_message
    from batchrelay.settings import get_settings

    monkeypatch.delenv("CREATION_LEASE_SECONDS", raising=False)
    get_settings.cache_clear()
    lease = get_settings().creation_lease_seconds
    fake.processing_s = 10 * lease   # the batch still runs when adopted
    job = submit_job(chat_requests(3), chunk_size=3)
    handle_jobs_message(PlanJob(job_id=job.job_id), now=clock())
    chunk_store.transition_chunk(job.job_id, "c00001", "openai", ChunkStatus.PENDING, ChunkStatus.CREATING,
                                 create_seq=1, intent_at=clock())
    # And a second attempt, after the lease, that created a batch and died before recording it
    clock.advance(lease + 1)
    real_record = chunk_store.record_batch

    def die(*args, **kwargs):
        raise RuntimeError("killed between create and record")

    monkeypatch.setattr(chunk_store, "record_batch", die)
    with pytest.raises(RuntimeError):
        batch_creation.ensure_batch(job.job_id, "c00001", now=clock())
    monkeypatch.setattr(chunk_store, "record_batch", real_record)
    assert len(fake.batches) == 1
    # When the next delivery comes at once, it backs off: the second attempt's lease holds
    with pytest.raises(batch_creation.CreationInProgress):
        batch_creation.ensure_batch(job.job_id, "c00001", now=clock() + 1)
    # And after that lease, the next attempt adopts the second attempt's batch
    clock.advance(lease + 1)
    outcome = batch_creation.ensure_batch(job.job_id, "c00001", now=clock())
    assert outcome.startswith("adopted") and len(fake.batches) == 1
    assert chunk_store.get_chunk(job.job_id, "c00001").status == ChunkStatus.SUBMITTED


def test_a_cancel_landing_while_the_job_finalizes_still_ends_the_job(fake, driver, monkeypatch):
    # Given a job whose chunks are all collected, and a cancel that lands just as it finalizes
    from batchrelay.lifecycle import finalizer
    from batchrelay.lifecycle.messages import send_cancel_message

    requests = chat_requests(3)
    job = submit_job(requests)
    real_transition = job_store.transition_job
    raced: list[bool] = []

    def cancel_first(job_id, from_statuses, to_status, **fields):
        if to_status == JobStatus.FINALIZING and not raced:
            raced.append(True)
            real_transition(job_id, JobStatus.IN_PROGRESS, JobStatus.CANCELLING, cancel_requested=True)
            send_cancel_message(job_id)
        return real_transition(job_id, from_statuses, to_status, **fields)

    monkeypatch.setattr(finalizer.job_store, "transition_job", cancel_first)
    # When the lifecycle runs on
    job = driver.run_until_final(job.job_id)
    # Then the job still ends, cancelled, with every answer kept
    assert raced and job.status == JobStatus.CANCELLED
    assert_one_line_per_request(job, requests)


def test_a_batch_the_provider_no_longer_knows_is_retried_as_a_new_batch(fake, driver):
    # Given a job whose first batch vanishes at the provider (it answers 404)
    fake.processing_s = 600
    requests = chat_requests(5)
    job = submit_job(requests, chunk_size=100, max_attempts=2)
    driver.drain(c.JOBS_QUEUE)
    (first,) = list(fake.batches)
    del fake.batches[first]

    # When the poller checks it
    job = driver.run_until_final(job.job_id)

    # Then the chunk ended as lost (not checked forever) and its requests ran in a new batch
    assert job.status == JobStatus.COMPLETED
    lines = assert_one_line_per_request(job, requests)
    assert {line["attempts"] for line in lines.values()} == {2}
    chunk = chunk_store.get_chunk(job.job_id, "c00001")
    assert chunk.end_reason == "lost" and chunk.status == ChunkStatus.COLLECTED


def test_a_lost_batch_without_attempts_left_errors_its_requests(fake, driver):
    fake.processing_s = 600
    requests = chat_requests(3)
    job = submit_job(requests, chunk_size=100, max_attempts=1)
    driver.drain(c.JOBS_QUEUE)
    fake.batches.clear()

    job = driver.run_until_final(job.job_id)

    assert job.status == JobStatus.FAILED
    lines = assert_one_line_per_request(job, requests)
    assert {line["error"]["code"] for line in lines.values()} == {"batch_not_found"}
