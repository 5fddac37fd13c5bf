"""Uploads: JSONL inputs beyond the API's payload limit, sent by the client straight to S3.

Two ways, both presigned (the client never needs AWS credentials):
- one PUT of the whole file (``POST /v1/uploads`` without a size), up to S3's 5 GiB;
- a multipart upload (``POST /v1/uploads`` with the file's ``size``): a URL per part, then
  ``POST /v1/uploads/{id}/complete`` with the parts' ETags; up to the upload limit.

The upload limit (``constants.MAX_UPLOAD_BYTES`` and ``MAX_JOB_REQUESTS``) is checked when a
job is created from the upload (its size, by one HEAD) and while the job validates it (its
request count). Creating a job never reads the upload's body.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from batchrelay import constants as c
from batchrelay.aws import s3_keys, s3_objects
from batchrelay.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed
from batchrelay.ids import new_id
from batchrelay.models.api import (
    CompleteUploadRequest,
    CreateUploadRequest,
    UploadCompleteOut,
    UploadOut,
    UploadPartOut,
    UploadPartsOut,
)
from batchrelay.settings import get_settings
from batchrelay.store import upload_store

UPLOAD_CONTENT_TYPE = "application/jsonl"
# The most one presigned PUT may carry (S3's own limit), within the upload limit.
MAX_SINGLE_PUT_BYTES = min(c.S3_MAX_PUT_BYTES, c.MAX_UPLOAD_BYTES)


@dataclass(frozen=True)
class CheckedUpload:
    """An upload a job may be created from: its key, and what HEAD said of it."""

    key: str
    size: int
    etag: str


def _expiry() -> tuple[int, str]:
    # A presigned URL lives at most as long as the credentials that signed it (the
    # function's role session), so the expiry is short and stated in the answer.
    expires_in = get_settings().presign_expiry_seconds
    expires_at = datetime.fromtimestamp(time.time() + expires_in, UTC).isoformat(timespec="seconds")
    return expires_in, expires_at.replace("+00:00", "Z")


def create_upload(tenant_id: str, request: CreateUploadRequest | None = None) -> UploadOut:
    request = request or CreateUploadRequest()
    settings = get_settings()
    upload_id = new_id("upl")
    key = s3_keys.upload_key(tenant_id, upload_id)
    expires_in, expires_at = _expiry()
    keep_until = int(time.time()) + settings.retention_days * 86400
    if request.size is None:
        upload_store.put_upload(upload_id, tenant_id=tenant_id, key=key, expires_at=keep_until)
        return UploadOut(
            upload_id=upload_id,
            method="PUT",
            url=s3_objects.presigned_put(key, expires_in, UPLOAD_CONTENT_TYPE),
            headers={"Content-Type": UPLOAD_CONTENT_TYPE},
            expires_at=expires_at,
            max_bytes=MAX_SINGLE_PUT_BYTES,
        )
    if request.size > c.MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(
            f"an upload holds at most {c.MAX_UPLOAD_BYTES:,} bytes; split the file into several jobs", field="size"
        )
    part_size = max(request.part_size or c.DEFAULT_UPLOAD_PART_BYTES, math.ceil(request.size / c.S3_MAX_PARTS))
    part_count = math.ceil(request.size / part_size)
    multipart_id = s3_objects.start_multipart_upload(key, UPLOAD_CONTENT_TYPE)
    upload_store.put_upload(
        upload_id, tenant_id=tenant_id, key=key, expires_at=keep_until, multipart_upload_id=multipart_id,
        size=request.size, part_size=part_size, part_count=part_count,
    )
    return UploadOut(
        upload_id=upload_id,
        method="multipart",
        headers={},
        expires_at=expires_at,
        max_bytes=c.MAX_UPLOAD_BYTES,
        size=request.size,
        part_size=part_size,
        parts=_part_urls(key, multipart_id, range(1, part_count + 1), expires_in),
        complete_path=f"/v1/uploads/{upload_id}/complete",
    )


def _part_urls(key: str, multipart_id: str, numbers: Any, expires_in: int) -> list[UploadPartOut]:
    return [
        UploadPartOut(part_number=n, url=s3_objects.presigned_upload_part(key, multipart_id, n, expires_in))
        for n in numbers
    ]


def _own_multipart_upload(tenant_id: str, upload_id: str) -> dict[str, Any]:
    item = upload_store.get_upload(upload_id)
    if not item or item.get("tenant_id") != tenant_id:
        raise NotFound(f"upload {upload_id} not found", field="upload_id")
    if not item.get("multipart_upload_id"):
        raise Conflict(
            f"upload {upload_id} is a single PUT: it has no parts", field="upload_id", code="not_multipart"
        )
    return item


def renew_part_urls(tenant_id: str, upload_id: str, part_numbers: list[int]) -> UploadPartsOut:
    """Fresh URLs for parts of a multipart upload (the first ones expire after a while)."""
    item = _own_multipart_upload(tenant_id, upload_id)
    numbers = sorted(set(part_numbers))
    if numbers[0] < 1 or numbers[-1] > item["part_count"]:
        raise ValidationFailed(f"part numbers go from 1 to {item['part_count']}", field="part_numbers")
    expires_in, expires_at = _expiry()
    return UploadPartsOut(
        upload_id=upload_id,
        parts=_part_urls(item["key"], item["multipart_upload_id"], numbers, expires_in),
        expires_at=expires_at,
    )


def complete_upload(tenant_id: str, upload_id: str, request: CompleteUploadRequest) -> UploadCompleteOut:
    """Assemble the parts into the upload; a repeat after success answers the same."""
    item = _own_multipart_upload(tenant_id, upload_id)
    numbers = [part.part_number for part in request.parts]
    if numbers != list(range(1, item["part_count"] + 1)):
        raise ValidationFailed(
            f"give every part, 1 to {item['part_count']}, in order, each once", field="parts"
        )
    try:
        s3_objects.complete_multipart_upload(
            item["key"], item["multipart_upload_id"], [(part.part_number, part.etag) for part in request.parts]
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "NoSuchUpload":
            if s3_objects.head(item["key"]) is not None:
                return UploadCompleteOut(upload_id=upload_id)   # completed before
            raise NotFound(
                f"upload {upload_id} was aborted or has expired; start a new one", field="upload_id"
            ) from exc
        if error.get("Code") in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall"):
            raise ValidationFailed(f"S3 refused the parts: {error.get('Message')}", field="parts") from exc
        raise
    return UploadCompleteOut(upload_id=upload_id)


def checked_upload(tenant_id: str, upload_id: str) -> CheckedUpload:
    """The tenant's upload, if it holds a file within the limit: one HEAD, no read of the body.

    NotFound if unknown, another tenant's, or not yet sent (or completed)."""
    item = upload_store.get_upload(upload_id)
    if not item or item.get("tenant_id") != tenant_id:
        raise NotFound(f"upload {upload_id} not found", field="upload_id")
    key = item["key"]
    head = s3_objects.head(key)
    if head is None:
        how = "complete its multipart upload" if item.get("multipart_upload_id") else "PUT it to the upload URL"
        raise NotFound(f"upload {upload_id} has no file yet: {how} first", field="upload_id")
    size = int(head["ContentLength"])
    if size > c.MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(
            f"the upload is {size:,} bytes; a job's upload holds at most {c.MAX_UPLOAD_BYTES:,}", field="upload_id"
        )
    if size == 0:
        raise ValidationFailed("the upload is empty", field="upload_id")
    return CheckedUpload(key=key, size=size, etag=str(head["ETag"]))
