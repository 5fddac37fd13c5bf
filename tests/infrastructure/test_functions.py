"""Lambda functions, their environment and the poller's schedule."""

from __future__ import annotations

from batchrelay import constants as c
from batchrelay import registry
from infra.functions import ALL_FUNCTIONS

EXPECTED_FUNCTIONS = {
    c.FUNCTION_API,
    c.FUNCTION_SUBMITTER,
    c.FUNCTION_POLLER,
    c.FUNCTION_COLLECTOR,
    c.FUNCTION_WEBHOOK,
    c.FUNCTION_OPENAI_WEBHOOK,
    c.FUNCTION_AUTHORIZER,
}


def _function(synthesized, name: str) -> dict:
    return synthesized.resources[synthesized.logical_id(synthesized.stack.functions.functions[name])]["Properties"]


def test_the_seven_functions_exist(synthesized):
    assert set(ALL_FUNCTIONS) == EXPECTED_FUNCTIONS
    assert len(synthesized.of_type("AWS::Lambda::Function")) == len(EXPECTED_FUNCTIONS)


def test_functions_run_python_3_13_on_arm64_with_active_tracing(synthesized):
    for name in EXPECTED_FUNCTIONS:
        properties = _function(synthesized, name)
        assert properties["Runtime"] == "python3.13"
        assert properties["Architectures"] == ["arm64"]
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["Handler"] == f"handlers.{name}.handler"
        assert properties["Timeout"] == c.FUNCTION_TIMEOUTS[name]


def test_functions_carry_powertools_settings(synthesized):
    for name in EXPECTED_FUNCTIONS:
        variables = _function(synthesized, name)["Environment"]["Variables"]
        assert variables[c.ENV_POWERTOOLS_SERVICE_NAME] == c.SERVICE_NAME
        assert variables[c.ENV_POWERTOOLS_METRICS_NAMESPACE] == c.METRICS_NAMESPACE
        assert variables[c.ENV_RETENTION_DAYS] == str(synthesized.settings.retention_days)
        assert variables[c.ENV_DEFAULT_CHUNK_SIZE] == str(c.DEFAULT_CHUNK_SIZE)
        assert variables[c.ENV_POLL_MIN_DELAY_SECONDS] == str(synthesized.settings.poll_rate_minutes * 60)
        if c.ENV_TABLE_NAME in c.FUNCTION_ENVIRONMENT[name]:   # every function but the authorizer
            assert variables[c.ENV_TABLE_NAME] == {"Ref": synthesized.logical_id(synthesized.stack.table.table)}


def test_functions_are_told_only_about_the_resources_they_use(synthesized):
    api = _function(synthesized, c.FUNCTION_API)["Environment"]["Variables"]
    collector = _function(synthesized, c.FUNCTION_COLLECTOR)["Environment"]["Variables"]
    openai_webhook = _function(synthesized, c.FUNCTION_OPENAI_WEBHOOK)["Environment"]["Variables"]

    provider_secrets = {spec.secret_arn_env for spec in registry.specs()}
    assert {c.ENV_BUCKET_NAME, c.ENV_JOBS_QUEUE_URL} <= set(api)
    assert not (provider_secrets | {c.ENV_OPENAI_WEBHOOK_SECRET_ARN}) & set(api)
    assert c.ENV_EVENTS_TOPIC_ARN in collector
    assert provider_secrets <= set(collector)
    assert {c.ENV_COLLECT_QUEUE_URL, c.ENV_OPENAI_WEBHOOK_SECRET_ARN} <= set(openai_webhook)
    # The fast path reads OpenAI batches back: its key, never another provider's
    assert set(openai_webhook) & provider_secrets == {registry.spec("openai").secret_arn_env}
    assert c.ENV_BUCKET_NAME not in openai_webhook
    # The authorizer is told about nothing of the stack: it reads API keys only
    authorizer = _function(synthesized, c.FUNCTION_AUTHORIZER)["Environment"]["Variables"]
    assert not {c.ENV_TABLE_NAME, c.ENV_BUCKET_NAME, *provider_secrets} & set(authorizer)


def test_every_function_knows_its_name_and_has_what_its_settings_require(synthesized):
    for name in EXPECTED_FUNCTIONS:
        variables = _function(synthesized, name)["Environment"]["Variables"]
        assert variables[c.ENV_FUNCTION] == name
        assert set(c.FUNCTION_ENVIRONMENT[name]) <= set(variables)


def test_every_function_logs_to_a_log_group_with_retention(synthesized):
    log_groups = synthesized.of_type("AWS::Logs::LogGroup")
    for name in EXPECTED_FUNCTIONS:
        log_group_id = _function(synthesized, name)["LoggingConfig"]["LogGroup"]["Ref"]
        assert log_groups[log_group_id]["Properties"]["RetentionInDays"] == synthesized.settings.log_retention_days


def test_schedule_invokes_the_poller_at_the_configured_rate(synthesized):
    # Given poll_rate_minutes=5 in the test context
    poller_id = synthesized.logical_id(synthesized.stack.functions.poller)
    (rule,) = synthesized.of_type("AWS::Events::Rule").values()
    # Then one rule fires every 5 minutes and targets the poller
    assert rule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    assert [t["Arn"] for t in rule["Properties"]["Targets"]] == [{"Fn::GetAtt": [poller_id, "Arn"]}]
    synthesized.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"FunctionName": {"Fn::GetAtt": [poller_id, "Arn"]}, "Principal": "events.amazonaws.com"},
    )


def test_alarms_watch_every_dead_letter_queue_and_every_function(synthesized):
    stack = synthesized.stack
    alarms = [a["Properties"] for a in synthesized.of_type("AWS::CloudWatch::Alarm").values()]
    watched_queues = {
        d["Value"]["Fn::GetAtt"][0]
        for a in alarms
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        for d in a["Dimensions"]
    }
    watched_functions = {
        d["Value"]["Ref"]
        for a in alarms
        if a.get("MetricName") == "Errors" and a.get("Namespace") == "AWS/Lambda"
        for d in a["Dimensions"]
    }
    assert watched_queues == {stack.get_logical_id(q.dead_letter_queue.node.default_child) for q in stack.queues.all}
    assert watched_functions == {synthesized.logical_id(fn) for fn in stack.functions.functions.values()}
    assert all(a["Threshold"] == 0 and a["ComparisonOperator"] == "GreaterThanThreshold" for a in alarms)
    assert len(synthesized.of_type("AWS::CloudWatch::Dashboard")) == 1


def test_the_functions_that_check_webhook_urls_are_told_the_allowed_destinations(synthesized):
    # Given two extra destinations in the test context
    for name in EXPECTED_FUNCTIONS:
        variables = _function(synthesized, name)["Environment"]["Variables"]
        if name in (c.FUNCTION_API, c.FUNCTION_WEBHOOK):
            # Then registration (api) and every attempt (webhook) check against the same list
            assert variables[c.ENV_WEBHOOK_ALLOWED_DESTINATIONS] == "hooks.example.com:8443,*:9443"
        else:
            assert c.ENV_WEBHOOK_ALLOWED_DESTINATIONS not in variables
        # And no deployed function has local mode's exceptions
        assert c.ENV_WEBHOOK_ALLOW_HTTP not in variables and c.ENV_WEBHOOK_ALLOW_LOOPBACK not in variables


def test_an_alarm_watches_providers_refusing_the_api_key(synthesized):
    alarms = [a["Properties"] for a in synthesized.of_type("AWS::CloudWatch::Alarm").values()]
    (alarm,) = [a for a in alarms if a.get("MetricName") == c.METRIC_PROVIDER_CREDENTIALS_REFUSED]
    assert alarm["Namespace"] == c.METRICS_NAMESPACE
    assert alarm["Dimensions"] == [{"Name": "service", "Value": c.SERVICE_NAME}]
