"""Split a job's input into chunks within the provider's per-batch limits.

Planning is deterministic: the same input, chunk size and limits give the same chunks
with the same ids and contents, so a submitter that crashed half-way plans again and
finds the chunks it already stored.

Planning makes durable progress (``plan_step``): each chunk is stored together with
where planning goes on after it (``Job.planning``), in one transaction, so an invocation
that dies (a Lambda timeout) loses at most the chunk it was writing, and the next one
resumes after the last chunk stored; an invocation stops between two chunks when its time
runs short and queues the next. A job of any size and any accepted chunk size gets through.

One model per batch. Providers that declare ``one_model_per_batch`` (the registry) are
planned in one pass over the input per model (sorted; the models validation counted), each
pass cutting that model's requests, in input order, into its own chunks within the limits:
a mixed-model job makes one batch per model per chunk. Other providers (Anthropic) get one
pass, in input order. Memory stays bounded whatever the job's size or its number of models:
one chunk is open at a time (a ChunkInputWriter: two multipart writers of at most
``max_in_flight + 1`` 5 MiB part buffers each). Validation caps a job at MAX_MODELS_PER_JOB
(32) models, so a job is read at most 32 times; a job of one model is read once.

Chunk ids are numbered in the order chunks open, pass after pass, so a mixed-model job's
results (which follow chunk ids) come grouped by model, not in input order.

A provider with a per-batch minimum (``ProviderLimits.min_requests``: Bedrock) gets chunks
of at least that many requests wherever the pass has them: a chunk_size below the minimum
is raised to it, and a pass's tail that would be a chunk below the minimum joins the chunk
before it (up to the provider's own maximum, so that chunk may exceed chunk_size by less than
the minimum). The pass's size is known from validation (``Job.models``). What still falls
below (a pass smaller than the minimum, a tail the byte limit keeps apart) is a small chunk:
lifecycle/small_chunks.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from batchrelay import registry
from batchrelay.aws.s3_keys import chunk_input_key, chunk_provider_key
from batchrelay.aws.s3_objects import numbered_object_lines
from batchrelay.jsonl import loads_line
from batchrelay.lifecycle.poll_schedule import SAFETY_NET_S
from batchrelay.models.job import Chunk, ChunkStatus, Job, PlanningProgress
from batchrelay.providers.base import BatchProvider
from batchrelay.providers.custom_ids import PLACEHOLDER_TAG, chunk_id_tag
from batchrelay.results.multipart_writer import MultipartWriter
from batchrelay.settings import get_settings


@dataclass(frozen=True)
class ChunkLimits:
    max_requests: int
    max_bytes: int   # of the provider's input (its request lines, newline included)
    min_requests: int = 1            # the provider's per-batch minimum
    provider_max_requests: int = 0   # the provider's own maximum (a tail may fill a chunk to it)


def chunk_limits(job: Job) -> ChunkLimits:
    provider_limits = get_settings().provider_limits(job.provider)
    minimum = max(1, min(provider_limits.min_requests, provider_limits.max_requests))
    return ChunkLimits(
        max_requests=max(1, minimum, min(job.chunk_size, provider_limits.max_requests)),
        max_bytes=provider_limits.max_bytes,
        min_requests=minimum,
        provider_max_requests=provider_limits.max_requests,
    )


class ChunkBoundaries:
    """Decides where chunks end; knows nothing of S3 (unit-tested on its own).

    ``remaining``: the requests of the pass from this line on (this one included), when
    known; a rest below the provider's minimum then stays in the chunk under way.
    """

    def __init__(self, limits: ChunkLimits):
        self.limits = limits
        self.requests = 0
        self.bytes = 0

    def would_start_new_chunk(self, line_bytes: int, remaining: int | None = None) -> bool:
        """Whether this line would open a new chunk (nothing is counted)."""
        if self.requests == 0 or self.bytes + line_bytes > self.limits.max_bytes:
            return True
        if self.requests < self.limits.max_requests:
            return False
        tail_joins = (
            remaining is not None and 0 < remaining < self.limits.min_requests
            and self.requests + remaining <= max(self.limits.provider_max_requests, self.limits.max_requests)
        )
        return not tail_joins

    def starts_new_chunk(self, line_bytes: int, remaining: int | None = None) -> bool:
        """Account for one more request line; True when it opens a new chunk (the first does).

        A single line larger than the byte limit still gets a chunk of its own (the
        provider will reject it, and the collector reports that per request).
        """
        full = self.would_start_new_chunk(line_bytes, remaining)
        if full:
            self.requests, self.bytes = 0, 0
        self.requests += 1
        self.bytes += line_bytes
        return full


def base_chunk_id(index: int) -> str:
    return f"c{index:05d}"


class ChunkInputWriter:
    """The two files of one chunk: normalized lines for us, request lines for the provider.

    Every provider id starts with the chunk's tag (``custom_ids.chunk_id_tag``), which is
    what proves a batch is this chunk's (see batch_creation).
    """

    def __init__(self, job_id: str, chunk_id: str, provider: BatchProvider, endpoint: str):
        self.chunk_id = chunk_id
        self.provider = provider
        self.endpoint = endpoint
        self.tag = chunk_id_tag(job_id, chunk_id)
        self.input_key = chunk_input_key(job_id, chunk_id)
        self._input = MultipartWriter(self.input_key)
        self._provider = MultipartWriter(chunk_provider_key(job_id, chunk_id))
        self.requests = 0

    @staticmethod
    def provider_line(provider: BatchProvider, provider_custom_id: str, body: Any, endpoint: str) -> bytes:
        return orjson.dumps(provider.request_line(provider_custom_id, body, endpoint)) + b"\n"

    @classmethod
    def line_size(cls, provider: BatchProvider, custom_id: str, body: Any, endpoint: str) -> int:
        """The size of the request's provider line in any chunk (every tag has one length)."""
        return len(cls.provider_line(provider, provider.provider_custom_id(custom_id, PLACEHOLDER_TAG), body, endpoint))

    def add(self, custom_id: str, body: Any) -> str:
        """Write one request to both files; returns the id the provider gets."""
        provider_custom_id = self.provider.provider_custom_id(custom_id, self.tag)
        self._input.write(
            orjson.dumps({"custom_id": custom_id, "provider_custom_id": provider_custom_id, "body": body}) + b"\n"
        )
        self._provider.write(self.provider_line(self.provider, provider_custom_id, body, self.endpoint))
        self.requests += 1
        return provider_custom_id

    def close(self) -> None:
        self._input.close()
        self._provider.close()

    def abort(self) -> None:
        self._input.abort()
        self._provider.abort()


def new_chunk(
    job: Job, chunk_id: str, *, request_count: int, attempt: int = 1, model: str | None = None,
    now: float | None = None,
) -> Chunk:
    """A planned chunk; it sits in the due index as a safety net until a batch is recorded."""
    now = time.time() if now is None else now
    return Chunk(
        job_id=job.job_id,
        chunk_id=chunk_id,
        provider=job.provider,
        endpoint=job.endpoint,
        status=ChunkStatus.PENDING,
        attempt=attempt,
        request_count=request_count,
        input_key=chunk_input_key(job.job_id, chunk_id),
        model=model,
        tenant_id=job.tenant_id,
        id_tag=chunk_id_tag(job.job_id, chunk_id),
        due_at=int(now) + SAFETY_NET_S,
        max_batch_age_seconds=job.max_batch_age_seconds,
    )


def model_of(body: Any) -> str | None:
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


class PlanningFenced(Exception):
    """Another planner stored this chunk or moved planning on first: this one stops."""


def planning_passes(job: Job) -> list[str | None]:
    """One pass per model where the provider takes one model per batch (the models the
    input was validated with, sorted, or found by reading it), else a single pass."""
    if not registry.spec(job.provider).capabilities.one_model_per_batch:
        return [None]
    if job.models:
        return sorted(job.models)
    found: set[str | None] = set()
    for raw in numbered_object_lines(job.input_key):
        if raw.strip():
            found.add(model_of(loads_line(raw)["body"]))
    return sorted(found, key=lambda model: (model is None, model or ""))


def plan_chunks(job: Job, provider: BatchProvider, *, now: float | None = None) -> Iterator[Chunk]:
    """Every chunk of the job in one go (no stopping, nothing stored): for tests and for jobs
    whose planning began before planning had steps. The submitter plans with plan_step."""
    chunks: list[Chunk] = []
    progress = PlanningProgress(models=planning_passes(job))
    while not progress.done:
        progress = plan_step(job, provider, progress, should_stop=lambda: False,
                             store=lambda chunk, _after: chunks.append(chunk), now=now)
        yield from chunks
        chunks.clear()


def plan_step(
    job: Job,
    provider: BatchProvider,
    progress: PlanningProgress,
    *,
    should_stop: Callable[[], bool],
    store: Callable[[Chunk, PlanningProgress], None],
    now: float | None = None,
) -> PlanningProgress:
    """Plan the pass under way from ``progress`` on; returns where planning goes on next.

    Each chunk, once written, goes to ``store`` with the progress that follows it (the
    submitter stores both in one transaction, PlanningFenced when another planner is ahead).
    When ``should_stop()`` says so after a chunk, the step ends there, at a chunk boundary;
    at the end of the input the pass ends and the next one (or ``done``) follows. Chunk
    boundaries depend only on the input and the limits, never on where a step stopped.
    """
    assert progress.models is not None, "planning begins with its passes"
    model = progress.models[progress.model_index]
    per_model = model is not None or len(progress.models) > 1
    limits = chunk_limits(job)
    boundaries = ChunkBoundaries(limits)
    # The pass's size (validation counted each model), to keep a small tail with its chunk.
    pass_total = (job.models.get(model) if per_model else job.request_count) if limits.min_requests > 1 else None
    pass_seen = progress.pass_requests   # requests of this pass before the line under way
    writer: ChunkInputWriter | None = None
    offset, next_index, step = progress.offset, progress.next_index, progress.step
    try:
        for raw in numbered_object_lines(job.input_key, start=offset):
            line_start, offset = offset, offset + len(raw) + 1
            if not raw.strip():
                continue
            request = loads_line(raw)
            body = request["body"]
            if per_model and model_of(body) != model:
                continue   # another pass plans it
            custom_id = request["custom_id"]
            size = ChunkInputWriter.line_size(provider, custom_id, body, job.endpoint)
            remaining = pass_total - pass_seen if pass_total else None
            if boundaries.would_start_new_chunk(size, remaining):
                if writer is not None:
                    step += 1
                    after = progress.model_copy(update={"step": step, "offset": line_start, "next_index": next_index,
                                                        "pass_requests": pass_seen})
                    closing, writer = writer, None
                    store(_close(job, closing, model, now), after)
                    if should_stop():
                        return after
                writer = ChunkInputWriter(job.job_id, base_chunk_id(next_index), provider, job.endpoint)
                next_index += 1
            boundaries.starts_new_chunk(size, remaining)
            assert writer is not None
            writer.add(custom_id, body)
            pass_seen += 1
        # The end of the input: the pass is over.
        last_pass = progress.model_index + 1 >= len(progress.models)
        after = progress.model_copy(update={
            "step": step + (1 if writer is not None else 0), "offset": 0, "next_index": next_index,
            "model_index": progress.model_index if last_pass else progress.model_index + 1, "done": last_pass,
            "pass_requests": 0,
        })
        if writer is not None:
            closing, writer = writer, None
            store(_close(job, closing, model, now), after)
        return after
    except BaseException:
        if writer is not None:
            writer.abort()
        raise


def _close(job: Job, writer: ChunkInputWriter, model: str | None, now: float | None) -> Chunk:
    writer.close()
    return new_chunk(job, writer.chunk_id, request_count=writer.requests, model=model, now=now)
