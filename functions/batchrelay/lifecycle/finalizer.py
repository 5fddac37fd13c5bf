"""Finalize a job once every chunk is collected: results, manifest, final status, event.

Steps, each safe to repeat:
1. in_progress/cancelling -> finalizing (conditional; remembers whether a cancel was asked);
2. concatenate the parts in chunk order into results.jsonl (streamed), checking each
   part's line count against its summary and the total against the job's request count;
3. write manifest.json; price the usage (results/pricing.py);
4. finalizing -> final status with the keys, cost and event id;
5. publish the event, then set event_published.
A crash anywhere leaves the job finalizing or final-but-unpublished; a redelivered
`collect`/`finalize` message resumes. The event id is stable, so a repeat is deduplicated.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

from batchrelay.aws.s3_objects import presigned_get
from batchrelay.errors import TransitionRefused
from batchrelay.lifecycle.final_status import final_status
from batchrelay.models.job import ChunkStatus, Job, JobStatus
from batchrelay.results.keys import manifest_key, part_summary_key, results_key
from batchrelay.results.multipart_writer import MultipartWriter
from batchrelay.results.pricing import cost_of
from batchrelay.results.s3_objects import get_json, object_blocks, put_json
from batchrelay.settings import get_settings
from batchrelay.store import chunk_store, job_store

logger = logging.getLogger(__name__)


def _presigned_results_url(job: Job) -> str | None:
    """A link a webhook receiver can fetch; it expires, GET /v1/jobs/{id}/results renews it."""
    if not job.results_key:
        return None
    settings = get_settings()
    return presigned_get(settings.bucket_name, job.results_key, settings.presign_expiry_seconds)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def finalize_if_complete(job_id: str, *, now: float | None = None) -> str:
    job = job_store.get_job(job_id)
    if job.is_final and job.event_published:
        return f"job is {job.status}"
    if not job.submission_done or job.chunks_final < job.chunks_total:
        return f"{job.chunks_final}/{job.chunks_total} chunks final"
    return finalize_job(job_id, now=now)


def finalize_job(job_id: str, *, now: float | None = None) -> str:
    now = time.time() if now is None else now
    job = job_store.get_job(job_id)
    if job.status in (JobStatus.IN_PROGRESS, JobStatus.CANCELLING):
        if not job.submission_done or job.chunks_final < job.chunks_total:
            return f"{job.chunks_final}/{job.chunks_total} chunks final"
        try:
            # From either: a cancel that lands while this runs must not leave the job
            # cancelling with every chunk already counted and nobody left to finalize it.
            job = job_store.transition_job(job_id, (JobStatus.IN_PROGRESS, JobStatus.CANCELLING), JobStatus.FINALIZING)
        except TransitionRefused:
            job = job_store.get_job(job_id)
    if job.status == JobStatus.FINALIZING:
        job = _write_results(job, now=now)
    if not job.is_final:
        return f"job is {job.status}"
    if not job.event_published:
        _publish(job)
        return f"finalized as {job.status}; event published"
    return f"job is {job.status}"


def _write_results(job: Job, *, now: float) -> Job:
    chunks = sorted(chunk_store.list_chunks(job.job_id), key=lambda chunk: chunk.chunk_id)
    not_collected = [chunk.chunk_id for chunk in chunks if chunk.status != ChunkStatus.COLLECTED]
    if not_collected:
        raise RuntimeError(f"job {job.job_id} is finalizing but chunks {not_collected} are not collected")
    parts: list[dict[str, Any]] = []
    usage_by_model: dict[str, dict[str, int]] = {}
    with MultipartWriter(results_key(job.job_id), sha256=True) as results:
        for chunk in chunks:
            summary = get_json(part_summary_key(job.job_id, chunk.chunk_id))
            digest, size, lines = hashlib.sha256(), 0, 0
            for block in object_blocks(chunk.part_key or ""):
                results.write(block)
                digest.update(block)
                size += len(block)
                lines += block.count(b"\n")
            if lines != summary["lines"]:
                raise RuntimeError(f"part {chunk.part_key} has {lines} lines, its summary says {summary['lines']}")
            parts.append({"key": chunk.part_key, "lines": lines, "sha256": digest.hexdigest(), "bytes": size})
            for model, usage in summary.get("usage_by_model", {}).items():
                totals = usage_by_model.setdefault(model, {})
                for name, value in usage.items():
                    totals[name] = totals.get(name, 0) + value
        written = results.close()
    if written.lines != job.request_count or job.counts.total != job.request_count:
        raise RuntimeError(
            f"job {job.job_id}: {written.lines} result lines and {job.counts.total} counted outcomes "
            f"for {job.request_count} requests"
        )
    cost = cost_of(usage_by_model)
    cost_usd, sync_cost_usd = cost.as_strings()
    status = final_status(job.counts, cancel_requested=job.cancel_requested)
    finished_at = _iso(now)
    from batchrelay.notifications.events import event_id_for

    put_json(
        manifest_key(job.job_id),
        {
            "job_id": job.job_id,
            "status": str(status),
            "provider": job.provider,
            "endpoint": job.endpoint,
            "request_count": job.request_count,
            "counts": job.counts.model_dump(),
            "usage": job.usage.model_dump(),
            "usage_by_model": usage_by_model,
            "cost": {"usd": cost_usd, "sync_usd": sync_cost_usd, "unpriced_models": cost.unpriced_models},
            "parts": parts,
            "results": {"key": written.key, "sha256": written.sha256, "lines": written.lines, "bytes": written.bytes},
            "created_at": job.created_at,
            "finished_at": finished_at,
        },
    )
    try:
        return job_store.transition_job(
            job.job_id,
            JobStatus.FINALIZING,
            status,
            results_key=written.key,
            manifest_key=manifest_key(job.job_id),
            cost_usd=cost_usd,
            sync_cost_usd=sync_cost_usd,
            finished_at=finished_at,
            event_id=event_id_for(job.job_id, str(status)),
        )
    except TransitionRefused:
        return job_store.get_job(job.job_id)  # a concurrent finalizer got there first


def _publish(job: Job) -> None:
    from batchrelay.jobs.job_views import job_cost
    from batchrelay.notifications.events import build_job_event
    from batchrelay.notifications.publisher import publish_job_event

    cost = job_cost(job)
    event = build_job_event(job, results_url=_presigned_results_url(job), cost=cost.model_dump() if cost else None)
    publish_job_event(event)  # errors propagate: the message is retried and resumes here
    job_store.update_job_fields(job.job_id, event_published=True)
