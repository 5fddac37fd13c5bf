"""Amazon Bedrock in the template: the service role and its trust policy, what the functions
may call (and pass), and the EventBridge rule that feeds the fast path."""

from __future__ import annotations

from typing import Any

from batchrelay import constants as c
from batchrelay.providers.bedrock_events import ENDED_STATUSES, EVENT_DETAIL_TYPE, EVENT_SOURCE


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _role(synthesized) -> dict[str, Any]:
    return synthesized.resources[synthesized.logical_id(synthesized.stack.bedrock_role.role)]


def _role_policy(synthesized) -> list[dict[str, Any]]:
    role_id = synthesized.logical_id(synthesized.stack.bedrock_role.role)
    return [statement for policy in synthesized.of_type("AWS::IAM::Policy").values()
            if {"Ref": role_id} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]]


def _joined(value: Any) -> str:
    """An Fn::Join as text, references as <Ref>/<Attr> (for reading ARNs)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        return "".join(_joined(part) for part in value["Fn::Join"][1])
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return f"<{value['Fn::GetAtt'][0]}.{value['Fn::GetAtt'][1]}>"
    raise AssertionError(value)


def test_the_service_role_is_trusted_by_bedrock_for_this_accounts_jobs_only(synthesized):
    statements = _role(synthesized)["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert len(statements) == 1
    trust = statements[0]
    assert trust["Effect"] == "Allow" and trust["Action"] == "sts:AssumeRole"
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert _joined(trust["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(
        ":<AWS::AccountId>:model-invocation-job/*")
    # and it carries no managed policy
    assert "ManagedPolicyArns" not in _role(synthesized)["Properties"]


def test_the_service_role_reads_chunk_request_files_and_writes_one_prefix_nothing_else(synthesized):
    bucket = synthesized.logical_id(synthesized.stack.bucket.bucket)
    granted = {}
    for statement in _role_policy(synthesized):
        for action in _as_list(statement["Action"]):
            for resource in _as_list(statement["Resource"]):
                granted.setdefault(action, set()).add(
                    (_joined(resource), str(statement.get("Condition", ""))))
    assert set(granted) == {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}
    assert {r for r, _ in granted["s3:GetObject"]} == {f"<{bucket}.Arn>/chunks/*/provider.jsonl"}
    assert {r for r, _ in granted["s3:PutObject"]} == {f"<{bucket}.Arn>/{c.BEDROCK_OUTPUT_PREFIX}*"}
    ((listed, condition),) = granted["s3:ListBucket"]
    assert listed == f"<{bucket}.Arn>" and "chunks/*" in condition and c.BEDROCK_OUTPUT_PREFIX in condition


def test_only_the_submitter_passes_the_role_and_only_to_bedrock(synthesized):
    role_arn = {"Fn::GetAtt": [synthesized.logical_id(synthesized.stack.bedrock_role.role), "Arn"]}
    passers = {}
    for name in synthesized.stack.functions.functions:
        for statement in synthesized.role_statements(name):
            if "iam:PassRole" in _as_list(statement["Action"]):
                passers[name] = statement
    assert set(passers) == {c.FUNCTION_SUBMITTER}
    statement = passers[c.FUNCTION_SUBMITTER]
    assert statement["Resource"] == role_arn
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}
    # and the submitter is told the role
    submitter = synthesized.resources[synthesized.logical_id(synthesized.stack.functions.functions["submitter"])]
    variables = submitter["Properties"]["Environment"]["Variables"]
    assert variables[c.ENV_BEDROCK_ROLE_ARN] == role_arn
    assert variables[c.ENV_BEDROCK_TIMEOUT_HOURS] == "48"


def test_the_functions_reach_bedrock_jobs_of_this_account_and_invoke_only_the_allowed_models(synthesized):
    by_action: dict[str, set[str]] = {}
    for name in synthesized.stack.functions.functions:
        for statement in synthesized.role_statements(name):
            for action in _as_list(statement["Action"]):
                if action.startswith("bedrock:"):
                    for resource in _as_list(statement["Resource"]):
                        by_action.setdefault(action, set()).add(f"{name} {_joined(resource)}")
    jobs = ":<AWS::Region>:<AWS::AccountId>:model-invocation-job/*"
    assert all(entry.endswith(jobs) for entry in by_action["bedrock:CreateModelInvocationJob"])
    assert {entry.split()[0] for entry in by_action["bedrock:GetModelInvocationJob"]} == {
        c.FUNCTION_SUBMITTER, c.FUNCTION_POLLER, c.FUNCTION_COLLECTOR, c.FUNCTION_BEDROCK_EVENTS}
    assert {entry.split()[0] for entry in by_action["bedrock:ListModelInvocationJobs"]} == {
        c.FUNCTION_SUBMITTER, c.FUNCTION_POLLER}
    models = {entry.split(" ", 1)[1] for entry in by_action["bedrock:InvokeModel"]}
    assert models == {
        "arn:<AWS::Partition>:bedrock:*::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0",
        "arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:inference-profile/"
        "us.anthropic.claude-sonnet-4-20250514-v1:0",
        "arn:<AWS::Partition>:bedrock:<AWS::Region>::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0",
    }
    assert {entry.split()[0] for entry in by_action["bedrock:InvokeModel"]} == {c.FUNCTION_SUBMITTER}
    # and the validators are told the allowed models
    for name in (c.FUNCTION_API, c.FUNCTION_SUBMITTER):
        fn = synthesized.resources[synthesized.logical_id(synthesized.stack.functions.functions[name])]
        assert fn["Properties"]["Environment"]["Variables"]["BEDROCK_ALLOWED_MODELS"].startswith("anthropic.")


def test_the_rule_sends_this_accounts_ended_jobs_to_the_fast_path(synthesized):
    rule = synthesized.resources[synthesized.logical_id(synthesized.stack.bedrock_events.rule)]["Properties"]
    assert rule["EventPattern"] == {
        "source": [EVENT_SOURCE],
        "detail-type": [EVENT_DETAIL_TYPE],
        "account": [{"Ref": "AWS::AccountId"}],
        "detail": {"status": list(ENDED_STATUSES)},
    }
    assert rule["State"] == "ENABLED"
    (target,) = rule["Targets"]
    fast_path = synthesized.logical_id(synthesized.stack.functions.bedrock_events)
    assert target["Arn"] == {"Fn::GetAtt": [fast_path, "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 3
    # EventBridge may invoke it (and only through this rule)
    permissions = [p["Properties"] for p in synthesized.of_type("AWS::Lambda::Permission").values()
                   if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [fast_path, "Arn"]}]
    assert [(p["Principal"], p["SourceArn"]) for p in permissions] == [
        ("events.amazonaws.com", {"Fn::GetAtt": [synthesized.logical_id(synthesized.stack.bedrock_events.rule),
                                                 "Arn"]})]


def test_the_service_role_arn_is_an_output(synthesized):
    outputs = synthesized.template.to_json()["Outputs"]
    assert outputs["BedrockServiceRoleArn"]["Value"] == {
        "Fn::GetAtt": [synthesized.logical_id(synthesized.stack.bedrock_role.role), "Arn"]}
