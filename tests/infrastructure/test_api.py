"""The REST API: routes, API keys, usage plan, logs, outputs."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from batchrelay import constants as c


def _methods_by_path(synthesized) -> dict[tuple[str, str], dict]:
    resources = synthesized.of_type("AWS::ApiGateway::Resource")

    def path_of(resource_ref: dict) -> str:
        if "Ref" not in resource_ref:  # the root resource
            return ""
        resource = resources[resource_ref["Ref"]]["Properties"]
        return f"{path_of(resource['ParentId'])}/{resource['PathPart']}"

    return {
        (path_of(m["Properties"]["ResourceId"]), m["Properties"]["HttpMethod"]): m["Properties"]
        for m in synthesized.of_type("AWS::ApiGateway::Method").values()
    }


def _integration_target(method: dict) -> str:
    return method["Integration"]["Uri"]["Fn::Join"][1][-2]["Fn::GetAtt"][0]


def _authorizers(synthesized) -> dict[str, dict]:
    return synthesized.of_type("AWS::ApiGateway::Authorizer")


def test_v1_routes_need_an_api_key_and_go_to_the_api_function(synthesized):
    methods = _methods_by_path(synthesized)
    proxy = methods[("/v1/{proxy+}", "ANY")]
    assert proxy["ApiKeyRequired"] is True
    assert proxy["Integration"]["Type"] == "AWS_PROXY"
    assert _integration_target(proxy) == synthesized.logical_id(synthesized.stack.functions.api)


def test_the_api_key_comes_from_the_authorizers(synthesized):
    # One setting for the whole API: the key is what an authorizer returns (usageIdentifierKey)
    (rest_api,) = synthesized.of_type("AWS::ApiGateway::RestApi").values()
    assert rest_api["Properties"]["ApiKeySourceType"] == "AUTHORIZER"
    assert rest_api["Properties"]["BinaryMediaTypes"] == ["multipart/form-data"]


def _identity(authorizer: dict) -> tuple[str | None, int]:
    properties = authorizer["Properties"]
    source = properties.get("IdentitySource")
    return (source.rsplit(".", 1)[1] if source else None), properties["AuthorizerResultTtlInSeconds"]


def test_request_authorizers_per_key_header_all_running_the_authorizer_function(synthesized):
    authorizers = _authorizers(synthesized)
    function_id = synthesized.logical_id(synthesized.stack.functions.authorizer)
    for authorizer in authorizers.values():
        assert authorizer["Properties"]["Type"] == "REQUEST"
        assert function_id in str(authorizer["Properties"]["AuthorizerUri"])
    # A cached one per header (API Gateway requires its header before it runs), and an
    # uncached one that reads either header (it runs for every request of its routes)
    assert sorted(map(_identity, authorizers.values()), key=str) == sorted([
        ("x-api-key", c.AUTHORIZER_CACHE_SECONDS), ("Authorization", c.AUTHORIZER_CACHE_SECONDS), (None, 0),
    ], key=str)
    # API Gateway may invoke the function for each of them
    permissions = [
        perm["Properties"] for perm in synthesized.of_type("AWS::Lambda::Permission").values()
        if perm["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]
    assert len(permissions) == 3 and all(p["Principal"] == "apigateway.amazonaws.com" for p in permissions)


def test_each_route_family_needs_a_key_through_the_authorizer_of_its_clients_headers(synthesized):
    methods = _methods_by_path(synthesized)
    identity_of = {logical_id: _identity(a) for logical_id, a in _authorizers(synthesized).items()}
    expected = {
        "/v1": ("x-api-key", c.AUTHORIZER_CACHE_SECONDS),           # batchrelay's clients
        "/openai/v1": ("Authorization", c.AUTHORIZER_CACHE_SECONDS),  # the openai SDK
        "/anthropic/v1": (None, 0),                                 # the anthropic SDK: 0.x x-api-key, 2.x Bearer
    }
    assert c.KEY_HEADERS == {"/v1": ("x-api-key",), "/openai/v1": ("Authorization",),
                             "/anthropic/v1": ("x-api-key", "Authorization")}
    for prefix, identity in expected.items():
        method = methods[(f"{prefix}/{{proxy+}}", "ANY")]
        # Then the key is required (usage plan, throttling per key) and found by that family's authorizer
        assert method["ApiKeyRequired"] is True
        assert method["AuthorizationType"] == "CUSTOM"
        assert identity_of[method["AuthorizerId"]["Ref"]] == identity
        assert _integration_target(method) == synthesized.logical_id(synthesized.stack.functions.api)


def test_gateway_answers_read_as_every_clients_error_shape(synthesized):
    gateway_responses = synthesized.of_type("AWS::ApiGateway::GatewayResponse").values()
    responses = {r["Properties"]["ResponseType"]: r["Properties"] for r in gateway_responses}
    assert set(responses) == set(c.GATEWAY_RESPONSES)
    for response_type, (status, error_type, _, _) in c.GATEWAY_RESPONSES.items():
        body = json.loads(responses[response_type]["ResponseTemplates"]["application/json"])
        assert responses[response_type]["StatusCode"] == str(status)
        assert body == c.gateway_error_body(response_type)
        # batchrelay's clients read message; the openai SDK error.message; the anthropic SDK type + error.type
        assert body["message"] and body["error"]["message"] and body["type"] == "error"
        assert body["error"]["type"] == error_type


def test_health_is_open(synthesized):
    health = _methods_by_path(synthesized)[(c.HEALTH_PATH, "GET")]
    assert health["ApiKeyRequired"] is False
    assert _integration_target(health) == synthesized.logical_id(synthesized.stack.functions.api)


def test_openai_webhook_is_open_and_goes_to_its_own_function(synthesized):
    webhook = _methods_by_path(synthesized)[(c.OPENAI_WEBHOOK_PATH, "POST")]
    assert webhook["ApiKeyRequired"] is False
    assert _integration_target(webhook) == synthesized.logical_id(synthesized.stack.functions.openai_webhook)


def test_open_routes_have_no_authorizer(synthesized):
    methods = _methods_by_path(synthesized)
    for route in ((c.HEALTH_PATH, "GET"), (c.OPENAI_WEBHOOK_PATH, "POST")):
        assert methods[route]["AuthorizationType"] == "NONE"
        assert "AuthorizerId" not in methods[route]


def test_only_the_expected_routes_exist(synthesized):
    assert set(_methods_by_path(synthesized)) == {
        ("/v1/{proxy+}", "ANY"),
        ("/openai/v1/{proxy+}", "ANY"),
        ("/anthropic/v1/{proxy+}", "ANY"),
        (c.HEALTH_PATH, "GET"),
        (c.OPENAI_WEBHOOK_PATH, "POST"),
    }


def test_usage_plan_throttles_the_api_key_on_the_stage(synthesized):
    settings = synthesized.settings
    template = synthesized.template
    template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {
            "Throttle": {
                "RateLimit": settings.api_throttle_rate_limit,
                "BurstLimit": settings.api_throttle_burst_limit,
            },
            "ApiStages": [Match.object_like({"Stage": Match.any_value()})],
        },
    )
    template.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    template.resource_count_is("AWS::ApiGateway::UsagePlanKey", 1)


def test_stage_writes_access_logs_and_never_logs_bodies(synthesized):
    synthesized.template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "test",
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
            "TracingEnabled": True,
            "MethodSettings": [Match.object_like({"DataTraceEnabled": False, "LoggingLevel": "ERROR"})],
        },
    )


def test_outputs_tell_the_user_what_was_deployed(synthesized):
    outputs = synthesized.template.to_json()["Outputs"]
    assert {
        "ApiUrl",
        "OpenAiBaseUrl",
        "AnthropicBaseUrl",
        "OpenAiWebhookUrl",
        "ApiKeyId",
        "BucketName",
        "TableName",
        "EventsTopicArn",
        "AlarmTopicArn",
        "OpenAiSecretArn",
        "AnthropicSecretArn",
        "OpenAiWebhookSecretArn",
    } <= set(outputs)
