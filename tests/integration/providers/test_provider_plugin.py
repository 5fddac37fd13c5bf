"""Adding a provider is one adapter and one registry entry: a toy provider, registered in
the test, is known to the API's validation and OpenAPI enum, runs a job through the
lifecycle, and appears in the CLI's choices, the synthesized stack and local mode."""

from __future__ import annotations

import os

import pytest

from batchrelay import registry
from batchrelay.models.job import JobStatus
from batchrelay_tools.caches import reset_container_caches
from tests.support.api_client import ApiClient
from tests.support.driver import Driver
from tests.support.stored_jobs import read_lines
from tests.support.toy_provider import TOY


@pytest.fixture
def toy():
    registry.register(TOY)
    reset_container_caches()
    yield TOY
    registry.unregister(TOY.name)
    reset_container_caches()


def _toy_job(n: int = 3, **extra):
    return {
        "provider": "toy",
        "endpoint": "/v1/toy",
        "requests": [{"custom_id": f"t-{i}", "body": {"model": "toy-1", "prompt": f"p{i}"}} for i in range(n)],
        **extra,
    }


def test_the_api_validates_and_describes_a_registered_provider(toy, aws):
    api = ApiClient()
    # the OpenAPI description lists it
    spec = api.call("GET", "/v1/openapi.json").body
    schema_ref = spec["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert "toy" in spec["components"]["schemas"][schema_ref.split("/")[-1]]["properties"]["provider"]["enum"]
    # its endpoints and its own body rules are enforced
    wrong_endpoint = api.call("POST", "/v1/jobs", {**_toy_job(), "endpoint": "/v1/chat/completions"})
    assert wrong_endpoint.status == 400 and wrong_endpoint.body["error"]["field"] == "endpoint"
    assert "/v1/toy" in wrong_endpoint.body["error"]["message"]
    bad = _toy_job()
    del bad["requests"][1]["body"]["prompt"]
    refused = api.call("POST", "/v1/jobs", bad)
    assert refused.status == 400 and refused.body["error"]["field"] == "requests[1].body.prompt"
    # and a good job is accepted
    assert api.call("POST", "/v1/jobs", _toy_job()).status == 202


def test_a_registered_provider_runs_a_job_end_to_end(toy, aws, monkeypatch):
    from batchrelay.settings import get_settings

    monkeypatch.setenv("CREATION_LEASE_SECONDS", "0")
    get_settings.cache_clear()
    created = ApiClient().call("POST", "/v1/jobs", _toy_job(25, chunk_size=100))
    assert created.status == 202

    job = Driver(aws).run_until_final(created.body["id"])

    # Its registry limit (10 requests a batch) split the job, and every request has its line
    assert job.status == JobStatus.COMPLETED and job.chunks_total == 3
    assert sorted(line["custom_id"] for line in read_lines(job.results_key)) == sorted(f"t-{i}" for i in range(25))
    assert {line["provider"] for line in read_lines(job.results_key)} == {"toy"}


def test_the_cli_offers_a_registered_provider(toy):
    from batchrelay_tools.cli.main import build_parser

    args = build_parser().parse_args(["submit", "x.jsonl", "--provider", "toy", "--endpoint", "/v1/toy"])
    assert args.provider == "toy"


def test_local_mode_routes_a_registered_provider_to_the_simulator(toy, monkeypatch):
    from batchrelay_tools.local.config import LocalConfig
    from batchrelay_tools.local.stack import LocalStack

    for spec in registry.specs():
        monkeypatch.delenv(spec.api_key_env, raising=False)
        monkeypatch.delenv(spec.base_url_env, raising=False)
    config = LocalConfig(port=0, api_key="k-0123456789abcdefghij", poll_seconds=60)
    with LocalStack(config, invoke=lambda *args: {"statusCode": 200, "body": "{}"}) as stack:
        assert "toy" in stack.simulated_providers
        assert os.environ["TOY_BASE_URL"] == stack.simulator.base_url + "/toy/v1"
        assert os.environ["TOY_API_KEY"]


@pytest.mark.slow
def test_the_stack_gives_a_registered_provider_its_secret_and_settings(toy, tmp_path):
    from aws_cdk.assertions import Template

    from app import build_app

    _, stack = build_app(context={"bundle": "false", "toy_max_requests_per_batch": "7"}, outdir=str(tmp_path))
    template = Template.from_stack(stack).to_json()
    secret = stack.secrets.api_keys["toy"]
    secret_id = stack.get_logical_id(secret.node.default_child)
    assert template["Resources"][secret_id]["Type"] == "AWS::SecretsManager::Secret"
    submitter = stack.functions.functions["submitter"]
    variables = template["Resources"][stack.get_logical_id(submitter.node.default_child)]["Properties"][
        "Environment"]["Variables"]
    assert variables["TOY_SECRET_ARN"] == {"Ref": secret_id}
    assert variables["TOY_MAX_REQUESTS_PER_BATCH"] == "7"
    # and the submitter may read that secret
    role_id = stack.get_logical_id(submitter.role.node.default_child)
    policies = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"
                and {"Ref": role_id} in r["Properties"]["Roles"]]
    readable = str([s["Resource"] for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]
                    if "secretsmanager:GetSecretValue" in s["Action"]])
    assert secret_id in readable
