"""The job and chunk store: conditional transitions, atomic counters, the due index."""

from __future__ import annotations

import pytest

from batchrelay.errors import NotFound, TransitionRefused
from batchrelay.models.job import Chunk, ChunkStatus, Job, JobStatus, RequestCounts, Usage
from batchrelay.store import chunk_store, job_store


def _job(job_id: str = "job_1", tenant: str = "t1", created_at: str = "2026-01-01T00:00:00.000Z") -> Job:
    return Job(
        job_id=job_id, tenant_id=tenant, status=JobStatus.QUEUED, provider="openai",
        endpoint="/v1/chat/completions", request_count=10, input_key="inputs/x", created_at=created_at,
        updated_at=created_at, chunk_size=5, max_attempts=3,
    )


def _chunk(chunk_id: str = "c00001") -> Chunk:
    return Chunk(
        job_id="job_1", chunk_id=chunk_id, provider="openai", endpoint="/v1/chat/completions",
        status=ChunkStatus.PENDING, request_count=5, input_key="chunks/job_1/c00001/input.jsonl",
    )


def test_transition_from_the_expected_state(aws):
    job_store.create_job(_job())
    job = job_store.transition_job("job_1", JobStatus.QUEUED, JobStatus.SUBMITTING)
    assert job.status == JobStatus.SUBMITTING and job.version == 1


def test_transition_from_the_wrong_state_is_refused_and_reported(aws):
    job_store.create_job(_job())
    with pytest.raises(TransitionRefused) as refused:
        job_store.transition_job("job_1", JobStatus.IN_PROGRESS, JobStatus.FINALIZING)
    assert refused.value.current == "queued"
    assert job_store.get_job("job_1").status == JobStatus.QUEUED


def test_transition_outside_the_state_machine_is_a_programming_error(aws):
    job_store.create_job(_job())
    with pytest.raises(ValueError):
        job_store.transition_job("job_1", JobStatus.QUEUED, JobStatus.COMPLETED)


def test_transition_of_a_missing_job_is_not_found(aws):
    with pytest.raises(NotFound):
        job_store.transition_job("job_missing", JobStatus.QUEUED, JobStatus.SUBMITTING)


def test_concurrent_conflicting_transitions_let_exactly_one_win(aws):
    # Given a job in progress, read by two writers at the same moment (both see in_progress).
    # moto's in-process backend does not serialize threads the way DynamoDB serializes writes
    # to one item, so the race is replayed deterministically: both act on the same stale read.
    job_store.create_job(_job())
    job_store.transition_job("job_1", JobStatus.QUEUED, JobStatus.SUBMITTING)
    job_store.transition_job("job_1", JobStatus.SUBMITTING, JobStatus.IN_PROGRESS)
    seen_by_canceller = job_store.get_job("job_1")
    seen_by_finalizer = job_store.get_job("job_1")
    assert seen_by_canceller.status == seen_by_finalizer.status == JobStatus.IN_PROGRESS
    # When the finalizer writes first
    job_store.transition_job("job_1", seen_by_finalizer.status, JobStatus.FINALIZING)
    # Then the canceller's write, from the state it read, is refused and names the state found
    with pytest.raises(TransitionRefused) as refused:
        job_store.transition_job("job_1", seen_by_canceller.status, JobStatus.CANCELLING)
    assert refused.value.current == "finalizing"
    assert job_store.get_job("job_1").status == JobStatus.FINALIZING


def test_counters_are_computed_by_the_table_not_from_a_stale_read(aws):
    # Given two collectors that read the job before either adds its chunk's counts
    job_store.create_job(_job())
    stale = job_store.get_job("job_1")
    assert stale.counts.succeeded == 0
    # When both add
    job_store.add_to_job("job_1", counts=RequestCounts(succeeded=5, errored=1), usage=Usage(input_tokens=7),
                         chunks_final=1)
    after = job_store.add_to_job("job_1", counts=RequestCounts(succeeded=3), usage=Usage(input_tokens=2),
                                 chunks_final=1)
    # Then neither overwrote the other: the update expression adds on the server side
    assert (after.counts.succeeded, after.counts.errored, after.usage.input_tokens, after.chunks_final) == (8, 1, 9, 2)
    # And the answer is the item after this very update (what the last collector uses to finalize)
    assert after.version == 2


def test_get_job_of_another_tenant_is_not_found(aws):
    job_store.create_job(_job())
    with pytest.raises(NotFound):
        job_store.get_job("job_1", tenant_id="t2")


def test_list_jobs_newest_first_with_cursor(aws):
    for i in range(5):
        job_store.create_job(_job(f"job_{i}", created_at=f"2026-01-0{i + 1}T00:00:00.000Z"))
    job_store.create_job(_job("job_other", tenant="t2"))
    page, cursor = job_store.list_jobs("t1", limit=3)
    rest, last = job_store.list_jobs("t1", limit=3, cursor=cursor)
    assert [j.job_id for j in page + rest] == ["job_4", "job_3", "job_2", "job_1", "job_0"]
    assert last is None


def test_put_chunk_is_idempotent(aws):
    first, created = chunk_store.put_chunk(_chunk())
    again, created_again = chunk_store.put_chunk(_chunk())
    assert created and not created_again and again.chunk_id == first.chunk_id


def test_chunk_enters_and_leaves_the_due_index(aws):
    chunk_store.put_chunk(_chunk())
    chunk = chunk_store.transition_chunk(
        "job_1", "c00001", "openai", ChunkStatus.PENDING, ChunkStatus.CREATING, create_seq=1, intent_at=1.0
    )
    chunk = chunk_store.record_batch(chunk, batch_id="batch_a", batch_created_at=2.0, due_at=100)
    assert chunk.status == ChunkStatus.SUBMITTED and chunk.batch_ids == ["batch_a"]
    assert [c.chunk_id for c in chunk_store.query_due_chunks("openai", 100)] == ["c00001"]
    assert chunk_store.query_due_chunks("openai", 99) == []
    assert chunk_store.query_due_chunks("anthropic", 100) == []
    chunk_store.transition_chunk("job_1", "c00001", "openai", ChunkStatus.SUBMITTED, None, due_at=500)
    assert chunk_store.query_due_chunks("openai", 100) == []
    chunk_store.transition_chunk("job_1", "c00001", "openai", ChunkStatus.SUBMITTED, ChunkStatus.ENDED, due_at=None)
    assert chunk_store.in_flight_chunks("openai") == []
    assert chunk_store.find_chunk_by_batch("openai", "batch_a") == ("job_1", "c00001")


def test_record_batch_refuses_a_batch_owned_by_another_chunk(aws):
    for chunk_id in ("c00001", "c00002"):
        chunk_store.put_chunk(_chunk(chunk_id))
        chunk_store.transition_chunk(
            "job_1", chunk_id, "openai", ChunkStatus.PENDING, ChunkStatus.CREATING, create_seq=1
        )
    chunk_store.record_batch(chunk_store.get_chunk("job_1", "c00001"), batch_id="b", batch_created_at=1.0, due_at=5)
    with pytest.raises(TransitionRefused):
        chunk_store.record_batch(chunk_store.get_chunk("job_1", "c00002"), batch_id="b", batch_created_at=1.0, due_at=5)
    assert chunk_store.get_chunk("job_1", "c00002").status == ChunkStatus.CREATING
    assert chunk_store.claimed_batch_ids("openai", ["b", "zzz"]) == {"b"}


def test_record_batch_twice_is_refused_the_second_time(aws):
    chunk_store.put_chunk(_chunk())
    chunk = chunk_store.transition_chunk(
        "job_1", "c00001", "openai", ChunkStatus.PENDING, ChunkStatus.CREATING, create_seq=1
    )
    chunk_store.record_batch(chunk, batch_id="b1", batch_created_at=1.0, due_at=5)
    with pytest.raises(TransitionRefused):
        chunk_store.record_batch(chunk, batch_id="b2", batch_created_at=1.0, due_at=5)
    assert chunk_store.get_chunk("job_1", "c00001").batch_ids == ["b1"]


def test_two_paths_ending_the_same_chunk_collect_it_once(aws):
    # The poller and the OpenAI webhook may both see a batch end; only one transition succeeds.
    chunk_store.put_chunk(_chunk())
    chunk = chunk_store.transition_chunk(
        "job_1", "c00001", "openai", ChunkStatus.PENDING, ChunkStatus.CREATING, create_seq=1
    )
    chunk_store.record_batch(chunk, batch_id="b1", batch_created_at=1.0, due_at=5)
    chunk_store.transition_chunk("job_1", "c00001", "openai", ChunkStatus.SUBMITTED, ChunkStatus.ENDED, due_at=None)
    with pytest.raises(TransitionRefused) as refused:
        chunk_store.transition_chunk(
            "job_1", "c00001", "openai", ChunkStatus.SUBMITTED, ChunkStatus.ENDED, due_at=None
        )
    assert refused.value.current == "ended"


def _validating(job_id: str = "job_v") -> Job:
    from batchrelay.models.job import InputValidation

    validation = InputValidation(upload_key="uploads/t1/upl_1.jsonl", upload_etag='"e"', size_bytes=100)
    return _job(job_id).model_copy(update={"status": JobStatus.VALIDATING, "request_count": 0,
                                           "validation": validation})


def test_a_validation_step_is_stored_once_from_the_step_it_read(aws):
    # Given a job validating, at step 0
    job = job_store.create_job(_validating())
    progress = job.validation.model_copy(update={"step": 1, "copied": True})
    # When two deliveries of step 0 store their progress, only the first does
    assert job_store.record_validation_step("job_v", progress, seen_step=0).validation.step == 1
    assert job_store.record_validation_step("job_v", progress, seen_step=0) is None
    # And acceptance from a step that is not the current one is refused
    with pytest.raises(TransitionRefused):
        job_store.accept_validated_input("job_v", progress, seen_step=0, request_count=3, models={"m": 3})
    done = progress.model_copy(update={"step": 2, "done": True})
    job = job_store.accept_validated_input("job_v", done, seen_step=1, request_count=3, models={"m": 3})
    assert job.status == JobStatus.SUBMITTING and job.request_count == 3 and job.input_accepted


def test_validating_jobs_sit_in_the_stalled_jobs_index_until_they_move_on(aws):
    import time

    from batchrelay import constants as c

    job_store.create_job(_validating())
    job_store.create_job(_job("job_q"))
    later = int(time.time()) + c.VALIDATING_JOB_RESEND_SECONDS + 1
    found = {job_id: status for job_id, _, status in job_store.query_stalled_jobs(later)}
    assert found == {"job_v": JobStatus.VALIDATING, "job_q": JobStatus.QUEUED}
    # A resend postpones the next one; a postpone from a stale read is refused
    (due,) = [d for job_id, d, _ in job_store.query_stalled_jobs(later) if job_id == "job_v"]
    assert job_store.postpone_stalled_resend("job_v", JobStatus.VALIDATING, seen_due_at=due, now=later)
    assert not job_store.postpone_stalled_resend("job_v", JobStatus.VALIDATING, seen_due_at=due, now=later)
    # A final job stays watched until its event is published, then leaves the index
    job_store.transition_job("job_v", JobStatus.VALIDATING, JobStatus.FAILED, error={"code": "invalid_request"})
    far = later + 10 * c.VALIDATING_JOB_RESEND_SECONDS
    assert {job_id for job_id, _, _ in job_store.query_stalled_jobs(far)} == {"job_q", "job_v"}
    job_store.mark_event_published("job_v")
    assert [job_id for job_id, _, _ in job_store.query_stalled_jobs(far)] == ["job_q"]
    assert not job_store.get_job("job_v").input_accepted
