"""Job input in S3: writing inline requests, and validating an uploaded JSONL file streaming."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from batchrelay import constants as c
from batchrelay.aws import clients
from batchrelay.aws.s3_objects import numbered_object_lines
from batchrelay.errors import ValidationFailed
from batchrelay.jobs.duplicate_ids import DuplicateIdFinder, first_duplicate
from batchrelay.jobs.request_validation import CheckedRequest, ModelTally, validate_request
from batchrelay.jobs.writable_json import loads_marking_non_finite
from batchrelay.jsonl import LineTooLong
from batchrelay.models.api import JobRequestItem

_ALLOWED_LINE_KEYS = {"custom_id", "body", "method", "url"}


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


def _read_line(raw: bytes, line: int, *, provider: str, endpoint: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        unreadable = ValidationFailed(f"line is not valid JSON: {exc}", field="upload", line=line)
        # orjson refuses lone surrogates, NaN and 1e400 without saying where; Python's json
        # reads them, and the request's own checks then name the field.
        try:
            obj = loads_marking_non_finite(raw)
        except (ValueError, RecursionError):
            raise unreadable from exc
        _check_line(obj, raw, line, provider=provider, endpoint=endpoint)
        raise unreadable from exc


def _check_line(obj: Any, raw: bytes, line: int, *, provider: str, endpoint: str) -> CheckedRequest:
    if not isinstance(obj, dict):
        raise ValidationFailed("line must be a JSON object {custom_id, body}", field="upload", line=line)
    unknown = set(obj) - _ALLOWED_LINE_KEYS
    if unknown:
        raise ValidationFailed(f"unknown key(s) {sorted(unknown)}", field="upload", line=line)
    if "url" in obj and obj["url"] != endpoint:
        raise ValidationFailed(
            f"url {obj['url']!r} differs from the job's endpoint {endpoint!r}", field="url", line=line
        )
    if "method" in obj and obj["method"] != "POST":
        raise ValidationFailed("method must be POST", field="method", line=line)
    return validate_request(obj.get("custom_id"), obj.get("body"), provider=provider, endpoint=endpoint,
                            line=line, field_prefix="", raw_line=raw)


def _parse_line(raw: bytes, line: int, *, provider: str, endpoint: str) -> CheckedRequest:
    if len(raw) > c.MAX_REQUEST_LINE_BYTES:
        raise ValidationFailed(f"line is longer than {c.MAX_REQUEST_LINE_BYTES} bytes", field="upload", line=line)
    obj = _read_line(raw, line, provider=provider, endpoint=endpoint)
    return _check_line(obj, raw, line, provider=provider, endpoint=endpoint)


def _numbered_ids(bucket: str, key: str) -> Iterator[tuple[str, int]]:
    for line_no, raw in enumerate(numbered_object_lines(key, bucket=bucket), start=1):
        if raw.strip():
            yield orjson.loads(raw)["custom_id"], line_no


def validate_uploaded_input(bucket: str, key: str, *, provider: str, endpoint: str) -> InputSummary:
    """Stream the JSONL, line by line; raise at the first bad line with its number.

    Memory: one line at a time plus 8 bytes per request for the duplicate check.
    Each line is checked as the lifecycle will write it (request_validation.validate_request).
    """
    finder = DuplicateIdFinder()
    models = ModelTally()
    count = 0
    size = 0
    lines = numbered_object_lines(key, bucket=bucket, max_line_bytes=c.MAX_REQUEST_LINE_BYTES)
    try:
        for line_no, raw in enumerate(lines, start=1):
            size += len(raw) + 1
            if not raw.strip():
                continue  # blank lines (a trailing newline) carry no request
            checked = _parse_line(raw, line_no, provider=provider, endpoint=endpoint)
            finder.add(checked.custom_id)
            models.add(checked.model, line=line_no, field="body.model")
            count += 1
    except LineTooLong as too_long:
        raise ValidationFailed(
            f"line is longer than {c.MAX_REQUEST_LINE_BYTES} bytes", field="upload", line=too_long.line
        ) from too_long
    if count == 0:
        raise ValidationFailed("the upload holds no requests", field="upload_id")
    candidates = finder.candidate_hashes()
    if candidates:
        duplicate = first_duplicate(_numbered_ids(bucket, key), candidates)
        if duplicate:
            raise ValidationFailed(
                f"custom_id {duplicate[0]!r} appears on an earlier line", field="custom_id", line=duplicate[1]
            )
    return InputSummary(request_count=count, size_bytes=size, models=models.counts)
