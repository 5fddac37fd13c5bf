"""Calling the real `api` handler with API Gateway proxy events, on moto; what it stored."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from tests.support.lambda_events import FakeLambdaContext, api_event


@dataclass
class ApiAnswer:
    status: int
    body: Any
    headers: dict[str, str]


class ApiClient:
    def __init__(self, api_key_id: str = "tenant-a"):
        self.api_key_id = api_key_id

    def call(
        self, method: str, path: str, body: Any = None, *, headers=None, query=None, api_key_id=None
    ) -> ApiAnswer:
        from handlers.api import handler

        key_id = self.api_key_id if api_key_id is None else api_key_id
        event = api_event(method, path, body, api_key_id=key_id, headers=headers, query=query)
        answer = handler(event, FakeLambdaContext())
        raw = answer.get("body")
        merged = dict(answer.get("headers") or {})
        for key, values in (answer.get("multiValueHeaders") or {}).items():
            merged[key] = values[-1]
        return ApiAnswer(answer["statusCode"], json.loads(raw) if raw else None, merged)


def stored_state(env: dict[str, str]) -> dict[str, int]:
    """How many objects, items and queued messages exist: 'nothing written' checks compare these."""
    s3 = boto3.client("s3")
    objects = s3.list_objects_v2(Bucket=env["BUCKET_NAME"]).get("KeyCount", 0)
    items = boto3.client("dynamodb").scan(TableName=env["TABLE_NAME"], Select="COUNT")["Count"]
    attrs = boto3.client("sqs").get_queue_attributes(
        QueueUrl=env["JOBS_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return {"objects": objects, "items": items, "messages": int(attrs["ApproximateNumberOfMessages"])}


def chat_request(custom_id: str, text: str = "hello") -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]},
    }


def openai_job(n: int = 3, **extra: Any) -> dict[str, Any]:
    return {
        "provider": "openai",
        "endpoint": "/v1/chat/completions",
        "requests": [chat_request(f"req-{i}") for i in range(n)],
        **extra,
    }


def call_api(method: str, path: str, body: Any = None, *, tenant: str = "tenant-a") -> ApiAnswer:
    """One call as ``tenant`` (the id of the API key API Gateway accepted)."""
    return ApiClient(tenant).call(method, path, body)
