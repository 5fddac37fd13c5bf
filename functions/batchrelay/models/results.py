"""The normalized result line: exactly one per input custom_id in results.jsonl."""

from __future__ import annotations

from typing import Any, Literal

from batchrelay.models.base import Model

ResultStatus = Literal["succeeded", "errored", "expired", "cancelled"]


class ResultLine(Model):
    custom_id: str
    status: ResultStatus
    response: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    usage: dict[str, int] | None = None
    provider: str
    batch_id: str | None = None
    attempts: int
