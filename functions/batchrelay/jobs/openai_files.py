"""The OpenAI surface's Files and Uploads: batch input files a tenant sends, in one request
(``POST /files``) or in parts (OpenAI's Uploads API), and the output and error files of its
batches (written by the finalizer: lifecycle/surface_results.py).

An input file is stored where an upload of the native API would be (``uploads/<tenant>/
<file_id>.jsonl``) with an upload record under the file's id, so a batch is created from it
exactly as ``POST /v1/jobs`` creates a job from an ``upload_id``. Its lines are checked when a
batch is created from it, as at OpenAI.

Every byte of a file crosses the api function (the SDK posts files and parts to the API), so
a file holds at most ``MAX_FILE_BYTES``; the native API's presigned uploads take bigger ones.
The parts of an upload are S3 objects of their own until ``complete`` writes the file from
them in order, streaming (each part is smaller than S3's 5 MiB minimum part, so S3 cannot
join them itself), then removes them.
"""

from __future__ import annotations

import hashlib
import re
import time
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from batchrelay.aws import clients, s3_keys
from batchrelay.aws.s3_objects import object_blocks, presigned_get
from batchrelay.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed
from batchrelay.ids import new_id
from batchrelay.models.files import StoredFile, StoredUpload
from batchrelay.models.openai_compat import (
    CreateUploadIn,
    ExpiresAfter,
    OpenAIFile,
    OpenAIFileList,
    OpenAIUpload,
    OpenAIUploadPart,
)
from batchrelay.results.multipart_writer import MultipartWriter
from batchrelay.settings import get_settings
from batchrelay.store import file_store, upload_store

# OpenAI's own ceiling for a batch input file; here because the file passes through the api
# function (within API Gateway's 29 s). Bigger inputs: POST /v1/uploads and POST /v1/jobs.
MAX_FILE_BYTES = 200 * 1024 * 1024
# An upload accepts parts for an hour, as at OpenAI.
UPLOAD_LIFETIME_SECONDS = 3600
FILE_CONTENT_TYPE = "application/jsonl"
_PART_ID = re.compile(r"^part_[0-9a-z]{26}$")
_HEAD_THREADS = 8


class UploadNotPending(Conflict):
    code = "upload_not_pending"


def _ulid(prefixed_id: str) -> str:
    return prefixed_id.split("_", 1)[1]


def _check_purpose(purpose: str) -> None:
    if purpose != "batch":
        raise ValidationFailed(
            f"purpose {purpose!r} is not supported: this API keeps files for the Batch API only (purpose 'batch')",
            field="purpose", code="invalid_value",
        )


def _lifetime(expires_after: ExpiresAfter | None) -> int:
    """Seconds a file lives: as asked, never beyond the bucket's retention (its data is gone then)."""
    retention = get_settings().retention_days * 86400
    return min(retention, expires_after.seconds) if expires_after else retention


def file_object(file: StoredFile) -> OpenAIFile:
    return OpenAIFile(
        id=file.file_id, bytes=file.bytes, created_at=file.created_at, expires_at=file.expires_at,
        filename=file.filename, purpose=file.purpose,  # type: ignore[arg-type]
    )


def _register_input_file(tenant_id: str, file_id: str, *, filename: str, size: int, created_at: int,
                         expires_at: int) -> StoredFile:
    key = s3_keys.upload_key(tenant_id, file_id)
    # The upload record lets a job be created from the file as from any upload (jobs.uploads).
    upload_store.put_upload(file_id, tenant_id=tenant_id, key=key, expires_at=expires_at, source="openai_file")
    file = StoredFile(file_id=file_id, tenant_id=tenant_id, filename=filename, bytes=size, purpose="batch",
                      created_at=created_at, expires_at=expires_at, key=key)
    file_store.put_file(file)
    return file


def create_file(
    tenant_id: str, *, filename: str, content: bytes, purpose: str, expires_after: ExpiresAfter | None = None,
    now: float | None = None,
) -> OpenAIFile:
    """``POST /files``: one request holds the whole file."""
    _check_purpose(purpose)
    if not content:
        raise ValidationFailed("the file is empty", field="file")
    now = time.time() if now is None else now
    file_id = new_id("file").replace("_", "-", 1)
    clients.s3().put_object(Bucket=get_settings().bucket_name, Key=s3_keys.upload_key(tenant_id, file_id),
                            Body=content, ContentType=FILE_CONTENT_TYPE)
    file = _register_input_file(tenant_id, file_id, filename=filename or "file.jsonl", size=len(content),
                                created_at=int(now), expires_at=int(now) + _lifetime(expires_after))
    return file_object(file)


def get_file(tenant_id: str, file_id: str) -> OpenAIFile:
    return file_object(_own_file(tenant_id, file_id))


def _own_file(tenant_id: str, file_id: str) -> StoredFile:
    file = file_store.get_file(tenant_id, file_id)
    if file is None:
        raise NotFound(f"No such File object: {file_id}", field="file_id")
    return file


def list_files(
    tenant_id: str, *, limit: int, order: str, after: str | None, purpose: str | None
) -> OpenAIFileList:
    if not 1 <= limit <= 10_000:
        raise ValidationFailed("limit must be between 1 and 10000", field="limit", code="invalid_value")
    if order not in ("asc", "desc"):
        raise ValidationFailed("order must be asc or desc", field="order", code="invalid_value")
    files, has_more = file_store.list_files(
        tenant_id, limit=limit, order=order, after=after, purpose=purpose  # type: ignore[arg-type]
    )
    data = [file_object(f) for f in files]
    return OpenAIFileList(data=data, first_id=data[0].id if data else None, last_id=data[-1].id if data else None,
                          has_more=has_more)


def delete_file(tenant_id: str, file_id: str) -> None:
    """Forget the file; an input file's bytes go too. A batch created from it keeps its own copy,
    and a batch's output file deleted here stays in the batch's results (GET /v1/jobs/{id}/results)."""
    file = file_store.delete_file(tenant_id, file_id)
    if file is None:
        raise NotFound(f"No such File object: {file_id}", field="file_id")
    if file.purpose == "batch":
        clients.s3().delete_object(Bucket=get_settings().bucket_name, Key=file.key)


def file_content_url(tenant_id: str, file_id: str) -> str:
    """A presigned URL of the file's bytes (the route redirects there: S3 streams them)."""
    file = _own_file(tenant_id, file_id)
    return presigned_get(file.key, get_settings().presign_expiry_seconds)


# --- uploads (OpenAI's Uploads API) ---


def upload_object(upload: StoredUpload, file: StoredFile | None = None, *, now: float | None = None) -> OpenAIUpload:
    return OpenAIUpload(
        id=upload.upload_id, bytes=upload.bytes, created_at=upload.created_at, filename=upload.filename,
        purpose=upload.purpose, status=upload.status_at(time.time() if now is None else now),
        expires_at=upload.expires_at, file=file_object(file) if file else None,
    )


def create_upload(tenant_id: str, request: CreateUploadIn, *, now: float | None = None) -> OpenAIUpload:
    _check_purpose(request.purpose)
    if request.bytes > MAX_FILE_BYTES:
        raise PayloadTooLarge(
            f"a file here holds at most {MAX_FILE_BYTES:,} bytes (every byte crosses the API); send bigger inputs "
            "through POST /v1/uploads and create the job with POST /v1/jobs",
            field="bytes", code="file_too_large",
        )
    now = time.time() if now is None else now
    upload = StoredUpload(
        upload_id=new_id("upload"), tenant_id=tenant_id, filename=request.filename, bytes=request.bytes,
        purpose=request.purpose, mime_type=request.mime_type, status="pending", created_at=int(now),
        expires_at=int(now) + UPLOAD_LIFETIME_SECONDS, file_lifetime=_lifetime(request.expires_after),
    )
    file_store.put_upload(upload)
    return upload_object(upload, now=now)


def _pending_upload(tenant_id: str, upload_id: str, now: float) -> StoredUpload:
    upload = file_store.get_upload(tenant_id, upload_id)
    if upload is None:
        raise NotFound(f"No such Upload object: {upload_id}", field="upload_id")
    status = upload.status_at(now)
    if status != "pending":
        raise UploadNotPending(f"Upload {upload_id} is {status}: it takes no more parts", field="upload_id")
    return upload


def add_part(tenant_id: str, upload_id: str, data: bytes, *, now: float | None = None) -> OpenAIUploadPart:
    now = time.time() if now is None else now
    upload = _pending_upload(tenant_id, upload_id, now)
    if not data:
        raise ValidationFailed("the part is empty", field="data")
    if len(data) > upload.bytes:
        raise ValidationFailed(f"the part is larger than the whole upload ({upload.bytes} bytes)", field="data")
    part_id = new_id("part")
    clients.s3().put_object(Bucket=get_settings().bucket_name,
                            Key=s3_keys.upload_part_key(tenant_id, upload_id, part_id), Body=data)
    return OpenAIUploadPart(id=part_id, created_at=int(now), upload_id=upload_id)


def _part_sizes(tenant_id: str, upload_id: str, part_ids: list[str]) -> list[int]:
    bucket = get_settings().bucket_name
    s3 = clients.s3()

    def size(part_id: str) -> int:
        try:
            head = s3.head_object(Bucket=bucket, Key=s3_keys.upload_part_key(tenant_id, upload_id, part_id))
        except ClientError as exc:
            raise ValidationFailed(f"part {part_id} was not added to upload {upload_id}", field="part_ids",
                                   code="invalid_value") from exc
        return int(head["ContentLength"])

    with ThreadPoolExecutor(max_workers=_HEAD_THREADS, thread_name_prefix="upload-part-head") as pool:
        return list(pool.map(size, part_ids))


def complete_upload(
    tenant_id: str, upload_id: str, part_ids: list[str], md5: str | None = None, *, now: float | None = None
) -> OpenAIUpload:
    """Join the parts, in the order given, into the upload's file (one per upload: a repeat
    after success answers the same)."""
    now = time.time() if now is None else now
    upload = file_store.get_upload(tenant_id, upload_id)
    if upload is not None and upload.status == "completed" and upload.file_id:
        return upload_object(upload, _own_file(tenant_id, upload.file_id), now=now)
    upload = _pending_upload(tenant_id, upload_id, now)
    if len(set(part_ids)) != len(part_ids) or not all(_PART_ID.match(p) for p in part_ids):
        raise ValidationFailed("part_ids must be distinct ids of this upload's parts", field="part_ids",
                               code="invalid_value")
    sizes = _part_sizes(tenant_id, upload_id, part_ids)
    if sum(sizes) != upload.bytes:
        raise ValidationFailed(
            f"The number of bytes uploaded upon completion ({sum(sizes)}) does not match the number specified "
            f"when creating the Upload ({upload.bytes}).", field="part_ids", code="invalid_value",
        )
    file_id = "file-" + _ulid(upload_id)   # one file per upload, whoever completes it
    key = s3_keys.upload_key(tenant_id, file_id)
    digest = hashlib.md5(usedforsecurity=False) if md5 else None
    with MultipartWriter(key, content_type=FILE_CONTENT_TYPE, max_in_flight=4) as writer:
        for part_id in part_ids:
            for block in object_blocks(s3_keys.upload_part_key(tenant_id, upload_id, part_id)):
                writer.write(block)
                if digest is not None:
                    digest.update(block)
    if digest is not None and digest.hexdigest() != (md5 or "").lower():
        clients.s3().delete_object(Bucket=get_settings().bucket_name, Key=key)
        raise ValidationFailed("md5 does not match the bytes uploaded", field="md5", code="invalid_value")
    lifetime = upload.file_lifetime or _lifetime(None)
    file = _register_input_file(tenant_id, file_id, filename=upload.filename, size=upload.bytes,
                                created_at=int(now), expires_at=int(now) + lifetime)
    finished = file_store.finish_upload(tenant_id, upload_id, "completed", file_id=file_id)
    if finished is None:   # completed by a concurrent request (the same file) or cancelled meanwhile
        finished = file_store.get_upload(tenant_id, upload_id)
        if finished is None or finished.status != "completed":
            raise UploadNotPending(f"Upload {upload_id} was cancelled while it completed", field="upload_id")
    _delete_parts(tenant_id, upload_id, part_ids)
    return upload_object(finished, file, now=now)


def cancel_upload(tenant_id: str, upload_id: str, *, now: float | None = None) -> OpenAIUpload:
    now = time.time() if now is None else now
    upload = _pending_upload(tenant_id, upload_id, now)
    cancelled = file_store.finish_upload(tenant_id, upload_id, "cancelled") or upload
    return upload_object(cancelled, now=now)


def _delete_parts(tenant_id: str, upload_id: str, part_ids: list[str]) -> None:
    """Best effort: what stays expires with the bucket's retention."""
    s3 = clients.s3()
    bucket = get_settings().bucket_name
    for start in range(0, len(part_ids), 1000):
        objects = [{"Key": s3_keys.upload_part_key(tenant_id, upload_id, p)} for p in part_ids[start:start + 1000]]
        try:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
        except ClientError:
            return
