"""What the drop-in surfaces share: which provider runs a batch, and a job as a surface's batch."""

from __future__ import annotations

from datetime import UTC, datetime

from batchrelay import constants as c
from batchrelay import registry
from batchrelay.clock import parse_iso
from batchrelay.errors import NotFound, ValidationFailed
from batchrelay.models.job import Job, JobStatus
from batchrelay.store import job_store


class UnknownSurfaceProvider(ValidationFailed):
    code = "invalid_provider"


def choose_provider(
    request_format: str, *, default: str, header: str | None, metadata: dict[str, str] | None = None
) -> str:
    """The provider a surface's batch runs on: ``default``, or a registered provider of the same
    request format named by the x-batchrelay-provider header or the batchrelay_provider metadata."""
    from_metadata = (metadata or {}).get(c.PROVIDER_METADATA_KEY)
    if header and from_metadata and header != from_metadata:
        raise UnknownSurfaceProvider(
            f"the {c.PROVIDER_HEADER} header ({header!r}) and metadata.{c.PROVIDER_METADATA_KEY} "
            f"({from_metadata!r}) name different providers",
            field=c.PROVIDER_HEADER,
        )
    chosen = header or from_metadata
    if not chosen:
        return default
    choices = registry.with_request_format(request_format)
    if chosen not in choices:
        field = c.PROVIDER_HEADER if header else f"metadata.{c.PROVIDER_METADATA_KEY}"
        if chosen in registry.names():
            # A registered provider of another request format (Gemini's GenerateContentRequest,
            # say): its batches take its own request lines, through POST /v1/jobs.
            raise UnknownSurfaceProvider(
                f"provider {chosen!r} does not take this API's request format: submit its requests in its own "
                f"format with POST /v1/jobs; this API runs batches on {', '.join(choices)}",
                field=field,
            )
        raise UnknownSurfaceProvider(
            f"unknown provider {chosen!r} for this API: it runs batches on {', '.join(choices)}", field=field
        )
    return chosen


def surface_job(tenant_id: str, job_id: str, surface: str, *, what: str) -> Job:
    """The tenant's job created through ``surface``; NotFound otherwise (another tenant's, a
    native job, one whose data is being deleted)."""
    try:
        job = job_store.get_job(job_id, tenant_id=tenant_id)
    except NotFound:
        job = None
    if job is None or job.surface != surface or job.status == JobStatus.DELETING:
        raise NotFound(f"No such {what}: {job_id}", field="batch_id")
    return job


def epoch(value: str | None) -> int | None:
    return None if not value else int(parse_iso(value))


def rfc3339(value: str | None) -> str | None:
    """A stored ISO time as RFC 3339 with a ``Z`` (it is already: ``clock.iso``)."""
    if not value:
        return None
    return datetime.fromtimestamp(parse_iso(value), UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
