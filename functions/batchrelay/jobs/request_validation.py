"""Rules every request of a job must pass, shared by inline requests and uploaded JSONL."""

from __future__ import annotations

from typing import Any

from batchrelay import constants as c
from batchrelay import registry
from batchrelay.errors import ValidationFailed


def check_provider_endpoint(provider: str, endpoint: str) -> None:
    if provider not in registry.names():
        raise ValidationFailed(f"provider must be one of {list(registry.names())}", field="provider")
    endpoints = registry.spec(provider).endpoints
    if endpoint not in endpoints:
        raise ValidationFailed(
            f"endpoint {endpoint!r} is not a {provider} batch endpoint; use one of {list(endpoints)}",
            field="endpoint",
        )


def validate_request(
    custom_id: Any, body: Any, *, provider: str, endpoint: str, line: int, field_prefix: str
) -> str:
    """Check one request; returns its custom_id. ``line`` is 1-based (JSONL line or list position)."""
    if not isinstance(custom_id, str) or not custom_id:
        raise ValidationFailed("custom_id must be a non-empty string", field=f"{field_prefix}custom_id", line=line)
    if len(custom_id) > c.MAX_CUSTOM_ID_LENGTH:
        raise ValidationFailed(
            f"custom_id is longer than {c.MAX_CUSTOM_ID_LENGTH} characters", field=f"{field_prefix}custom_id", line=line
        )
    if not isinstance(body, dict):
        raise ValidationFailed("body must be a JSON object", field=f"{field_prefix}body", line=line)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ValidationFailed("body.model must be a non-empty string", field=f"{field_prefix}body.model", line=line)
    if body.get("stream") is True:
        raise ValidationFailed("body.stream cannot be true in a batch", field=f"{field_prefix}body.stream", line=line)
    for rule in registry.spec(provider).body_rules:
        broken = rule(body, endpoint)
        if broken is not None:
            name, message = broken
            raise ValidationFailed(message, field=f"{field_prefix}body.{name}", line=line)
    return custom_id


def validate_metadata(metadata: dict[str, str]) -> None:
    if len(metadata) > 16:
        raise ValidationFailed("metadata holds at most 16 pairs", field="metadata")
    for key, value in metadata.items():
        if len(key) > 64 or len(value) > 512:
            raise ValidationFailed(f"metadata[{key[:64]!r}]: keys ≤64 and values ≤512 characters", field="metadata")
