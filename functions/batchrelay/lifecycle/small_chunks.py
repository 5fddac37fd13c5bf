"""Chunks below the provider's per-batch minimum: gathered into one batch, or run alone.

Amazon Bedrock refuses a batch inference job with fewer records than the model's minimum
(``ProviderLimits.min_requests``: 100 by default). Planning keeps a job's own chunks at or
above it wherever the job has that many requests of the model (chunk_planner); what falls
below is the common case of retries: a chunk's few failed requests make a retry chunk of
a few records. Such a *small* chunk (pending or held, below the minimum) is not created on
its own while more can join it:

- **Gather.** The small chunks of the job with the same model and the same attempt number
  are one group. When the group reaches the minimum, its chunks are merged into one new
  chunk (``m<attempt>-<hash of the members>``), which gets a batch like any other; each
  member ends as ``merged`` (no result lines: its requests are the new chunk's) in the same
  transaction that stores and counts the new chunk (store.chunk_store.merge_chunks), so a
  request is never in two chunks and never lost between them.
- **Wait.** Below the minimum, the group waits while a chunk of the job that could still add
  to it is pending (same model, an earlier attempt, not collected yet). The collector nudges
  the waiting chunks whenever it counts a chunk of the job; the poller's safety net resends
  them meanwhile.
- **Run alone.** When nothing else can join, a group of several chunks is merged into one,
  and a lone small chunk is created as it is: below the minimum the adapter runs it on
  demand, one synchronous call per request, at the synchronous price (Bedrock:
  providers/bedrock_on_demand.py; its result lines say ``service_tier: on_demand``), or, with
  on-demand runs off, its requests end errored (``below_batch_minimum``).

A first-attempt small chunk (a job with fewer requests of a model than the minimum) has no
earlier attempt to wait for: it runs alone at once.
"""

from __future__ import annotations

import hashlib
import logging

from batchrelay.aws.s3_objects import object_lines
from batchrelay.jsonl import loads_line
from batchrelay.lifecycle.chunk_planner import ChunkInputWriter, new_chunk
from batchrelay.lifecycle.messages import send_chunk_message, send_collect_message
from batchrelay.lifecycle.poll_schedule import SAFETY_NET_S
from batchrelay.models.job import Chunk, ChunkStatus, Job
from batchrelay.providers.base import BatchProvider
from batchrelay.registry import ProviderLimits
from batchrelay.settings import get_settings
from batchrelay.store import chunk_store

logger = logging.getLogger(__name__)

MERGED = "merged"
# One DynamoDB transaction holds the new chunk, the job's counter and each member.
MAX_MEMBERS = 98
_WAITING = (ChunkStatus.PENDING, ChunkStatus.HELD)


def limits_for(provider: str) -> ProviderLimits:
    return get_settings().provider_limits(provider)


def is_small(chunk: Chunk, limits: ProviderLimits | None = None) -> bool:
    """A chunk below the provider's minimum that no create was ever tried for. (One that was
    tried, and held since, may have answers of an on-demand run stored: it goes on with its
    own creation, which resumes that run, and is never merged.)"""
    limits = limits or limits_for(chunk.provider)
    return (limits.min_requests > 1 and chunk.status in _WAITING and chunk.request_count < limits.min_requests
            and not chunk.intents)


def merged_chunk_id(attempt: int, members: list[Chunk]) -> str:
    digest = hashlib.sha256("|".join(sorted(m.chunk_id for m in members)).encode()).hexdigest()[:8]
    return f"m{attempt}-{digest}"


def place_small_chunk(chunk: Chunk, job: Job, provider: BatchProvider, *, now: float) -> str | None:
    """What becomes of a small chunk whose creation message came: an outcome when it waits or
    was merged, or None when it is to be created now, alone (nothing else can join it)."""
    limits = limits_for(chunk.provider)
    chunks = chunk_store.list_chunks(job.job_id)
    group = sorted(
        (ch for ch in chunks if ch.model == chunk.model and ch.attempt == chunk.attempt and is_small(ch, limits)),
        key=lambda ch: ch.chunk_id,
    )
    if chunk.chunk_id not in {ch.chunk_id for ch in group}:
        return None  # it changed since it was read: the caller's own checks decide
    members = _fit(group, limits)
    gathered = sum(ch.request_count for ch in members)
    if gathered >= limits.min_requests:
        outcome = _merge(job, provider, members, attempt=chunk.attempt, now=now, reason="reached the minimum")
        for left in group[len(members):]:
            send_chunk_message(job.job_id, left.chunk_id)   # the rest of a group too big for one merge
        return outcome
    feeders = [
        ch for ch in chunks
        if ch.model == chunk.model and ch.attempt < chunk.attempt and ch.status != ChunkStatus.COLLECTED
        and ch.end_reason != MERGED and not is_small(ch, limits)
    ]
    if feeders:
        return (f"gathering: {gathered} of {limits.min_requests} requests at attempt {chunk.attempt}; "
                f"waiting for {len(feeders)} chunks that may add to them")
    if len(members) > 1:
        return _merge(job, provider, members, attempt=chunk.attempt, now=now, reason="nothing else can join")
    return None


def _fit(group: list[Chunk], limits: ProviderLimits) -> list[Chunk]:
    """The group's first chunks that fit one batch (requests) and one transaction."""
    members: list[Chunk] = []
    total = 0
    for ch in group:
        if len(members) >= MAX_MEMBERS or total + ch.request_count > limits.max_requests:
            break
        members.append(ch)
        total += ch.request_count
    return members


def _merge(job: Job, provider: BatchProvider, members: list[Chunk], *, attempt: int, now: float, reason: str) -> str:
    merged_id = merged_chunk_id(attempt, members)
    # The merged chunk's files first (the same content whoever writes them), then one
    # transaction that stores it and ends its members; then the messages that move them on.
    writer = ChunkInputWriter(job.job_id, merged_id, provider, job.endpoint)
    try:
        for member in members:
            for line in object_lines(member.input_key):
                entry = loads_line(line)
                writer.add(entry["custom_id"], entry["body"])
        writer.close()
    except BaseException:
        writer.abort()
        raise
    merged = new_chunk(job, merged_id, request_count=writer.requests, attempt=attempt, model=members[0].model,
                       now=now)
    if not chunk_store.merge_chunks(merged, members, ended_at=now, due_at=int(now) + SAFETY_NET_S):
        return f"not merged: another attempt took one of {[m.chunk_id for m in members]} first"
    send_chunk_message(job.job_id, merged_id)
    for member in members:
        send_collect_message(job.job_id, member.chunk_id)
    logger.info("job %s: merged %d small chunks (%d requests) into %s: %s", job.job_id, len(members),
                writer.requests, merged_id, reason)
    return f"merged {len(members)} small chunks ({writer.requests} requests) into {merged_id}: {reason}"


def nudge_waiting(job_id: str, counted: Chunk) -> int:
    """A chunk of the job was counted: the small chunks it may have been holding back look
    again (their creation messages). Returns how many were nudged."""
    limits = limits_for(counted.provider)
    if limits.min_requests <= 1:
        return 0
    nudged = 0
    for chunk in chunk_store.list_chunks(job_id):
        if chunk.model == counted.model and chunk.attempt > counted.attempt and is_small(chunk, limits):
            send_chunk_message(job_id, chunk.chunk_id)
            nudged += 1
    return nudged
