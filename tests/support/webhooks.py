"""A real HTTP receiver on loopback that verifies signatures, a fake clock that moves the
scheduler and moto's queue delays together, and a driver that drains the `webhooks` queue
into the real `webhook` handler."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from batchrelay.models.job import Job, JobStatus, RequestCounts
from tests.support.api_client import call_api
from tests.support.lambda_events import FakeLambdaContext


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: Any = None      # the parsed event when the signature verified
    error: str | None = None  # why it did not


class Receiver:
    """Answers POSTs per path from a script of replies and verifies each with its secret."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.scripts: dict[str, list[Reply]] = {}
        self.default = Reply()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                receiver._record(self.path, dict(self.headers.items()), body)
                reply = receiver._next_reply(self.path)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next POSTs to ``path`` with these replies, then with the last one forever."""
        self.scripts[path] = list(replies)

    def _next_reply(self, path: str) -> Reply:
        with self.lock:
            replies = self.scripts.get(path)
            if not replies:
                return self.default
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> None:
        entry = Received(path, headers, body)
        secret = self.secrets.get(path)
        if secret:
            try:
                entry.verified = Webhook(secret).verify(body, headers)
            except WebhookVerificationError as exc:
                entry.error = str(exc)
        with self.lock:
            self.received.append(entry)

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def advance(self, seconds: float) -> None:
        self.now += seconds


class QueueDriver:
    """Plays Lambda's part for the `webhooks` queue: receive, invoke, delete what succeeded."""

    def __init__(self, env: dict[str, str], remaining_ms: int = 60_000) -> None:
        self.url = env["WEBHOOKS_QUEUE_URL"]
        self.sqs = boto3.client("sqs")
        self.remaining_ms = remaining_ms
        self.invocations = 0

    def drain(self, *, remaining_ms: int | None = None, rounds: int = 1000) -> int:
        """Handle every visible message until none is left; returns how many were handled."""
        from handlers.webhook import handler

        handled = 0
        for _ in range(rounds):
            out = self.sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
            )
            messages = out.get("Messages", [])
            if not messages:
                return handled
            event = {
                "Records": [
                    {
                        "messageId": m["MessageId"],
                        "receiptHandle": m["ReceiptHandle"],
                        "body": m["Body"],
                        "attributes": m.get("Attributes", {}),
                        "messageAttributes": {},
                        "md5OfBody": m["MD5OfBody"],
                        "eventSource": "aws:sqs",
                        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:test-webhooks",
                        "awsRegion": "us-east-1",
                    }
                    for m in messages
                ]
            }
            self.invocations += 1
            try:
                answer = handler(event, FakeLambdaContext(remaining_ms or self.remaining_ms))
                failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
            except BatchProcessingError:  # every record failed: Lambda returns them all
                failed = {m["MessageId"] for m in messages}
            for m in messages:
                if m["MessageId"] not in failed:
                    self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
            handled += len(messages)
            if failed:
                return handled
        return handled

    def pending(self) -> int:
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["All"])["Attributes"]
        return sum(
            int(attrs[k])
            for k in (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesDelayed",
                "ApproximateNumberOfMessagesNotVisible",
            )
        )

    def run_until_quiet(self, clock: FakeClock, *, step: float = 60.0, max_seconds: float = 40 * 3600) -> float:
        """Drain, then step the clock, until no message is left; returns the simulated seconds."""
        elapsed = 0.0
        self.drain()
        while self.pending() and elapsed < max_seconds:
            clock.advance(step)
            elapsed += step
            self.drain()
        return elapsed


def make_job(tenant_id: str = "tenant-a", *, job_id: str = "job_01", webhook_url: str | None = None,
             status: JobStatus = JobStatus.COMPLETED) -> Job:
    return Job(
        job_id=job_id,
        tenant_id=tenant_id,
        status=status,
        provider="openai",
        endpoint="/v1/chat/completions",
        request_count=2,
        input_key=f"inputs/{tenant_id}/{job_id}/input.jsonl",
        created_at="2025-01-01T00:00:00.000Z",
        updated_at="2025-01-01T00:10:00.000Z",
        finished_at="2025-01-01T00:10:00.000Z",
        chunk_size=5000,
        max_attempts=3,
        webhook_url=webhook_url,
        counts=RequestCounts(succeeded=2),
    )


def store_job(job: Job) -> Job:
    from batchrelay.store import job_store

    return job_store.create_job(job)


def publish_final_event(job: Job) -> str:
    """What the finalizer does: build the event and publish it (SNS -> webhooks queue)."""
    from batchrelay.notifications.events import build_job_event
    from batchrelay.notifications.publisher import publish_job_event

    return publish_job_event(build_job_event(job, results_url="https://results.example/x", cost=None))


def register(receiver: Receiver, path: str, event_types: list[str] | None = None, *, tenant: str = "tenant-a") -> dict:
    """Register ``receiver.url(path)`` through the API and teach the receiver its secret."""
    body: dict[str, Any] = {"url": receiver.url(path)}
    if event_types is not None:
        body["event_types"] = event_types
    answer = call_api("POST", "/v1/webhook-endpoints", body, tenant=tenant)
    assert answer.status == 201, answer.body
    receiver.secrets[path] = answer.body["secret"]
    return answer.body


