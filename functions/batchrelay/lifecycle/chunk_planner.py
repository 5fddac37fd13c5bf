"""Split a job's input into chunks within the provider's per-batch limits.

Planning is deterministic: the same input, chunk size and limits give the same chunks
with the same ids and contents, so a submitter that crashed half-way plans again and
finds the chunks it already stored.

Planning makes durable progress in bounded steps (``plan_step``): a step reads at most
PLANNING_STEP_LINES lines or closes at most PLANNING_STEP_CHUNKS chunks, closes what it has
open, and the submitter stores where the next step starts (``Job.planning``) with one
conditional write before queueing it. A step that dies (a Lambda timeout) is redone from
the stored progress, so a job of any size and any accepted chunk size gets through, and
the chunks a dead step already stored are found, not made again.

One model per batch. Providers that declare ``one_model_per_batch`` (read through the
provider registry) get chunks cut per model: each model's requests, in input order, fill
that model's own chunks, each within the limits, so a mixed-model job makes one batch
per model per chunk. Other providers (Anthropic) get chunks in input order, as if every
request named the same model.

Memory stays bounded whatever the job's size or its number of models. An open chunk is
a ChunkInputWriter: two multipart writers, each at most ``max_in_flight + 1`` part
buffers of 5 MiB (15 MiB; 30 MiB a chunk), whatever the chunk's length. A pass over the
input keeps at most ``MAX_OPEN_CHUNK_WRITERS`` (8) chunks open, one per model it
plans, so planning holds at most ~240 MiB of buffers (the submitter has 1 GiB). A pass
plans the first 8 models it meets that no earlier pass planned and skips the lines of
the rest; passes repeat until a pass skips nothing. Validation caps a job at
``MAX_MODELS_PER_JOB`` (32) models, so a job is read at most 4 times; a job of a single
model (the common case) is read once, as before. Besides the open chunks, planning keeps
only the names of the models already planned.

Chunk ids are numbered in the order chunks open; with several models open at once,
chunks are yielded in the order they fill up, not by id. results.jsonl follows chunk ids,
so a mixed-model job's results come grouped by chunk, not in input order. Planning finds
the models in the input itself (job.models, counted by the API, is for display), so jobs
stored before that count existed plan the same way. Like the limits, MAX_OPEN_CHUNK_WRITERS
is part of what makes planning deterministic: change it only between jobs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from batchrelay import constants as c
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


def chunk_limits(job: Job) -> ChunkLimits:
    provider_limits = get_settings().provider_limits(job.provider)
    return ChunkLimits(
        max_requests=max(1, min(job.chunk_size, provider_limits.max_requests)),
        max_bytes=provider_limits.max_bytes,
    )


class ChunkBoundaries:
    """Decides where chunks end; knows nothing of S3 (unit-tested on its own)."""

    def __init__(self, limits: ChunkLimits):
        self.limits = limits
        self.requests = 0
        self.bytes = 0

    def would_start_new_chunk(self, line_bytes: int) -> bool:
        """Whether this line would open a new chunk (nothing is counted)."""
        return self.requests == 0 or self.requests >= self.limits.max_requests or (
            self.bytes + line_bytes > self.limits.max_bytes
        )

    def starts_new_chunk(self, line_bytes: int) -> bool:
        """Account for one more request line; True when it opens a new chunk (the first does).

        A single line larger than the byte limit still gets a chunk of its own (the
        provider will reject it, and the collector reports that per request).
        """
        full = self.requests == 0 or self.requests >= self.limits.max_requests or (
            self.bytes + line_bytes > self.limits.max_bytes
        )
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
    )


def model_of(body: Any) -> str | None:
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


@dataclass
class _OpenGroup:
    """One model's place in a pass: where its chunks end, and its chunk being written."""

    boundaries: ChunkBoundaries
    writer: ChunkInputWriter | None = None


def plan_chunks(job: Job, provider: BatchProvider, *, now: float | None = None) -> Iterator[Chunk]:
    """Every chunk of the job in one go (a step without bounds): for tests and for jobs whose
    planning began before planning had steps. The submitter plans in bounded steps."""
    chunks: list[Chunk] = []
    progress = PlanningProgress()
    while not progress.done:
        progress = plan_step(job, provider, progress, max_lines=None, max_chunks=None, on_chunk=chunks.append,
                             now=now)
        yield from chunks
        chunks.clear()


def plan_step(
    job: Job,
    provider: BatchProvider,
    progress: PlanningProgress,
    *,
    max_lines: int | None,
    max_chunks: int | None,
    on_chunk: Callable[[Chunk], None],
    now: float | None = None,
) -> PlanningProgress:
    """Plan from ``progress`` on, stopping before the line past ``max_lines`` or before the
    line that would open chunk ``max_chunks + 1`` of this step, or at the end of the pass;
    hand each closed chunk to ``on_chunk`` (which stores it) and return where the next step
    starts.

    A step closes the chunks it has open when it stops, so a chunk never spans two steps
    (its files are written by one invocation); with one model, a step stopped by its chunk
    bound ends on a chunk boundary. The bounds are counted on the input, so a step that dies
    and is redone closes the same chunks with the same ids and contents.
    """
    per_model = registry.spec(job.provider).capabilities.one_model_per_batch
    limits = chunk_limits(job)
    planned = set(progress.planned_models)
    groups: dict[str | None, _OpenGroup] = {model: _OpenGroup(ChunkBoundaries(limits)) for model in progress.group}
    index, offset, skipped = progress.next_index, progress.offset, progress.skipped
    lines = opened = 0
    stopped = False

    def close(group: _OpenGroup, model: str | None) -> None:
        writer, group.writer = group.writer, None
        if writer is not None:
            on_chunk(_close(job, writer, model, now))

    try:
        for raw in numbered_object_lines(job.input_key, start=offset):
            if raw.strip():
                if max_lines is not None and lines >= max_lines:
                    stopped = True
                    break
                request = loads_line(raw)
                body = request["body"]
                model = model_of(body) if per_model else None   # None: one group for every request
                group = groups.get(model)
                if group is None and model not in planned:
                    if len(groups) >= c.MAX_OPEN_CHUNK_WRITERS:
                        skipped = True   # a later pass plans this model
                    else:
                        group = groups[model] = _OpenGroup(ChunkBoundaries(limits))
                if group is not None:
                    custom_id = request["custom_id"]
                    size = ChunkInputWriter.line_size(provider, custom_id, body, job.endpoint)
                    if group.boundaries.would_start_new_chunk(size):
                        if max_chunks is not None and opened >= max_chunks:
                            stopped = True
                            break
                        close(group, model)
                        group.writer = ChunkInputWriter(job.job_id, base_chunk_id(index), provider, job.endpoint)
                        index += 1
                        opened += 1
                    group.boundaries.starts_new_chunk(size)
                    assert group.writer is not None
                    group.writer.add(custom_id, body)
                lines += 1
            offset += len(raw) + 1
        # The chunks still open, in the order their models were met.
        for model, group in groups.items():
            close(group, model)
    except BaseException:
        for group in groups.values():
            if group.writer is not None:
                group.writer.abort()
        raise
    step = progress.step + 1
    if stopped:
        return progress.model_copy(update={
            "step": step, "offset": offset, "next_index": index, "group": list(groups), "skipped": skipped,
        })
    planned_models = [*progress.planned_models, *groups]
    if skipped:   # the pass is over; the models it had no room for get the next one
        return PlanningProgress(step=step, pass_no=progress.pass_no + 1, next_index=index,
                                planned_models=planned_models)
    return PlanningProgress(step=step, pass_no=progress.pass_no, next_index=index, planned_models=planned_models,
                            done=True)


def _close(job: Job, writer: ChunkInputWriter, model: str | None, now: float | None) -> Chunk:
    writer.close()
    return new_chunk(job, writer.chunk_id, request_count=writer.requests, model=model, now=now)
