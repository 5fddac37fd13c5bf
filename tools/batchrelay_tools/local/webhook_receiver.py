"""A webhook receiver on loopback that keeps what it gets and verifies it with standardwebhooks."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

from batchrelay_tools.local.background_server import BackgroundServer


@dataclass
class ReceivedWebhook:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def job_id(self) -> str | None:
        """The job a job.* event is about (None for test events)."""
        return (self.event.get("data") or {}).get("job_id")

    def verify(self, secret: str) -> dict[str, Any]:
        """The verified payload; raises standardwebhooks.WebhookVerificationError otherwise."""
        return Webhook(secret).verify(self.body, self.headers)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        received = ReceivedWebhook(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        with self.server.cond:
            self.server.received.append(received)
            self.server.cond.notify_all()
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.received: list[ReceivedWebhook] = []
        self.cond = threading.Condition()


class WebhookReceiver(BackgroundServer):
    """``with WebhookReceiver() as hooks: ... hooks.wait_for(predicate, timeout)``"""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._receiving = _Server((host, port))
        super().__init__(self._receiving, name="webhook-receiver")

    @property
    def url(self) -> str:
        return f"{self.base_url}/hooks"

    @property
    def received(self) -> list[ReceivedWebhook]:
        with self._receiving.cond:
            return list(self._receiving.received)

    def job_events(self) -> list[ReceivedWebhook]:
        return [r for r in self.received if str(r.event.get("type", "")).startswith("job.")]

    def wait_for_jobs(self, job_ids: set[str], timeout: float) -> bool:
        """Wait until an event about each of these jobs has arrived."""
        return self.wait_for(lambda got: job_ids <= {r.job_id for r in got}, timeout)

    def wait_for(self, predicate: Any, timeout: float) -> bool:
        """Wait until ``predicate(received)`` holds (or the timeout passes)."""
        deadline = time.monotonic() + timeout
        with self._receiving.cond:
            while not predicate(list(self._receiving.received)):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._receiving.cond.wait(left)
        return True
