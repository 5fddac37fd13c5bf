"""Publish a job event to the `job-events` topic with the attributes subscribers filter on."""

from __future__ import annotations

from batchrelay.aws import clients
from batchrelay.models.events import JobEvent
from batchrelay.settings import get_settings


def publish_job_event(event: JobEvent) -> str:
    """Publish the event; returns SNS's MessageId. Errors propagate so finalizing is retried."""
    response = clients.sns().publish(
        TopicArn=get_settings().events_topic_arn,
        Message=event.wire_json(),
        MessageAttributes=event.message_attributes(),
    )
    return str(response["MessageId"])
