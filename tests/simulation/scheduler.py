"""Deterministic concurrency: Lambda invocations as threads that take turns, as in
FoundationDB's simulation.

Each invocation runs on its own thread, but only one thread runs at a time: the one
holding the baton. At every AWS call, provider call and sleep, the running invocation
*parks* with the virtual instant it will resume at (now + the call's latency) and hands
the baton back to the scheduler's loop (``World.run``), which resumes whichever parked
invocation or world event comes first (ties broken by the seeded RNG). Interleavings are
therefore a function of the seed alone, and races (two collectors on one chunk, poller
against fast path against cancel) are reachable and replayable.

Killing an invocation (a crash point, a Lambda timeout, the end of the run) raises
``Killed`` in its thread at its next park; ``Killed`` is a BaseException, so domain code's
``except Exception`` cannot swallow it, and any call a dying invocation still tries
(cleanup in ``finally``) raises ``Killed`` at once without being applied.

Threads that are not invocations (the poller's thread pool, s3transfer's workers) are
children of the running invocation, which waits for them: their calls are applied
directly ("pass-through"), without parking, so they cost no virtual time.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Killed(BaseException):
    """The invocation is gone: Lambda killed it (timeout), it crashed, or the run ended."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class HarnessStuck(RuntimeError):
    """An invocation neither parked nor ended within real seconds: a bug of the harness."""


# Real seconds an invocation may run between two calls before the harness calls itself stuck.
STUCK_AFTER_S = 120.0


class VirtualClock:
    """The world's time (epoch seconds); only the scheduler moves it forward."""

    def __init__(self, start: float):
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class Invocation:
    seq: int
    kind: str                       # submitter | collector | poller | openai_webhook | api
    label: str                      # what it works on, for traces ("chunk job_x/c00002")
    started_at: float
    deadline: float
    work: Callable[[], Any]
    calls: int = 0
    wake: float = 0.0
    kill_reason: str | None = None  # set once it is killed: every later call raises Killed
    kill_requested: str | None = None
    outcome: str = "running"        # ok | failed | killed
    result: Any = None
    error: BaseException | None = None
    go: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    thread: threading.Thread | None = None
    on_done: Callable[[Invocation], None] | None = None

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.seq}"


# A crash decision: given (invocation, call name, call index, "before"/"after") -> kill reason or None.
CrashDecider = Callable[[Invocation, str, int, str], "str | None"]


class Agenda:
    """What happens next: parked invocations and world events, ordered by (time, seeded tie-break)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self._heap: list[tuple[float, float, int, Any]] = []
        self._seq = itertools.count()

    def add(self, at: float, item: Any) -> None:
        heapq.heappush(self._heap, (at, self.rng.random(), next(self._seq), item))

    def peek_time(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop(self) -> tuple[float, Any]:
        at, _, _, item = heapq.heappop(self._heap)
        return at, item

    def __len__(self) -> int:
        return len(self._heap)

    def items(self) -> list[Any]:
        return [entry[3] for entry in self._heap]


class Scheduler:
    def __init__(self, clock: VirtualClock, rng: random.Random, agenda: Agenda, crash: CrashDecider):
        self.clock = clock
        self.rng = rng
        self.agenda = agenda
        self.crash = crash
        self.local = threading.local()
        self.back = threading.Semaphore(0)
        self.active: Invocation | None = None
        self.running: dict[int, Invocation] = {}
        self._seq = itertools.count(1)
        self.on_checkpoint: Callable[[Invocation, str], None] = lambda inv, name: None

    # ------------------------------------------------------------------ from the world's loop
    def spawn(self, kind: str, label: str, work: Callable[[], Any], *, at: float, timeout: float,
              on_done: Callable[[Invocation], None] | None = None) -> Invocation:
        """An invocation that starts at ``at`` and is killed ``timeout`` seconds after it starts."""
        inv = Invocation(next(self._seq), kind, label, at, at + timeout, work, wake=at, on_done=on_done)
        inv.thread = threading.Thread(target=self._thread_main, args=(inv,), name=f"sim-{inv.name}", daemon=True)
        inv.thread.start()
        self.running[inv.seq] = inv
        self.agenda.add(at, inv)
        return inv

    def resume(self, inv: Invocation) -> None:
        """Give the baton to ``inv`` until it parks again or ends."""
        self.active = inv
        inv.go.release()
        self._wait_for_baton(inv)
        self.active = None
        if inv.outcome != "running":
            self.running.pop(inv.seq, None)
            if inv.thread is not None:
                inv.thread.join()
            if inv.on_done is not None:
                inv.on_done(inv)
        else:
            self.agenda.add(inv.wake, inv)

    def kill_all(self, reason: str) -> None:
        """End every invocation still alive (their agenda entries are dropped by the caller)."""
        for inv in sorted(self.running.values(), key=lambda i: i.seq):
            inv.kill_requested = reason
            inv.on_done = None
            while inv.outcome == "running":
                self.active = inv
                inv.go.release()
                self._wait_for_baton(inv)
                self.active = None
            if inv.thread is not None:
                inv.thread.join()
        self.running.clear()

    def _wait_for_baton(self, inv: Invocation) -> None:
        if not self.back.acquire(timeout=STUCK_AFTER_S):
            import sys
            import traceback

            frame = sys._current_frames().get(inv.thread.ident if inv.thread else -1)
            stack = "".join(traceback.format_stack(frame)) if frame else "(no stack)"
            raise HarnessStuck(
                f"{inv.name} ({inv.label}) did not reach its next call in {STUCK_AFTER_S:.0f}s:\n{stack}"
            )

    # ------------------------------------------------------------------ in invocation threads
    def current(self) -> Invocation | None:
        return getattr(self.local, "inv", None)

    def _thread_main(self, inv: Invocation) -> None:
        inv.go.acquire()
        self.local.inv = inv
        try:
            if inv.kill_requested:
                raise Killed(inv.kill_requested)
            inv.result = inv.work()
            inv.outcome = "ok"
        except Killed as killed:
            inv.outcome, inv.kill_reason = "killed", inv.kill_reason or killed.reason
        except BaseException as exc:  # a failed invocation: Lambda reports it, the message stays
            inv.outcome, inv.error = "failed", exc
        finally:
            self.local.inv = None
            self.back.release()

    def _park(self, inv: Invocation, wake: float) -> None:
        inv.wake = min(wake, inv.deadline)
        self.back.release()
        inv.go.acquire()
        if inv.kill_requested:
            self._kill(inv, inv.kill_requested)
        if self.clock.now >= inv.deadline:
            self._kill(inv, f"timeout after {inv.deadline - inv.started_at:.0f}s")

    def _kill(self, inv: Invocation, reason: str) -> None:
        inv.kill_reason = inv.kill_reason or reason
        raise Killed(inv.kill_reason)

    def call(self, name: str, latency: float, apply: Callable[[], Any]) -> Any:
        """One AWS or provider call of the running invocation: park for its latency, then apply it,
        with a chance to crash just before or just after it is applied."""
        inv = self.current()
        if inv is None:
            return apply()
        if inv.kill_reason:
            raise Killed(inv.kill_reason)
        inv.calls += 1
        index = inv.calls
        self._park(inv, self.clock.now + latency)
        self.on_checkpoint(inv, name)
        reason = self.crash(inv, name, index, "before")
        if reason:
            self._kill(inv, reason)
        result = apply()
        reason = self.crash(inv, name, index, "after")
        if reason:
            self._kill(inv, reason)
        return result

    def sleep(self, seconds: float) -> bool:
        """A sleep of the running invocation in virtual time; False when not in an invocation."""
        inv = self.current()
        if inv is None:
            return False
        if inv.kill_reason:
            raise Killed(inv.kill_reason)
        self._park(inv, self.clock.now + max(0.0, seconds))
        return True
