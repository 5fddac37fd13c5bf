"""The stack with the OpenAI-shaped providers: a secret and settings for Azure OpenAI and Groq,
and two OpenAI-compatible servers configured in context, registered in the CDK app and passed
on to every function, each with its own secret."""

from __future__ import annotations

import json

import pytest

from batchrelay import constants as c
from batchrelay import registry
from infra.settings import StackSettings
from tests.support.openai_shaped import COMPATIBLE_SERVERS


def _variables(template: dict, stack, function: str) -> dict:
    fn = stack.functions.functions[function]
    return template["Resources"][stack.get_logical_id(fn.node.default_child)]["Properties"]["Environment"][
        "Variables"]


def _readable_secrets(template: dict, stack, function: str) -> str:
    role_id = stack.get_logical_id(stack.functions.functions[function].role.node.default_child)
    policies = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"
                and {"Ref": role_id} in r["Properties"]["Roles"]]
    return str([s["Resource"] for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]
                if "secretsmanager:GetSecretValue" in s["Action"]])


@pytest.mark.slow
def test_the_stack_registers_configured_servers_and_gives_each_provider_its_secret_and_settings(tmp_path):
    from aws_cdk.assertions import Template

    from app import build_app

    context = {
        "bundle": "false",
        "openai_compatible_providers": json.dumps(COMPATIBLE_SERVERS),  # as -c passes it: JSON text
        "azure_openai_base_url": "https://example-resource.openai.azure.com",
        "azure_openai_api_version": "2025-03-01-preview",
        "azure_openai_max_batch_age_seconds": "43200",
        "groq_max_requests_per_batch": "20000",
    }
    try:
        _, stack = build_app(context=context, outdir=str(tmp_path))
        template = Template.from_stack(stack).to_json()

        # Every OpenAI-shaped provider has its own secret, the configured servers too
        for name in ("azure_openai", "groq", "vllm_lab", "acme_batch"):
            assert name in stack.secrets.api_keys, name
        submitter = _variables(template, stack, c.FUNCTION_SUBMITTER)
        for name in ("azure_openai", "groq", "vllm_lab", "acme_batch"):
            secret_id = stack.get_logical_id(stack.secrets.api_keys[name].node.default_child)
            assert submitter[registry.spec(name).secret_arn_env] == {"Ref": secret_id}
            assert secret_id in _readable_secrets(template, stack, c.FUNCTION_SUBMITTER)
        # Azure's address, api-version and maximum batch age, Groq's limit, the servers' own limits
        assert submitter["AZURE_OPENAI_BASE_URL"] == "https://example-resource.openai.azure.com"
        assert submitter["AZURE_OPENAI_API_VERSION"] == "2025-03-01-preview"
        assert submitter["GROQ_MAX_REQUESTS_PER_BATCH"] == "20000"
        assert submitter["VLLM_LAB_MAX_REQUESTS_PER_BATCH"] == "1000"
        # The API (which sets a job's maximum age) and the poller (which enforces it) know it
        assert _variables(template, stack, c.FUNCTION_API)["AZURE_OPENAI_MAX_BATCH_AGE_SECONDS"] == "43200"
        # Every function that reads the registry registers the same servers at import; the
        # authorizer reads API keys only and is told nothing of providers
        for function in stack.functions.functions:
            variables = _variables(template, stack, function)
            if function == c.FUNCTION_AUTHORIZER:
                assert c.ENV_OPENAI_COMPATIBLE_PROVIDERS not in variables
                assert not any(name.startswith(("AZURE_OPENAI_", "GROQ_", "VLLM_LAB_")) for name in variables)
                continue
            assert json.loads(variables[c.ENV_OPENAI_COMPATIBLE_PROVIDERS]) == COMPATIBLE_SERVERS, function
    finally:
        for server in COMPATIBLE_SERVERS:
            registry.unregister(server["name"])


def test_a_configuration_too_large_for_lambdas_environment_is_refused_at_synth():
    big = [{"name": "big_server", "base_url": "https://big.example/v1",
            "prices": {"models": {f"model-{i}": {"input": 1.0, "output": 2.0} for i in range(100)}}}]
    with pytest.raises(ValueError, match="4 KB"):
        StackSettings(openai_compatible_providers=tuple(big))


def test_a_server_registered_under_a_name_taken_by_another_provider_is_refused():
    with pytest.raises(ValueError, match="registered already"):
        registry.register_openai_compatible([{"name": "groq", "base_url": "https://elsewhere.example/v1"}])
