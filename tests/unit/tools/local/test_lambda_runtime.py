"""The local Lambda runtime: SQS event shape, partial batch failures, retries and redrive."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from batchrelay import constants as c
from batchrelay_tools.local.lambda_runtime import (
    LambdaRuntime,
    build_sqs_event,
    failed_message_ids,
    queue_sources,
)
from batchrelay_tools.local.resources import queue_urls


class StandIn:
    """A consumer that fails the records whose body is in ``fail`` (or raises)."""

    def __init__(self, fail=(), raise_error=False):
        self.fail = set(fail)
        self.raise_error = raise_error
        self.events = []

    def __call__(self, function, event, context):
        self.events.append((function, event))
        if self.raise_error:
            raise RuntimeError("boom")
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]
                                      if r["body"] in self.fail]}


@pytest.fixture
def runtime_for(aws):
    sqs = boto3.client("sqs")
    sources = {s.queue: s for s in queue_sources(sqs, queue_urls(aws))}

    def make(invoke, retry_seconds=0.0):
        return sqs, sources, LambdaRuntime(sqs, list(sources.values()), invoke, retry_seconds=retry_seconds)

    return make


def _receive_all(runtime, source, rounds=3):
    for _ in range(rounds):
        runtime.poll_once(source)


def test_sqs_event_shape():
    message = {
        "MessageId": "m1", "ReceiptHandle": "rh", "Body": "{}", "MD5OfBody": "x",
        "Attributes": {"ApproximateReceiveCount": "1"},
        "MessageAttributes": {"event_type": {"DataType": "String", "StringValue": "job.completed"}},
    }
    record = build_sqs_event([message], "arn:aws:sqs:us-east-1:1:q", "us-east-1")["Records"][0]
    assert record["messageId"] == "m1" and record["receiptHandle"] == "rh"
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == "arn:aws:sqs:us-east-1:1:q"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["event_type"]["stringValue"] == "job.completed"
    assert record["messageAttributes"]["event_type"]["dataType"] == "String"


def test_failed_ids_from_partial_batch_response():
    records = [{"messageId": "a"}, {"messageId": "b"}]
    assert failed_message_ids({"batchItemFailures": []}, records) == set()
    assert failed_message_ids(None, records) == set()
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, records) == {"b"}
    # An identifier Lambda cannot match fails the whole batch.
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, records) == {"a", "b"}


def test_consumers_and_batch_sizes_come_from_the_constants(runtime_for):
    _, sources, _ = runtime_for(StandIn())
    assert {q: s.function for q, s in sources.items()} == c.QUEUE_CONSUMERS
    assert {q: s.batch_size for q, s in sources.items()} == c.QUEUE_BATCH_SIZES


def test_partial_failure_deletes_the_rest_and_retries_the_failed(runtime_for, monkeypatch):
    # Given three webhook messages, one of which the consumer fails once
    # (the queue's own minimum retry delay, the webhook claim lease, is set aside here)
    from batchrelay_tools.local import lambda_runtime

    monkeypatch.setattr(lambda_runtime, "min_retry_seconds", lambda queue: 0)
    invoke = StandIn(fail={"bad"})
    sqs, sources, runtime = runtime_for(invoke)
    webhooks = sources[c.WEBHOOKS_QUEUE]
    for body in ("ok1", "bad", "ok2"):
        sqs.send_message(QueueUrl=webhooks.url, MessageBody=body)
    # When the runtime drains the queue
    _receive_all(runtime, webhooks)
    # Then only the failed record is still on the queue, and it came back for a retry
    delivered = [r["body"] for _, e in invoke.events for r in e["Records"]]
    assert delivered.count("ok1") == 1 and delivered.count("ok2") == 1
    assert delivered.count("bad") >= 2
    invoke.fail.clear()
    _receive_all(runtime, webhooks)
    attrs = sqs.get_queue_attributes(QueueUrl=webhooks.url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_failed_record_waits_out_the_retry_delay(runtime_for):
    invoke = StandIn(fail={"bad"})
    sqs, sources, runtime = runtime_for(invoke, retry_seconds=2)
    jobs = sources[c.JOBS_QUEUE]
    sqs.send_message(QueueUrl=jobs.url, MessageBody="bad")
    assert runtime.poll_once(jobs) == 1
    assert runtime.poll_once(jobs) == 0          # invisible for the retry delay
    time.sleep(2.2)
    assert runtime.poll_once(jobs) == 1


def test_exception_fails_the_batch_and_redrive_moves_it_to_the_dlq(runtime_for):
    # Given a consumer that always raises
    invoke = StandIn(raise_error=True)
    sqs, sources, runtime = runtime_for(invoke)
    collect = sources[c.COLLECT_QUEUE]
    sqs.send_message(QueueUrl=collect.url, MessageBody=json.dumps({"job_id": "j"}))
    # When it is received more than maxReceiveCount times
    _receive_all(runtime, collect, rounds=c.MAX_RECEIVE_COUNT + 2)
    # Then the message was tried maxReceiveCount times and sits in the DLQ
    assert len(invoke.events) == c.MAX_RECEIVE_COUNT
    dlq_url = collect.url + "-dlq"
    moved = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in moved] == [json.dumps({"job_id": "j"})]
    assert runtime.stats[c.FUNCTION_COLLECTOR].errors == c.MAX_RECEIVE_COUNT


def test_schedule_fires_the_poller_with_a_scheduled_event(runtime_for):
    invoke = StandIn()
    _, _, runtime = runtime_for(invoke)
    runtime.fire_schedule()
    function, event = invoke.events[0]
    assert function == c.FUNCTION_POLLER
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"


def test_threads_start_and_stop(runtime_for):
    invoke = StandIn()
    sqs, sources, _ = runtime_for(invoke)
    runtime = LambdaRuntime(sqs, list(sources.values()), invoke, poll_seconds=0.1, concurrency=1)
    runtime.start()
    sqs.send_message(QueueUrl=sources[c.JOBS_QUEUE].url, MessageBody="x")
    deadline = time.time() + 5
    seen = set()
    while time.time() < deadline and seen != {c.FUNCTION_SUBMITTER, c.FUNCTION_POLLER}:
        seen = {f for f, _ in invoke.events}
        time.sleep(0.05)
    runtime.stop(timeout=5)
    assert any(f == c.FUNCTION_SUBMITTER for f, _ in invoke.events)
    assert any(f == c.FUNCTION_POLLER for f, _ in invoke.events)
    assert not any(t.is_alive() for t in runtime._threads)


def test_webhook_retries_wait_out_the_attempt_claim():
    # Deployed, the visibility timeout (minutes) outlasts a delivery attempt's claim;
    # locally a retry must not come back while the claim still holds.
    from batchrelay.webhooks.attempts import CLAIM_LEASE_SECONDS
    from batchrelay_tools.local.lambda_runtime import min_retry_seconds

    assert min_retry_seconds(c.WEBHOOKS_QUEUE) > CLAIM_LEASE_SECONDS
    assert min_retry_seconds(c.JOBS_QUEUE) == 0
