"""Simulated providers beyond the built-in OpenAI and Anthropic: one module each.

A provider's simulator module (``simulator/providers/<name>.py``) builds a ``SimulatedProvider``
and calls ``register``: the HTTP server then serves its routes under its path ``prefix`` (the
registry entry's ``simulator_path`` points the provider's SDK there), answers its errors in
its own shape, and keeps its state beside the built-in providers' (``Simulator.extensions``,
sharing the clock, the settings and the ledger of batches created and requests billed).

A route handler is ``handler(request, state, body, **path_groups)``: ``request`` is the HTTP
handler (``request.send_json(status, obj)``, ``request.query``, ``request.headers``,
``request.json_body(body)``, ``request.send_download(payload, content_type)``,
``request.base_url()``); raising ``ApiError`` answers an error in the provider's shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[..., None]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]   # matched against the path after the provider's prefix
    name: str                  # in the simulator's call stats: "GET /gemini/v1beta/batches/{id}"
    handler: Handler


@dataclass(frozen=True)
class SimulatedProvider:
    name: str
    prefix: str                                          # e.g. "/gemini"
    routes: tuple[Route, ...]
    make_state: Callable[[Any], Any]                     # (Simulator) -> this provider's state
    # The error body for an ApiError (status, message, code); default: OpenAI's shape.
    error_body: Callable[[int, str, str | None], dict[str, Any]] | None = None
    # Whether a request carries credentials (headers, lower-cased names).
    authorized: Callable[[dict[str, str]], bool] = field(default=lambda headers: True)


PLUGINS: dict[str, SimulatedProvider] = {}


def register(plugin: SimulatedProvider) -> SimulatedProvider:
    PLUGINS[plugin.name] = plugin
    return plugin


def route(method: str, path: str, handler: Handler, *, prefix: str) -> Route:
    """A route: ``path`` with ``{name}`` placeholders (one path segment each)."""
    pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$")
    return Route(method, pattern, f"{method} {prefix}{path}", handler)


def find(path: str, method: str) -> tuple[SimulatedProvider, Route, dict[str, str]] | None:
    for plugin in PLUGINS.values():
        if not path.startswith(plugin.prefix + "/"):
            continue
        rest = path[len(plugin.prefix):]
        for candidate in plugin.routes:
            match = candidate.pattern.match(rest)
            if match and candidate.method == method:
                return plugin, candidate, match.groupdict()
    return None


def plugin_for(path: str) -> SimulatedProvider | None:
    return next((p for p in PLUGINS.values() if path.startswith(p.prefix + "/")), None)
