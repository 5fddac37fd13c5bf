"""The job event: the SNS message body and the webhook body are this same JSON."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

EventType = Literal[
    "job.completed",
    "job.completed_with_errors",
    "job.failed",
    "job.cancelled",
    "job.expired",
    "webhook.test",
]


class JobEvent(BaseModel):
    id: str               # stable per (job, final status): receivers deduplicate on it
    type: EventType
    timestamp: str        # ISO 8601, UTC
    data: dict[str, Any]  # job summary, counts, usage, cost, results_url

    def message_attributes(self) -> dict[str, dict[str, str]]:
        """SNS message attributes subscribers filter on."""
        return {
            "event_type": {"DataType": "String", "StringValue": self.type},
            "tenant_id": {"DataType": "String", "StringValue": str(self.data.get("tenant_id", ""))},
            "provider": {"DataType": "String", "StringValue": str(self.data.get("provider", ""))},
            "status": {"DataType": "String", "StringValue": str(self.data.get("status", ""))},
        }
