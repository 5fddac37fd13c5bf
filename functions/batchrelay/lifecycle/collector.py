"""The `collect` queue's consumer: turn an ended chunk into its final result part.

For one ENDED chunk:
1. read the chunk input once for its ids (provider id -> user id only where they differ);
2. stream each raw provider file in byte blocks: tee the blocks into a raw copy in S3
   while splitting lines on b"\\n", normalizing each result and writing final outcomes
   to the part (both S3 multipart uploads: memory does not grow with the file);
3. read the chunk input again: requests never reported end (expired / cancelled /
   errored with the batch) or go, with the retryable failures, into a retry chunk;
4. store and count the retry chunk (one transaction) and queue its creation;
5. mark the chunk COLLECTED and add its counts to the job (one transaction), flagged
   files_pending_cleanup where the provider keeps files;
6. finalize the job if this was its last chunk;
7. delete the provider's files (lifecycle/provider_files.py: after finalizing, so a slow
   provider never delays a job's end; a failure is left to the poller's safety net).

A redelivered message redoes 1-4 identically (same provider output, same decisions;
the retry chunk is stored only once) and finds step 5 done, then resumes at 6. Only one
collector works on a chunk at a time: it takes a lease first (``claim_collection``), and
step 5 counts only for the lease holder, so two runs (the poller's safety net resends
`collect` while the first may still run) can never both decide, around a cancel, one
putting an id in the part and the other in a retry chunk.

The queue carries the upkeep of final jobs as well: `cleanup` (provider files, again),
`expire` (items' TTL: item_expiry.py) and `delete` (DELETE /v1/jobs/{id}: job_deletion.py).
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field

from batchrelay import constants as c
from batchrelay.aws.s3_keys import part_key, part_summary_key, raw_key
from batchrelay.aws.s3_objects import object_lines, put_json
from batchrelay.errors import NotFound, TransitionRefused
from batchrelay.jsonl import iter_lines, loads_line
from batchrelay.lifecycle import item_expiry, job_deletion, provider_files, provider_lookup, small_chunks
from batchrelay.lifecycle.chunk_planner import ChunkInputWriter, new_chunk
from batchrelay.lifecycle.finalizer import finalize_if_complete, finalize_job
from batchrelay.lifecycle.messages import send_chunk_message
from batchrelay.lifecycle.poll_schedule import SAFETY_NET_S
from batchrelay.lifecycle.result_normalizer import line_for_result, line_for_unreported, model_of
from batchrelay.lifecycle.retry_planner import RetryPolicy, retry_chunk_id
from batchrelay.models.job import Chunk, ChunkStatus, JobStatus, RequestCounts, Usage
from batchrelay.models.messages import (
    CleanUpChunkFiles,
    CollectChunk,
    CollectQueueMessage,
    DeleteJobData,
    ExpireJobItems,
    FinalizeJob,
)
from batchrelay.providers.base import BatchInfo, BatchProvider, Outcome
from batchrelay.results.multipart_writer import MultipartWriter, WrittenObject
from batchrelay.store import chunk_store, job_store

logger = logging.getLogger(__name__)


# Longer than a collector can run: a lease that ran out belongs to a collector that died.
COLLECT_LEASE_S = c.FUNCTION_TIMEOUTS[c.FUNCTION_COLLECTOR] + 60


class CollectionInProgress(Exception):
    """Another collector holds this chunk's collection lease: try later."""


def handle_collect_message(message: CollectQueueMessage, *, now: float | None = None) -> str:
    match message:
        case CollectChunk():
            return collect_chunk(message.job_id, message.chunk_id, now=now)
        case FinalizeJob():
            return finalize_job(message.job_id, now=now)
        case CleanUpChunkFiles():
            return provider_files.clean_up_chunk_files(message.job_id, message.chunk_id, now=now)
        case ExpireJobItems():
            return item_expiry.expire_job_items(message.job_id, after=message.after, now=now)
        case DeleteJobData():
            return job_deletion.continue_deletion(message.job_id, now=now)
    raise TypeError(f"not a collect queue message: {message!r}")


@dataclass
class PartTally:
    """What a part holds: its outcomes and usage by model (plain dicts: this runs per line)."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RequestCounts.model_fields, 0))
    usage_by_model: dict[str, dict[str, int]] = field(default_factory=dict)
    # Usage of requests answered on demand (synchronous price), kept apart for pricing.
    on_demand_usage_by_model: dict[str, dict[str, int]] = field(default_factory=dict)
    lines: int = 0

    def add(self, status: str, usage: dict[str, int] | None, model: str | None, *, on_demand: bool = False) -> None:
        self.counts[status] += 1
        self.lines += 1
        if usage:
            by_model = self.on_demand_usage_by_model if on_demand else self.usage_by_model
            totals = by_model.get(model or "unknown")
            if totals is None:
                totals = by_model[model or "unknown"] = dict.fromkeys(_USAGE_FIELDS, 0)
            for name in _USAGE_FIELDS:
                totals[name] += usage.get(name) or 0

    @property
    def usage(self) -> Usage:
        usage = Usage()
        for totals in (*self.usage_by_model.values(), *self.on_demand_usage_by_model.values()):
            usage.input_tokens += totals["input_tokens"]
            usage.output_tokens += totals["output_tokens"]
            usage.total_tokens += totals["total_tokens"]
        return usage

    def job_deltas(self) -> dict[str, int]:
        deltas = {f"counts.{k}": v for k, v in self.counts.items()}
        deltas.update({f"usage.{k}": v for k, v in self.usage.model_dump().items()})
        return deltas


class LineBatcher:
    """Hands lines to a writer a few hundred at a time (one write call per line costs more)."""

    def __init__(self, writer: MultipartWriter, batch_bytes: int = 256 * 1024):
        self.writer = writer
        self.batch_bytes = batch_bytes
        self._lines: list[bytes] = []
        self._size = 0

    def write(self, line: bytes) -> None:
        self._lines.append(line)
        self._size += len(line)
        if self._size >= self.batch_bytes:
            self.flush()

    def flush(self) -> None:
        if self._lines:
            self.writer.write(b"".join(self._lines))
            self._lines, self._size = [], 0


_USAGE_FIELDS = ("input_tokens", "output_tokens", "total_tokens")


def collect_chunk(job_id: str, chunk_id: str, *, now: float | None = None) -> str:
    now = time.time() if now is None else now
    chunk = chunk_store.find_chunk(job_id, chunk_id)
    if chunk is None:
        return "chunk is gone (its job's data was deleted)"
    if chunk.status == ChunkStatus.COLLECTED:
        # Counted already; a crash may have come before finalizing or the cleanup: resume them.
        outcome = finalize_if_complete(job_id, now=now)
        if chunk.files_pending_cleanup:
            outcome += f"; {provider_files.clean_up_quietly(job_id, chunk_id, now=now)}"
        return outcome
    if chunk.status != ChunkStatus.ENDED:
        return f"chunk is {chunk.status}; nothing to collect yet"
    try:
        # One collector at a time: a second delivery (the poller's safety net resends
        # `collect`) waits until this lease ends, so decisions are made once.
        chunk = chunk_store.claim_collection(chunk, now=now, lease_seconds=COLLECT_LEASE_S)
    except TransitionRefused as refused:
        if refused.current == ChunkStatus.COLLECTED:
            return finalize_if_complete(job_id, now=now)
        raise CollectionInProgress(f"chunk {chunk_id} of job {job_id} is being collected by another run") from refused
    try:
        return _collect_claimed(chunk, now=now)
    except BaseException:
        chunk_store.release_collection(chunk)  # so the retried message need not wait for the lease
        raise


def _collect_claimed(chunk: Chunk, *, now: float) -> str:
    if chunk.end_reason == small_chunks.MERGED:
        return _collect_merged(chunk, now=now)
    job_id, chunk_id = chunk.job_id, chunk.chunk_id
    job = job_store.get_job(job_id)
    next_attempt = chunk.attempt + 1
    retry_id = retry_chunk_id(chunk_id, next_attempt)
    # Once a retry chunk exists, the decisions that made it stand (even if the job is
    # being cancelled since): the part and the retry chunk must not both hold an id.
    retry_exists = _chunk_exists(job_id, retry_id)
    policy = RetryPolicy(
        attempt=chunk.attempt,
        max_attempts=job.max_attempts,
        retries_allowed=retry_exists or job.status not in (JobStatus.CANCELLING, JobStatus.FINALIZING),
    )
    provider = provider_lookup.provider_for(chunk.provider)

    # provider id -> user id for the requests not reported yet: entries leave as results
    # arrive, so what remains at the end is what the provider never reported.
    unreported = _provider_to_user_ids(chunk)   # bounded by the chunk size
    retry_ids: set[str] = set()
    tally = PartTally()
    key = part_key(job_id, chunk_id)
    raw_copies: list[Future[WrittenObject]] = []
    known_batches: dict[str, BatchInfo] = {}
    with MultipartWriter(key) as part_writer:
        part = LineBatcher(part_writer)
        if chunk.batch_id and chunk.end_reason != "lost":
            batch = known_batches[chunk.batch_id] = provider.retrieve_batch(chunk.batch_id)
            for raw_file in provider.raw_result_files(batch):
                raw_copy = MultipartWriter(raw_key(job_id, chunk_id, chunk.batch_id, raw_file.name))
                try:
                    for line in iter_lines(_tee(raw_file.blocks, raw_copy)):
                        result = provider.parse_result_line(raw_file.name, line)
                        pcid = result.custom_id
                        if pcid not in unreported:
                            continue  # not ours, or reported twice (output and error file)
                        user_id = unreported.pop(pcid)
                        decision = policy.decide(_outcome(result.outcome, chunk), retryable=result.retryable)
                        if decision == "retry":
                            retry_ids.add(pcid)
                            continue
                        part.write(line_for_result(
                            result, custom_id=user_id or pcid, status=decision, provider=chunk.provider,
                            batch_id=chunk.batch_id, attempts=chunk.attempt,
                        ))
                        # The adapter's model, else the chunk's (Bedrock prices by its model id,
                        # not by the name a model writes in its answer), else the answer's.
                        tally.add(decision, result.usage, result.model or chunk.model or model_of(result),
                                  on_demand=result.service_tier == "on_demand")
                except BaseException:
                    raw_copy.abort()
                    raise
                # The raw copy completes while the part goes on.
                raw_copies.append(raw_copy.close_in_background())
        retried = _write_unreported_and_retry_input(
            chunk, job.job_id, part, tally, policy, unreported, retry_ids, retry_id, provider
        )
        part.flush()
    for copy in raw_copies:
        copy.result()
    expected_lines = chunk.request_count - retried
    if tally.lines != expected_lines:
        raise RuntimeError(
            f"chunk {chunk_id} of job {job_id}: part has {tally.lines} lines, expected {expected_lines}"
        )
    put_json(part_summary_key(job_id, chunk_id), {
        "chunk_id": chunk_id, "lines": tally.lines, "retried": retried,
        "counts": tally.counts, "usage_by_model": tally.usage_by_model,
        "on_demand_usage_by_model": tally.on_demand_usage_by_model,
    })

    if retried:
        # A subset of this chunk's requests: one model still, where the provider needs that.
        retry_chunk = new_chunk(
            job, retry_id, request_count=retried, attempt=next_attempt, model=chunk.model, now=now
        )
        # Counted in chunks_total before this chunk counts as final: the job cannot look done
        # while its retry chunk is still to come.
        chunk_store.put_chunk_and_count(retry_chunk)
        send_chunk_message(job_id, retry_id)

    cleanup = provider_files.needs_cleanup(chunk)
    counted = chunk_store.mark_collected_and_count(
        chunk, part_key=key, job_deltas=tally.job_deltas(),
        cleanup_due_at=int(now) + SAFETY_NET_S if cleanup else None,
    )
    outcome = f"collected {tally.lines} lines, {retried} to retry" if counted else "already counted"
    if counted and small_chunks.nudge_waiting(job_id, chunk):
        outcome += "; small chunks nudged"
    outcome += f"; {finalize_if_complete(job_id, now=now)}"
    if counted and cleanup:
        outcome += f"; {provider_files.clean_up_quietly(job_id, chunk_id, known=known_batches, now=now)}"
    return outcome


def _collect_merged(chunk: Chunk, *, now: float) -> str:
    """A small chunk whose requests went into a gathered chunk (small_chunks): its part is
    empty, every request counts as moved on (like a retry), and no retry chunk is made."""
    job_id, chunk_id = chunk.job_id, chunk.chunk_id
    key = part_key(job_id, chunk_id)
    with MultipartWriter(key):
        pass
    put_json(part_summary_key(job_id, chunk_id), {
        "chunk_id": chunk_id, "lines": 0, "retried": chunk.request_count, "merged_into": chunk.merged_into,
        "counts": dict.fromkeys(RequestCounts.model_fields, 0), "usage_by_model": {},
        "on_demand_usage_by_model": {},
    })
    counted = chunk_store.mark_collected_and_count(chunk, part_key=key, job_deltas={})
    outcome = f"merged into {chunk.merged_into}" if counted else "already counted"
    return f"{outcome}; {finalize_if_complete(job_id, now=now)}"
def _outcome(outcome: Outcome, chunk: Chunk) -> Outcome:
    """A request left unfinished by a batch we cancelled for its age expired (it was not cancelled)."""
    return "expired" if outcome == "cancelled" and chunk.aged_out_at is not None else outcome


def _tee(blocks: Iterator[bytes], copy: MultipartWriter) -> Iterator[bytes]:
    """Pass the blocks on while keeping a gzip copy of them (the provider's raw file).

    Gzip at level 1 shrinks JSONL about five times for little CPU (zlib releases the GIL),
    which cuts the bytes stored and uploaded for a file nobody reads in the normal course.
    """
    gzip = zlib.compressobj(1, zlib.DEFLATED, 31)
    for block in blocks:
        compressed = gzip.compress(block)
        if compressed:
            copy.write(compressed)
        yield block
    copy.write(gzip.flush())


def _chunk_exists(job_id: str, chunk_id: str) -> bool:
    try:
        chunk_store.get_chunk(job_id, chunk_id)
        return True
    except NotFound:
        return False


def _provider_to_user_ids(chunk: Chunk) -> dict[str, str | None]:
    """provider_custom_id -> user custom_id, None where they are the same (saves memory)."""
    ids: dict[str, str | None] = {}
    for line in object_lines(chunk.input_key):
        entry = loads_line(line)
        pcid = entry["provider_custom_id"]
        ids[pcid] = None if entry["custom_id"] == pcid else entry["custom_id"]
    return ids


def _write_unreported_and_retry_input(
    chunk: Chunk,
    job_id: str,
    part: LineBatcher,
    tally: PartTally,
    policy: RetryPolicy,
    unreported: dict[str, str | None],
    retry_ids: set[str],
    retry_id: str,
    provider: BatchProvider,
) -> int:
    """Second pass over the chunk input, in input order; returns how many requests retry."""
    if not unreported and not retry_ids:
        return 0   # every request reported and final: nothing to read again
    retry_input: ChunkInputWriter | None = None
    try:
        for line in object_lines(chunk.input_key):
            entry = loads_line(line)
            pcid = entry["provider_custom_id"]
            if pcid in unreported:
                decision = policy.decide_unreported(chunk.end_reason)
                if decision != "retry":
                    part.write(line_for_unreported(
                        custom_id=entry["custom_id"], status=decision, provider=chunk.provider,
                        batch_id=chunk.batch_id, attempts=chunk.attempt, batch_errors=chunk.batch_errors,
                    ))
                    tally.add(decision, None, None)
                    continue
                retry_ids.add(pcid)
            if pcid in retry_ids:
                if retry_input is None:
                    retry_input = ChunkInputWriter(job_id, retry_id, provider, chunk.endpoint)
                retry_input.add(entry["custom_id"], entry["body"])   # new ids: the retry chunk's tag
        if retry_input is not None:
            retry_input.close()
    except BaseException:
        if retry_input is not None:
            retry_input.abort()
        raise
    return retry_input.requests if retry_input is not None else 0
