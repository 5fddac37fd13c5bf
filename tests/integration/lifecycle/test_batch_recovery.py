"""Recovery after an interrupted or ambiguous create, and a provider refusing our key.

Issue 9's defects 1, 2, 3 and 7, each shown on moto with the in-memory provider: a batch
is adopted only once proven the chunk's, every earlier creation window is searched, and a
refused key holds the chunks instead of failing them.
"""

from __future__ import annotations

from batchrelay import constants as c
from batchrelay.models.job import ChunkStatus, JobStatus
from batchrelay.providers.base import ProviderError
from batchrelay.store import chunk_store, job_store
from tests.support.stored_jobs import chat_requests, read_lines, submit_job


def _lines_by_id(job):
    lines = read_lines(job.results_key)
    assert len(lines) == len({line["custom_id"] for line in lines})
    return {line["custom_id"]: line for line in lines}


def test_an_ambiguous_create_is_found_and_adopted_not_made_twice(fake, driver):
    # Given a create whose answer is lost after the provider made the batch
    fake.ambiguous_creates_next = 1
    job = submit_job(chat_requests(4), chunk_size=100)

    job = driver.run_until_final(job.job_id)

    # Then the chunk adopted that batch: one batch in all, every request answered once
    assert job.status == JobStatus.COMPLETED
    assert fake.calls["create"] == 1 and len(fake.batches) == 1
    assert len(_lines_by_id(job)) == 4


def test_a_takeover_whose_search_fails_does_not_forget_the_first_window(fake, driver, clock):
    # Given an ambiguous create, then a takeover whose search fails (5xx) long after it
    fake.ambiguous_creates_next = 1
    fake.find_errors = [ProviderError("search broke", retryable=True, status_code=503)]
    job = submit_job(chat_requests(3), chunk_size=100)
    driver.drain(c.JOBS_QUEUE)
    clock.advance(3 * 3600)   # the next takeovers are hours after the first intent

    job = driver.run_until_final(job.job_id)

    # Then a later takeover still searched around the first intent and found the batch
    assert job.status == JobStatus.COMPLETED
    assert len(fake.batches) == 1
    chunk = chunk_store.get_chunk(job.job_id, "c00001")
    assert len(chunk.intents) == 1


def test_same_size_chunks_without_metadata_never_adopt_each_others_batches(fake, driver):
    # Given a provider whose batches carry no metadata (as Anthropic), two tenants with the
    # same custom_ids, many same-size chunks, and every create's answer lost
    fake.keeps_metadata = False
    fake.processing_s = 300
    fake.ambiguous_creates_next = 12
    jobs = [submit_job(chat_requests(30), chunk_size=5, tenant_id=f"tenant-{t}") for t in ("a", "b")]

    finals = [driver.run_until_final(job.job_id, max_rounds=120) for job in jobs]

    # Then every chunk adopted its own batch: no second batch, and every line is its own job's
    assert len(fake.batches) == 12
    for job in finals:
        assert job.status == JobStatus.COMPLETED
        lines = _lines_by_id(job)
        assert len(lines) == 30
        for custom_id, line in lines.items():
            assert custom_id in line["response"]["content"], (job.tenant_id, custom_id)


def test_a_refused_key_holds_the_chunks_and_names_the_provider_on_the_job(fake, driver):
    # Given a provider that refuses our key for the first two creates (a placeholder secret)
    fake.create_errors = [ProviderError("invalid x-api-key", retryable=False, status_code=401)] * 2
    job = submit_job(chat_requests(3), chunk_size=100)

    # When the job is submitted
    driver.drain(c.JOBS_QUEUE)

    # Then the chunk is held (not failed) and the job says why
    chunk = chunk_store.get_chunk(job.job_id, "c00001")
    assert chunk.status == ChunkStatus.HELD and chunk.held_reason == "credentials"
    detail = job_store.get_job(job.job_id).status_detail
    assert detail["code"] == "provider_credentials" and detail["provider"] == "openai"

    # And once the key works, the job completes and the detail is gone
    job = driver.run_until_final(job.job_id, step_s=20 * 60)
    assert job.status == JobStatus.COMPLETED and job.status_detail is None


def test_a_key_refused_past_the_maximum_hold_fails_the_requests(fake, driver, monkeypatch):
    import time

    from batchrelay.settings import get_settings

    monkeypatch.setenv("CREDENTIALS_MAX_HOLD_SECONDS", "1800")
    get_settings.cache_clear()
    fake.create_errors = [ProviderError("invalid x-api-key", retryable=False, status_code=403)] * 50
    job = submit_job(chat_requests(2), chunk_size=100, max_attempts=1)
    driver.drain(c.JOBS_QUEUE)
    # Given a chunk held for credentials for longer than the maximum hold
    chunk_store.transition_chunk(job.job_id, "c00001", "openai", ChunkStatus.HELD, None,
                                 held_since=time.time() - 3600)

    job = driver.run_until_final(job.job_id, step_s=20 * 60)

    # Then its requests fail, naming the refused key, and no batch was ever made
    assert job.status == JobStatus.FAILED
    lines = _lines_by_id(job)
    assert {line["error"]["batch_errors"][0]["code"] for line in lines.values()} == {"provider_credentials"}
    assert len(fake.batches) == 0


def test_a_second_collector_waits_while_the_first_holds_the_chunk(fake, driver, clock):
    # Given an ended chunk whose collection another collector has just taken
    import time

    import pytest

    from batchrelay.lifecycle.collector import COLLECT_LEASE_S, CollectionInProgress, collect_chunk

    job = submit_job(chat_requests(3), chunk_size=100)
    driver.drain(c.JOBS_QUEUE)
    driver.poll(120)   # the batch ended: the chunk is ENDED and `collect` is queued
    chunk = chunk_store.get_chunk(job.job_id, "c00001")
    assert chunk.status == ChunkStatus.ENDED
    now = time.time()
    chunk_store.claim_collection(chunk, now=now, lease_seconds=COLLECT_LEASE_S)

    # When another run tries within the lease, it backs off without writing anything
    with pytest.raises(CollectionInProgress):
        collect_chunk(job.job_id, "c00001", now=now + 60)
    assert chunk_store.get_chunk(job.job_id, "c00001").status == ChunkStatus.ENDED

    # And after the lease (the first collector died) it takes over and counts once
    collect_chunk(job.job_id, "c00001", now=now + COLLECT_LEASE_S + 1)
    job = job_store.get_job(job.job_id)
    assert job.status == JobStatus.COMPLETED and job.counts.succeeded == 3 and job.chunks_final == 1


def _lose_queued_messages(driver, queue: str) -> int:
    """Every message waiting on ``queue`` is lost (as if dead-lettered)."""
    from batchrelay.aws import clients

    url = driver.queue_url(queue)
    lost = 0
    while True:
        got = clients.sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return lost
        for message in got:
            clients.sqs().delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            lost += 1


def test_every_waiting_status_has_a_safety_net_for_a_lost_message(fake, driver):
    # (issue 9, defect 4) Given a job whose planning message is lost once it is submitting
    job = submit_job(chat_requests(3), chunk_size=100)
    assert _lose_queued_messages(driver, c.JOBS_QUEUE) == 1
    job_store.transition_job(job.job_id, JobStatus.QUEUED, JobStatus.SUBMITTING)

    # When only the poller's safety net runs, time passing
    job = driver.run_until_final(job.job_id, step_s=20 * 60)

    # Then it was planned, ran, finalized and published
    assert job.status == JobStatus.COMPLETED and job.event_published


def test_a_cancel_whose_message_is_lost_still_ends_the_job(fake, driver):
    from batchrelay.jobs.job_service import cancel_job

    fake.processing_s = 3600
    job = submit_job(chat_requests(3), chunk_size=100, tenant_id="t1")
    driver.drain(c.JOBS_QUEUE)
    cancel_job("t1", job.job_id)
    assert _lose_queued_messages(driver, c.JOBS_QUEUE) == 1   # the cancel message

    job = driver.run_until_final(job.job_id, step_s=20 * 60)

    assert job.status == JobStatus.CANCELLED and job.event_published


def test_a_lost_finalize_is_sent_again(fake, driver):
    job = submit_job(chat_requests(3), chunk_size=100)
    driver.drain(c.JOBS_QUEUE)
    driver.poll(120)
    # the collect message is lost too: the chunk's own safety net resends it
    assert _lose_queued_messages(driver, c.COLLECT_QUEUE) == 1

    job = driver.run_until_final(job.job_id, step_s=20 * 60)

    assert job.status == JobStatus.COMPLETED and job.event_published


def test_planning_makes_durable_progress_and_stops_in_time(fake, driver, monkeypatch):
    # (issue 9, defect 5) Given a planner that runs out of time every 4 chunks, and an
    # invocation that dies once while storing a chunk (a Lambda timeout)
    from batchrelay.lifecycle import submitter
    from batchrelay.store import chunk_store as chunks

    ticks = iter(range(10**6))
    monkeypatch.setattr(submitter, "clock", lambda: float(next(ticks)))
    monkeypatch.setattr(submitter, "PLANNING_TIME_S", 4)
    real_put = chunks.put_planned_chunk
    deaths = []

    def dies_once_at_chunk_6(chunk, *, planning, seen_step):
        if chunk.chunk_id == "c00006" and not deaths:
            deaths.append(seen_step)
            raise TimeoutError("the invocation ran out of time")
        return real_put(chunk, planning=planning, seen_step=seen_step)

    monkeypatch.setattr(chunks, "put_planned_chunk", dies_once_at_chunk_6)
    requests = chat_requests(300)
    job = submit_job(requests, chunk_size=10)

    job = driver.run_until_final(job.job_id, max_rounds=200)

    # Then planning went on after the last chunk stored: 30 chunks, each made and counted once
    assert deaths == [5]
    assert job.status == JobStatus.COMPLETED and job.chunks_total == 30
    chunk_ids = sorted(chunk.chunk_id for chunk in chunk_store.list_chunks(job.job_id))
    assert chunk_ids == [f"c{i:05d}" for i in range(1, 31)]
    assert fake.calls["create"] == 30
    assert len(_lines_by_id(job)) == 300
    assert job.planning.done and job.planning.step == 30
