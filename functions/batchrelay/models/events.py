"""The job event: the SNS message body and the webhook body are this same JSON.

Its JSON Schema is published with the API (``GET /v1/schemas/job-event.json`` and the
``webhooks`` section of ``GET /v1/openapi.json``). Receivers deduplicate on ``id``.
Fields are only ever added (with defaults); unknown ones are ignored when read, so events
of the previous version still waiting in the webhooks queue are read after an upgrade.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from batchrelay.jsonl import escape_line_breaks_text
from batchrelay.models.api import CostOut
from batchrelay.models.base import Model
from batchrelay.models.job import RequestCounts, Usage

JobEventType = Literal[
    "job.completed",
    "job.completed_with_errors",
    "job.failed",
    "job.cancelled",
    "job.expired",
]
EventType = Literal[JobEventType, "webhook.test"]


class _EventModel(Model):
    model_config = ConfigDict(extra="ignore")


class JobEventData(_EventModel):
    """The job as it ended: what it was, what came of each request, what it cost, where the results are."""

    job_id: str
    tenant_id: str
    status: str = Field(description="the job's final status (events are sent for final states only)")
    provider: str
    endpoint: str
    request_count: int
    counts: RequestCounts
    usage: Usage
    cost: CostOut | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    webhook_url: str | None = None
    created_at: str
    finished_at: str | None = None
    results_url: str | None = Field(default=None, description="presigned; expires (GET /v1/jobs/{id}/results renews)")
    results_s3_uri: str | None = Field(default=None, description="stable s3:// address of results.jsonl")
    error: dict[str, Any] | None = Field(
        default=None,
        description="why the job failed without running (its upload did not pass validation): code, message, "
        "field and line; it then has no results",
    )


class TestEventData(_EventModel):
    """The body of ``webhook.test`` (POST /v1/webhook-endpoints/{id}/test)."""

    tenant_id: str
    endpoint_id: str
    message: str


class JobEvent(_EventModel):
    id: str = Field(description="stable per (job, final status): evt_<job_id>_<status>; deduplicate on it")
    type: EventType
    timestamp: str = Field(description="ISO 8601, UTC")
    data: JobEventData | TestEventData

    @property
    def tenant_id(self) -> str:
        return self.data.tenant_id

    @property
    def job_id(self) -> str | None:
        return self.data.job_id if isinstance(self.data, JobEventData) else None

    def wire_json(self) -> str:
        """The event as sent (SNS message, webhook body): U+2028/U+2029/U+0085 escaped, so a
        receiver that splits text into lines still sees one JSON document."""
        return escape_line_breaks_text(self.model_dump_json())

    def message_attributes(self) -> dict[str, dict[str, str]]:
        """SNS message attributes subscribers filter on (``error_code`` only for a job that
        failed without running, e.g. its upload did not pass validation)."""
        job = self.data if isinstance(self.data, JobEventData) else None
        attributes = {
            "event_type": {"DataType": "String", "StringValue": self.type},
            "tenant_id": {"DataType": "String", "StringValue": self.data.tenant_id},
            "provider": {"DataType": "String", "StringValue": job.provider if job else ""},
            "status": {"DataType": "String", "StringValue": job.status if job else ""},
        }
        if job and job.error and job.error.get("code"):
            attributes["error_code"] = {"DataType": "String", "StringValue": str(job.error["code"])}
        return attributes
