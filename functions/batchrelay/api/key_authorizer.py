"""The API's Lambda authorizer: which API key a request carries, checked, handed to API Gateway.

The REST API takes its keys from this authorizer (API key source AUTHORIZER). Each route family
has an authorizer of its own headers (constants.surfaces.KEY_HEADERS): ``x-api-key`` on ``/v1``,
``Authorization: Bearer <key>`` on ``/openai/v1``, either on ``/anthropic/v1`` (the first
present); for one header API Gateway caches an answer per header value, and refuses a request
without the header before this runs. For a known, enabled key the answer allows the stage (a
cached answer serves every route of the family), names the key's id as the principal and
returns the key as ``usageIdentifierKey``: API Gateway then checks it against the usage plans
(per-key throttling and quotas) and puts its id in ``requestContext.identity.apiKeyId``, the
tenant, whichever header carried it.
"""

from __future__ import annotations

from typing import Any

from batchrelay import constants as c
from batchrelay.aws.api_keys import KeyDirectory


def _header_key(headers: dict[str, str], header: str) -> str | None:
    value = next((v for k, v in headers.items() if k.lower() == header.lower()), None)
    if not value:
        return None
    if header == c.BEARER_HEADER:
        scheme, _, token = value.strip().partition(" ")
        return (token.strip() or None) if scheme.lower() == "bearer" else None
    return value.strip() or None


def presented_key(event: dict[str, Any]) -> str | None:
    """The key in the first header of the request's route family that carries one (None: none)."""
    names = c.key_headers_for(event.get("path") or "") or ()
    headers = event.get("headers") or {}
    return next((key for key in (_header_key(headers, name) for name in names) if key), None)


def stage_resources(method_arn: str) -> str:
    """Every method of the stage: arn:aws:execute-api:<region>:<account>:<api>/<stage>/*/*."""
    prefix, _, path = method_arn.partition("/")
    stage = path.split("/", 1)[0]
    return f"{prefix}/{stage}/*/*"


# The principal of a refused request (no key in it is known and enabled).
UNKNOWN_PRINCIPAL = "unknown"


def _policy(effect: str, method_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": stage_resources(method_arn)}],
    }


def authorize(event: dict[str, Any], directory: KeyDirectory) -> dict[str, Any]:
    """Allow with the key, or an explicit Deny for a request with no known, enabled key.

    A Deny (not a raised "Unauthorized") keeps a wrong key from counting as a failed invocation
    of the function, whose errors raise an alarm; API Gateway caches it like an Allow and answers
    with the ACCESS_DENIED gateway response, which the stack makes a 401."""
    value = presented_key(event)
    key = directory.find(value) if value else None
    if key is None or not key.enabled:
        return {"principalId": UNKNOWN_PRINCIPAL, "policyDocument": _policy("Deny", event["methodArn"])}
    return {
        "principalId": key.key_id,
        "usageIdentifierKey": key.value,
        "policyDocument": _policy("Allow", event["methodArn"]),
        "context": {"tenantId": key.key_id},
    }
