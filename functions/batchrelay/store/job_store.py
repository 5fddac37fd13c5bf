"""Jobs in DynamoDB: create (with its idempotency key), get, list by tenant, transitions;
the upkeep of final jobs (their items' TTL, the deletion of their data) and its safety net."""

from __future__ import annotations

import time
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from batchrelay import constants as c
from batchrelay.aws import clients
from batchrelay.clock import now_iso
from batchrelay.errors import Conflict, NotFound, TransitionRefused, ValidationFailed
from batchrelay.models.job import (
    FINAL_JOB_STATUSES,
    JOB_TRANSITIONS,
    TIMED_JOB_STATUSES,
    DeletionCounts,
    InputValidation,
    Job,
    JobDeletion,
    JobStatus,
    PlanningProgress,
    RequestCounts,
    Usage,
)
from batchrelay.store import keys
from batchrelay.store.table import (
    Guard,
    conditional_update,
    decode_cursor,
    encode_cursor,
    from_dynamo,
    get,
    is_condition_failure,
    serialize_item,
    serialize_value,
    status_in,
    table,
    table_name,
    to_dynamo,
    update_if,
)

_JOB_ATTRS_NOT_MODEL = {
    "pk",
    "sk",
    c.TENANT_JOBS_PK,
    c.TENANT_JOBS_SK,
    c.DUE_CHUNKS_PK,
    c.DUE_CHUNKS_SK,
}


# Statuses in which a job waits for a `jobs` message, and how long before the poller sends
# it again (the stalled-jobs safety net: query_stalled_jobs).
_RESEND_SECONDS = {
    JobStatus.QUEUED: c.QUEUED_JOB_RESEND_SECONDS,
    JobStatus.VALIDATING: c.VALIDATING_JOB_RESEND_SECONDS,
    JobStatus.SUBMITTING: c.WATCHED_JOB_RESEND_SECONDS,
    JobStatus.IN_PROGRESS: c.IN_PROGRESS_JOB_RESEND_SECONDS,
    JobStatus.CANCELLING: c.WATCHED_JOB_RESEND_SECONDS,
    JobStatus.FINALIZING: c.WATCHED_JOB_RESEND_SECONDS,
}
# A final job stays watched until its event is published.
_UNPUBLISHED_RESEND_SECONDS = c.WATCHED_JOB_RESEND_SECONDS


def _resend_seconds(status: JobStatus) -> int:
    return _RESEND_SECONDS.get(status, _UNPUBLISHED_RESEND_SECONDS)


class IdempotencyKeyUsed(Conflict):
    """The Idempotency-Key was used before; ``job_id`` names the job it created."""

    code = "idempotency_key_used"

    def __init__(self, message: str, *, job_id: str, request_hash: str | None):
        super().__init__(message, field="Idempotency-Key")
        self.job_id = job_id
        self.request_hash = request_hash


def job_item(job: Job) -> dict[str, Any]:
    item = job.model_dump(mode="json")
    item.update(keys.job_key(job.job_id))
    item[c.TENANT_JOBS_PK] = keys.tenant_pk(job.tenant_id)
    item[c.TENANT_JOBS_SK] = f"{job.created_at}#{job.job_id}"
    if not job.is_final or not job.event_published:
        # Safety net for a lost message: see query_stalled_jobs.
        item[c.DUE_CHUNKS_PK] = c.QUEUED_JOBS_DUE_PK
        item[c.DUE_CHUNKS_SK] = int(time.time()) + _resend_seconds(job.status)
    return item


def job_from_item(item: dict[str, Any]) -> Job:
    data = {k: v for k, v in from_dynamo(item).items() if k not in _JOB_ATTRS_NOT_MODEL}
    return Job.model_validate(data)


def create_job(job: Job, *, idempotency_key: str | None = None, request_hash: str | None = None) -> Job:
    """Store a new job; with an idempotency key, atomically claim the key for it.

    Raises IdempotencyKeyUsed when the key already names a job.
    """
    items = [
        {
            "Put": {
                "TableName": table_name(),
                "Item": serialize_item(job_item(job)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
    ]
    if idempotency_key:
        items.append(
            {
                "Put": {
                    "TableName": table_name(),
                    "Item": serialize_item(
                        {
                            **keys.idempotency_key(job.tenant_id, idempotency_key),
                            "job_id": job.job_id,
                            "request_hash": request_hash,
                            "created_at": job.created_at,
                        }
                    ),
                    # A key whose job has expired (TTL past, item not yet removed) is free again.
                    "ConditionExpression": "attribute_not_exists(pk) OR #ttl < :now",
                    "ExpressionAttributeNames": {"#ttl": c.TTL_ATTRIBUTE},
                    "ExpressionAttributeValues": {":now": serialize_value(int(time.time()))},
                }
            }
        )
    try:
        clients.dynamodb().transact_write_items(TransactItems=items)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException" or not idempotency_key:
            raise
        existing = get_idempotency_record(job.tenant_id, idempotency_key)
        if existing is None:
            raise
        raise IdempotencyKeyUsed(
            "Idempotency-Key was already used", job_id=existing["job_id"], request_hash=existing.get("request_hash")
        ) from exc
    return job


def get_idempotency_record(tenant_id: str, key: str) -> dict[str, Any] | None:
    """The job an Idempotency-Key names; None if unused, or expired with its job."""
    item = get(keys.idempotency_key(tenant_id, key))
    return None if item is None or _expired(item) else item


def get_job(job_id: str, *, tenant_id: str | None = None) -> Job:
    """The job; NotFound if it does not exist or belongs to another tenant.

    A tenant never sees a job past its TTL: DynamoDB deletes expired items a while (up to
    days) after their time, and the job's objects have expired by then too.
    """
    item = get(keys.job_key(job_id))
    if not item or (tenant_id is not None and (item.get("tenant_id") != tenant_id or _expired(item))):
        raise NotFound(f"job {job_id} not found", field="job_id")
    return job_from_item(item)


def find_job(job_id: str) -> Job | None:
    """The job, or None if there is none (deleted, expired and removed, never made)."""
    item = get(keys.job_key(job_id))
    return job_from_item(item) if item else None


def _expired(item: dict[str, Any]) -> bool:
    expires_at = item.get(c.TTL_ATTRIBUTE)
    return expires_at is not None and expires_at <= time.time()


def list_jobs(
    tenant_id: str, *, status: str | None = None, limit: int = 20, cursor: str | None = None
) -> tuple[list[Job], str | None]:
    """A tenant's jobs, newest first, one page; returns (jobs, next_cursor)."""
    jobs: list[Job] = []
    start_key = decode_cursor(cursor)
    if start_key is not None and (
        set(start_key) != {"pk", "sk", c.TENANT_JOBS_PK, c.TENANT_JOBS_SK}
        or start_key[c.TENANT_JOBS_PK] != keys.tenant_pk(tenant_id)
        or not all(isinstance(v, str) for v in start_key.values())
    ):
        raise ValidationFailed("cursor is not one this API returned for this key", field="cursor")
    while True:
        query: dict[str, Any] = {
            "IndexName": c.TENANT_JOBS_INDEX,
            "KeyConditionExpression": f"{c.TENANT_JOBS_PK} = :t",
            "ExpressionAttributeValues": {":t": keys.tenant_pk(tenant_id)},
            "ScanIndexForward": False,
            "Limit": limit - len(jobs),
        }
        # Jobs past their TTL are gone for the tenant (see get_job).
        query["FilterExpression"] = "(attribute_not_exists(#ttl) OR #ttl > :now)"
        query["ExpressionAttributeNames"] = {"#ttl": c.TTL_ATTRIBUTE}
        query["ExpressionAttributeValues"][":now"] = int(time.time())
        if status:
            query["FilterExpression"] += " AND #s = :s"
            query["ExpressionAttributeNames"]["#s"] = "status"
            query["ExpressionAttributeValues"][":s"] = status
        if start_key:
            query["ExclusiveStartKey"] = start_key
        page = table().query(**query)
        jobs.extend(job_from_item(i) for i in page.get("Items", []))
        start_key = page.get("LastEvaluatedKey")
        if not start_key or len(jobs) >= limit:
            break
    return jobs, encode_cursor(start_key)


def list_surface_jobs(
    tenant_id: str, surface: str, *, limit: int, after: Job | None = None, before: Job | None = None
) -> tuple[list[Job], bool]:
    """A tenant's jobs created through a drop-in ``surface`` (and not being deleted), newest
    first: the page of ``limit`` older than ``after`` (or the newest), or newer than ``before``.
    Returns (jobs, whether more lie beyond the page in that direction)."""
    cursor = before or after
    start_key = None
    if cursor is not None:
        start_key = {
            **keys.job_key(cursor.job_id),
            c.TENANT_JOBS_PK: keys.tenant_pk(tenant_id),
            c.TENANT_JOBS_SK: f"{cursor.created_at}#{cursor.job_id}",
        }
    jobs: list[Job] = []
    while True:
        query: dict[str, Any] = {
            "IndexName": c.TENANT_JOBS_INDEX,
            "KeyConditionExpression": f"{c.TENANT_JOBS_PK} = :t",
            "FilterExpression": "#surface = :surface AND #status <> :deleting",
            "ExpressionAttributeNames": {"#surface": "surface", "#status": "status"},
            "ExpressionAttributeValues": {
                ":t": keys.tenant_pk(tenant_id), ":surface": surface, ":deleting": str(JobStatus.DELETING),
            },
            "ScanIndexForward": before is not None,
            # One more than the page: whether it exists says has_more.
            "Limit": max(limit + 1 - len(jobs), 10),
        }
        if start_key:
            query["ExclusiveStartKey"] = start_key
        page = table().query(**query)
        jobs.extend(job_from_item(i) for i in page.get("Items", []))
        start_key = page.get("LastEvaluatedKey")
        if not start_key or len(jobs) > limit:
            break
    has_more = len(jobs) > limit
    jobs = jobs[:limit]
    return (list(reversed(jobs)) if before is not None else jobs), has_more


def _path(field: str, prefix: str, names: dict[str, str]) -> str:
    """A dotted field as an expression path of placeholders (names get the real parts)."""
    path = []
    for j, part in enumerate(field.split(".")):
        names[f"#{prefix}_{j}"] = part
        path.append(f"#{prefix}_{j}")
    return ".".join(path)


def job_set_clause(
    *, set_fields: dict[str, Any] | None = None, add_fields: dict[str, int] | None = None
) -> tuple[list[str], dict[str, str], dict[str, Any]]:
    """The SET parts, names and values of a job update: the fields to set, the counters to
    add to, and the bookkeeping (updated_at, version) every job update carries.

    ADD works only on top-level attributes; nested counters use SET x = if_not_exists(x, 0) + d,
    which is just as atomic (one item, one update).
    """
    names: dict[str, str] = {"#updated_at": "updated_at", "#version": "version"}
    values: dict[str, Any] = {":now": now_iso(), ":one": 1, ":zero": 0}
    set_parts = ["#updated_at = :now", "#version = if_not_exists(#version, :zero) + :one"]
    for i, (field, value) in enumerate((set_fields or {}).items()):
        values[f":s{i}"] = to_dynamo(value)
        set_parts.append(f"{_path(field, f's{i}', names)} = :s{i}")
    for i, (field, delta) in enumerate((add_fields or {}).items()):
        values[f":a{i}"] = delta
        target = _path(field, f"a{i}", names)
        set_parts.append(f"{target} = if_not_exists({target}, :zero) + :a{i}")
    return set_parts, names, values


def _update(
    job_id: str,
    *,
    expected: tuple[JobStatus, ...] | None,
    set_fields: dict[str, Any] | None = None,
    add_fields: dict[str, int] | None = None,
    remove_fields: tuple[str, ...] = (),
    require_exists: bool = True,
    guard: Guard | None = None,
) -> Job:
    set_parts, names, values = job_set_clause(set_fields=set_fields, add_fields=add_fields)
    condition = "attribute_exists(pk)" if require_exists else ""
    if expected is not None:
        condition = status_in(tuple(expected), names, values)
    if guard is not None:
        condition = guard.add_to(condition, names, values)
    item = conditional_update(
        keys.job_key(job_id),
        expression=f"SET {', '.join(set_parts)}" + _remove_clause(remove_fields, names),
        condition=condition,
        names=names,
        values=values,
        what=f"job {job_id}",
        expected=tuple(str(s) for s in expected or ()),
        field="job_id",
    )
    return job_from_item(item)


def _remove_clause(fields: tuple[str, ...], names: dict[str, str]) -> str:
    for i, field in enumerate(fields):
        names[f"#r{i}"] = field
    return f" REMOVE {', '.join(f'#r{i}' for i in range(len(fields)))}" if fields else ""


def transition_job(
    job_id: str,
    from_statuses: JobStatus | tuple[JobStatus, ...],
    to_status: JobStatus,
    *,
    guard: Guard | None = None,
    **fields: Any,
) -> Job:
    """Move a job from one of ``from_statuses`` to ``to_status`` (and set ``fields``) atomically."""
    expected = (from_statuses,) if isinstance(from_statuses, JobStatus) else tuple(from_statuses)
    for status in expected:
        if to_status not in JOB_TRANSITIONS.get(status, frozenset()):
            raise ValueError(f"job transition {status} -> {to_status} is not part of the state machine")
    if to_status in TIMED_JOB_STATUSES:
        fields.setdefault(f"{to_status}_at", now_iso())
    # Every status a job can wait in has its safety net (query_stalled_jobs): the move sets
    # the next resend time for the new status (a final job's until its event is published),
    # unless the caller puts the job in another safety net (item expiry, deletion).
    watch = {} if c.DUE_CHUNKS_PK in fields else {
        c.DUE_CHUNKS_PK: c.QUEUED_JOBS_DUE_PK, c.DUE_CHUNKS_SK: int(time.time()) + _resend_seconds(to_status)
    }
    return _update(
        job_id, expected=expected, set_fields={"status": str(to_status), **fields, **watch}, guard=guard,
    )


def update_job_fields(job_id: str, *, expected: tuple[JobStatus, ...] | None = None, **fields: Any) -> Job:
    """Set fields without changing the status (optionally only while the job is in ``expected``);
    a field set to None is removed."""
    removed = tuple(name for name, value in fields.items() if value is None)
    kept = {name: value for name, value in fields.items() if value is not None}
    return _update(job_id, expected=expected, set_fields=kept, remove_fields=removed)


def mark_event_published(job_id: str) -> Job:
    """The job's event went out: it leaves the stalled-jobs safety net (not the item-expiry
    one, whose steps follow the event)."""
    item = update_if(
        keys.job_key(job_id),
        expression="SET #published = :true REMOVE #due_pk, #due",
        condition="#due_pk = :stalled",
        names={"#published": "event_published", "#due_pk": c.DUE_CHUNKS_PK, "#due": c.DUE_CHUNKS_SK},
        values={":true": True, ":stalled": c.QUEUED_JOBS_DUE_PK},
    )
    if item is not None:
        return job_from_item(item)
    return _update(job_id, expected=None, set_fields={"event_published": True})


def add_to_job(
    job_id: str,
    *,
    counts: RequestCounts | None = None,
    usage: Usage | None = None,
    chunks_total: int = 0,
    chunks_final: int = 0,
) -> Job:
    """Atomically add to the job's counters; returns the job as it is after the change."""
    deltas: dict[str, int] = {}
    for name, value in (counts.model_dump() if counts else {}).items():
        if value:
            deltas[f"counts.{name}"] = value
    for name, value in (usage.model_dump() if usage else {}).items():
        if value:
            deltas[f"usage.{name}"] = value
    if chunks_total:
        deltas["chunks_total"] = chunks_total
    if chunks_final:
        deltas["chunks_final"] = chunks_final
    return _update(job_id, expected=None, add_fields=deltas)


def query_stalled_jobs(now: int, *, limit: int = 100) -> list[tuple[str, int, JobStatus]]:
    """(job_id, due_at, status) of jobs whose resend time has come (oldest first): the message
    that should move them on may have been lost."""
    page = table().query(
        IndexName=c.DUE_CHUNKS_INDEX,
        KeyConditionExpression=Key(c.DUE_CHUNKS_PK).eq(c.QUEUED_JOBS_DUE_PK) & Key(c.DUE_CHUNKS_SK).lte(now),
        Limit=limit,
    )
    found = []
    for raw in page.get("Items", []):
        item = from_dynamo(raw)
        found.append((item["job_id"], int(item[c.DUE_CHUNKS_SK]), JobStatus(item["status"])))
    return found


def postpone_stalled_resend(job_id: str, status: JobStatus, *, seen_due_at: int, now: int) -> bool:
    """Move a stalled job's resend time on; True only for the one poller that did (it resends)."""
    return update_if(
        keys.job_key(job_id),
        expression="SET #due = :next",
        condition="#status = :status AND #due = :seen",
        names={"#due": c.DUE_CHUNKS_SK, "#status": "status"},
        values={
            ":next": now + _resend_seconds(status),
            ":seen": seen_due_at,
            ":status": str(status),
        },
    ) is not None


# --- background validation of an uploaded input (lifecycle.input_validation) ---


def validation_step_is(step: int) -> Guard:
    """The job's validation is still at ``step`` (the step its writer read)."""
    return Guard("#v.#vstep = :vstep", {"#v": "validation", "#vstep": "step"}, {":vstep": step})


def record_validation_step(job_id: str, validation: InputValidation, *, seen_step: int) -> Job | None:
    """Store the progress of one validation step (``validation.step`` is ``seen_step + 1``)
    while the job is validating and no other delivery stored this step; None if refused.
    Pushes the stalled-jobs resend time out: the job is moving."""
    assert validation.step == seen_step + 1
    try:
        return _update(
            job_id,
            expected=(JobStatus.VALIDATING,),
            set_fields={
                "validation": validation.model_dump(mode="json"),
                c.DUE_CHUNKS_SK: int(time.time()) + c.VALIDATING_JOB_RESEND_SECONDS,
            },
            guard=validation_step_is(seen_step),
        )
    except TransitionRefused:
        return None


def planning_step_is(step: int) -> Guard:
    """The job's planning is still at ``step`` (never begun counts as step 0)."""
    if step == 0:
        return Guard("attribute_not_exists(#p) OR #p.#pstep = :pstep", {"#p": "planning", "#pstep": "step"},
                     {":pstep": 0})
    return Guard("#p.#pstep = :pstep", {"#p": "planning", "#pstep": "step"}, {":pstep": step})


def record_planning_step(job_id: str, progress: PlanningProgress, *, seen_step: int) -> Job | None:
    """Store where planning stands after one step (``progress.step`` is ``seen_step + 1``),
    while the job is being planned and no other delivery stored this step; None if refused.
    Pushes the stalled-jobs resend time out: the job is moving."""
    assert progress.step == seen_step + 1
    try:
        return _update(
            job_id,
            expected=(JobStatus.SUBMITTING, JobStatus.CANCELLING),
            set_fields={
                "planning": progress.model_dump(mode="json"),
                c.DUE_CHUNKS_SK: int(time.time()) + c.WATCHED_JOB_RESEND_SECONDS,
            },
            guard=planning_step_is(seen_step),
        )
    except TransitionRefused:
        return None


def accept_validated_input(
    job_id: str, validation: InputValidation, *, seen_step: int, request_count: int, models: dict[str, int]
) -> Job:
    """validating -> submitting, with the request count and models validation found (only
    from the step ``seen_step``). Raises TransitionRefused otherwise."""
    return transition_job(
        job_id,
        JobStatus.VALIDATING,
        JobStatus.SUBMITTING,
        guard=validation_step_is(seen_step),
        validation=validation.model_dump(mode="json"),
        request_count=request_count,
        models=models,
    )

# --- upkeep of final jobs: item TTLs and deletion, with the poller's safety net ------------
#
# A final job with work left behind the queue sits in the due index under its own partition
# (EXPIRING_JOBS_DUE_PK, DELETING_JOBS_DUE_PK) with the time its message counts as lost; each
# step moves that time on, and the poller re-sends the message of a job whose time came.


def expiry_fields(expires_at: int, *, due_at: int) -> dict[str, Any]:
    """Fields of the final transition: the job's TTL, and the job in the safety net until
    every other item of the job has its TTL too."""
    return {c.TTL_ATTRIBUTE: expires_at, c.DUE_CHUNKS_PK: c.EXPIRING_JOBS_DUE_PK, c.DUE_CHUNKS_SK: due_at}


def begin_item_expiry(job_id: str, *, expires_at: int, due_at: int) -> bool:
    """Give a final job without a TTL (one of the previous version) its TTL and put it in the
    safety net; True only for the one caller that did (it queues the steps)."""
    names: dict[str, str] = {"#ttl": c.TTL_ATTRIBUTE, "#due_pk": c.DUE_CHUNKS_PK, "#due": c.DUE_CHUNKS_SK}
    values: dict[str, Any] = {":ttl": expires_at, ":due_pk": c.EXPIRING_JOBS_DUE_PK, ":due": due_at}
    condition = status_in(tuple(str(s) for s in FINAL_JOB_STATUSES), names, values)
    return update_if(
        keys.job_key(job_id),
        expression="SET #ttl = :ttl, #due_pk = :due_pk, #due = :due",
        condition=f"{condition} AND attribute_not_exists(#ttl)",
        names=names,
        values=values,
    ) is not None


def query_due_jobs(due_pk: str, now: int, *, limit: int = 100) -> list[tuple[str, int]]:
    """(job_id, due_at) of the jobs in one upkeep partition whose time has come (oldest first)."""
    page = table().query(
        IndexName=c.DUE_CHUNKS_INDEX,
        KeyConditionExpression=Key(c.DUE_CHUNKS_PK).eq(due_pk) & Key(c.DUE_CHUNKS_SK).lte(now),
        Limit=limit,
    )
    return [(from_dynamo(i)["job_id"], int(i[c.DUE_CHUNKS_SK])) for i in page.get("Items", [])]


def postpone_due_job(job_id: str, due_pk: str, *, seen_due_at: int | None, next_due_at: int) -> bool:
    """Move a job's time in an upkeep partition on; with ``seen_due_at``, only if it is still
    the time the caller saw (one poller re-sends). False when the job left the partition."""
    condition = "#due_pk = :due_pk" + (" AND #due = :seen" if seen_due_at is not None else "")
    values: dict[str, Any] = {":due_pk": due_pk, ":next": next_due_at}
    if seen_due_at is not None:
        values[":seen"] = seen_due_at
    return update_if(
        keys.job_key(job_id),
        expression="SET #due = :next",
        condition=condition,
        names={"#due_pk": c.DUE_CHUNKS_PK, "#due": c.DUE_CHUNKS_SK},
        values=values,
    ) is not None


def finish_item_expiry(job_id: str) -> bool:
    """Every item of the job has its TTL: out of the safety net, marked done."""
    return update_if(
        keys.job_key(job_id),
        expression="SET #done = :true REMOVE #due_pk, #due",
        condition="#due_pk = :due_pk",
        names={"#done": "items_ttl_set", "#due_pk": c.DUE_CHUNKS_PK, "#due": c.DUE_CHUNKS_SK},
        values={":true": True, ":due_pk": c.EXPIRING_JOBS_DUE_PK},
    ) is not None


def start_deletion(job_id: str, from_status: JobStatus, *, requested_at: str, due_at: int) -> Job:
    """final -> deleting, in the deletion safety net (TransitionRefused names what it found)."""
    deletion = JobDeletion(requested_at=requested_at, previous_status=str(from_status))
    return transition_job(
        job_id, from_status, JobStatus.DELETING,
        deletion=deletion.model_dump(mode="json"),
        **{c.DUE_CHUNKS_PK: c.DELETING_JOBS_DUE_PK, c.DUE_CHUNKS_SK: due_at},
    )


def claim_deletion_step(job_id: str, *, now: float, lease_until: float, due_at: int) -> Job | None:
    """Take the deletion for one step (no other step holds it) and move the safety net past
    it; None when the job is not deleting or another step holds it."""
    item = update_if(
        keys.job_key(job_id),
        expression="SET #del.#lease = :until, #due = :due",
        condition="#status = :deleting AND #del.#lease < :now",
        names={"#status": "status", "#del": "deletion", "#lease": "lease_until", "#due": c.DUE_CHUNKS_SK},
        values={":until": lease_until, ":due": due_at, ":deleting": str(JobStatus.DELETING), ":now": now},
    )
    return job_from_item(item) if item else None


def record_deletion_step(job_id: str, removed: DeletionCounts, *, lease_until: float) -> Job | None:
    """Add a step's removals to the job's progress and release the step; None if the lease
    was lost meanwhile (another step took over and counts its own)."""
    set_parts, names, values = job_set_clause(
        set_fields={"deletion.lease_until": 0.0},
        add_fields={f"deletion.removed.{kind}": n for kind, n in removed.model_dump().items() if n},
    )
    names.update({"#status": "status", "#c_del": "deletion", "#c_lease": "lease_until"})
    values.update({":deleting": str(JobStatus.DELETING), ":mine": lease_until})
    item = update_if(
        keys.job_key(job_id),
        expression=f"SET {', '.join(set_parts)}",
        condition="#status = :deleting AND #c_del.#c_lease = :mine",
        names=names,
        values=values,
    )
    return job_from_item(item) if item else None


def delete_job_item(job_id: str, *, lease_until: float) -> bool:
    """Delete the job item, the last of a deletion, while this step holds it."""
    try:
        table().delete_item(
            Key=keys.job_key(job_id),
            ConditionExpression="#status = :deleting AND #del.#lease = :mine",
            ExpressionAttributeNames={"#status": "status", "#del": "deletion", "#lease": "lease_until"},
            ExpressionAttributeValues=to_dynamo({":deleting": str(JobStatus.DELETING), ":mine": lease_until}),
        )
        return True
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise
        return False
