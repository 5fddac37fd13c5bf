"""Drive the lifecycle in tests: drain moto's queues into the handlers with Lambda's SQS
event shape and partial-failure semantics, and run the poller on a virtual clock until
the job is final. Every loop is bounded."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from batchrelay import constants as c
from batchrelay.aws import clients
from batchrelay.lifecycle.poller import run_poll
from batchrelay.models.job import Job
from batchrelay.store import job_store


class VirtualClock:
    """Real time plus an offset that tests push forward: never behind the real clock."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class LambdaContextStub:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    remaining_ms: int = 300_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    "ApproximateReceiveCount": m.get("Attributes", {}).get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": str(int(time.time() * 1000)),
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
                },
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


class Driver:
    def __init__(self, env: dict[str, str], clock: VirtualClock | None = None, *, duplicate: bool = False):
        self.env = env
        self.clock = clock or VirtualClock()
        self.duplicate = duplicate          # hand every message to its handler twice
        self.handled: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()   # messages delivered, by their "kind"
        self._delivered_last = False
        self.failures: Counter[str] = Counter()
        self.poll_summaries: list[dict[str, Any]] = []

    def queue_url(self, queue: str) -> str:
        return {c.JOBS_QUEUE: self.env[c.ENV_JOBS_QUEUE_URL], c.COLLECT_QUEUE: self.env[c.ENV_COLLECT_QUEUE_URL],
                c.WEBHOOKS_QUEUE: self.env[c.ENV_WEBHOOKS_QUEUE_URL]}[queue]

    def _handler(self, queue: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        if queue == c.JOBS_QUEUE:
            from handlers.submitter import handler
        else:
            from handlers.collector import handler
        return handler

    def drain(self, queue: str, *, max_messages: int = 500) -> int:
        """Deliver messages one per event (the stack's batch size is 1) until the queue is empty."""
        sqs = clients.sqs()
        url = self.queue_url(queue)
        arn = f"arn:aws:sqs:us-east-1:123456789012:{url.rsplit('/', 1)[-1]}"
        handler = self._handler(queue)
        delivered = 0
        while delivered < max_messages:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0,
                                           AttributeNames=["All"]).get("Messages", [])
            if not messages:
                self._delivered_last = delivered > 0
                return delivered
            message = messages[0]
            delivered += 1
            self.kinds[str(orjson.loads(message["Body"]).get("kind"))] += 1
            rounds = 2 if self.duplicate else 1
            failed = False
            for _ in range(rounds):
                try:
                    response = handler(sqs_event([message], arn), LambdaContextStub())
                    failed = bool(response.get("batchItemFailures"))
                except BatchProcessingError:
                    failed = True   # every record failed: Lambda retries the whole batch
            self.handled[queue] += 1
            if failed:
                self.failures[queue] += 1
                # Lambda leaves a failed record on the queue; make it visible again at once.
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
                                              VisibilityTimeout=0)
            else:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        self._delivered_last = True
        raise AssertionError(f"{queue} did not drain within {max_messages} deliveries")

    def deliver_one(self, queue: str) -> bool:
        """Deliver the next message of a queue, if there is one (False: the queue is empty)."""
        try:
            self.drain(queue, max_messages=1)
        except AssertionError:
            pass  # more messages wait: drain() stops after one
        return self._delivered_last

    def poll(self, advance_s: float = 0.0) -> dict[str, Any]:
        self.clock.advance(advance_s)
        summary = run_poll(now=self.clock(), deadline=time.time() + 30)
        self.poll_summaries.append(summary)
        return summary

    def run_until_final(self, job_id: str, *, max_rounds: int = 60, step_s: float = 120.0,
                        before_poll: Callable[[int], None] | None = None) -> Job:
        for round_no in range(max_rounds):
            self.drain(c.JOBS_QUEUE)
            self.drain(c.COLLECT_QUEUE)
            job = job_store.get_job(job_id)
            if job.is_final and job.event_published:
                return job
            if before_poll:
                before_poll(round_no)
            self.poll(step_s)
        raise AssertionError(f"job {job_id} not final after {max_rounds} rounds: {job_store.get_job(job_id)}")

    def published_events(self) -> list[dict[str, Any]]:
        """Events SNS delivered to the webhooks queue (raw delivery)."""
        sqs = clients.sqs()
        events = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url(c.WEBHOOKS_QUEUE), MaxNumberOfMessages=10,
                                           WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append(orjson.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url(c.WEBHOOKS_QUEUE), ReceiptHandle=message["ReceiptHandle"])
