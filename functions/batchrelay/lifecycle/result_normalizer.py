"""Provider results -> the normalized result line (models.results.ResultLine), as bytes.

Lines are built as plain dicts and encoded with orjson: a chunk can hold 100,000 of them,
and the collector's speed is mostly this function.
"""

from __future__ import annotations

from typing import Any

from batchrelay.jsonl import dumps_line
from batchrelay.providers.base import ProviderResult

_NOT_RUN_ERRORS = {
    "expired": {"code": "expired", "message": "the provider's 24-hour window ended before this request ran"},
    "cancelled": {"code": "cancelled", "message": "the job was cancelled before this request ran"},
}


def model_of(result: ProviderResult) -> str | None:
    if result.model:
        return result.model
    response = result.response or {}
    body = response.get("body") if isinstance(response.get("body"), dict) else response
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


def line_for_result(
    result: ProviderResult, *, custom_id: str, status: str, provider: str, batch_id: str | None, attempts: int
) -> bytes:
    error = result.error
    if error is None and status in _NOT_RUN_ERRORS:
        error = _NOT_RUN_ERRORS[status]
    line = {
        "custom_id": custom_id,
        "status": status,
        "response": result.response if status == "succeeded" or result.response else None,
        "error": None if status == "succeeded" else error,
        "usage": result.usage,
        "provider": provider,
        "batch_id": batch_id,
        "attempts": attempts,
    }
    if result.service_tier:
        # Answered by a synchronous call at the synchronous price (Bedrock, below its minimum).
        line["service_tier"] = result.service_tier
    return _encode(line)


def line_for_unreported(
    *,
    custom_id: str,
    status: str,
    provider: str,
    batch_id: str | None,
    attempts: int,
    batch_errors: list[dict[str, Any]] | None = None,
) -> bytes:
    """A request the provider never reported on: not run (expired/cancelled) or refused with its batch."""
    if status == "errored" and any(e.get("code") == "batch_not_found" for e in batch_errors or []):
        error: dict[str, Any] = {
            "code": "batch_not_found",
            "message": "the provider no longer knows the batch that held this request",
            "batch_errors": batch_errors or [],
        }
    elif status == "errored":
        error = {
            "code": "batch_failed",
            "message": "the provider refused the whole batch",
            "batch_errors": batch_errors or [],
        }
    else:
        error = _NOT_RUN_ERRORS.get(status, {"code": status, "message": status})
    return _encode(
        {
            "custom_id": custom_id,
            "status": status,
            "response": None,
            "error": error,
            "usage": None,
            "provider": provider,
            "batch_id": batch_id,
            "attempts": attempts,
        }
    )


def _encode(line: dict[str, Any]) -> bytes:
    # U+2028/U+2029/U+0085 escaped: results.jsonl splits into one line per id everywhere.
    return dumps_line(line)
