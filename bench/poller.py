"""Poller benchmark: the real poller (lifecycle.poller.run_poll, the function the `poller`
Lambda calls) on a virtual clock, with the chunk store's functions over a dict and fake
providers that count calls.

100 batches are in flight per provider, created at t=0, ending at times spread evenly from
30 minutes to 24 hours. The schedule fires every 60 virtual seconds. Two providers, as the
registry declares them:
- openai (progress counts): request_counts grow linearly from creation to the end; checks
  close in on the predicted end (poll_schedule);
- anthropic (no progress counts): nothing is visible until the batch ends; every run sweeps
  the provider's batches (one list call per page of 100).

naive = one retrieve per batch every 60 s until its end is seen (the same workload).
detect delay = from a batch's end to the poller's hand-off of its chunk to `collect`.
Goals: p95 detection at most 120 s for every provider, at most 1,440 status calls a day per
100 batches in flight per provider account, and a run with 10,000 batches in flight (no
progress counts: all of them due at every run) well within the poller's 55 s timeout.

Run: .venv/bin/python bench/poller.py     (last line: the figures)
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

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions")]

from batchrelay.providers.base import BatchInfo, BatchProvider  # noqa: E402
from batchrelay.store.chunk_store import _UNSET  # noqa: E402  ("due_at not given", as the real store means it)

BATCHES = 100
T0 = 1_750_000_000.0
TICK_S = 60
FIRST_END_S = 30 * 60
LAST_END_S = int(os.environ.get("BENCH_HOURS", "24")) * 3600
from batchrelay.constants.service import FUNCTION_POLLER, FUNCTION_TIMEOUTS  # noqa: E402
from handlers.poller import DEADLINE_MARGIN_S  # noqa: E402

POLLER_TIMEOUT_S = FUNCTION_TIMEOUTS[FUNCTION_POLLER]
RUN_BUDGET_S = POLLER_TIMEOUT_S - DEADLINE_MARGIN_S  # the handler's deadline for run_poll

# Modelled round trips (the in-memory store and fake provider answer at once; a real run
# waits on the network). Assumed from typical figures, not measured here: a provider list
# page 0.5 s (up to 1,000 batches), a retrieve 0.2 s (16 in parallel), a DynamoDB
# conditional write 8 ms, a query page (about 500 chunk items, 1 MB) 60 ms.
LIST_PAGE_S = 0.5
RETRIEVE_S = 0.2 / 16
DDB_WRITE_S = 0.008
DDB_QUERY_PAGE_S = 0.06
DDB_ITEMS_PER_PAGE = 500


class ModelledIO:
    """The poller's clock: real time plus the modelled waits so far (its deadline sees them)."""

    def __init__(self) -> None:
        self.waited = 0.0

    def wait(self, seconds: float) -> None:
        self.waited += seconds

    def clock(self) -> float:
        return time.perf_counter() + self.waited


IO = ModelledIO()


class CountingProvider(BatchProvider):
    """Answers status calls on the bench's virtual clock and counts them."""

    def __init__(self, name: str, ends: dict[str, float], *, shows_progress: bool):
        self.name = name
        self.ends = ends
        self.ordered = sorted(ends)
        self.shows_progress = shows_progress
        self.now = T0
        self.calls: Counter[str] = Counter()

    def info(self, batch_id: str) -> BatchInfo:
        end = self.ends[batch_id]
        total = 1000
        if self.now >= end:
            return BatchInfo(batch_id, "ended", "ended", T0, end_reason="completed", total=total,
                             completed=total, ended_at=end)
        done = int(total * (self.now - T0) / (end - T0)) if self.shows_progress else 0
        return BatchInfo(batch_id, "in_progress", "running", T0, total=total, completed=done)

    def list_batches(self, *, created_after: float, page_size: int = 100) -> Iterator[BatchInfo]:
        for start in range(0, len(self.ordered), page_size):
            self.calls["list_page"] += 1
            IO.wait(LIST_PAGE_S)
            for batch_id in self.ordered[start : start + page_size]:
                yield self.info(batch_id)

    def retrieve_batch(self, batch_id: str) -> BatchInfo:
        self.calls["retrieve"] += 1
        IO.wait(RETRIEVE_S)
        return self.info(batch_id)

    # Not used by the poller.
    def provider_custom_id(self, custom_id, tag):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def request_line(self, provider_custom_id, body, endpoint):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def create_batch(self, **kwargs):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def find_candidates(self, **kwargs):  # type: ignore[no-untyped-def]
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
    """The chunk store functions the poller and hand-off call, over a dict (a day of runs on
    moto would take many minutes). Same conditional semantics: a transition from an
    unexpected status, or with an unmet guard (attribute = value), is refused."""

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
        due = [c for c in self.chunks.values() if c.provider == provider and c.due_at is not None and c.due_at <= now]
        found = sorted(due, key=lambda c: c.due_at)[:limit]
        IO.wait(DDB_QUERY_PAGE_S * max(1, math.ceil(len(found) / DDB_ITEMS_PER_PAGE)))
        return found

    def get_chunk(self, job_id: str, chunk_id: str) -> Any:
        return self.chunks[chunk_id]

    def transition_chunk(self, job_id, chunk_id, provider, from_statuses, to_status, *, due_at=_UNSET,
                         guard=None, **fields):  # type: ignore[no-untyped-def]
        from batchrelay.errors import TransitionRefused

        chunk = self.chunks[chunk_id]
        expected = (from_statuses,) if isinstance(from_statuses, str) else tuple(from_statuses)
        if chunk.status not in expected:
            raise TransitionRefused("status", current=str(chunk.status))
        if guard is not None:
            name, value = (part.strip() for part in guard.expression.split("="))
            if getattr(chunk, guard.names[name]) != guard.values[value]:
                raise TransitionRefused("condition", current=str(chunk.status))
        update = dict(fields)
        if to_status is not None:
            update["status"] = to_status
        if due_at is not _UNSET:
            update["due_at"] = due_at
        # Validated as the real store's read would be (counts come in as a dict).
        self.chunks[chunk_id] = type(chunk).model_validate({**chunk.model_dump(), **update})
        self.writes += 1
        IO.wait(DDB_WRITE_S)
        return self.chunks[chunk_id]


def install(store: InMemoryChunks, provider: CountingProvider) -> None:
    from batchrelay.lifecycle import handoff, poller, provider_lookup
    from batchrelay.store import chunk_store

    for name in ("query_due_chunks", "get_chunk", "transition_chunk"):
        setattr(chunk_store, name, getattr(store, name))
    # No job waits on a lost message here: the job-level safety nets have nothing to do.
    poller.resend_stalled_jobs = lambda now, summary: None  # type: ignore[assignment]
    poller.resend_job_upkeep = lambda now, summary: None  # type: ignore[assignment]
    handoff.send_collect_message = store.collect
    provider_lookup.provider_for = lambda name: provider  # type: ignore[assignment]


def in_flight(store: InMemoryChunks, provider: str, ends: dict[str, float]) -> None:
    from batchrelay.models.job import Chunk, ChunkStatus

    for i, batch_id in enumerate(sorted(ends)):
        store.chunks[f"c{i:05d}"] = Chunk(
            job_id="job_bench", chunk_id=f"c{i:05d}", provider=provider, endpoint="/v1/chat/completions",
            status=ChunkStatus.SUBMITTED, request_count=1000, input_key="-", batch_id=batch_id,
            batch_ids=[batch_id], batch_created_at=T0, due_at=int(T0) + 60,
        )


def run(provider_name: str, *, shows_progress: bool) -> dict[str, float]:
    from batchrelay.lifecycle import poller

    store = InMemoryChunks()
    ends = {
        f"batch_{i:03d}": T0 + FIRST_END_S + i * (LAST_END_S - FIRST_END_S) / (BATCHES - 1)
        for i in range(BATCHES)
    }
    provider = CountingProvider(provider_name, ends, shows_progress=shows_progress)
    install(store, provider)
    in_flight(store, provider_name, ends)
    started = time.perf_counter()
    now = T0
    while now <= T0 + LAST_END_S + 3600:
        provider.now = now
        poller.run_poll(now, IO.clock() + RUN_BUDGET_S, providers=[provider_name], clock=IO.clock)
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


def tick_with_10k_in_flight() -> dict[str, float]:
    """One poller run with 10,000 batches in flight at a provider without progress counts:
    every one of them is due, the sweep pages through them all (100 pages)."""
    from batchrelay.lifecycle import poller

    count = 10_000
    store = InMemoryChunks()
    ends = {f"batch_{i:05d}": T0 + 86_400 for i in range(count)}
    provider = CountingProvider("anthropic", ends, shows_progress=False)
    install(store, provider)
    in_flight(store, "anthropic", ends)
    runs = []
    for minute in range(2, 6):
        provider.now = T0 + 60 * minute
        started = IO.clock()
        summary = poller.run_poll(provider.now, started + RUN_BUDGET_S, providers=["anthropic"], clock=IO.clock)
        runs.append((IO.clock() - started, summary))
    # The first look writes each fresh batch's status (more than one run's worth of writes:
    # the rest stay due and the next run goes on); from then on nothing changes, nothing is written.
    steady_s, steady = runs[-1]
    assert steady["checked"] == count and steady["left_for_next_run"] == 0, steady
    return {"tick_s_10k": round(max(elapsed for elapsed, _ in runs), 1), "steady_tick_s": round(steady_s, 1),
            "pages": provider.calls["list_page"], "writes": store.writes,
            "first_left": runs[0][1]["left_for_next_run"]}


def line(figures: dict[str, float], keys: list[str]) -> str:
    return " ".join(f"{k}={figures[k]}" for k in keys)


if __name__ == "__main__":
    required = ["status_calls_per_day", "naive_calls_per_day", "p95_detect_delay_s"]
    extra = ["max_detect_delay_s", "list_pages", "retrieves", "chunk_writes", "wall_s"]
    no_progress = run("anthropic", shows_progress=False)
    print("no progress counts (anthropic):", line(no_progress, required + extra))
    progress = run("openai", shows_progress=True)
    print("progress counts (openai):", line(progress, required + extra),
          f"reduction={progress['naive_calls_per_day'] / max(1, progress['status_calls_per_day']):.0f}x")
    big = tick_with_10k_in_flight()
    print(f"10,000 batches in flight (no progress counts), four runs: longest {big['tick_s_10k']} s "
          f"(timeout {POLLER_TIMEOUT_S} s), steady {big['steady_tick_s']} s, {big['pages']} list pages, "
          f"{big['writes']} chunk writes, {big['first_left']} left by the first run for the next")
    summary = {
        "status_calls_per_day": max(progress["status_calls_per_day"], no_progress["status_calls_per_day"]),
        "naive_calls_per_day": progress["naive_calls_per_day"],
        "p95_detect_delay_s": progress["p95_detect_delay_s"],
        "p95_detect_delay_s_no_progress": no_progress["p95_detect_delay_s"],
        "tick_s_10k": big["tick_s_10k"],
    }
    print(line(summary, list(summary)))
