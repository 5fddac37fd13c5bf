"""Deleting a job's data on request (DELETE /v1/jobs/{id}): its input, its chunk files, the
providers' raw files, its results, the files a provider still keeps for it, and every table
item of it (the job, chunks, deliveries, batch claims, idempotency key). Final jobs only.

1. The API moves the job from its final status to `deleting` (a conditional write that also
   puts it in the due index, DELETING_JOBS_DUE_PK): from then on it has no result links.
2. The work is done in steps. A step takes a lease on the job (a conditional write that also
   moves the safety-net time past the step), so one step runs at a time and counts exactly;
   it works until its deadline, then adds what it removed to ``job.deletion.removed`` and
   releases the lease in one write. In order:
   a. objects, prefix by prefix (results first, so links stop working first; then raw files,
      chunk files, the input): list up to 1000 keys, delete them in one request, until the
      prefix is empty (everything under the job's prefixes goes, whatever it is named);
   b. table items, a page at a time from the start of the job's partition: a chunk's provider
      files if a cleanup is still pending (where the step may call providers: the collector;
      one try, best effort), its batch claims, the chunk; deliveries;
   c. the files a drop-in surface lists for it (the OpenAI surface's output and error files),
      the idempotency key (the key may then be used again), and the job item last: a GET
      is 404 from then on.
3. A small job (``INLINE_MAX_CHUNKS``, no provider files pending) is deleted inside the DELETE
   request (200, with what was removed); a larger one, or one the request's budget did not
   finish, goes on behind the collect queue, one step per `delete` message (202; GET shows
   the progress, then 404). A lost message leaves the job due: the poller sends `delete`
   again. A repeated message finds the lease taken or nothing left.

Anything a deletion misses (an object written later, a delivery of an event still in flight)
carries the retention rule's expiry or its own TTL.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from batchrelay.aws import s3_objects
from batchrelay.aws.s3_keys import job_prefixes
from batchrelay.clock import now_iso
from batchrelay.lifecycle import provider_lookup
from batchrelay.lifecycle.messages import send_delete_message
from batchrelay.lifecycle.poll_schedule import SAFETY_NET_S
from batchrelay.lifecycle.provider_files import delete_batch_files
from batchrelay.models.job import DeletionCounts, Job, JobStatus
from batchrelay.providers.base import ProviderError
from batchrelay.store import file_store, job_items, job_store, keys
from batchrelay.store.job_items import JobItem

logger = logging.getLogger(__name__)

# Deleted inside the DELETE request up to this many chunks (a few hundred objects and items).
INLINE_MAX_CHUNKS = 50
# The request's share of API Gateway's 29 s; the rest goes on behind the queue.
INLINE_BUDGET_S = 10.0
# One queued step (the collector's timeout is 600 s), and at most this many deletions in it.
STEP_BUDGET_S = 120.0
STEP_MAX_DELETIONS = 5_000
# A step's lease outlasts its budget by this much (a crashed step is taken over after it).
LEASE_MARGIN_S = 60.0
ITEMS_PER_PAGE = 100
_OBJECT_KINDS = ("inputs", "chunk_files", "raw_files", "results")


@dataclass
class DeletionPlan:
    """What a deletion still has to remove: table items by kind, and the job's prefixes."""

    chunks: int = 0
    deliveries: int = 0
    batch_claims: int = 0
    idempotency_keys: int = 0
    jobs: int = 1
    provider_files_pending: int = 0      # chunks whose provider files are not deleted yet
    prefixes: list[str] = field(default_factory=list)

    @property
    def table_items(self) -> int:
        return self.chunks + self.deliveries + self.batch_claims + self.idempotency_keys + self.jobs

    @property
    def fits_inline(self) -> bool:
        # The API has no provider keys: a pending provider cleanup goes behind the queue.
        return self.chunks <= INLINE_MAX_CHUNKS and not self.provider_files_pending


@dataclass
class StepOutcome:
    removed: DeletionCounts      # by every step so far, this one included
    done: bool                   # the job item is gone: nothing is left
    held: bool = False           # another step holds the deletion (or the job is not deleting)


def plan_deletion(job: Job) -> DeletionPlan:
    """What is left to delete (one read of the job's partition, keys and a few attributes)."""
    plan = DeletionPlan(prefixes=list(job_prefixes(job.tenant_id, job.job_id).values()))
    plan.idempotency_keys = 1 if job.idempotency_key else 0
    after: str | None = None
    while True:
        page, after = job_items.partition_page(job.job_id, after=after, limit=1000)
        for item in page:
            if item.kind == "chunk":
                plan.chunks += 1
                plan.batch_claims += len(item.claim_keys())
                plan.provider_files_pending += item.files_pending_cleanup
            elif item.kind == "delivery":
                plan.deliveries += 1
        if after is None:
            return plan


def start_deletion(job: Job, *, now: float | None = None) -> Job:
    """final -> deleting (TransitionRefused names the status found)."""
    now = time.time() if now is None else now
    return job_store.start_deletion(
        job.job_id, job.status, requested_at=now_iso(), due_at=int(now) + SAFETY_NET_S
    )


def run_step(job_id: str, *, budget_s: float, provider_calls: bool, now: float | None = None) -> StepOutcome:
    """One step of the deletion, holding its lease, until done or ``budget_s`` is spent."""
    now = time.time() if now is None else now
    lease_until = now + budget_s + LEASE_MARGIN_S
    job = job_store.claim_deletion_step(job_id, now=now, lease_until=lease_until, due_at=int(now) + SAFETY_NET_S)
    if job is None:
        current = job_store.find_job(job_id)
        before = current.deletion.removed if current and current.deletion else DeletionCounts()
        return StepOutcome(removed=before, done=current is None, held=current is not None)
    assert job.deletion is not None
    deadline = time.monotonic() + budget_s
    removed = DeletionCounts()
    done = False
    try:
        done = _delete_what_is_left(job, removed, deadline=deadline, provider_calls=provider_calls)
    finally:
        if done and job_store.delete_job_item(job_id, lease_until=lease_until):
            removed.table_items += 1
        else:
            done = False
            job_store.record_deletion_step(job_id, removed, lease_until=lease_until)
    return StepOutcome(removed=_added(job.deletion.removed, removed), done=done)


def continue_deletion(job_id: str, *, now: float | None = None) -> str:
    """The `delete` message: one step, then the next message if anything is left."""
    job = job_store.find_job(job_id)
    if job is None:
        return "job is gone"
    if job.status != JobStatus.DELETING:
        return f"job is {job.status}"
    outcome = run_step(job_id, budget_s=STEP_BUDGET_S, provider_calls=True, now=now)
    if outcome.held:
        return "another step holds the deletion"  # it queues the next one; else the safety net
    if outcome.done:
        return f"deleted: {outcome.removed.model_dump()}"
    send_delete_message(job_id)
    return f"removed so far: {outcome.removed.model_dump()}; next step queued"


def _delete_what_is_left(job: Job, removed: DeletionCounts, *, deadline: float, provider_calls: bool) -> bool:
    """Delete objects, then items; False when the step's bounds came first (a later step goes on)."""

    def left() -> int:
        spent = removed.table_items + sum(getattr(removed, kind) for kind in _OBJECT_KINDS)
        return 0 if time.monotonic() >= deadline else max(0, STEP_MAX_DELETIONS - spent)

    for kind, prefix in job_prefixes(job.tenant_id, job.job_id).items():
        while True:
            if not left():
                return False
            batch = s3_objects.list_keys(prefix, limit=left())
            if not batch:
                break
            setattr(removed, kind, getattr(removed, kind) + s3_objects.delete_keys(batch))
    while True:
        # Always from the start: what was deleted is gone (consistent reads). The job item sorts last.
        page, _ = job_items.partition_page(job.job_id, limit=ITEMS_PER_PAGE)
        items = [item for item in page if item.kind != "job"]
        if not items:
            break
        for item in items:
            if not left():
                return False
            if item.files_pending_cleanup and provider_calls:
                removed.provider_files += _delete_provider_files(job, item)
            for claim in item.claim_keys():
                removed.table_items += job_items.delete_item(claim, job_id=job.job_id)
            removed.table_items += job_items.delete_item(item.key, job_id=job.job_id)
    # A drop-in surface's files of the job (the OpenAI surface's output and error files)
    for file in job.surface_files.values():
        if file.file_id and file_store.delete_file(job.tenant_id, file.file_id) is not None:
            removed.table_items += 1
    if job.idempotency_key:
        key = keys.idempotency_key(job.tenant_id, job.idempotency_key)
        removed.table_items += job_items.delete_item(key, job_id=job.job_id)
    return True


def _delete_provider_files(job: Job, item: JobItem) -> int:
    """One try at the files a provider still keeps for a chunk: the chunk item goes next, so
    no safety net is left (the provider's own expiry then is: 30 days for OpenAI batch files)."""
    try:
        provider = provider_lookup.provider_for(item.provider or job.provider)
        return len(delete_batch_files(provider, list(item.batch_ids), {}))
    except ProviderError as exc:
        logger.warning("job %s chunk %s: provider files not deleted: %s", job.job_id, item.chunk_id, exc.message)
        return 0


def _added(before: DeletionCounts, step: DeletionCounts) -> DeletionCounts:
    return DeletionCounts(**{k: v + getattr(step, k) for k, v in before.model_dump().items()})
