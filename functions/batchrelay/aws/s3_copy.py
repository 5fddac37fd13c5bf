"""Copy an object server side, at any size, pinned to the version that was checked.

One CopyObject up to ``part_bytes``; beyond, a multipart upload whose parts are copied
ranges of the source (UploadPartCopy, several at once): CopyObject stops at 5 GiB, and a
copy in parts goes faster. Every request names the source's ETag (``CopySourceIfMatch``),
so a source replaced since it was checked is never copied: SourceChanged. (A HEAD first
says so without starting a copy, and stands in where the condition is not honoured, as on
the local emulator.)
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from batchrelay import constants as c
from batchrelay.aws import clients
from batchrelay.settings import get_settings

_MAX_PARTS_AT_ONCE = 8


class SourceChanged(Exception):
    """The source is no longer the object of the ETag given."""


class SourceMissing(Exception):
    """The source does not exist (any more)."""


def copy_pinned(
    source_key: str,
    dest_key: str,
    *,
    etag: str,
    size: int,
    part_bytes: int | None = None,
    bucket: str | None = None,
) -> None:
    """Copy ``source_key`` (of ETag ``etag`` and ``size`` bytes) to ``dest_key`` in one bucket."""
    bucket = bucket or get_settings().bucket_name
    part_bytes = part_bytes or c.INPUT_COPY_PART_BYTES
    try:
        found = clients.s3().head_object(Bucket=bucket, Key=source_key)
        if found["ETag"] != etag:
            raise SourceChanged(f"{source_key} changed since it was checked")
        if size <= part_bytes:
            clients.s3().copy_object(
                Bucket=bucket, Key=dest_key, CopySource={"Bucket": bucket, "Key": source_key}, CopySourceIfMatch=etag
            )
        else:
            _copy_in_parts(bucket, source_key, dest_key, etag=etag, size=size, part_bytes=part_bytes)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code"))
        if code in ("PreconditionFailed", "412"):
            raise SourceChanged(f"{source_key} changed since it was checked") from exc
        if code in ("NoSuchKey", "404", "NotFound"):
            raise SourceMissing(f"{source_key} does not exist") from exc
        raise


def _copy_in_parts(bucket: str, source_key: str, dest_key: str, *, etag: str, size: int, part_bytes: int) -> None:
    s3 = clients.s3()
    source = {"Bucket": bucket, "Key": source_key}
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=dest_key)["UploadId"]
    ranges = [(number, start, min(start + part_bytes, size) - 1)
              for number, start in enumerate(range(0, size, part_bytes), start=1)]

    def copy_part(part: tuple[int, int, int]) -> dict[str, Any]:
        number, first, last = part
        result = s3.upload_part_copy(
            Bucket=bucket, Key=dest_key, UploadId=upload_id, PartNumber=number, CopySource=source,
            CopySourceRange=f"bytes={first}-{last}", CopySourceIfMatch=etag,
        )
        return {"PartNumber": number, "ETag": result["CopyPartResult"]["ETag"]}

    try:
        with ThreadPoolExecutor(max_workers=min(_MAX_PARTS_AT_ONCE, len(ranges))) as pool:
            parts = list(pool.map(copy_part, ranges))
        s3.complete_multipart_upload(Bucket=bucket, Key=dest_key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    except BaseException:
        # Best effort: the bucket's lifecycle rule also aborts stale multipart uploads.
        with contextlib.suppress(Exception):
            s3.abort_multipart_upload(Bucket=bucket, Key=dest_key, UploadId=upload_id)
        raise
