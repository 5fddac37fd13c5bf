"""What must hold after every run, checked from the outside: the bucket's results, the
table's job items, the events published, and the provider simulator's own ledger.

Per job (every job a client created; a job the API refuses is ``refused_job``, a fault of
the scenario that no known defect excuses):
- stranded_job / no_event: it reached a final status, and its event reached SNS;
- missing_line / duplicate_line / foreign_line: results.jsonl has exactly one line per
  input custom_id of this job, and no other ids;
- cross_tenant_line / cross_job_line / wrong_answer: a succeeded line's answer was built
  from this very request (the simulator's answer text carries a digest of the request
  body, and every body in a run is unique);
- unproven_line: the line's batch (``batch_id``) is one the ledger shows holding this
  request with that outcome -- a result comes only from a batch proven to be its chunk's;
- unjustified_error / unjustified_expired / unjustified_cancelled / dropped_answer: a line
  that is not a success is backed by the ledger (the provider answered an error, expired
  the request, refused the whole batch as invalid, or lost the batch: 404) or by the
  client's own cancel, and never hides an answer the provider delivered; a request left
  unfinished by a batch the poller cancelled for its age (providers that never expire
  batches: Azure OpenAI, the configured server) is expired by the job's maximum batch age;
- counts: the job's counts, its result lines and its manifest agree with its request count.

Across the run, from the ledger alone (never from batchrelay's records):
- paid_twice: a request billed (succeeded) in two batches -- except where the earlier batch
  answered 404 and could not be found (counted apart, as ``paid_twice_excused``);
- second_batch: a request sent in a new batch while an earlier batch holding it was still
  running or had already answered it -- except where the earlier batch could not be found
  (it answered 404), the one case a second batch is the right call.

Bedrock's on-demand runs (requests below its per-job minimum, one InvokeModel each) are a
batch each in the ledger (the run's id is the result lines' batch_id). A run resumed after the
function died calls only what it has no stored answer for, so a request the run holds twice
had its first answer lost with the function (*lost*: every call of the request in the run but
the last). The call is made again: billed again within the run, or, when the call made again
is refused (5xx, no connection: an error line), in the retry that error line leads to (seed
1158). A lost answer is never a violation: it is counted apart (``paid_twice_on_demand``,
what README's table states as Bedrock's cost), and it is not an answer batchrelay could have
used (not ``dropped_answer``, not ``second_batch``). The run's answer is its last call's. The
harness draws no lost answers for InvokeModel (faults.py), so that count stays a measure of
deaths between a call and storing its answer.

Each violation carries a hint of which issue-9 defect it looks like (``diagnose``), for the
report and the seed table; the hint is a heuristic, the invariant is the verdict.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson

from batchrelay_tools.simulator import answers
from batchrelay_tools.simulator.ledger import BATCH_FAILED, CANCELLED, ERRORED, EXPIRED, SUCCEEDED, LedgerBatch
from tests.simulation.scenario import JobPlan
from tests.simulation.world import RunData

FINAL = {"completed", "completed_with_errors", "failed", "cancelled", "expired"}
_ANSWER_DIGEST = re.compile(r"Simulated answer ([0-9a-f]{12})\.")
_AUTH_WORDS = ("invalid_api_key", "authentication_error", "permission_error", "401", "403")


@dataclass
class Violation:
    invariant: str
    detail: str
    job: str | None = None
    defect: int | None = None

    def __str__(self) -> str:
        hint = f" [defect {self.defect}?]" if self.defect else ""
        where = f" {self.job}:" if self.job else ""
        return f"{self.invariant}{hint}{where} {self.detail}"


@dataclass
class Report:
    seed: int
    name: str
    violations: list[Violation]
    stop_reason: str
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def defects(self) -> list[int]:
        return sorted({v.defect for v in self.violations if v.defect})

    def summary(self) -> str:
        s = self.stats
        head = (f"seed {self.seed}{' ' + self.name if self.name else ''}: {'ok' if self.ok else 'FAILED'} "
                f"({self.stop_reason}, {s.get('virtual_hours', 0):.1f} h virtual, {s.get('wall_seconds', 0):.2f} s, "
                f"{s.get('calls', 0)} calls)")
        if self.ok:
            return head
        counts = Counter(v.invariant for v in self.violations)
        first = {}
        for v in self.violations:
            first.setdefault(v.invariant, v)
        lines = [head] + [f"  {n} x {first[name]}" for name, n in counts.most_common()]
        return "\n".join(lines)


@dataclass
class Body:
    tenant: str
    label: str
    custom_id: str
    digest: str


class Facts:
    """The run's data, indexed."""

    def __init__(self, data: RunData):
        self.data = data
        self.jobs = {i["job_id"]: i for i in data.items if i.get("sk") == "JOB"}
        self.chunks: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in data.items:
            if str(item.get("sk", "")).startswith("CHUNK#"):
                self.chunks[item["job_id"]].append(item)
        self.claims = {item["pk"]: item for item in data.items if str(item.get("pk", "")).startswith("BATCH#")}
        self.ledger = {b.batch_id: b for b in data.ledger}
        self.bodies: dict[str, Body] = {}
        self.by_label: dict[str, dict[str, Body]] = {}
        for client in data.clients.values():
            plan = client.plan
            mine = {}
            for cid in plan.custom_ids():
                digest = answers.body_digest(plan.body(cid))
                body = Body(plan.tenant, plan.label, cid, digest)
                self.bodies[digest] = body
                mine[cid] = body
            self.by_label[plan.label] = mine
        self.by_prefix = {digest[:12]: body for digest, body in self.bodies.items()}
        self.sends: dict[str, list[tuple[LedgerBatch, Any]]] = defaultdict(list)
        # A batch's answer to a request: its last call of it (on-demand runs call again a request
        # whose answer was lost; every earlier call of it in the run is *lost*).
        self.answer: dict[tuple[str, str], Any] = {}
        self.lost: set[int] = set()
        for batch in data.ledger:
            for request in batch.requests:
                earlier = self.answer.get((batch.batch_id, request.body_digest))
                if earlier is not None and batch.metadata.get("on_demand"):
                    self.lost.add(id(earlier))
                self.answer[(batch.batch_id, request.body_digest)] = request
                self.sends[request.body_digest].append((batch, request))
        self.label_of_job = {c.job_id: label for label, c in data.clients.items() if c.job_id}
        # Batches the poller cancelled for passing their job's maximum batch age.
        self.aged_out = {str(chunk.get("batch_id")) for chunks in self.chunks.values() for chunk in chunks
                         if chunk.get("aged_out_at") is not None}


def check(data: RunData) -> Report:
    facts = Facts(data)
    violations: list[Violation] = []
    for label, client in data.clients.items():
        if client.refused is not None:
            # Not the lifecycle's fault: the scenario asked for a job this API refuses.
            violations.append(Violation("refused_job", f"{label}: the API refused the job: {client.refused}", label))
            continue
        violations += _check_job(facts, client.plan, client.job_id, client.cancel_attempts > 0)
    money = _check_money(facts)
    violations += money["violations"]
    stats = {
        "virtual_hours": (data.end - data.start) / 3600,
        "wall_seconds": data.wall_seconds,
        "calls": data.calls,
        "paid_twice": money["paid_twice"],
        "paid_twice_excused": money["paid_twice_excused"],
        "paid_twice_on_demand": money["paid_twice_on_demand"],
        "second_batches": money["second_batches"],
        "cross_tenant_lines": sum(1 for v in violations if v.invariant == "cross_tenant_line"),
        "stranded_jobs": sum(1 for v in violations if v.invariant == "stranded_job"),
        "batches": len(data.ledger),
        "invocations": data.invocations,
        "faults": data.fault_counts,
        "dead_letters": {k: len(v) for k, v in data.dead_letters.items()},
        "trace_hash": data.trace_hash,
    }
    return Report(data.scenario.seed, data.scenario.name, violations, data.stop_reason, stats)


# ---------------------------------------------------------------------- per job


def _check_job(facts: Facts, plan: JobPlan, job_id: str | None, cancel_asked: bool) -> list[Violation]:
    if job_id is None or job_id not in facts.jobs:
        return [Violation("stranded_job", f"{plan.label}: the client never got the job created", plan.label)]
    job = facts.jobs[job_id]
    where = f"{plan.label}/{job_id}"
    if job.get("status") not in FINAL:
        return [Violation("stranded_job", _stranded_detail(facts, job), where, diagnose_stranded(facts, plan, job))]
    violations: list[Violation] = []
    raw = facts.data.objects.get(job.get("results_key") or "")
    if raw is None:
        return [Violation("counts", "final, but its results.jsonl is missing", where)]
    lines = [orjson.loads(line) for line in raw.split(b"\n") if line.strip()]
    mine = facts.by_label[plan.label]
    seen = Counter(line.get("custom_id") for line in lines)
    for cid in mine:
        if seen[cid] == 0:
            violations.append(Violation("missing_line", f"no result line for {cid!r}", where))
        elif seen[cid] > 1:
            violations.append(Violation("duplicate_line", f"{seen[cid]} result lines for {cid!r}", where))
    for cid in seen:
        if cid not in mine:
            violations.append(Violation("foreign_line", f"a line for {cid!r}, which the job never had", where))
    statuses: Counter[str] = Counter()
    for line in lines:
        body = mine.get(line.get("custom_id"))
        if body is None:
            continue
        statuses[line.get("status")] += 1
        violations += _check_line(facts, plan, where, body, line, cancel_asked)
    violations += _check_counts(facts, job, where, statuses, len(lines))
    return violations


def _answer_text(provider: str, response: dict[str, Any] | None) -> str:
    if not isinstance(response, dict):
        return ""
    try:
        if provider in ("anthropic", "bedrock"):   # Claude on Bedrock answers in the Messages shape
            return str(response["content"][0]["text"])
        if provider == "gemini":
            return str(response["candidates"][0]["content"]["parts"][0]["text"])
        return str(response["choices"][0]["message"]["content"])
    except (KeyError, IndexError, TypeError):
        return ""


def _check_line(facts: Facts, plan: JobPlan, where: str, body: Body, line: dict[str, Any],
                cancel_asked: bool) -> list[Violation]:
    status = line.get("status")
    batch = facts.ledger.get(line.get("batch_id") or "")
    sent = facts.answer.get((batch.batch_id, body.digest)) if batch else None
    out: list[Violation] = []
    if line.get("batch_id") and sent is None and status != "succeeded":
        # Read from a batch that never held this request: another chunk's batch.
        return [Violation("unproven_line", f"{body.custom_id!r} is {status} from batch {line.get('batch_id')}, "
                          "which never held this request", where, 1 if plan.provider == "anthropic" else None)]
    if status == "succeeded":
        text = _answer_text(plan.provider, line.get("response"))
        if text != answers.answer_text(body.digest):
            match = _ANSWER_DIGEST.search(text)
            source = facts.by_prefix.get(match.group(1)) if match else None
            if source is not None and source.tenant != body.tenant:
                out.append(Violation("cross_tenant_line", f"{body.custom_id!r} shows {source.tenant}/{source.label}/"
                                     f"{source.custom_id}'s answer (batch {line.get('batch_id')})", where, 1))
            elif source is not None:
                out.append(Violation("cross_job_line", f"{body.custom_id!r} shows {source.label}/{source.custom_id}'s "
                                     f"answer (batch {line.get('batch_id')})", where, 1))
            else:
                out.append(Violation("wrong_answer", f"{body.custom_id!r}: an answer no request of the run asked for",
                                     where))
        if sent is None or sent.outcome != SUCCEEDED:
            defect = 1 if plan.provider == "anthropic" else None
            out.append(Violation("unproven_line", f"{body.custom_id!r} succeeded from batch {line.get('batch_id')}, "
                                 "which never answered this request", where, defect))
        return out
    if batch is not None and batch.vanished and status == "errored":
        # The provider lost the batch (404): whatever it answered can no longer be read, and
        # with no attempt left the line says so (batch_not_found).
        return out
    if sent is not None and sent.outcome == SUCCEEDED:
        out.append(Violation("dropped_answer", f"{body.custom_id!r} is {status}, but batch "
                             f"{line.get('batch_id')} answered it", where))
        return out
    if status == "errored":
        if sent is None or sent.outcome not in (ERRORED, BATCH_FAILED):
            error = orjson.dumps(line.get("error")).decode()
            defect = 7 if any(word in error for word in _AUTH_WORDS) else None
            out.append(Violation("unjustified_error", f"{body.custom_id!r} errored without the provider refusing it "
                                 f"(batch {line.get('batch_id')}; error {error[:160]})", where, defect))
    elif status == "expired":
        aged_out = sent is not None and sent.outcome == CANCELLED and line.get("batch_id") in facts.aged_out
        if (sent is None or sent.outcome != EXPIRED) and not aged_out:
            out.append(Violation("unjustified_expired", f"{body.custom_id!r} expired, but batch "
                                 f"{line.get('batch_id')} did not expire it", where))
    elif status == "cancelled":
        if not cancel_asked and (sent is None or sent.outcome != CANCELLED):
            out.append(Violation("unjustified_cancelled", f"{body.custom_id!r} cancelled, but nobody cancelled the job",
                                 where))
    else:
        out.append(Violation("wrong_answer", f"{body.custom_id!r} has status {status!r}", where))
    return out


def _check_counts(facts: Facts, job: dict[str, Any], where: str, statuses: Counter[str], lines: int) -> list[Violation]:
    out = []
    counts = {k: int(v) for k, v in (job.get("counts") or {}).items()}
    request_count = int(job.get("request_count", 0))
    if sum(counts.values()) != request_count or lines != request_count:
        out.append(Violation("counts", f"{lines} lines and {sum(counts.values())} counted outcomes for "
                             f"{request_count} requests", where))
    if {k: v for k, v in counts.items() if v} != {k: v for k, v in statuses.items() if v}:
        out.append(Violation("counts", f"job counts {counts} but lines {dict(statuses)}", where))
    manifest_raw = facts.data.objects.get(job.get("manifest_key") or "")
    if manifest_raw is None:
        out.append(Violation("counts", "no manifest.json", where))
    else:
        manifest = orjson.loads(manifest_raw)
        if {k: int(v) for k, v in manifest.get("counts", {}).items()} != counts \
                or manifest.get("results", {}).get("lines") != request_count:
            out.append(Violation("counts", f"manifest counts {manifest.get('counts')} / lines "
                                 f"{manifest.get('results', {}).get('lines')} disagree with the job", where))
    event_id = f"evt_{job['job_id']}_{job['status']}"
    if not any(event_id in published.message for published in facts.data.published):
        # Final, but the event never reached SNS and nothing will publish it now.
        out.append(Violation("no_event", f"{job['status']}, but its {event_id} event was never published", where, 4))
    return out


def _stranded_detail(facts: Facts, job: dict[str, Any]) -> str:
    chunks = Counter(str(c.get("status")) for c in facts.chunks.get(job["job_id"], []))
    return (f"still {job.get('status')} (event published: {bool(job.get('event_published'))}); "
            f"chunks {dict(chunks)} final {job.get('chunks_final', 0)}/{job.get('chunks_total', 0)}, "
            f"submission_done={bool(job.get('submission_done'))}")


# ---------------------------------------------------------------------- money


def _check_money(facts: Facts) -> dict[str, Any]:
    violations: list[Violation] = []
    paid_twice = 0
    excused = 0
    on_demand_again = 0
    second: dict[str, set[str]] = defaultdict(set, {"openai": set(), "anthropic": set(), "gemini": set()})
    flagged_batches: set[str] = set()
    for digest, all_sends in facts.sends.items():
        body = facts.bodies.get(digest)
        # An on-demand answer lost with the function (see above): its cost counted apart.
        on_demand_again += sum(1 for _, request in all_sends if id(request) in facts.lost and request.billed)
        sends = [(batch, request) for batch, request in all_sends if id(request) not in facts.lost]
        billed = sorted((batch for batch, request in sends if request.billed), key=lambda b: b.created_at)
        if len(billed) > 1 and any(batch.vanished for batch in billed[:-1]):
            excused += len(billed) - 1     # the first batch answered 404: it could not be found
        elif len(billed) > 1:
            paid_twice += len(billed) - 1
            job = _job_of(facts, body)
            violations.append(Violation(
                "paid_twice", f"{_who(body)} billed in {len(billed)} batches: {', '.join(b.batch_id for b in billed)}",
                job, diagnose_second(facts, billed[0], billed[1], body)))
        ordered = sorted(sends, key=lambda s: s[0].created_at)
        for i, (later, _) in enumerate(ordered):
            for earlier, request in ordered[:i]:
                if earlier is later:
                    continue   # the same batch (never two sends of a request once lost ones are out)
                live = earlier.ends_at > later.created_at and earlier.end_reason != "failed"
                answered = request.outcome == SUCCEEDED
                if (live or answered) and not earlier.vanished and later.batch_id not in flagged_batches:
                    flagged_batches.add(later.batch_id)
                    second[later.provider].add(later.batch_id)
                    violations.append(Violation(
                        "second_batch",
                        f"{later.provider} batch {later.batch_id} re-sent {_who(body)} while batch {earlier.batch_id} "
                        f"{'was still running' if live else 'had answered it'} ({_chunk_of(facts, earlier)})",
                        _job_of(facts, body), diagnose_second(facts, earlier, later, body)))
                    break
    return {"violations": violations, "paid_twice": paid_twice, "paid_twice_excused": excused,
            "paid_twice_on_demand": on_demand_again,
            "second_batches": {provider: len(ids) for provider, ids in second.items()}}


def _who(body: Body | None) -> str:
    return f"{body.tenant}/{body.label}/{body.custom_id}" if body else "a request of no job"


def _job_of(facts: Facts, body: Body | None) -> str | None:
    if body is None:
        return None
    client = facts.data.clients.get(body.label)
    return f"{body.label}/{client.job_id}" if client and client.job_id else body.label


def _chunk_of(facts: Facts, batch: LedgerBatch) -> str:
    """Which chunk a batch was created for: its metadata (OpenAI), else what its requests are
    (Anthropic batches carry nothing else), and which chunk claims it now."""
    if batch.metadata.get("batchrelay_chunk"):
        made_for = f"created for chunk {batch.metadata['batchrelay_chunk']}"
    else:
        bodies = [facts.bodies.get(r.body_digest) for r in batch.requests]
        labels = sorted({b.label for b in bodies if b})
        ids = [b.custom_id for b in bodies if b]
        made_for = f"created for {'/'.join(labels) or '?'} {ids[0]!r}..{ids[-1]!r}" if ids else "created for ?"
    claim = facts.claims.get(f"BATCH#{batch.provider}#{batch.batch_id}")
    return f"{made_for}, claimed by chunk {claim['chunk_id']}" if claim else f"{made_for}, claimed by no chunk"


# ---------------------------------------------------------------------- which defect does it look like


def diagnose_second(facts: Facts, earlier: LedgerBatch, later: LedgerBatch, body: Body | None) -> int | None:
    """The issue-9 defect a second batch for the same requests looks like."""
    claim = facts.claims.get(f"BATCH#{earlier.provider}#{earlier.batch_id}")
    job_id = (facts.data.clients[body.label].job_id if body and body.label in facts.data.clients else None)
    chunk = _chunk_holding(facts, job_id, later.batch_id) or _chunk_holding(facts, job_id, earlier.batch_id)
    if claim is not None and chunk is not None and (claim["job_id"], claim["chunk_id"]) != (chunk["job_id"],
                                                                                            chunk["chunk_id"]):
        return 1     # the first batch was adopted by another chunk
    if earlier.provider == "anthropic" and claim is None:
        window = [b for b in facts.data.ledger if b.provider == "anthropic" and b.batch_id != earlier.batch_id
                  and len(b.requests) == len(earlier.requests) and abs(b.created_at - earlier.created_at) <= 370
                  and b.created_at <= earlier.created_at]
        claimed = [b for b in window if f"BATCH#anthropic#{b.batch_id}" in facts.claims]
        if len(claimed) >= 5:
            return 2     # the search gave up among claimed same-size siblings
    if chunk is not None and int(chunk.get("create_seq") or 0) >= 3 and claim is None:
        return 3         # more than one takeover: the first window was forgotten
    if earlier.provider == "anthropic" and claim is None:
        return 1 if _same_size_neighbours(facts, earlier) else None
    return None


def _same_size_neighbours(facts: Facts, batch: LedgerBatch) -> bool:
    return any(b.provider == batch.provider and b.batch_id != batch.batch_id and len(b.requests) == len(batch.requests)
               and abs(b.created_at - batch.created_at) <= 370 for b in facts.data.ledger)


def _chunk_holding(facts: Facts, job_id: str | None, batch_id: str) -> dict[str, Any] | None:
    for chunk in facts.chunks.get(job_id or "", []):
        if batch_id in (chunk.get("batch_ids") or []) or chunk.get("batch_id") == batch_id:
            return chunk
    return None


def diagnose_stranded(facts: Facts, plan: JobPlan, job: dict[str, Any]) -> int | None:
    status = job.get("status")
    chunks = facts.chunks.get(job["job_id"], [])
    if any(facts.ledger.get(str(c.get("batch_id"))) and facts.ledger[str(c.get("batch_id"))].vanished
           and c.get("status") == "submitted" for c in chunks):
        return 8
    if status == "submitting":
        # Planning killed by the submitter's timeout, again and again: it restarts from chunk
        # one each time (5); otherwise the `job` message was lost or dead-lettered (4).
        timed_out = f"job {job['job_id']} -> killed: timeout"
        return 5 if any(timed_out in line for line in facts.data.faults_fired) else 4
    if status in ("cancelling", "queued"):
        return 4
    if status == "finalizing":
        return 6 if _parts_overlap(facts, job) else 4
    if status == "in_progress":
        if _parts_overlap(facts, job):
            return 6
        if not chunks or all(c.get("status") == "collected" for c in chunks):
            return 4
    return None


def _parts_overlap(facts: Facts, job: dict[str, Any]) -> bool:
    """Two parts of the job (or a part and a retry chunk's input) hold the same custom_id."""
    seen: Counter[str] = Counter()
    prefix = f"results/{job['job_id']}/parts/"
    for key, raw in facts.data.objects.items():
        if key.startswith(prefix) and key.endswith(".jsonl"):
            for line in raw.split(b"\n"):
                if line.strip():
                    seen[orjson.loads(line).get("custom_id")] += 1
    return any(n > 1 for n in seen.values())
