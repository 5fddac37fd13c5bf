"""The Bedrock adapter through boto3's real clients against the simulator (S3 on moto).

Fixtures are AWS's own published examples (the Amazon Bedrock User Guide: "Format and upload
your batch inference data", "View the results of a batch inference job"), and the simulator's
answers are held to botocore's service model and to the anthropic SDK's Bedrock client and
Message model, so the simulator and the adapter cannot agree on a shape Bedrock does not use.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.validate import ParamValidator

from batchrelay.aws.s3_keys import chunk_provider_key
from batchrelay.jsonl import iter_lines
from batchrelay.providers.base import ProviderError
from batchrelay.providers.bedrock_provider import BedrockProvider, job_name, model_input
from batchrelay.providers.custom_ids import chunk_id_tag
from batchrelay.providers.errors import QUOTA_EXCEEDED
from batchrelay.settings import get_settings
from batchrelay_tools.simulator import SimulatorServer, SimulatorSettings
from tests.support.bedrock import MODEL, ROLE, bedrock_body
from tests.support.simulator import FakeClock

JOB = "job_01jtestbedrock00000000000"
MINIMUM = 3

# AWS's example input line (Claude 3 Haiku), as published.
AWS_INPUT_LINE = {
    "recordId": "CALL0000001",
    "modelInput": {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "Summarize the following call transcript: ..."}]}],
    },
}
# AWS's example output lines (Titan Text: a success and an error), as published.
AWS_OUTPUT_LINES = [
    b'{ "recordId" : "3223593EFGH", "modelInput" : {"inputText": "Roses are red, violets are"}, "modelOutput" : '
    b'{"inputTextTokenCount": 8, "results": [{"tokenCount": 3, "outputText": "blue\\n", "completionReason": '
    b'"FINISH"}]}}',
    b'{ "recordId" : "1223213ABCD", "modelInput" : {"inputText": "Hello world"}, "error" : {"errorCode" : 400, '
    b'"errorMessage" : "bad request" }}',
]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(aws, clock, monkeypatch) -> Iterator[SimulatorServer]:
    settings = SimulatorSettings(processing_seconds=100.0, bedrock_min_records=MINIMUM)
    with SimulatorServer(settings, clock=clock) as server:
        monkeypatch.setenv("BEDROCK_ROLE_ARN", ROLE)
        monkeypatch.setenv("BEDROCK_MIN_REQUESTS_PER_BATCH", str(MINIMUM))
        monkeypatch.setenv("BEDROCK_ON_DEMAND_CONCURRENCY", "1")
        get_settings.cache_clear()
        yield server
    get_settings.cache_clear()


@pytest.fixture
def bedrock(sim) -> BedrockProvider:
    return BedrockProvider(base_url=sim.base_url + "/bedrock", max_retries=1)


def write_chunk(provider: BedrockProvider, chunk_id: str, count: int, *, prefix: str = "r") -> dict[str, str]:
    """The chunk's provider file in the bucket, as the planner writes it; returns the create metadata."""
    tag = chunk_id_tag(JOB, chunk_id)
    lines = [provider.request_line(provider.provider_custom_id(f"{prefix}-{i}", tag), bedrock_body(f"q {i}"),
                                   "/model/invoke") for i in range(count)]
    boto3.client("s3").put_object(Bucket=get_settings().bucket_name, Key=chunk_provider_key(JOB, chunk_id),
                                  Body="".join(json.dumps(line) + "\n" for line in lines).encode())
    return {"batchrelay_job": JOB, "batchrelay_chunk": chunk_id, "batchrelay_batch": "1", "batchrelay_model": MODEL}


def create(provider: BedrockProvider, chunk_id: str, count: int, **extra: Any):
    metadata = {**write_chunk(provider, chunk_id, count), **extra}
    return provider.create_batch(requests_path="", request_count=count, endpoint="/model/invoke", metadata=metadata)


def results(provider: BedrockProvider, info) -> dict[str, Any]:
    found = {}
    for raw in provider.raw_result_files(info):
        for line in iter_lines(raw.blocks):
            result = provider.parse_result_line(raw.name, line)
            found[result.custom_id.split("_", 1)[1]] = result
    return found


# --- the request and result formats ---------------------------------------------------------


def test_a_request_line_is_awss_published_example_and_what_the_anthropic_sdk_sends():
    from anthropic._base_client import FinalRequestOptions
    from anthropic.lib.bedrock._client import _prepare_options

    provider = BedrockProvider()
    body = {"model": MODEL, **AWS_INPUT_LINE["modelInput"]}
    assert provider.request_line("CALL0000001", body, "/model/invoke") == AWS_INPUT_LINE
    # The anthropic SDK's own Bedrock client sends this very body to InvokeModel (model in the path)
    options = _prepare_options(FinalRequestOptions(method="post", url="/v1/messages", json_data=dict(body)), {})
    assert options.json_data == model_input(body)
    assert options.url == f"/model/{MODEL}/invoke"


def test_awss_published_output_lines_parse():
    provider = BedrockProvider()
    ok, failed = (provider.parse_result_line("output", line) for line in AWS_OUTPUT_LINES)
    assert (ok.custom_id, ok.outcome, ok.usage) == (
        "3223593EFGH", "succeeded", {"input_tokens": 8, "output_tokens": 3, "total_tokens": 11})
    assert ok.response["results"][0]["outputText"] == "blue\n" and ok.service_tier is None
    assert (failed.outcome, failed.retryable, failed.error["status_code"]) == ("errored", False, 400)
    assert failed.error["message"] == "bad request"


def test_the_simulators_answers_fit_botocores_model_and_the_anthropic_message_model(bedrock, clock):
    from anthropic.types import Message

    info = create(bedrock, "c00001", 4)
    control = bedrock.control
    shapes = control.meta.service_model
    got = control.get_model_invocation_job(jobIdentifier=info.batch_id)
    got.pop("ResponseMetadata")
    listed = control.list_model_invocation_jobs(maxResults=10)
    listed.pop("ResponseMetadata")
    for value, operation in ((got, "GetModelInvocationJob"), (listed, "ListModelInvocationJobs")):
        report = ParamValidator().validate(value, shapes.operation_model(operation).output_shape)
        assert not report.has_errors(), report.generate_report()
    clock.advance(200)
    for result in results(bedrock, bedrock.retrieve_batch(info.batch_id)).values():
        Message.model_validate(result.response, strict=True)


def test_the_anthropic_sdks_bedrock_client_works_against_the_simulators_invoke_model(sim):
    from anthropic import AnthropicBedrock

    client = AnthropicBedrock(aws_access_key="t", aws_secret_key="t", aws_region="us-east-1",
                              base_url=sim.base_url + "/bedrock", max_retries=0)
    message = client.messages.create(model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "hi"}],
                                     extra_body={"anthropic_version": "bedrock-2023-05-31"})
    assert message.role == "assistant" and message.content[0].text.startswith("Simulated answer")


# --- create, find, list, cancel ---------------------------------------------------------------


def test_create_names_the_job_after_the_chunk_and_a_repeated_create_returns_the_same_job(bedrock, sim):
    first = create(bedrock, "c00001", 4)
    again = create(bedrock, "c00001", 4)
    assert again.batch_id == first.batch_id
    assert first.metadata["jobName"] == first.metadata["clientRequestToken"] == job_name(JOB, "c00001", 1)
    assert sim.calls("POST /bedrock/model-invocation-job") == 2
    assert [b.batch_id for b in sim.simulator.ledger()] == [first.batch_id]   # one job, billed once
    # the chunk's next batch (after one it lost) is another job
    assert create(bedrock, "c00001", 4, batchrelay_batch="2").batch_id != first.batch_id


def test_bedrock_refuses_a_job_below_the_minimum_and_the_adapter_runs_it_on_demand(bedrock, sim):
    control = bedrock.control
    write_chunk(bedrock, "c00002", 2)
    with pytest.raises(control.exceptions.ValidationException, match="minimum"):
        control.create_model_invocation_job(
            jobName="too-small", roleArn=ROLE, modelId=MODEL,
            inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{get_settings().bucket_name}/"
                                                             f"{chunk_provider_key(JOB, 'c00002')}"}},
            outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{get_settings().bucket_name}/out/"}})
    info = create(bedrock, "c00002", 2)
    assert info.batch_id == f"ondemand:{JOB}:c00002:1" and info.state == "ended"
    assert {r.service_tier for r in results(bedrock, info).values()} == {"on_demand"}
    assert sim.calls("POST /bedrock/model/{model}/invoke") == 2


def test_an_on_demand_run_that_stops_resumes_without_calling_an_answered_record_again(bedrock, sim, monkeypatch):
    from batchrelay.providers import bedrock_on_demand

    write_chunk(bedrock, "c00003", 2)
    sim.configure(bedrock_min_records=10)
    monkeypatch.setenv("BEDROCK_MIN_REQUESTS_PER_BATCH", "10")
    get_settings.cache_clear()
    answer = bedrock_on_demand._answer
    calls = []

    def dies_after_one(*args: Any) -> None:
        if calls:
            raise KeyboardInterrupt("the function died")
        calls.append(args)
        answer(*args)

    monkeypatch.setattr(bedrock_on_demand, "_answer", dies_after_one)
    metadata = write_chunk(bedrock, "c00003", 5)
    with pytest.raises(KeyboardInterrupt):
        bedrock.create_batch(requests_path="", request_count=5, endpoint="/model/invoke", metadata=metadata)
    monkeypatch.setattr(bedrock_on_demand, "_answer", answer)
    info = bedrock.create_batch(requests_path="", request_count=5, endpoint="/model/invoke", metadata=metadata)

    assert info.state == "ended" and len(results(bedrock, info)) == 5
    assert sim.calls("POST /bedrock/model/{model}/invoke") == 5   # each record called once in all
    (run,) = [b for b in sim.simulator.ledger() if b.metadata.get("on_demand")]
    assert sorted(r.outcome for r in run.requests) == ["succeeded"] * 5


def test_recovery_finds_the_chunks_job_by_name_and_proves_it_by_name(bedrock, clock):
    mine = create(bedrock, "c00001", 4)
    other = create(bedrock, "c00001-r2", 4)
    metadata = {"batchrelay_job": JOB, "batchrelay_chunk": "c00001"}
    found = list(bedrock.find_candidates(metadata=metadata, created_after=clock.now - 60, created_before=clock.now,
                                         request_count=4))
    assert [b.batch_id for b in found] == [mine.batch_id]
    assert bedrock.prove_ownership(found[0], tag="", metadata=metadata) is True
    assert bedrock.prove_ownership(other, tag="", metadata=metadata) is False


def test_the_list_sweep_pages_newest_first_back_to_the_oldest_wanted(bedrock, clock):
    ids = []
    for index in range(3):
        ids.append(create(bedrock, f"c0000{index + 1}", 3).batch_id)
        clock.advance(10)
    swept = [b.batch_id for b in bedrock.list_batches(created_after=clock.now - 25, page_size=1)]
    assert swept == [ids[2], ids[1]]


def test_statuses_map_onto_the_lifecycle(bedrock, sim, clock):
    running = create(bedrock, "c00001", 3)
    assert (running.state, running.provider_status) == ("running", "Scheduled")
    clock.advance(50)
    assert bedrock.retrieve_batch(running.batch_id).provider_status == "InProgress"
    stopped = bedrock.cancel_batch(running.batch_id)
    assert stopped.provider_status in ("Stopping", "Stopped")
    sim.configure(failure_rules=[{"pattern": "r-0$", "kind": "permanent"}])
    partial = create(bedrock, "c00002", 3)
    sim.configure(failure_rules=[], validation_failures_next=1)
    failed = create(bedrock, "c00003", 3)
    sim.configure(expire_after_fraction=0.5)
    expired = create(bedrock, "c00004", 4)
    clock.advance(200)
    states = {name: bedrock.retrieve_batch(b.batch_id) for name, b in
              (("stopped", running), ("partial", partial), ("failed", failed), ("expired", expired))}
    assert [(i.provider_status, i.end_reason) for i in states.values()] == [
        ("Stopped", "cancelled"), ("PartiallyCompleted", "completed"), ("Failed", "failed"), ("Expired", "expired")]
    assert states["failed"].errors[0]["code"] == "bedrock_job_failed"
    assert results(bedrock, states["failed"]) == {}   # no output file at all
    assert len(results(bedrock, states["expired"])) == 2
    assert results(bedrock, states["partial"])["r-0"].outcome == "errored"


def test_the_manifest_counts_what_the_output_holds(bedrock, sim, clock):
    sim.configure(failure_rules=[{"pattern": "r-0$", "kind": "permanent"}])
    info = create(bedrock, "c00001", 4)
    clock.advance(200)
    info = bedrock.retrieve_batch(info.batch_id)
    outcomes = [r.outcome for r in results(bedrock, info).values()]
    manifest = bedrock.manifest(info)
    assert (manifest["totalRecordCount"], manifest["processedRecordCount"]) == (4, len(outcomes))
    assert (manifest["successRecordCount"], manifest["errorRecordCount"]) == (
        outcomes.count("succeeded"), outcomes.count("errored")) == (3, 1)
    assert (info.total, info.completed, info.failed) == (4, 4, 1)   # GetModelInvocationJob agrees


def test_records_the_manifest_says_ran_are_waited_for_when_their_output_is_missing(bedrock, clock):
    info = create(bedrock, "c00001", 3)
    clock.advance(200)
    info = bedrock.retrieve_batch(info.batch_id)
    s3 = boto3.client("s3")
    output, manifest = sorted(bedrock.delete_files(info), key=lambda key: key.endswith("manifest.json.out"))
    assert output.endswith("provider.jsonl.out") and manifest.endswith("manifest.json.out")
    s3.put_object(Bucket=get_settings().bucket_name, Key=manifest, Body=json.dumps(
        {"totalRecordCount": 3, "processedRecordCount": 3, "successRecordCount": 3, "errorRecordCount": 0}))
    # Read as "nothing reported", all three would be retried (and paid) again: the collector waits.
    with pytest.raises(ProviderError) as missing:
        list(bedrock.raw_result_files(info))
    assert (missing.value.code, missing.value.retryable) == ("output_missing", True)
    # A job that wrote neither (it failed before running a record) simply has no results.
    s3.delete_object(Bucket=get_settings().bucket_name, Key=manifest)
    assert list(bedrock.raw_result_files(info)) == [] and bedrock.manifest(info) is None


def test_errors_are_classified(bedrock, sim):
    sim.configure(create_errors_next=1, create_error_status=429)
    with pytest.raises(ProviderError) as throttled:
        create(bedrock, "c00001", 3)
    assert (throttled.value.status_code, throttled.value.retryable) == (429, True)
    sim.configure(quota_failures_next=1)
    with pytest.raises(ProviderError) as quota:
        create(bedrock, "c00001", 3)
    assert (quota.value.code, quota.value.status_code) == (QUOTA_EXCEEDED, 400)
    with pytest.raises(ProviderError) as missing:
        bedrock.retrieve_batch("abcdefabcdef")
    assert (missing.value.status_code, missing.value.retryable) == (404, False)
    unreachable = BedrockProvider(base_url="http://127.0.0.1:9/bedrock", max_retries=0)
    with pytest.raises(ProviderError) as down:
        unreachable.retrieve_batch("abcdefabcdef")
    assert (down.value.code, down.value.retryable) == ("connection_error", True)


def test_delete_files_removes_what_the_job_wrote(bedrock, clock):
    info = create(bedrock, "c00001", 3)
    clock.advance(200)
    info = bedrock.retrieve_batch(info.batch_id)
    deleted = bedrock.delete_files(info)
    assert sorted(key.rsplit("/", 1)[-1] for key in deleted) == ["manifest.json.out", "provider.jsonl.out"]
    assert bedrock.delete_files(info) == []
