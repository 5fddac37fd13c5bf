"""One contract, two backends: every case runs against moto and against the simulation's
in-memory DynamoDB, so the fake cannot drift from DynamoDB's semantics as moto has them.

The table is the stack's own (created by ``create_resources`` from the shared constants):
pk/sk, the ``tenant-jobs`` index and the sparse, numeric ``due-chunks`` index.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from batchrelay import constants as c
from tests.simulation.aws_backends import backend

BACKENDS = ["moto", "fake"]


@pytest.fixture(scope="module", params=BACKENDS)
def ddb_backend(request) -> Iterator[tuple[Any, str]]:
    """The stack's resources on one backend, once per module (moto's setup is the slow part)."""
    from batchrelay_tools.caches import reset_container_caches
    from batchrelay_tools.local.resources import create_resources

    with backend(request.param):
        env = create_resources(prefix="contract")
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        reset_container_caches()
        try:
            yield boto3.client("dynamodb"), env[c.ENV_TABLE_NAME]
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            reset_container_caches()


@pytest.fixture
def ddb(ddb_backend) -> tuple[Any, str]:
    """The backend with an empty table."""
    client, table = ddb_backend
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page.get("Items", []):
            client.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    return client, table


def S(v: str) -> dict[str, str]:
    return {"S": v}


def N(v: int | str) -> dict[str, str]:
    return {"N": str(v)}


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": S(pk), "sk": S(sk)}


def error_code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


def put(client, table, pk, sk, **attrs):
    client.put_item(TableName=table, Item={**key(pk, sk), **attrs})


# ---------------------------------------------------------------- single items


def test_put_then_get_and_a_missing_item(ddb):
    client, table = ddb
    put(client, table, "A", "1", n=N(5), s=S("x"), m={"M": {"k": N(1)}}, l={"L": [S("a")]}, b={"BOOL": True})

    got = client.get_item(TableName=table, Key=key("A", "1"), ConsistentRead=True)
    missing = client.get_item(TableName=table, Key=key("A", "2"))

    assert got["Item"]["m"] == {"M": {"k": N(1)}} and got["Item"]["b"] == {"BOOL": True}
    assert Decimal(got["Item"]["n"]["N"]) == 5
    assert "Item" not in missing


def test_conditional_put_refuses_an_existing_item(ddb):
    client, table = ddb
    put(client, table, "A", "1")
    with pytest.raises(ClientError) as refused:
        client.put_item(TableName=table, Item=key("A", "1"), ConditionExpression="attribute_not_exists(pk)")
    assert error_code(refused.value) == "ConditionalCheckFailedException"


def test_update_creates_the_item_and_adds_to_nested_counters(ddb):
    client, table = ddb
    update = dict(
        TableName=table, Key=key("J", "JOB"),
        UpdateExpression="SET #c.#s = if_not_exists(#c.#s, :zero) + :d, #v = if_not_exists(#v, :zero) + :one",
        ExpressionAttributeNames={"#c": "counts", "#s": "succeeded", "#v": "version"},
        ExpressionAttributeValues={":zero": N(0), ":d": N(3), ":one": N(1)},
        ReturnValues="ALL_NEW",
    )
    with pytest.raises(ClientError) as no_parent:
        client.update_item(**update)   # counts does not exist yet: the nested path is invalid
    assert error_code(no_parent.value) == "ValidationException"

    client.put_item(TableName=table, Item={**key("J", "JOB"), "counts": {"M": {}}})
    first = client.update_item(**update)["Attributes"]
    second = client.update_item(**update)["Attributes"]

    assert Decimal(first["counts"]["M"]["succeeded"]["N"]) == 3
    assert Decimal(second["counts"]["M"]["succeeded"]["N"]) == 6
    assert Decimal(second["version"]["N"]) == 2


def test_update_on_a_missing_item_creates_it_with_its_key(ddb):
    client, table = ddb
    result = client.update_item(
        TableName=table, Key=key("N", "1"), UpdateExpression="SET a = :a",
        ExpressionAttributeValues={":a": S("x")}, ReturnValues="ALL_NEW",
    )
    assert result["Attributes"] == {**key("N", "1"), "a": S("x")}


def test_update_remove_and_return_values(ddb):
    client, table = ddb
    put(client, table, "A", "1", a=S("1"), b=S("2"), n=N(1))

    old = client.update_item(TableName=table, Key=key("A", "1"), UpdateExpression="SET a = :a REMOVE b",
                             ExpressionAttributeValues={":a": S("new")}, ReturnValues="ALL_OLD")["Attributes"]
    none = client.update_item(TableName=table, Key=key("A", "1"), UpdateExpression="SET n = n + :one",
                              ExpressionAttributeValues={":one": N(1)})
    item = client.get_item(TableName=table, Key=key("A", "1"))["Item"]

    assert old["a"] == S("1") and old["b"] == S("2")
    assert "Attributes" not in none
    assert item["a"] == S("new") and "b" not in item and Decimal(item["n"]["N"]) == 2


def test_list_append_and_if_not_exists_on_lists(ddb):
    client, table = ddb
    put(client, table, "A", "1", attempts={"L": [S("first")]})
    result = client.update_item(
        TableName=table, Key=key("A", "1"),
        UpdateExpression=(
            "SET attempts = list_append(attempts, :e), extra = list_append(if_not_exists(extra, :empty), :e)"
        ),
        ExpressionAttributeValues={":e": {"L": [S("next")]}, ":empty": {"L": []}}, ReturnValues="ALL_NEW",
    )["Attributes"]
    assert result["attempts"] == {"L": [S("first"), S("next")]}
    assert result["extra"] == {"L": [S("next")]}


def test_a_key_attribute_cannot_be_updated(ddb):
    client, table = ddb
    put(client, table, "A", "1")
    with pytest.raises(ClientError) as refused:
        client.update_item(TableName=table, Key=key("A", "1"), UpdateExpression="SET sk = :x",
                           ExpressionAttributeValues={":x": S("2")})
    assert error_code(refused.value) == "ValidationException"


def test_unused_or_undefined_placeholders_are_refused(ddb):
    client, table = ddb
    put(client, table, "A", "1")
    with pytest.raises(ClientError) as unused:
        client.update_item(TableName=table, Key=key("A", "1"), UpdateExpression="SET a = :a",
                           ExpressionAttributeValues={":a": S("x"), ":b": S("y")})
    with pytest.raises(ClientError) as undefined:
        client.update_item(TableName=table, Key=key("A", "1"), UpdateExpression="SET a = :a",
                           ExpressionAttributeValues={":b": S("y")})
    assert error_code(unused.value) == "ValidationException"
    assert error_code(undefined.value) == "ValidationException"


CONDITIONS = [
    # (condition, names, values, expected on item {status: "ended", n: 5, m: {x: "1"}, tag: "batch_1"})
    ("#s = :v", {"#s": "status"}, {":v": S("ended")}, True),
    ("#s <> :v", {"#s": "status"}, {":v": S("ended")}, False),
    ("absent <> :v", {}, {":v": S("ended")}, True),
    ("absent = :v", {}, {":v": S("ended")}, False),
    ("n < :v", {}, {":v": N(6)}, True),
    ("n <= :v", {}, {":v": N(5)}, True),
    ("n > :v", {}, {":v": N(5)}, False),
    ("n >= :v", {}, {":v": N(5)}, True),
    ("n BETWEEN :a AND :b", {}, {":a": N(1), ":b": N(5)}, True),
    ("#s IN (:a, :b)", {"#s": "status"}, {":a": S("pending"), ":b": S("ended")}, True),
    ("#s IN (:a)", {"#s": "status"}, {":a": S("pending")}, False),
    ("attribute_exists(pk) AND #s IN (:a, :b)", {"#s": "status"}, {":a": S("x"), ":b": S("ended")}, True),
    ("attribute_not_exists(pk) OR (n = :five AND tag = :t)", {}, {":five": N(5), ":t": S("batch_1")}, True),
    ("NOT attribute_exists(absent) AND NOT (n = :five)", {}, {":five": N(5)}, False),
    ("attribute_exists(m.x) AND attribute_not_exists(m.y)", {}, {}, True),
    ("begins_with(tag, :p)", {}, {":p": S("batch_")}, True),
    ("begins_with(tag, :p)", {}, {":p": S("msgbatch_")}, False),
    ("contains(tag, :p)", {}, {":p": S("ch_")}, True),
    ("size(tag) = :len", {}, {":len": N(7)}, True),
    ("attribute_type(n, :t)", {}, {":t": S("N")}, True),
    ("(#s = :a OR #s = :b) AND n = :five", {"#s": "status"}, {":a": S("x"), ":b": S("ended"), ":five": N(5)}, True),
    ("#s = :a OR #s = :b AND n = :six", {"#s": "status"}, {":a": S("ended"), ":b": S("x"), ":six": N(6)}, True),
]


def test_condition_expressions(ddb):
    client, table = ddb
    put(client, table, "A", "1", status=S("ended"), n=N(5), m={"M": {"x": S("1")}}, tag=S("batch_1"))
    outcomes = {}
    for condition, names, values, _ in CONDITIONS:
        kwargs: dict[str, Any] = {"ConditionExpression": condition,
                                  "ExpressionAttributeValues": {**values, ":u": S("u")}}
        if names:
            kwargs["ExpressionAttributeNames"] = names
        try:
            client.update_item(TableName=table, Key=key("A", "1"), UpdateExpression="SET touched = :u", **kwargs)
            outcomes[condition] = True
        except ClientError as exc:
            outcomes[condition] = error_code(exc)
    assert outcomes == {
        condition: True if expected else "ConditionalCheckFailedException" for condition, _, _, expected in CONDITIONS
    }


def test_delete_with_a_condition_and_old_values(ddb):
    client, table = ddb
    put(client, table, "A", "1", a=S("x"))
    with pytest.raises(ClientError) as refused:
        client.delete_item(TableName=table, Key=key("A", "1"), ConditionExpression="a = :y",
                           ExpressionAttributeValues={":y": S("y")})
    old = client.delete_item(TableName=table, Key=key("A", "1"), ConditionExpression="attribute_exists(pk)",
                             ReturnValues="ALL_OLD")
    assert error_code(refused.value) == "ConditionalCheckFailedException"
    assert old["Attributes"]["a"] == S("x")
    assert "Item" not in client.get_item(TableName=table, Key=key("A", "1"))


# ---------------------------------------------------------------- queries


def test_query_a_partition_by_prefix_in_both_directions_and_pages(ddb):
    client, table = ddb
    for i in (3, 1, 2, 5, 4):
        put(client, table, "JOB#1", f"CHUNK#c{i:05d}", n=N(i))
    put(client, table, "JOB#1", "JOB")
    put(client, table, "JOB#2", "CHUNK#c00001")
    base = dict(TableName=table, KeyConditionExpression="pk = :p AND begins_with(sk, :c)",
                ExpressionAttributeValues={":p": S("JOB#1"), ":c": S("CHUNK#")})

    forward = client.query(**base, ConsistentRead=True)
    backward = client.query(**base, ScanIndexForward=False)
    pages, start = [], None
    while True:
        page = client.query(**base, Limit=2, **({"ExclusiveStartKey": start} if start else {}))
        pages.append([item["sk"]["S"] for item in page["Items"]])
        start = page.get("LastEvaluatedKey")
        if not start:
            break

    assert [i["sk"]["S"] for i in forward["Items"]] == [f"CHUNK#c{i:05d}" for i in range(1, 6)]
    assert [i["sk"]["S"] for i in backward["Items"]] == [f"CHUNK#c{i:05d}" for i in range(5, 0, -1)]
    assert [sk for page in pages for sk in page] == [f"CHUNK#c{i:05d}" for i in range(1, 6)]
    assert pages[0] == ["CHUNK#c00001", "CHUNK#c00002"]


def test_a_limit_that_ends_exactly_at_the_last_item(ddb):
    client, table = ddb
    put(client, table, "P", "1")
    put(client, table, "P", "2")
    page = client.query(TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("P")},
                        Limit=2)
    assert page["Count"] == 2 and "LastEvaluatedKey" not in page


def test_query_filter_applies_after_the_limit(ddb):
    client, table = ddb
    for i in range(1, 7):
        put(client, table, "P", f"{i}", even=S("yes" if i % 2 == 0 else "no"))
    page = client.query(TableName=table, KeyConditionExpression="pk = :p", FilterExpression="even = :y",
                        ExpressionAttributeValues={":p": S("P"), ":y": S("yes")}, Limit=3)
    assert page["ScannedCount"] == 3 and page["Count"] == 1
    assert [i["sk"]["S"] for i in page["Items"]] == ["2"]
    assert page["LastEvaluatedKey"] == key("P", "3")


def test_a_sparse_numeric_index_orders_by_due_time_and_pages(ddb):
    client, table = ddb
    due = {c.DUE_CHUNKS_PK: S("openai")}
    put(client, table, "JOB#1", "CHUNK#a", **due, **{c.DUE_CHUNKS_SK: N(300)})
    put(client, table, "JOB#1", "CHUNK#b", **due, **{c.DUE_CHUNKS_SK: N(100)})
    put(client, table, "JOB#2", "CHUNK#a", **due, **{c.DUE_CHUNKS_SK: N(200)})
    put(client, table, "JOB#2", "CHUNK#b", **{c.DUE_CHUNKS_PK: S("anthropic"), c.DUE_CHUNKS_SK: N(50)})
    put(client, table, "JOB#3", "CHUNK#a", **due)    # no due_at: not in the index
    query = dict(TableName=table, IndexName=c.DUE_CHUNKS_INDEX,
                 KeyConditionExpression="#p = :p AND #d <= :now",
                 ExpressionAttributeNames={"#p": c.DUE_CHUNKS_PK, "#d": c.DUE_CHUNKS_SK},
                 ExpressionAttributeValues={":p": S("openai"), ":now": N(250)})

    due_now = client.query(**query)
    first = client.query(**query, Limit=1)
    rest = client.query(**query, Limit=5, ExclusiveStartKey=first["LastEvaluatedKey"])
    between = client.query(**{**query, "KeyConditionExpression": "#p = :p AND #d BETWEEN :a AND :b",
                              "ExpressionAttributeValues": {":p": S("openai"), ":a": N(150), ":b": N(400)}})

    assert [(i["pk"]["S"], i["sk"]["S"]) for i in due_now["Items"]] == [("JOB#1", "CHUNK#b"), ("JOB#2", "CHUNK#a")]
    assert set(first["LastEvaluatedKey"]) == {"pk", "sk", c.DUE_CHUNKS_PK, c.DUE_CHUNKS_SK}
    assert [i["pk"]["S"] for i in rest["Items"]] == ["JOB#2"]
    assert [Decimal(i[c.DUE_CHUNKS_SK]["N"]) for i in between["Items"]] == [200, 300]


def test_removing_the_index_key_takes_the_item_out_of_the_index(ddb):
    client, table = ddb
    put(client, table, "JOB#1", "CHUNK#a", **{c.DUE_CHUNKS_PK: S("openai"), c.DUE_CHUNKS_SK: N(1)})
    client.update_item(TableName=table, Key=key("JOB#1", "CHUNK#a"), UpdateExpression="REMOVE #p, #d",
                       ExpressionAttributeNames={"#p": c.DUE_CHUNKS_PK, "#d": c.DUE_CHUNKS_SK})
    page = client.query(TableName=table, IndexName=c.DUE_CHUNKS_INDEX, KeyConditionExpression="#p = :p",
                        ExpressionAttributeNames={"#p": c.DUE_CHUNKS_PK}, ExpressionAttributeValues={":p": S("openai")})
    assert page["Items"] == []


def test_the_tenant_index_newest_first_with_a_filter(ddb):
    client, table = ddb
    for i, status in enumerate(["queued", "completed", "queued"]):
        put(client, table, f"JOB#{i}", "JOB", status=S(status),
            **{c.TENANT_JOBS_PK: S("TENANT#t"), c.TENANT_JOBS_SK: S(f"2026-01-0{i + 1}#job{i}")})
    page = client.query(TableName=table, IndexName=c.TENANT_JOBS_INDEX, KeyConditionExpression="gsi1pk = :t",
                        FilterExpression="#s = :s", ExpressionAttributeNames={"#s": "status"},
                        ExpressionAttributeValues={":t": S("TENANT#t"), ":s": S("queued")}, ScanIndexForward=False)
    assert [i["pk"]["S"] for i in page["Items"]] == ["JOB#2", "JOB#0"]


def test_a_consistent_read_on_an_index_is_refused(ddb):
    client, table = ddb
    with pytest.raises(ClientError) as refused:
        client.query(TableName=table, IndexName=c.DUE_CHUNKS_INDEX, KeyConditionExpression="due_pk = :p",
                     ExpressionAttributeValues={":p": S("openai")}, ConsistentRead=True)
    assert error_code(refused.value) == "ValidationException"


# ---------------------------------------------------------------- batches and transactions


def test_transaction_applies_all_or_nothing_with_reasons_per_item(ddb):
    client, table = ddb
    put(client, table, "JOB#1", "JOB", chunks_total=N(0))
    items = [
        {"Put": {"TableName": table, "Item": key("JOB#1", "CHUNK#1"),
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": table, "Key": key("JOB#1", "JOB"),
                    "UpdateExpression": "SET chunks_total = chunks_total + :one",
                    "ConditionExpression": "attribute_exists(pk)", "ExpressionAttributeValues": {":one": N(1)}}},
    ]

    client.transact_write_items(TransactItems=items)
    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(TransactItems=items)   # the chunk exists now: nothing is applied

    job = client.get_item(TableName=table, Key=key("JOB#1", "JOB"))["Item"]
    assert Decimal(job["chunks_total"]["N"]) == 1
    assert error_code(cancelled.value) == "TransactionCanceledException"
    assert [r["Code"] for r in cancelled.value.response["CancellationReasons"]] == ["ConditionalCheckFailed", "None"]


def test_transaction_with_a_condition_on_another_item_and_a_missing_job(ddb):
    client, table = ddb
    items = [
        {"Put": {"TableName": table, "Item": key("BATCH#openai#b1", "BATCH"),
                 "ConditionExpression": "attribute_not_exists(pk) OR (job_id = :job)",
                 "ExpressionAttributeValues": {":job": S("J")}}},
        {"Update": {"TableName": table, "Key": key("JOB#9", "JOB"), "UpdateExpression": "SET a = :a",
                    "ConditionExpression": "attribute_exists(pk)", "ExpressionAttributeValues": {":a": S("x")}}},
    ]
    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(TransactItems=items)
    assert [r["Code"] for r in cancelled.value.response["CancellationReasons"]] == ["None", "ConditionalCheckFailed"]
    assert "Item" not in client.get_item(TableName=table, Key=key("BATCH#openai#b1", "BATCH"))


def test_a_transaction_may_not_touch_one_item_twice(ddb):
    client, table = ddb
    items = [{"Put": {"TableName": table, "Item": key("A", "1")}}, {"Put": {"TableName": table, "Item": key("A", "1")}}]
    with pytest.raises(ClientError) as refused:
        client.transact_write_items(TransactItems=items)
    assert error_code(refused.value) == "ValidationException"


def test_batch_get_returns_the_items_that_exist(ddb):
    client, table = ddb
    put(client, table, "BATCH#openai#a", "BATCH", job_id=S("J"))
    put(client, table, "BATCH#openai#b", "BATCH", job_id=S("K"))
    response = client.batch_get_item(RequestItems={table: {"Keys": [
        key("BATCH#openai#a", "BATCH"), key("BATCH#openai#b", "BATCH"), key("BATCH#openai#c", "BATCH"),
    ], "ConsistentRead": True}})
    assert sorted(i["job_id"]["S"] for i in response["Responses"][table]) == ["J", "K"]
    assert not response.get("UnprocessedKeys")


# ---------------------------------------------------------------- the store layer on both backends


def test_the_chunk_store_on_both_backends(ddb):
    from batchrelay.errors import TransitionRefused
    from batchrelay.lifecycle.chunk_planner import new_chunk
    from batchrelay.models.job import ChunkStatus, Job, JobStatus
    from batchrelay.store import chunk_store, job_store

    job = Job(job_id="job_contract", tenant_id="t1", status=JobStatus.QUEUED, provider="openai",
              endpoint="/v1/chat/completions", request_count=2, input_key="inputs/t1/job_contract/input.jsonl",
              created_at="2026-01-01T00:00:00.000Z", updated_at="2026-01-01T00:00:00.000Z", chunk_size=5000,
              max_attempts=3)
    job_store.create_job(job)
    chunk = new_chunk(job, "c00001", request_count=2, now=1000)

    stored, created = chunk_store.put_chunk_and_count(chunk)
    _, again = chunk_store.put_chunk_and_count(chunk)
    creating = chunk_store.transition_chunk(job.job_id, "c00001", chunk.provider, ChunkStatus.PENDING,
                                            ChunkStatus.CREATING, create_seq=1, intent_at=1001.5, due_at=1900)
    recorded = chunk_store.record_batch(creating, batch_id="batch_1", batch_created_at=1002.0, due_at=1062)
    with pytest.raises(TransitionRefused):
        chunk_store.record_batch(creating, batch_id="batch_2", batch_created_at=1003.0, due_at=1063)
    due = chunk_store.query_due_chunks(chunk.provider, 1100)
    chunk_store.transition_chunk(job.job_id, "c00001", chunk.provider, ChunkStatus.SUBMITTED, ChunkStatus.ENDED,
                                 due_at=2000, end_reason="completed")
    ended = chunk_store.get_chunk(job.job_id, "c00001")
    counted = chunk_store.mark_collected_and_count(ended, part_key="p", job_deltas={"counts.succeeded": 2})
    recounted = chunk_store.mark_collected_and_count(ended, part_key="p", job_deltas={"counts.succeeded": 2})
    final = job_store.get_job(job.job_id)

    assert created and not again
    assert stored.status == ChunkStatus.PENDING
    assert recorded.status == ChunkStatus.SUBMITTED and recorded.batch_ids == ["batch_1"]
    assert chunk_store.find_chunk_by_batch(chunk.provider, "batch_1") == (job.job_id, "c00001")
    assert [c_.chunk_id for c_ in due] == ["c00001"]
    assert counted and not recounted
    assert final.chunks_total == 1 and final.chunks_final == 1 and final.counts.succeeded == 2
    assert chunk_store.query_due_chunks(chunk.provider, 10**10) == []
