"""The providers' own published examples (tests/fixtures/openai_shaped, SOURCES.md says where
from), read through the openai SDK's models: the adapters read them, the adapters write
them, and the simulator takes and gives the same shapes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletion

from batchrelay.providers.openai_shaped import AzureOpenAIProvider, GroqProvider
from tests.support.openai_shaped import make_azure, make_groq
from tests.support.simulator import collect, wait_until_ended

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "openai_shaped"


def fixture(name: str):
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()] if name.endswith(".jsonl") else \
        json.loads(text)


def served(answer: dict) -> httpx2.Client:
    """An HTTP client whose every answer is ``answer`` (the SDK parses it as from the provider)."""
    return httpx2.Client(transport=httpx2.MockTransport(lambda request: httpx2.Response(200, json=answer)))


def azure_reading(answer: dict) -> AzureOpenAIProvider:
    client = openai.AzureOpenAI(azure_endpoint="https://example-resource.openai.azure.com", api_key="k",
                                api_version="2024-10-21", http_client=served(answer), max_retries=0)
    return AzureOpenAIProvider(client)


# ---------------------------------------------------------------- Azure OpenAI

def test_azures_batch_object_reads_as_a_running_batch_though_its_endpoint_is_null():
    info = azure_reading(fixture("azure_batch_validating.json")).retrieve_batch("batch_6caaf24d")
    assert (info.state, info.provider_status, info.total, info.created_at) == ("running", "validating", 0,
                                                                               1722476583.0)
    assert info.metadata == {} and info.extra["endpoint"] is None


def test_azures_token_limit_failure_is_a_capacity_hold():
    info = azure_reading(fixture("azure_batch_token_limit.json")).retrieve_batch("batch_0b1e0c0e")
    assert (info.state, info.end_reason) == ("ended", "failed")
    assert info.capacity_exhausted and info.errors[0]["code"] == "token_limit_exceeded"
    assert info.metadata["batchrelay_chunk"] == "c00001"


def test_azures_output_line_reads_with_its_usage_and_its_model():
    line = fixture("azure_output.jsonl")[0]
    result = AzureOpenAIProvider(api_key="unused").parse_result_line("output", json.dumps(line).encode())
    assert (result.custom_id, result.outcome, result.model) == ("task-0", "succeeded", "gpt-4o-2024-05-13")
    assert result.usage == {"input_tokens": 27, "output_tokens": 24, "total_tokens": 51}
    # The body is a chat completion as the SDK models it (Azure's content filter fields ride along)
    completion = ChatCompletion.model_validate(result.response)
    assert completion.choices[0].message.content.startswith("Microsoft was founded")


# ---------------------------------------------------------------- Groq

def test_groqs_batch_object_reads_through_the_openai_sdk():
    answer = fixture("groq_batch.json")
    client = openai.OpenAI(base_url="https://api.groq.com/openai/v1", api_key="k", http_client=served(answer),
                           max_retries=0)
    info = GroqProvider(client).retrieve_batch(answer["id"])
    assert (info.state, info.provider_status, info.created_at) == ("running", "validating", 1736472600.0)
    assert openai.types.Batch.model_validate(answer).completion_window == "24h"


def test_groqs_unpaged_list_reads_through_the_openai_sdk():
    batch = fixture("groq_batch.json")
    older = {**batch, "id": "batch_older", "created_at": batch["created_at"] - 3600}
    client = openai.OpenAI(base_url="https://api.groq.com/openai/v1", api_key="k", max_retries=0,
                           http_client=served({"object": "list", "data": [older, batch]}))
    listed = list(GroqProvider(client).list_batches(created_after=batch["created_at"] - 60))
    assert [b.batch_id for b in listed] == [batch["id"]]


def test_groqs_output_line_reads():
    line = fixture("groq_output.jsonl")[0]
    result = GroqProvider(api_key="unused").parse_result_line("output", json.dumps(line).encode())
    assert (result.custom_id, result.outcome, result.model) == ("my-very-first-request", "succeeded",
                                                                "llama-3.1-8b-instant")
    assert result.usage == {"input_tokens": 20, "output_tokens": 5, "total_tokens": 25}
    # As the SDK reads an answer (lenient: Groq's example leaves out created and finish_reason)
    assert ChatCompletion.construct(**result.response).choices[0].message.content == "Hello!"


@pytest.mark.parametrize(("make", "name", "answer_model"), [
    (make_azure, "azure_input.jsonl", "gpt-4o-batch"),   # the simulator answers with the deployment's name
    (make_groq, "groq_input.jsonl", "llama-3.1-8b-instant"),
], ids=["azure_openai", "groq"])
def test_request_lines_are_written_as_published_and_the_simulator_runs_the_published_file(
        sim, tmp_path, make, name, answer_model):
    published = fixture(name)
    provider = make(sim)
    # The adapter writes the published line from a job's request (endpoint /v1/chat/completions)
    written = [provider.request_line(line["custom_id"], line["body"], "/v1/chat/completions") for line in published]
    assert written == published
    # And the simulated provider takes the published file as it is
    path = tmp_path / name
    path.write_text((FIXTURES / name).read_text(encoding="utf-8"), encoding="utf-8")
    info = provider.create_batch(requests_path=str(path), request_count=2, endpoint="/v1/chat/completions",
                                 metadata={})
    results = collect(provider, wait_until_ended(provider, info.batch_id))
    assert {key: r.outcome for key, r in results.items()} == {line["custom_id"]: "succeeded" for line in published}
    assert {r.model for r in results.values()} == {answer_model}
