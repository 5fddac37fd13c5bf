"""POST /v1/jobs on the OpenAI-shaped providers: azure_openai, groq and each configured
OpenAI-compatible server are accepted (and in the OpenAPI enum); a job's completion window
and maximum batch age are checked, stored and shown."""

from __future__ import annotations

import pytest

from tests.support.openai_shaped import compatible_servers


def _job(provider: str, **extra) -> dict:
    return {"provider": provider, "endpoint": "/v1/chat/completions",
            "requests": [{"custom_id": "a", "body": {"model": "m", "messages": [{"role": "user", "content": "hi"}]}}],
            **extra}


@pytest.fixture
def configured():
    with compatible_servers() as specs:
        yield specs


@pytest.fixture(autouse=True)
def azure_address(monkeypatch):
    """The deployment's Azure OpenAI resource (without one, Azure jobs are refused)."""
    from batchrelay.settings import get_settings

    monkeypatch.setenv("AZURE_OPENAI_BASE_URL", "https://example-resource.openai.azure.com")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_azure_jobs_are_refused_while_the_deployment_has_no_azure_address(api, monkeypatch):
    from batchrelay.settings import get_settings

    monkeypatch.delenv("AZURE_OPENAI_BASE_URL")
    get_settings.cache_clear()
    refused = api.call("POST", "/v1/jobs", _job("azure_openai"))
    assert refused.status == 400 and refused.body["error"]["field"] == "provider"
    assert "AZURE_OPENAI_BASE_URL" in refused.body["error"]["message"]


def test_every_openai_shaped_provider_is_accepted_and_described(api, configured):
    spec = api.call("GET", "/v1/openapi.json").body
    ref = spec["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.split("/")[-1]]["properties"]
    for provider in ("azure_openai", "groq", "vllm_lab", "acme_batch"):
        assert provider in schema["provider"]["enum"]
        created = api.call("POST", "/v1/jobs", _job(provider))
        assert created.status == 202, (provider, created.body)
        assert created.body["provider"] == provider
    assert {"completion_window", "max_batch_age_seconds"} <= set(schema)


def test_a_configured_servers_endpoints_are_its_own(api, configured):
    refused = api.call("POST", "/v1/jobs", _job("acme_batch", endpoint="/v1/embeddings"))
    assert refused.status == 400 and refused.body["error"]["field"] == "endpoint"
    assert api.call("POST", "/v1/jobs", {**_job("vllm_lab"), "endpoint": "/v1/embeddings",
                                         "requests": [{"custom_id": "e", "body": {"model": "m", "input": "x"}}]}
                    ).status == 202


def test_a_groq_job_names_its_window_and_sees_it_in_the_job_view(api):
    created = api.call("POST", "/v1/jobs", _job("groq", completion_window="5d"))
    assert created.status == 202 and created.body["completion_window"] == "5d"
    shown = api.call("GET", f"/v1/jobs/{created.body['id']}").body
    assert (shown["completion_window"], shown["max_batch_age_seconds"]) == ("5d", None)


@pytest.mark.parametrize(("provider", "window", "message"), [
    ("groq", "10d", "24h to 7d"),
    ("groq", "tomorrow", "24h to 7d"),
    ("azure_openai", "24h", "one fixed window"),
    ("openai", "48h", "one fixed window"),
])
def test_a_window_the_provider_does_not_offer_is_refused_naming_the_field(api, provider, window, message):
    refused = api.call("POST", "/v1/jobs", _job(provider, completion_window=window))
    assert refused.status == 400 and refused.body["error"]["field"] == "completion_window"
    assert message in refused.body["error"]["message"]


def test_an_azure_job_gets_its_providers_maximum_batch_age_unless_it_names_one(api):
    default = api.call("POST", "/v1/jobs", _job("azure_openai")).body
    named = api.call("POST", "/v1/jobs", _job("azure_openai", max_batch_age_seconds=7200)).body
    assert (default["max_batch_age_seconds"], named["max_batch_age_seconds"]) == (86400, 7200)
    too_short = api.call("POST", "/v1/jobs", _job("azure_openai", max_batch_age_seconds=60))
    assert 400 <= too_short.status < 500 and too_short.body["error"]["field"] == "max_batch_age_seconds"


def test_the_drop_in_openai_surface_runs_its_batches_on_groq_and_azure_by_header_or_metadata(api, configured):
    from batchrelay import constants as c
    from tests.support.openai_surface import batch_line, jsonl, openai_call, upload_file

    file = upload_file(jsonl([batch_line(f"r{i}") for i in range(3)]))
    body = {"input_file_id": file["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}

    # Groq by header, in a window of Groq's own (24h to 7d): the job's, shown on the batch
    groq = openai_call("POST", "/batches", {**body, "completion_window": "48h"}, headers={c.PROVIDER_HEADER: "groq"})
    assert groq.status == 200, groq.body
    assert groq.body["completion_window"] == "48h"
    job = api.call("GET", f"/v1/jobs/{groq.body['id']}").body
    assert (job["provider"], job["completion_window"]) == ("groq", "48h")
    assert openai_call("GET", f"/batches/{groq.body['id']}").body["completion_window"] == "48h"
    # Azure by the batchrelay_provider metadata: its one window, and its maximum batch age
    azure = openai_call("POST", "/batches", {**body, "metadata": {c.PROVIDER_METADATA_KEY: "azure_openai"}})
    assert azure.status == 200, azure.body
    job = api.call("GET", f"/v1/jobs/{azure.body['id']}").body
    assert (job["provider"], job["completion_window"], job["max_batch_age_seconds"]) == ("azure_openai", None, 86400)
    # A configured server is an OpenAI-format provider too
    vllm = openai_call("POST", "/batches", body, headers={c.PROVIDER_HEADER: "vllm_lab"})
    assert vllm.status == 200 and api.call("GET", f"/v1/jobs/{vllm.body['id']}").body["provider"] == "vllm_lab"

    # A window the chosen provider does not offer is OpenAI's 400 on completion_window
    for provider, window in (("groq", "8d"), ("azure_openai", "48h"), ("openai", "48h")):
        refused = openai_call("POST", "/batches", {**body, "completion_window": window},
                              headers={c.PROVIDER_HEADER: provider})
        assert refused.status == 400, (provider, refused.body)
        assert refused.body["error"]["param"] == "completion_window", refused.body
