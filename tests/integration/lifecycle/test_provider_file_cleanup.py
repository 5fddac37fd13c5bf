"""Provider files are cleaned up: once a chunk is collected, the OpenAI adapter deletes its
batches' input, output and error files (the simulator's ledger shows it, through the real SDK);
a failure never blocks the job, and the poller's safety net tries again."""

from __future__ import annotations

from batchrelay import constants as c
from batchrelay.lifecycle.provider_files import cleanup_delay
from batchrelay.models.job import ChunkStatus, JobStatus
from batchrelay.store import chunk_store
from tests.support.stored_jobs import anthropic_requests, chat_requests, submit_job


def test_an_openai_job_leaves_no_file_at_the_provider(sim, driver):
    # Given an OpenAI job whose first batches fail in part (retry batches: more files)
    sim.configure(failure_rules=[{"fraction": 0.2, "kind": "retryable", "first_attempt_only": True}])
    job = submit_job(chat_requests(300), chunk_size=100)

    # When it runs to the end
    job = driver.run_until_final(job.job_id)

    # Then every file the job made at the provider (inputs, outputs, error files) was deleted
    assert job.status == JobStatus.COMPLETED
    chunks = chunk_store.list_chunks(job.job_id)
    assert any(chunk.attempt == 2 for chunk in chunks)
    ledger = sim.file_ledger()
    assert ledger["live"] == []
    assert {f["purpose"] for f in ledger["deleted"]} == {"batch", "batch_output"}
    stats = sim.stats()
    assert stats["files_created"] == stats["files_deleted"] >= 2 * len(chunks)
    assert sim.calls("DELETE /v1/files/{id}") == stats["files_deleted"]
    # And no chunk is left waiting for a cleanup (or in the due index)
    assert all(ch.status == ChunkStatus.COLLECTED and not ch.files_pending_cleanup for ch in chunks)
    assert all(ch.due_at is None for ch in chunks)


def test_anthropic_keeps_no_files_so_nothing_is_deleted(sim, driver):
    job = submit_job(anthropic_requests(20), provider="anthropic", endpoint="/v1/messages", chunk_size=10)
    job = driver.run_until_final(job.job_id)
    assert job.status == JobStatus.COMPLETED
    assert sim.stats()["files_created"] == 0 and sim.calls("DELETE /v1/files/{id}") == 0
    assert not any(ch.files_pending_cleanup for ch in chunk_store.list_chunks(job.job_id))


def test_a_failed_cleanup_never_blocks_the_job_and_the_safety_net_retries(sim, driver):
    # Given a provider whose file deletions fail (beyond the SDK's own retries)
    sim.configure(delete_file_errors_next=1_000)
    job = submit_job(chat_requests(200), chunk_size=100)

    # When the job runs, it still ends as usual
    job = driver.run_until_final(job.job_id)
    assert job.status == JobStatus.COMPLETED and job.event_published

    # Then its chunks wait for a cleanup, the files are all still there
    chunks = chunk_store.list_chunks(job.job_id)
    assert all(ch.files_pending_cleanup and ch.cleanup_attempts == 1 for ch in chunks)
    assert sim.stats()["files_deleted"] == 0 and sim.stats()["files"] == 4

    # And once the provider deletes again, the poller's next look sends `cleanup`
    sim.configure(delete_file_errors_next=0)
    summary = driver.poll(cleanup_delay(1) + 60)
    assert summary["resent"] == len(chunks)
    driver.drain(c.COLLECT_QUEUE)
    assert driver.kinds["cleanup"] == len(chunks)
    assert sim.file_ledger()["live"] == []
    chunks = chunk_store.list_chunks(job.job_id)
    assert not any(ch.files_pending_cleanup for ch in chunks) and all(ch.due_at is None for ch in chunks)
    # And a later poll has nothing left to resend
    assert driver.poll(cleanup_delay(5))["resent"] == 0


def test_a_cleanup_lost_in_a_crash_is_resumed(sim, driver, monkeypatch):
    # Given a collector that dies right after counting the chunk, before deleting anything
    from batchrelay.lifecycle import collector

    original = collector.provider_files.clean_up_quietly
    monkeypatch.setattr(collector.provider_files, "clean_up_quietly", lambda *a, **k: "crashed")
    job = submit_job(chat_requests(100), chunk_size=100)
    job = driver.run_until_final(job.job_id)
    (chunk,) = chunk_store.list_chunks(job.job_id)
    assert chunk.files_pending_cleanup and chunk.due_at is not None
    assert sim.stats()["files"] == 2
    monkeypatch.setattr(collector.provider_files, "clean_up_quietly", original)

    # When its safety-net time comes, the poller sends `cleanup`
    driver.poll(chunk.due_at - driver.clock() + 1)
    driver.drain(c.COLLECT_QUEUE)

    # Then the files are gone
    assert sim.stats()["files"] == 0 and sim.stats()["files_deleted"] == 2
