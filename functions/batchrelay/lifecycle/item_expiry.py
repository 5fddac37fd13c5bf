"""Table items expire with the data: once a job is final, every item of it gets a TTL.

S3 objects expire after the retention period (the bucket's lifecycle rule); a job's table
items expire at its final time + the same retention (``job_items.expires_at_for``), never
while it runs: a running job's items are its state. The items are the job, its chunks
(thousands for a big job), its webhook deliveries, the batch claims of its chunks (one per
provider batch) and its idempotency key. Uploads carry their own TTL from creation (like the
uploaded object); deliveries get theirs at creation (they are made once the job is final).

How, in bounded steps after the job is final:
1. the final transition sets the job's own TTL and puts the job in the due index
   (EXPIRING_JOBS_DUE_PK), in the same conditional write; the finalizer queues `expire`;
2. each `expire` message reads one page of the job's partition (EXPIRY_STEP_ITEMS items) and
   gives every item without a TTL its TTL (a chunk's claims first, then the chunk), each a
   conditional write that never moves a TTL set before; then it queues the next page (and
   moves the safety-net time on);
3. after the last page: the idempotency key, then the job leaves the due index
   (``items_ttl_set``).
A lost message leaves the job due: the poller sends `expire` again, which starts over and
skips what has a TTL already (a chunk has one only after its claims). A repeat changes nothing.

Jobs made final by the previous version have no TTL at all. The first time such a job is
touched (a GET through the API, a redelivered `collect` or `finalize`) it gets one from its
finished_at and goes through the same steps (``begin_expiry``); jobs nobody touches are
found by the one-off sweep ``python -m batchrelay_tools.expire_old_jobs`` (README).
"""

from __future__ import annotations

import logging
import time

from batchrelay import constants as c
from batchrelay.clock import parse_iso
from batchrelay.lifecycle.messages import send_expire_message, send_finalize_message
from batchrelay.lifecycle.poll_schedule import SAFETY_NET_S
from batchrelay.models.job import Job
from batchrelay.store import job_items, job_store, keys
from batchrelay.webhooks.schedule import LONGEST_DELIVERY_SECONDS

logger = logging.getLogger(__name__)

# Items of the job's partition per message: each costs a write or two (a chunk and its
# claims), so a step stays well within the collector's timeout.
EXPIRY_STEP_ITEMS = 200


def final_fields(now: float) -> dict[str, object]:
    """What the final transition sets besides the status: the job's TTL and its safety net."""
    return job_store.expiry_fields(job_items.expires_at_for(now), due_at=int(now) + SAFETY_NET_S)


def begin_expiry(job: Job, *, now: float | None = None) -> bool:
    """A final job without a TTL (made final by the previous version): give it one from its
    final time and queue the steps. True only for the caller that did."""
    now = time.time() if now is None else now
    if not job.is_final or job.expires_at is not None:
        return False
    final_at = parse_iso(job.finished_at) if job.finished_at else now
    if not job_store.begin_item_expiry(
        job.job_id, expires_at=job_items.expires_at_for(final_at), due_at=int(now) + SAFETY_NET_S
    ):
        return False
    send_expire_message(job.job_id)
    return True


def expire_job_items(job_id: str, *, after: str | None = None, now: float | None = None) -> str:
    """One step: a page of the job's items after ``after`` get their TTL (the `expire` message)."""
    now = time.time() if now is None else now
    job = job_store.find_job(job_id)
    if job is None:
        return "job is gone"
    if not job.is_final:
        return f"job is {job.status}"  # running (never: steps start once final) or being deleted
    if not job.event_published:
        # Its event comes first (a lost finalize left it unpublished): publish, which queues
        # these steps again.
        send_finalize_message(job_id)
        return "event not yet published: finalize sent again"
    if job.expires_at is None:
        begin_expiry(job, now=now)
        return "job had no TTL (previous version): steps queued"
    if job.items_ttl_set:
        return "every item has its TTL"
    written, next_after = _expire_page(job, after=after, now=now)
    if next_after is not None:
        job_store.postpone_due_job(
            job_id, c.EXPIRING_JOBS_DUE_PK, seen_due_at=None, next_due_at=int(now) + SAFETY_NET_S
        )
        send_expire_message(job_id, after=next_after)
        return f"{written} TTLs set; next page queued"
    written += _finish(job)
    return f"{written} TTLs set; every item of the job expires at {job.expires_at}"


def expire_every_item(job: Job, *, now: float | None = None) -> int:
    """Every step of a job at once, without the queue (the one-off sweep of old jobs); returns
    how many TTLs it set. The job must be final and have its own TTL."""
    now = time.time() if now is None else now
    assert job.is_final and job.expires_at is not None, job
    written, after = _expire_page(job, after=None, now=now)
    while after is not None:
        more, after = _expire_page(job, after=after, now=now)
        written += more
    return written + _finish(job)


def _expire_page(job: Job, *, after: str | None, now: float) -> tuple[int, str | None]:
    """TTLs for one page of the job's partition: (how many set, where the next page starts)."""
    assert job.expires_at is not None
    page, next_after = job_items.partition_page(job.job_id, after=after, limit=EXPIRY_STEP_ITEMS)
    written = 0
    for item in page:
        if item.kind == "job" or item.expires_at is not None:
            continue
        expires_at = job.expires_at
        if item.kind == "delivery":
            # A delivery of the previous version may still be retrying: keep it until done.
            expires_at = max(expires_at, int(now) + LONGEST_DELIVERY_SECONDS)
        # The claims first: a chunk with a TTL has claims with one (a step starting over skips it).
        for claim in item.claim_keys():
            written += job_items.set_expiry(claim, job_id=job.job_id, expires_at=job.expires_at)
        written += job_items.set_expiry(item.key, job_id=job.job_id, expires_at=expires_at)
    return written, next_after


def _finish(job: Job) -> int:
    """The idempotency key, then the job leaves the safety net."""
    assert job.expires_at is not None
    written = 0
    if job.idempotency_key:
        written += job_items.set_expiry(
            keys.idempotency_key(job.tenant_id, job.idempotency_key), job_id=job.job_id, expires_at=job.expires_at
        )
    job_store.finish_item_expiry(job.job_id)
    return written
