"""Lambda's part in local mode: SQS event source mappings and the poller's schedule.

Each queue is drained by a few worker threads (concurrent invocations) into its consumer
with Lambda's SQS event shape. As with ``ReportBatchItemFailures``, records listed in
``batchItemFailures`` stay on the queue and the rest are deleted; an exception fails the
whole batch. A failed record reappears after ``retry_seconds`` (deployed: the queue's
visibility timeout) and, after ``maxReceiveCount`` receives, SQS (the emulator honours the
queue's RedrivePolicy) moves it to the dead-letter queue.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from batchrelay import constants as c
from batchrelay_tools.local.lambda_context import LOCAL_ACCOUNT, context_for

# Not under "batchrelay": that is the Powertools logger (JSON) of the functions.
log = logging.getLogger("local." + __name__.rsplit(".", 1)[-1])

Invoke = Callable[[str, dict[str, Any], Any], Any]
# Long-poll wait per ReceiveMessage; also bounds how long stop() waits for a worker.
RECEIVE_WAIT_SECONDS = 1


def _lambda_message_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """SQS API message attributes -> the camelCase form Lambda puts in the event."""
    out: dict[str, Any] = {}
    for name, value in attributes.items():
        out[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value.get("DataType", "String"),
        }
    return out


def build_sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """Lambda's SQS event for messages as ReceiveMessage returned them."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": dict(m.get("Attributes", {})),
                "messageAttributes": _lambda_message_attributes(m.get("MessageAttributes", {})),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def failed_message_ids(result: Any, records: list[dict[str, Any]]) -> set[str]:
    """Which records to leave on the queue, from a partial batch response."""
    if not isinstance(result, dict) or "batchItemFailures" not in result:
        return set()
    failures = result.get("batchItemFailures") or []
    known = {r["messageId"] for r in records}
    ids = {str(f.get("itemIdentifier", "")) for f in failures if isinstance(f, dict)}
    if not ids <= known:
        # Lambda treats an unknown or empty identifier as a failure of the whole batch.
        return known
    return ids


def build_scheduled_event(rule_name: str, region: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": LOCAL_ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{LOCAL_ACCOUNT}:rule/{rule_name}"],
        "detail": {},
    }


def min_retry_seconds(queue: str) -> float:
    """Deployed, a failed record returns after the queue's visibility timeout (minutes), which
    outlasts a webhook attempt's claim; locally retries come sooner, but never before the
    claim has lapsed, or the retry would find the attempt still claimed and skip it."""
    if queue == c.WEBHOOKS_QUEUE:
        from batchrelay.webhooks.attempts import CLAIM_LEASE_SECONDS

        return CLAIM_LEASE_SECONDS + 1
    return 0


@dataclass
class QueueSource:
    queue: str            # logical name (constants.JOBS_QUEUE ...)
    url: str
    arn: str
    function: str
    batch_size: int


@dataclass
class RuntimeStats:
    invocations: int = 0
    errors: int = 0
    records_failed: int = 0
    records_deleted: int = 0


class LambdaRuntime:
    def __init__(
        self,
        sqs: Any,
        sources: list[QueueSource],
        invoke: Invoke,
        *,
        region: str = "us-east-1",
        poll_seconds: float = 2.0,
        retry_seconds: float = 2.0,
        concurrency: int = 2,
        schedule_function: str | None = c.FUNCTION_POLLER,
    ) -> None:
        self.sqs = sqs
        self.sources = sources
        self.invoke = invoke
        self.region = region
        self.poll_seconds = poll_seconds
        self.retry_seconds = retry_seconds
        self.concurrency = concurrency
        self.schedule_function = schedule_function
        self.stats: dict[str, RuntimeStats] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._reported: set[str] = set()

    # --- lifecycle ---
    def start(self) -> LambdaRuntime:
        for source in self.sources:
            self.stats[source.function] = RuntimeStats()
            for n in range(self.concurrency):
                self._spawn(f"sqs-{source.queue}-{n}", self._drain, source)
        if self.schedule_function:
            self.stats[self.schedule_function] = RuntimeStats()
            self._spawn(f"schedule-{self.schedule_function}", self._schedule)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop receiving; invocations in flight finish (as Lambda lets them)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("still running after stop: %s", ", ".join(alive))

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    # --- SQS event source mapping ---
    def _drain(self, source: QueueSource) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(source, wait_seconds=RECEIVE_WAIT_SECONDS)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("receiving from %s failed", source.queue)
                self._stop.wait(1.0)

    def poll_once(self, source: QueueSource, wait_seconds: int = 0) -> int:
        """Receive one batch and run it through the consumer; returns how many records it had."""
        response = self.sqs.receive_message(
            QueueUrl=source.url,
            MaxNumberOfMessages=source.batch_size,
            WaitTimeSeconds=wait_seconds,
            # Invisible while the function may still run; failures are shortened below.
            VisibilityTimeout=c.FUNCTION_TIMEOUTS.get(source.function, 60),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if messages:
            self.deliver(source, messages)
        return len(messages)

    def deliver(self, source: QueueSource, messages: list[dict[str, Any]]) -> None:
        event = build_sqs_event(messages, source.arn, self.region)
        records = event["Records"]
        stats = self.stats.setdefault(source.function, RuntimeStats())
        with self._lock:
            stats.invocations += 1
        try:
            result = self.invoke(source.function, event, context_for(source.function, self.region))
            failed = failed_message_ids(result, records)
        except Exception as exc:
            self._report(source.function, exc, f"failed on a batch of {len(records)} from {source.queue}")
            with self._lock:
                stats.errors += 1
            failed = {r["messageId"] for r in records}
        done = [r for r in records if r["messageId"] not in failed]
        retry = [r for r in records if r["messageId"] in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=source.url,
                Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(done)],
            )
        if retry:
            delay = int(max(self.retry_seconds, min_retry_seconds(source.queue)))
            self.sqs.change_message_visibility_batch(
                QueueUrl=source.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r["receiptHandle"], "VisibilityTimeout": delay}
                    for i, r in enumerate(retry)
                ],
            )
        with self._lock:
            stats.records_deleted += len(done)
            stats.records_failed += len(retry)

    # --- EventBridge schedule ---
    def _schedule(self) -> None:
        # The first tick comes one period after start, as with a rate() rule.
        while not self._stop.wait(self.poll_seconds):
            self.fire_schedule()

    def fire_schedule(self) -> None:
        assert self.schedule_function
        stats = self.stats.setdefault(self.schedule_function, RuntimeStats())
        event = build_scheduled_event(f"{c.SERVICE_NAME}-{self.schedule_function}-schedule", self.region)
        with self._lock:
            stats.invocations += 1
        try:
            self.invoke(self.schedule_function, event, context_for(self.schedule_function, self.region))
        except Exception as exc:
            with self._lock:
                stats.errors += 1
            self._report(self.schedule_function, exc, "failed")

    def _report(self, function: str, exc: Exception, what: str) -> None:
        # A missing handler is reported once, not on every tick.
        if getattr(exc, "function", None) == function:
            if function not in self._reported:
                self._reported.add(function)
                log.error("%s", exc)
            return
        log.exception("%s %s", function, what)


def queue_sources(sqs: Any, queue_urls: dict[str, str]) -> list[QueueSource]:
    """One event source per consumed queue, from the shared constants."""
    sources = []
    for queue, function in c.QUEUE_CONSUMERS.items():
        url = queue_urls[queue]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sources.append(
            QueueSource(queue=queue, url=url, arn=arn, function=function, batch_size=c.QUEUE_BATCH_SIZES[queue])
        )
    return sources
