"""Split a job's input into chunks within the provider's per-batch limits.

Planning is deterministic: the same input, chunk size and limits give the same chunks
with the same ids and contents, so a submitter that crashed half-way plans again and
finds the chunks it already stored.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from batchrelay.aws.s3_keys import chunk_input_key, chunk_provider_key
from batchrelay.aws.s3_objects import object_lines
from batchrelay.jsonl import loads_line
from batchrelay.lifecycle.poll_schedule import SAFETY_NET_S
from batchrelay.models.job import Chunk, ChunkStatus, Job
from batchrelay.providers.base import BatchProvider
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
    """The two files of one chunk: normalized lines for us, request lines for the provider."""

    def __init__(self, job_id: str, chunk_id: str, provider: BatchProvider, endpoint: str):
        self.chunk_id = chunk_id
        self.provider = provider
        self.endpoint = endpoint
        self.input_key = chunk_input_key(job_id, chunk_id)
        self._input = MultipartWriter(self.input_key)
        self._provider = MultipartWriter(chunk_provider_key(job_id, chunk_id))
        self.requests = 0

    @staticmethod
    def provider_line(provider: BatchProvider, provider_custom_id: str, body: Any, endpoint: str) -> bytes:
        return orjson.dumps(provider.request_line(provider_custom_id, body, endpoint)) + b"\n"

    def add(self, custom_id: str, provider_custom_id: str, body: Any, provider_line: bytes) -> None:
        self._input.write(
            orjson.dumps({"custom_id": custom_id, "provider_custom_id": provider_custom_id, "body": body}) + b"\n"
        )
        self._provider.write(provider_line)
        self.requests += 1

    def close(self) -> None:
        self._input.close()
        self._provider.close()

    def abort(self) -> None:
        self._input.abort()
        self._provider.abort()


def new_chunk(job: Job, chunk_id: str, *, request_count: int, attempt: int = 1, now: float | None = None) -> Chunk:
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
        tenant_id=job.tenant_id,
        due_at=int(now) + SAFETY_NET_S,
    )


def plan_chunks(job: Job, provider: BatchProvider, *, now: float | None = None) -> Iterator[Chunk]:
    """Stream the job input; write each chunk's files, then yield the chunk (not yet stored)."""
    boundaries = ChunkBoundaries(chunk_limits(job))
    writer: ChunkInputWriter | None = None
    index = 0
    try:
        for raw in object_lines(job.input_key):
            request = loads_line(raw)
            custom_id = request["custom_id"]
            provider_custom_id = provider.provider_custom_id(custom_id)
            line = ChunkInputWriter.provider_line(provider, provider_custom_id, request["body"], job.endpoint)
            if boundaries.starts_new_chunk(len(line)):
                if writer is not None:
                    writer.close()
                    yield new_chunk(job, writer.chunk_id, request_count=writer.requests, now=now)
                index += 1
                writer = ChunkInputWriter(job.job_id, base_chunk_id(index), provider, job.endpoint)
            assert writer is not None
            writer.add(custom_id, provider_custom_id, request["body"], line)
        if writer is not None:
            writer.close()
            yield new_chunk(job, writer.chunk_id, request_count=writer.requests, now=now)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
