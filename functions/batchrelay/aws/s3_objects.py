"""S3 objects by key: streamed and ranged reads (blocks, lines), small JSON objects, presigned
URLs (single PUT and the parts of a multipart upload).

``bucket`` defaults to the stack's bucket (settings); every key comes from ``aws.s3_keys``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

import orjson
from botocore.exceptions import ClientError

from batchrelay.aws import clients
from batchrelay.jsonl import iter_lines, split_lines
from batchrelay.settings import get_settings

BLOCK_SIZE = 1024 * 1024


def _bucket(bucket: str | None) -> str:
    return bucket or get_settings().bucket_name


def object_blocks(
    key: str, *, bucket: str | None = None, block_size: int = BLOCK_SIZE, start: int = 0
) -> Iterator[bytes]:
    """The object's bytes from ``start`` on, in blocks (one GET; closing the iterator early
    closes the connection, so a reader may stop anywhere)."""
    kwargs: dict[str, Any] = {"Range": f"bytes={start}-"} if start else {}
    try:
        body = clients.s3().get_object(Bucket=_bucket(bucket), Key=key, **kwargs)["Body"]
    except ClientError as exc:
        if start and exc.response["Error"]["Code"] == "InvalidRange":
            return  # ``start`` is the object's end: nothing is left to read
        raise
    try:
        yield from body.iter_chunks(block_size)
    finally:
        body.close()


def read_range(key: str, start: int, end: int, *, bucket: str | None = None) -> bytes:
    """Bytes ``[start, end)`` of the object (fewer where it ends first); ``end > start``."""
    response = clients.s3().get_object(Bucket=_bucket(bucket), Key=key, Range=f"bytes={start}-{end - 1}")
    return response["Body"].read()


def object_lines(key: str, *, bucket: str | None = None) -> Iterator[bytes]:
    """Non-blank lines (``jsonl.iter_lines``)."""
    return iter_lines(object_blocks(key, bucket=bucket))


def numbered_object_lines(
    key: str, *, bucket: str | None = None, max_line_bytes: int | None = None, start: int = 0
) -> Generator[bytes, None, None]:
    """Every line from byte ``start`` (a line's start) on, blank ones included, each capped
    while it streams (``jsonl.split_lines``)."""
    blocks = object_blocks(key, bucket=bucket, start=start)
    try:
        yield from split_lines(blocks, max_line_bytes=max_line_bytes)
    finally:
        blocks.close()


def put_bytes(key: str, body: bytes, *, bucket: str | None = None, content_type: str) -> None:
    clients.s3().put_object(Bucket=_bucket(bucket), Key=key, Body=body, ContentType=content_type)


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


def head(key: str, *, bucket: str | None = None) -> dict[str, Any] | None:
    """The object's metadata (``ContentLength``, ``ETag``...), or None if there is none."""
    s3 = clients.s3()
    try:
        return s3.head_object(Bucket=_bucket(bucket), Key=key)
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


# --- multipart uploads that clients send themselves (presigned part URLs) ---


def start_multipart_upload(key: str, content_type: str, *, bucket: str | None = None) -> str:
    """A new multipart upload of ``key``; its UploadId."""
    return str(clients.s3().create_multipart_upload(Bucket=_bucket(bucket), Key=key, ContentType=content_type)[
        "UploadId"])


def presigned_upload_part(
    key: str, upload_id: str, part_number: int, expires_in: int, *, bucket: str | None = None
) -> str:
    return clients.s3().generate_presigned_url(
        "upload_part",
        Params={"Bucket": _bucket(bucket), "Key": key, "UploadId": upload_id, "PartNumber": part_number},
        ExpiresIn=expires_in,
    )


def complete_multipart_upload(
    key: str, upload_id: str, parts: list[tuple[int, str]], *, bucket: str | None = None
) -> None:
    """Assemble the parts ``[(part_number, etag)]`` into the object."""
    clients.s3().complete_multipart_upload(
        Bucket=_bucket(bucket),
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": number, "ETag": etag} for number, etag in parts]},
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
