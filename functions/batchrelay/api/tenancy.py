"""The tenant behind a request: the id of the API key API Gateway accepted."""

from __future__ import annotations

from typing import Any

from batchrelay.errors import BatchRelayError


class Unauthenticated(BatchRelayError):
    code = "unauthenticated"
    http_status = 401


def tenant_id_of(event: Any) -> str:
    """API Gateway puts the accepted key's id in requestContext.identity.apiKeyId. The key is
    found by the API's Lambda authorizer (x-api-key, or Authorization: Bearer on the OpenAI
    surface), which also names the key's id as the principal: the same id, read when the
    identity does not carry it."""
    context = event.get("requestContext") or {}
    identity = context.get("identity") or {}
    tenant = identity.get("apiKeyId") or (context.get("authorizer") or {}).get("principalId")
    if not tenant:
        raise Unauthenticated("this route needs an API key (x-api-key, or Authorization: Bearer on /openai)")
    return str(tenant)
