"""One line of an uploaded JSONL file: ``{"custom_id", "body"}``, optionally with OpenAI's
batch-file keys ``method`` (POST) and ``url`` (the job's endpoint)."""

from __future__ import annotations

from typing import Any

import orjson

from batchrelay import constants as c
from batchrelay.errors import ValidationFailed
from batchrelay.validation.request_rules import CheckedRequest, validate_request
from batchrelay.validation.writable_json import loads_marking_non_finite

_ALLOWED_LINE_KEYS = {"custom_id", "body", "method", "url"}


def check_upload_line(raw: bytes, line: int, *, provider: str, endpoint: str) -> CheckedRequest:
    """The request on line ``line`` (1-based, blank lines counted), checked as it will be
    written; ValidationFailed naming the line and the field otherwise."""
    if len(raw) > c.MAX_REQUEST_LINE_BYTES:
        raise ValidationFailed(f"line is longer than {c.MAX_REQUEST_LINE_BYTES} bytes", field="upload", line=line)
    obj = _read_line(raw, line, provider=provider, endpoint=endpoint)
    return _check_line(obj, raw, line, provider=provider, endpoint=endpoint)


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
