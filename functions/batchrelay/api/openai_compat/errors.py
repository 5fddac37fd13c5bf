"""OpenAI's error shape: ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

from typing import Any

_TYPES = {401: "invalid_request_error", 403: "invalid_request_error", 429: "rate_limit_exceeded"}


def openai_error(status: int, code: str, message: str, field: str | None, line: int | None) -> dict[str, Any]:
    error_type = "server_error" if status >= 500 else _TYPES.get(status, "invalid_request_error")
    if line is not None:
        message = f"{message} (line {line})"
    return {"error": {"message": message, "type": error_type, "param": field, "code": code}}
