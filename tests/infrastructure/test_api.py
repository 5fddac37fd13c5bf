"""The REST API: routes, API keys, usage plan, logs, outputs."""

from __future__ import annotations

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


def test_v1_routes_need_an_api_key_and_go_to_the_api_function(synthesized):
    methods = _methods_by_path(synthesized)
    proxy = methods[("/v1/{proxy+}", "ANY")]
    assert proxy["ApiKeyRequired"] is True
    assert proxy["Integration"]["Type"] == "AWS_PROXY"
    assert _integration_target(proxy) == synthesized.logical_id(synthesized.stack.functions.api)


def test_health_is_open(synthesized):
    health = _methods_by_path(synthesized)[(c.HEALTH_PATH, "GET")]
    assert health["ApiKeyRequired"] is False
    assert _integration_target(health) == synthesized.logical_id(synthesized.stack.functions.api)


def test_openai_webhook_is_open_and_goes_to_its_own_function(synthesized):
    webhook = _methods_by_path(synthesized)[(c.OPENAI_WEBHOOK_PATH, "POST")]
    assert webhook["ApiKeyRequired"] is False
    assert _integration_target(webhook) == synthesized.logical_id(synthesized.stack.functions.openai_webhook)


def test_only_the_expected_routes_exist(synthesized):
    assert set(_methods_by_path(synthesized)) == {
        ("/v1/{proxy+}", "ANY"),
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
