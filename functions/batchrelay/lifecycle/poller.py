"""The scheduled poller: look at the chunks due for a check and move them on.

Per provider, each run:
- queries the due index for chunks due now (and SUBMITTED ones due within a short
  look-ahead, which ride along for free once the provider is asked anyway);
- asks the provider with one list sweep (newest first, paging back only to the oldest
  batch it needs), then retrieves individually what the sweep did not reach;
- hands ended batches to `collect`, holds chunks refused for capacity, and reschedules
  running ones adaptively (poll_schedule);
- cancels a batch still running past its job's maximum batch age (providers that never
  expire batches, like Azure OpenAI, rely on it): its end then counts as an expiry;
- reports, per provider, the age of the oldest batch it saw still pending at the provider
  (accepted, not started: the registry's ``pending_statuses``; Gemini can keep one for hours):
  nothing gives up on such a batch, so the run makes it visible instead (the poller handler
  logs it and emits it as a metric);
- re-sends the message for chunks waiting on us (pending, creating, held, ended; collected
  with provider files still to delete) whose safety-net time has come: a lost message never
  strands a chunk;
- and, before the providers, for jobs: queued or validating ones whose message was lost
  (resend_stalled_jobs), final ones whose items' TTL steps or deletion steps stopped
  (`expire`, `delete`).

Provider calls run on a thread pool; DynamoDB writes stay on the calling thread (boto3
resources are not thread-safe). New work stops at ``deadline``; the rest waits a minute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from typing import Any

from batchrelay import constants as c
from batchrelay import registry
from batchrelay.errors import TransitionRefused
from batchrelay.lifecycle import provider_lookup
from batchrelay.lifecycle.handoff import hand_to_collect
from batchrelay.lifecycle.messages import (
    send_cancel_message,
    send_chunk_message,
    send_cleanup_message,
    send_collect_message,
    send_delete_message,
    send_expire_message,
    send_finalize_message,
    send_job_message,
    send_validate_message,
)
from batchrelay.lifecycle.poll_schedule import SAFETY_NET_S, next_check_delay
from batchrelay.models.job import Chunk, ChunkCounts, ChunkStatus, JobStatus
from batchrelay.providers.base import BatchInfo, BatchProvider, ProviderError
from batchrelay.store import chunk_store, job_store

logger = logging.getLogger(__name__)

LOOKAHEAD_S = 180        # submitted chunks due this soon join a sweep that happens anyway
SWEEP_SKEW_S = 120       # provider clock vs ours, when paging back to the oldest batch
MAX_WORKERS = 16
# Chunks of one provider looked at per run at most (10,000 batches in flight fit).
MAX_DUE_PER_PROVIDER = 20_000


@dataclass
class PollSummary:
    due: int = 0
    checked: int = 0
    handed_to_collect: int = 0
    held: int = 0
    aged_out: int = 0
    rescheduled: int = 0
    unchanged: int = 0
    resent: int = 0
    sweeps: int = 0
    retrieves: int = 0
    errors: int = 0
    left_for_next_run: int = 0
    # provider -> seconds the oldest batch seen pending at the provider this run has waited
    oldest_pending_s: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def saw_pending(self, provider: str, age_s: float) -> None:
        self.oldest_pending_s[provider] = max(self.oldest_pending_s.get(provider, 0), max(0, int(age_s)))


def run_poll(
    now: float,
    deadline: float,
    *,
    providers: Iterable[str] | None = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """One poller run. ``now`` is the scheduling time (tests move it); ``deadline`` is on ``clock``."""
    summary = PollSummary()
    resend_stalled_jobs(now, summary)
    resend_job_upkeep(now, summary)
    for name in registry.names() if providers is None else providers:
        if clock() >= deadline:
            break
        poll_provider(name, now=now, deadline=deadline, clock=clock, summary=summary)
    return summary.as_dict()


def resend_stalled_jobs(now: float, summary: PollSummary) -> None:
    """Jobs whose resend time has come may have lost the message that moves them on: send
    it again (every consumer is idempotent, and resumes from what is stored).

    queued / submitting: `job` (plan, or the next planning step); validating: `validate`
    (the next validation step); cancelling: `cancel`, and `job` while planning is not done;
    in_progress, finalizing, or final with the event not yet published: `finalize` (it does
    nothing until every chunk is final)."""
    for job_id, due_at, status in job_store.query_stalled_jobs(int(now)):
        if not job_store.postpone_stalled_resend(job_id, status, seen_due_at=due_at, now=int(now)):
            continue
        if status == JobStatus.VALIDATING:
            send_validate_message(job_id)
        elif status in (JobStatus.QUEUED, JobStatus.SUBMITTING):
            send_job_message(job_id)
        elif status == JobStatus.CANCELLING:
            send_cancel_message(job_id)
            if not job_store.get_job(job_id).submission_done:
                send_job_message(job_id)
        else:
            send_finalize_message(job_id)
        summary.resent += 1


# Final jobs with work behind the collect queue, and the message that goes on with it.
_UPKEEP = {
    c.EXPIRING_JOBS_DUE_PK: send_expire_message,
    c.DELETING_JOBS_DUE_PK: send_delete_message,
}


def resend_job_upkeep(now: float, summary: PollSummary) -> None:
    """Final jobs whose TTL or deletion steps stopped (a lost message, a crashed step): send
    the step's message again (a step starts over safely; one holding a lease is left alone)."""
    for due_pk, send in _UPKEEP.items():
        for job_id, due_at in job_store.query_due_jobs(due_pk, int(now)):
            if job_store.postpone_due_job(
                job_id, due_pk, seen_due_at=due_at, next_due_at=int(now) + SAFETY_NET_S
            ):
                send(job_id)
                summary.resent += 1


def poll_provider(name: str, *, now: float, deadline: float, clock: Callable[[], float], summary: PollSummary) -> None:
    candidates = chunk_store.query_due_chunks(name, int(now) + LOOKAHEAD_S, limit=MAX_DUE_PER_PROVIDER)
    due_now = [chunk for chunk in candidates if chunk.due_at is not None and chunk.due_at <= now]
    if not due_now:
        return
    summary.due += len(due_now)
    waiting_on_us = [chunk for chunk in due_now if chunk.status != ChunkStatus.SUBMITTED]
    for chunk in waiting_on_us:
        if clock() >= deadline:
            summary.left_for_next_run += 1
            continue
        _resend(chunk, now=now, summary=summary)

    to_check = [chunk for chunk in due_now if chunk.status == ChunkStatus.SUBMITTED and chunk.batch_id]
    if not to_check:
        return
    riders = [
        chunk for chunk in candidates
        if chunk.status == ChunkStatus.SUBMITTED and chunk.batch_id and chunk.due_at is not None
        and chunk.due_at > now
    ]
    provider = provider_lookup.provider_for(name)
    spec = registry.spec(name)
    infos = check_batches(
        provider, [*to_check, *riders], deadline=deadline, clock=clock, summary=summary,
        page_size=spec.limits.list_page_size,
    )
    looked_at = [(chunk, infos.get(chunk.batch_id or ""), due) for due, chunks in ((True, to_check), (False, riders))
                 for chunk in chunks]
    # Ended batches first: if the run's time runs out, what is left is only rescheduling.
    looked_at.sort(key=lambda entry: entry[1] is None or entry[1].state != "ended")
    for chunk, info, due in looked_at:
        if info is not None and info.provider_status in spec.pending_statuses:
            summary.saw_pending(name, now - (info.created_at or chunk.batch_created_at or now))
        if info is None or clock() >= deadline:
            if due:
                summary.left_for_next_run += 1  # still due: the next run looks again
            continue
        apply_batch_info(chunk, info, now=now, summary=summary, provider=provider,
                         progress_counts=spec.capabilities.progress_counts)


def check_batches(
    provider: BatchProvider,
    chunks: list[Chunk],
    *,
    deadline: float,
    clock: Callable[[], float],
    summary: PollSummary,
    page_size: int = 100,
) -> dict[str, BatchInfo]:
    """Batch infos by id: one list sweep when it pays, retrieves for the rest."""
    wanted = {chunk.batch_id for chunk in chunks if chunk.batch_id}
    found: dict[str, BatchInfo] = {}
    if len(wanted) >= 2:
        oldest = min(chunk.batch_created_at or 0.0 for chunk in chunks)
        # Never page more than the retrieves it replaces would cost.
        budget = len(wanted) * page_size
        summary.sweeps += 1
        try:
            sweep = provider.list_batches(created_after=oldest - SWEEP_SKEW_S, page_size=page_size)
            for seen, info in enumerate(sweep):
                if info.batch_id in wanted:
                    found[info.batch_id] = info
                if len(found) == len(wanted) or seen >= budget or clock() >= deadline:
                    break
        except ProviderError as exc:
            summary.errors += 1
            logger.warning("%s list sweep failed: %s", provider.name, exc.message)
    missing = [b for b in wanted if b not in found]
    if not missing or clock() >= deadline:
        return found
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(missing))) as pool:
        futures = {pool.submit(provider.retrieve_batch, batch_id): batch_id for batch_id in missing}
        for future in as_completed(futures):
            summary.retrieves += 1
            try:
                found[futures[future]] = future.result()
            except ProviderError as exc:
                if exc.status_code == 404:
                    # Gone at the provider: ended for us, or it would be checked every minute forever.
                    found[futures[future]] = BatchInfo.lost(futures[future], exc.message)
                    continue
                summary.errors += 1
                logger.warning("retrieving batch %s failed: %s", futures[future], exc.message)
    return found


def apply_batch_info(
    chunk: Chunk, info: BatchInfo, *, now: float, summary: PollSummary, provider: BatchProvider | None = None,
    progress_counts: bool = True,
) -> None:
    summary.checked += 1
    if info.state == "ended":
        reason = info.end_reason or "completed"
        if chunk.aged_out_at is not None and reason == "cancelled":
            reason = "expired"  # we cancelled it for its age: what finished stays, the rest is expired
        moved = hand_to_collect(
            chunk.job_id, chunk.chunk_id, provider=chunk.provider, reason=reason, batch=info, now=now,
        )
        if moved and info.capacity_exhausted:
            summary.held += 1
        elif moved:
            summary.handed_to_collect += 1
        return
    created_at = chunk.batch_created_at or info.created_at
    age_limit = chunk.max_batch_age_seconds if chunk.aged_out_at is None else None
    if age_limit is not None and now - created_at >= age_limit:
        # Before the unchanged check: a batch that never moves is exactly the one to end.
        cancel_aged_out_batch(provider or provider_lookup.provider_for(chunk.provider), chunk, info, now=now,
                              summary=summary)
        return
    counts = ChunkCounts(total=info.total, completed=info.completed, failed=info.failed)
    if not progress_counts and chunk.provider_status == info.provider_status and chunk.counts == counts:
        # Nothing moved, and a provider without progress counts is looked at every run anyway:
        # the chunk stays due (no write: at 10,000 batches, writes would cost more than looks).
        summary.unchanged += 1
        return
    delay = next_check_delay(
        now=now, created_at=created_at, total=info.total, completed=info.completed, progress_counts=progress_counts,
    )
    if age_limit is not None:
        delay = min(delay, max(0, int(created_at + age_limit - now)))  # be there when it ages out
    try:
        chunk_store.transition_chunk(
            chunk.job_id, chunk.chunk_id, chunk.provider, ChunkStatus.SUBMITTED, None,
            due_at=int(now) + delay,
            guard=chunk_store.same_batch(info.batch_id),
            provider_status=info.provider_status,
            counts=counts.model_dump(),
            checks=chunk.checks + 1,
        )
        summary.rescheduled += 1
    except TransitionRefused:
        pass  # moved on meanwhile (webhook, cancel): nothing to do


def cancel_aged_out_batch(
    provider: BatchProvider, chunk: Chunk, info: BatchInfo, *, now: float, summary: PollSummary
) -> None:
    """The batch ran past the job's maximum age: cancel it, and mark the chunk so that its end
    counts as an expiry (finished results kept; the rest retried while attempts remain, else
    expired). Marked only once the provider took the cancel (or refused it for good): a cancel
    that failed for now is tried again on the next run."""
    try:
        provider.cancel_batch(info.batch_id)
    except ProviderError as exc:
        if exc.retryable:
            summary.errors += 1
            logger.warning("cancelling aged-out batch %s failed: %s", info.batch_id, exc.message)
            return
        logger.info("aged-out batch %s not cancelled (%s); it ends on its own", info.batch_id, exc.message)
    try:
        chunk_store.transition_chunk(
            chunk.job_id, chunk.chunk_id, chunk.provider, ChunkStatus.SUBMITTED, None,
            due_at=int(now), guard=chunk_store.same_batch(info.batch_id), aged_out_at=now,
            provider_status=info.provider_status,
        )
        summary.aged_out += 1
    except TransitionRefused:
        pass  # moved on meanwhile


def _resend(chunk: Chunk, *, now: float, summary: PollSummary) -> None:
    """Push the safety-net time out first (only one poller wins), then send the message."""
    cleanup = chunk.status == ChunkStatus.COLLECTED and chunk.files_pending_cleanup
    try:
        chunk_store.transition_chunk(
            chunk.job_id, chunk.chunk_id, chunk.provider, chunk.status, None,
            due_at=None if chunk.status == ChunkStatus.COLLECTED and not cleanup else int(now) + SAFETY_NET_S,
            guard=chunk_store.same_due_at(chunk.due_at),
        )
    except TransitionRefused:
        return
    if chunk.status == ChunkStatus.ENDED:
        send_collect_message(chunk.job_id, chunk.chunk_id)
    elif chunk.status in (ChunkStatus.PENDING, ChunkStatus.CREATING, ChunkStatus.HELD):
        send_chunk_message(chunk.job_id, chunk.chunk_id)
    elif cleanup:
        send_cleanup_message(chunk.job_id, chunk.chunk_id)
    else:
        return
    summary.resent += 1
