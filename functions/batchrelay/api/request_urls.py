"""The API's own address as the client called it, for absolute links in answers."""

from __future__ import annotations

from typing import Any


def public_base_url(event: dict[str, Any]) -> str:
    """``<scheme>://<host><stage or base path>``: what precedes the route's path in the URL
    the client used. API Gateway's ``requestContext.path`` is that path with the stage (or a
    custom domain's base path) in front of the route's ``path``; ``Host`` and
    ``X-Forwarded-Proto`` name the rest (local mode sets them as API Gateway does)."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    context = event.get("requestContext") or {}
    host = headers.get("host") or context.get("domainName") or "localhost"
    scheme = (headers.get("x-forwarded-proto") or "https").split(",")[0].strip()
    route_path = event.get("path") or ""
    called_path = context.get("path") or route_path
    prefix = called_path[: -len(route_path)] if route_path and called_path.endswith(route_path) else ""
    return f"{scheme}://{host}{prefix.rstrip('/')}"
