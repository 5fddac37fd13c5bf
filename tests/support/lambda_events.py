"""Small builders for Lambda events used across the tests."""

from __future__ import annotations

import json
import uuid
from typing import Any


def api_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    api_key_id: str | None = "tenant-a",
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event, as the `api` function receives it."""
    raw_body = body if isinstance(body, str) or body is None else json.dumps(body)
    all_headers = {"content-type": "application/json", **(headers or {})}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": str(uuid.uuid4()),
            "identity": {"apiKeyId": api_key_id, "sourceIp": "127.0.0.1"},
        },
        "body": raw_body,
        "isBase64Encoded": False,
    }


def sqs_event(bodies: list[Any], *, queue_arn: str = "arn:aws:sqs:us-east-1:123456789012:q") -> dict[str, Any]:
    """A Lambda SQS event with one record per body."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "rh",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "0",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "0",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }


class FakeLambdaContext:
    function_name = "test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "req-1"

    def __init__(self, remaining_ms: int = 60_000):
        self._remaining = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining
