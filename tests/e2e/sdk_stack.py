"""The local stack in this process for the official SDKs' tests: one stack per module, two
tenants, and every answer the api function gives on a drop-in surface recorded, so the tests
can hold each to the provider's published schema."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from batchrelay import constants as c
from batchrelay_tools.local.config import LocalConfig
from batchrelay_tools.local.stack import HandlerCache, LocalStack

TENANT_A_KEY = "sdk-tenant-a-0123456789abcdef"
TENANT_B_KEY = "sdk-tenant-b-0123456789abcdef"


@dataclass
class Answer:
    method: str
    path: str           # under the surface's prefix
    status: int
    body: Any


@dataclass
class RecordingInvoke:
    """The real handlers, with the api function's answers on ``prefix`` recorded."""

    prefix: str
    cache: HandlerCache = field(default_factory=HandlerCache)
    answers: list[Answer] = field(default_factory=list)

    def __call__(self, function: str, event: dict[str, Any], context: Any) -> Any:
        result = self.cache.invoke(function, event, context)
        path = event.get("path") or ""
        if function == c.FUNCTION_API and path.startswith(self.prefix + "/"):
            raw = result.get("body")
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw
            self.answers.append(Answer(event["httpMethod"], path[len(self.prefix):], result["statusCode"], body))
        return result

    def take(self) -> list[Answer]:
        taken, self.answers = self.answers, []
        return taken


def start_sdk_stack(prefix: str, **config: Any) -> tuple[LocalStack, RecordingInvoke]:
    invoke = RecordingInvoke(prefix)
    settings = {"port": 0, "api_key": TENANT_A_KEY, "extra_api_keys": [TENANT_B_KEY], "poll_seconds": 1.0,
                "retry_seconds": 1.0, "sim_processing_seconds": 1.0, **config}
    stack = LocalStack(LocalConfig(**settings), invoke=invoke).start()
    return stack, invoke


def sim_config(stack: LocalStack, **changes: Any) -> None:
    httpx.post(f"{stack.simulator.base_url}/_sim/config", json=changes, timeout=10).raise_for_status()
