"""Every item that belongs to a job, wherever it is: the job's partition (the job, its
chunks and deliveries) and the items the job names elsewhere (its chunks' batch claims,
its idempotency key). Read a page at a time; given their TTL; deleted.

Every write names the job it expects the item to belong to (``job_id = :job``), so a key
built wrongly can never touch another job's item, and a TTL is set once, never moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from batchrelay import constants as c
from batchrelay.settings import get_settings
from batchrelay.store import keys
from batchrelay.store.table import from_dynamo, is_condition_failure, table, to_dynamo, update_if

DAY_SECONDS = 86_400


def expires_at_for(final_at: float) -> int:
    """The TTL of a job's items: the job's final time plus the retention period (settings),
    the same period after which the bucket's lifecycle rule expires its objects."""
    return int(final_at) + get_settings().retention_days * DAY_SECONDS


@dataclass(frozen=True)
class JobItem:
    """One item of a job's partition: what expiry and deletion need to know of it."""

    key: dict[str, str]
    expires_at: int | None = None
    provider: str | None = None
    batch_ids: tuple[str, ...] = ()
    files_pending_cleanup: bool = False
    chunk_id: str | None = None

    @property
    def kind(self) -> str:
        sk = self.key[c.SK]
        if sk == keys.JOB_SK:
            return "job"
        if sk.startswith(keys.CHUNK_SK_PREFIX):
            return "chunk"
        if sk.startswith(keys.DELIVERY_SK_PREFIX):
            return "delivery"
        return "other"

    def claim_keys(self) -> list[dict[str, str]]:
        """The batch claims of a chunk (one per provider batch it ever had)."""
        if self.kind != "chunk" or not self.provider:
            return []
        return [keys.batch_key(self.provider, batch_id) for batch_id in self.batch_ids]


_PROJECTED = ("pk", "sk", c.TTL_ATTRIBUTE, "provider", "batch_ids", "files_pending_cleanup", "chunk_id")


def partition_page(job_id: str, *, after: str | None = None, limit: int = 100) -> tuple[list[JobItem], str | None]:
    """Up to ``limit`` items of the job's partition in sort-key order after ``after``;
    returns them and the sort key to go on after (None at the end)."""
    names = {f"#p{i}": name for i, name in enumerate(_PROJECTED)}
    query: dict[str, Any] = {
        "KeyConditionExpression": Key(c.PK).eq(keys.job_pk(job_id)),
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": names,
        "ConsistentRead": True,
        "Limit": limit,
    }
    if after is not None:
        query["ExclusiveStartKey"] = {c.PK: keys.job_pk(job_id), c.SK: after}
    page = table().query(**query)
    items = [_job_item(from_dynamo(raw)) for raw in page.get("Items", [])]
    last = page.get("LastEvaluatedKey")
    return items, (last[c.SK] if last else None)


def _job_item(data: dict[str, Any]) -> JobItem:
    return JobItem(
        key={c.PK: data[c.PK], c.SK: data[c.SK]},
        expires_at=data.get(c.TTL_ATTRIBUTE),
        provider=data.get("provider"),
        batch_ids=tuple(data.get("batch_ids") or ()),
        files_pending_cleanup=bool(data.get("files_pending_cleanup")),
        chunk_id=data.get("chunk_id"),
    )


def set_expiry(key: dict[str, str], *, job_id: str, expires_at: int) -> bool:
    """Give the job's item its TTL unless it has one; False when it had one, or is not there."""
    return update_if(
        key,
        expression="SET #ttl = :ttl",
        condition="#job = :job AND attribute_not_exists(#ttl)",
        names={"#ttl": c.TTL_ATTRIBUTE, "#job": "job_id"},
        values={":ttl": expires_at, ":job": job_id},
    ) is not None


def delete_item(key: dict[str, str], *, job_id: str) -> bool:
    """Delete the job's item; True when there was one to delete (False: gone already)."""
    try:
        answer = table().delete_item(
            Key=key,
            ConditionExpression="attribute_not_exists(#pk) OR #job = :job",
            ExpressionAttributeNames={"#pk": c.PK, "#job": "job_id"},
            ExpressionAttributeValues=to_dynamo({":job": job_id}),
            ReturnValues="ALL_OLD",
        )
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise
        return False  # the key names another job's item: not ours to delete
    return bool(answer.get("Attributes"))


def idempotency_item_key(tenant_id: str, idempotency_key: str | None) -> dict[str, str] | None:
    return keys.idempotency_key(tenant_id, idempotency_key) if idempotency_key else None
