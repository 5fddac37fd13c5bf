"""The tenant behind a request: the id of the API key API Gateway accepted."""

from __future__ import annotations

from typing import Any

from batchrelay.errors import BatchRelayError


class Unauthenticated(BatchRelayError):
    code = "unauthenticated"
    http_status = 401


def tenant_id_of(event: Any) -> str:
    """API Gateway puts the accepted key's id in requestContext.identity.apiKeyId."""
    identity = (event.get("requestContext") or {}).get("identity") or {}
    tenant = identity.get("apiKeyId")
    if not tenant:
        raise Unauthenticated("this route needs an API key (x-api-key header)")
    return str(tenant)
