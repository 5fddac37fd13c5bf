"""Finalize a job once every chunk is collected: results, manifest, final status, event.

Steps, each safe to repeat:
1. in_progress/cancelling -> finalizing (conditional; remembers whether a cancel was asked);
2. concatenate the parts in chunk order into results.jsonl (streamed), checking each
   part's line count against its summary and the total against the job's request count
   (results/assembly.py);
3. price the usage (results/pricing.py) and write manifest.json; for a job created through a
   drop-in surface, also its results in that surface's shape (lifecycle/surface_results.py);
4. finalizing -> final status with the keys, cost, event id and the job's TTL (its items
   follow in bounded steps: lifecycle/item_expiry.py);
5. publish the event, then set event_published; queue the items' TTL steps.
A crash anywhere leaves the job finalizing or final-but-unpublished; a redelivered
`collect`/`finalize` message resumes. The event id is stable, so a repeat is deduplicated.

A job that never ran (its upload failed validation, or it was cancelled while validating:
``Job.input_accepted`` is False) takes the same path without steps 2 and 3: no request
reached a provider, so it has no results.jsonl and no manifest.json, and its event carries
no results links (a failed one carries the error instead). A job failed by validation is
already final when `finalize` arrives: only step 5 is left.
"""

from __future__ import annotations

import logging
import time

from batchrelay.aws.s3_keys import manifest_key
from batchrelay.aws.s3_objects import presigned_get
from batchrelay.clock import iso
from batchrelay.errors import TransitionRefused
from batchrelay.lifecycle import item_expiry
from batchrelay.lifecycle.final_status import final_status
from batchrelay.lifecycle.messages import send_expire_message
from batchrelay.lifecycle.surface_results import write_surface_results
from batchrelay.models.job import ChunkStatus, Job, JobStatus
from batchrelay.notifications import publisher
from batchrelay.notifications.events import build_job_event, event_id_for
from batchrelay.results.assembly import assemble_results, write_manifest
from batchrelay.results.pricing import cost_of, job_cost
from batchrelay.settings import get_settings
from batchrelay.store import chunk_store, job_store

logger = logging.getLogger(__name__)


def _presigned_results_url(job: Job) -> str | None:
    """A link a webhook receiver can fetch; it expires, GET /v1/jobs/{id}/results renews it."""
    if not job.results_key:
        return None
    settings = get_settings()
    return presigned_get(job.results_key, settings.presign_expiry_seconds)


def finalize_if_complete(job_id: str, *, now: float | None = None) -> str:
    job = job_store.find_job(job_id)
    if job is None:
        return "job is gone (its data was deleted)"
    if job.is_final and job.event_published:
        item_expiry.begin_expiry(job, now=now)  # a job made final by the previous version
        return f"job is {job.status}"
    if not job.submission_done or job.chunks_final < job.chunks_total:
        return f"{job.chunks_final}/{job.chunks_total} chunks final"
    return finalize_job(job_id, now=now)


def finalize_job(job_id: str, *, now: float | None = None) -> str:
    now = time.time() if now is None else now
    job = job_store.find_job(job_id)
    if job is None:
        return "job is gone (its data was deleted)"
    if job.status in (JobStatus.IN_PROGRESS, JobStatus.CANCELLING):
        if job.input_accepted and (not job.submission_done or job.chunks_final < job.chunks_total):
            return f"{job.chunks_final}/{job.chunks_total} chunks final"
        try:
            # From either: a cancel that lands while this runs must not leave the job
            # cancelling with every chunk already counted and nobody left to finalize it.
            job = job_store.transition_job(
                job_id, (JobStatus.IN_PROGRESS, JobStatus.CANCELLING), JobStatus.FINALIZING, finalizing_at=iso(now)
            )
        except TransitionRefused:
            job = job_store.get_job(job_id)
    if job.status == JobStatus.FINALIZING:
        job = _write_results(job, now=now) if job.input_accepted else _end_unrun(job, now=now)
    if not job.is_final:
        return f"job is {job.status}"
    if not job.event_published:
        _publish(job)
        send_expire_message(job_id)
        return f"finalized as {job.status}; event published"
    item_expiry.begin_expiry(job, now=now)
    return f"job is {job.status}"


def _write_results(job: Job, *, now: float) -> Job:
    chunks = chunk_store.list_chunks(job.job_id)
    not_collected = [chunk.chunk_id for chunk in chunks if chunk.status != ChunkStatus.COLLECTED]
    if not_collected:
        raise RuntimeError(f"job {job.job_id} is finalizing but chunks {not_collected} are not collected")
    assembled = assemble_results(job, [(chunk.chunk_id, chunk.part_key or "") for chunk in chunks])
    cost = cost_of(job.provider, assembled.usage_by_model)
    cost_usd, sync_cost_usd = cost.as_strings()
    status = final_status(job.counts, cancel_requested=job.cancel_requested)
    finished_at = iso(now)
    write_manifest(job, status=str(status), assembled=assembled, cost=cost, finished_at=finished_at)
    surface_files = write_surface_results(job, now=now)
    try:
        return job_store.transition_job(
            job.job_id,
            JobStatus.FINALIZING,
            status,
            results_key=assembled.written.key,
            manifest_key=manifest_key(job.job_id),
            cost_usd=cost_usd,
            sync_cost_usd=sync_cost_usd,
            finished_at=finished_at,
            event_id=event_id_for(job.job_id, str(status)),
            **item_expiry.final_fields(now),
            **({"surface_files": {k: f.model_dump() for k, f in surface_files.items()}} if surface_files else {}),
        )
    except TransitionRefused:
        return job_store.get_job(job.job_id)  # a concurrent finalizer got there first


def _end_unrun(job: Job, *, now: float) -> Job:
    """A job cancelled before its input was accepted: no request ran, so no results and no
    manifest; only the final status (and, next, its event)."""
    status = final_status(job.counts, cancel_requested=job.cancel_requested)
    try:
        return job_store.transition_job(
            job.job_id, JobStatus.FINALIZING, status,
            finished_at=iso(now), event_id=event_id_for(job.job_id, str(status)), **item_expiry.final_fields(now),
        )
    except TransitionRefused:
        return job_store.get_job(job.job_id)


def _publish(job: Job) -> None:
    cost = job_cost(job)
    event = build_job_event(job, results_url=_presigned_results_url(job), cost=cost)
    publisher.publish_job_event(event)  # errors propagate: the message is retried and resumes here
    job_store.mark_event_published(job.job_id)
