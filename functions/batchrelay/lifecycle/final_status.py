"""The job's final status from its request counts."""

from __future__ import annotations

from batchrelay.models.job import JobStatus, RequestCounts


def final_status(counts: RequestCounts, *, cancel_requested: bool) -> JobStatus:
    if cancel_requested:
        return JobStatus.CANCELLED
    if counts.total and counts.succeeded == counts.total:
        return JobStatus.COMPLETED
    if counts.succeeded == 0 and counts.total and counts.expired == counts.total:
        return JobStatus.EXPIRED
    if counts.succeeded == 0:
        return JobStatus.FAILED
    return JobStatus.COMPLETED_WITH_ERRORS
