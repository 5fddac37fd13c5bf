"""Every fault decision of a run, drawn from the seed: latencies, crash points, provider
errors, lost and duplicated messages, AWS throttling.

Decisions for invocation threads come from one seeded stream in the order the calls are
made (which the scheduler makes deterministic). Calls from a running invocation's child
threads (the poller's thread pool) run concurrently, so their decisions are a hash of
(seed, invocation, call, attempt) instead: the same whatever order the threads take.
"""

from __future__ import annotations

import fnmatch
import hashlib
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass

from tests.simulation.scenario import Faults, Scenario
from tests.simulation.scheduler import Invocation, VirtualClock

BEDROCK_CREATE = "bedrock.CreateModelInvocationJob"
BEDROCK_INVOKE = "bedrock.InvokeModel"
MISTRAL_CREATE = "mistral.POST /v1/batch/jobs"
CREATE_CALLS = {
    "openai.POST /v1/batches", "anthropic.POST /v1/messages/batches", BEDROCK_CREATE, MISTRAL_CREATE,
    "gemini.POST /gemini/{version}/models/{model}:batchGenerateContent",
    "gemini.POST /gemini/{version}/models/{model}:asyncBatchEmbedContent",
}
# The OpenAI-shaped providers' creates: POST .../batches under their own paths
# (azure_openai.POST /azure/openai/batches, groq.POST /groq/openai/v1/batches, ...).
_SHAPED_CREATE = re.compile(r"^[a-z0-9_]+\.POST /\S+/batches$")


def is_create(name: str) -> bool:
    return name in CREATE_CALLS or bool(_SHAPED_CREATE.match(name))


# Seconds a call takes, (low, high), by call name prefix (the longest matching prefix wins).
LATENCY = {
    "dynamodb.": (0.003, 0.012),
    "sqs.": (0.005, 0.02),
    "s3.": (0.015, 0.06),
    "s3.PutObject": (0.02, 0.08),
    "sns.": (0.01, 0.03),
    "openai.": (0.05, 0.3),
    "openai.POST /v1/files": (0.2, 1.0),
    "openai.POST /v1/batches": (0.3, 2.0),
    "openai.GET /v1/batches": (0.1, 0.6),
    "anthropic.": (0.05, 0.3),
    "anthropic.POST /v1/messages/batches": (0.3, 2.5),
    "anthropic.GET /v1/messages/batches": (0.1, 0.6),
    "bedrock.": (0.05, 0.3),
    BEDROCK_CREATE: (0.3, 2.0),
    BEDROCK_INVOKE: (1.0, 20.0),
    # OpenAI-shaped providers (tests/simulation/scenario.py SHAPED_PROVIDERS): OpenAI's latencies.
    **{f"{provider}.": (0.05, 0.3) for provider in ("azure_openai", "groq", "vllm_sim")},
    "mistral.": (0.05, 0.3),
    "mistral.POST /v1/files": (0.2, 1.0),
    "mistral.POST /v1/batch/jobs": (0.3, 2.0),
    "mistral.GET /v1/batch/jobs": (0.1, 0.6),
    "gemini.": (0.05, 0.3),
    "gemini.POST /gemini/upload": (0.2, 1.0),
    "gemini.POST /gemini/{version}/models": (0.3, 2.0),
    "gemini.GET /gemini/{version}/batches": (0.1, 0.6),
}
SDK_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ProviderFault:
    kind: str               # status | connect | timeout | lost_answer | quota (Bedrock's create)
    status: int = 0
    applied: bool = False   # True: the provider did the work before the failure


class FaultInjector:
    def __init__(self, scenario: Scenario, clock: VirtualClock, start: float):
        self.scenario = scenario
        self.start = start
        self.faults: Faults = scenario.faults
        self.clock = clock
        self.rng = random.Random(f"faults-{scenario.seed}")
        self.forced_left = [forced.times for forced in self.faults.forced]
        self.forced_skip = [forced.skip for forced in self.faults.forced]
        self.forced_provider_left = [forced.times for forced in self.faults.forced_provider]
        self.forced_provider_skip = [forced.skip for forced in self.faults.forced_provider]
        self.fired: list[str] = []                  # the run's log: faults fired, invocations
        self.counts: Counter[str] = Counter()
        self._pass_through_attempts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._latency_keys = sorted(LATENCY, key=len, reverse=True)

    @property
    def active(self) -> bool:
        return self.clock.now - self.start < self.scenario.faults_end

    def note(self, what: str) -> None:
        """A fault fired (counted by kind, and logged)."""
        self.counts[what.split(" ", 1)[0]] += 1
        self.record(f"FAULT {what}")

    def record(self, what: str) -> None:
        """A line of the run's log (faults and invocations), for explaining a failing seed."""
        if len(self.fired) < 20000:
            self.fired.append(f"{self.clock.now - self.start:9.2f}s {what}")

    # ------------------------------------------------------------------ time
    def latency(self, name: str) -> float:
        key = next((k for k in self._latency_keys if name.startswith(k)), None)
        low, high = LATENCY.get(key or "", (0.005, 0.02))
        seconds = self.rng.uniform(low, high)
        if name == "s3.PutObject" and self.faults.slow_s3_put:
            seconds += self.faults.slow_s3_put
        if self.active and self.faults.slow_call and self.rng.random() < self.faults.slow_call:
            seconds += self.rng.uniform(30.0, 400.0)
            self.note(f"slow {name}")
        return seconds

    # ------------------------------------------------------------------ crashes
    def crash(self, inv: Invocation, name: str, index: int, phase: str) -> str | None:
        point = f"{inv.kind}#{index}:{name}:{phase}"
        for i, forced in enumerate(self.faults.forced):
            if self.forced_left[i] and fnmatch.fnmatchcase(point, forced.point) \
                    and fnmatch.fnmatchcase(inv.label, forced.label):
                if self.forced_skip[i]:
                    self.forced_skip[i] -= 1
                    continue
                self.forced_left[i] -= 1
                self.note(f"crash {point} ({inv.label}, forced)")
                return f"crash at {point}"
        if not self.active:
            return None
        if phase == "after" and name == BEDROCK_INVOKE:
            # An on-demand call whose answer dies with the function is made again: the one way
            # the design pays twice (documented); not drawn, so the money invariants stay strict.
            return None
        if phase == "after" and is_create(name) and self.faults.crash_after_create \
                and self.rng.random() < self.faults.crash_after_create:
            self.note(f"crash {point} ({inv.label})")
            return f"crash at {point}"
        if self.faults.crash_per_call and self.rng.random() < self.faults.crash_per_call / 2:
            self.note(f"crash {point} ({inv.label})")
            return f"crash at {point}"
        return None

    # ------------------------------------------------------------------ providers
    def outage(self, provider: str) -> str | None:
        now = self.clock.now - self.start
        for outage in self.faults.outages:
            if outage.provider == provider and outage.start <= now < outage.end:
                return outage.kind
        return None

    def provider_fault(self, provider: str, name: str) -> ProviderFault | None:
        for i, forced in enumerate(self.faults.forced_provider):
            if self.forced_provider_left[i] and fnmatch.fnmatchcase(name, forced.call):
                if self.forced_provider_skip[i]:
                    self.forced_provider_skip[i] -= 1
                    continue
                self.forced_provider_left[i] -= 1
                return ProviderFault(forced.kind, forced.status, forced.applied)
        outage = self.outage(provider)
        if outage is not None:
            return self._outage_fault(outage, self.rng.random())
        if not self.active:
            return None
        draw = self.rng.random()
        return self._without_lost_answers(name, self._random_fault(name, draw, self.rng.random(), self.rng.random()))

    @staticmethod
    def _without_lost_answers(name: str, fault: ProviderFault | None) -> ProviderFault | None:
        """InvokeModel has no idempotency token: an answer lost after the call (a timeout, a
        dropped connection) is paid again when the call is repeated. Documented, not drawn."""
        if name == BEDROCK_INVOKE and fault is not None and (fault.applied or fault.kind in ("timeout", "lost_answer")):
            return None
        return fault

    def pass_through_fault(self, invocation: int, provider: str, name: str, target: str) -> ProviderFault | None:
        """For a child thread's call: a decision that does not depend on thread order."""
        with self._lock:
            key = f"{invocation}:{name}:{target}"
            self._pass_through_attempts[key] += 1
            attempt = self._pass_through_attempts[key]
        draws = [self._hash_draw(f"{self.scenario.seed}:{key}:{attempt}:{i}") for i in range(3)]
        outage = self.outage(provider)
        if outage is not None:
            return self._outage_fault(outage, draws[0])
        if not self.active:
            return None
        fault = self._without_lost_answers(name, self._random_fault(name, *draws))
        return None if fault is not None and fault.kind == "timeout" else fault

    @staticmethod
    def _hash_draw(text: str) -> float:
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64

    @staticmethod
    def _outage_fault(kind: str, draw: float) -> ProviderFault:
        if kind == "auth":
            return ProviderFault("status", 401)
        if kind == "forbidden":
            return ProviderFault("status", 403)
        return ProviderFault("connect") if draw < 0.3 else ProviderFault("status", 503 if draw < 0.7 else 500)

    def _random_fault(self, name: str, draw: float, kind_draw: float, extra: float) -> ProviderFault | None:
        f = self.faults
        if is_create(name) and f.ambiguous_create:
            if draw < f.ambiguous_create:
                if kind_draw < 0.4:
                    return ProviderFault("status", 500, applied=True)
                if kind_draw < 0.7:
                    return ProviderFault("lost_answer", applied=True)
                return ProviderFault("timeout", applied=True)
            draw -= f.ambiguous_create
        if draw < f.provider_error:
            if name == BEDROCK_CREATE and kind_draw < 0.15:
                return ProviderFault("quota")   # too many jobs in flight for the model
            if kind_draw < 0.4:
                return ProviderFault("status", 429)
            if kind_draw < 0.8:
                return ProviderFault("status", 529 if name.startswith("anthropic") and extra < 0.3 else 500)
            return ProviderFault("connect")
        draw -= f.provider_error
        if draw < f.provider_timeout:
            return ProviderFault("timeout", applied=kind_draw < 0.5)
        return None

    # ------------------------------------------------------------------ queues and AWS
    def sqs_copies(self, body: str) -> int:
        if any(fnmatch.fnmatchcase(body, pattern) for pattern in self.faults.lost_sends):
            self.note(f"lost message {body}")
            return 0
        if any(fnmatch.fnmatchcase(body, pattern) for pattern in self.faults.duplicated_sends):
            self.note(f"duplicate message {body}")
            return 2
        if not self.active:
            return 1
        draw = self.rng.random()
        if draw < self.faults.sqs_lost:
            self.note(f"lost message {body}")
            return 0
        if draw < self.faults.sqs_lost + self.faults.sqs_duplicate:
            self.note(f"duplicate message {body}")
            return 2
        return 1

    def aws_fault(self, name: str) -> str | None:
        """An error code DynamoDB answers instead of applying the call (botocore retries it)."""
        if not self.active or not self.faults.aws_throttle or not name.startswith("dynamodb."):
            return None
        if self.rng.random() < self.faults.aws_throttle:
            code = "ThrottlingException" if self.rng.random() < 0.5 else "InternalServerError"
            self.note(f"aws {code} {name}")
            return code
        return None

    def webhook_copies(self) -> int:
        if not self.active:
            return 1
        draw = self.rng.random()
        if draw < self.faults.webhook_lost:
            return 0
        return 2 if draw < self.faults.webhook_lost + self.faults.webhook_duplicate else 1
