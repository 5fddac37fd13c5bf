"""Local API Gateway: proxy events as API Gateway builds them, and its key check."""

from __future__ import annotations

import base64
import json

import httpx

from batchrelay_tools.local.api_gateway import (
    MAX_PAYLOAD_BYTES,
    ApiGateway,
    ApiServer,
    answer_from_result,
    api_key_id,
    build_proxy_event,
)
from batchrelay_tools.local.lambda_context import context_for


def test_event_has_the_rest_proxy_shape():
    event = build_proxy_event(
        method="post",
        raw_path="/v1/jobs?status=queued&status=failed&limit=5",
        headers=[("Content-Type", "application/json"), ("x-api-key", "k")],
        body=b'{"a": 1}',
        api_key="k",
        request_id="req-1",
    )
    assert event["httpMethod"] == "POST"
    assert event["path"] == "/v1/jobs"
    assert event["queryStringParameters"] == {"status": "failed", "limit": "5"}
    assert event["multiValueQueryStringParameters"]["status"] == ["queued", "failed"]
    assert event["headers"]["Content-Type"] == "application/json"
    assert event["multiValueHeaders"]["x-api-key"] == ["k"]
    assert event["body"] == '{"a": 1}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["requestId"] == "req-1"
    assert context["stage"] == "local"
    assert context["identity"]["apiKeyId"] == api_key_id("k")
    assert context["identity"]["sourceIp"] == "127.0.0.1"


def test_empty_query_and_body_are_null_and_binary_is_base64():
    empty = build_proxy_event(method="GET", raw_path="/v1/health", headers=[], body=b"")
    assert empty["queryStringParameters"] is None and empty["body"] is None
    binary = build_proxy_event(method="POST", raw_path="/x", headers=[], body=b"\xff\x00")
    assert binary["isBase64Encoded"] is True and base64.b64decode(binary["body"]) == b"\xff\x00"


def test_key_id_is_stable_and_distinct():
    assert api_key_id("a") == api_key_id("a") != api_key_id("b")
    assert api_key_id("a").startswith("local-")


class Recorder:
    def __init__(self, result=None, error=None):
        self.calls = []
        self.result = result or {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}
        self.error = error

    def __call__(self, function, event, context):
        self.calls.append((function, event, context))
        if self.error:
            raise self.error
        return self.result


def test_missing_or_wrong_key_is_forbidden_before_any_function_runs():
    invoke = Recorder()
    gateway = ApiGateway(["good"], invoke)
    for headers in ([], [("x-api-key", "bad")]):
        answer = gateway.handle("GET", "/v1/jobs", headers, b"", "127.0.0.1")
        assert answer.status == 403 and json.loads(answer.body) == {"message": "Forbidden"}
    assert invoke.calls == []


def test_public_routes_need_no_key_and_the_openai_webhook_has_its_own_function():
    invoke = Recorder()
    gateway = ApiGateway(["good"], invoke)
    assert gateway.handle("GET", "/v1/health", [], b"", "127.0.0.1").status == 200
    assert gateway.handle("POST", "/v1/providers/openai/webhook", [], b"{}", "127.0.0.1").status == 200
    assert [call[0] for call in invoke.calls] == ["api", "openai_webhook"]
    assert invoke.calls[0][1]["requestContext"]["identity"]["apiKeyId"] is None


def test_accepted_key_reaches_the_function_as_the_tenant():
    invoke = Recorder()
    ApiGateway(["good"], invoke).handle("GET", "/v1/jobs", [("X-Api-Key", "good")], b"", "127.0.0.1")
    function, event, context = invoke.calls[0]
    assert function == "api"
    assert event["requestContext"]["identity"]["apiKeyId"] == api_key_id("good")
    assert context.function_name == "batchrelay-api"
    assert 0 < context.get_remaining_time_in_millis() <= 29_000


def test_a_crashing_function_is_a_502_like_api_gateway():
    answer = ApiGateway(["k"], Recorder(error=RuntimeError("boom"))).handle(
        "GET", "/v1/jobs", [("x-api-key", "k")], b"", "127.0.0.1"
    )
    assert answer.status == 502 and json.loads(answer.body) == {"message": "Internal server error"}


def test_proxy_result_headers_and_base64_body():
    answer = answer_from_result(
        {"statusCode": 201, "multiValueHeaders": {"Set-Cookie": ["a", "b"]}, "headers": {"X-One": "1"},
         "body": base64.b64encode(b"\x01\x02").decode(), "isBase64Encoded": True},
        "r",
    )
    assert answer.status == 201 and answer.body == b"\x01\x02"
    assert ("Set-Cookie", "a") in answer.headers and ("Set-Cookie", "b") in answer.headers
    assert ("X-One", "1") in answer.headers


def test_http_server_round_trip_and_payload_limit():
    def echo(function, event, context):
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"path": event["path"], "len": len(event["body"] or "")})}

    server = ApiServer(ApiGateway(["k"], echo)).start()
    try:
        with httpx.Client(base_url=server.url, headers={"x-api-key": "k"}) as client:
            ok = client.post("/v1/jobs", content=b"x" * 1000)
            assert ok.status_code == 200 and ok.json() == {"path": "/v1/jobs", "len": 1000}
            assert "x-amzn-requestid" in ok.headers
            too_big = client.post("/v1/jobs", content=b"x" * (MAX_PAYLOAD_BYTES + 1))
            assert too_big.status_code == 413
    finally:
        server.stop()


def test_context_for_uses_the_function_timeout():
    assert context_for("poller").timeout_seconds == 55


def test_chunked_request_bodies_are_read():
    def echo(function, event, context):
        return {"statusCode": 200, "body": json.dumps({"body": event["body"]})}

    server = ApiServer(ApiGateway(["k"], echo)).start()
    try:
        def blocks():
            yield b'{"a":'
            yield b" 1}"

        response = httpx.post(server.url + "/v1/jobs", content=blocks(), headers={"x-api-key": "k"})
        assert response.json() == {"body": '{"a": 1}'}
    finally:
        server.stop()
