"""The poller against providers with and without progress counts (issue 14): a provider
whose counts move only at the end is swept at every run while any batch is due (its end is
seen within a minute), without a table write for a batch in which nothing moved; a run
short of time hands ended batches on first and leaves the rest due."""

from __future__ import annotations

from batchrelay import registry
from batchrelay.lifecycle import poller
from batchrelay.models.job import ChunkStatus
from batchrelay.store import chunk_store
from tests.support.stored_jobs import chat_requests, submit_job


def submitted_chunks(driver, job_id: str, expected: int):
    driver.drain("jobs")
    chunks = chunk_store.list_chunks(job_id)
    assert len(chunks) == expected and all(chunk.status == ChunkStatus.SUBMITTED for chunk in chunks)
    return chunks


def test_a_provider_without_progress_counts_is_swept_every_run_without_writes(fake, driver):
    assert not registry.spec("anthropic").capabilities.progress_counts
    fake.processing_s = 3 * 3600  # every batch runs three hours
    fake.shows_progress = False
    job = submit_job(chat_requests(300), chunk_size=100, provider="anthropic", model="claude-3-5-haiku-latest")
    submitted_chunks(driver, job.job_id, 3)

    first = driver.poll(60)
    assert first["checked"] == 3 and first["rescheduled"] + first["unchanged"] == 3
    looked_at = {chunk.chunk_id: chunk for chunk in chunk_store.list_chunks(job.job_id)}
    pages_before = fake.calls["list_page"]
    for _ in range(5):
        summary = driver.poll(60)
        # Still due at every run, one list page for all three, no chunk written.
        assert summary["checked"] == 3 and summary["unchanged"] == 3 and summary["rescheduled"] == 0
    assert fake.calls["list_page"] - pages_before == 5 and fake.calls["retrieve"] == 0
    assert {chunk.chunk_id: chunk for chunk in chunk_store.list_chunks(job.job_id)} == looked_at

    driver.clock.advance(3 * 3600)
    ended = driver.poll(60)   # the end is seen at the first run after it
    assert ended["handed_to_collect"] == 3


def test_a_provider_with_progress_counts_is_looked_at_less_often(fake, driver):
    fake.processing_s = 3 * 3600
    job = submit_job(chat_requests(300), chunk_size=100)
    submitted_chunks(driver, job.job_id, 3)
    driver.poll(60)
    driver.clock.advance(1800)   # counts moved: the end is predicted, checks space out
    checked = sum(driver.poll(60)["checked"] for _ in range(10))
    assert checked < 3 * 10


def test_the_sweep_asks_for_the_providers_largest_page(fake, driver, monkeypatch):
    assert registry.spec("anthropic").limits.list_page_size == 1000
    sizes = []
    real = fake.list_batches

    def recording(*, created_after: float, page_size: int = 100):
        sizes.append(page_size)
        return real(created_after=created_after, page_size=page_size)

    monkeypatch.setattr(fake, "list_batches", recording)
    fake.processing_s = 3600
    job = submit_job(chat_requests(200), chunk_size=100, provider="anthropic", model="claude-3-5-haiku-latest")
    submitted_chunks(driver, job.job_id, 2)
    driver.poll(60)
    assert sizes == [1000]


def test_a_run_short_of_time_hands_ended_batches_on_first(fake, driver, monkeypatch):
    fake.processing_s = 3600
    job = submit_job(chat_requests(400), chunk_size=100, provider="anthropic", model="claude-3-5-haiku-latest")
    chunks = submitted_chunks(driver, job.job_id, 4)
    driver.poll(60)
    ending = chunks[2].batch_id
    fake.batches[ending].ends_at = driver.clock()  # one batch ends now, the others run on
    fake.processing_s = 0

    # The run's time is up after its first write (a clock that jumps past the deadline then).
    writes = []
    real_transition = chunk_store.transition_chunk

    def counting_transition(*args, **kwargs):
        writes.append(args)
        return real_transition(*args, **kwargs)

    monkeypatch.setattr(chunk_store, "transition_chunk", counting_transition)
    driver.clock.advance(60)
    summary = poller.run_poll(now=driver.clock(), deadline=50.0, clock=lambda: 100.0 if writes else 0.0)

    assert len(writes) == 1 and summary["handed_to_collect"] == 1
    assert summary["left_for_next_run"] == 3
    by_batch = {chunk.batch_id: chunk for chunk in chunk_store.list_chunks(job.job_id)}
    assert by_batch[ending].status == ChunkStatus.ENDED
    others = [chunk for batch_id, chunk in by_batch.items() if batch_id != ending]
    assert all(chunk.status == ChunkStatus.SUBMITTED and chunk.due_at <= driver.clock() for chunk in others)
