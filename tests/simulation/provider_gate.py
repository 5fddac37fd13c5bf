"""Every provider SDK call passes here: the official SDKs (openai, anthropic, google-genai: the
Gemini adapter gives it an httpx2 client) send through httpx2's ``HTTPTransport.handle_request``,
which the run wraps. The wrapper makes the call a scheduler checkpoint (latency, crash points)
and injects the provider's faults:

- refused before anything happens: 429, 5xx, 529, 401/403 (a revoked key), connection refused;
- no answer within the SDK's timeout, whether or not the provider did the work;
- ambiguous creates: the provider made the batch, then the answer was lost (500, dropped
  connection, timeout) -- the case batch creation's recovery exists for.

The request itself goes to the provider simulator over loopback; anything else is refused.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable
from typing import Any

import httpx2

from batchrelay_tools.simulator import answers, plugins
from batchrelay_tools.simulator.providers import gemini
from tests.simulation import entry_points as ep
from tests.simulation.faults import SDK_TIMEOUT_S, FaultInjector, ProviderFault
from tests.simulation.scheduler import Scheduler

_ID_SEGMENT = re.compile(r"^(file-|batch_|msgbatch_|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$)")
_LOOPBACK = ("127.0.0.1", "localhost")
# Gemini's paths name versions, models, batches and files: one call name for each route.
_GEMINI_SEGMENTS = (
    (re.compile(r"^/gemini/(upload/)?v[0-9a-z]+/"), r"/gemini/\1{version}/"),
    (re.compile(r"/models/[^/:]+"), "/models/{model}"),
    (re.compile(r"/batches/[^/:]+"), "/batches/{id}"),
    (re.compile(r"/files/[^/:]+"), "/files/{name}"),
)

# Simulated providers (simulator/providers) whose calls are named by their own routes, prefix
# left out, and whose faults answer in their own error shape (the plugin's ``error_body``).
_OWN_ROUTES = frozenset({"mistral"})


def call_name(method: str, path: str) -> tuple[str, str]:
    """("anthropic", "anthropic.GET /v1/messages/batches/{id}") for a request. The OpenAI-shaped
    providers' calls keep their whole path ("groq.POST /groq/openai/v1/batches"); a simulated
    provider named by its own routes (``_OWN_ROUTES``) has its prefix left out
    ("mistral.POST /v1/batch/jobs")."""
    if path.startswith("/gemini/"):
        for pattern, replacement in _GEMINI_SEGMENTS:
            path = pattern.sub(replacement, path)
        return "gemini", f"gemini.{method} {path}"
    provider = ep.provider_of_path(path)
    plugin = plugins.PLUGINS.get(provider) if provider in _OWN_ROUTES else None
    if plugin is not None and path.startswith(plugin.prefix + "/"):
        path = path[len(plugin.prefix):]
    route = "/".join("{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/"))
    return provider, f"{provider}.{method} {route}"


def error_response(provider: str, status: int, request: httpx2.Request) -> httpx2.Response:
    plugin = plugins.PLUGINS.get(provider) if provider in _OWN_ROUTES else None
    if plugin is not None and plugin.error_body is not None:
        body = plugin.error_body(status, "Simulated provider fault.", None)
    elif provider == "anthropic":
        body = answers.anthropic_error_body(status)
    elif provider == "gemini":
        body = gemini.error_body(status, "API key not valid (simulated revocation)." if status == 401
                                 else f"Simulated HTTP {status}.")
    elif status == 401:
        body = {"error": {"message": "Incorrect API key provided (simulated revocation).",
                          "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}
    else:
        body = answers.openai_error_body(status)
    return httpx2.Response(status, headers={"content-type": "application/json"},
                           content=json.dumps(body).encode(), request=request)


class ProviderGate:
    def __init__(self, scheduler: Scheduler, faults: FaultInjector):
        self.scheduler = scheduler
        self.faults = faults
        self.original: Callable[..., httpx2.Response] | None = None
        self.calls = 0

    def install(self) -> None:
        self.original = httpx2.HTTPTransport.handle_request
        self.original_init = httpx2.HTTPTransport.__init__
        gate = self
        original_init = self.original_init

        def handle_request(transport: Any, request: httpx2.Request) -> httpx2.Response:
            return gate.handle(transport, request)

        def init(transport: Any, *args: Any, **kwargs: Any) -> None:
            # POSTs go out as headers then body: without TCP_NODELAY each one waits ~40 ms on
            # loopback for the server's delayed ACK (Nagle). Only speed changes.
            kwargs.setdefault("socket_options", [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
            original_init(transport, *args, **kwargs)

        httpx2.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]
        httpx2.HTTPTransport.__init__ = init  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self.original is not None:
            httpx2.HTTPTransport.handle_request = self.original  # type: ignore[method-assign]
            httpx2.HTTPTransport.__init__ = self.original_init  # type: ignore[method-assign]
            self.original = None

    def handle(self, transport: Any, request: httpx2.Request) -> httpx2.Response:
        if request.url.host not in _LOOPBACK:
            raise httpx2.ConnectError(f"the simulation reaches loopback only, not {request.url.host}", request=request)
        assert self.original is not None
        original = self.original
        provider, name = call_name(request.method, request.url.path)
        self.calls += 1

        def send() -> httpx2.Response:
            return original(transport, request)

        inv = self.scheduler.current()
        if inv is None:   # a child thread of the running invocation (the poller's pool)
            active = self.scheduler.active
            fault = self.faults.pass_through_fault(active.seq if active else 0, provider, name, request.url.path)
            return self._apply(fault, provider, name, request, send, timed=False)
        return self.scheduler.call(
            name, self.faults.latency(name),
            lambda: self._apply(self.faults.provider_fault(provider, name), provider, name, request, send, timed=True),
        )

    def _apply(self, fault: ProviderFault | None, provider: str, name: str, request: httpx2.Request,
               send: Callable[[], httpx2.Response], *, timed: bool) -> httpx2.Response:
        if fault is None:
            return send()
        self.faults.note(f"provider {fault.kind}{'/' + str(fault.status) if fault.status else ''}"
                         f"{' after applying' if fault.applied else ''} {name}")
        if fault.applied:
            response = send()
            response.read()
            response.close()
        if fault.kind == "status":
            return error_response(provider, fault.status, request)
        if fault.kind == "connect":
            raise httpx2.ConnectError("simulated: connection refused", request=request)
        if fault.kind == "lost_answer":
            raise httpx2.RemoteProtocolError("simulated: server disconnected without sending a response",
                                             request=request)
        if timed:
            self.scheduler.sleep(SDK_TIMEOUT_S)
        raise httpx2.ReadTimeout("simulated: the read timed out", request=request)
