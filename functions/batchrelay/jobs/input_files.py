"""Job input in S3: writing inline requests, and validating an uploaded JSONL file streaming."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from batchrelay import constants as c
from batchrelay.aws import clients
from batchrelay.aws.s3_objects import numbered_object_lines
from batchrelay.errors import ValidationFailed
from batchrelay.jobs.duplicate_ids import DuplicateIdFinder, first_duplicate
from batchrelay.jobs.request_validation import validate_request
from batchrelay.jsonl import LineTooLong
from batchrelay.models.api import JobRequestItem

_ALLOWED_LINE_KEYS = {"custom_id", "body", "method", "url"}


@dataclass
class InputSummary:
    request_count: int
    size_bytes: int


def validate_inline_requests(requests: list[JobRequestItem], *, provider: str, endpoint: str) -> None:
    if not requests:
        raise ValidationFailed("a job needs at least one request", field="requests")
    if len(requests) > c.MAX_INLINE_REQUESTS:
        raise ValidationFailed(
            f"at most {c.MAX_INLINE_REQUESTS} inline requests; upload larger inputs with POST /v1/uploads",
            field="requests",
        )
    first_line: dict[str, int] = {}
    for index, item in enumerate(requests):
        validate_request(
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


def write_inline_input(bucket: str, key: str, requests: list[JobRequestItem]) -> InputSummary:
    """Inline input is at most ~9 MB (API Gateway's limit), so one put is fine."""
    payload = b"".join(
        orjson.dumps({"custom_id": r.custom_id, "body": r.body}) + b"\n" for r in requests
    )
    clients.s3().put_object(Bucket=bucket, Key=key, Body=payload, ContentType="application/jsonl")
    return InputSummary(request_count=len(requests), size_bytes=len(payload))


def _parse_line(raw: bytes, line: int, *, provider: str, endpoint: str) -> str:
    if len(raw) > c.MAX_REQUEST_LINE_BYTES:
        raise ValidationFailed(f"line is longer than {c.MAX_REQUEST_LINE_BYTES} bytes", field="upload", line=line)
    try:
        obj: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValidationFailed(f"line is not valid JSON: {exc}", field="upload", line=line) from exc
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
                            line=line, field_prefix="")


def _numbered_ids(bucket: str, key: str) -> Iterator[tuple[str, int]]:
    for line_no, raw in enumerate(numbered_object_lines(key, bucket=bucket), start=1):
        if raw.strip():
            yield orjson.loads(raw)["custom_id"], line_no


def validate_uploaded_input(bucket: str, key: str, *, provider: str, endpoint: str) -> InputSummary:
    """Stream the JSONL, line by line; raise at the first bad line with its number.

    Memory: one line at a time plus 8 bytes per request for the duplicate check.
    """
    finder = DuplicateIdFinder()
    count = 0
    size = 0
    lines = numbered_object_lines(key, bucket=bucket, max_line_bytes=c.MAX_REQUEST_LINE_BYTES)
    try:
        for line_no, raw in enumerate(lines, start=1):
            size += len(raw) + 1
            if not raw.strip():
                continue  # blank lines (a trailing newline) carry no request
            finder.add(_parse_line(raw, line_no, provider=provider, endpoint=endpoint))
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
    return InputSummary(request_count=count, size_bytes=size)
