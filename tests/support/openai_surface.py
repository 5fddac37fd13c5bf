"""Calling the OpenAI surface's routes through the real `api` handler (moto), the way the openai
SDK sends them; every answer is held to OpenAI's published schema on the way back."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from batchrelay import constants as c
from tests.support.api_client import ApiAnswer, ApiClient
from tests.support.lambda_events import FakeLambdaContext, api_event
from tests.support.openai_schema import schema_for, validate


def openai_call(
    method: str,
    path: str,
    body: Any = None,
    *,
    tenant: str = "tenant-a",
    files: dict[str, Any] | None = None,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> ApiAnswer:
    """``path`` is under /openai/v1. ``files``/``data`` send multipart/form-data (base64, as API
    Gateway hands a binary media type over)."""
    full = c.OPENAI_PREFIX + path
    if files is None:
        answer = ApiClient(tenant).call(method, full, body, headers=headers, query=query)
    else:
        from handlers.api import handler

        request = httpx.Request(method, "http://api" + full, files=files, data=data)
        raw = request.read()
        event = api_event(method, full, None, api_key_id=tenant, query=query,
                          headers={**(headers or {}), "content-type": request.headers["content-type"]})
        event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
        result = handler(event, FakeLambdaContext())
        raw_body = result.get("body")
        answer = ApiAnswer(result["statusCode"], json.loads(raw_body) if raw_body else None,
                           dict(result.get("headers") or {}))
    schema = schema_for(method, path.split("?")[0], answer.status)
    if schema is not None:
        validate(schema, answer.body)
    return answer


def batch_line(custom_id: str, text: str = "hello", *, model: str = "gpt-4o-mini") -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": model, "messages": [{"role": "user", "content": text}]}}


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def upload_file(content: bytes, *, tenant: str = "tenant-a", filename: str = "input.jsonl") -> dict[str, Any]:
    answer = openai_call("POST", "/files", files={"file": (filename, content)}, data={"purpose": "batch"},
                         tenant=tenant)
    assert answer.status == 200, answer.body
    return answer.body
