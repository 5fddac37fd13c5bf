"""The provider registry: what each built-in provider declares, and its rules."""

from __future__ import annotations

import pytest

from batchrelay import registry
from batchrelay.providers.adapters import adapter_class


def test_one_model_per_batch_is_declared_per_provider():
    assert registry.spec("openai").capabilities.one_model_per_batch is True
    assert registry.spec("anthropic").capabilities.one_model_per_batch is False  # Message Batches mix models


def test_every_entry_names_an_adapter_of_its_own_name():
    for spec in registry.specs():
        assert adapter_class(spec.name).for_registered(spec.name).name == spec.name


def test_an_unknown_provider_is_named_in_the_error():
    with pytest.raises(registry.UnknownProvider, match="nope"):
        registry.spec("nope")


def test_names_are_checked_and_registered_once():
    with pytest.raises(ValueError):
        registry.register(registry.spec("openai"))
    bad = registry.ProviderSpec(
        name="Bad-Name", title="x", adapter="m:C", endpoints=(), limits=registry.ProviderLimits(1, 1),
        capabilities=registry.spec("openai").capabilities,
    )
    with pytest.raises(ValueError):
        registry.register(bad)


# ---------------------------------------------------------------- OpenAI-shaped providers

def test_the_openai_shaped_providers_speak_openais_batch_format():
    # The drop-in OpenAI surface may run its batches on any of them (x-batchrelay-provider)
    assert {"openai", "azure_openai", "groq"} <= set(registry.with_request_format("openai"))
    assert registry.with_request_format("anthropic") == ("anthropic",)
    azure, groq = registry.spec("azure_openai"), registry.spec("groq")
    assert (azure.limits.max_requests, azure.limits.max_bytes) == (100_000, 200 * 1024 * 1024)
    assert azure.max_batch_age_seconds == 24 * 3600 and azure.completion_windows is None
    assert (groq.limits.max_requests, groq.limits.max_bytes) == (50_000, 100 * 1024 * 1024)
    assert groq.completion_windows == registry.CompletionWindows("24h", "24h", "7d")
    assert groq.base_url == "https://api.groq.com/openai/v1"


@pytest.mark.parametrize(("window", "accepted"), [("24h", True), ("36h", True), ("7d", True), ("168h", True),
                                                  ("169h", False), ("8d", False), ("23h", False), ("1w", False),
                                                  ("", False), ("024h", False)])
def test_completion_windows_are_hours_or_days_within_the_range(window, accepted):
    assert registry.CompletionWindows("24h", "24h", "7d").accepts(window) is accepted


def test_a_configured_server_becomes_a_registry_entry():
    spec = registry.compatible_spec({
        "name": "lab", "base_url": "http://lab:8000/v1", "endpoints": ["/v1/chat/completions", "/v1/embeddings"],
        "max_requests": 1000, "batch_metadata": False, "completion_windows": {"longest": "48h"},
        "max_batch_age_seconds": 7200, "prices": {"batch_discount": 0.3, "models": {}},
    })
    assert (spec.adapter, spec.request_format, spec.simulator_path) == (
        registry.OPENAI_SHAPED_ADAPTER, "openai", "/compat/lab/v1")
    assert spec.limits == registry.ProviderLimits(1000, 200 * 1024 * 1024)
    assert spec.capabilities.batch_metadata is False and spec.recovery == "the chunk tag in its results"
    assert spec.completion_windows.accepts("48h") and spec.max_batch_age_seconds == 7200
    assert spec.prices["batch_discount"] == 0.3 and spec.needs_api_key


@pytest.mark.parametrize(("config", "message"), [
    ({"name": "lab"}, "base_url"),
    ({"base_url": "http://x"}, "name"),
    ({"name": "lab", "base_url": "http://x", "colour": "red"}, "unknown settings"),
    ({"name": "Lab-1", "base_url": "http://x"}, "lowercase"),
    ({"name": "lab", "base_url": "http://x", "completion_windows": {"default": "48h", "longest": "24h"}}, "hold"),
])
def test_a_bad_configuration_is_refused_naming_what_is_wrong(config, message):
    with pytest.raises(ValueError, match=message):
        registry.register_openai_compatible([config])


def test_configured_servers_are_registered_at_import_in_a_fresh_process():
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    functions = Path(registry.__file__).resolve().parents[1]
    servers = [{"name": "lab_a", "base_url": "http://a:8000/v1"}, {"name": "lab_b", "base_url": "http://b/v1"}]
    env = {**os.environ, "PYTHONPATH": str(functions), "OPENAI_COMPATIBLE_PROVIDERS": json.dumps(servers)}
    script = ("from batchrelay import registry; from batchrelay.providers.adapters import get_provider; "
              "print(registry.names()[-2:], get_provider('lab_b').name, registry.spec('lab_a').base_url)")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "('lab_a', 'lab_b') lab_b http://a:8000/v1"
