"""Holding the Anthropic surface's answers to the anthropic SDK's own models, validated (not
merely constructed): what ``_strict_response_validation=True`` does, for every answer."""

from __future__ import annotations

import re
from typing import Any

from anthropic.types.messages import DeletedMessageBatch, MessageBatch, MessageBatchIndividualResponse
from anthropic.types.shared import ErrorResponse

_BATCH = r"/messages/batches/[^/]+"


def validate_answer(method: str, path: str, status: int, body: Any) -> None:
    """``path`` is under /anthropic/v1."""
    if status in (301, 302, 303, 307, 308):
        return
    if status >= 400:
        ErrorResponse.model_validate(body)
        return
    if method == "GET" and path == "/messages/batches":
        assert set(body) == {"data", "has_more", "first_id", "last_id"}
        for item in body["data"]:
            MessageBatch.model_validate(item)
        return
    if method == "DELETE" and re.fullmatch(_BATCH, path):
        DeletedMessageBatch.model_validate(body)
        return
    assert re.fullmatch(rf"/messages/batches|{_BATCH}|{_BATCH}/cancel", path), path
    MessageBatch.model_validate(body)


def validate_result_line(line: dict[str, Any]) -> MessageBatchIndividualResponse:
    return MessageBatchIndividualResponse.model_validate(line)
