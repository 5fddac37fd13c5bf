"""How a job looks to the API's clients."""

from __future__ import annotations

import time
from collections import defaultdict

from batchrelay import registry
from batchrelay.clock import iso
from batchrelay.models.api import (
    ChunkOut,
    CountsOut,
    DeletionCountsOut,
    DeletionProgressOut,
    JobOut,
    ModelCountOut,
    PendingBatchesOut,
    ResultLinks,
    UsageOut,
    ValidationOut,
)
from batchrelay.models.job import Chunk, ChunkStatus, Job
from batchrelay.results.pricing import job_cost


def pending_batches(chunks: list[Chunk], *, now: float) -> list[PendingBatchesOut]:
    """Per provider: the submitted batches it has not started (its ``pending_statuses``), and
    the age of the oldest, from the batch's creation at the provider."""
    since: dict[str, list[float]] = defaultdict(list)
    for chunk in chunks:
        if chunk.provider not in registry.names():
            continue
        pending = registry.spec(chunk.provider).pending_statuses
        if chunk.status == ChunkStatus.SUBMITTED and chunk.provider_status in pending and chunk.batch_created_at:
            since[chunk.provider].append(chunk.batch_created_at)
    return [
        PendingBatchesOut(
            provider=provider, batches=len(created), oldest_pending_since=iso(min(created), timespec="seconds"),
            oldest_pending_age_s=max(0, int(now - min(created))),
        )
        for provider, created in sorted(since.items())
    ]


def job_out(
    job: Job, *, chunks: list[Chunk] | None = None, results: ResultLinks | None = None, now: float | None = None
) -> JobOut:
    final = job.counts.total
    done = final
    if chunks is not None:
        # Requests the provider finished in batches not yet collected count as progress too.
        done += sum(ch.counts.completed + ch.counts.failed for ch in chunks if ch.status != ChunkStatus.COLLECTED)
    progress = 1.0 if job.is_final else min(1.0, done / job.request_count) if job.request_count else 0.0
    return JobOut(
        id=job.job_id,
        status=str(job.status),
        provider=job.provider,
        endpoint=job.endpoint,
        request_count=job.request_count,
        created_at=job.created_at,
        updated_at=job.updated_at,
        finished_at=job.finished_at,
        metadata=job.metadata,
        webhook_url=job.webhook_url,
        completion_window=job.completion_window,
        max_batch_age_seconds=job.max_batch_age_seconds,
        timeout_hours=job.timeout_hours,
        counts=CountsOut(
            total=job.request_count,
            succeeded=job.counts.succeeded,
            errored=job.counts.errored,
            expired=job.counts.expired,
            cancelled=job.counts.cancelled,
            pending=max(0, job.request_count - final),
        ),
        models=[ModelCountOut(model=model, request_count=count) for model, count in sorted(job.models.items())],
        progress=round(progress, 4),
        chunks=None
        if chunks is None
        else [
            ChunkOut(
                id=ch.chunk_id,
                status=str(ch.status),
                attempt=ch.attempt,
                request_count=ch.request_count,
                model=ch.model,
                batch_id=ch.batch_id,
                provider_status=ch.provider_status,
                completed=ch.counts.completed,
                failed=ch.counts.failed,
            )
            for ch in sorted(chunks, key=lambda ch: ch.chunk_id)
        ],
        pending_batches=None if chunks is None else pending_batches(chunks, now=time.time() if now is None else now),
        usage=UsageOut(**job.usage.model_dump()),
        cost=job_cost(job),
        results=results,
        error=job.error,
        validation=None if job.validation is None else ValidationOut(
            size_bytes=job.validation.size_bytes,
            checked_bytes=job.validation.offset,
            checked_requests=job.validation.requests,
            done=job.validation.done,
        ),
        expires_at=iso(job.expires_at, timespec="seconds") if job.expires_at is not None else None,
        deletion=None if job.deletion is None else DeletionProgressOut(
            requested_at=job.deletion.requested_at,
            removed=DeletionCountsOut(**job.deletion.removed.model_dump()),
        ),
        status_detail=job.status_detail,
    )
