"""The one-off sweep after upgrading: give the items of jobs made final by the previous
version their TTL (that version set none), so they expire with their data.

The upgraded functions give such a job its TTLs the first time it is touched (a GET through
the API, a redelivered queue message); this finds the rest. Run it once, with credentials
that may scan the table (no function may), after the upgrade is deployed::

    python -m batchrelay_tools.expire_old_jobs --table <TableName> --retention-days 30          # counts only
    python -m batchrelay_tools.expire_old_jobs --table <TableName> --retention-days 30 --apply

``--retention-days`` must be the deployment's ``retention_days``. Each job's items expire at
its finished_at + retention (jobs past that are removed by DynamoDB soon after). Jobs not
final yet are left alone: they get their TTLs when they end. Running it twice is harmless:
a job with a TTL is skipped, and an item's TTL is never moved.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from boto3.dynamodb.conditions import Attr

from batchrelay import constants as c
from batchrelay.clock import parse_iso


def old_final_jobs() -> tuple[list[str], int]:
    """(ids of final jobs without a TTL, how many other jobs lack one): one scan of the table."""
    from batchrelay.models.job import FINAL_JOB_STATUSES
    from batchrelay.store.table import table

    final = {str(s) for s in FINAL_JOB_STATUSES}
    found: list[str] = []
    running = 0
    kwargs: dict[str, Any] = {
        "FilterExpression": Attr(c.SK).eq("JOB") & Attr(c.TTL_ATTRIBUTE).not_exists(),
        "ProjectionExpression": "job_id, #s",
        "ExpressionAttributeNames": {"#s": "status"},
    }
    while True:
        page = table().scan(**kwargs)
        for item in page.get("Items", []):
            if item.get("status") in final:
                found.append(item["job_id"])
            else:
                running += 1
        if "LastEvaluatedKey" not in page:
            return found, running
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def expire(job_id: str, *, now: float) -> int | None:
    """Give one old final job and its items their TTL; None if another writer did it first."""
    from batchrelay.lifecycle import item_expiry
    from batchrelay.lifecycle.poll_schedule import SAFETY_NET_S
    from batchrelay.store import job_items, job_store

    job = job_store.find_job(job_id)
    if job is None or not job.is_final or job.expires_at is not None:
        return None
    final_at = parse_iso(job.finished_at) if job.finished_at else now
    expires_at = job_items.expires_at_for(final_at)
    if not job_store.begin_item_expiry(job_id, expires_at=expires_at, due_at=int(now) + SAFETY_NET_S):
        return None
    return item_expiry.expire_every_item(job_store.get_job(job_id), now=now) + 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m batchrelay_tools.expire_old_jobs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", default=os.environ.get(c.ENV_TABLE_NAME), help="the stack's table (TableName)")
    parser.add_argument("--retention-days", type=int, required=True, help="the deployment's retention_days")
    parser.add_argument("--apply", action="store_true", help="write the TTLs (without it: only count)")
    args = parser.parse_args(argv)
    if not args.table:
        parser.error("--table is required (or TABLE_NAME in the environment)")
    os.environ[c.ENV_TABLE_NAME] = args.table
    os.environ[c.ENV_RETENTION_DAYS] = str(args.retention_days)
    from batchrelay_tools.caches import reset_container_caches

    reset_container_caches()
    job_ids, running = old_final_jobs()
    print(f"{len(job_ids)} final jobs without a TTL; {running} jobs not final yet (they get theirs when they end)")
    if not args.apply:
        print("nothing written (add --apply)")
        return 0
    now = time.time()
    written = 0
    for job_id in job_ids:
        written += expire(job_id, now=now) or 0
    print(f"{written} TTLs set on the items of {len(job_ids)} jobs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
