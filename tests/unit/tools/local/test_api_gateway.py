"""Local API Gateway: proxy events as API Gateway builds them, and its key check (the
deployed design: a Lambda authorizer per key header, API key source AUTHORIZER)."""

from __future__ import annotations

import base64
import json

import httpx

from batchrelay import constants as c
from batchrelay.api.key_authorizer import authorize
from batchrelay.aws.api_keys import ApiKey, KeyDirectory
from batchrelay_tools.local.api_gateway import (
    MAX_PAYLOAD_BYTES,
    ApiGateway,
    ApiServer,
    answer_from_result,
    api_key_id,
    build_proxy_event,
)
from batchrelay_tools.local.lambda_context import context_for

GOOD = "good-key-0123456789abcdef"
OTHER = "other-key-0123456789abcdef"


def real_authorizer(*values: str):
    """The authorizer's own code, over a directory of ``values`` (the emulator's keys)."""
    directory = KeyDirectory(load=lambda: iter([ApiKey(api_key_id(v), v, True) for v in values]))
    return lambda event: authorize(event, directory)


def gateway(invoke, keys=(GOOD,), known=None) -> ApiGateway:
    return ApiGateway(list(keys), invoke, authorize=real_authorizer(*(known or keys)))


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
    assert context["path"] == "/v1/jobs"   # as the client called it (no stage in local URLs)
    assert context["identity"]["apiKeyId"] == api_key_id("k")
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert event["headers"]["X-Forwarded-Proto"] == "http"


def test_multipart_bodies_arrive_base64_encoded_as_a_binary_media_type():
    event = build_proxy_event(method="POST", raw_path="/openai/v1/files", body=b"--b\r\n...",
                              headers=[("Content-Type", "multipart/form-data; boundary=b")])
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"--b\r\n..."


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


def test_a_missing_or_unknown_key_is_401_before_any_function_runs():
    invoke = Recorder()
    gw = gateway(invoke)
    for headers in ([], [("x-api-key", "")], [("x-api-key", "bad-key-0123456789abcdef")]):
        answer = gw.handle("GET", "/v1/jobs", headers, b"", "127.0.0.1")
        assert answer.status == 401 and json.loads(answer.body) == c.gateway_error_body("UNAUTHORIZED")
    assert invoke.calls == []


def test_each_route_family_reads_the_header_its_clients_send():
    invoke = Recorder()
    gw = gateway(invoke)
    ok = [("/v1/jobs", [("x-api-key", GOOD)]),
          ("/anthropic/v1/messages/batches", [("X-Api-Key", GOOD)]),
          ("/anthropic/v1/messages/batches", [("Authorization", f"Bearer {GOOD}")]),
          ("/openai/v1/batches", [("Authorization", f"Bearer {GOOD}")]),
          ("/openai/v1/files", [("authorization", f"bearer {GOOD}")])]
    for path, headers in ok:
        assert gw.handle("GET", path, headers, b"", "127.0.0.1").status == 200, path
    # Then each reached the api function as the same tenant, whichever header carried the key
    tenants = {(e["requestContext"]["identity"]["apiKeyId"], e["requestContext"]["authorizer"]["principalId"])
               for _, e, _ in invoke.calls}
    assert tenants == {(api_key_id(GOOD), api_key_id(GOOD))}
    # And the other family's header is not read: the authorizer's header is missing (401)
    wrong = [("/openai/v1/batches", [("x-api-key", GOOD)]), ("/v1/jobs", [("Authorization", f"Bearer {GOOD}")]),
             ("/openai/v1/batches", [("Authorization", GOOD)]),   # not a bearer token
             ("/anthropic/v1/messages/batches", [])]
    for path, headers in wrong:
        assert gw.handle("GET", path, headers, b"", "127.0.0.1").status == 401, (path, headers)
    assert len(invoke.calls) == len(ok)


def test_a_key_the_authorizer_knows_but_the_usage_plan_does_not_is_403():
    invoke = Recorder()
    answer = gateway(invoke, keys=(GOOD,), known=(GOOD, OTHER)).handle(
        "GET", "/v1/jobs", [("x-api-key", OTHER)], b"", "127.0.0.1")
    assert answer.status == 403 and json.loads(answer.body)["message"] == "Forbidden"
    assert invoke.calls == []


def test_the_authorizers_answer_is_cached_per_header_value():
    calls = []
    inner = real_authorizer(GOOD)

    def counting(event):
        calls.append(event["path"])
        return inner(event)

    gw = ApiGateway([GOOD], Recorder(), authorize=counting)
    for path in ("/v1/jobs", "/v1/jobs/job_1", "/v1/webhook-endpoints"):
        assert gw.handle("GET", path, [("x-api-key", GOOD)], b"", "127.0.0.1").status == 200
    # Then one authorizer run served the three routes (its policy allows the whole stage)
    assert calls == ["/v1/jobs"]


def test_a_family_of_two_headers_runs_its_uncached_authorizer_for_every_request():
    calls = []
    inner = real_authorizer(GOOD)

    def counting(event):
        calls.append(event["path"])
        return inner(event)

    gw = ApiGateway([GOOD], Recorder(), authorize=counting)
    for headers in ([("x-api-key", GOOD)], [("Authorization", f"Bearer {GOOD}")], [("x-api-key", GOOD)]):
        assert gw.handle("GET", "/anthropic/v1/messages/batches", headers, b"", "127.0.0.1").status == 200
    # Without a header it runs too (no identity source to require), and refuses
    assert gw.handle("GET", "/anthropic/v1/messages/batches", [], b"", "127.0.0.1").status == 401
    assert len(calls) == 4


def test_a_path_of_no_route_family_is_api_gateways_404():
    invoke = Recorder()
    answer = gateway(invoke).handle("GET", "/v2/jobs", [("x-api-key", GOOD)], b"", "127.0.0.1")
    assert answer.status == 404 and json.loads(answer.body) == c.gateway_error_body("MISSING_AUTHENTICATION_TOKEN")
    assert invoke.calls == []


def test_an_event_over_lambdas_limit_is_413_before_the_function_runs():
    invoke = Recorder()
    body = b"x" * (c.LAMBDA_MAX_INVOKE_BYTES - 1000)   # under API Gateway's 10 MB, over Lambda's 6 MB once escaped
    answer = gateway(invoke).handle("POST", "/openai/v1/files", [("Authorization", f"Bearer {GOOD}"),
                                    ("Content-Type", "multipart/form-data; boundary=b")], body, "127.0.0.1")
    assert answer.status == 413 and json.loads(answer.body)["error"]["type"] == "request_too_large"
    assert invoke.calls == []


def test_public_routes_need_no_key_and_the_openai_webhook_has_its_own_function():
    invoke = Recorder()
    gw = gateway(invoke)
    assert gw.handle("GET", "/v1/health", [], b"", "127.0.0.1").status == 200
    assert gw.handle("POST", "/v1/providers/openai/webhook", [], b"{}", "127.0.0.1").status == 200
    assert [call[0] for call in invoke.calls] == ["api", "openai_webhook"]
    assert invoke.calls[0][1]["requestContext"]["identity"]["apiKeyId"] is None


def test_by_default_the_gateway_runs_the_authorizer_function():
    invoke = Recorder(result={"principalId": "k1", "usageIdentifierKey": GOOD, "policyDocument": {
        "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*"}]}})
    ApiGateway([GOOD], invoke).handle("GET", "/v1/jobs", [("x-api-key", GOOD)], b"", "127.0.0.1")
    assert [call[0] for call in invoke.calls] == [c.FUNCTION_AUTHORIZER, c.FUNCTION_API]
    assert invoke.calls[0][1]["type"] == "REQUEST" and invoke.calls[0][1]["headers"]["x-api-key"] == GOOD


def test_accepted_key_reaches_the_function_as_the_tenant():
    invoke = Recorder()
    gateway(invoke).handle("GET", "/v1/jobs", [("X-Api-Key", GOOD)], b"", "127.0.0.1")
    function, event, context = invoke.calls[0]
    assert function == "api"
    assert event["requestContext"]["identity"]["apiKeyId"] == api_key_id(GOOD)
    assert context.function_name == "batchrelay-api"
    assert 0 < context.get_remaining_time_in_millis() <= 29_000


def test_a_crashing_function_is_a_502_like_api_gateway():
    answer = gateway(Recorder(error=RuntimeError("boom"))).handle(
        "GET", "/v1/jobs", [("x-api-key", GOOD)], b"", "127.0.0.1"
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

    server = ApiServer(gateway(echo)).start()
    try:
        with httpx.Client(base_url=server.url, headers={"x-api-key": GOOD}) as client:
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

    server = ApiServer(gateway(echo)).start()
    try:
        def blocks():
            yield b'{"a":'
            yield b" 1}"

        response = httpx.post(server.url + "/v1/jobs", content=blocks(), headers={"x-api-key": GOOD})
        assert response.json() == {"body": '{"a": 1}'}
    finally:
        server.stop()
