"""Rules every request of a job must pass, shared by inline requests and uploaded JSONL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from batchrelay import constants as c
from batchrelay import registry
from batchrelay.errors import ValidationFailed
from batchrelay.settings import get_settings
from batchrelay.validation.writable_json import (
    Path,
    encode_request_line,
    first_problem,
    format_path,
    has_lone_surrogate,
    may_hold_wide_integers,
    reread_body,
)

# C0 controls, DEL and C1 controls (Unicode category Cc). DEL is neither C0 nor C1, but it
# is as invisible and as surely a mistake in an id, so it is refused with them.
_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class CheckedRequest:
    custom_id: str
    model: str
    line: bytes   # {"custom_id", "body"} as written to the job input, newline included


def check_provider_endpoint(provider: str, endpoint: str) -> None:
    if provider not in registry.names():
        raise ValidationFailed(f"provider must be one of {list(registry.names())}", field="provider")
    spec = registry.spec(provider)
    if spec.needs_base_url and not get_settings().provider(provider).base_url:
        # Its batches could never be created: say so now rather than after the job is queued.
        raise ValidationFailed(
            f"{provider} is not configured in this deployment: its address is not set "
            f"({spec.base_url_env}; CDK context {provider}_base_url)",
            field="provider",
        )
    endpoints = spec.endpoints
    if endpoint not in endpoints:
        raise ValidationFailed(
            f"endpoint {endpoint!r} is not a {provider} batch endpoint; use one of {list(endpoints)}",
            field="endpoint",
        )


def _check_custom_id(custom_id: Any, *, line: int, field: str) -> str:
    if not isinstance(custom_id, str) or not custom_id:
        raise ValidationFailed("custom_id must be a non-empty string", field=field, line=line)
    if len(custom_id) > c.MAX_CUSTOM_ID_LENGTH:
        raise ValidationFailed(f"custom_id is longer than {c.MAX_CUSTOM_ID_LENGTH} characters", field=field, line=line)
    if has_lone_surrogate(custom_id):
        raise ValidationFailed(
            "custom_id holds a lone UTF-16 surrogate, which cannot be written as UTF-8", field=field, line=line
        )
    control = _CONTROL_CHARACTERS.search(custom_id)
    if control:
        raise ValidationFailed(
            f"custom_id holds the control character U+{ord(control.group()):04X} at position {control.start()}",
            field=field,
            line=line,
        )
    return custom_id


def _unwritable(problem: tuple[Path, str], *, line: int, field_prefix: str) -> ValidationFailed:
    path, reason = problem
    return ValidationFailed(
        f"{format_path('body', path)}: {reason}", field=format_path(f"{field_prefix}body", path), line=line
    )


def validate_request(
    custom_id: Any,
    body: Any,
    *,
    provider: str,
    endpoint: str,
    line: int,
    field_prefix: str,
    raw_line: bytes | None = None,
) -> CheckedRequest:
    """Check one request as it will be written. ``line`` is 1-based (JSONL line or list position).

    ``raw_line``: the upload line ``body`` was read from by orjson (which widens integers
    beyond 64 bits to floats); None for bodies read by Python's json (inline).
    """
    custom_id = _check_custom_id(custom_id, line=line, field=f"{field_prefix}custom_id")
    if not isinstance(body, dict):
        raise ValidationFailed("body must be a JSON object", field=f"{field_prefix}body", line=line)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ValidationFailed("body.model must be a non-empty string", field=f"{field_prefix}body.model", line=line)
    if len(model) > c.MAX_MODEL_LENGTH:
        raise ValidationFailed(
            f"body.model is longer than {c.MAX_MODEL_LENGTH} characters", field=f"{field_prefix}body.model", line=line
        )
    allowed = get_settings().provider(provider).allowed_models
    if allowed and model not in allowed:
        raise ValidationFailed(
            f"body.model {model!r} is not enabled for {provider} in this deployment; use one of {list(allowed)}",
            field=f"{field_prefix}body.model", line=line,
        )
    if body.get("stream") is True:
        raise ValidationFailed("body.stream cannot be true in a batch", field=f"{field_prefix}body.stream", line=line)
    for rule in registry.spec(provider).body_rules:
        broken = rule(body, endpoint)
        if broken is not None:
            name, message = broken
            raise ValidationFailed(message, field=f"{field_prefix}body.{name}", line=line)
    try:
        written = encode_request_line(custom_id, body)
    except TypeError as exc:
        problem = first_problem(body)
        if problem:
            raise _unwritable(problem, line=line, field_prefix=field_prefix) from exc
        raise ValidationFailed(
            f"body cannot be written as JSON: {exc}", field=f"{field_prefix}body", line=line
        ) from exc
    if raw_line is not None and may_hold_wide_integers(raw_line):
        # orjson read an integer beyond 64 bits as a float, or the digits are in a string.
        problem = reread_body(raw_line)
        if problem:
            raise _unwritable(problem, line=line, field_prefix=field_prefix)
    if len(written) > c.MAX_REQUEST_LINE_BYTES:
        raise ValidationFailed(
            f"the request is {len(written)} bytes as JSON; at most {c.MAX_REQUEST_LINE_BYTES} bytes per request",
            field=f"{field_prefix}body",
            line=line,
        )
    return CheckedRequest(custom_id=custom_id, model=model, line=written)


class ModelTally:
    """Requests per body.model, in order of first appearance, at most MAX_MODELS_PER_JOB models.

    Providers that take one model per batch get at least one batch per model, and the
    planner passes over the input once per model: the bound keeps
    both, and the job item that stores these counts, small.
    """

    def __init__(self, counts: dict[str, int] | None = None) -> None:
        # Counts so far, to go on from (an upload is checked in steps).
        self.counts: dict[str, int] = dict(counts or {})

    def add(self, model: str, *, line: int, field: str) -> None:
        count = self.counts.get(model)
        if count is None and len(self.counts) >= c.MAX_MODELS_PER_JOB:
            raise ValidationFailed(
                f"a job may name at most {c.MAX_MODELS_PER_JOB} distinct models; {model!r} would be one more. "
                "Split the requests into several jobs",
                field=field,
                line=line,
            )
        self.counts[model] = (count or 0) + 1


def check_chunk_size(chunk_size: int | None, request_count: int) -> None:
    """At least MIN_CHUNK_SIZE requests per chunk, or the whole job when it is smaller."""
    floor = min(c.MIN_CHUNK_SIZE, request_count)
    if chunk_size is not None and chunk_size < floor:
        raise ValidationFailed(
            f"chunk_size must be at least {floor} for this job of {request_count} requests "
            f"(at least {c.MIN_CHUNK_SIZE}, or the job's request count when smaller)",
            field="chunk_size",
        )


def check_completion_window(provider: str, window: str | None) -> str | None:
    """The job's completion window: one the provider offers, or None (its default window)."""
    if window is None:
        return None
    windows = registry.spec(provider).completion_windows
    if windows is None:
        raise ValidationFailed(
            f"{provider} batches run in one fixed window; leave completion_window out", field="completion_window"
        )
    if not windows.accepts(window):
        raise ValidationFailed(
            f"completion_window {window!r} is not one {provider} offers: {windows.describe()}, written like "
            f"'{windows.default}'",
            field="completion_window",
        )
    return window


def job_timeout_hours(provider: str, timeout_hours: int | None) -> int | None:
    """The job's ``timeout_hours``: as asked, within the provider's range, or the provider's
    default; None for providers without such a setting (asking for one there is refused)."""
    setting = registry.spec(provider).timeout_hours
    if setting is None:
        if timeout_hours is not None:
            with_setting = [s.name for s in registry.specs() if s.timeout_hours]
            raise ValidationFailed(
                f"{provider} has no batch timeout to set; timeout_hours is for {with_setting}", field="timeout_hours"
            )
        return None
    if timeout_hours is None:
        return setting.default
    if not setting.minimum <= timeout_hours <= setting.maximum:
        raise ValidationFailed(
            f"timeout_hours must be {setting.minimum} to {setting.maximum} for {provider}", field="timeout_hours"
        )
    return timeout_hours


def validate_metadata(metadata: dict[str, str]) -> None:
    if len(metadata) > 16:
        raise ValidationFailed("metadata holds at most 16 pairs", field="metadata")
    for key, value in metadata.items():
        if has_lone_surrogate(key) or has_lone_surrogate(value):
            raise ValidationFailed("metadata holds a lone UTF-16 surrogate, which cannot be written", field="metadata")
        if len(key) > 64 or len(value) > 512:
            raise ValidationFailed(f"metadata[{key[:64]!r}]: keys ≤64 and values ≤512 characters", field="metadata")
