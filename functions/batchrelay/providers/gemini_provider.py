"""Gemini Batch API adapter (Gemini Developer API, official ``google-genai`` SDK).

A batch runs one model (the model is the batch's, in the create call's path): the registry
says ``one_model_per_batch``, the planner cuts chunks per model, and every request line names
its model (``request.model``, in the ``models/<name>`` form the SDK itself sends), so the
create reads it from the chunk's first line.

Input, and why:
- **An uploaded JSONL file** of ``{"key", "request"}`` lines (``client.files.upload``, then
  ``client.batches.create(src="files/...")``): the default. The request is the user's
  GenerateContentRequest as written (nothing is translated), a chunk can be as large as the
  provider takes (2 GB a file) so jobs need few batches, and memory stays flat: the SDK
  uploads the chunk file from disk in 8 MB parts, and the results file is downloaded and
  handed on in blocks (never whole). Embeddings always go this way
  (``client.batches.create_embeddings``: its inline form takes one config for all requests
  and no per-request keys).
- **Inline requests** (``src=[InlinedRequest]``, results in ``dest.inlined_responses``) for
  small generateContent chunks, up to ``INLINE_MAX_BYTES`` of request lines (Google allows
  20 MB; the whole answer comes back in one ``batches.get``, so it is kept small): no upload,
  no results file to delete, one call fewer each way. A request goes inline only when the
  SDK's InlinedRequest carries it exactly (its own conversion gives back the very request);
  otherwise the chunk goes as a file.

The SDK's BatchJob (google-genai 3.6) leaves out two fields the Gemini Developer API sends:
``metadata.batchStats`` (request, successful, failed and pending counts: progress while a
batch runs) and the operation's ``error`` (why a batch failed). The adapter gives the SDK an
httpx2 client of its own (``HttpOptions.httpx_client``) whose response hook keeps the JSON of
batch answers, per thread, and reads those two fields (and the raw inline answers) from it
beside the SDK's model.

States: the SDK maps the wire's BATCH_STATE_* onto JOB_STATE_*: PENDING and RUNNING run;
SUCCEEDED completes; EXPIRED (pending or running for 48 hours) expires, with whatever answers
it has (Google's guide says none: then every request goes to a new batch); CANCELLED; FAILED
fails, a RESOURCE_EXHAUSTED failure being a quota refusal (``token_limit_exceeded``: the chunk
is held and created again later). JOB_STATE_QUEUED and JOB_STATE_PENDING are the words of a batch accepted but
not started (the registry's ``pending_statuses``): the job view shows how long the oldest
has waited.

Recovery after an ambiguous create: every batch's display name is
``batchrelay/<job>/<chunk>/<create_seq>``; ``find_candidates`` lists the batches created in the
window and keeps those naming the chunk; ``prove_ownership`` is the display name (and, for a
batch without one, the chunk tag in its result keys once it has ended).

Cleanup (``delete_files``): the uploaded input file, the results file and the batch itself
(which holds inline answers) once the chunk is collected; uploaded files would expire after
48 hours anyway.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Iterator
from queue import Empty, Queue
from typing import Any

import httpx2
from google import genai
from google.genai import types

from batchrelay.jsonl import dumps_line, iter_lines, loads_line
from batchrelay.providers.base import (
    NO_OPTIONS,
    BatchInfo,
    BatchOptions,
    ProviderError,
    ProviderResult,
    RawFile,
    results_carry_tag,
)
from batchrelay.providers.custom_ids import tagged
from batchrelay.providers.errors import RETRYABLE_STATUS, resumable_stream, translate_errors
from batchrelay.providers.sdk_provider import SdkProvider

log = logging.getLogger(__name__)

GENERATE_CONTENT = "generateContent"
EMBED_CONTENT = "embedContent"
INLINE_MAX_BYTES = 1024 * 1024
CLOCK_SKEW_SECONDS = 5.0
DISPLAY_NAME_PREFIX = "batchrelay"
# The file's MIME type as Google's cookbook uploads batch input.
INPUT_MIME_TYPE = "jsonl"
RETRY_STATUS_CODES = (408, 429, 500, 502, 503, 504)

_END_REASONS = {
    "JOB_STATE_SUCCEEDED": "completed",
    "JOB_STATE_PARTIALLY_SUCCEEDED": "completed",
    "JOB_STATE_EXPIRED": "expired",
    "JOB_STATE_CANCELLED": "cancelled",
    "JOB_STATE_FAILED": "failed",
}
# google.rpc.Code of a per-request or whole-batch error.
_GRPC_NAMES = {
    1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND",
    7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION", 10: "ABORTED", 11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED", 13: "INTERNAL", 14: "UNAVAILABLE", 15: "DATA_LOSS", 16: "UNAUTHENTICATED",
}
_RETRYABLE_GRPC = {2, 4, 8, 10, 13, 14}
_RESOURCE_EXHAUSTED = 8
# Request fields an InlinedRequest carries (its config takes the rest of a GenerateContentRequest).
_INLINE_CONFIG_FIELDS = ("systemInstruction", "safetySettings", "tools", "toolConfig", "cachedContent")
_INLINE_FIELDS = {"model", "contents", "generationConfig", *_INLINE_CONFIG_FIELDS}


def model_resource(model: str) -> str:
    """``models/<name>``, the form the API names models in (a tuned model's name is kept)."""
    return model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"


def display_name(metadata: dict[str, str]) -> str:
    return "/".join((DISPLAY_NAME_PREFIX, metadata.get("batchrelay_job", ""), metadata.get("batchrelay_chunk", ""),
                     metadata.get("batchrelay_seq", "")))


def owner_of(name: str | None) -> dict[str, str]:
    """The job, chunk and create_seq a display name of ours names ({} for any other name)."""
    parts = (name or "").split("/")
    if len(parts) != 4 or parts[0] != DISPLAY_NAME_PREFIX or not parts[1] or not parts[2]:
        return {}
    return {"batchrelay_job": parts[1], "batchrelay_chunk": parts[2], "batchrelay_seq": parts[3]}


def normalize_usage(usage: dict[str, Any] | None) -> dict[str, int] | None:
    """usageMetadata: prompt tokens in, candidates + thinking tokens out (both billed as output)."""
    if not isinstance(usage, dict):
        return None
    input_tokens = int(usage.get("promptTokenCount") or 0) + int(usage.get("toolUsePromptTokenCount") or 0)
    output_tokens = int(usage.get("candidatesTokenCount") or 0) + int(usage.get("thoughtsTokenCount") or 0)
    total = int(usage.get("totalTokenCount") or input_tokens + output_tokens)
    return {"input_tokens": input_tokens, "output_tokens": output_tokens, "total_tokens": total}


def error_retryable(code: int) -> bool:
    """A google.rpc.Status code (or, from an HTTP layer, an HTTP status) worth another batch."""
    if code >= 100:
        return code in RETRYABLE_STATUS or code >= 500
    return code in _RETRYABLE_GRPC


class _BatchWire:
    """The JSON of batch answers as Google sent them, by batch name, per thread.

    A response hook on the SDK's HTTP client fills it; the adapter takes an entry right
    after the SDK call that fetched it, on the same thread (the poller retrieves on a pool).
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def _seen(self) -> dict[str, dict[str, Any]]:
        seen = getattr(self._local, "seen", None)
        if seen is None:
            seen = self._local.seen = {}
        return seen

    def hook(self, response: httpx2.Response) -> None:
        path = response.request.url.path
        if response.status_code != 200 or response.request.method == "DELETE" or not (
            "/batches" in path or path.endswith((":batchGenerateContent", ":asyncBatchEmbedContent"))
        ) or path.endswith(":cancel"):
            return
        response.read()
        try:
            data = response.json()
        except ValueError:
            return
        operations = data.get("operations") if isinstance(data, dict) and "operations" in data else [data]
        seen = self._seen()
        if len(seen) > 4096:
            seen.clear()   # entries nobody took (a sweep stopped early): bounded
        for operation in operations or []:
            if isinstance(operation, dict) and isinstance(operation.get("name"), str):
                seen[operation["name"]] = operation

    def take(self, name: str | None) -> dict[str, Any]:
        return self._seen().pop(name or "", None) or {}


class _QueueWriter:
    """``files.download``'s destination: hands each block to the consumer through a bounded queue."""

    def __init__(self, queue: Queue[Any], stop: threading.Event):
        self.queue = queue
        self.stop = stop

    def write(self, block: bytes) -> int:
        if self.stop.is_set():
            raise _Abandoned()
        self.queue.put(bytes(block))
        return len(block)


class _Abandoned(Exception):
    pass


_DONE = object()


class _StreamedDownload:
    """``client.files.download`` on a helper thread, its bytes read here as they arrive: the
    results file is never whole in memory nor on disk (Lambda's /tmp is small)."""

    def __init__(self, client: genai.Client, name: str, depth: int = 8):
        self.client = client
        self.name = name
        self.queue: Queue[Any] = Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"gemini-download-{name}", daemon=True)

    def _run(self) -> None:
        try:
            self.client.files.download(file=self.name, destination=_QueueWriter(self.queue, self.stop))
            self.queue.put(_DONE)
        except _Abandoned:
            pass
        except BaseException as exc:  # handed to the reading side, which translates it
            self.queue.put(exc)

    def __enter__(self) -> _StreamedDownload:
        self.thread.start()
        return self

    def iter_bytes(self, chunk_size: int) -> Iterator[bytes]:
        while True:
            item = self.queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        while self.thread.is_alive():   # let a writer blocked on a full queue see the stop
            try:
                self.queue.get(timeout=0.05)
            except Empty:
                pass
        self.thread.join()


class GeminiProvider(SdkProvider):
    name = "gemini"

    def __init__(self, *args: Any, inline_max_bytes: int = INLINE_MAX_BYTES, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.inline_max_bytes = inline_max_bytes
        self._wire = _BatchWire()

    def _new_client(self, api_key: str, **client_args: Any) -> genai.Client:
        timeout = client_args.get("timeout")
        seconds = timeout.read if isinstance(timeout, httpx2.Timeout) else timeout
        max_retries = int(client_args.get("max_retries", 0))
        options = types.HttpOptions(
            base_url=client_args.get("base_url"),
            # Per request (the SDK passes it on every call); None would mean no timeout at all.
            timeout=int((seconds or 60.0) * 1000),
            retry_options=types.HttpRetryOptions(
                attempts=max_retries + 1, initial_delay=0.5, max_delay=8.0,
                http_status_codes=list(RETRY_STATUS_CODES),
            ),
            httpx_client=httpx2.Client(timeout=timeout, event_hooks={"response": [self._wire.hook]}),
        )
        return genai.Client(api_key=api_key, vertexai=False, http_options=options)

    # ------------------------------------------------------------------ requests
    def provider_custom_id(self, custom_id: str, tag: str) -> str:
        return tagged(tag, custom_id)   # a key is any string

    def request_line(self, provider_custom_id: str, body: dict[str, Any], endpoint: str) -> dict[str, Any]:
        """``{"key", "request"}``: the user's GenerateContentRequest (or EmbedContentRequest), its
        model in the ``models/<name>`` form."""
        request = dict(body)
        if isinstance(request.get("model"), str):
            request["model"] = model_resource(request["model"])
        return {"key": provider_custom_id, "request": request}

    # ------------------------------------------------------------------ batches
    def create_batch(
        self, *, requests_path: str, request_count: int, endpoint: str, metadata: dict[str, str],
        options: BatchOptions = NO_OPTIONS,
    ) -> BatchInfo:
        """The model is the batch's: the chunk's one model (``options.model``), else read from
        its first line."""
        model = model_resource(options.model) if options.model else _first_model(requests_path)
        name = display_name(metadata)
        # No SDK retry: a POST retried after a timeout could create a second batch.
        once = types.HttpOptions(retry_options=types.HttpRetryOptions(attempts=1))
        if endpoint == GENERATE_CONTENT and os.path.getsize(requests_path) <= self.inline_max_bytes:
            inlined = self._inlined_requests(requests_path)
            if inlined is not None:
                with translate_errors(self.name):
                    job = self.client.batches.create(
                        model=model, src=inlined,
                        config=types.CreateBatchJobConfig(display_name=name, http_options=once),
                    )
                return self._info(job)
        with translate_errors(self.name):
            uploaded = self.client.files.upload(
                file=requests_path, config=types.UploadFileConfig(mime_type=INPUT_MIME_TYPE, display_name=name)
            )
        try:
            with translate_errors(self.name):
                if endpoint == EMBED_CONTENT:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")   # "create_embeddings() is experimental"
                        job = self.client.batches.create_embeddings(
                            model=model, src=types.EmbeddingsBatchJobSource(file_name=uploaded.name),
                            config=types.CreateEmbeddingsBatchJobConfig(display_name=name, http_options=once),
                        )
                else:
                    job = self.client.batches.create(
                        model=model, src=uploaded.name,
                        config=types.CreateBatchJobConfig(display_name=name, http_options=once),
                    )
        except ProviderError as exc:
            # Refused (4xx, 429 included): nothing refers to the upload; an ambiguous failure may
            # have made the batch, which reads the file: keep it then (deleted with the batch's).
            if exc.status_code is not None and 400 <= exc.status_code < 500:
                self._delete_quietly(uploaded.name or "")
            raise
        info = self._info(job)
        info.extra.setdefault("input_file", uploaded.name)
        return info

    def _inlined_requests(self, requests_path: str) -> list[types.InlinedRequest] | None:
        """The chunk as InlinedRequests, or None when one of its requests would not come out of
        the SDK exactly as written (then it goes as a file, verbatim)."""
        from google.genai import batches as sdk_batches

        inlined: list[types.InlinedRequest] = []
        with open(requests_path, "rb") as handle:
            for line in iter_lines(iter(lambda: handle.read(64 * 1024), b"")):
                entry = loads_line(line)
                request = entry.get("request")
                if not isinstance(request, dict) or set(request) - _INLINE_FIELDS:
                    return None
                config = dict(request.get("generationConfig") or {})
                config.update({k: request[k] for k in _INLINE_CONFIG_FIELDS if k in request})
                try:
                    item = types.InlinedRequest.model_validate({
                        "model": request.get("model"), "contents": request.get("contents"),
                        "config": config or None, "metadata": {"key": entry["key"]},
                    })
                    wire = sdk_batches._InlinedRequest_to_mldev(self.client._api_client, item)
                except Exception:   # a field the SDK cannot carry, or an SDK without the converter
                    return None
                if wire.get("request") != request:
                    return None
                inlined.append(item)
        return inlined

    def find_candidates(
        self, *, metadata: dict[str, str], created_after: float, created_before: float, request_count: int
    ) -> Iterator[BatchInfo]:
        """Batches created in the window whose display name names this job and chunk (any
        create_seq: the interrupted attempt used an earlier one)."""
        wanted = (metadata.get("batchrelay_job"), metadata.get("batchrelay_chunk"))
        latest = created_before + CLOCK_SKEW_SECONDS
        for info in self.list_batches(created_after=created_after - CLOCK_SKEW_SECONDS):
            if info.created_at > latest:
                continue
            if (info.metadata.get("batchrelay_job"), info.metadata.get("batchrelay_chunk")) != wanted:
                continue
            if info.total and info.total != request_count:
                continue
            yield info

    def prove_ownership(self, batch: BatchInfo, *, tag: str, metadata: dict[str, str]) -> bool | None:
        """Its display name names the chunk's job and chunk: the chunk's (job ids are unique). A
        batch without one of our names is told by the chunk tag of its result keys."""
        if batch.metadata.get("batchrelay_job"):
            return (batch.metadata.get("batchrelay_job"), batch.metadata.get("batchrelay_chunk")) == (
                metadata.get("batchrelay_job"), metadata.get("batchrelay_chunk"))
        if batch.state != "ended" or not tag:
            return None if batch.state != "ended" else False
        return results_carry_tag(self, batch, tag)

    def list_batches(self, *, created_after: float, page_size: int = 100) -> Iterator[BatchInfo]:
        """Newest first (as the API lists them), paging back only to ``created_after``."""
        with translate_errors(self.name):
            pager = self.client.batches.list(config=types.ListBatchJobsConfig(page_size=max(1, min(1000, page_size))))
            for job in pager:
                info = self._info(job)
                if info.created_at < created_after:
                    return
                yield info

    def retrieve_batch(self, batch_id: str) -> BatchInfo:
        with translate_errors(self.name):
            return self._info(self.client.batches.get(name=batch_id))

    def cancel_batch(self, batch_id: str) -> BatchInfo:
        with translate_errors(self.name):
            self.client.batches.cancel(name=batch_id)
        return self.retrieve_batch(batch_id)

    def _info(self, job: types.BatchJob) -> BatchInfo:
        raw = self._wire.take(job.name)
        meta = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
        state = job.state.value if job.state is not None else "JOB_STATE_UNSPECIFIED"
        end_reason = _END_REASONS.get(state)
        stats = meta.get("batchStats") if isinstance(meta.get("batchStats"), dict) else {}
        succeeded = int(stats.get("successfulRequestCount") or 0)
        failed = int(stats.get("failedRequestCount") or 0)
        created = job.create_time.timestamp() if job.create_time else 0.0
        ended_at = job.end_time or job.update_time
        output = meta.get("output") if isinstance(meta.get("output"), dict) else {}
        inlined = output.get("inlinedResponses") if isinstance(output.get("inlinedResponses"), dict) else None
        input_config = meta.get("inputConfig") if isinstance(meta.get("inputConfig"), dict) else {}
        extra: dict[str, Any] = {
            "model": job.model,
            "display_name": job.display_name,
            "input_file": input_config.get("fileName") or input_config.get("file_name"),
            "output_file": job.dest.file_name if job.dest else None,
        }
        if inlined is not None and "inlinedResponses" in inlined:
            extra["inlined_responses"] = inlined["inlinedResponses"]
        return BatchInfo(
            batch_id=job.name or "",
            provider_status=state,
            state="ended" if end_reason else "running",
            created_at=created,
            end_reason=end_reason,  # type: ignore[arg-type]
            total=int(stats.get("requestCount") or 0),
            completed=succeeded + failed,
            failed=failed,
            ended_at=ended_at.timestamp() if end_reason and ended_at else None,
            metadata=owner_of(job.display_name),
            errors=_batch_errors(state, raw.get("error")),
            extra=extra,
        )

    # ------------------------------------------------------------------ results
    def raw_result_files(self, batch: BatchInfo) -> Iterator[RawFile]:
        """The results file, streamed in blocks; or the inline answers as the same JSONL lines
        (``{"key", "response" | "error"}``). A batch with neither (failed, or expired before
        answering anything) has no results."""
        if not batch.extra.get("output_file") and "inlined_responses" not in batch.extra:
            batch = self.retrieve_batch(batch.batch_id)   # a list sweep's view leaves inline answers out
        output_file = batch.extra.get("output_file")
        if output_file:
            yield RawFile(name="results", blocks=resumable_stream(
                lambda: _StreamedDownload(self.client, output_file), provider=self.name, what=output_file,
                attempts=self.download_attempts,
            ))
        elif batch.extra.get("inlined_responses") is not None:
            yield RawFile(name="results", blocks=_inline_lines(batch.extra["inlined_responses"]))

    def parse_result_line(self, file_name: str, line: bytes) -> ProviderResult:
        """One ``{"key", "response"}`` or ``{"key", "error"}`` line. Raises ValueError for anything else."""
        data = loads_line(line)
        if not isinstance(data, dict) or not isinstance(data.get("key"), str):
            raise ValueError("not a Gemini batch result line: no key")
        key = data["key"]
        response = data.get("response")
        if isinstance(response, dict):
            if "embedding" in response:
                tokens = int(response.get("tokenCount") or 0)
                return ProviderResult(custom_id=key, outcome="succeeded", response=response,
                                      usage={"input_tokens": tokens, "output_tokens": 0, "total_tokens": tokens})
            model = response.get("modelVersion")
            return ProviderResult(custom_id=key, outcome="succeeded", response=response,
                                  usage=normalize_usage(response.get("usageMetadata")),
                                  model=model if isinstance(model, str) else None)
        error = data.get("error")
        if isinstance(error, dict):
            code = int(error.get("code") or 0)
            name = _GRPC_NAMES.get(code, str(error.get("status") or f"code_{code}"))
            return ProviderResult(
                custom_id=key, outcome="errored",
                error={"code": name, "message": error.get("message") or name, "status_code": code},
                retryable=error_retryable(code),
            )
        raise ValueError("not a Gemini batch result line: neither response nor error")

    # ------------------------------------------------------------------ cleanup
    def delete_files(self, batch: BatchInfo) -> list[str]:
        """Delete the batch's input file, its results file and the batch itself (it holds inline
        answers); returns what is gone. Only once ended; anything gone already counts."""
        if batch.state != "ended" or "input_file" not in batch.extra:
            batch = self.retrieve_batch(batch.batch_id)
        if batch.state != "ended":
            return []
        deleted: list[str] = []
        for file_name in (batch.extra.get("input_file"), batch.extra.get("output_file")):
            if file_name:
                self._delete(lambda name=file_name: self.client.files.delete(name=name))
                deleted.append(file_name)
        self._delete(lambda: self.client.batches.delete(name=batch.batch_id))
        deleted.append(batch.batch_id)
        return deleted

    def _delete(self, call: Any) -> None:
        try:
            with translate_errors(self.name):
                call()
        except ProviderError as exc:
            if exc.status_code != 404:
                raise

    def _delete_quietly(self, file_name: str) -> None:
        # Nothing refers to this file any more: Google's own 48-hour expiry is the safety net.
        try:
            self._delete(lambda: self.client.files.delete(name=file_name))
        except ProviderError as exc:
            log.warning("could not delete input file %s: %s", file_name, exc.message)


def _first_model(requests_path: str) -> str:
    with open(requests_path, "rb") as handle:
        first = handle.readline()
    request = loads_line(first).get("request") if first.strip() else None
    model = request.get("model") if isinstance(request, dict) else None
    if not isinstance(model, str) or not model:
        raise ProviderError("gemini: the chunk's first request names no model", retryable=False,
                            code="missing_model")
    return model


def _batch_errors(state: str, error: Any) -> list[dict[str, Any]]:
    """Why a batch failed, from the operation's google.rpc.Status; RESOURCE_EXHAUSTED is the
    quota refusal the lifecycle holds a chunk for (``token_limit_exceeded``)."""
    if state != "JOB_STATE_FAILED":
        return []
    if not isinstance(error, dict):
        return [{"code": "batch_failed", "message": "the batch failed (no reason given)"}]
    code = int(error.get("code") or 0)
    name = _GRPC_NAMES.get(code, f"code_{code}")
    message = str(error.get("message") or name)
    if code == _RESOURCE_EXHAUSTED:
        return [{"code": "token_limit_exceeded", "status": name, "message": message}]
    return [{"code": name.lower(), "status": name, "message": message}]


def _inline_lines(responses: list[Any]) -> Iterator[bytes]:
    """Inline answers (``{"metadata": {"key"}, "response" | "error"}``) as results-file lines."""
    for item in responses:
        if not isinstance(item, dict):
            continue
        metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
        line: dict[str, Any] = {"key": metadata.get("key")}
        for field in ("response", "error"):
            if field in item:
                line[field] = item[field]
        yield dumps_line(line)
