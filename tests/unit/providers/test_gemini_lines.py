"""The Gemini adapter on Google's published shapes (tests/support/gemini.py says where each is
from), each first read by google-genai's own models: request lines, result lines, batches."""

from __future__ import annotations

import json

import pytest
from google.genai import types

from batchrelay.providers.gemini_provider import (
    GeminiProvider,
    display_name,
    error_retryable,
    model_resource,
    owner_of,
)
from tests.support.gemini import (
    BATCH_OPERATION,
    EMBED_REQUEST_LINES,
    EMBED_RESULT_LINES,
    ERROR_LINE,
    REQUEST_LINES,
    RESULT_LINES,
    sdk_batch_job,
    sdk_embedding,
    sdk_response,
    sdk_status,
)

provider = GeminiProvider(api_key="unused")


def line(obj) -> bytes:
    return json.dumps(obj).encode()


def test_published_request_lines_are_what_request_line_writes():
    # Given the cookbook's input lines, read by the SDK's Content model
    for published in REQUEST_LINES:
        contents = [types.Content.model_validate(c) for c in published["request"]["contents"]]
        assert contents[0].parts[0].text
        # When the adapter writes the same request (plus the model every batchrelay body names)
        written = provider.request_line(published["key"], {**published["request"], "model": "gemini-3.8-flash"},
                                        "generateContent")
        # Then it is the published line, the model in the form the API names models
        assert set(written) == set(published) == {"key", "request"}
        assert written["request"] == {**published["request"], "model": "models/gemini-3.8-flash"}
    embed = provider.request_line("request_1", {**EMBED_REQUEST_LINES[0]["request"], "model": "gemini-embedding-001"},
                                  "embedContent")
    assert embed["request"]["content"] == EMBED_REQUEST_LINES[0]["request"]["content"]


def test_published_result_lines_parse_with_usage_and_model():
    for published in RESULT_LINES:
        sdk = sdk_response(published["response"])
        result = provider.parse_result_line("results", line(published))
        assert (result.custom_id, result.outcome) == (published["key"], "succeeded")
        assert result.response == published["response"]
        assert result.model == sdk.model_version == "gemini-3.7-flash"
        usage = sdk.usage_metadata
        # Thinking tokens are billed as output.
        assert result.usage == {"input_tokens": usage.prompt_token_count,
                                "output_tokens": usage.candidates_token_count + usage.thoughts_token_count,
                                "total_tokens": usage.total_token_count}
    first = provider.parse_result_line("results", line(RESULT_LINES[0]))
    assert first.usage == {"input_tokens": 8, "output_tokens": 840, "total_tokens": 848}


def test_published_embedding_results_count_input_tokens():
    for published in EMBED_RESULT_LINES:
        sdk = sdk_embedding(published["response"])
        result = provider.parse_result_line("results", line(published))
        assert result.outcome == "succeeded" and result.response["embedding"]["values"] == sdk.embedding.values
        assert result.usage == {"input_tokens": sdk.token_count, "output_tokens": 0, "total_tokens": sdk.token_count}


@pytest.mark.parametrize(("code", "name", "retryable"), [
    (13, "INTERNAL", True), (14, "UNAVAILABLE", True), (8, "RESOURCE_EXHAUSTED", True), (4, "DEADLINE_EXCEEDED", True),
    (3, "INVALID_ARGUMENT", False), (7, "PERMISSION_DENIED", False), (9, "FAILED_PRECONDITION", False),
])
def test_a_status_line_is_an_error_retryable_by_its_code(code, name, retryable):
    published = {**ERROR_LINE, "error": {**ERROR_LINE["error"], "code": code}}
    assert sdk_status(published["error"]).code == code
    result = provider.parse_result_line("results", line(published))
    assert (result.outcome, result.retryable) == ("errored", retryable)
    assert result.error == {"code": name, "message": "Internal error encountered.", "status_code": code}


def test_http_statuses_in_an_error_are_classified_as_http():
    assert error_retryable(503) and error_retryable(429) and not error_retryable(400)


def test_lines_that_are_not_results_are_refused():
    for bad in ({"response": {}}, {"key": "k"}, ["key"]):
        with pytest.raises(ValueError):
            provider.parse_result_line("results", line(bad))


def test_the_published_batch_reads_as_the_sdk_reads_it():
    job = sdk_batch_job(BATCH_OPERATION)
    assert job.state == types.JobState.JOB_STATE_SUCCEEDED          # BATCH_STATE_* on the wire
    assert job.dest.file_name == "files/batch-o08hk76gv328ihxcssjsgwt3g6omtfysxi46"
    assert job.display_name == "my-batch-job-from-file" and job.model == "models/gemini-3.8-flash"
    # What the SDK leaves out, the adapter reads from the wire beside it.
    provider._wire._seen()[job.name] = BATCH_OPERATION
    info = provider._info(job)
    assert (info.state, info.end_reason, info.total, info.completed, info.failed) == ("ended", "completed", 2, 2, 0)
    assert info.extra["input_file"] == "files/p1mds9fl15bs" and info.extra["output_file"] == job.dest.file_name
    assert info.metadata == {}   # not one of ours: no job or chunk in its display name
    assert info.created_at == job.create_time.timestamp() and info.ended_at == job.end_time.timestamp()


@pytest.mark.parametrize(("error", "state", "errors"), [
    ({"code": 8, "message": "quota"}, "BATCH_STATE_FAILED",
     [{"code": "token_limit_exceeded", "status": "RESOURCE_EXHAUSTED", "message": "quota"}]),
    ({"code": 3, "message": "bad"}, "BATCH_STATE_FAILED",
     [{"code": "invalid_argument", "status": "INVALID_ARGUMENT", "message": "bad"}]),
    ({"code": 1, "message": "cancelled"}, "BATCH_STATE_CANCELLED", []),
])
def test_a_failed_batch_says_why_and_a_quota_failure_is_a_capacity_hold(error, state, errors):
    operation = {"name": "batches/x", "done": True, "error": error,
                 "metadata": {**BATCH_OPERATION["metadata"], "name": "batches/x", "state": state}}
    operation["metadata"].pop("output")
    job = sdk_batch_job(operation)
    provider._wire._seen()["batches/x"] = operation
    info = provider._info(job)
    assert info.errors == errors
    assert info.capacity_exhausted is (error["code"] == 8)


def test_the_display_name_carries_job_and_chunk():
    name = display_name({"batchrelay_job": "job_1", "batchrelay_chunk": "c00002-r2", "batchrelay_seq": "3"})
    assert name == "batchrelay/job_1/c00002-r2/3"
    assert owner_of(name) == {"batchrelay_job": "job_1", "batchrelay_chunk": "c00002-r2", "batchrelay_seq": "3"}
    assert owner_of("my-batch-job-from-file") == {} and owner_of(None) == {}
    assert owner_of("batchrelay//c1/1") == {}


def test_model_names_take_the_resource_form():
    assert model_resource("gemini-2.5-flash") == "models/gemini-2.5-flash"
    assert model_resource("models/gemini-2.5-flash") == "models/gemini-2.5-flash"
    assert model_resource("tunedModels/mine") == "tunedModels/mine"
