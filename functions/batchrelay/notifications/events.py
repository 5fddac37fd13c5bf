"""Build the job event (the SNS message body and the webhook body) from a final job."""

from __future__ import annotations

from batchrelay.clock import now_iso
from batchrelay.models.api import CostOut
from batchrelay.models.events import JobEvent, JobEventData
from batchrelay.models.job import Job
from batchrelay.settings import get_settings


def event_id_for(job_id: str, status: str) -> str:
    """Stable across finalize retries, so receivers can deduplicate at-least-once deliveries."""
    return f"evt_{job_id}_{status}"


def job_summary(job: Job, *, results_url: str | None, cost: CostOut | None) -> JobEventData:
    return JobEventData(
        job_id=job.job_id,
        tenant_id=job.tenant_id,
        status=str(job.status),
        provider=job.provider,
        endpoint=job.endpoint,
        request_count=job.request_count,
        counts=job.counts,
        usage=job.usage,
        cost=cost,
        metadata=dict(job.metadata),
        webhook_url=job.webhook_url,
        created_at=job.created_at,
        finished_at=job.finished_at,
        results_url=results_url,
        # A stable address for subscribers in the account (the presigned URL expires).
        results_s3_uri=f"s3://{get_settings().bucket_name}/{job.results_key}" if job.results_key else None,
        error=job.error,
    )


def build_job_event(job: Job, *, results_url: str | None, cost: CostOut | None) -> JobEvent:
    """The event for the job's final state; same id and timestamp however often it is built."""
    if not job.is_final:
        raise ValueError(f"job {job.job_id} is {job.status}: events are built for final states only")
    status = str(job.status)
    return JobEvent(
        id=event_id_for(job.job_id, status),
        type=f"job.{status}",  # type: ignore[arg-type]  # validated by the Literal
        timestamp=job.finished_at or job.updated_at or now_iso(),
        data=job_summary(job, results_url=results_url, cost=cost),
    )
