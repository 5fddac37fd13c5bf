"""Domain errors: values with a code, a message and, where it helps, the field and line.

Raised in domain code; mapped to HTTP status codes in one place (the api handler).
"""

from __future__ import annotations

from typing import Any


class BatchRelayError(Exception):
    code = "error"
    http_status = 500

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.line = line
        if code:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.line is not None:
            body["line"] = self.line
        return body


class ValidationFailed(BatchRelayError):
    code = "invalid_request"
    http_status = 400


class PayloadTooLarge(BatchRelayError):
    code = "payload_too_large"
    http_status = 413


class NotFound(BatchRelayError):
    code = "not_found"
    http_status = 404


class Conflict(BatchRelayError):
    code = "conflict"
    http_status = 409


class NotImplementedYet(BatchRelayError):
    code = "not_implemented"
    http_status = 501


class TransitionRefused(BatchRelayError):
    """A conditional state change found the item in another state than expected."""

    code = "state_conflict"
    http_status = 409

    def __init__(self, message: str, *, current: str | None = None, expected: tuple[str, ...] = ()):
        super().__init__(message)
        self.current = current
        self.expected = expected
