"""S3 objects by key: streamed reads (blocks, lines), small JSON objects, presigned URLs.

``bucket`` defaults to the stack's bucket (settings); every key comes from ``aws.s3_keys``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from batchrelay.aws import clients
from batchrelay.jsonl import iter_lines, split_lines
from batchrelay.settings import get_settings

BLOCK_SIZE = 1024 * 1024


def _bucket(bucket: str | None) -> str:
    return bucket or get_settings().bucket_name


def object_blocks(key: str, *, bucket: str | None = None, block_size: int = BLOCK_SIZE) -> Iterator[bytes]:
    body = clients.s3().get_object(Bucket=_bucket(bucket), Key=key)["Body"]
    try:
        yield from body.iter_chunks(block_size)
    finally:
        body.close()


def object_lines(key: str, *, bucket: str | None = None) -> Iterator[bytes]:
    """Non-blank lines (``jsonl.iter_lines``)."""
    return iter_lines(object_blocks(key, bucket=bucket))


def numbered_object_lines(
    key: str, *, bucket: str | None = None, max_line_bytes: int | None = None
) -> Iterator[bytes]:
    """Every line, blank ones included, each capped while it streams (``jsonl.split_lines``)."""
    return split_lines(object_blocks(key, bucket=bucket), max_line_bytes=max_line_bytes)


def put_json(key: str, value: Any, *, bucket: str | None = None) -> None:
    clients.s3().put_object(
        Bucket=_bucket(bucket), Key=key, Body=orjson.dumps(value, option=orjson.OPT_INDENT_2),
        ContentType="application/json",
    )


def get_json(key: str, *, bucket: str | None = None) -> Any:
    """Small objects only (summaries, manifests)."""
    return orjson.loads(clients.s3().get_object(Bucket=_bucket(bucket), Key=key)["Body"].read())


def download_to_file(key: str, path: str, *, bucket: str | None = None) -> None:
    clients.s3().download_file(_bucket(bucket), key, path)


def presigned_get(key: str, expires_in: int, *, bucket: str | None = None) -> str:
    return clients.s3().generate_presigned_url(
        "get_object", Params={"Bucket": _bucket(bucket), "Key": key}, ExpiresIn=expires_in
    )


def presigned_put(key: str, expires_in: int, content_type: str, *, bucket: str | None = None) -> str:
    return clients.s3().generate_presigned_url(
        "put_object",
        Params={"Bucket": _bucket(bucket), "Key": key, "ContentType": content_type},
        ExpiresIn=expires_in,
    )


def list_keys(prefix: str, *, limit: int = 1000, bucket: str | None = None) -> list[str]:
    """Up to ``limit`` (at most 1000) keys under ``prefix``, in key order (one request)."""
    answer = clients.s3().list_objects_v2(Bucket=_bucket(bucket), Prefix=prefix, MaxKeys=min(limit, 1000))
    return [entry["Key"] for entry in answer.get("Contents", [])]


def delete_keys(keys: list[str], *, bucket: str | None = None) -> int:
    """Delete up to 1000 objects in one request; returns how many S3 deleted. Raises if any
    could not be deleted (the caller tries again: deleting is idempotent)."""
    if not keys:
        return 0
    answer = clients.s3().delete_objects(
        Bucket=_bucket(bucket), Delete={"Objects": [{"Key": key} for key in keys], "Quiet": False}
    )
    errors = answer.get("Errors") or []
    if errors:
        first = errors[0]
        raise RuntimeError(f"{len(errors)} objects not deleted, e.g. {first.get('Key')}: {first.get('Code')}")
    return len(answer.get("Deleted") or [])
