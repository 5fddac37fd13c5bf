"""The local stack in-process with a stand-in for the functions: wiring and environment."""

from __future__ import annotations

import json
import os

import httpx
import pytest

from batchrelay import constants as c
from batchrelay import registry
from batchrelay_tools.local.config import LocalConfig
from batchrelay_tools.local.stack import HandlerCache, LocalStack

KEY = "k-0123456789abcdefghij"
_real = HandlerCache()


def _ok(function, event, context):
    if function == c.FUNCTION_AUTHORIZER:
        return _real.invoke(function, event, context)   # the real authorizer, over the emulator's keys
    return {"statusCode": 200, "body": json.dumps({"function": function})}


@pytest.fixture
def no_provider_keys(monkeypatch):
    for spec in registry.specs():
        monkeypatch.delenv(spec.api_key_env, raising=False)
        monkeypatch.delenv(spec.base_url_env, raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def test_simulated_stack_wires_env_and_restores_it(no_provider_keys):
    before = dict(os.environ)
    config = LocalConfig(port=0, api_key=KEY, poll_seconds=60)
    with LocalStack(config, invoke=_ok) as stack:
        # the functions see the emulator, the resources and the simulator
        assert os.environ["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        assert os.environ[c.ENV_TABLE_NAME] and os.environ[c.ENV_JOBS_QUEUE_URL].startswith("http://127.0.0.1:")
        assert os.environ["OPENAI_BASE_URL"] == stack.simulator.base_url_openai
        assert os.environ["ANTHROPIC_BASE_URL"] == stack.simulator.base_url_anthropic
        assert os.environ["GEMINI_BASE_URL"] == f"{stack.simulator.base_url}/gemini"
        assert os.environ[c.ENV_WEBHOOK_ALLOW_LOOPBACK] == "1"
        assert os.environ["MISTRAL_BASE_URL"] == stack.simulator.base_url + "/mistral"
        assert stack.describe()["providers"] == ", ".join(f"{name}=simulator" for name in registry.names())
        # the API answers on loopback, with the key check in front
        assert httpx.get(stack.url + "/v1/jobs").status_code == 401
        assert httpx.get(stack.url + "/v1/jobs", headers={"x-api-key": "k-wrong-0123456789abcd"}).status_code == 401
        assert httpx.get(stack.url + "/v1/jobs", headers={"x-api-key": KEY}).json() == {"function": "api"}
        bearer = {"Authorization": f"Bearer {KEY}"}
        assert httpx.get(stack.url + "/openai/v1/batches", headers=bearer).json() == {"function": "api"}
    assert dict(os.environ) == before


def test_a_real_key_means_the_real_provider(no_provider_keys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real")
    config = LocalConfig(port=0, api_key=KEY, poll_seconds=2)
    with LocalStack(config, invoke=_ok) as stack:
        assert stack.simulated_providers == [name for name in registry.names() if name != "openai"]
        assert os.environ["OPENAI_API_KEY"] == "sk-real"
        assert "OPENAI_BASE_URL" not in os.environ
        # a real provider is not polled more often than deployed
        assert c.ENV_POLL_MIN_DELAY_SECONDS not in os.environ


def test_a_gemini_key_means_the_real_gemini(no_provider_keys, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-real")
    with LocalStack(LocalConfig(port=0, api_key=KEY, poll_seconds=2), invoke=_ok) as stack:
        assert "gemini" not in stack.simulated_providers
        assert os.environ["GEMINI_API_KEY"] == "AIza-real" and "GEMINI_BASE_URL" not in os.environ
