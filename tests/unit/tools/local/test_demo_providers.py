"""`make demo --providers`: which providers' jobs the demo runs, and with what."""

from __future__ import annotations

import argparse

import pytest

from batchrelay_tools.local import demo
from tests.support.openai_shaped import compatible_servers


def test_the_demo_runs_a_job_on_every_built_in_provider_by_default():
    assert demo.DEFAULT_PROVIDERS == tuple(demo.PROVIDER_JOBS)
    assert {"openai", "anthropic", "bedrock", "azure_openai", "groq"} <= set(demo.DEFAULT_PROVIDERS)
    assert demo.provider_job("azure_openai") == ("/v1/chat/completions", "gpt-4o-mini")
    assert demo.demo_requests("groq", 2)[1]["body"]["model"] == "llama-3.1-8b-instant"


def test_a_configured_server_runs_its_first_endpoint_and_priced_model():
    with compatible_servers():
        assert demo._provider_list("openai,acme_batch") == ("openai", "acme_batch")
        assert demo.provider_job("acme_batch") == ("/v1/chat/completions", "acme-large")


def test_an_unknown_provider_is_refused():
    with pytest.raises(argparse.ArgumentTypeError, match="nobody"):
        demo._provider_list("openai,nobody")


def test_the_command_line_parses_its_options(monkeypatch):
    seen = {}

    def run(self):
        seen["args"] = self.args
        return 0

    monkeypatch.setattr(demo.Demo, "run", run)
    assert demo.main(["--providers", "openai,gemini", "--requests", "10"]) == 0
    assert seen["args"].providers == ("openai", "gemini")
    assert seen["args"].requests == 10
    demo.main([])
    assert seen["args"].providers == demo.DEFAULT_PROVIDERS
