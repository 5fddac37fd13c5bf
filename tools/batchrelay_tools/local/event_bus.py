"""EventBridge's part in local mode: the simulator's Amazon Bedrock state-change events, to the
``bedrock_events`` function, as the stack's rule delivers them.

A thread asks the simulator for the events since its last look (``state_changes``, every
``interval`` seconds), keeps those the deployed rule matches (this account's batch inference
jobs that ended: ``providers.bedrock_events.matches_rule``) and invokes the function with each
one, asynchronously, as EventBridge's Lambda target does: an invocation that fails is tried
again after a pause, at most ``retries`` more times (the rule's retry policy), then dropped
(the poller is the safety net, as deployed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batchrelay import constants as c
from batchrelay.providers.bedrock_events import matches_rule
from batchrelay_tools.local.lambda_context import LOCAL_ACCOUNT, context_for

log = logging.getLogger("local.event_bus")

Invoke = Callable[[str, dict[str, Any], Any], Any]


@dataclass
class EventBusStats:
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    skipped: int = 0          # events the rule does not match (not an end)


@dataclass
class LocalEventBus:
    source: Callable[[], list[dict[str, Any]]]   # the events since the last call
    invoke: Invoke
    function: str = c.FUNCTION_BEDROCK_EVENTS
    region: str = "us-east-1"
    account: str = LOCAL_ACCOUNT
    interval: float = 0.5
    retries: int = 3
    retry_delay: float = 1.0
    stats: EventBusStats = field(default_factory=EventBusStats)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _retry: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)

    def start(self) -> LocalEventBus:
        self._thread = threading.Thread(target=self._run, name="eventbridge-bedrock", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.deliver_pending()
            except Exception:
                log.exception("delivering Bedrock events failed")

    def deliver_pending(self) -> int:
        """One look: new events the rule matches, and retries that are due; returns deliveries."""
        due = [entry for entry in self._retry if entry[0] <= time.monotonic()]
        self._retry = [entry for entry in self._retry if entry[0] > time.monotonic()]
        fresh = []
        for event in self.source():
            if matches_rule(event, self.account):
                fresh.append((0.0, 0, event))
            else:
                self.stats.skipped += 1
        delivered = 0
        for _, attempt, event in [*due, *fresh]:
            delivered += self._deliver(event, attempt)
        return delivered

    def _deliver(self, event: dict[str, Any], attempt: int) -> int:
        try:
            self.invoke(self.function, event, context_for(self.function, self.region))
            self.stats.delivered += 1
            return 1
        except Exception as exc:
            self.stats.failed += 1
            if attempt < self.retries:
                self._retry.append((time.monotonic() + self.retry_delay * 2 ** attempt, attempt + 1, event))
            else:
                self.stats.dropped += 1
            log.warning("%s failed on a Bedrock event (attempt %d): %s", self.function, attempt + 1, exc)
            return 0
