"""One normalized result line (models.results.ResultLine) in a drop-in surface's own shape.

OpenAI's batch output line: ``{"id", "custom_id", "response": {"status_code", "request_id",
"body"}, "error"}``; a request the provider answered goes to the output file when it
succeeded and to the error file when it did not (with the provider's status code and body),
one that never ran or whose batch was refused goes to the error file with ``response`` null
and ``error`` ``{"code", "message"}``, as OpenAI writes them.

Anthropic's results line: ``{"custom_id", "result": {"type": "succeeded", "message"} |
{"type": "errored", "error": {"type": "error", "error": {"type", "message"}}} |
{"type": "canceled"} | {"type": "expired"}}``.

batchrelay keeps no provider request id per request, so the OpenAI line's ``id`` and
``response.request_id`` are derived from the job and the custom_id: stable, unique, not
OpenAI's.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

OpenAIFileKind = Literal["output", "errors"]

_NOT_RUN = {
    "expired": ("batch_expired", "This request could not be executed before the completion window expired."),
    "cancelled": ("batch_cancelled", "This request was not executed because the batch was cancelled."),
}
# Anthropic's error types (anthropic.types.shared.ErrorObject); anything else is an api_error.
ANTHROPIC_ERROR_TYPES = frozenset({
    "invalid_request_error", "authentication_error", "billing_error", "permission_error", "not_found_error",
    "rate_limit_error", "timeout_error", "api_error", "overloaded_error",
})


def _digest(job_id: str, custom_id: str) -> str:
    return hashlib.sha256(f"{job_id}\x00{custom_id}".encode()).hexdigest()[:32]


def openai_line(result: dict[str, Any], *, job_id: str) -> tuple[OpenAIFileKind, dict[str, Any]]:
    """Which OpenAI file the result goes to, and its line there."""
    custom_id = result["custom_id"]
    digest = _digest(job_id, custom_id)
    line: dict[str, Any] = {"id": f"batch_req_{digest}", "custom_id": custom_id, "response": None, "error": None}
    status = result.get("status")
    error = result.get("error") if isinstance(result.get("error"), dict) else {}
    if status == "succeeded":
        line["response"] = {"status_code": 200, "request_id": f"req_{digest}", "body": result.get("response")}
        return "output", line
    if status in _NOT_RUN:
        code, message = _NOT_RUN[status]
        line["error"] = {"code": code, "message": message}
        return "errors", line
    status_code = error.get("status_code")
    if isinstance(status_code, int) and status_code:
        body = result.get("response")
        if not isinstance(body, dict) or not body:
            body = {"error": {"message": error.get("message"), "type": error.get("type"), "param": None,
                              "code": error.get("code")}}
        line["response"] = {"status_code": status_code, "request_id": f"req_{digest}", "body": body}
        return "errors", line
    line["error"] = {"code": error.get("code") or "request_failed",
                     "message": error.get("message") or "the request failed"}
    return "errors", line


def anthropic_line(result: dict[str, Any]) -> dict[str, Any]:
    """The result's line in an Anthropic results file."""
    status = result.get("status")
    outcome: dict[str, Any]
    if status == "succeeded":
        outcome = {"type": "succeeded", "message": result.get("response")}
    elif status == "expired":
        outcome = {"type": "expired"}
    elif status == "cancelled":
        outcome = {"type": "canceled"}
    else:
        error = result.get("error") if isinstance(result.get("error"), dict) else {}
        error_type = error.get("type") if error.get("type") in ANTHROPIC_ERROR_TYPES else "api_error"
        message = error.get("message") or error.get("code") or "the request failed"
        outcome = {"type": "errored", "error": {"type": "error", "error": {"type": error_type, "message": message}}}
    return {"custom_id": result["custom_id"], "result": outcome}
