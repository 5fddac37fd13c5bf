"""The OpenAI-shaped adapters (Azure OpenAI, Groq, configured OpenAI-compatible servers)
against the simulator through the openai SDK: each provider's paths, credentials, limits,
windows and faults, and recovery after an ambiguous create."""

from __future__ import annotations

import httpx
import openai
import pytest

from batchrelay import registry
from batchrelay.providers.base import BatchOptions, ProviderError
from batchrelay.providers.custom_ids import chunk_id_tag
from batchrelay_tools.simulator import FailureRule, plugins
from tests.support.openai_shaped import (
    AZURE_FORMS,
    azure_base_url,
    compatible_servers,
    make_azure,
    make_compatible,
    make_groq,
)
from tests.support.simulator import DEFAULT_TAG, collect, wait_until_ended

CHAT = "/v1/chat/completions"


def account(sim, plugin: str, server: str | None = None):
    """The simulated provider's own account (its files and batches)."""
    state = sim.simulator.extension(plugins.PLUGINS[plugin])
    return state.account(server) if server else state


@pytest.fixture
def configured():
    with compatible_servers() as specs:
        yield specs


# ---------------------------------------------------------------- Azure OpenAI

@pytest.mark.parametrize("form", AZURE_FORMS)
def test_azure_runs_a_batch_on_each_address_form(sim, write_requests, form):
    # Given the adapter on the resource endpoint, a deployment URL or the resource's v1 base URL
    provider = make_azure(sim, form)
    path, _ = write_requests(provider, ["a", "b", "c"])

    # When a batch is created, listed, collected and cleaned up
    info = provider.create_batch(requests_path=path, request_count=3, endpoint=CHAT,
                                 metadata={"batchrelay_job": "j1", "batchrelay_chunk": "c1"})
    assert info.metadata == {"batchrelay_job": "j1", "batchrelay_chunk": "c1"}
    assert [b.batch_id for b in provider.list_batches(created_after=info.created_at - 1)] == [info.batch_id]
    ended = wait_until_ended(provider, info.batch_id)
    results = collect(provider, ended)
    deleted = provider.delete_files(ended)

    # Then it ran on Azure's paths, with Azure's endpoint names in its lines and its create
    base = {"resource": "/azure/openai", "deployment": "/azure/openai/deployments/{deployment}",
            "v1": "/azure/openai/v1"}[form]
    assert sim.calls(f"POST {base}/batches") == 1 and sim.calls(f"POST {base}/files") == 1
    azure = account(sim, "azure_openai")
    assert azure.openai_batches[info.batch_id].endpoint == "/chat/completions"
    assert {line["url"] for line in _lines_of(path)} == {"/chat/completions"}
    assert (ended.end_reason, ended.total, ended.completed) == ("completed", 3, 3)
    assert {r.outcome for r in results.values()} == {"succeeded"} and results["a"].model == "gpt-4o-mini"
    # And its files are gone from the Azure account (none were ever made at OpenAI's)
    assert azure.file_ledger()["live"] == [] and len(deleted) == 2
    assert sim.stats()["files_created"] == 0


def _lines_of(path: str) -> list[dict]:
    import json

    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_azure_wants_its_api_version_and_its_key(sim):
    resource = azure_base_url(sim)
    assert httpx.get(f"{resource}/openai/batches", headers={"api-key": "k"}).status_code == 404
    refused = httpx.get(f"{resource}/openai/batches?api-version=2024-10-21")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthenticated"
    assert httpx.get(f"{resource}/openai/batches?api-version=2024-10-21", headers={"api-key": "k"}).status_code == 200
    assert httpx.get(f"{resource}/openai/v1/batches", headers={"Authorization": "Bearer k"}).status_code == 200


def test_azure_token_limit_exceeded_holds_for_capacity(sim, write_requests):
    sim.configure(token_limit_failures_next=1)
    provider = make_azure(sim)
    path, _ = write_requests(provider, ["a"])
    info = provider.create_batch(requests_path=path, request_count=1, endpoint=CHAT, metadata={})
    ended = wait_until_ended(provider, info.batch_id)
    assert ended.end_reason == "failed" and ended.capacity_exhausted
    assert ended.errors[0]["code"] == "token_limit_exceeded"


def test_azure_never_expires_a_batch_and_a_cancel_returns_what_finished(clocked_sim, clock, write_requests):
    # Given a batch that another provider would expire half done
    clocked_sim.configure(processing_seconds=100, expire_after_fraction=0.5)
    provider = make_azure(clocked_sim)
    path, _ = write_requests(provider, [f"r{i}" for i in range(4)])
    info = provider.create_batch(requests_path=path, request_count=4, endpoint=CHAT, metadata={})

    # When two days go by, it is still in progress, half done
    clock.advance(2 * 86400)
    stalled = provider.retrieve_batch(info.batch_id)
    assert (stalled.state, stalled.provider_status, stalled.completed) == ("running", "in_progress", 2)

    # Then a cancel ends it, with the finished half and the rest reported cancelled
    provider.cancel_batch(info.batch_id)
    ended = provider.retrieve_batch(info.batch_id)
    assert (ended.state, ended.end_reason) == ("ended", "cancelled")
    outcomes = {key: result.outcome for key, result in collect(provider, ended).items()}
    assert outcomes == {"r0": "succeeded", "r1": "succeeded", "r2": "cancelled", "r3": "cancelled"}


# ---------------------------------------------------------------- Groq

def test_groq_takes_the_completion_window_of_the_job(sim, write_requests):
    provider = make_groq(sim)
    path, _ = write_requests(provider, ["a"])
    info = provider.create_batch(requests_path=path, request_count=1, endpoint=CHAT, metadata={},
                                 options=BatchOptions(completion_window="7d"))
    assert provider.client.batches.retrieve(info.batch_id).completion_window == "7d"
    assert account(sim, "groq").openai_batches[info.batch_id].completion_window == "7d"

    # A window Groq does not offer is refused (a 400: nothing made), and the upload deleted
    path, _ = write_requests(provider, ["b"])
    with pytest.raises(ProviderError) as refused:
        provider.create_batch(requests_path=path, request_count=1, endpoint=CHAT, metadata={},
                              options=BatchOptions(completion_window="8d"))
    assert refused.value.status_code == 400 and not refused.value.retryable
    assert len(account(sim, "groq").deleted_files) == 1
    # Without a window, the registry's default
    info = provider.create_batch(requests_path=path, request_count=1, endpoint=CHAT, metadata={})
    assert provider.client.batches.retrieve(info.batch_id).completion_window == "24h"


def test_groq_lists_every_batch_in_one_answer_and_the_adapter_orders_them(clocked_sim, clock, write_requests):
    provider = make_groq(clocked_sim)
    created = []
    for i in range(3):
        path, _ = write_requests(provider, [f"x{i}"])
        created.append(provider.create_batch(requests_path=path, request_count=1, endpoint=CHAT, metadata={}))
        clock.advance(60)
    raw = httpx.get(f"{clocked_sim.base_url}/groq/openai/v1/batches", headers={"Authorization": "Bearer k"}).json()
    assert set(raw) == {"object", "data"} and [b["id"] for b in raw["data"]] == [b.batch_id for b in created]

    listed = list(provider.list_batches(created_after=created[1].created_at))
    assert [b.batch_id for b in listed] == [created[2].batch_id, created[1].batch_id]
    assert clocked_sim.calls("GET /groq/openai/v1/batches") == 2   # one call per sweep, no paging


def test_groq_faults_per_request_expiry_and_create_errors(sim, write_requests):
    provider = make_groq(sim, max_retries=0)
    sim.configure(failure_rules=[FailureRule(pattern="^flaky", kind="retryable", status_code=429),
                                 FailureRule(pattern="^bad", kind="permanent")], expire_after_fraction=0.75)
    path, _ = write_requests(provider, ["ok", "flaky", "bad", "late"])
    ended = wait_until_ended(provider, provider.create_batch(
        requests_path=path, request_count=4, endpoint=CHAT, metadata={}).batch_id)
    results = collect(provider, ended)
    assert ended.end_reason == "expired"
    assert (results["ok"].outcome, results["flaky"].retryable, results["bad"].retryable) == ("succeeded", True, False)
    assert results["late"].outcome == "expired" and results["late"].error["code"] == "batch_expired"

    for status, retryable in ((429, True), (500, True)):
        sim.configure(create_errors_next=1, create_error_status=status)
        with pytest.raises(ProviderError) as failed:
            provider.create_batch(requests_path=path, request_count=4, endpoint=CHAT, metadata={})
        assert (failed.value.status_code, failed.value.retryable) == (status, retryable)


# ---------------------------------------------------------------- configured servers

def test_two_configured_servers_are_two_accounts_with_their_own_rules(sim, write_requests, configured):
    vllm, acme = make_compatible(sim, "vllm_lab"), make_compatible(sim, "acme_batch")
    path, _ = write_requests(vllm, ["a", "b"])
    on_vllm = vllm.create_batch(requests_path=path, request_count=2, endpoint=CHAT, metadata={"k": "v"})
    on_acme = acme.create_batch(requests_path=path, request_count=2, endpoint=CHAT, metadata={"k": "v"},
                                options=BatchOptions(completion_window="72h"))

    # Each lists only its own batch; vllm_lab keeps no metadata, acme_batch does
    assert [b.batch_id for b in vllm.list_batches(created_after=0)] == [on_vllm.batch_id]
    assert [b.batch_id for b in acme.list_batches(created_after=0)] == [on_acme.batch_id]
    assert (on_vllm.metadata, on_acme.metadata) == ({}, {"k": "v"})
    assert sim.calls("POST /compat/{server}/v1/batches") == 2
    # acme_batch offers windows up to 72h, vllm_lab only 24h
    with pytest.raises(ProviderError, match="completion_window"):
        vllm.create_batch(requests_path=path, request_count=2, endpoint=CHAT, metadata={},
                          options=BatchOptions(completion_window="72h"))
    assert collect(vllm, wait_until_ended(vllm, on_vllm.batch_id))["a"].outcome == "succeeded"
    # A name nobody configured is not served
    assert httpx.get(f"{sim.base_url}/compat/nobody/v1/batches", headers={"Authorization": "Bearer k"}
                     ).status_code == 404


def test_a_configured_server_without_a_key_gets_a_placeholder(configured, monkeypatch):
    from batchrelay.providers.openai_shaped import NO_KEY, OpenAICompatibleProvider
    from batchrelay.settings import get_settings

    spec = registry.compatible_spec({"name": "open_lab", "base_url": "http://lab:8000/v1", "needs_api_key": False})
    registry.register(spec)
    try:
        monkeypatch.delenv("OPEN_LAB_API_KEY", raising=False)
        get_settings.cache_clear()
        assert OpenAICompatibleProvider(provider="open_lab")._resolve_api_key() == NO_KEY
        with pytest.raises(ProviderError, match="no API key"):
            OpenAICompatibleProvider(provider="acme_batch")._resolve_api_key()
    finally:
        registry.unregister("open_lab")
        get_settings.cache_clear()


# ---------------------------------------------------------------- recovery after an ambiguous create

@pytest.mark.parametrize("name", ["azure_openai", "groq", "acme_batch", "vllm_lab"])
def test_a_batch_made_by_an_interrupted_create_is_found_and_proven(sim, write_requests, configured, name):
    provider = {"azure_openai": lambda: make_azure(sim), "groq": lambda: make_groq(sim)}.get(
        name, lambda: make_compatible(sim, name))()
    metadata = {"batchrelay_job": "job_test", "batchrelay_chunk": "c00001"}
    path, _ = write_requests(provider, ["a", "b"])
    # Another chunk's batch of the same size, in the same window
    other_path, _ = write_requests(provider, ["a", "b"], tag=chunk_id_tag("job_other", "c00001"))
    other = provider.create_batch(requests_path=other_path, request_count=2, endpoint=CHAT,
                                  metadata={"batchrelay_job": "job_other", "batchrelay_chunk": "c00001"})
    # The create whose answer was lost
    made = provider.create_batch(requests_path=path, request_count=2, endpoint=CHAT,
                                 metadata={**metadata, "batchrelay_seq": "1"})

    candidates = list(provider.find_candidates(metadata=metadata, created_after=made.created_at - 5,
                                               created_before=made.created_at + 5, request_count=2))
    ids = {c.batch_id for c in candidates}
    if registry.spec(name).capabilities.batch_metadata:
        # Proven at once by its metadata; the other chunk's batch is not even a candidate
        assert ids == {made.batch_id}
        assert provider.prove_ownership(candidates[0], tag=DEFAULT_TAG, metadata=metadata) is True
    else:
        # No metadata: both are candidates, told apart by the chunk tag once they have ended
        assert ids == {made.batch_id, other.batch_id}
        running = next(c for c in candidates if c.batch_id == made.batch_id)
        assert running.state == "running" and provider.prove_ownership(running, tag=DEFAULT_TAG,
                                                                       metadata=metadata) is None
        mine, theirs = wait_until_ended(provider, made.batch_id), wait_until_ended(provider, other.batch_id)
        assert provider.prove_ownership(mine, tag=DEFAULT_TAG, metadata=metadata) is True
        assert provider.prove_ownership(theirs, tag=DEFAULT_TAG, metadata=metadata) is False


# ---------------------------------------------------------------- the simulator speaks the SDK's models

def test_the_simulated_answers_pass_the_sdks_strict_validation(sim, write_requests, configured):
    strict = {"_strict_response_validation": True, "max_retries": 0}
    cases = [
        (openai.AzureOpenAI(azure_endpoint=azure_base_url(sim), api_key="k", api_version="2024-10-21", **strict),
         make_azure(sim), "/chat/completions"),
        (openai.OpenAI(base_url=azure_base_url(sim, "v1"), api_key="k", **strict), make_azure(sim, "v1"),
         "/chat/completions"),
        (openai.OpenAI(base_url=sim.base_url + registry.spec("acme_batch").simulator_path, api_key="k", **strict),
         make_compatible(sim, "acme_batch"), CHAT),
    ]
    for client, provider, endpoint in cases:
        path, _ = write_requests(provider, ["a"])
        with open(path, "rb") as handle:
            uploaded = client.files.create(file=("in.jsonl", handle), purpose="batch")
        batch = client.batches.create(input_file_id=uploaded.id, endpoint=endpoint,  # type: ignore[arg-type]
                                      completion_window="24h")
        assert client.batches.retrieve(batch.id).endpoint == endpoint
        assert batch.id in [b.id for b in client.batches.list()]
        assert client.files.retrieve(uploaded.id).purpose == "batch"


# groq-python's BatchRetrieveResponse (src/groq/types/batch_retrieve_response.py): every field it has.
GROQ_BATCH_FIELDS = {
    "id", "completion_window", "created_at", "endpoint", "input_file_id", "object", "status", "cancelled_at",
    "cancelling_at", "completed_at", "error_file_id", "errors", "expired_at", "expires_at", "failed_at",
    "finalizing_at", "in_progress_at", "metadata", "output_file_id", "request_counts",
}
GROQ_REQUIRED = {"id", "completion_window", "created_at", "endpoint", "input_file_id", "object", "status"}


def test_the_simulated_groq_batch_has_groq_sdk_fields(sim, write_requests):
    provider = make_groq(sim)
    path, _ = write_requests(provider, ["a"])
    info = provider.create_batch(requests_path=path, request_count=1, endpoint=CHAT, metadata={})
    raw = httpx.get(f"{sim.base_url}/groq/openai/v1/batches/{info.batch_id}",
                    headers={"Authorization": "Bearer k"}).json()
    present = {key for key, value in raw.items() if value is not None}
    assert GROQ_REQUIRED <= present and present - {"model"} <= GROQ_BATCH_FIELDS
