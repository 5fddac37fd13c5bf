"""The world of one seed: AWS (in memory), the providers (the simulator on loopback), the
Lambda runtime (event sources, the schedule, timeouts), the tenants, and the clock.

One run:
1. installs the seams -- botocore's ``before-send`` (every AWS call answered by the fakes),
   httpx2's transport (every provider call), ``time.time`` / ``time.sleep`` (virtual time),
   batchrelay's and the simulator's id generators (seeded) -- and restores them after;
2. creates the stack's resources with local mode's own ``create_resources``;
3. plays the scenario: clients create jobs through ``job_service`` and cancel some; SQS
   messages become Lambda invocations (batch size 1, a concurrency limit per queue,
   visibility timeout, receive count and DLQ as deployed); the poller runs on the minute
   whenever something is due (a run with nothing due writes nothing, so skipping it
   changes nothing but speed); OpenAI's webhooks call the fast path when a batch ends;
4. stops when every job is final and nothing is left to do ("finished"), when nothing is
   left to happen at all ("idle": a job that is not final then is stuck for good), when
   nothing has changed for ``stall_window`` after the faults stopped ("stalled"), or at
   the horizon.

Everything random comes from the seed (see scheduler.py for how interleavings do), so a
seed replays exactly: ``World(scenario_for_seed(seed)).run()`` twice gives the same trace.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import random
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from boto3.dynamodb.types import TypeDeserializer

from batchrelay_tools.simulator import FailureRule, SimulatorServer, SimulatorSettings
from batchrelay_tools.simulator.ledger import LedgerBatch
from batchrelay_tools.simulator.state import BatchPlan
from tests.simulation import entry_points as ep
from tests.simulation.aws_backends import aws_env
from tests.simulation.fake_aws.sns import Published
from tests.simulation.fake_aws.wire import FakeAWS, aws_response, install, uninstall
from tests.simulation.faults import SDK_TIMEOUT_S, FaultInjector, ProviderFault
from tests.simulation.provider_gate import ProviderGate
from tests.simulation.scenario import BEDROCK_MIN_RECORDS, JobPlan, Scenario
from tests.simulation.scheduler import Agenda, Invocation, Scheduler, VirtualClock

START = 1_767_225_600.0          # 2026-01-01T00:00:00Z, the virtual clock's origin
TICK_S = 60.0                    # the poller's schedule
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"batchrelay-simulation-webhook-key").decode()
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_deserializer = TypeDeserializer()

_server: SimulatorServer | None = None
_server_lock = threading.Lock()


def shared_simulator() -> SimulatorServer:
    """One provider simulator on loopback for the whole process; each run resets its state."""
    global _server
    with _server_lock:
        if _server is None:
            _server = SimulatorServer(SimulatorSettings()).start()
        return _server


@dataclass
class ClientJob:
    plan: JobPlan
    job_id: str | None = None
    create_attempts: int = 0
    cancel_attempts: int = 0
    cancel_outcome: str | None = None      # the API's answer to the cancel, if any came
    cancel_pending: bool = False
    refused: str | None = None             # the API refused the job (4xx): the scenario is wrong


@dataclass
class RunData:
    """What a run leaves for the invariants (invariants.py) and the report."""

    scenario: Scenario
    start: float
    end: float
    stop_reason: str
    clients: dict[str, ClientJob]
    items: list[dict[str, Any]]
    objects: dict[str, bytes]
    ledger: list[LedgerBatch]
    published: list[Published]
    dead_letters: dict[str, list[str]]
    faults_fired: list[str]
    fault_counts: dict[str, int]
    invocations: dict[str, int]
    calls: int
    trace_hash: str
    wall_seconds: float
    bucket: str = ""
    table: str = ""
    notes: list[str] = field(default_factory=list)


class World:
    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        seed = scenario.seed
        self.clock = VirtualClock(START)
        self.rng = random.Random(f"world-{seed}")
        self.agenda = Agenda(random.Random(f"ties-{seed}"))
        self.faults = FaultInjector(scenario, self.clock, START)
        self.scheduler = Scheduler(self.clock, self.rng, self.agenda, self.faults.crash)
        self.fake = FakeAWS(self.clock)
        self.gate = ProviderGate(self.scheduler, self.faults)
        self.clients = {plan.label: ClientJob(plan) for plan in scenario.jobs}
        self.env: dict[str, str] = {}
        self.calls = 0
        self.invocations: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.deliveries_scheduled: set[tuple[str, float]] = set()
        self.trace = hashlib.blake2b(digest_size=16)
        self.notes: list[str] = []
        self._ids = random.Random(f"ids-{seed}")
        self._batch_rng = random.Random(f"batches-{seed}")
        self._tick = {"last": START - TICK_S, "pending": None, "token": 0}
        self._due_cache: tuple[int, float | None] = (-1, None)
        self._progress: tuple[Any, float] = (None, START)
        self._webhook_sent: set[str] = set()
        self._webhook_ids = 0
        import httpx

        self._http = httpx.Client(timeout=120)
        self.scheduler.on_checkpoint = self._on_checkpoint

    # ================================================================== running
    def run(self) -> RunData:
        wall = time.perf_counter()
        with self._installed():
            for client in self.clients.values():
                self._schedule_create(client, START + client.plan.submit_at)
            try:
                stop = self._loop()
            finally:
                # Even when the harness itself fails: no invocation thread outlives its run.
                self.scheduler.kill_all("end of the run")
            data = self._collect(stop)
        data.wall_seconds = time.perf_counter() - wall
        return data

    def _loop(self) -> str:
        horizon = START + self.scenario.horizon
        steps = 0
        while True:
            self._maybe_schedule_tick()
            at = self.agenda.peek_time()
            if at is None:
                return "finished" if self._finished() else "idle"
            if at > horizon:
                return "horizon"
            if at - self.clock.now >= 1.0 or steps % 200 == 0:
                if self._finished():
                    return "finished"
                if self._stalled(at):
                    return "stalled"
            steps += 1
            at, item = self.agenda.pop()
            self.clock.now = max(self.clock.now, at)
            if isinstance(item, Invocation):
                if item.outcome == "running":
                    self.scheduler.resume(item)
            else:
                kind, *args = item
                getattr(self, f"_event_{kind}")(*args)

    def _on_checkpoint(self, inv: Invocation, name: str) -> None:
        self.calls += 1
        self.trace.update(f"{inv.name}|{name}|{self.clock.now:.6f};".encode())

    # ================================================================== seams
    @contextmanager
    def _installed(self) -> Iterator[None]:
        server = shared_simulator()
        with ExitStack() as stack:
            stack.enter_context(aws_env())
            stack.enter_context(_quiet_logging())
            stack.enter_context(_shared_ssl_contexts())
            stack.enter_context(_patched_time(self.clock, self.scheduler))
            stack.enter_context(_seeded_global_random(self.scenario.seed))
            stack.callback(ep.register_compatible_servers())
            stack.callback(ep.patch_ids(self._next_ulid))
            install(self._aws_call)
            stack.callback(uninstall)
            self.gate.install()
            stack.callback(self.gate.uninstall)
            stack.callback(self._http.close)
            self.fake.sqs.on_send = self._on_send
            ep.reset_container_caches()
            stack.callback(ep.reset_container_caches)
            self.env = ep.create_stack_resources()
            # Every provider on the simulator, as local mode routes them (Azure OpenAI, Groq and
            # the configured server under their own paths).
            self.env.update(ep.simulator_provider_env(server.base_url, {"openai": "sk-sim",
                                                                         "anthropic": "sk-ant-sim"}))
            self.env.update({
                "OPENAI_API_KEY": "sk-sim", "ANTHROPIC_API_KEY": "sk-ant-sim",
                "OPENAI_BASE_URL": server.base_url_openai, "ANTHROPIC_BASE_URL": server.base_url_anthropic,
                "GEMINI_API_KEY": "gemini-sim", "GEMINI_BASE_URL": f"{server.base_url}/gemini",
                "OPENAI_WEBHOOK_SECRET": WEBHOOK_SECRET,
                # Bedrock: IAM only; its record minimum lowered with the simulator's; on-demand
                # calls one at a time in the invocation (each a checkpoint).
                "BEDROCK_BASE_URL": server.base_url + "/bedrock",
                "BEDROCK_ROLE_ARN": "arn:aws:iam::123456789012:role/batchrelay-bedrock-sim",
                "BEDROCK_MIN_REQUESTS_PER_BATCH": str(BEDROCK_MIN_RECORDS),
                "BEDROCK_ON_DEMAND_CONCURRENCY": "1",
            })
            stack.enter_context(_environment(self.env))
            ep.reset_container_caches()
            self._reset_simulator(server)
            stack.callback(self._detach_simulator, server)
            yield

    def _reset_simulator(self, server: SimulatorServer) -> None:
        b = self.scenario.batches
        rules = []
        if b.permanent_failures:
            rules.append(FailureRule(fraction=b.permanent_failures, kind="permanent"))
        if b.retryable_failures:
            rules.append(FailureRule(fraction=b.retryable_failures, kind="retryable", first_attempt_only=True,
                                     attempt_key="body"))
        sim = server.simulator
        sim.reset(SimulatorSettings(processing_seconds=600.0, failure_rules=rules,
                                    bedrock_min_records=BEDROCK_MIN_RECORDS))
        sim.clock = self.clock
        sim.new_id = lambda prefix: f"{prefix}{self._ids.getrandbits(96):024x}"
        sim.batch_planner = self._plan_batch
        sim.on_created = self._batch_created
        self.simulator = sim

    def _detach_simulator(self, server: SimulatorServer) -> None:
        server.simulator.batch_planner = None
        server.simulator.on_created = None

    def _next_ulid(self) -> str:
        value = (int(self.clock.now * 1000) << 80) | self._ids.getrandbits(80)
        chars = []
        for _ in range(26):
            chars.append(_ALPHABET[value & 31])
            value >>= 5
        return "".join(reversed(chars))

    def _aws_call(self, request: Any, event_name: str, **_: Any) -> Any:
        _, service, operation = event_name.split(".", 2)
        if service in ("bedrock", "bedrock-runtime"):
            return self._bedrock_call(request, operation)
        if self.scheduler.current() is None:   # the world itself, or a child thread (s3transfer)
            return self.fake.respond(event_name, request)
        name = f"{service}.{operation}"

        def apply() -> Any:
            code = self.faults.aws_fault(name)
            if code is not None:
                status = 500 if code == "InternalServerError" else 400
                body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "simulated"})
                return aws_response(request.url, status, {}, body.encode())
            return self.fake.respond(event_name, request)

        return self.scheduler.call(name, self.faults.latency(name), apply)

    # ================================================================== Bedrock (boto3, not httpx2)
    def _bedrock_call(self, request: Any, operation: str) -> Any:
        """A Bedrock call as a provider call: a checkpoint with the providers' faults, then the
        simulator over loopback; a transport fault raises what botocore's HTTP layer would."""
        name = f"bedrock.{operation}"
        self.gate.calls += 1

        def send() -> Any:
            body = request.body
            if hasattr(body, "read"):
                body = body.read()
            answer = self._http.request(request.method, request.url, headers=dict(request.headers.items()),
                                        content=body or b"")
            return aws_response(request.url, answer.status_code, dict(answer.headers), answer.content)

        def apply(fault: ProviderFault | None) -> Any:
            if fault is None:
                return send()
            self.faults.note(f"provider {fault.kind}{'/' + str(fault.status) if fault.status else ''}"
                             f"{' after applying' if fault.applied else ''} {name}")
            if fault.applied:
                send()
            if operation == "InvokeModel":
                self._ledger_refusal(request, fault)
            return self._bedrock_fault(request, fault)

        inv = self.scheduler.current()
        if inv is None:   # a child thread of the running invocation
            active = self.scheduler.active
            # The path, not the URL: the simulator's port differs from process to process,
            # and the decision must not (a seed replays the same in any worker).
            return apply(self.faults.pass_through_fault(active.seq if active else 0, "bedrock", name,
                                                        urlsplit(request.url).path))
        return self.scheduler.call(name, self.faults.latency(name),
                                   lambda: apply(self.faults.provider_fault("bedrock", name)))

    def _bedrock_fault(self, request: Any, fault: ProviderFault) -> Any:
        from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

        if fault.kind == "quota":
            return _bedrock_error(request, 400, "ServiceQuotaExceededException",
                                  "Too many in-progress and submitted batch inference jobs for the model (simulated).")
        if fault.kind == "status":
            status = 403 if fault.status in (401, 403) else fault.status
            code = {403: "AccessDeniedException", 429: "ThrottlingException"}.get(
                status, "ServiceUnavailableException" if status in (503, 529) else "InternalServerException")
            return _bedrock_error(request, 503 if status == 529 else status, code, "Simulated failure.")
        if fault.kind == "connect":
            raise EndpointConnectionError(endpoint_url=request.url)
        if fault.kind == "lost_answer":
            raise ConnectionClosedError(endpoint_url=request.url)
        if self.scheduler.current() is not None:
            self.scheduler.sleep(SDK_TIMEOUT_S)
        raise ReadTimeoutError(endpoint_url=request.url)

    def _ledger_refusal(self, request: Any, fault: ProviderFault) -> None:
        """An InvokeModel refused before it ran (429, 5xx, 403, no connection) answers the record
        with an error: the ledger shows it (unbilled), as the simulator's own refusals."""
        from urllib.parse import unquote

        from batchrelay_tools.simulator.providers.bedrock import full_body, sim_state

        status = 503 if fault.kind == "connect" else fault.status
        if status in (401, 403):
            return   # a refused credential stops the run (the chunk is held); the call is made again
        metadata = json.loads(request.headers.get("X-Amzn-Bedrock-Request-Metadata") or "{}")
        model = unquote(request.url.split("/model/", 1)[1].rsplit("/invoke", 1)[0])
        body = request.body.read() if hasattr(request.body, "read") else request.body
        sim_state(self.simulator).record_refusal(
            metadata, answers_digest(full_body(model, json.loads(body or b"{}"))), status)

    # ================================================================== providers' batches
    def _plan_batch(self, provider: str, total: int) -> BatchPlan:
        b = self.scenario.batches
        rng = self._batch_rng
        plan = BatchPlan(processing_seconds=rng.uniform(*b.processing))
        if self.faults.active:
            if b.expire and rng.random() < b.expire:
                plan.expire_after_fraction = rng.choice([0.0, 0.3, 0.7])
            # A quota refusal: OpenAI's and Azure's enqueued-token limit (token_limit_exceeded, a
            # capacity hold), Gemini's RESOURCE_EXHAUSTED; Mistral's full workspace refuses the create (429).
            if provider in ("openai", "azure_openai", "gemini", "mistral") and b.token_limit \
                    and rng.random() < b.token_limit:
                plan.token_limit_exceeded = True
        return plan

    def _batch_created(self, provider: str, batch_id: str, ends_at: float) -> None:
        b = self.scenario.batches
        if self.faults.active and b.vanish and self._batch_rng.random() < b.vanish:
            self.agenda.add(self.clock.now + self._batch_rng.uniform(0, max(1.0, ends_at - self.clock.now)),
                            ("vanish", provider, batch_id))
        if provider == "openai" and self.scenario.webhooks:
            self.agenda.add(ends_at + self._batch_rng.uniform(1.0, 20.0), ("webhook_check", batch_id))
        if provider == "bedrock" and self.scenario.webhooks:
            self.agenda.add(ends_at + self._batch_rng.uniform(1.0, 20.0), ("bedrock_event_check", batch_id))

    def _event_vanish(self, provider: str, batch_id: str) -> None:
        self.simulator.vanish(batch_id)
        self.faults.note(f"vanish {provider} batch {batch_id} (404 from now on)")

    # ================================================================== clients (the HTTP API)
    def _schedule_create(self, client: ClientJob, at: float) -> None:
        self.agenda.add(at, ("create", client.plan.label))

    def _event_create(self, label: str) -> None:
        client = self.clients[label]
        client.create_attempts += 1
        plan = client.plan
        key = f"idem-{plan.tenant}-{plan.label}"
        self._spawn("api", f"create {label}", lambda: ep.create_job(plan.tenant, plan.payload(), key),
                    lambda inv: self._created(client, inv))

    def _created(self, client: ClientJob, inv: Invocation) -> None:
        if inv.outcome == "ok":
            client.job_id = inv.result
            if client.plan.cancel_at is not None:
                self.agenda.add(max(self.clock.now, START + client.plan.cancel_at), ("cancel", client.plan.label))
            return
        if isinstance(inv.error, ep.Refused):
            client.refused = str(inv.error)
            return
        # A 5xx (crash, timeout) answer: the client tries again with the same Idempotency-Key.
        self._schedule_create(client, self.clock.now + self.rng.uniform(5.0, 120.0))

    def _event_cancel(self, label: str) -> None:
        client = self.clients[label]
        client.cancel_attempts += 1
        assert client.job_id is not None
        job_id, tenant = client.job_id, client.plan.tenant
        self._spawn("api", f"cancel {label}", lambda: ep.cancel_job(tenant, job_id),
                    lambda inv: self._cancelled(client, inv))

    def _cancelled(self, client: ClientJob, inv: Invocation) -> None:
        if inv.outcome == "ok":
            client.cancel_outcome = str(inv.result)
        elif client.cancel_attempts < client.plan.cancel_tries:
            self.agenda.add(self.clock.now + self.rng.uniform(5.0, 120.0), ("cancel", client.plan.label))

    # ================================================================== Lambda: SQS event sources
    def _on_send(self, queue: Any, body: str) -> int:
        if queue.name.endswith("-dlq") or queue.name.endswith("-webhooks"):
            return 1
        copies = self.faults.sqs_copies(body)
        if copies:
            self._schedule_delivery(queue.url, self.clock.now + self.rng.uniform(0.01, 1.0))
        return copies

    def _schedule_delivery(self, url: str, at: float) -> None:
        if (url, at) not in self.deliveries_scheduled:
            self.deliveries_scheduled.add((url, at))
            self.agenda.add(at, ("deliver", url))

    def _event_deliver(self, url: str) -> None:
        self.deliveries_scheduled.discard((url, self.clock.now))
        queue = self.fake.sqs.queues[url]
        short = queue.name.removeprefix("sim-")
        consumer = ep.QUEUE_CONSUMER[short]
        limit = self.scenario.queue_concurrency(short)
        while self.in_flight[url] < limit:
            visible = self.fake.sqs.visible(queue)
            if not visible:
                break
            message = self.fake.sqs.receive(queue, visible[self.rng.randrange(min(3, len(visible)))])
            if message is None:
                self.faults.note(f"dead letter {queue.name}")
                continue
            self.in_flight[url] += 1
            body = json.loads(message.body)
            if body.get("kind") == "collect":
                self._collect_started(body.get("job_id"))
            handler = ep.handle_jobs_message if consumer == "submitter" else ep.handle_collect_message
            receipt = message.receipt or ""
            self._spawn(consumer, _label(body), lambda h=handler, b=body: h(b),
                        lambda inv, q=queue, r=receipt: self._message_done(q, r, inv),
                        delay=self.rng.uniform(0.005, 0.3))
        upcoming = self.fake.sqs.next_visible_at(queue)
        if upcoming is not None and upcoming > self.clock.now and upcoming != float("inf"):
            self._schedule_delivery(url, upcoming)

    def _collect_started(self, job_id: str | None) -> None:
        for client in self.clients.values():
            if client.job_id == job_id and client.plan.cancel_on_collect and client.cancel_attempts == 0 \
                    and not client.cancel_pending:
                client.cancel_pending = True
                self.agenda.add(self.clock.now + self.rng.uniform(0.0, 0.5), ("cancel", client.plan.label))

    def _message_done(self, queue: Any, receipt: str, inv: Invocation) -> None:
        self.in_flight[queue.url] -= 1
        if inv.outcome == "ok":
            self.fake.sqs.delete(queue, receipt)
        self._schedule_delivery(queue.url, self.clock.now)

    # ================================================================== Lambda: the poller's schedule
    def _min_due(self) -> float | None:
        writes = self.fake.dynamodb.writes
        if self._due_cache[0] != writes:
            from batchrelay import constants as c

            # Every partition of the due index (providers' chunks, stalled jobs): the poller
            # reads them all, and with nothing due anywhere a run changes nothing.
            value = self.fake.dynamodb.min_index_value(self.env[c.ENV_TABLE_NAME], c.DUE_CHUNKS_INDEX)
            self._due_cache = (writes, None if value is None else float(value))
        return self._due_cache[1]

    def _maybe_schedule_tick(self) -> None:
        due = self._min_due()
        if due is None:
            return
        first = max(self._tick["last"] + TICK_S, _ceil_minute(self.clock.now))
        at = max(first, _ceil_minute(due))
        pending = self._tick["pending"]
        if pending is not None and pending <= at:
            return
        self._tick["token"] += 1
        self._tick["pending"] = at
        self.agenda.add(at, ("tick", self._tick["token"]))

    def _event_tick(self, token: int) -> None:
        if token != self._tick["token"]:
            return   # superseded by an earlier tick
        self._tick["pending"] = None
        self._tick["last"] = self.clock.now
        due = self._min_due()
        if due is not None and due <= self.clock.now:
            self._spawn("poller", "tick", ep.run_poller, None, delay=self.rng.uniform(0.02, 1.5))

    # ================================================================== OpenAI's webhooks (fast path)
    def _event_webhook_check(self, batch_id: str) -> None:
        batch = self.simulator.openai_batches.get(batch_id)
        if batch is None or batch_id in self.simulator.vanished or batch_id in self._webhook_sent:
            return
        status, _ = self.simulator._openai_status(batch, self.clock.now)
        if status not in ("completed", "failed", "expired", "cancelled"):
            self.agenda.add(self.clock.now + self.rng.uniform(60.0, 600.0), ("webhook_check", batch_id))
            return
        self._webhook_sent.add(batch_id)
        for _ in range(self.faults.webhook_copies()):
            self.agenda.add(self.clock.now + self.rng.uniform(0.1, 5.0), ("webhook", batch_id, status, 1))

    def _event_webhook(self, batch_id: str, status: str, attempt: int) -> None:
        self._webhook_ids += 1
        event_id = f"evt_sim_{self._webhook_ids:06d}"
        body = json.dumps({"id": event_id, "object": "event", "created_at": int(self.clock.now),
                           "type": f"batch.{status}", "data": {"id": batch_id}})
        headers = _signed_headers(event_id, int(self.clock.now), body)

        def retry(inv: Invocation) -> None:
            if inv.outcome != "ok" and attempt < 5:   # OpenAI retries what was not answered 2xx
                self.agenda.add(self.clock.now + self.rng.uniform(60.0, 900.0),
                                ("webhook", batch_id, status, attempt + 1))

        self._spawn("openai_webhook", f"webhook {batch_id}", lambda: ep.handle_openai_webhook(body, headers), retry)

    # ================================================================== Bedrock's events (EventBridge)
    def _event_bedrock_event_check(self, batch_id: str) -> None:
        from batchrelay.providers.bedrock_events import ENDED_STATUSES
        from batchrelay_tools.simulator.providers.bedrock import sim_state, state_change_event

        state = sim_state(self.simulator)
        job = state.jobs.get(batch_id)
        if job is None or batch_id in self.simulator.vanished or batch_id in self._webhook_sent:
            return
        with self.simulator.lock:
            view = state._view(job)
        if view["status"] not in ENDED_STATUSES:
            self.agenda.add(self.clock.now + self.rng.uniform(60.0, 600.0), ("bedrock_event_check", batch_id))
            return
        self._webhook_sent.add(batch_id)
        event = state_change_event(job, view, self.clock.now)
        for _ in range(self.faults.webhook_copies()):
            self.agenda.add(self.clock.now + self.rng.uniform(0.1, 5.0), ("bedrock_event", event, 1))

    def _event_bedrock_event(self, event: dict[str, Any], attempt: int) -> None:
        def retry(inv: Invocation) -> None:
            if inv.outcome != "ok" and attempt < 4:   # the rule's retry policy (3 more)
                self.agenda.add(self.clock.now + self.rng.uniform(30.0, 300.0), ("bedrock_event", event, attempt + 1))

        batch_id = event["detail"]["batchJobArn"].rsplit("/", 1)[-1]
        self._spawn("bedrock_events", f"event {batch_id}", lambda: ep.handle_bedrock_event(event), retry)

    # ================================================================== invocations
    def _spawn(self, kind: str, label: str, work: Callable[[], Any],
               on_done: Callable[[Invocation], None] | None, *, delay: float = 0.0) -> Invocation:
        self.invocations[kind] += 1

        def done(inv: Invocation) -> None:
            self.invocations[f"{kind}:{inv.outcome}"] += 1
            self.trace.update(f"{inv.name}={inv.outcome}:{inv.kill_reason or ''};".encode())
            what = inv.kill_reason if inv.outcome == "killed" else (
                repr(inv.error)[:300] if inv.outcome == "failed" else str(inv.result)[:200])
            self.log(f"{inv.name} {inv.label} -> {inv.outcome}: {what}")
            if on_done is not None:
                on_done(inv)

        inv = self.scheduler.spawn(kind, label, work, at=self.clock.now + delay, timeout=ep.TIMEOUTS[kind],
                                   on_done=done)
        if kind != "poller":
            self.log(f"{inv.name} {label} starts at +{delay:.2f}s")
        return inv

    def log(self, text: str) -> None:
        self.faults.record(text)

    # ================================================================== when to stop
    def _finished(self) -> bool:
        if self.scheduler.running or any(self.in_flight.values()):
            return False
        if any(client.job_id is None and client.refused is None for client in self.clients.values()):
            return False
        if any(isinstance(item, tuple) and item[0] in ("create", "cancel", "deliver")
               for item in self.agenda.items()):
            return False
        for queue in self.fake.sqs.queues.values():
            if not queue.name.endswith("-dlq") and not queue.name.endswith("-webhooks") and queue.messages:
                return False
        jobs = self._job_items()
        return all(jobs.get(client.job_id, {}).get("event_published") for client in self.clients.values()
                   if client.refused is None)

    def _stalled(self, upcoming: float) -> bool:
        if self.clock.now - START < self.scenario.faults_end:
            return False
        signature = self._progress_signature()
        if signature != self._progress[0]:
            self._progress = (signature, self.clock.now)
            return False
        return upcoming - self._progress[1] >= self.stall_window

    @property
    def stall_window(self) -> float:
        """How long without progress means stuck: the scenario's window, and never shorter than
        the longest a batch may run (plus an hour to see it end). A batch made late runs
        unchanged until it ends (the poller writes nothing for an unchanged batch), so a
        shorter window called a 4-hour batch made at 9 h stuck at 12 h (seed 2090)."""
        return max(self.scenario.stall_window, self.scenario.batches.processing[1] + 3600.0)

    def _progress_signature(self) -> Any:
        with self.fake.dynamodb.lock:
            table = self.fake.dynamodb.tables[self.env["TABLE_NAME"]]
            return hash(tuple(sorted(
                (pk[0][1], pk[1][1], _s(item.get("status")), _s(item.get("batch_id")), _n(item.get("create_seq")),
                 _n(item.get("checks")), _n(item.get("chunks_final")), _n(item.get("chunks_total")),
                 _b(item.get("event_published")))
                for pk, item in table.items.items()
            )))

    def _job_items(self) -> dict[str, dict[str, Any]]:
        jobs = {}
        with self.fake.dynamodb.lock:
            table = self.fake.dynamodb.tables[self.env["TABLE_NAME"]]
            for item in table.items.values():
                if item.get("sk") == {"S": "JOB"}:
                    jobs[item["job_id"]["S"]] = {"event_published": _b(item.get("event_published"))}
        return jobs

    # ================================================================== results
    def _collect(self, stop: str) -> RunData:
        table = self.env["TABLE_NAME"]
        bucket = self.env["BUCKET_NAME"]
        items = [{k: _deserializer.deserialize(v) for k, v in item.items()} for item in self.fake.dynamodb.items(table)]
        objects = {key: self.fake.s3.get(bucket, key) or b"" for key in self.fake.s3.keys(bucket, "results/")}
        dead = {q.name: [m.body for m in q.messages.values()] for q in self.fake.sqs.queues.values()
                if q.name.endswith("-dlq") and q.messages}
        return RunData(
            scenario=self.scenario, start=START, end=self.clock.now, stop_reason=stop, clients=self.clients,
            items=items, objects=objects, ledger=self.simulator.ledger(), published=self.fake.sns.messages(),
            dead_letters=dead, faults_fired=list(self.faults.fired), fault_counts=dict(self.faults.counts),
            invocations=dict(self.invocations), calls=self.calls, trace_hash=self.trace.hexdigest(),
            wall_seconds=0.0, bucket=bucket, table=table, notes=self.notes,
        )


# ---------------------------------------------------------------------- helpers


def _label(message: dict[str, Any]) -> str:
    parts = [str(message.get("kind")), str(message.get("job_id"))]
    if message.get("chunk_id"):
        parts.append(str(message["chunk_id"]))
    return " ".join(parts)


def _ceil_minute(t: float) -> float:
    return float(-(-int(t) // int(TICK_S)) * int(TICK_S))


def _s(av: dict[str, Any] | None) -> str | None:
    return av.get("S") if av else None


def _n(av: dict[str, Any] | None) -> str | None:
    return av.get("N") if av else None


def _b(av: dict[str, Any] | None) -> bool:
    return bool(av and av.get("BOOL"))


def _bedrock_error(request: Any, status: int, code: str, message: str) -> Any:
    return aws_response(request.url, status, {"Content-Type": "application/json"},
                        json.dumps({"__type": code, "message": message}).encode())


def answers_digest(body: Any) -> str:
    from batchrelay_tools.simulator import answers

    return answers.body_digest(body)


def _signed_headers(event_id: str, timestamp: int, body: str) -> dict[str, str]:
    key = base64.b64decode(WEBHOOK_SECRET.removeprefix("whsec_"))
    signature = base64.b64encode(hmac.new(key, f"{event_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest())
    return {"webhook-id": event_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": f"v1,{signature.decode()}", "content-type": "application/json"}


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _patched_time(clock: VirtualClock, scheduler: Scheduler) -> Iterator[None]:
    real_time, real_sleep = time.time, time.sleep

    def sleep(seconds: float) -> None:
        # Invocations sleep in virtual time; their helper threads (SDK retries in the poller's
        # pool) do not wait at all.
        if not scheduler.sleep(seconds) and threading.current_thread() is threading.main_thread():
            real_sleep(seconds)

    time.time = clock                 # type: ignore[assignment]
    time.sleep = sleep                # type: ignore[assignment]
    try:
        yield
    finally:
        time.time, time.sleep = real_time, real_sleep


@contextmanager
def _seeded_global_random(seed: int) -> Iterator[None]:
    # The SDKs' and batchrelay's backoff jitter use the module-level generator.
    state = random.getstate()
    random.seed(f"global-{seed}")
    try:
        yield
    finally:
        random.setstate(state)


_SSL_CONTEXTS: dict[tuple[Any, ...], ssl.SSLContext] = {}


@contextmanager
def _shared_ssl_contexts() -> Iterator[None]:
    """Every SDK client builds an SSL context and loads the CA bundle into it (a tenth of a
    seed's time). Nothing in a run speaks TLS (loopback HTTP only), so the contexts are
    made once per process and shared. Only speed changes."""
    real = ssl.create_default_context

    def shared(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        key = (args, tuple(sorted(kwargs.items())))
        if key not in _SSL_CONTEXTS:
            _SSL_CONTEXTS[key] = real(*args, **kwargs)
        return _SSL_CONTEXTS[key]

    ssl.create_default_context = shared  # type: ignore[assignment]
    try:
        yield
    finally:
        ssl.create_default_context = real  # type: ignore[assignment]


@contextmanager
def _quiet_logging() -> Iterator[None]:
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
