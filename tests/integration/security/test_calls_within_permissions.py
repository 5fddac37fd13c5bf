"""Every AWS call the real handlers make is one the permission table lets that function make.

The whole stack runs in this process (local mode: moto, the provider simulator, the Lambda
runtime); each call a handler makes through botocore is recorded with the function that made
it and turned into what IAM would check: the action, the resource and, for table items, the
partition key; for the signing key, the encryption context's purpose. Each must match a row
of ``infra/permissions.py`` for that function, or the deployed function would be refused.
The scenario walks every route and lifecycle path a test can drive: endpoints, the tenant
secret, an upload, idempotent replays, retry chunks, the OpenAI webhook fast path, a cancel,
finalizing, signed deliveries, the items' TTL steps, a provider-file cleanup retried by the
poller's safety net, and DELETE of a small job (in the request) and a larger one (behind the
collect queue); a Bedrock job (IAM only: its batch inference job, its EventBridge events to
the fast path, its retries run on demand below the record minimum, its output deleted); the
authorizer finding keys; the drop-in surfaces through the openai and anthropic SDKs (files,
uploads in parts, batches, output files, results, deletions).
"""

from __future__ import annotations

import contextvars
import fnmatch
import json
import os
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anthropic
import botocore.client
import httpx
import openai
import pytest
from standardwebhooks import Webhook

from batchrelay import constants as c
from batchrelay.settings import get_settings
from batchrelay.webhooks.signing import new_secret
from batchrelay_tools.cli.client import ApiClient, ApiError
from batchrelay_tools.local.config import LocalConfig
from batchrelay_tools.local.stack import HandlerCache, LocalStack
from batchrelay_tools.local.webhook_receiver import WebhookReceiver
from infra import permissions as p

pytestmark = pytest.mark.slow

FINAL = {"completed", "completed_with_errors", "failed", "cancelled", "expired"}
_function: contextvars.ContextVar[str | None] = contextvars.ContextVar("function", default=None)


@dataclass(frozen=True)
class Call:
    function: str
    service: str
    operation: str
    params: dict[str, Any]


@pytest.fixture
def calls(monkeypatch) -> list[Call]:
    """Record every botocore call made while a handler runs (after the SDK's own transforms)."""
    recorded: list[Call] = []
    original = botocore.client.BaseClient._emit_api_params

    def emit(self, api_params, operation_model, context):
        params = original(self, api_params=api_params, operation_model=operation_model, context=context)
        function = _function.get()
        if function is not None:
            recorded.append(Call(function, self.meta.service_model.service_name, operation_model.name, params))
        return params

    submit = ThreadPoolExecutor.submit

    def submit_in_context(self, fn, /, *args, **kwargs):
        # Background uploads and pooled work belong to the function that queued them.
        return submit(self, contextvars.copy_context().run, fn, *args, **kwargs)

    monkeypatch.setattr(botocore.client.BaseClient, "_emit_api_params", emit)
    monkeypatch.setattr(ThreadPoolExecutor, "submit", submit_in_context)
    return recorded


# --- what IAM checks for a call ---

Need = tuple[str, str, str]  # (action, concrete resource, partition key or purpose)


def _string(value: Any) -> str:
    return value["S"] if isinstance(value, dict) else str(value)


def _query_pk(params: dict[str, Any]) -> str:
    names = params.get("ExpressionAttributeNames", {})
    for name, placeholder in re.findall(r"(#?\w+)\s*=\s*(:\w+)", params["KeyConditionExpression"]):
        if names.get(name, name) == c.PK:
            return _string(params["ExpressionAttributeValues"][placeholder])
    raise AssertionError(f"no partition key in {params['KeyConditionExpression']}")


_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
_S3_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObject": "s3:DeleteObject",
}


def needs(call: Call, env: dict[str, str]) -> list[Need]:
    params, op = call.params, call.operation
    if call.service == "dynamodb":
        if op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
            key = params.get("Key") or params["Item"]
            return [(f"dynamodb:{op}", p.TABLE, _string(key[c.PK]))]
        if op == "Query":
            if "IndexName" in params:
                return [("dynamodb:Query", f"index/{params['IndexName']}", "")]
            return [("dynamodb:Query", p.TABLE, _query_pk(params))]
        if op == "BatchGetItem":
            return [
                ("dynamodb:BatchGetItem", p.TABLE, _string(key[c.PK]))
                for request in params["RequestItems"].values()
                for key in request["Keys"]
            ]
        if op == "TransactWriteItems":
            out = []
            for item in params["TransactItems"]:
                ((kind, body),) = item.items()
                key = body.get("Key") or body["Item"]
                out.append((f"dynamodb:{_TRANSACT_ACTIONS[kind]}", p.TABLE, _string(key[c.PK])))
            return out
    if call.service == "s3":
        if op == "ListObjectsV2":
            # IAM checks s3:ListBucket on the bucket, with the request's prefix (s3:prefix)
            return [("s3:ListBucket", p.BUCKET, params.get("Prefix", ""))]
        if op == "DeleteObjects":
            return [("s3:DeleteObject", f"bucket/{o['Key']}", "") for o in params["Delete"]["Objects"]]
        if op in ("CopyObject", "UploadPartCopy"):
            source = params["CopySource"]  # "bucket/key" once the SDK has built it
            source_key = source["Key"] if isinstance(source, dict) else source.split("/", 1)[1]
            return [("s3:GetObject", f"bucket/{source_key}", ""), ("s3:PutObject", f"bucket/{params['Key']}", "")]
        if op in _S3_ACTIONS:
            return [(_S3_ACTIONS[op], f"bucket/{params['Key']}", "")]
        if op == "DeleteObjects":
            return [("s3:DeleteObject", f"bucket/{o['Key']}", "") for o in params["Delete"]["Objects"]]
    if call.service == "apigateway" and op == "GetApiKeys":
        return [("apigateway:GET", p.API_KEYS, "")]
    if call.service == "sqs" and op == "SendMessage":
        queues = {
            env[c.ENV_JOBS_QUEUE_URL]: c.JOBS_QUEUE,
            env[c.ENV_COLLECT_QUEUE_URL]: c.COLLECT_QUEUE,
            env[c.ENV_WEBHOOKS_QUEUE_URL]: c.WEBHOOKS_QUEUE,
        }
        return [("sqs:SendMessage", f"queue/{queues[params['QueueUrl']]}", "")]
    if call.service == "sns" and op == "Publish":
        assert params["TopicArn"] == env[c.ENV_EVENTS_TOPIC_ARN]
        return [("sns:Publish", p.EVENTS_TOPIC, "")]
    if call.service == "bedrock":
        if op == "CreateModelInvocationJob":
            out = [("bedrock:CreateModelInvocationJob", p.BEDROCK_JOBS, "")]
            # IAM checks that the caller may pass the role, to Bedrock, and tag what it creates.
            assert params["roleArn"] == env[c.ENV_BEDROCK_ROLE_ARN]
            out.append(("iam:PassRole", p.BEDROCK_ROLE, p.BEDROCK_SERVICE))
            if params.get("tags"):
                out.append(("bedrock:TagResource", p.BEDROCK_JOBS, ""))
            return out
        if op in ("GetModelInvocationJob", "StopModelInvocationJob"):
            return [(f"bedrock:{op}", p.BEDROCK_JOBS, "")]
        if op == "ListModelInvocationJobs":
            return [("bedrock:ListModelInvocationJobs", p.ANY, "")]
    if call.service == "bedrock-runtime" and op == "InvokeModel":
        return [("bedrock:InvokeModel", p.BEDROCK_MODELS, "")]
    if call.service == "kms" and op in ("Encrypt", "Decrypt"):
        assert params["KeyId"] == env[c.ENV_SECRETS_KEY_ID]
        return [(f"kms:{op}", p.SIGNING_KEY, params["EncryptionContext"][c.SECRET_CONTEXT_PURPOSE])]
    raise AssertionError(f"{call.function} made a call this test cannot judge: {call.service}.{op}")


def allows(allow: p.Allow, action: str, resource: str, scope: str) -> bool:
    if action not in allow.actions or not fnmatch.fnmatchcase(resource, allow.resource):
        return False
    if allow.keys:
        return any(fnmatch.fnmatchcase(scope, pattern) for pattern in allow.keys)
    if allow.purposes:
        return scope in allow.purposes
    if allow.prefixes:
        return any(fnmatch.fnmatchcase(scope, pattern) for pattern in allow.prefixes)
    if allow.services:
        return scope in allow.services
    return True


def refused(calls: list[Call], env: dict[str, str]) -> list[str]:
    out = []
    for call in calls:
        for need in needs(call, env):
            if not any(allows(allow, *need) for allow in p.permissions()[call.function]):
                out.append(f"{call.function}: {call.service}.{call.operation} needs {need}")
    return sorted(set(out))


# --- the scenario ---


OPENAI_WEBHOOK_SECRET = new_secret()


def _openai_event(batch_id: str) -> tuple[str, dict[str, str]]:
    """A batch.completed event signed as OpenAI signs it."""
    body = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "object": "event", "created_at": int(time.time()),
                       "type": "batch.completed", "data": {"id": batch_id}})
    msg_id, at = f"wh_{uuid.uuid4().hex}", datetime.now(UTC)
    signature = Webhook(OPENAI_WEBHOOK_SECRET).sign(msg_id, at, body)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature}
    return body, {**headers, "content-type": "application/json"}


def _requests(provider: str, count: int) -> list[dict[str, Any]]:
    if provider == "openai":
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    elif provider == "bedrock":
        body = {"model": "anthropic.claude-3-5-haiku-20241022-v1:0", "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    elif provider == "gemini":
        body = {"model": "gemini-2.5-flash", "contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    else:
        body = {"model": "claude-3-5-haiku-latest", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    return [{"custom_id": f"{provider}-{i}", "body": body} for i in range(count)]


def _wait(api: ApiClient, job_id: str, *, until: Any, timeout: float = 60.0, tick: Any = None) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = api.get_job(job_id)
        if until(job):
            return job
        assert time.monotonic() < deadline, f"job {job_id} stuck at {job['status']}: {job.get('chunks')}"
        if tick:
            tick(job)
        time.sleep(0.5)


@pytest.fixture
def no_provider_keys(monkeypatch):
    from batchrelay import registry

    for spec in registry.specs():
        monkeypatch.delenv(spec.api_key_env, raising=False)
        monkeypatch.delenv(spec.base_url_env, raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv(c.ENV_OPENAI_WEBHOOK_SECRET, OPENAI_WEBHOOK_SECRET)


def test_every_call_of_every_function_is_within_its_permissions(calls, no_provider_keys, tmp_path: Path,
                                                                 monkeypatch):
    # Uploads are copied into jobs' inputs in parts (UploadPartCopy) beyond a few KB here; the
    # emulator takes parts of any size.
    import moto.s3.models

    monkeypatch.setattr(c, "INPUT_COPY_PART_BYTES", 8_000)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1)
    from batchrelay.lifecycle import job_deletion, provider_files

    # A failed provider-file cleanup comes back within a second (deployed: half an hour on),
    # and only a one-chunk job is deleted in the request (the OpenAI job goes behind the queue).
    monkeypatch.setattr(provider_files, "cleanup_delay", lambda attempts: 1)
    monkeypatch.setattr(job_deletion, "INLINE_MAX_CHUNKS", 1)
    cache = HandlerCache()

    def invoke(function: str, event: dict[str, Any], context: Any) -> Any:
        token = _function.set(function)
        try:
            return cache.invoke(function, event, context)
        finally:
            _function.reset(token)

    config = LocalConfig(port=0, api_key="k-permissions-0123456789", poll_seconds=1.0, sim_processing_seconds=1.0,
                         sim_failure_fraction=0.3)
    with LocalStack(config, invoke=invoke) as stack, WebhookReceiver() as receiver, \
            ApiClient(stack.url, stack.api_key) as api:
        # A Gemini job, first, while the poller looks often (Gemini has no webhook): its batches,
        # files, retries and cleanup through google-genai
        gemini_job = api.create_job(
            {"provider": "gemini", "endpoint": "generateContent", "requests": _requests("gemini", 3)}
        )
        assert _wait(api, gemini_job["id"], until=lambda j: j["status"] in FINAL)["status"] in (
            "completed", "completed_with_errors")

        # The poller leaves running batches alone for a while: OpenAI's webhook ends them.
        # (Set after start, over local mode's own value; the stack restores it when it stops.)
        os.environ[c.ENV_POLL_MIN_DELAY_SECONDS] = "120"
        get_settings.cache_clear()
        openai_webhook_url = stack.url + c.OPENAI_WEBHOOK_PATH

        # Endpoints: register, list, test (decrypts), and one to remove
        endpoint = api.add_webhook(receiver.url, None, "permissions test")
        assert api.list_webhooks()["data"]
        assert api.test_webhook(endpoint["id"])["delivered"] is True
        api.remove_webhook(api.add_webhook(receiver.url + "/gone", None, None)["id"])

        # An OpenAI job from a multipart upload (validated in the background, copied into
        # the job's input in parts), with its own webhook_url (the api creates the tenant
        # secret) and an Idempotency-Key that is replayed
        path = tmp_path / "input.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in _requests("openai", 200)))
        upload = api.create_upload(size=path.stat().st_size)
        api.complete_upload(upload["upload_id"], api.put_parts(upload, path))
        body = {"provider": "openai", "endpoint": "/v1/chat/completions", "upload_id": upload["upload_id"],
                "webhook_url": f"{receiver.base_url}/job", "chunk_size": 100}
        openai_job = api.create_job(body, idempotency_key="idem-1")
        assert api.create_job(body, idempotency_key="idem-1")["id"] == openai_job["id"]

        # A job from a single-PUT upload with a bad line: it fails validation, having run nothing
        bad_path = tmp_path / "bad.jsonl"
        bad_path.write_text(json.dumps({"custom_id": "x", "body": {"messages": []}}) + "\n")
        bad_upload = api.create_upload()
        api.put_upload(bad_upload, bad_path)
        bad_job = api.create_job({"provider": "openai", "endpoint": "/v1/chat/completions",
                                  "upload_id": bad_upload["upload_id"]})


        # The first OpenAI file deletions fail (past the SDK's retries): the poller retries them
        stack.simulator.configure(delete_file_errors_next=12)

        # An Anthropic job, cancelled once its batches run
        anthropic_job = api.create_job(
            {"provider": "anthropic", "endpoint": "/v1/messages", "requests": _requests("anthropic", 4)}
        )
        # A Bedrock job of one batch inference job (150 records: above the minimum of 100); its
        # retries are fewer than the minimum and run on demand
        bedrock_job = api.create_job(
            {"provider": "bedrock", "endpoint": "/model/invoke", "requests": _requests("bedrock", 150)}
        )

        def nudge_openai(job: dict[str, Any]) -> None:
            # OpenAI's fast path for every submitted batch (retry batches too)
            for chunk in job.get("chunks") or []:
                if chunk["status"] == "submitted" and chunk["batch_id"]:
                    body, headers = _openai_event(chunk["batch_id"])
                    # (a busy stack on a loaded machine may take more than httpx's default 5 s)
                    answer = httpx.post(openai_webhook_url, content=body, headers=headers, timeout=60)
                    assert answer.status_code == 200

        _wait(api, anthropic_job["id"], until=lambda j: any(ch["batch_id"] for ch in j["chunks"] or []))
        api.cancel_job(anthropic_job["id"])
        done = _wait(api, openai_job["id"], until=lambda j: j["status"] in FINAL, tick=nudge_openai)
        assert done["status"] in ("completed", "completed_with_errors")
        assert any(ch["id"].endswith("-r2") for ch in done["chunks"]), "no retry chunk was made"
        assert _wait(api, anthropic_job["id"], until=lambda j: j["status"] in FINAL)["status"] == "cancelled"
        assert _wait(api, bad_job["id"], until=lambda j: j["status"] in FINAL)["status"] == "failed"
        bedrock_done = _wait(api, bedrock_job["id"], until=lambda j: j["status"] in FINAL)
        assert bedrock_done["status"] == "completed" and bedrock_done["cost"]["on_demand"]

        # Results, the delivery log, listing, the tenant secret
        assert receiver.wait_for_jobs({openai_job["id"], anthropic_job["id"]}, timeout=30)
        assert receiver.wait_for(lambda got: any(r.path == "/job" for r in got), timeout=30)
        api.job_results(openai_job["id"])
        assert api.deliveries(openai_job["id"])["data"]
        assert api.list_jobs(limit=5)["data"]
        api.request("POST", "/v1/webhook-endpoints/tenant-secret")

        # Every provider file is deleted in the end (the failed deletions were retried)
        deadline = time.monotonic() + 60
        while stack.simulator.stats()["files"]:
            assert time.monotonic() < deadline, stack.simulator.file_ledger()["live"]
            time.sleep(0.5)
        assert stack.simulator.stats()["files_deleted"] == stack.simulator.stats()["files_created"]

        # DELETE: the small Anthropic job in the request, the OpenAI and Bedrock jobs behind the queue
        deleted = api.request("DELETE", f"/v1/jobs/{anthropic_job['id']}")
        assert deleted["status"] == "deleted" and deleted["removed"]["table_items"] > 0
        for job in (openai_job, bedrock_job):
            assert api.request("DELETE", f"/v1/jobs/{job['id']}")["status"] == "deleting"
            deadline = time.monotonic() + 60
            while True:
                try:
                    api.get_job(job["id"])
                except ApiError as gone:
                    assert gone.status == 404
                    break
                assert time.monotonic() < deadline, f"{job['provider']} job {job['id']} was not deleted"
                time.sleep(0.5)

        # The OpenAI surface, as the openai SDK drives it (Authorization: Bearer)
        client = openai.OpenAI(base_url=stack.url + c.OPENAI_PREFIX, api_key=stack.api_key, max_retries=0)
        content = "".join(json.dumps({**r, "method": "POST", "url": "/v1/chat/completions"}) + "\n"
                          for r in _requests("openai", 30)).encode()
        small = client.files.create(file=("small.jsonl", content), purpose="batch")
        parted = client.uploads.upload_file_chunked(file=content, filename="parted.jsonl", bytes=len(content),
                                                    mime_type="text/jsonl", purpose="batch", part_size=1024)
        assert parted.file is not None
        client.uploads.cancel(client.uploads.create(bytes=10, filename="x.jsonl", mime_type="text/jsonl",
                                                    purpose="batch").id)
        batch = client.batches.create(input_file_id=parted.file.id, endpoint="/v1/chat/completions",
                                      completion_window="24h")
        cancelled = client.batches.create(input_file_id=small.id, endpoint="/v1/chat/completions",
                                          completion_window="24h")
        client.batches.cancel(cancelled.id)
        _wait(api, batch.id, until=lambda j: j["status"] in FINAL, tick=nudge_openai)
        batch = client.batches.retrieve(batch.id)
        assert batch.output_file_id
        assert client.files.content(batch.output_file_id).content
        assert [b.id for b in client.batches.list(limit=1)]
        assert client.files.list(limit=2).data
        client.files.delete(small.id)

        # The Anthropic surface, as the anthropic SDK drives it: create, results, delete
        # (polled at once: no fast path ends an Anthropic batch)
        os.environ[c.ENV_POLL_MIN_DELAY_SECONDS] = "1"
        get_settings.cache_clear()
        claude = anthropic.Anthropic(base_url=stack.url + "/anthropic", api_key=stack.api_key, max_retries=0)
        message_batch = claude.messages.batches.create(requests=[
            {"custom_id": r["custom_id"], "params": r["body"]} for r in _requests("anthropic", 3)])
        _wait(api, message_batch.id, until=lambda j: j["status"] in FINAL)
        assert len(list(claude.messages.batches.results(message_batch.id))) == 3
        claude.messages.batches.delete(message_batch.id)
        env = dict(stack.env)

    # Then every function made calls, and each of them is one its permissions allow
    assert {call.function for call in calls} == set(p.permissions())
    assert refused(calls, env) == []
    # And the paths that matter most were taken
    made = {(call.function, need[0], need[1]) for call in calls for need in needs(call, env)}
    assert (c.FUNCTION_OPENAI_WEBHOOK, "dynamodb:UpdateItem", p.TABLE) in made
    assert (c.FUNCTION_WEBHOOK, "kms:Decrypt", p.SIGNING_KEY) in made
    assert (c.FUNCTION_API, "kms:Decrypt", p.SIGNING_KEY) in made
    assert (c.FUNCTION_COLLECTOR, "dynamodb:PutItem", p.TABLE) in made  # a retry chunk
    assert (c.FUNCTION_AUTHORIZER, "apigateway:GET", p.API_KEYS) in made
    assert any(f == c.FUNCTION_API and a == "s3:DeleteObject" for f, a, _ in made)  # parts, a deleted file
    operations = {(call.function, call.operation) for call in calls}
    assert (c.FUNCTION_SUBMITTER, "UploadPartCopy") in operations   # an upload copied in parts
    assert (c.FUNCTION_API, "CompleteMultipartUpload") in operations
    assert (c.FUNCTION_API, "HeadObject") in operations and (c.FUNCTION_API, "CopyObject") not in operations
    for function in (c.FUNCTION_API, c.FUNCTION_COLLECTOR):  # DELETE, in the request and behind the queue
        assert (function, "s3:ListBucket", p.BUCKET) in made
        assert (function, "dynamodb:DeleteItem", p.TABLE) in made
        assert any(f == function and a == "s3:DeleteObject" and r.startswith("bucket/results/")
                   for f, a, r in made)
    scoped = {(call.function, need[0], need[2].split("#")[0]) for call in calls for need in needs(call, env)}
    assert (c.FUNCTION_COLLECTOR, "dynamodb:UpdateItem", "IDEMPOTENCY") in scoped  # the TTL steps
    assert (c.FUNCTION_COLLECTOR, "dynamodb:UpdateItem", "BATCH") in scoped
    # Bedrock: its job, the role passed to it, its events to the fast path, the on-demand retries
    assert (c.FUNCTION_SUBMITTER, "iam:PassRole", p.BEDROCK_ROLE) in made
    assert (c.FUNCTION_SUBMITTER, "bedrock:InvokeModel", p.BEDROCK_MODELS) in made
    assert (c.FUNCTION_BEDROCK_EVENTS, "bedrock:GetModelInvocationJob", p.BEDROCK_JOBS) in made
    assert (c.FUNCTION_BEDROCK_EVENTS, "dynamodb:UpdateItem", p.TABLE) in made
    output = f"bucket/{c.BEDROCK_OUTPUT_PREFIX}"
    assert any(f == c.FUNCTION_COLLECTOR and a == "s3:DeleteObject" and r.startswith(output) for f, a, r in made)
    cleanups = [call for call in calls if call.function == c.FUNCTION_POLLER and call.operation == "SendMessage"
                and '"kind":"cleanup"' in call.params.get("MessageBody", "")]
    assert cleanups, "the poller never retried a provider-file cleanup"


def test_a_call_outside_the_table_is_refused():
    # The judge itself: a Scan, another function's queue, a tenant item for the poller
    env = {c.ENV_JOBS_QUEUE_URL: "j", c.ENV_COLLECT_QUEUE_URL: "col", c.ENV_WEBHOOKS_QUEUE_URL: "w"}
    outside = [
        Call(c.FUNCTION_OPENAI_WEBHOOK, "dynamodb", "GetItem", {"Key": {"pk": {"S": "TENANT#t"}, "sk": {"S": "x"}}}),
        Call(c.FUNCTION_POLLER, "sqs", "SendMessage", {"QueueUrl": "w"}),
        Call(c.FUNCTION_API, "s3", "PutObject", {"Key": "results/job_1/results.jsonl"}),
    ]
    assert len(refused(outside, env)) == 3
    with pytest.raises(AssertionError, match="cannot judge"):
        needs(Call(c.FUNCTION_API, "dynamodb", "Scan", {}), env)
