"""One HTTP POST to a checked target: pinned address, bounded time, capped body, no redirects.

http.client never follows redirects. The connection goes to ``Target.address`` (the
address the SSRF guard checked), while the Host header and TLS (SNI and certificate
verification) use the URL's host name. A watchdog closes the socket when the time budget
is spent, so a receiver that trickles bytes cannot hold the function past it.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from batchrelay.webhooks.ssrf import Target

ATTEMPT_BUDGET_SECONDS = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
EXCERPT_CHARS = 512
USER_AGENT = "batchrelay-webhooks/1"


@dataclass(frozen=True)
class HttpOutcome:
    status_code: int | None
    duration_ms: int
    error: str | None = None
    retry_after: str | None = None
    body_excerpt: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300 and self.error is None


def _open_socket(address: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to exactly this IP address (no name resolution of any kind)."""
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.connect((address, port))
    except BaseException:
        sock.close()
        raise
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = _open_socket(self._address, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float, context: ssl.SSLContext):
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._address = target.address
        self._ssl_context = context

    def connect(self) -> None:
        sock = _open_socket(self._address, self.port, self.timeout)
        self.sock = sock  # visible to the watchdog during the handshake
        # server_hostname gives SNI and makes the context check the certificate against the name.
        self.sock = self._ssl_context.wrap_socket(sock, server_hostname=self.host)


def _connection(target: Target, timeout: float, context: ssl.SSLContext | None) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPSConnection(target, timeout, context or ssl.create_default_context())
    return _PinnedHTTPConnection(target, timeout)


def _read_capped(response: http.client.HTTPResponse, max_body: int, deadline: float) -> str | None:
    """Read at most ``max_body`` bytes before the deadline; the rest is never read."""
    chunks: list[bytes] = []
    size = 0
    try:
        while size < max_body and time.monotonic() < deadline:
            block = response.read1(min(16 * 1024, max_body - size))
            if not block:
                break
            chunks.append(block)
            size += len(block)
    except (OSError, http.client.HTTPException):
        pass  # the status line is what counts; a body cut short is no failure
    return b"".join(chunks)[:EXCERPT_CHARS].decode("utf-8", "replace") or None


def post(
    target: Target,
    body: bytes,
    headers: dict[str, str],
    *,
    budget: float | None = None,
    max_body: int | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> HttpOutcome:
    """POST ``body``; never raises for network trouble (it comes back as ``error``)."""
    budget = ATTEMPT_BUDGET_SECONDS if budget is None else budget
    max_body = MAX_RESPONSE_BYTES if max_body is None else max_body
    started = time.monotonic()
    deadline = started + budget
    conn = _connection(target, budget, ssl_context)
    expired = threading.Event()

    def _abort() -> None:
        expired.set()
        sock = conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    watchdog = threading.Timer(budget, _abort)
    watchdog.daemon = True
    watchdog.start()

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        conn.request(
            "POST",
            target.path,
            body=body,
            headers={
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                **headers,
            },
        )
        response = conn.getresponse()
        status = response.status
        answered_in_time = not expired.is_set()
        excerpt = _read_capped(response, max_body, deadline)
        error = None
        if not answered_in_time:
            error = f"timed out after {budget:g} s"
        elif 300 <= status < 400:
            error = f"redirect to {response.getheader('location', '?')} not followed"
        return HttpOutcome(
            status_code=status if answered_in_time else None,
            duration_ms=elapsed_ms(),
            error=error,
            retry_after=response.getheader("retry-after"),
            body_excerpt=excerpt,
        )
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if expired.is_set() or isinstance(exc, TimeoutError | socket.timeout):
            return HttpOutcome(status_code=None, duration_ms=elapsed_ms(), error=f"timed out after {budget:g} s")
        return HttpOutcome(status_code=None, duration_ms=elapsed_ms(), error=f"{type(exc).__name__}: {exc}")
    finally:
        watchdog.cancel()
        conn.close()
