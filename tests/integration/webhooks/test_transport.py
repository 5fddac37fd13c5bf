"""The HTTP attempt on loopback: pinned address, Host and SNI from the URL, no redirects,
capped body, bounded time."""

from __future__ import annotations

import socket
import ssl
import threading
import time

import pytest

from batchrelay.webhooks import attempts, ssrf, transport
from batchrelay.webhooks.signing import new_secret
from tests.support.webhooks import Reply


def resolver(*answers: str):
    """A DNS stub answering each call with the next address (the last one repeats)."""
    calls: list[str] = []

    def resolve(host, port, *args):
        calls.append(host)
        address = answers[min(len(calls), len(answers)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    resolve.calls = calls
    return resolve


def test_connects_to_the_checked_address_with_the_urls_host_header(receiver):
    target = ssrf.resolve_target(
        f"http://hooks.example.test:{receiver.port}/in?x=1",
        resolver=resolver("127.0.0.1"),
        allow_http=True,
        allow_loopback=True,
    )
    outcome = transport.post(target, b"{}", {"webhook-id": "m1"})
    assert outcome.ok and outcome.status_code == 200
    [got] = receiver.at("/in?x=1")
    assert got.headers["Host"] == f"hooks.example.test:{receiver.port}"
    assert got.headers["webhook-id"] == "m1"


def test_dns_is_resolved_once_so_rebinding_cannot_redirect_the_connection(receiver, monkeypatch, webhook_env):
    # Given DNS that answers loopback (allowed here) first and a private address afterwards
    dns = resolver("127.0.0.1", "10.0.0.1")
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    # When an attempt is made
    result = attempts.send_signed(f"http://rebind.example.test:{receiver.port}/r", new_secret(), "m1", "{}")
    # Then the name was resolved once and the checked address received the request
    assert result.ok
    assert dns.calls == ["rebind.example.test"]
    assert len(receiver.at("/r")) == 1


def test_redirects_are_not_followed(receiver):
    receiver.script("/from", Reply(302, headers={"Location": receiver.url("/to")}))
    target = ssrf.resolve_target(receiver.url("/from"), allow_http=True, allow_loopback=True)
    outcome = transport.post(target, b"{}", {})
    assert not outcome.ok and outcome.status_code == 302 and "redirect" in outcome.error
    assert receiver.at("/to") == []


def test_a_large_answer_is_read_only_up_to_the_cap(receiver):
    receiver.script("/big", Reply(200, body=b"x" * (8 * 1024 * 1024)))
    target = ssrf.resolve_target(receiver.url("/big"), allow_http=True, allow_loopback=True)
    started = time.monotonic()
    outcome = transport.post(target, b"{}", {})
    assert outcome.ok
    assert len(outcome.body_excerpt) == transport.EXCERPT_CHARS
    assert time.monotonic() - started < 2


@pytest.fixture
def trickler():
    """A server that sends its status line, then one header byte every 50 ms, forever."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                try:
                    conn.sendall(b"HTTP/1.1 200 OK\r\n")
                    while not stop.is_set():
                        conn.sendall(b"X")
                        time.sleep(0.05)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    server.close()


def test_a_trickling_receiver_cannot_hold_the_attempt_past_its_budget(trickler):
    target = ssrf.resolve_target(f"http://127.0.0.1:{trickler}/", allow_http=True, allow_loopback=True)
    started = time.monotonic()
    outcome = transport.post(target, b"{}", {}, budget=0.5)
    assert time.monotonic() - started < 1.5
    assert not outcome.ok and outcome.status_code is None and "timed out" in outcome.error


def test_https_connects_to_the_pinned_address_and_verifies_tls_against_the_host_name(monkeypatch):
    # Given a checked public target, and stand-ins for the socket and the TLS context
    seen: dict[str, object] = {}

    class FakeSocket:
        def shutdown(self, *args):
            pass

        def close(self):
            pass

    def fake_connect(address, port, timeout):
        seen["address"] = (address, port)
        return FakeSocket()

    class FakeContext:
        verify_mode = ssl.CERT_REQUIRED
        check_hostname = True
        post_handshake_auth = None

        def wrap_socket(self, sock, server_hostname=None):
            seen["server_hostname"] = server_hostname
            raise ssl.SSLCertVerificationError("certificate verify failed: hostname mismatch")

    monkeypatch.setattr(transport, "_open_socket", fake_connect)
    target = ssrf.resolve_target("https://hooks.example.com/in", resolver=resolver("93.184.216.34"))
    # When the attempt is made
    outcome = transport.post(target, b"{}", {}, ssl_context=FakeContext())
    # Then the socket went to the checked address while TLS used the URL's name (SNI + verification)
    assert seen == {"address": ("93.184.216.34", 443), "server_hostname": "hooks.example.com"}
    assert not outcome.ok and "certificate" in outcome.error
