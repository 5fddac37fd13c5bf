"""Anthropic's error shape: ``{"type": "error", "error": {"type", "message"}}``."""

from __future__ import annotations

from typing import Any

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "invalid_request_error",
    413: "request_too_large",
    415: "invalid_request_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def anthropic_error(status: int, code: str, message: str, field: str | None, line: int | None) -> dict[str, Any]:
    error_type = "api_error" if status >= 500 and status != 529 else _TYPES.get(status, "invalid_request_error")
    if status == 400 and field and field not in message:
        message = f"{field}: {message}"
    return {"type": "error", "error": {"type": error_type, "message": message}}
