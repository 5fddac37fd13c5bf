"""Streaming reads of S3 objects as lines, and presigned URLs."""

from __future__ import annotations

from collections.abc import Iterator

from batchrelay.aws import clients

BLOCK_SIZE = 1024 * 1024


def split_lines(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """Lines of a byte stream, split on b"\\n" only (a JSON string may hold a raw \\r)."""
    pending = b""
    for block in blocks:
        if not block:
            continue
        pending += block
        lines = pending.split(b"\n")
        pending = lines.pop()
        yield from lines
    if pending:
        yield pending


def iter_object_blocks(bucket: str, key: str, block_size: int = BLOCK_SIZE) -> Iterator[bytes]:
    body = clients.s3().get_object(Bucket=bucket, Key=key)["Body"]
    try:
        yield from body.iter_chunks(block_size)
    finally:
        body.close()


def iter_object_lines(bucket: str, key: str) -> Iterator[bytes]:
    return split_lines(iter_object_blocks(bucket, key))


def presigned_get(bucket: str, key: str, expires_in: int) -> str:
    return clients.s3().generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
    )


def presigned_put(bucket: str, key: str, expires_in: int, content_type: str) -> str:
    return clients.s3().generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": key, "ContentType": content_type}, ExpiresIn=expires_in
    )
