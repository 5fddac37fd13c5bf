"""Inline job input: checked in the request and written to S3 (uploads are checked in the
background: lifecycle.input_validation)."""

from __future__ import annotations

from dataclasses import dataclass, field

from batchrelay import constants as c
from batchrelay.aws import clients
from batchrelay.errors import ValidationFailed
from batchrelay.models.api import JobRequestItem
from batchrelay.validation.request_rules import ModelTally, validate_request


@dataclass
class InputSummary:
    request_count: int
    size_bytes: int
    models: dict[str, int] = field(default_factory=dict)   # requests per body.model


@dataclass
class InlineInput:
    payload: bytes   # the job input as it will be stored: one {"custom_id", "body"} line per request
    summary: InputSummary


def validate_inline_requests(
    requests: list[JobRequestItem], *, provider: str, endpoint: str, max_requests: int | None = None
) -> InlineInput:
    """Check every request as it will be written, and write them (in memory: at most ~9 MB).
    At most ``max_requests`` (default ``MAX_INLINE_REQUESTS``)."""
    if not requests:
        raise ValidationFailed("a job needs at least one request", field="requests")
    max_requests = c.MAX_INLINE_REQUESTS if max_requests is None else max_requests
    if len(requests) > max_requests:
        raise ValidationFailed(
            f"at most {max_requests} inline requests; upload larger inputs with POST /v1/uploads",
            field="requests",
        )
    first_line: dict[str, int] = {}
    models = ModelTally()
    lines: list[bytes] = []
    for index, item in enumerate(requests):
        checked = validate_request(
            item.custom_id, item.body, provider=provider, endpoint=endpoint, line=index + 1,
            field_prefix=f"requests[{index}].",
        )
        if item.custom_id in first_line:
            raise ValidationFailed(
                f"custom_id {item.custom_id!r} repeats the one of request {first_line[item.custom_id]}",
                field=f"requests[{index}].custom_id",
                line=index + 1,
            )
        first_line[item.custom_id] = index + 1
        models.add(checked.model, line=index + 1, field=f"requests[{index}].body.model")
        lines.append(checked.line)
    payload = b"".join(lines)
    summary = InputSummary(request_count=len(requests), size_bytes=len(payload), models=models.counts)
    return InlineInput(payload, summary)


def write_inline_input(bucket: str, key: str, inline: InlineInput) -> InputSummary:
    """Inline input is at most ~9 MB (API Gateway's limit), so one put is fine."""
    clients.s3().put_object(Bucket=bucket, Key=key, Body=inline.payload, ContentType="application/jsonl")
    return inline.summary
