"""Poller benchmark: the real poller (lifecycle.poller.run_poll, the function the `poller`
Lambda calls) on a virtual clock, with the chunk store's functions over a dict and a fake
provider that counts calls.

100 batches are in flight, created at t=0, ending at times spread evenly from 30 minutes
to 24 hours. The schedule fires every 60 virtual seconds. Two fake providers:
- OpenAI-like: request_counts grow linearly from creation to the end;
- Anthropic-like: no progress is visible until the batch ends.

naive = one retrieve per batch every 60 s until its end is seen (the same workload).
detect delay = from a batch's end to the poller's hand-off of its chunk to `collect`.
The last line is the OpenAI-like run (the required figures); the line before it is the
Anthropic-like run.

Run: .venv/bin/python bench/poller.py
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))

from batchrelay.providers.base import BatchInfo, BatchProvider
from batchrelay.store.chunk_store import _UNSET  # "due_at not given", as the real store means it

BATCHES = 100
T0 = 1_750_000_000.0
TICK_S = 60
FIRST_END_S = 30 * 60
LAST_END_S = int(os.environ.get("BENCH_HOURS", "24")) * 3600
PAGE_SIZE = 100


class CountingProvider(BatchProvider):
    """Answers status calls on the bench's virtual clock and counts them."""

    def __init__(self, ends: dict[str, float], *, shows_progress: bool):
        self.name = "openai"
        self.ends = ends
        self.shows_progress = shows_progress
        self.now = T0
        self.calls: Counter[str] = Counter()

    def info(self, batch_id: str) -> BatchInfo:
        end = self.ends[batch_id]
        total = 1000
        if self.now >= end:
            return BatchInfo(batch_id, "completed", "ended", T0, end_reason="completed", total=total,
                             completed=total, ended_at=end)
        done = int(total * (self.now - T0) / (end - T0)) if self.shows_progress else 0
        return BatchInfo(batch_id, "in_progress", "running", T0, total=total, completed=done)

    def list_batches(self, *, created_after: float, page_size: int = 100) -> Iterator[BatchInfo]:
        ids = sorted(self.ends)
        for start in range(0, len(ids), PAGE_SIZE):
            self.calls["list_page"] += 1
            for batch_id in ids[start : start + PAGE_SIZE]:
                yield self.info(batch_id)

    def retrieve_batch(self, batch_id: str) -> BatchInfo:
        self.calls["retrieve"] += 1
        return self.info(batch_id)

    # Not used by the poller.
    def provider_custom_id(self, custom_id):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def request_line(self, provider_custom_id, body, endpoint):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def create_batch(self, **kwargs):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def find_batch(self, **kwargs):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def cancel_batch(self, batch_id):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def raw_result_files(self, batch):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def parse_result_line(self, file_name, line):  # type: ignore[no-untyped-def]
        raise NotImplementedError


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


class InMemoryChunks:
    """The chunk store functions the poller and hand-off call, over a dict (moto's ~40 ms per
    call would make a simulated day take many minutes). Same conditional semantics: a
    transition from an unexpected status, or with an unmet equality condition, is refused."""

    def __init__(self) -> None:
        self.chunks: dict[str, Any] = {}
        self.collect_messages: list[tuple[str, str]] = []
        self.writes = 0

    def collect(self, job_id: str, chunk_id: str) -> None:
        """The `collect` message: the collector marks the chunk collected (out of the due index)."""
        from batchrelay.models.job import ChunkStatus

        self.collect_messages.append((job_id, chunk_id))
        self.chunks[chunk_id] = self.chunks[chunk_id].model_copy(
            update={"status": ChunkStatus.COLLECTED, "due_at": None})

    def query_due_chunks(self, provider: str, now: int, *, limit: int = 1000) -> list[Any]:
        due = [c for c in self.chunks.values() if c.due_at is not None and c.due_at <= now]
        return sorted(due, key=lambda c: c.due_at)[:limit]

    def get_chunk(self, job_id: str, chunk_id: str) -> Any:
        return self.chunks[chunk_id]

    def transition_chunk(self, job_id, chunk_id, provider, from_statuses, to_status, *, due_at=_UNSET,
                         extra_condition=None, **fields):  # type: ignore[no-untyped-def]
        from batchrelay.errors import TransitionRefused

        chunk = self.chunks[chunk_id]
        expected = (from_statuses,) if isinstance(from_statuses, str) else tuple(from_statuses)
        if chunk.status not in expected:
            raise TransitionRefused("status", current=str(chunk.status))
        if extra_condition:
            expression, names, values = extra_condition
            name, value = (part.strip() for part in expression.split("="))
            if getattr(chunk, names[name]) != values[value]:
                raise TransitionRefused("condition", current=str(chunk.status))
        update = dict(fields)
        if to_status is not None:
            update["status"] = to_status
        if due_at is not _UNSET:
            update["due_at"] = due_at
        self.chunks[chunk_id] = chunk.model_copy(update=update)
        self.writes += 1
        return self.chunks[chunk_id]


def run(shows_progress: bool) -> dict[str, float]:
    from batchrelay.lifecycle import handoff, poller, provider_lookup
    from batchrelay.models.job import Chunk, ChunkStatus
    from batchrelay.store import chunk_store, job_store

    store = InMemoryChunks()
    for name in ("query_due_chunks", "get_chunk", "transition_chunk"):
        setattr(chunk_store, name, getattr(store, name))
    job_store.query_stalled_queued_jobs = lambda now, limit=100: []  # no job waits in `queued` here
    handoff.send_collect_message = store.collect
    ends = {
        f"batch_{i:03d}": T0 + FIRST_END_S + i * (LAST_END_S - FIRST_END_S) / (BATCHES - 1)
        for i in range(BATCHES)
    }
    provider = CountingProvider(ends, shows_progress=shows_progress)
    provider_lookup.provider_for = lambda name: provider  # type: ignore[assignment]
    for i, batch_id in enumerate(sorted(ends)):
        store.chunks[f"c{i:05d}"] = Chunk(
            job_id="job_bench", chunk_id=f"c{i:05d}", provider="openai", endpoint="/v1/chat/completions",
            status=ChunkStatus.SUBMITTED, request_count=1000, input_key="-", batch_id=batch_id,
            batch_ids=[batch_id], batch_created_at=T0, due_at=int(T0) + 60,
        )
    started = time.perf_counter()
    now = T0
    while now <= T0 + LAST_END_S + 3600:
        provider.now = now
        poller.run_poll(now, time.time() + 600, providers=["openai"])
        now += TICK_S
    elapsed = time.perf_counter() - started
    delays = [
        chunk.ended_at - ends[chunk.batch_id]
        for chunk in store.chunks.values()
        if chunk.ended_at is not None and chunk.batch_id
    ]
    assert len(delays) == BATCHES == len(store.collect_messages), f"only {len(delays)} batches were handed on"
    naive = sum(math.ceil((end - T0) / TICK_S) for end in ends.values())
    day_fraction = (LAST_END_S + 3600) / 86400
    calls = provider.calls["list_page"] + provider.calls["retrieve"]
    return {
        "status_calls_per_day": round(calls / day_fraction),
        "naive_calls_per_day": round(naive / day_fraction),
        "p95_detect_delay_s": round(percentile(delays, 0.95)),
        "max_detect_delay_s": round(max(delays)),
        "list_pages": provider.calls["list_page"],
        "retrieves": provider.calls["retrieve"],
        "chunk_writes": store.writes,
        "wall_s": round(elapsed, 1),
    }


def line(figures: dict[str, float], keys: list[str]) -> str:
    return " ".join(f"{k}={figures[k]}" for k in keys)


if __name__ == "__main__":
    required = ["status_calls_per_day", "naive_calls_per_day", "p95_detect_delay_s"]
    extra = ["max_detect_delay_s", "list_pages", "retrieves", "chunk_writes", "wall_s"]
    anthropic_like = run(shows_progress=False)
    print("anthropic-like (no progress counts):", line(anthropic_like, required + extra))
    openai_like = run(shows_progress=True)
    print("openai-like (linear progress):", line(openai_like, extra),
          f"reduction={openai_like['naive_calls_per_day'] / max(1, openai_like['status_calls_per_day']):.0f}x")
    print(line(openai_like, required))
