"""Records below Bedrock's per-job minimum, run on demand: one ``InvokeModel`` per record.

Bedrock refuses a batch inference job with fewer records than the model's minimum (100 by
default). The lifecycle gathers small retry chunks of a job until they reach it
(lifecycle/small_chunks.py); only what is left when nothing else of the job can join comes
here, at the synchronous price. The run looks like a batch to the rest of the lifecycle:

- its id is ``ondemand:<job>:<chunk>:<n>`` (n: which of the chunk's batches, as a real job's
  token), and everything it writes is under ``bedrock-output/<job>/<chunk>/ondemand-b<n>/``;
- each answer is stored as it arrives (``records/<recordId>.json``, the same line a batch
  output would hold); a run that stops (its time budget spent, or the function died) is
  resumed by the next create of the same chunk and batch number, which lists what is stored
  and calls only the rest: a record answered once is never called again;
- when every record has its line, ``provider.jsonl.out`` (input order) and
  ``manifest.json.out`` are written and the run is an ended batch (Completed); the collector
  reads it like any output, and each line says ``service_tier: on_demand``.

What can still be paid twice: a call whose answer was lost on the way (the function died
with the call in flight or before the answer was stored, or the read timed out) is made
again; if that call is refused (5xx), the record's error line sends it to a retry, which
pays it instead. At most ``bedrock_on_demand_concurrency`` records per such event, each at
the synchronous price.

Calls run ``on_demand_concurrency`` at a time; 429s (throttling, model not ready) are
retried here with backoff (they prove nothing ran); a refused credential (403: no access to
the model) stops the run, which is resumed once the chunk's hold ends, like a create the
provider refused for the key; every other failure is the record's error line (5xx and
timeouts retryable, in a later attempt).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from batchrelay.aws import s3_objects
from batchrelay.aws.s3_keys import chunk_provider_key
from batchrelay.clock import iso
from batchrelay.jsonl import dumps_line, loads_line
from batchrelay.providers.base import BatchInfo, ProviderError
from batchrelay.providers.errors import translate_errors
from batchrelay.settings import get_settings

if TYPE_CHECKING:
    from batchrelay.providers.bedrock_provider import BedrockProvider

log = logging.getLogger(__name__)

# A run stops starting calls after this long, so calls in flight end within the submitter's
# 300 s (each waits at most the runtime client's 120 s read timeout); the next create resumes.
RUN_BUDGET_S = 150.0
THROTTLE_ATTEMPTS = 4
THROTTLE_CODES = frozenset({"ThrottlingException", "ModelNotReadyException", "ServiceQuotaExceededException",
                            "quota_exceeded"})
CREDENTIAL_STATUS = frozenset({401, 403})
OUTPUT_NAME = "provider.jsonl.out"
MANIFEST_NAME = "manifest.json.out"


def _prefix(batch_id: str) -> str:
    from batchrelay.providers.bedrock_provider import on_demand_prefix

    return on_demand_prefix(batch_id)


def on_demand_info(batch_id: str) -> BatchInfo:
    """The run as a batch. The lifecycle knows a run only once it has ended (the create returns
    it then), so it is ended: with its manifest's counts, or, once its files were deleted (the
    chunk collected), with nothing left to read."""
    prefix = _prefix(batch_id)
    with translate_errors("bedrock"):
        found = s3_objects.head(prefix + MANIFEST_NAME)
        manifest = s3_objects.get_json(prefix + MANIFEST_NAME) if found else None
    if manifest is None:
        return BatchInfo(batch_id=batch_id, provider_status="Completed", state="ended", created_at=0.0,
                         end_reason="completed", extra={"service_tier": "on_demand", "files_deleted": True})
    return _info_from_manifest(batch_id, manifest)


def _info_from_manifest(batch_id: str, manifest: dict[str, Any]) -> BatchInfo:
    return BatchInfo(
        batch_id=batch_id,
        provider_status="Completed",
        state="ended",
        created_at=float(manifest.get("startedAt") or 0.0),
        end_reason="completed",
        total=int(manifest.get("totalRecordCount") or 0),
        completed=int(manifest.get("processedRecordCount") or 0),
        failed=int(manifest.get("errorRecordCount") or 0),
        ended_at=float(manifest.get("endedAt") or 0.0) or None,
        metadata={"modelId": str(manifest.get("modelId") or "")},
        extra={"service_tier": "on_demand"},
    )


def run_on_demand(
    provider: BedrockProvider, *, job_id: str, chunk_id: str, batch_index: int, model: str, request_count: int
) -> BatchInfo:
    from batchrelay.providers.bedrock_provider import on_demand_batch_id

    batch_id = on_demand_batch_id(job_id, chunk_id, batch_index)
    prefix = _prefix(batch_id)
    with translate_errors("bedrock"):
        if s3_objects.head(prefix + MANIFEST_NAME):
            return on_demand_info(batch_id)   # a create repeated after the run ended
        stored = _stored_answers(prefix)
        records = [loads_line(line) for line in s3_objects.object_lines(chunk_provider_key(job_id, chunk_id))]
    if len(records) != request_count:
        log.warning("on-demand run %s: %d records in the chunk file, expected %d", batch_id, len(records),
                    request_count)
    todo = [record for record in records if record["recordId"] not in stored]
    started = time.time()
    left = _call_all(provider, batch_id, prefix, model, todo, deadline=started + RUN_BUDGET_S)
    if left:
        raise ProviderError(
            f"bedrock: on-demand run {batch_id} paused with {left} of {len(records)} records to go "
            f"(time budget); the next attempt goes on from there",
            retryable=True, status_code=503, code="on_demand_paused",
        )
    return _finish(batch_id, prefix, model, records, started=started)


def _stored_answers(prefix: str) -> set[str]:
    """recordIds already answered (their lines are stored)."""
    keys: set[str] = set()
    start_after = ""
    from batchrelay.aws import clients

    client = clients.s3()
    bucket = get_settings().bucket_name
    while True:
        params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix + "records/", "MaxKeys": 1000}
        if start_after:
            params["StartAfter"] = start_after
        page = client.list_objects_v2(**params)
        contents = page.get("Contents") or []
        for entry in contents:
            keys.add(entry["Key"].rsplit("/", 1)[-1].removesuffix(".json"))
        if not page.get("IsTruncated") or not contents:
            return keys
        start_after = contents[-1]["Key"]


def _call_all(provider: BedrockProvider, batch_id: str, prefix: str, model: str, todo: list[dict[str, Any]],
              *, deadline: float) -> int:
    """Call and store each record; returns how many were left when the budget ran out."""
    concurrency = max(1, get_settings().bedrock.on_demand_concurrency)
    pending = list(reversed(todo))
    if concurrency == 1:
        while pending and time.time() < deadline:
            _answer(provider, batch_id, prefix, model, pending.pop())
        return len(pending)
    lock = threading.Lock()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bedrock-on-demand") as pool:
        running: set[Future[None]] = set()
        while pending or running:
            while pending and len(running) < concurrency and time.time() < deadline:
                with lock:
                    record = pending.pop()
                running.add(pool.submit(_answer, provider, batch_id, prefix, model, record))
            if not running:
                break
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()   # an S3 failure to store an answer stops the run (it is retried)
    return len(pending)


def _answer(provider: BedrockProvider, batch_id: str, prefix: str, model: str, record: dict[str, Any]) -> None:
    record_id = str(record["recordId"])
    body = record.get("modelInput") or {}
    line: dict[str, Any] = {"recordId": record_id, "modelInput": body}
    line.update(_invoke(provider, batch_id, model, record_id, body))
    with translate_errors("bedrock"):
        s3_objects.put_bytes(f"{prefix}records/{record_id}.json", dumps_line(line), content_type="application/json")


def _invoke(provider: BedrockProvider, batch_id: str, model: str, record_id: str, body: Any) -> dict[str, Any]:
    """{"modelOutput": ...} or {"error": {"errorCode", "errorMessage"}}, as a batch writes them."""
    for attempt in range(1, THROTTLE_ATTEMPTS + 1):
        try:
            with translate_errors("bedrock"):
                answer = provider.runtime.invoke_model(
                    modelId=model,
                    body=json.dumps(body).encode("utf-8"),
                    contentType="application/json",
                    accept="application/json",
                    # Shows in Bedrock's model invocation logs: which run and record a call was.
                    requestMetadata=json.dumps({"batchrelay_batch": batch_id, "batchrelay_record": record_id}),
                )
                raw = answer["body"].read()
            return {"modelOutput": loads_line(raw)}
        except ProviderError as exc:
            if exc.status_code in CREDENTIAL_STATUS:
                raise   # the role may not call the model (now): the run stops, the chunk is held
            if exc.code in THROTTLE_CODES and attempt < THROTTLE_ATTEMPTS:
                time.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2))
                continue
            status = exc.status_code or (503 if exc.code == "connection_error" else 500)
            if exc.code in THROTTLE_CODES:
                status = 429
            return {"error": {"errorCode": status, "errorMessage": exc.message}}
        except ValueError as exc:   # the answer was not JSON
            return {"error": {"errorCode": 502, "errorMessage": f"the model's answer is not JSON: {exc}"}}
    raise AssertionError("unreachable")


def _finish(batch_id: str, prefix: str, model: str, records: list[dict[str, Any]], *, started: float) -> BatchInfo:
    """Write the output (input order) and the manifest: the run is an ended batch from now on."""
    lines: list[bytes] = []
    succeeded = errored = input_tokens = output_tokens = 0
    from batchrelay.providers.bedrock_provider import normalize_usage

    with translate_errors("bedrock"):
        for record in records:
            raw = s3_objects.read_range(f"{prefix}records/{record['recordId']}.json", 0, 64 * 1024 * 1024)
            line = loads_line(raw.rstrip(b"\n"))
            if "modelOutput" in line:
                succeeded += 1
                usage = normalize_usage(line["modelOutput"]) or {}
                input_tokens += usage.get("input_tokens", 0)
                output_tokens += usage.get("output_tokens", 0)
            else:
                errored += 1
            lines.append(raw if raw.endswith(b"\n") else raw + b"\n")
        s3_objects.put_bytes(prefix + OUTPUT_NAME, b"".join(lines), content_type="application/jsonl")
        ended = time.time()
        manifest = {
            "totalRecordCount": len(records), "processedRecordCount": succeeded + errored,
            "successRecordCount": succeeded, "errorRecordCount": errored,
            "inputTokenCount": input_tokens, "outputTokenCount": output_tokens,
            "modelId": model, "serviceTier": "on_demand", "startedAt": started, "endedAt": ended,
            "endTime": iso(ended),
        }
        # The manifest last: it is what makes the run an ended batch.
        s3_objects.put_json(prefix + MANIFEST_NAME, manifest)
    return _info_from_manifest(batch_id, manifest)
