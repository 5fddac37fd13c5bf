"""Publishing the job event: SNS delivers the same JSON to the `webhooks` queue, with attributes."""

from __future__ import annotations

import json

import boto3
import pytest

from batchrelay.models.api import CostOut
from batchrelay.notifications.events import build_job_event
from batchrelay.notifications.publisher import publish_job_event
from batchrelay.settings import get_settings
from tests.support.webhooks import make_job


def test_published_event_reaches_the_webhooks_queue_as_the_exact_json(aws):
    # Given a finished job's event
    cost = CostOut(batch="0.10", synchronous="0.20", saved="0.10")
    event = build_job_event(make_job(), results_url="https://results.example/x", cost=cost)
    # When it is published
    message_id = publish_job_event(event)
    # Then SNS answered a message id and the webhooks queue holds the event JSON itself
    assert message_id
    sqs = boto3.client("sqs")
    out = sqs.receive_message(
        QueueUrl=aws["WEBHOOKS_QUEUE_URL"], MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )
    [message] = out["Messages"]
    assert message["Body"] == event.model_dump_json()
    assert json.loads(message["Body"])["id"] == "evt_job_01_completed"
    # And the message attributes subscribers filter on came along
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes == {
        "event_type": "job.completed",
        "tenant_id": "tenant-a",
        "provider": "openai",
        "status": "completed",
    }


def test_a_filter_policy_on_the_attributes_selects_events(aws):
    # Given a subscriber queue that only wants failed jobs of one tenant
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    url = sqs.create_queue(QueueName="failures-only")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=aws["EVENTS_TOPIC_ARN"],
        Protocol="sqs",
        Endpoint=arn,
        Attributes={
            "RawMessageDelivery": "true",
            "FilterPolicy": json.dumps({"event_type": ["job.failed"], "tenant_id": ["tenant-a"]}),
        },
    )
    # When a completed and a failed job publish their events
    from batchrelay.models.job import JobStatus

    publish_job_event(build_job_event(make_job(job_id="job_ok"), results_url=None, cost=None))
    publish_job_event(build_job_event(make_job(job_id="job_bad", status=JobStatus.FAILED), results_url=None, cost=None))
    # Then the subscriber got only the failure
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert [b["id"] for b in bodies] == ["evt_job_bad_failed"]


def test_a_publish_failure_propagates_so_finalizing_is_retried(aws, monkeypatch):
    monkeypatch.setenv("EVENTS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:missing")
    get_settings.cache_clear()
    with pytest.raises(Exception, match=r"NotFound|does not exist"):
        publish_job_event(build_job_event(make_job(), results_url=None, cost=None))
