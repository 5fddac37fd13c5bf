"""The job event's types (SNS message and webhook body)."""

from __future__ import annotations

EVENT_TYPES = (
    "job.completed",
    "job.completed_with_errors",
    "job.failed",
    "job.cancelled",
    "job.expired",
)
TEST_EVENT_TYPE = "webhook.test"
