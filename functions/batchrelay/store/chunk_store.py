"""Chunks in DynamoDB: plan, claim a provider batch, schedule checks, state transitions.

A chunk is in the sparse ``due-chunks`` index (due_pk = provider, due_at = epoch seconds)
exactly while something must look at it later: a submitted batch to poll, or a held
chunk to create again.
"""

from __future__ import annotations

import time
from itertools import islice
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from batchrelay import constants as c
from batchrelay.aws import clients
from batchrelay.clock import now_iso
from batchrelay.errors import NotFound, TransitionRefused
from batchrelay.models.job import CHUNK_TRANSITIONS, Chunk, ChunkStatus
from batchrelay.store import keys
from batchrelay.store.job_store import job_set_clause
from batchrelay.store.job_store import planning_step_is as job_store_planning_step_is
from batchrelay.store.table import (
    Guard,
    attribute_is,
    cancelled_by_condition,
    conditional_update,
    from_dynamo,
    get,
    put_if_absent,
    query_items,
    serialize_item,
    serialize_value,
    status_in,
    table_name,
    to_dynamo,
)

# --- named guards: the extra conditions the lifecycle's writes carry ---------------------


def same_batch(batch_id: str) -> Guard:
    """The chunk still waits on this batch (a late report about an older batch changes nothing)."""
    return attribute_is("batch_id", batch_id)


def same_create_seq(seq: int) -> Guard:
    """No other creation attempt began since this one read the chunk (the creation fence)."""
    return attribute_is("create_seq", seq)


def same_due_at(due_at: int | None) -> Guard:
    """The chunk's next check is still the one this poller saw (one poller acts on it)."""
    return attribute_is(c.DUE_CHUNKS_SK, due_at)

# due_at is both a model field and the index sort key (the same attribute).
_NOT_MODEL = {"pk", "sk", c.DUE_CHUNKS_PK}


def chunk_item(chunk: Chunk) -> dict[str, Any]:
    item = chunk.model_dump(mode="json")
    item.update(keys.chunk_key(chunk.job_id, chunk.chunk_id))
    item.pop("due_at", None)
    if chunk.due_at is not None:
        item[c.DUE_CHUNKS_PK] = chunk.provider
        item[c.DUE_CHUNKS_SK] = chunk.due_at
    return item


def chunk_from_item(item: dict[str, Any]) -> Chunk:
    data = {k: v for k, v in from_dynamo(item).items() if k not in _NOT_MODEL}
    return Chunk.model_validate(data)


def put_chunk(chunk: Chunk) -> tuple[Chunk, bool]:
    """Store a planned chunk unless it exists; returns (stored chunk, created)."""
    now = now_iso()
    chunk = chunk.model_copy(update={"created_at": chunk.created_at or now, "updated_at": now})
    if put_if_absent(chunk_item(chunk)):
        return chunk, True
    return get_chunk(chunk.job_id, chunk.chunk_id), False


def get_chunk(job_id: str, chunk_id: str) -> Chunk:
    item = get(keys.chunk_key(job_id, chunk_id))
    if not item:
        raise NotFound(f"chunk {chunk_id} of job {job_id} not found", field="chunk_id")
    return chunk_from_item(item)


def find_chunk(job_id: str, chunk_id: str) -> Chunk | None:
    item = get(keys.chunk_key(job_id, chunk_id))
    return chunk_from_item(item) if item else None


def list_chunks(job_id: str) -> list[Chunk]:
    return [
        chunk_from_item(item)
        for item in query_items(
            KeyConditionExpression=Key("pk").eq(keys.job_pk(job_id)) & Key("sk").begins_with(keys.CHUNK_SK_PREFIX),
            ConsistentRead=True,
        )
    ]


_UNSET: Any = object()


def _update_expression(
    provider: str, fields: dict[str, Any], due_at: Any
) -> tuple[str, dict[str, str], dict[str, Any]]:
    names: dict[str, str] = {"#updated_at": "updated_at"}
    values: dict[str, Any] = {":now": now_iso()}
    set_parts = ["#updated_at = :now"]
    remove_parts: list[str] = []
    for i, (field, value) in enumerate(fields.items()):
        names[f"#f{i}"] = field
        values[f":f{i}"] = to_dynamo(value)
        set_parts.append(f"#f{i} = :f{i}")
    if due_at is not _UNSET:
        names.update({"#due_pk": c.DUE_CHUNKS_PK, "#due_at": c.DUE_CHUNKS_SK})
        if due_at is None:
            remove_parts += ["#due_pk", "#due_at"]
        else:
            values[":due_pk"] = provider
            values[":due_at"] = int(due_at)
            set_parts += ["#due_pk = :due_pk", "#due_at = :due_at"]
    expression = f"SET {', '.join(set_parts)}"
    if remove_parts:
        expression += f" REMOVE {', '.join(remove_parts)}"
    return expression, names, values


def transition_chunk(
    job_id: str,
    chunk_id: str,
    provider: str,
    from_statuses: ChunkStatus | tuple[ChunkStatus, ...],
    to_status: ChunkStatus | None,
    *,
    due_at: Any = _UNSET,
    guard: Guard | None = None,
    **fields: Any,
) -> Chunk:
    """Change a chunk that is in one of ``from_statuses``; ``to_status`` None keeps the status.

    ``due_at``: an epoch second puts the chunk in the due index, None takes it out.
    ``guard``: a further condition (same_batch, same_create_seq, same_due_at).
    """
    expected = (from_statuses,) if isinstance(from_statuses, ChunkStatus) else tuple(from_statuses)
    if to_status is not None:
        for status in expected:
            if to_status != status and to_status not in CHUNK_TRANSITIONS.get(status, frozenset()):
                raise ValueError(f"chunk transition {status} -> {to_status} is not part of the state machine")
        fields["status"] = str(to_status)
    expression, names, values = _update_expression(provider, fields, due_at)
    condition = status_in(expected, names, values)
    if guard is not None:
        condition = guard.add_to(condition, names, values)
    item = conditional_update(
        keys.chunk_key(job_id, chunk_id),
        expression=expression,
        condition=condition,
        names=names,
        values=values,
        what=f"chunk {chunk_id} of job {job_id}",
        expected=tuple(str(s) for s in expected),
        field="chunk_id",
    )
    return chunk_from_item(item)


def record_batch(chunk: Chunk, *, batch_id: str, batch_created_at: float, due_at: int, **fields: Any) -> Chunk:
    """creating -> submitted with the batch id, and claim the batch for this chunk, atomically.

    The claim item (BATCH#provider#id) lets the OpenAI webhook find the chunk, and stops
    a recovery scan from adopting a batch another chunk already owns.
    """
    update = {
        "status": str(ChunkStatus.SUBMITTED),
        "batch_id": batch_id,
        "batch_ids": [*[b for b in chunk.batch_ids if b != batch_id], batch_id],
        "batch_created_at": batch_created_at,
        **fields,
    }
    expression, names, values = _update_expression(chunk.provider, update, due_at)
    condition = same_create_seq(chunk.create_seq).add_to(
        status_in((str(ChunkStatus.CREATING),), names, values), names, values
    )
    claim = {
        **keys.batch_key(chunk.provider, batch_id),
        "job_id": chunk.job_id,
        "chunk_id": chunk.chunk_id,
        "tenant_id": chunk.tenant_id,
        "created_at": now_iso(),
    }
    try:
        clients.dynamodb().transact_write_items(
            TransactItems=[
                _chunk_update(chunk, expression, condition, names, values),
                {
                    "Put": {
                        "TableName": table_name(),
                        "Item": serialize_item(claim),
                        "ConditionExpression": "attribute_not_exists(pk) OR (job_id = :job AND chunk_id = :chunk)",
                        "ExpressionAttributeValues": {
                            ":job": serialize_value(chunk.job_id),
                            ":chunk": serialize_value(chunk.chunk_id),
                        },
                    }
                },
            ]
        )
    except ClientError as exc:
        if not (cancelled_by_condition(exc, 0) or cancelled_by_condition(exc, 1)):
            # Throttling or a transaction conflict says nothing about ownership: retry later.
            raise
        current = get_chunk(chunk.job_id, chunk.chunk_id)
        raise TransitionRefused(
            f"chunk {chunk.chunk_id} could not record batch {batch_id} (chunk is {current.status}, "
            f"or the batch belongs to another chunk)",
            current=str(current.status),
            expected=(str(ChunkStatus.CREATING),),
        ) from exc
    return get_chunk(chunk.job_id, chunk.chunk_id)


def find_chunk_by_batch(provider: str, batch_id: str) -> tuple[str, str] | None:
    """(job_id, chunk_id) of the chunk that owns a provider batch, if any."""
    item = get(keys.batch_key(provider, batch_id))
    if not item:
        return None
    return item["job_id"], item["chunk_id"]


def claimed_batch_ids(provider: str, batch_ids: list[str]) -> set[str]:
    """Which of these provider batches some chunk already owns."""
    claimed: set[str] = set()
    for i in range(0, len(batch_ids), 100):
        request_keys = [keys.batch_key(provider, b) for b in batch_ids[i : i + 100]]
        response = clients.dynamodb().batch_get_item(
            RequestItems={table_name(): {"Keys": [serialize_item(k) for k in request_keys], "ConsistentRead": True}}
        )
        for item in response.get("Responses", {}).get(table_name(), []):
            claimed.add(keys.batch_id_of(item["pk"]["S"]))
        # Unprocessed keys are treated as unclaimed only after a retry.
        unprocessed = response.get("UnprocessedKeys", {}).get(table_name(), {}).get("Keys", [])
        for key in unprocessed:
            bid = keys.batch_id_of(key["pk"]["S"])
            if find_chunk_by_batch(provider, bid):
                claimed.add(bid)
    return claimed


def query_due_chunks(provider: str, now: int, *, limit: int = 1000) -> list[Chunk]:
    """Chunks of a provider whose next check is due (oldest due first).

    The index is eventually consistent: callers re-check the status with a conditional write.
    """
    items = query_items(
        IndexName=c.DUE_CHUNKS_INDEX,
        KeyConditionExpression=Key(c.DUE_CHUNKS_PK).eq(provider) & Key(c.DUE_CHUNKS_SK).lte(now),
        Limit=min(limit, 1000),
    )
    return [chunk_from_item(item) for item in islice(items, limit)]


def in_flight_chunks(provider: str, *, limit: int = 10_000) -> list[Chunk]:
    """Every chunk of a provider in the due index, due or not (for one list sweep to update all)."""
    return query_due_chunks(provider, 2**62, limit=limit)


# --- counting helpers (lifecycle): a chunk's creation or collection and the job's
# counters change in one transaction, so that a crash between two writes can neither
# lose a count nor make a redelivered message count twice.


def _chunk_update(
    chunk: Chunk, expression: str, condition: str, names: dict[str, str], values: dict[str, Any]
) -> dict[str, Any]:
    """A conditional chunk update as one item of a TransactWriteItems call."""
    return {
        "Update": {
            "TableName": table_name(),
            "Key": serialize_item(keys.chunk_key(chunk.job_id, chunk.chunk_id)),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {k: serialize_value(v) for k, v in values.items()},
        }
    }


def _new_chunk_put(chunk: Chunk) -> tuple[Chunk, dict[str, Any]]:
    """The chunk stamped with its times, and the transaction item that stores it only if absent."""
    now = now_iso()
    chunk = chunk.model_copy(update={"created_at": chunk.created_at or now, "updated_at": now})
    put = {"Put": {"TableName": table_name(), "Item": serialize_item(chunk_item(chunk)),
                   "ConditionExpression": "attribute_not_exists(pk)"}}
    return chunk, put


def _job_counter_update(job_id: str, deltas: dict[str, int]) -> dict[str, Any]:
    # The same update the job store makes, as one item of a transaction.
    set_parts, names, values = job_set_clause(add_fields=deltas)
    return {
        "Update": {
            "TableName": table_name(),
            "Key": serialize_item(keys.job_key(job_id)),
            "UpdateExpression": f"SET {', '.join(set_parts)}",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {k: serialize_value(v) for k, v in values.items()},
        }
    }


def put_chunk_and_count(chunk: Chunk) -> tuple[Chunk, bool]:
    """Store a planned chunk and add 1 to its job's chunks_total, both or neither.

    Returns (stored chunk, created); an existing chunk is returned unchanged and not counted.
    """
    chunk, put = _new_chunk_put(chunk)
    try:
        clients.dynamodb().transact_write_items(
            TransactItems=[
                put,
                _job_counter_update(chunk.job_id, {"chunks_total": 1}),
            ]
        )
        return chunk, True
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        existing = find_chunk(chunk.job_id, chunk.chunk_id)
        if existing is None:
            raise
        return existing, False


def merge_chunks(merged: Chunk, members: list[Chunk], *, ended_at: float, due_at: int) -> bool:
    """Store ``merged`` (which holds every request of ``members``), count it, and end each
    member as merged into it, all or nothing (lifecycle/small_chunks.py). Each member must
    still be pending or held with the create_seq it was read with. False when another merge,
    a creation or a cancel took one of them first (or ``merged`` exists already)."""
    merged, put = _new_chunk_put(merged)
    items: list[dict[str, Any]] = [
        put,
        _job_counter_update(merged.job_id, {"chunks_total": 1}),
    ]
    for member in members:
        update = {"status": str(ChunkStatus.ENDED), "end_reason": "merged", "merged_into": merged.chunk_id,
                  "ended_at": ended_at}
        expression, names, values = _update_expression(member.provider, update, due_at)
        condition = status_in((str(ChunkStatus.PENDING), str(ChunkStatus.HELD)), names, values)
        condition = same_create_seq(member.create_seq).add_to(condition, names, values)
        items.append(_chunk_update(member, expression, condition, names, values))
    try:
        clients.dynamodb().transact_write_items(TransactItems=items)
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        if any(cancelled_by_condition(exc, index) for index in range(len(items))):
            return False
        raise


def put_planned_chunk(chunk: Chunk, *, planning: dict[str, Any], seen_step: int) -> bool:
    """Store a planned chunk, add 1 to its job's chunks_total and store where planning goes on
    (``planning``), all or nothing, while the job's planning is still at ``seen_step``.
    False when another planner stored this chunk or moved planning on first."""
    chunk, put = _new_chunk_put(chunk)
    set_parts, names, values = job_set_clause(
        set_fields={"planning": planning, c.DUE_CHUNKS_SK: int(time.time()) + c.WATCHED_JOB_RESEND_SECONDS},
        add_fields={"chunks_total": 1},
    )
    condition = job_store_planning_step_is(seen_step).add_to("attribute_exists(pk)", names, values)
    try:
        clients.dynamodb().transact_write_items(
            TransactItems=[
                put,
                {
                    "Update": {
                        "TableName": table_name(),
                        "Key": serialize_item(keys.job_key(chunk.job_id)),
                        "UpdateExpression": f"SET {', '.join(set_parts)}",
                        "ConditionExpression": condition,
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": {k: serialize_value(v) for k, v in values.items()},
                    }
                },
            ]
        )
        return True
    except ClientError as exc:
        if cancelled_by_condition(exc, 0) or cancelled_by_condition(exc, 1):
            return False
        raise


def claim_collection(chunk: Chunk, *, now: float, lease_seconds: float) -> Chunk:
    """Take the chunk's collection for ``lease_seconds`` (ENDED, and no other collector's lease
    live): collect_seq + 1 fences out any earlier collector. TransitionRefused otherwise."""
    names: dict[str, str] = {"#lease": "collect_lease_until"}
    values: dict[str, Any] = {":lease_now": now}
    condition = status_in((str(ChunkStatus.ENDED),), names, values)
    condition += " AND (attribute_not_exists(#lease) OR #lease < :lease_now)"
    expression, more_names, more_values = _update_expression(
        chunk.provider, {"collect_seq": chunk.collect_seq + 1, "collect_lease_until": now + lease_seconds}, _UNSET
    )
    names.update(more_names)
    values.update(more_values)
    item = conditional_update(
        keys.chunk_key(chunk.job_id, chunk.chunk_id), expression=expression, condition=condition, names=names,
        values=values, what=f"chunk {chunk.chunk_id} of job {chunk.job_id}",
        expected=(str(ChunkStatus.ENDED),), field="chunk_id",
    )
    return chunk_from_item(item)


def release_collection(chunk: Chunk) -> None:
    """Give the lease back after a failed run (best effort: a lease also simply runs out)."""
    try:
        transition_chunk(
            chunk.job_id, chunk.chunk_id, chunk.provider, ChunkStatus.ENDED, None, collect_lease_until=0,
            guard=attribute_is("collect_seq", chunk.collect_seq),
        )
    except (TransitionRefused, NotFound):
        pass


def mark_collected_and_count(
    chunk: Chunk, *, part_key: str, job_deltas: dict[str, int], cleanup_due_at: int | None = None
) -> bool:
    """ended -> collected and add ``job_deltas`` plus chunks_final +1 to the job, in one
    transaction, if this collector still holds the collection (its collect_seq). False when
    the chunk was not ENDED (already counted) or another collector took it over.

    The chunk leaves the due index, unless ``cleanup_due_at``: then its provider files are
    still to delete (files_pending_cleanup) and the poller looks at it again at that time,
    should the cleanup that follows not happen.
    """
    update: dict[str, Any] = {"status": str(ChunkStatus.COLLECTED), "part_key": part_key}
    if cleanup_due_at is not None:
        update["files_pending_cleanup"] = True
    expression, names, values = _update_expression(chunk.provider, update, cleanup_due_at)
    condition = status_in((str(ChunkStatus.ENDED),), names, values)
    condition = attribute_is("collect_seq", chunk.collect_seq).add_to(condition, names, values)
    deltas = {**{k: v for k, v in job_deltas.items() if v}, "chunks_final": 1}
    try:
        clients.dynamodb().transact_write_items(
            TransactItems=[
                _chunk_update(chunk, expression, condition, names, values),
                _job_counter_update(chunk.job_id, deltas),
            ]
        )
        return True
    except ClientError as exc:
        if not cancelled_by_condition(exc, 0):
            raise
        return False


# --- provider files of collected chunks (lifecycle.provider_files) ------------------------


def files_cleaned(chunk: Chunk) -> Chunk | None:
    """The chunk's provider files are deleted: no longer pending, out of the due index.
    None when it was not pending (a repeat)."""
    try:
        return transition_chunk(
            chunk.job_id, chunk.chunk_id, chunk.provider, ChunkStatus.COLLECTED, None,
            due_at=None, guard=attribute_is("files_pending_cleanup", True), files_pending_cleanup=False,
        )
    except (TransitionRefused, NotFound):
        return None


def cleanup_failed(chunk: Chunk, *, attempts: int, due_at: int) -> Chunk | None:
    """A cleanup attempt failed: the poller tries again at ``due_at``. None if no longer pending."""
    try:
        return transition_chunk(
            chunk.job_id, chunk.chunk_id, chunk.provider, ChunkStatus.COLLECTED, None,
            due_at=due_at, guard=attribute_is("files_pending_cleanup", True), cleanup_attempts=attempts,
        )
    except (TransitionRefused, NotFound):
        return None
