"""The job event built from a final job: stable id, the documented shape, filterable attributes."""

from __future__ import annotations

import pytest

from batchrelay.models.api import CostOut
from batchrelay.models.job import Job, JobStatus, RequestCounts, Usage
from batchrelay.notifications.events import build_job_event


def final_job(status: JobStatus = JobStatus.COMPLETED_WITH_ERRORS, **extra) -> Job:
    return Job(
        job_id="job_01",
        tenant_id="tenant-a",
        status=status,
        provider="openai",
        endpoint="/v1/chat/completions",
        request_count=3,
        input_key="inputs/tenant-a/job_01/input.jsonl",
        created_at="2025-01-01T00:00:00.000Z",
        updated_at="2025-01-01T01:00:00.000Z",
        finished_at="2025-01-01T01:00:00.000Z",
        chunk_size=5000,
        max_attempts=3,
        metadata={"team": "search"},
        webhook_url="https://hooks.example.com/job",
        counts=RequestCounts(succeeded=2, errored=1),
        usage=Usage(input_tokens=10, output_tokens=5, total_tokens=15),
        **extra,
    )


def test_event_has_the_documented_shape():
    # Given a finished job
    job = final_job()
    # When its event is built
    cost = CostOut(batch="0.01", synchronous="0.02", saved="0.01")
    event = build_job_event(job, results_url="https://s3.example/results", cost=cost)
    # Then it carries the type, a stable id, the finish time and the job summary
    assert event.id == "evt_job_01_completed_with_errors"
    assert event.type == "job.completed_with_errors"
    assert event.timestamp == "2025-01-01T01:00:00.000Z"
    assert event.data.model_dump() == {
        "job_id": "job_01",
        "tenant_id": "tenant-a",
        "status": "completed_with_errors",
        "provider": "openai",
        "endpoint": "/v1/chat/completions",
        "request_count": 3,
        "counts": {"succeeded": 2, "errored": 1, "expired": 0, "cancelled": 0},
        "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
        "cost": {"currency": "USD", "batch": "0.01", "synchronous": "0.02", "saved": "0.01", "on_demand": None},
        "metadata": {"team": "search"},
        "webhook_url": "https://hooks.example.com/job",
        "created_at": "2025-01-01T00:00:00.000Z",
        "finished_at": "2025-01-01T01:00:00.000Z",
        "results_url": "https://s3.example/results",
        "results_s3_uri": None,
        "error": None,
    }


def test_rebuilding_gives_the_same_id_and_body_so_receivers_can_deduplicate():
    first = build_job_event(final_job(), results_url=None, cost=None)
    again = build_job_event(final_job(), results_url=None, cost=None)
    assert first.model_dump_json() == again.model_dump_json()


@pytest.mark.parametrize("status", ["completed", "completed_with_errors", "failed", "cancelled", "expired"])
def test_message_attributes_for_filter_policies(status):
    event = build_job_event(final_job(JobStatus(status)), results_url=None, cost=None)
    assert event.message_attributes() == {
        "event_type": {"DataType": "String", "StringValue": f"job.{status}"},
        "tenant_id": {"DataType": "String", "StringValue": "tenant-a"},
        "provider": {"DataType": "String", "StringValue": "openai"},
        "status": {"DataType": "String", "StringValue": status},
    }


def test_a_job_failed_by_validation_says_why_and_has_no_results():
    # Given a job whose upload failed validation (it never ran)
    error = {"code": "invalid_request", "message": "body.model must be a non-empty string", "field": "body.model",
             "line": 900_000}
    job = final_job(JobStatus.FAILED, error=error).model_copy(update={"counts": RequestCounts(), "usage": Usage()})
    # When its event is built
    event = build_job_event(job, results_url=None, cost=None)
    # Then it is job.failed with the error, no results links, and an attribute to filter on
    assert event.type == "job.failed" and event.data.error == error
    assert event.data.results_url is None and event.data.results_s3_uri is None
    assert event.message_attributes()["error_code"] == {"DataType": "String", "StringValue": "invalid_request"}


@pytest.mark.parametrize("status", ["validating", "queued", "in_progress"])
def test_no_event_for_a_job_that_is_not_final(status):
    with pytest.raises(ValueError, match="final"):
        build_job_event(final_job(JobStatus(status)), results_url=None, cost=None)
